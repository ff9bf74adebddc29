/* track.h - mail2sms --track: one pass over the SMS the journal follows.
 *
 * Every SMS not yet in a final state whose next check is due is read
 * from Bird (at most tracking.max_rate reads per second for every
 * tracker on the store together, concurrently, inside the deadline);
 * checks back off per SMS (15 s, 30 s, 1, 2, 5, 15 minutes, then hourly).
 * Two trackers never take one SMS at once (claims with leases). An SMS
 * that failed for good gets tracking.on_failure's actions, each at most
 * once. Status events reach the journal through one function,
 * m2s_track_apply, which a webhook receiver can feed as well.
 */
#ifndef M2S_TRACK_H
#define M2S_TRACK_H

#include <stdbool.h>
#include <stdio.h>
#include "config.h"
#include "state.h"
#include "transport.h"

typedef struct m2s_track_opts {
    m2s_transport *reads;       /* the status reads (tracking.max_rate); borrowed */
    m2s_transport *sends;       /* fallback SMS (bird.max_rate); borrowed */
    bool dry_run;               /* -n: say what would be read and done, change nothing */
    FILE *out;                  /* where -n says it */
    double deadline_at;         /* m2s_now() time to be done by */
} m2s_track_opts;

/* Seconds from an SMS's checks-th answered check to its next one. */
double m2s_track_backoff(long checks);

/* Whether Bird's status word is final; *failed (may be NULL): failed
 * for good (delivery_failed, sending_failed, rejected). */
bool m2s_track_is_final(const char *status, bool *failed);

/* What was learnt of one SMS: a status read's answer or a webhook event
 * (all borrowed). */
typedef struct m2s_track_news {
    const char *status;         /* Bird's word, or NULL: nothing learnt */
    const char *reason;
    const char *source;
    bool unknown;               /* Bird does not know the message (404) */
} m2s_track_news;

/* The one path of a status event to a followed SMS t (as the journal had
 * it): the outcome it means (final status; no report or expired after
 * tracking.max_age; unknown), the next check, the log line, into the
 * journal. t is updated to match. *act: on_failure actions are now due
 * (the caller's claim on t is kept for them). 0 or -1 (store error). */
int m2s_track_apply(const m2s_config *cfg, m2s_state *st, m2s_tracked *t,
                    const m2s_track_news *news, double now, bool *act);

/* tracking.on_failure for t, which failed for good and whose claim the
 * caller holds: the notice and the fallback SMS, each at most once. 0, or
 * -1 when something is to be tried again on a later pass. */
int m2s_track_actions(const m2s_config *cfg, const m2s_track_opts *o, m2s_state *st,
                      m2s_tracked *t);

/* One pass. Returns the exit code: 0; 75 when the store cannot be used;
 * 78 when Bird refuses the credentials (the pass stops). */
int m2s_track_pass(const m2s_config *cfg, const m2s_track_opts *o);

#endif
