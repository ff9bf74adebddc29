/* state_backend.h - what a state store backend provides: one table of
 * operations with the same meaning in every backend (SQLite in
 * state_sqlite.c, PostgreSQL in state_pg.c). Only state.c calls them; the
 * rest of the program uses state.h. The results and their words are
 * shared by both sides, so they are defined here.
 *
 * Every operation is one transaction of its own. Times are Unix seconds
 * on the store's clock (the database server's for PostgreSQL), so relays
 * whose clocks differ a little still agree on leases and windows.
 */
#ifndef M2S_STATE_BACKEND_H
#define M2S_STATE_BACKEND_H

#include <stdbool.h>

/* The schema version this program writes and reads (both backends). */
#define M2S_STATE_SCHEMA_VERSION 2

typedef enum m2s_claim {
    M2S_CLAIM_OK,           /* ours to send now */
    M2S_CLAIM_SENT,         /* already accepted by the API for this mail */
    M2S_CLAIM_BUSY,         /* another live process is sending it */
    M2S_CLAIM_ERROR         /* store error */
} m2s_claim;

/* What a run may do while the API is (or is not) known to be down. */
typedef enum m2s_outage {
    M2S_OUTAGE_NONE,        /* no outage known: send */
    M2S_OUTAGE_PROBE,       /* an outage, and this run is the one probe: send */
    M2S_OUTAGE_DEFER,       /* an outage, another run probes or it is too early */
    M2S_OUTAGE_ERROR        /* store error */
} m2s_outage;

/* The operations; b is the backend's own handle, owner names this
 * handle's claims. 0 or -1 where an int is returned. */
typedef struct m2s_state_ops {
    const char *name;                   /* "sqlite", "postgresql" */
    void (*close)(void *b);
    m2s_claim (*claim)(void *b, const char *owner, const char *key, const char *number,
                       double lease_seconds);
    int (*is_sent)(void *b, const char *key, const char *number, bool *sent);
    int (*mark_sent)(void *b, const char *owner, const char *key, const char *number,
                     const char *id);
    int (*release)(void *b, const char *owner, const char *key, const char *number);
    int (*rate_take)(void *b, const char *kind, const char *who, long limit, bool *allowed);
    int (*rate_give_back)(void *b, const char *kind, const char *who);
    int (*suppressed_add)(void *b, const char *number);
    int (*suppressed_take)(void *b, const char *number, long *n);
    /* The same text (digest) to number within window seconds: *dup when
     * another mail (key) has it; else it is recorded as this mail's. */
    int (*dup_take)(void *b, const char *number, const char *digest, const char *key,
                    double window, bool *dup);
    /* Forget this mail's record of the text, after a failed send. */
    int (*dup_give_back)(void *b, const char *number, const char *digest, const char *key);
    /* n starts for bucket, spaced interval seconds apart after every
     * start leased before; *delay is how long from now the first one is. */
    int (*rate_lease)(void *b, const char *bucket, long n, double interval, double *delay);
    /* Whether a run may send now (m2s_outage); a probe is held for hold
     * seconds. *since and *next_probe describe a known outage (else 0). */
    m2s_outage (*outage_check)(void *b, const char *owner, double hold, double *since,
                               double *next_probe);
    /* What the run saw: answered (the API answered something) ends a known
     * outage; otherwise one is begun or kept, next probe after probe_after
     * seconds, and this handle's probe is given up. */
    int (*outage_report)(void *b, const char *owner, bool answered, double probe_after);
    int (*purge)(void *b, long days);
} m2s_state_ops;

#endif
