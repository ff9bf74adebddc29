/* deliver.h - the sending stage: for each target number, the journal
 * (skip what was already accepted for this mail, claim the rest), the
 * storm limits, the payload, one batch of requests to Bird, and one log
 * line per number; then the outcome of the whole mail.
 */
#ifndef M2S_DELIVER_H
#define M2S_DELIVER_H

#include <stdbool.h>
#include "bird.h"
#include "compose.h"
#include "config.h"
#include "media.h"
#include "outcome.h"
#include "route.h"
#include "state.h"

/* How a mail went, as a whole and for each recipient of its envelope. */
typedef struct m2s_result {
    m2s_status mail;            /* the class that wins, the reasons for the line */
    m2s_status *rcpt;           /* owned: one per recipient, in envelope order */
    size_t n_rcpt;
} m2s_result;

/* An empty result for n_rcpt recipients (release with m2s_result_clear). */
void m2s_result_init(m2s_result *res, size_t n_rcpt);
/* The same status for the mail and every recipient (a copy of st). */
void m2s_result_set_all(m2s_result *res, const m2s_status *st);
void m2s_result_clear(m2s_result *res);

/* What Bird's answers said of the API itself, for the outage memory. */
typedef struct m2s_deliver_tally {
    size_t answered;            /* numbers Bird gave a final answer (yes, or a firm no) */
    size_t unavailable;         /* numbers whose every try ended in 5xx, 429 or the network */
} m2s_deliver_tally;

typedef struct m2s_deliver_opts {
    const char *sender;         /* envelope sender, for per-sender limits; may be NULL */
    double deadline_at;         /* m2s_now() time */
    m2s_deliver_tally *tally;   /* filled in when not NULL (borrowed) */
    const m2s_mail_meta *mail;  /* what the journal remembers of the mail for
                                 * tracking; NULL: nothing (borrowed) */
    bool fallback;              /* these are fallback SMS (tracking.fallback) */
} m2s_deliver_opts;

/* The numbers of routes still to be sent for msg: every one, less those
 * the journal says the API accepted on an earlier try (none are left out
 * without a state, or when the journal cannot be read). Returns a new
 * array of n_out pointers into routes (caller frees the array only). */
const char **m2s_deliver_pending(const m2s_message *msg, const m2s_routes *routes,
                                 m2s_state *state, size_t *n_out);

/* Send msg to every target of routes through bird, and set out (made
 * with m2s_result_init for the envelope's recipients) to the outcome of
 * the whole mail and of each recipient: the class that wins, and the
 * reasons for the line Postfix shows (route failures count too). Every
 * number gets its log line. Without a state (NULL) nothing is claimed,
 * counted or remembered; with one, every accepted SMS is followed
 * (tracking) and numbers not sent are counted by class (--metrics). */
void m2s_deliver(const m2s_config *cfg, const m2s_deliver_opts *opts,
                 const m2s_message *msg, const m2s_routes *routes,
                 const m2s_media_set *media, m2s_state *state, m2s_bird *bird,
                 m2s_result *out);

#endif
