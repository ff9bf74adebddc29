/* track.c - one tracking pass: take what is due, read it from Bird, apply
 * what Bird said, do the actions of the failed ones.
 *
 * The SMS are taken in chunks of about ten seconds' worth of reads, so a
 * pass over a long backlog keeps its claims short and stops cleanly at
 * the deadline; what is not reached stays due for the next pass.
 */
#include "build-config.h"

#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <time.h>
#include <unistd.h>

#include "bird.h"
#include "deliver.h"
#include "log.h"
#include "notify.h"
#include "route.h"
#include "track.h"

/* 15 s after acceptance comes the first check (M2S_TRACK_FIRST); then
 * these, by the number of answered checks. */
static const double backoff_steps[] = { 15, 30, 60, 120, 300, 900, 3600 };
#define N_STEPS (sizeof backoff_steps / sizeof backoff_steps[0])

double m2s_track_backoff(long checks)
{
    if (checks < 0)
        checks = 0;
    return (size_t)checks < N_STEPS ? backoff_steps[checks] : backoff_steps[N_STEPS - 1];
}

bool m2s_track_is_final(const char *status, bool *failed)
{
    static const char *const failures[] = { "delivery_failed", "sending_failed", "rejected" };
    static const char *const others[] = { "delivered", "deleted", "skipped" };
    if (failed)
        *failed = false;
    if (!status)
        return false;
    for (size_t i = 0; i < 3; i++) {
        if (strcmp(status, failures[i]) == 0) {
            if (failed)
                *failed = true;
            return true;
        }
        if (strcmp(status, others[i]) == 0)
            return true;
    }
    return false;
}

static bool wants(const m2s_config *cfg, const char *action)
{
    return m2s_strv_contains(&cfg->track_on_failure, action);
}

static void set_field(char **f, const char *v)
{
    char *n = xstrdup(v);
    free(*f);
    *f = n;
}

int m2s_track_apply(const m2s_config *cfg, m2s_state *st, m2s_tracked *t,
                    const m2s_track_news *news, double now, bool *act)
{
    bool failed = false, applied = false;
    const char *outcome = NULL;
    *act = false;
    if (news->unknown)
        outcome = "unknown";
    else if (m2s_track_is_final(news->status, &failed))
        outcome = news->status;
    else if (now - t->accepted >= (double)cfg->track_max_age) {
        const char *last = news->status ? news->status : t->status;
        outcome = last && strcmp(last, "sent") == 0 ? "no_report" : "expired";
    }
    long checks = t->checks + (news->status || news->unknown ? 1 : 0);
    m2s_track_event ev = {
        .status = news->status,
        .reason = news->status ? news->reason : NULL,
        .source = news->status ? news->source : NULL,
        .outcome = outcome,
        .next_in = m2s_track_backoff(checks),
        .answered = news->status || news->unknown,
        .actions_due = failed && !t->fallback && cfg->track_on_failure.n > 0,
    };
    if (m2s_state_track_apply(st, t->key, t->number, &ev, &applied) != 0)
        return -1;
    if (!applied)
        return 0;               /* ended already (another tracker, a webhook) */
    if (news->status && (!t->status || strcmp(t->status, news->status) != 0)) {
        set_field(&t->status, news->status);
        t->status_at = now;
        set_field(&t->reason, news->reason);
        set_field(&t->source, news->source);
    }
    t->checks = checks;
    if (outcome) {
        set_field(&t->outcome, outcome);
        m2s_log(failed ? LOG_WARNING : LOG_INFO,
                "%s: to=<%s>, number=%s, id=%s, sms=%s%s%s%s%s%s", t->queue_id ? t->queue_id : "-",
                t->recipient ? t->recipient : "", t->number, t->bird_id ? t->bird_id : "-",
                outcome, t->reason ? " (" : "", t->reason ? t->reason : "",
                t->source ? ", " : "", t->source ? t->source : "", t->reason ? ")" : "");
        *act = ev.actions_due;
    } else if (news->status) {
        m2s_debug("%s: number=%s, id=%s, sms=%s, next check in %.0fs",
                  t->queue_id ? t->queue_id : "-", t->number, t->bird_id, news->status,
                  ev.next_in);
    }
    return 0;
}

/* ------------------------------------------------------------ actions */

static char *host_name(void)
{
    char host[256] = "localhost";
    if (gethostname(host, sizeof host - 1) < 0)
        strcpy(host, "localhost");
    host[sizeof host - 1] = '\0';
    return xstrdup(host);
}

/* The notice: at most once, also across a tracker that died sending it. */
static void do_notify(const m2s_config *cfg, m2s_state *st, m2s_tracked *t)
{
    bool ok = false;
    char *why = NULL, *host = NULL, *msg = NULL;
    const char *q = t->queue_id ? t->queue_id : "-";
    if (t->notify && strcmp(t->notify, "sending") == 0) {
        /* A tracker died while handing it to sendmail: it may have gone. */
        m2s_state_track_action(st, t->key, t->number, "notify", "lost", &ok);
        m2s_log(LOG_WARNING, "%s: number=%s: a tracker stopped while sending the notice; "
                "not sending it again", q, t->number);
        goto out;
    }
    if (t->notify)
        goto out;
    const char *rcpt = m2s_notify_rcpt(cfg, t);
    if (!rcpt) {
        m2s_state_track_action(st, t->key, t->number, "notify", "none", &ok);
        m2s_log(LOG_NOTICE, "%s: number=%s: no notice: no sender to tell (null sender, "
                "or an address of the SMS domain)", q, t->number);
        goto out;
    }
    if (m2s_state_track_action(st, t->key, t->number, "notify", "sending", &ok) != 0 || !ok)
        goto out;
    host = host_name();
    msg = m2s_notify_message(t, rcpt, m2s_bird_failure_dsn(t->outcome, t->reason), host);
    if (m2s_notify_send(cfg, rcpt, msg, &why) == 0) {
        m2s_state_track_action(st, t->key, t->number, "notify", "sent", &ok);
        m2s_state_counter_add(st, "notices:sent", 1);
        m2s_log(LOG_INFO, "%s: number=%s: delivery status notification sent to <%s>", q,
                t->number, rcpt);
    } else {
        m2s_state_track_action(st, t->key, t->number, "notify", "failed", &ok);
        m2s_state_counter_add(st, "notices:failed", 1);
        m2s_log(LOG_ERR, "%s: number=%s: the notice to <%s> could not be sent: %s", q,
                t->number, rcpt, why);
    }
out:
    free(why);
    free(host);
    free(msg);
}

/* The fallback SMS's text: which number failed, why, and which mail. */
static char *fallback_text(const m2s_tracked *t)
{
    m2s_buf b;
    m2s_buf_init(&b);
    m2s_buf_printf(&b, "SMS to %s", t->number);
    if (t->alias)
        m2s_buf_printf(&b, " (%s)", t->alias);
    m2s_buf_printf(&b, " failed: %s", t->outcome ? t->outcome : "failed");
    if (t->reason)
        m2s_buf_printf(&b, " (%s)", t->reason);
    m2s_buf_printf(&b, ". Mail%s%s: %s", t->queue_id ? " " : "", t->queue_id ? t->queue_id : "",
                   t->subject ? t->subject : "(no subject)");
    return m2s_buf_steal(&b);
}

/* The fallback SMS, through the journal like any mail: its claims keep a
 * retry (after a tracker died) from sending it twice. 0 done (sent, or
 * refused for good), -1 to be tried again. */
static int do_fallback(const m2s_config *cfg, const m2s_track_opts *o, m2s_state *st,
                       m2s_tracked *t)
{
    bool ok = false;
    int ret = 0;
    const char *q = t->queue_id ? t->queue_id : "-";
    if (t->fallback_state && strcmp(t->fallback_state, "sending") != 0)
        return 0;
    if (!t->fallback_state &&
        (m2s_state_track_action(st, t->key, t->number, "fallback", "sending", &ok) != 0 || !ok))
        return 0;
    char *rcpt = cfg->track_fallback;
    m2s_routes routes = { 0 };
    m2s_route(cfg, &rcpt, 1, &routes);
    m2s_message *msg = xcalloc(1, sizeof *msg);
    msg->subject = xstrdup("mail2sms");
    msg->body = fallback_text(t);
    msg->from_addr = xstrdup("");
    msg->from_name = xstrdup("");
    msg->key = xasprintf("fallback:%s:%s", t->key, t->number);
    char *subject = xasprintf("fallback for %s: %s", t->number, t->subject ? t->subject : "");
    m2s_mail_meta meta = { t->sender, t->queue_id, t->message_id, subject, t->headers };
    m2s_deliver_opts dopts = { .sender = NULL, .deadline_at = o->deadline_at, .mail = &meta,
                               .fallback = true };
    m2s_media_set media = { 0 };
    m2s_result res;
    m2s_result_init(&res, 1);
    m2s_bird *bird = m2s_bird_new(cfg, o->sends);
    m2s_deliver(cfg, &dopts, msg, &routes, &media, st, bird, &res);
    if (res.mail.cls == M2S_OK) {
        m2s_state_track_action(st, t->key, t->number, "fallback", "sent", &ok);
        m2s_state_counter_add(st, "fallbacks:sent", 1);
        m2s_log(LOG_INFO, "%s: number=%s: fallback SMS sent to %s", q, t->number, rcpt);
    } else if (m2s_outcome_is_temporary(res.mail.cls)) {
        m2s_log(LOG_WARNING, "%s: number=%s: fallback SMS to %s deferred: %s", q, t->number,
                rcpt, res.mail.why ? res.mail.why : "");
        ret = -1;
    } else {
        m2s_state_track_action(st, t->key, t->number, "fallback", "failed", &ok);
        m2s_state_counter_add(st, "fallbacks:failed", 1);
        m2s_log(LOG_ERR, "%s: number=%s: fallback SMS to %s refused: %s", q, t->number, rcpt,
                res.mail.why ? res.mail.why : "");
    }
    m2s_bird_free(bird);
    m2s_result_clear(&res);
    free(subject);
    m2s_message_free(msg);
    m2s_routes_clear(&routes);
    return ret;
}

int m2s_track_actions(const m2s_config *cfg, const m2s_track_opts *o, m2s_state *st,
                      m2s_tracked *t)
{
    bool ok = false;
    int ret = 0;
    if (wants(cfg, "notify") && !t->fallback)
        do_notify(cfg, st, t);
    if (wants(cfg, "fallback") && !t->fallback && cfg->track_fallback)
        ret = do_fallback(cfg, o, st, t);
    /* Deferred: the claim runs out and a later pass tries again. */
    if (ret == 0)
        m2s_state_track_action(st, t->key, t->number, "done", NULL, &ok);
    return ret;
}

/* ------------------------------------------------------------ the pass */

typedef struct rate_cap {
    m2s_state *state;
    char *bucket;
} rate_cap;

static int lease_starts(void *ctx, long n, double interval, double *delay)
{
    rate_cap *rc = ctx;
    return m2s_state_rate_lease(rc->state, rc->bucket, n, interval, delay);
}

static double wall_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* -n: what the pass would read and do, on o->out. */
static void dry_chunk(const m2s_config *cfg, const m2s_track_opts *o, m2s_bird *bird,
                      m2s_tracked *v, size_t n)
{
    m2s_http_req *reqs = xcalloc(n ? n : 1, sizeof *reqs);
    m2s_http_req **ptrs = xcalloc(n ? n : 1, sizeof *ptrs);
    char **urls = xcalloc(n ? n : 1, sizeof *urls);
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        m2s_tracked *t = &v[i];
        if (t->actions_due) {
            const char *rcpt = m2s_notify_rcpt(cfg, t);
            if (wants(cfg, "notify") && !t->notify)
                fprintf(o->out, "would send a delivery status notification for %s (%s) "
                        "to <%s>\n", t->number, t->bird_id, rcpt ? rcpt : "nobody");
            if (wants(cfg, "fallback") && !t->fallback_state && cfg->track_fallback)
                fprintf(o->out, "would send a fallback SMS for %s (%s) to %s\n", t->number,
                        t->bird_id, cfg->track_fallback);
            continue;
        }
        m2s_bird_status_request(bird, t->bird_id, &reqs[k], &urls[k]);
        reqs[k].label = t->number;
        ptrs[k] = &reqs[k];
        k++;
    }
    if (k > 0)
        m2s_bird_run(bird, ptrs, k, o->deadline_at, NULL);
    for (size_t i = 0; i < k; i++) {
        m2s_http_req_clear(&reqs[i]);
        free(urls[i]);
    }
    free(urls);
    free(ptrs);
    free(reqs);
}

int m2s_track_pass(const m2s_config *cfg, const m2s_track_opts *o)
{
    m2s_state *st = NULL;
    m2s_bird *bird = NULL;
    char *why = NULL;
    int rc = EX_OK;
    rate_cap cap = { NULL, xasprintf("track:%s", cfg->workspace_id) };
    m2s_rate_gate gate = { lease_starts, &cap };
    rate_cap send_cap = { NULL, xstrdup(cfg->workspace_id) };
    m2s_rate_gate send_gate = { lease_starts, &send_cap };
    size_t n_read = 0, n_done = 0, n_failed = 0;
    double t0 = m2s_now();

    m2s_state_where where;
    m2s_state_where_of(cfg, cfg->state_dir, &where);
    if (!(st = m2s_state_open(&where, &why))) {
        m2s_log(LOG_ERR, "%s", why);
        rc = EX_TEMPFAIL;
        goto out;
    }
    cap.state = send_cap.state = st;
    if (!o->dry_run) {
        m2s_transport_set_gate(o->reads, &gate);
        m2s_transport_set_gate(o->sends, &send_gate);
    }
    bird = m2s_bird_new(cfg, o->reads);
    /* About ten seconds of reads per chunk. */
    long chunk = (long)(cfg->track_max_rate * 10);
    chunk = chunk < 10 ? 10 : chunk > 1000 ? 1000 : chunk;
    double lease = (double)cfg->claim_ttl;
    bool stop = false;

    while (!stop && m2s_now() < o->deadline_at - (double)cfg->timeout) {
        m2s_tracked *v = NULL;
        size_t n = 0;
        if (m2s_state_track_take(st, chunk, lease, o->dry_run, &v, &n) != 0) {
            rc = EX_TEMPFAIL;
            break;
        }
        if (n == 0) {
            m2s_tracked_free(v, n);
            break;
        }
        if (o->dry_run) {
            dry_chunk(cfg, o, bird, v, n);
            m2s_tracked_free(v, n);
            break;              /* the same rows again otherwise */
        }
        m2s_http_req *reqs = xcalloc(n, sizeof *reqs);
        m2s_http_req **ptrs = xcalloc(n, sizeof *ptrs);
        size_t *idx = xcalloc(n, sizeof *idx);
        char **urls = xcalloc(n, sizeof *urls);
        size_t k = 0;
        for (size_t i = 0; i < n; i++) {
            if (v[i].actions_due) {
                if (m2s_track_actions(cfg, o, st, &v[i]) != 0)
                    n_failed++;
                continue;
            }
            m2s_bird_status_request(bird, v[i].bird_id, &reqs[k], &urls[k]);
            reqs[k].label = v[i].number;
            ptrs[k] = &reqs[k];
            idx[k++] = i;
        }
        if (k > 0)
            m2s_bird_run(bird, ptrs, k, o->deadline_at, NULL);
        double now = wall_now();
        for (size_t x = 0; x < k; x++) {
            m2s_tracked *t = &v[idx[x]];
            m2s_bird_msg_status ms;
            m2s_status rst = M2S_STATUS_INIT;
            m2s_track_news news = { 0 };
            bool act = false;
            m2s_class c = m2s_bird_read_status(bird, &reqs[x], t->bird_id, &ms, &rst);
            if (c == M2S_E_API_AUTH && !stop) {
                char *line = m2s_status_line(&rst);
                m2s_log(LOG_ERR, "pass stopped: %s", line);
                free(line);
                stop = true;
                rc = EX_CONFIG;
            } else if (c != M2S_OK && c != M2S_E_API_AUTH) {
                m2s_debug("%s: number=%s: %s; tried again later",
                          t->queue_id ? t->queue_id : "-", t->number, rst.why);
            }
            if (c == M2S_OK) {
                news.status = ms.status;
                news.reason = ms.reason;
                news.source = ms.source;
                news.unknown = ms.unknown;
                n_read++;
            }
            /* No news (a failed read) moves the next check on and gives
             * the claim back; max_age still ends it. */
            if (m2s_track_apply(cfg, st, t, &news, now, &act) != 0) {
                rc = EX_TEMPFAIL;
                stop = true;
            } else if (t->outcome) {
                n_done++;
            }
            if (act && m2s_track_actions(cfg, o, st, t) != 0)
                n_failed++;
            m2s_bird_msg_status_clear(&ms);
            m2s_status_clear(&rst);
        }
        for (size_t x = 0; x < k; x++) {
            m2s_http_req_clear(&reqs[x]);
            free(urls[x]);
        }
        free(urls);
        free(idx);
        free(ptrs);
        free(reqs);
        m2s_tracked_free(v, n);
    }
    if (!o->dry_run && rc == EX_OK)
        m2s_state_counter_add(st, "tracking:passes", 1);
    if (!o->dry_run)
        m2s_log(LOG_INFO, "pass: %zu read, %zu ended, %zu actions deferred, %.1fs",
                n_read, n_done, n_failed, m2s_now() - t0);
out:
    if (!o->dry_run) {
        m2s_transport_set_gate(o->reads, NULL);
        m2s_transport_set_gate(o->sends, NULL);
    }
    m2s_bird_free(bird);
    m2s_state_close(st);
    free(cap.bucket);
    free(send_cap.bucket);
    free(why);
    return rc;
}
