/* deliver.h - the sending stage: for each target number, the journal
 * (skip what was already accepted for this mail, claim the rest), the
 * storm limits, the payload, the HTTP batch, and one log line per number;
 * then the outcome of the whole mail.
 */
#ifndef M2S_DELIVER_H
#define M2S_DELIVER_H

#include <stdbool.h>
#include <stdio.h>
#include "compose.h"
#include "config.h"
#include "media.h"
#include "outcome.h"
#include "route.h"
#include "state.h"

typedef struct m2s_deliver_opts {
    bool dry_run;               /* print requests to dry_out, no network, no writes */
    FILE *dry_out;
    const char *sender;         /* envelope sender, for per-sender limits; may be NULL */
    double deadline_at;         /* m2s_now() time */
} m2s_deliver_opts;

typedef struct m2s_result {
    m2s_class cls;              /* the class that wins for the whole mail */
    char *line;                 /* the one line for Postfix; NULL on success; owned */
} m2s_result;

/* The numbers of routes still to be sent for msg: every one, less those
 * the journal says the API accepted on an earlier try (none are left out
 * without a state, or when the journal cannot be read). Returns a new
 * array of n_out pointers into routes (caller frees the array only). */
const char **m2s_deliver_pending(const m2s_message *msg, const m2s_routes *routes,
                                 m2s_state *state, size_t *n_out);

/* Send msg to every target of routes (route failures are counted in the
 * result too). state may be NULL only in a dry run. */
void m2s_deliver(const m2s_config *cfg, const m2s_deliver_opts *opts,
                 const m2s_message *msg, const m2s_routes *routes,
                 m2s_media_set *media, m2s_state *state, m2s_http *http,
                 m2s_result *res);

void m2s_result_clear(m2s_result *res);

#endif
