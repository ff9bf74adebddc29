/* state.h - the state store shared by every mail2sms process, on one
 * relay (SQLite, state_dir/state.sqlite) or on several (PostgreSQL,
 * state.backend = "postgresql"); both backends have the same meaning:
 *  - the journal: which numbers the API has accepted for which mail, so a
 *    retried mail skips them, and claims so two processes handling the
 *    same mail never both send to one number (a claim whose process died
 *    runs out after its lease, state.claim_ttl);
 *  - rate-limit counters for alert storms and how many were suppressed;
 *  - recent texts per number (limits.duplicate_window);
 *  - the clock of the rate cap (bird.max_rate for all processes at once);
 *  - the outage record (bird.outage_probe);
 *  - what it remembers of each SMS to follow it to its end (tracking):
 *    the mail's sender, ids, subject and headers, the SMS's alias,
 *    address and parts, Bird's statuses with their reasons and history,
 *    the claims of trackers, the on_failure actions done, and counters
 *    for --metrics that purging never lowers.
 * Callers see only this interface; state_sqlite.c and state_pg.c are the
 * backends (state_backend.h).
 */
#ifndef M2S_STATE_H
#define M2S_STATE_H

#include <stdbool.h>
#include <stdio.h>
#include "config.h"
#include "state_backend.h"

typedef struct m2s_state m2s_state;

/* Where the store is. All borrowed for the call. */
typedef struct m2s_state_where {
    m2s_state_backend_kind backend;
    const char *dir;            /* SQLite: the directory of state.sqlite */
    const char *conninfo;       /* PostgreSQL: a libpq connection string or URI */
    const char *password;       /* PostgreSQL: SECRET, or NULL (then libpq's ~/.pgpass) */
} m2s_state_where;

/* The store as cfg says, with dir as the SQLite directory (filled into
 * *w, which borrows from cfg and dir). */
void m2s_state_where_of(const m2s_config *cfg, const char *dir, m2s_state_where *w);

/* Open the store. SQLite creates (or migrates) its file; PostgreSQL
 * requires the schema of this version (mail2sms --init-state). NULL with
 * *why (new string, naming the store, never the password) on failure:
 * the caller defers (M2S_E_STATE). */
m2s_state *m2s_state_open(const m2s_state_where *w, char **why);
void m2s_state_close(m2s_state *st);

/* The backend's name: "sqlite" or "postgresql". Static storage. */
const char *m2s_state_backend_name(const m2s_state *st);

/* --init-state: create or migrate the schema to this version, print what
 * was done to out. 0, or -1 with *why (new string). */
int m2s_state_init(const m2s_state_where *w, FILE *out, char **why);

/* --check-config: where the store is (never the password) and, for
 * PostgreSQL, whether it can be reached and has this schema version.
 * 0, or -1 with *why (new string). */
int m2s_state_check(const m2s_state_where *w, FILE *out, char **why);

/* Claim (key, number) for lease_seconds. A claim whose lease has run out
 * (its process died) may be taken over. */
m2s_claim m2s_state_claim(m2s_state *st, const char *key, const char *number,
                          double lease_seconds);

/* Whether the API already accepted this mail for number: *sent. Reads
 * only; 0 or -1. */
int m2s_state_is_sent(m2s_state *st, const char *key, const char *number, bool *sent);

/* Record that the API accepted the message (id may be NULL). Durable
 * before it returns. 0 or -1. */
int m2s_state_mark_sent(m2s_state *st, const char *key, const char *number,
                        const char *id);

/* m2s_state_mark_sent, and follow the SMS from now on with meta
 * (borrowed) when id is Bird's. 0 or -1. */
int m2s_state_mark_sent_sms(m2s_state *st, const char *key, const char *number,
                            const char *id, const m2s_sms_meta *meta);

/* Remember mail key's sender, ids, subject and headers (strings
 * borrowed). 0 or -1. */
int m2s_state_mail_note(m2s_state *st, const char *key, const m2s_mail_meta *m);

/* Claim for lease seconds up to limit followed SMS whose check is due or
 * whose on_failure actions are unfinished and that no other live tracker
 * holds (peek: list them, claim nothing). *out: a new array of *n, freed
 * with m2s_tracked_free. 0 or -1. */
int m2s_state_track_take(m2s_state *st, long limit, double lease, bool peek,
                         m2s_tracked **out, size_t *n);

/* The one path by which a status event reaches a followed SMS (a check
 * now, a webhook later): its status, reason and history, the next
 * check; an outcome ends it and is counted. *applied: it was still
 * followed. The claim is given up unless ev->actions_due. 0 or -1. */
int m2s_state_track_apply(m2s_state *st, const char *key, const char *number,
                          const m2s_track_event *ev, bool *applied);

/* An on_failure action's state: which "notify" or "fallback", value
 * "sending" (taken only when it had none: *ok) or a final word; which
 * "done" (value NULL) ends the actions and gives up the claim. 0 or -1. */
int m2s_state_track_action(m2s_state *st, const char *key, const char *number,
                           const char *which, const char *value, bool *ok);

/* Every followed SMS matching query (a queue id, a Message-ID with or
 * without <>, a number, an alias, a Bird id), oldest first. *out as for
 * m2s_state_track_take. 0 or -1. */
int m2s_state_track_find(m2s_state *st, const char *query, m2s_tracked **out, size_t *n);

/* Add n to the counter name (for --metrics; never purged). 0 or -1. */
int m2s_state_counter_add(m2s_state *st, const char *name, long n);

/* Every counter (*out new, freed with m2s_counters_free), the number of
 * SMS still followed and the oldest one's acceptance time (0: none). */
int m2s_state_metrics(m2s_state *st, m2s_counter **out, size_t *n, long *followed,
                      double *oldest);

/* Release what t holds. */
void m2s_tracked_clear(m2s_tracked *t);
/* Clear each of n and free the array (NULL is fine). */
void m2s_tracked_free(m2s_tracked *v, size_t n);
void m2s_counters_free(m2s_counter *v, size_t n);

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

/* limits.duplicate_window: *dup when another mail gave number the same
 * text within window seconds; otherwise the text is recorded as mail
 * key's (a retry of key is never its own duplicate). 0 or -1. */
int m2s_state_dup_take(m2s_state *st, const char *number, const char *text,
                       const char *key, double window, bool *dup);

/* Forget mail key's record of text for number (its send failed), so the
 * other copies are not held back by a text that never arrived. 0 or -1. */
int m2s_state_dup_give_back(m2s_state *st, const char *number, const char *text,
                            const char *key);

/* The rate cap: lease n request starts from bucket's clock, spaced
 * interval seconds apart after every start leased before (by any
 * process); *delay is how long from now the first of them is. 0 or -1. */
int m2s_state_rate_lease(m2s_state *st, const char *bucket, long n, double interval,
                         double *delay);

/* The outage memory: whether this run may send (m2s_outage). A probe is
 * held for hold seconds (a run that dies holding it is overtaken then).
 * *since and *next_probe (wall-clock Unix times) describe a known outage. */
m2s_outage m2s_state_outage_check(m2s_state *st, double hold, double *since,
                                  double *next_probe);

/* What this run saw of the API: answered ends the outage for everyone;
 * otherwise (every try used up on 5xx, 429 or the network) one begins or
 * goes on, next probe in probe_after seconds. 0 or -1. */
int m2s_state_outage_report(m2s_state *st, bool answered, double probe_after);

/* Delete journal entries older than days and stale counters. 0 or -1. */
int m2s_state_purge(m2s_state *st, long days);

#endif
