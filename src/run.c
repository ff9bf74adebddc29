/* run.c - one mail from its bytes to its outcome.
 *
 *   mail (parse) -> senders -> route -> compose -> media -> deliver
 *
 * A failure before deliver ends the mail with its status, logged once
 * per recipient; deliver logs its own lines per number. Media are stored
 * only for the numbers the journal does not hold as sent, and only when
 * one of them needs them.
 */
#include "build-config.h"

#include <stdlib.h>
#include <sysexits.h>

#include "bird.h"
#include "compose.h"
#include "deliver.h"
#include "log.h"
#include "mail.h"
#include "route.h"
#include "run.h"
#include "senders.h"
#include "state.h"

void m2s_run_report(const m2s_envelope *envelope, const m2s_status *st)
{
    if (st->cls == M2S_OK || st->cls == M2S_DROPPED)
        return;
    char *line = m2s_status_line(st);
    const char *status = m2s_outcome(st->cls)->status;
    int prio = m2s_outcome_is_temporary(st->cls) ? LOG_WARNING : LOG_NOTICE;
    for (size_t i = 0; i < envelope->n_recipients; i++)
        m2s_log(prio, "to=<%s>, status=%s (%s)", envelope->recipients[i], status, line);
    if (envelope->n_recipients == 0)
        m2s_log(prio, "status=%s (%s)", status, line);
    free(line);
}

/* Store the media for the numbers still to be sent, when one needs them. */
static m2s_class store_media(const m2s_config *cfg, const m2s_run_env *env, m2s_bird *bird,
                             const m2s_message *msg, const m2s_routes *routes,
                             m2s_state *state, m2s_media_set *media, m2s_status *st)
{
    size_t n_pending = 0;
    if (media->n == 0)
        return M2S_OK;      /* a mail without any asks the journal nothing */
    const char **pending = m2s_deliver_pending(msg, routes, state, &n_pending);
    bool needed = m2s_media_needed(cfg, media, pending, n_pending);
    free(pending);
    if (!needed)
        return M2S_OK;
    const m2s_media_backend *be = env->media ? env->media : m2s_media_backend_of(cfg);
    return m2s_media_store(be, cfg, bird, env->deadline_at, media, st);
}

void m2s_run(const m2s_config *cfg, const m2s_run_env *env, const m2s_envelope *envelope,
             const char *data, size_t len, m2s_result *out)
{
    m2s_mail *mail = NULL;
    m2s_message *msg = NULL;
    m2s_routes routes = { 0 };
    m2s_media_set media = { 0 };
    m2s_state *state = NULL;
    m2s_bird *bird = NULL;
    char *why = NULL;
    m2s_status st = M2S_STATUS_INIT;
    m2s_mail_limits limits = { cfg->max_mime_depth, cfg->max_mime_parts };

    m2s_result_init(out, envelope->n_recipients);
    if (!data)
        data = "";
    if (m2s_mail_parse(data, len, &limits, &mail, &why) != M2S_MAIL_OK) {
        m2s_status_take(&st, M2S_E_CONTENT, NULL, why);
        goto failed;
    }
    if (m2s_senders_authorize(cfg, envelope->sender, mail, &st) != M2S_OK)
        goto failed;
    m2s_route(cfg, envelope->recipients, envelope->n_recipients, &routes);
    bool trusted = m2s_senders_trusted(cfg, envelope->sender, mail);
    if (m2s_compose(cfg, mail, data, len, envelope->queue_id, trusted, &msg, &st) != M2S_OK)
        goto failed;
    bird = m2s_bird_new(cfg, env->transport);
    if (routes.n > 0) {
        if (m2s_media_select(cfg, mail, &media, &st) != M2S_OK)
            goto failed;
        if (env->state_dir && !(state = m2s_state_open(env->state_dir, &why))) {
            m2s_status_take(&st, M2S_E_STATE, NULL, why);
            goto failed;
        }
        if (store_media(cfg, env, bird, msg, &routes, state, &media, &st) != M2S_OK)
            goto failed;
    }
    m2s_deliver_opts dopts = { .sender = envelope->sender, .deadline_at = env->deadline_at };
    m2s_deliver(cfg, &dopts, msg, &routes, &media, state, bird, out);
    if (state)
        m2s_state_purge(state, cfg->retention_days);
    goto done;
failed:
    m2s_run_report(envelope, &st);
    m2s_result_set_all(out, &st);
done:
    m2s_status_clear(&st);
    m2s_bird_free(bird);
    m2s_state_close(state);
    m2s_media_set_clear(&media);
    m2s_message_free(msg);
    m2s_routes_clear(&routes);
    m2s_mail_free(mail);
}

int m2s_run_check_config(const char *path, FILE *out)
{
    m2s_strv problems = { 0 };
    m2s_config *cfg = m2s_config_load(path, &problems);
    char *why = NULL;
    int rc = EX_OK;
    /* Run as the configured user, this says whether its lines can reach
     * log_file. */
    if (cfg && cfg->log_file && m2s_log_check_file(cfg->log_file, &why) != 0) {
        m2s_strv_take(&problems, why);
        m2s_config_free(cfg);
        cfg = NULL;
    }
    if (cfg) {
        char *endpoint = m2s_bird_messages_url(cfg);
        m2s_config_summary(cfg, endpoint, out);
        fprintf(out, "configuration OK\n");
        free(endpoint);
    } else {
        for (size_t i = 0; i < problems.n; i++)
            fprintf(out, "%s\n", problems.v[i]);
        fprintf(out, "configuration NOT usable: %zu problem%s\n", problems.n,
                problems.n == 1 ? "" : "s");
        rc = EX_CONFIG;
    }
    m2s_config_free(cfg);
    m2s_strv_clear(&problems);
    return rc;
}
