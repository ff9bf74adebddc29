/* state.h - local state in state_dir, one SQLite database (WAL, busy
 * timeout) shared safely by many mail2sms processes at once:
 *  - the journal: which numbers the API has accepted for which mail, so a
 *    retried mail skips them, and claims so two processes handling the
 *    same mail never both send to one number;
 *  - rate-limit counters for alert storms and how many were suppressed.
 * Only this module knows SQLite.
 */
#ifndef M2S_STATE_H
#define M2S_STATE_H

#include <stdbool.h>

typedef struct m2s_state m2s_state;

/* Open (and create) dir/state.sqlite. NULL with *why (new string) on
 * failure: the caller defers (M2S_E_STATE). */
m2s_state *m2s_state_open(const char *dir, char **why);
void m2s_state_close(m2s_state *st);

typedef enum m2s_claim {
    M2S_CLAIM_OK,           /* ours to send now */
    M2S_CLAIM_SENT,         /* already accepted by the API for this mail */
    M2S_CLAIM_BUSY,         /* another live process is sending it */
    M2S_CLAIM_ERROR         /* database error */
} m2s_claim;

/* Claim (key, number) for lease_seconds. A claim whose lease has run out
 * (its process died) may be taken over. */
m2s_claim m2s_state_claim(m2s_state *st, const char *key, const char *number,
                          double lease_seconds);

/* Whether the API already accepted this mail for number: *sent. Reads
 * only; 0 or -1. */
int m2s_state_is_sent(m2s_state *st, const char *key, const char *number, bool *sent);

/* Record that the API accepted the message (id may be NULL). 0 or -1. */
int m2s_state_mark_sent(m2s_state *st, const char *key, const char *number,
                        const char *id);

/* Give a claim back after a failure, so a retry may send. 0 or -1. */
int m2s_state_release(m2s_state *st, const char *key, const char *number);

/* Storm limits. Count what "who" (kind "number" or "sender") sent in the
 * last hour; if below limit, record one more and set *allowed. limit <= 0
 * means unlimited (always allowed, nothing recorded). 0 or -1. */
int m2s_state_rate_take(m2s_state *st, const char *kind, const char *who,
                        long limit, bool *allowed);

/* Give back the latest event of "who" taken with m2s_state_rate_take, for
 * a send that failed: only what reached a phone counts. 0 or -1. */
int m2s_state_rate_give_back(m2s_state *st, const char *kind, const char *who);

/* Count one suppressed (dropped) message for number. 0 or -1. */
int m2s_state_suppressed_add(m2s_state *st, const char *number);

/* How many were suppressed for number since the last call; resets to 0.
 * 0 or -1. */
int m2s_state_suppressed_take(m2s_state *st, const char *number, long *n);

/* Delete journal entries older than days and stale counters. 0 or -1. */
int m2s_state_purge(m2s_state *st, long days);

#endif
