/* deliver.c - send one composed message to every target number.
 *
 * Per number: the journal first (already accepted for this mail -> done;
 * another process holds it -> try later), then the storm limits, then the
 * text and payload. All requests go out as one HTTP batch; each accepted
 * number is written to the journal the moment its answer arrives, so a
 * run cut short still remembers it. Then every number gets its log line
 * and the worst outcome decides the exit status.
 */
#include "build-config.h"

#include <stdlib.h>
#include <string.h>

#include "deliver.h"
#include "http.h"
#include "log.h"
#include "payload.h"

typedef struct job {
    const m2s_target *t;
    m2s_class cls;
    const char *dsn;            /* refines the class's DSN; static */
    char *why;                  /* for the Postfix line and the log */
    char *body;                 /* request JSON */
    char *id;                   /* Bird message id */
    m2s_sms_count count;
    bool truncated;
    bool claimed;
    bool send;                  /* has a request in the batch */
    bool sent_before;           /* the journal says this mail reached it already */
    bool rate_taken;            /* holds one per-number storm-limit event */
    long suppressed;            /* taken from the state, re-added on failure */
    m2s_http_req req;
} job;

/* The job a request belongs to (each job holds its request). */
static job *job_of(m2s_http_req *req)
{
    return (job *)((char *)req - offsetof(job, req));
}

typedef struct batch_ctx {
    m2s_state *state;
    const char *key;
} batch_ctx;

static void set_fail(job *j, m2s_class cls, const char *dsn, char *why)
{
    j->cls = cls;
    j->dsn = dsn;
    free(j->why);
    j->why = why;
}

/* ------------------------------------------------------------ text */

static char *media_links(const m2s_media_set *media)
{
    m2s_buf b;
    m2s_buf_init(&b);
    for (size_t i = 0; i < media->n; i++) {
        if (!media->items[i].url)
            continue;
        if (b.len)
            m2s_buf_addc(&b, '\n');
        m2s_buf_adds(&b, media->items[i].url);
    }
    return m2s_buf_steal(&b);
}

static void build_request(const m2s_config *cfg, const m2s_deliver_opts *opts,
                          const m2s_message *msg, m2s_media_set *media, job *j)
{
    const m2s_alias *alias = j->t->alias;
    const m2s_template *tmpl = alias && alias->tmpl ? alias->tmpl : cfg->tmpl;
    const char *fmt = alias && alias->format ? alias->format : NULL;
    bool has_media = media && media->n > 0;
    bool mms = has_media && m2s_media_mms_for(cfg, j->t->number);
    char *prefix = j->suppressed > 0 ? xasprintf("(+%ld suppressed)", j->suppressed) : NULL;
    char *suffix = NULL;
    char *text = NULL, *why = NULL;
    m2s_strv values = { 0 };
    m2s_media_ref *refs = NULL;

    bool links_used = false;
    if (media) {
        char *note = m2s_media_note(cfg, media, mms);
        char *links = has_media && !mms && cfg->non_mms == M2S_NON_MMS_LINKS
                          ? media_links(media) : NULL;
        links_used = links && *links;
        if (links && *links && note)
            suffix = xasprintf("%s\n%s", links, note);
        else if (links && *links)
            suffix = xstrdup(links);
        else if (note)
            suffix = xstrdup(note);
        free(links);
        free(note);
    }

    m2s_payload_in in = {
        .number = j->t->number,
        .subject = msg->subject,
        .reference = msg->reference,
        .tags = &msg->tags,
        .validity = msg->validity,
        .scheduled_for = msg->scheduled_for,
    };
    if (tmpl) {
        for (size_t i = 0; i < tmpl->param_values.n; i++)
            m2s_strv_take(&values, m2s_compose_expand(tmpl->param_values.v[i], msg));
        in.tmpl = tmpl;
        in.tmpl_values = &values;
    } else {
        m2s_class c = m2s_compose_text(cfg, msg, fmt, prefix, suffix, &text, &j->count,
                                       &j->truncated, &why);
        if (c == M2S_E_CONTENT && links_used && cfg->on_too_long == M2S_TOO_LONG_TRUNCATE) {
            /* The links alone do not fit in message.max_parts (long file
             * names): say so instead of losing the alert. */
            free(why);
            why = NULL;
            free(suffix);
            suffix = xasprintf("[%zu attachment%s: links too long for SMS]", media->n,
                               media->n == 1 ? "" : "s");
            c = m2s_compose_text(cfg, msg, fmt, prefix, suffix, &text, &j->count,
                                 &j->truncated, &why);
        }
        if (c != M2S_OK) {
            set_fail(j, c, NULL, why);
            why = NULL;
            goto out;
        }
        in.text = text;
        if (mms) {
            refs = xcalloc(media->n, sizeof *refs);
            for (size_t i = 0; i < media->n; i++) {
                refs[i].url = media->items[i].url;
                refs[i].content_type = media->items[i].att->content_type;
                refs[i].filename = media->items[i].att->filename;
            }
            in.media = refs;
            in.n_media = media->n;
            in.all_images = media->all_images;
        }
    }
    j->body = m2s_payload_message(&in);
    if (opts->dry_run) {
        char *url = xasprintf("%s/workspaces/%s/channels/%s/messages", cfg->api_url,
                              cfg->workspace_id, cfg->channel_id);
        char *line = m2s_payload_dry_run_line("POST", url, j->body);
        fprintf(opts->dry_out, "%s\n", line);
        free(line);
        free(url);
    } else {
        j->send = true;
    }
out:
    free(refs);
    m2s_strv_free(&values);
    free(why);
    free(text);
    free(suffix);
    free(prefix);
}

/* -------------------------------------------------------- journal */

static void classify_answer(job *j)
{
    m2s_http_req *r = &j->req;
    char *err = NULL;
    if (r->err != M2S_HTTP_OK) {
        static const char *const dsn[] = {
            [M2S_HTTP_DNS] = "4.4.3", [M2S_HTTP_CONNECT] = "4.4.1",
            [M2S_HTTP_TIMEOUT] = "4.4.2", [M2S_HTTP_DROPPED] = "4.4.2",
            [M2S_HTTP_TLS] = "4.4.0", [M2S_HTTP_DEADLINE] = "4.4.7",
            [M2S_HTTP_OTHER] = "4.4.0",
        };
        set_fail(j, M2S_E_NETWORK, dsn[r->err],
                 xasprintf("Bird API unreachable for %s: %s%s (%d attempt%s)", j->t->number,
                           r->err_text ? r->err_text : "network error",
                           r->maybe_sent ? ", the request may have arrived" : "",
                           r->attempts, r->attempts == 1 ? "" : "s"));
        return;
    }
    long st = r->status;
    if (st >= 200 && st < 300) {
        char *status = NULL;
        if (m2s_payload_parse_accepted(r->resp, r->resp_len, &j->id, &status) != 0) {
            /* Accepted, but the reply is not Bird's message: it was sent. */
            m2s_log(LOG_WARNING, "number=%s: HTTP %ld with an unreadable reply; "
                    "counting it as sent", j->t->number, st);
            j->id = xstrdup("unknown");
        }
        free(status);
        j->cls = M2S_OK;
        return;
    }
    err = m2s_payload_error_text(r->resp, r->resp_len);
    const char *detail = err ? err : "no Bird error body";
    if (st == 401 || st == 403 || st == 404)
        set_fail(j, M2S_E_API_AUTH, NULL,
                 xasprintf("Bird API refused the credentials or ids (HTTP %ld): %s "
                           "(check bird.access_key, workspace_id, channel_id)", st, detail));
    else if (st == 400 || st == 409 || st == 413 || st == 422)
        set_fail(j, M2S_E_CONTENT, NULL,
                 xasprintf("Bird API rejected the message for %s (HTTP %ld): %s",
                           j->t->number, st, detail));
    else if (st == 408 || st == 429 || st >= 500)
        set_fail(j, M2S_E_API_TEMP, NULL,
                 xasprintf("Bird API busy for %s (HTTP %ld after %d attempt%s): %s",
                           j->t->number, st, r->attempts, r->attempts == 1 ? "" : "s", detail));
    else
        set_fail(j, M2S_E_INTERNAL, NULL,
                 xasprintf("unexpected answer from the Bird API for %s (HTTP %ld): %s",
                           j->t->number, st, detail));
    free(err);
}

static void on_done(m2s_http_req *req, void *user)
{
    batch_ctx *ctx = user;
    job *j = job_of(req);
    classify_answer(j);
    if (!ctx->state)
        return;
    if (j->cls == M2S_OK) {
        if (m2s_state_mark_sent(ctx->state, ctx->key, j->t->number, j->id) != 0)
            m2s_log(LOG_ERR, "number=%s: sent, but the journal could not record it",
                    j->t->number);
        j->claimed = false;
    }
}

/* --------------------------------------------------------- limits */

static void take_limits(const m2s_config *cfg, m2s_state *st, const m2s_message *msg,
                        job *j)
{
    bool allowed = true;
    if (m2s_state_rate_take(st, "number", j->t->number, cfg->per_number_per_hour,
                            &allowed) != 0) {
        set_fail(j, M2S_E_STATE, NULL, xstrdup("state store: cannot count the storm limit"));
        return;
    }
    if (!allowed) {
        if (cfg->on_exceed == M2S_EXCEED_DROP) {
            m2s_state_suppressed_add(st, j->t->number);
            m2s_state_mark_sent(st, msg->key, j->t->number, "dropped");
            j->claimed = false;
            set_fail(j, M2S_DROPPED, NULL,
                     xasprintf("limits.per_number_per_hour (%ld) reached for %s",
                               cfg->per_number_per_hour, j->t->number));
        } else {
            set_fail(j, M2S_E_RATE_DEFER, NULL,
                     xasprintf("limits.per_number_per_hour (%ld) reached for %s; try later",
                               cfg->per_number_per_hour, j->t->number));
        }
        return;
    }
    j->rate_taken = cfg->per_number_per_hour > 0;
    if (m2s_state_suppressed_take(st, j->t->number, &j->suppressed) != 0)
        j->suppressed = 0;
}

static m2s_class sender_limit(const m2s_config *cfg, m2s_state *st, const char *who,
                              char **why)
{
    bool allowed = true;
    if (cfg->per_sender_per_hour <= 0 || !st)
        return M2S_OK;
    if (m2s_state_rate_take(st, "sender", who, cfg->per_sender_per_hour, &allowed) != 0) {
        *why = xstrdup("state store: cannot count the storm limit");
        return M2S_E_STATE;
    }
    if (allowed)
        return M2S_OK;
    *why = xasprintf("limits.per_sender_per_hour (%ld) reached for <%s>%s",
                     cfg->per_sender_per_hour, who,
                     cfg->on_exceed == M2S_EXCEED_DEFER ? "; try later" : "");
    return cfg->on_exceed == M2S_EXCEED_DROP ? M2S_DROPPED : M2S_E_RATE_DEFER;
}

/* ---------------------------------------------------------- result */

static void log_job(const job *j)
{
    const m2s_outcome_row *row = m2s_outcome(j->cls);
    if (j->cls == M2S_OK && j->sent_before)
        m2s_log(LOG_INFO, "to=<%s>, number=%s, status=sent (already sent for this mail)",
                j->t->recipient, j->t->number);
    else if (j->cls == M2S_OK)
        m2s_log(LOG_INFO, "to=<%s>, number=%s, status=sent, id=%s, parts=%d, encoding=%s%s",
                j->t->recipient, j->t->number, j->id ? j->id : "-", j->count.parts,
                j->count.encoding == M2S_ENC_GSM7 ? "gsm7" : "ucs2",
                j->truncated ? ", truncated" : "");
    else {
        char *line = m2s_outcome_line(j->cls, j->dsn, j->why);
        m2s_log(j->cls == M2S_DROPPED ? LOG_NOTICE : LOG_WARNING,
                "to=<%s>, number=%s, status=%s (%s)", j->t->recipient, j->t->number,
                row->status, line);
        free(line);
    }
}

static char *summary_line(m2s_class cls, const char *dsn, const m2s_strv *whys,
                          size_t n_sent, size_t n_total)
{
    m2s_buf b;
    m2s_buf_init(&b);
    for (size_t i = 0; i < whys->n; i++)
        m2s_buf_printf(&b, "%s%s", i ? "; " : "", whys->v[i]);
    if (n_total > 1 && n_sent > 0 && m2s_outcome_is_temporary(cls))
        m2s_buf_printf(&b, " (%zu of %zu numbers done; they will not get it again)",
                       n_sent, n_total);
    char *text = m2s_buf_steal(&b);
    char *line = m2s_outcome_line(cls, dsn, text);
    free(text);
    return line;
}

const char **m2s_deliver_pending(const m2s_message *msg, const m2s_routes *routes,
                                 m2s_state *state, size_t *n_out)
{
    const char **numbers = xcalloc(routes->n ? routes->n : 1, sizeof *numbers);
    size_t n = 0;
    for (size_t i = 0; i < routes->n; i++) {
        bool sent = false;
        if (state && m2s_state_is_sent(state, msg->key, routes->t[i].number, &sent) == 0 &&
            sent)
            continue;
        numbers[n++] = routes->t[i].number;
    }
    *n_out = n;
    return numbers;
}

void m2s_deliver(const m2s_config *cfg, const m2s_deliver_opts *opts,
                 const m2s_message *msg, const m2s_routes *routes,
                 m2s_media_set *media, m2s_state *state, m2s_http *http,
                 m2s_result *res)
{
    size_t n = routes->n;
    job *jobs = xcalloc(n ? n : 1, sizeof *jobs);
    m2s_http_req **reqs = xcalloc(n ? n : 1, sizeof *reqs);
    size_t n_req = 0;
    batch_ctx ctx = { opts->dry_run ? NULL : state, msg->key };
    m2s_strv whys = { 0 };
    m2s_class worst = M2S_OK;
    const char *worst_dsn = NULL;
    char *sender_why = NULL;
    res->cls = M2S_OK;
    res->line = NULL;

    /* Whole-mail storm limit per sender. */
    const char *who = opts->sender && *opts->sender ? opts->sender
                    : msg->from_addr && *msg->from_addr ? msg->from_addr : "<>";
    m2s_class sc = opts->dry_run ? M2S_OK : sender_limit(cfg, ctx.state, who, &sender_why);

    for (size_t i = 0; i < n; i++) {
        job *j = &jobs[i];
        j->t = &routes->t[i];
        j->cls = M2S_OK;
        if (sc != M2S_OK) {
            set_fail(j, sc, NULL, xstrdup(sender_why));
            if (sc == M2S_DROPPED)
                m2s_state_suppressed_add(ctx.state, j->t->number);
            continue;
        }
        if (ctx.state) {
            double lease = opts->deadline_at - m2s_now() + 60;
            switch (m2s_state_claim(ctx.state, msg->key, j->t->number, lease)) {
            case M2S_CLAIM_OK:
                j->claimed = true;
                break;
            case M2S_CLAIM_SENT:
                j->sent_before = true;
                continue;
            case M2S_CLAIM_BUSY:
                set_fail(j, M2S_E_STATE, NULL,
                         xasprintf("another mail2sms is sending this mail to %s; try later",
                                   j->t->number));
                continue;
            default:
                set_fail(j, M2S_E_STATE, NULL, xstrdup("state store: cannot claim the number"));
                continue;
            }
            take_limits(cfg, ctx.state, msg, j);
            if (j->cls != M2S_OK)
                continue;
        }
        build_request(cfg, opts, msg, media, j);
        if (j->cls != M2S_OK || !j->send)
            continue;
        j->req.url = NULL;
        reqs[n_req++] = &j->req;
    }

    if (n_req > 0) {
        char *url = xasprintf("%s/workspaces/%s/channels/%s/messages", cfg->api_url,
                              cfg->workspace_id, cfg->channel_id);
        for (size_t i = 0; i < n_req; i++) {
            job *j = job_of(reqs[i]);
            j->req.method = "POST";
            j->req.url = url;
            j->req.body = j->body;
            j->req.body_len = strlen(j->body);
            j->req.auth = true;
            j->req.done = on_done;
            j->req.user = &ctx;
        }
        m2s_http_run(http, reqs, n_req);
        free(url);
        m2s_http_stats hs;
        m2s_http_get_stats(http, &hs);
        m2s_debug("%zu message%s: %lu HTTP requests, %lu of them retries", n_req,
                  n_req == 1 ? "" : "s", hs.requests, hs.retries);
    }

    size_t n_sent = 0;
    for (size_t i = 0; i < n; i++) {
        job *j = &jobs[i];
        if (j->cls == M2S_OK || j->cls == M2S_DROPPED)
            n_sent++;
        if (ctx.state && j->claimed && j->cls != M2S_OK) {
            /* Not sent: the claim, the storm-limit event and the count of
             * suppressed messages go back, so the retry finds them as
             * they were. Only what reached a phone counts. */
            m2s_state_release(ctx.state, msg->key, j->t->number);
            if (j->rate_taken)
                m2s_state_rate_give_back(ctx.state, "number", j->t->number);
            for (long k = 0; k < j->suppressed; k++)
                m2s_state_suppressed_add(ctx.state, j->t->number);
        }
        if (!opts->dry_run)
            log_job(j);
    }
    /* Recipients that gave no number at all. */
    for (size_t i = 0; i < routes->n_fail; i++) {
        const m2s_route_fail *f = &routes->fail[i];
        char *line = m2s_outcome_line(f->cls, NULL, f->why);
        m2s_log(LOG_WARNING, "to=<%s>%s%s, status=%s (%s)", f->recipient,
                f->number ? ", number=" : "", f->number ? f->number : "",
                m2s_outcome(f->cls)->status, line);
        free(line);
    }

    /* The worst class wins; its reasons make the line. */
    for (size_t i = 0; i < n; i++)
        worst = m2s_outcome_worse(worst, jobs[i].cls);
    for (size_t i = 0; i < routes->n_fail; i++)
        worst = m2s_outcome_worse(worst, routes->fail[i].cls);
    if (worst != M2S_OK && worst != M2S_DROPPED) {
        bool temp = m2s_outcome_is_temporary(worst);
        for (size_t i = 0; i < n; i++) {
            job *j = &jobs[i];
            bool same = temp ? m2s_outcome_is_temporary(j->cls) : j->cls == worst ||
                        (m2s_outcome(j->cls)->severity >= 10 && !m2s_outcome_is_temporary(j->cls));
            if (!same || !j->why || m2s_strv_contains(&whys, j->why))
                continue;
            if (!worst_dsn && j->cls == worst)
                worst_dsn = j->dsn;
            m2s_strv_add(&whys, j->why);
        }
        for (size_t i = 0; i < routes->n_fail && !temp; i++)
            if (!m2s_strv_contains(&whys, routes->fail[i].why))
                m2s_strv_add(&whys, routes->fail[i].why);
        res->line = summary_line(worst, worst_dsn, &whys, n_sent, n + routes->n_fail);
    }
    res->cls = worst;
    /* A mail that will be retried has not used up its sender's budget. */
    if (ctx.state && sc == M2S_OK && cfg->per_sender_per_hour > 0 &&
        m2s_outcome_is_temporary(worst))
        m2s_state_rate_give_back(ctx.state, "sender", who);

    for (size_t i = 0; i < n; i++) {
        free(jobs[i].why);
        free(jobs[i].body);
        free(jobs[i].id);
        m2s_http_req_clear(&jobs[i].req);
    }
    m2s_strv_free(&whys);
    free(sender_why);
    free(reqs);
    free(jobs);
}

void m2s_result_clear(m2s_result *res)
{
    free(res->line);
    res->line = NULL;
    res->cls = M2S_OK;
}
