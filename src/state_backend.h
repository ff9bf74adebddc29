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
#define M2S_STATE_SCHEMA_VERSION 3

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

/* Seconds from Bird's acceptance to an SMS's first check. */
#define M2S_TRACK_FIRST 15

/* What the journal keeps of an accepted SMS besides Bird's id (all
 * borrowed for the call). */
typedef struct m2s_sms_meta {
    const char *alias;          /* NULL when the recipient was a number */
    const char *recipient;      /* the address it came from */
    int parts;
    bool fallback;              /* a fallback SMS: followed, never escalated again */
} m2s_sms_meta;

/* What the journal keeps of a mail, once per mail (all borrowed). */
typedef struct m2s_mail_meta {
    const char *sender;         /* envelope sender; "" the null sender; NULL unknown */
    const char *queue_id;
    const char *message_id;     /* with its <> */
    const char *subject;        /* shortened */
    const char *headers;        /* the original header block, shortened */
} m2s_mail_meta;

/* A followed SMS as the store has it. Every string is owned by the
 * struct (NULL when unknown); release with m2s_tracked_clear (state.h). */
typedef struct m2s_tracked {
    char *key, *number, *bird_id, *alias, *recipient;
    char *sender, *queue_id, *message_id, *subject, *headers;
    int parts;
    double accepted;            /* when Bird accepted it (Unix time) */
    char *status;               /* Bird's last status word ("accepted" at first) */
    double status_at;           /* when that status was seen */
    char *reason;               /* Bird's reason, e.g. unknown_subscriber */
    char *source;               /* failure source, e.g. "sms-messagebird 15005" */
    char *outcome;              /* NULL while followed; else the final word:
                                 * delivered, delivery_failed, sending_failed,
                                 * rejected, deleted, skipped, no_report, unknown */
    long checks;                /* GETs answered for it */
    bool fallback;              /* a fallback SMS */
    bool actions_due;           /* failed: tracking.on_failure still to finish */
    char *notify;               /* the notice: NULL, sending, sent, none, lost, failed */
    char *fallback_state;       /* the fallback SMS: likewise */
    double next_check;
} m2s_tracked;

/* A status event for one SMS: what a check (or, later, a webhook) learnt.
 * All borrowed. */
typedef struct m2s_track_event {
    const char *status;         /* Bird's word; NULL: no news, only the next check moves */
    const char *reason;         /* may be NULL */
    const char *source;         /* may be NULL */
    const char *outcome;        /* non-NULL: the SMS is done, with this final word */
    double next_in;             /* seconds to the next check while followed */
    bool answered;              /* Bird answered about it (counts a check) */
    bool actions_due;           /* with outcome: on_failure actions are to be done */
} m2s_track_event;

/* One counter for --metrics: name as stored, and its value. */
typedef struct m2s_counter {
    char *name;                 /* owned */
    long long n;
} m2s_counter;

/* The operations; b is the backend's own handle, owner names this
 * handle's claims. 0 or -1 where an int is returned. */
typedef struct m2s_state_ops {
    const char *name;                   /* "sqlite", "postgresql" */
    void (*close)(void *b);
    m2s_claim (*claim)(void *b, const char *owner, const char *key, const char *number,
                       double lease_seconds);
    int (*is_sent)(void *b, const char *key, const char *number, bool *sent);
    /* meta NULL: not followed (dropped, duplicate). */
    int (*mark_sent)(void *b, const char *owner, const char *key, const char *number,
                     const char *id, const m2s_sms_meta *meta);
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

    /* Tracking (schema 3). Remember a mail's sender, ids, subject, headers. */
    int (*mail_note)(void *b, const char *key, const m2s_mail_meta *m);
    /* Claim for lease seconds up to limit followed SMS whose check is due
     * or whose on_failure actions are unfinished, and no other live
     * handle holds; peek: only list them, claim nothing. *out is a new
     * array of *n (each cleared and the array freed by the caller). */
    int (*track_take)(void *b, const char *owner, long limit, double lease, bool peek,
                      m2s_tracked **out, size_t *n);
    /* Apply ev to (key, number), still followed: its status, reason and
     * history; an outcome ends it and counts "final:<outcome>". The
     * claim is given up unless ev->actions_due. *applied: it was still
     * followed (never an outcome twice). */
    int (*track_apply)(void *b, const char *owner, const char *key, const char *number,
                       const m2s_track_event *ev, bool *applied);
    /* An on_failure action's state (which: "notify" or "fallback"):
     * value "sending" only when it had none (*ok tells); other values
     * always. which "done": the actions are finished, the claim given up. */
    int (*track_action)(void *b, const char *owner, const char *key, const char *number,
                        const char *which, const char *value, bool *ok);
    /* Every followed SMS of a queue id, Message-ID, number, alias or Bird id. */
    int (*track_find)(void *b, const char *query, m2s_tracked **out, size_t *n);
    /* Add n to counter name (never purged). */
    int (*counter_add)(void *b, const char *name, long n);
    /* Every counter, the SMS still followed and the oldest one's accepted time. */
    int (*metrics)(void *b, m2s_counter **out, size_t *n, long *followed, double *oldest);
} m2s_state_ops;

#endif
