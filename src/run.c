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
#include <time.h>

#include "bird.h"
#include "cli.h"
#include "compose.h"
#include "deliver.h"
#include "log.h"
#include "mail.h"
#include "route.h"
#include "run.h"
#include "senders.h"
#include "state.h"
#include "version.h"

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

/* The shared rate cap: bird.max_rate for every process using the store,
 * counted per workspace. */
typedef struct rate_cap {
    m2s_state *state;
    const char *bucket;
} rate_cap;

static int lease_starts(void *ctx, long n, double interval, double *delay)
{
    rate_cap *rc = ctx;
    return m2s_state_rate_lease(rc->state, rc->bucket, n, interval, delay);
}

/* How long a run waits for another run's probe before it defers. */
#define OUTAGE_WAIT_SECONDS 5.0

/* A wall-clock time as the log writes it: 2024-05-01 04:31:00 UTC. */
static void clock_text(double t, char out[32])
{
    time_t s = (time_t)t;
    struct tm tm;
    if (!gmtime_r(&s, &tm) || !strftime(out, 32, "%Y-%m-%d %H:%M:%S UTC", &tm))
        snprintf(out, 32, "%.0f", t);
}

/* The outage memory (bird.outage_probe): while the API is known to be
 * down, defer at once instead of holding a pipe slot for the whole
 * deadline; one run at a time probes. *probe: this run is that one. */
static m2s_class outage_gate(const m2s_config *cfg, m2s_state *state, bool *probe,
                             m2s_status *st)
{
    double since = 0, next = 0;
    char a[32], b[32];
    *probe = false;
    if (!state || cfg->outage_probe <= 0)
        return M2S_OK;
    m2s_outage o = m2s_state_outage_check(state, (double)cfg->deadline + 60, &since, &next);
    /* A probe under way may end the outage in a moment (the API is back):
     * wait for it a little, so that a queue run after the API returns
     * delivers everything, not only the probe's mail. */
    double wait = (double)cfg->deadline / 4 < OUTAGE_WAIT_SECONDS ? (double)cfg->deadline / 4
                                                                   : OUTAGE_WAIT_SECONDS;
    double wait_until = m2s_now() + wait;
    while (o == M2S_OUTAGE_DEFER && next <= (double)time(NULL) && m2s_now() < wait_until) {
        struct timespec ts = { 0, 200 * 1000000L };
        nanosleep(&ts, NULL);
        o = m2s_state_outage_check(state, (double)cfg->deadline + 60, &since, &next);
    }
    switch (o) {
    case M2S_OUTAGE_NONE:
        return M2S_OK;
    case M2S_OUTAGE_PROBE:
        clock_text(since, a);
        m2s_log(LOG_INFO, "Bird API unavailable since %s: this run probes it", a);
        *probe = true;
        return M2S_OK;
    case M2S_OUTAGE_DEFER:
        clock_text(since, a);
        clock_text(next, b);
        return m2s_status_set(st, M2S_E_API_TEMP, NULL, "Bird API unavailable since %s, "
                              "next probe at %s%s", a, b,
                              next <= (double)time(NULL) ? " (a probe is under way)" : "");
    default:
        return m2s_status_set(st, M2S_E_STATE, NULL,
                              "state store: cannot read the outage record");
    }
}

/* What the run learnt of the API, into the outage memory. */
static void outage_learn(const m2s_config *cfg, m2s_state *state, bool probe,
                         const m2s_deliver_tally *t)
{
    if (!state || cfg->outage_probe <= 0)
        return;
    if (t->answered > 0) {
        m2s_state_outage_report(state, true, 0);
        if (probe)
            m2s_log(LOG_INFO, "Bird API answers again: the outage is over");
    } else if (t->unavailable > 0) {
        m2s_state_outage_report(state, false, (double)cfg->outage_probe);
        m2s_log(LOG_WARNING, "Bird API unavailable: the next %lds of mail defer at once "
                "(bird.outage_probe)", cfg->outage_probe);
    } else if (probe) {
        /* The probe sent nothing (all numbers done or held): the next run probes. */
        m2s_state_outage_report(state, false, 0);
    }
}

/* What the journal keeps of the raw header block for a notice: the top
 * of data up to its first empty line, at most this much. */
#define HEADERS_KEEP 8192
#define SUBJECT_KEEP 120

static char *raw_headers(const char *data, size_t len)
{
    size_t n = len < HEADERS_KEEP ? len : HEADERS_KEEP;
    size_t end = n;
    for (size_t i = 0; i + 1 < n; i++) {
        if (data[i] == '\n' && (data[i + 1] == '\n' ||
                                (data[i + 1] == '\r' && i + 2 < n && data[i + 2] == '\n'))) {
            end = i + 1;
            break;
        }
    }
    /* A block cut short ends at a line's end. */
    if (end == HEADERS_KEEP)
        while (end > 0 && data[end - 1] != '\n')
            end--;
    return xstrndup(data, end);
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
    m2s_deliver_tally tally = { 0 };
    rate_cap cap = { NULL, cfg->workspace_id };
    m2s_rate_gate gate = { lease_starts, &cap };
    bool probe = false;
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
        if (env->state_dir) {
            m2s_state_where where;
            m2s_state_where_of(cfg, env->state_dir, &where);
            if (!(state = m2s_state_open(&where, &why))) {
                m2s_status_take(&st, M2S_E_STATE, NULL, why);
                goto failed;
            }
            cap.state = state;
            m2s_transport_set_gate(env->transport, &gate);
        }
        if (outage_gate(cfg, state, &probe, &st) != M2S_OK)
            goto failed;
        /* (A failed upload teaches the outage memory nothing: its items
         * may fail one by one while the API answers.) */
        if (store_media(cfg, env, bird, msg, &routes, state, &media, &st) != M2S_OK) {
            outage_learn(cfg, state, probe, &tally);
            goto failed;
        }
    }
    char *mid = mail->message_id ? xasprintf("<%s>", mail->message_id) : NULL;
    char *subject = m2s_oneline(mail->subject, SUBJECT_KEEP);
    char *headers = state ? raw_headers(data, len) : NULL;
    m2s_mail_meta meta = { envelope->sender, envelope->queue_id, mid, subject, headers };
    m2s_deliver_opts dopts = { .sender = envelope->sender, .deadline_at = env->deadline_at,
                               .tally = &tally, .mail = &meta };
    m2s_deliver(cfg, &dopts, msg, &routes, &media, state, bird, out);
    free(mid);
    free(subject);
    free(headers);
    outage_learn(cfg, state, probe, &tally);
    if (state)
        m2s_state_purge(state, cfg->retention_days);
    goto done;
failed:
    m2s_run_report(envelope, &st);
    m2s_result_set_all(out, &st);
done:
    m2s_status_clear(&st);
    m2s_bird_free(bird);
    if (state)
        m2s_transport_set_gate(env->transport, NULL);
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
        m2s_state_where where;
        m2s_config_summary(cfg, endpoint, out);
        free(endpoint);
        /* A store that cannot be reached, or has the wrong schema, makes
         * every mail defer: say so here. */
        m2s_state_where_of(cfg, cfg->state_dir, &where);
        if (m2s_state_check(&where, out, &why) != 0) {
            m2s_strv_take(&problems, why);
            m2s_config_free(cfg);
            cfg = NULL;
        } else {
            fprintf(out, "configuration OK\n");
        }
    }
    if (!cfg) {
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

int m2s_run_init_state(const char *path, FILE *out)
{
    m2s_strv problems = { 0 };
    m2s_config *cfg = m2s_config_load(path, &problems);
    char *why = NULL;
    int rc = EX_OK;
    if (!cfg) {
        for (size_t i = 0; i < problems.n; i++)
            fprintf(out, "%s\n", problems.v[i]);
        rc = EX_CONFIG;
        goto out;
    }
    m2s_state_where where;
    m2s_state_where_of(cfg, cfg->state_dir, &where);
    if (m2s_state_init(&where, out, &why) != 0) {
        fprintf(out, "%s\n", why);
        free(why);
        rc = EX_TEMPFAIL;
    }
out:
    m2s_config_free(cfg);
    m2s_strv_clear(&problems);
    return rc;
}

bool m2s_run_admin(const m2s_cli *cli, FILE *out, int *rc)
{
    const char *path = cli->config_path ? cli->config_path : m2s_config_default_path();
    *rc = EX_OK;
    if (cli->help)
        m2s_cli_usage(out);
    else if (cli->version)
        m2s_version_print(out);
    else if (cli->init_state)
        *rc = m2s_run_init_state(path, out);
    else if (cli->check_config)
        *rc = m2s_run_check_config(path, out);
    else
        return false;
    return true;
}
