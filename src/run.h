/* run.h - the whole job for one mail, as one call: parse, authorize,
 * route, compose, media, deliver. It keeps no state between calls: the
 * pipe (main.c) calls it once per process, a resident service once per
 * transaction. And the --check-config and --init-state modes.
 */
#ifndef M2S_RUN_H
#define M2S_RUN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include "cli.h"
#include "config.h"
#include "deliver.h"
#include "media.h"
#include "outcome.h"
#include "transport.h"

/* Who sent the mail and to whom, as Postfix says (all borrowed). */
typedef struct m2s_envelope {
    const char *sender;         /* NULL = not given; "" = null sender */
    const char *queue_id;       /* NULL = not given */
    char *const *recipients;
    size_t n_recipients;
} m2s_envelope;

/* What the job runs with, set up by the caller (all borrowed). */
typedef struct m2s_run_env {
    m2s_transport *transport;           /* where Bird's requests go */
    const m2s_media_backend *media;     /* NULL: the one media.store names */
    const char *state_dir;              /* the journal's directory; NULL: none,
                                         * nothing is claimed or remembered */
    double deadline_at;                 /* m2s_now() time to be done by */
} m2s_run_env;

/* Run the job for the mail in data/len (not copied; it must stay as it
 * is during the call) and set out to its outcome: for the whole mail the
 * class that decides the exit status, with the reasons for the line
 * Postfix shows, and the same for each recipient (an LMTP reply each).
 * out is made here (release with m2s_result_clear). Every recipient gets
 * its log line. GMime must be initialised (m2s_mail_init). */
void m2s_run(const m2s_config *cfg, const m2s_run_env *env, const m2s_envelope *envelope,
             const char *data, size_t len, m2s_result *out);

/* Log a failure that ends a mail before its numbers are tried: one line
 * per recipient (or one line when there are none). Nothing for success. */
void m2s_run_report(const m2s_envelope *envelope, const m2s_status *st);

/* --check-config: load path, print the summary or one line per problem
 * to out; returns the exit code (0, or 78 when it is not usable). */
int m2s_run_check_config(const char *path, FILE *out);

/* --init-state: load path, create or migrate the state store's schema
 * and say so on out; returns the exit code (0; 78 for an unusable
 * configuration; 75 when the store cannot be reached or changed). */
int m2s_run_init_state(const char *path, FILE *out);

/* The modes that handle no mail: --help, --version, --init-state and
 * --check-config, answered on out. True with the exit code in *rc when
 * cli asks for one of them; false otherwise. */
bool m2s_run_admin(const m2s_cli *cli, FILE *out, int *rc);

#endif
