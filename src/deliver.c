/* deliver.c - send one composed message to every target number.
 *
 * Per number: the journal first (already accepted for this mail -> done;
 * another process holds it -> try later), then the storm limits, then the
 * text and payload. All requests go out as one batch to Bird; each
 * accepted number is written to the journal and its line to the log the
 * moment its answer arrives, so a run cut short still remembers and tells
 * it. Then the numbers not sent get their lines, and the worst outcome
 * decides the exit status.
 */
#include "build-config.h"

#include <stdlib.h>
#include <string.h>

#include "deliver.h"
#include "log.h"
#include "payload.h"

typedef struct job {
    const m2s_target *t;
    m2s_status st;              /* how it went; its reason goes to Postfix and the log */
    char *body;                 /* request JSON */
    char *id;                   /* Bird message id */
    m2s_sms_count count;
    bool truncated;
    bool claimed;
    bool logged;                /* its line is in the log */
    bool sent_before;           /* the journal says this mail reached it already */
    bool rate_taken;            /* holds one per-number storm-limit event */
    bool duplicate;             /* the same text reached it from another mail */
    char *dup_text;             /* the text recorded for limits.duplicate_window */
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
    const m2s_bird *bird;
    const char *key;
    m2s_deliver_tally *tally;
    bool fallback;
} batch_ctx;

/* ------------------------------------------------------------ text */

static void build_request(const m2s_config *cfg, const m2s_message *msg,
                          const m2s_media_set *media, job *j)
{
    m2s_sms sms;
    m2s_media_ref *refs = NULL;
    if (m2s_compose_sms(cfg, msg, j->t->alias, j->t->number, j->suppressed, media, &sms,
                        &j->st) != M2S_OK)
        return;
    j->count = sms.count;
    j->truncated = sms.truncated;
    m2s_payload_in in = {
        .number = j->t->number,
        .text = sms.text,
        .subject = sms.subject,
        .reference = msg->reference,
        .tags = &msg->tags,
        .validity = msg->validity,
        .scheduled_for = msg->scheduled_for,
        .tmpl = sms.tmpl,
        .tmpl_values = &sms.tmpl_values,
    };
    if (sms.mms && !sms.tmpl) {
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
    j->body = m2s_payload_message(&in);
    free(refs);
    m2s_sms_clear(&sms);
}

/* -------------------------------------------------------- journal */

static void log_job(job *j);

/* A number's final answer: into the journal, then into the log, at once,
 * so that a run cut short still remembers and tells who got it. */
static void on_done(m2s_http_req *req, void *user)
{
    batch_ctx *ctx = user;
    job *j = job_of(req);
    m2s_class c = m2s_bird_sent(ctx->bird, req, j->t->number, &j->id, &j->st);
    if (c == M2S_OK && ctx->state) {
        /* What tracking needs of it, in the same record. */
        m2s_sms_meta meta = { j->t->alias ? j->t->alias->name : NULL, j->t->recipient,
                              j->count.parts, ctx->fallback };
        bool real_id = j->id && strcmp(j->id, "unknown") != 0;
        if (m2s_state_mark_sent_sms(ctx->state, ctx->key, j->t->number, j->id,
                                    real_id ? &meta : NULL) != 0)
            m2s_log(LOG_ERR, "number=%s: sent, but the journal could not record it",
                    j->t->number);
        j->claimed = false;
    }
    /* Any answer of Bird's but 5xx and 429 shows the API is up. */
    if (c == M2S_E_API_TEMP || c == M2S_E_NETWORK) {
        if (req->attempts > 0)
            ctx->tally->unavailable++;
    } else {
        ctx->tally->answered++;
    }
    log_job(j);
}

/* --------------------------------------------------------- limits */

/* limits.duplicate_window: the text this number would get (without the
 * suppressed count, which differs between copies, and without media,
 * whose links differ between uploads), recorded for this mail unless
 * another mail gave it the same one inside the window. */
static void take_duplicate(const m2s_config *cfg, m2s_state *st, const m2s_message *msg,
                           job *j)
{
    m2s_sms sms;
    m2s_status tmp = M2S_STATUS_INIT;
    bool dup = false;
    if (m2s_compose_sms(cfg, msg, j->t->alias, j->t->number, 0, NULL, &sms, &tmp) != M2S_OK) {
        m2s_status_clear(&tmp);
        return;             /* build_request will say why */
    }
    m2s_buf b;
    m2s_buf_init(&b);
    if (sms.text)
        m2s_buf_adds(&b, sms.text);
    else if (sms.tmpl) {
        m2s_buf_printf(&b, "template %s", sms.tmpl->project_id);
        for (size_t i = 0; i < sms.tmpl_values.n; i++)
            m2s_buf_printf(&b, "\n%s", sms.tmpl_values.v[i]);
    }
    char *text = m2s_buf_steal(&b);
    m2s_sms_clear(&sms);
    if (!text)
        text = xstrdup("");
    if (m2s_state_dup_take(st, j->t->number, text, msg->key, (double)cfg->duplicate_window,
                           &dup) != 0) {
        m2s_status_set(&j->st, M2S_E_STATE, NULL, "state store: cannot check for duplicates");
        free(text);
        return;
    }
    if (!dup) {
        j->dup_text = text;
        return;
    }
    free(text);
    /* Done for this mail: a retry of it finds the number sent. */
    m2s_state_mark_sent(st, msg->key, j->t->number, "duplicate");
    j->claimed = false;
    j->duplicate = true;
    m2s_status_set(&j->st, M2S_DROPPED, NULL, "the same text reached %s from another mail "
                   "within limits.duplicate_window (%lds)", j->t->number, cfg->duplicate_window);
}

static void take_limits(const m2s_config *cfg, m2s_state *st, const m2s_message *msg,
                        job *j)
{
    bool allowed = true;
    if (m2s_state_rate_take(st, "number", j->t->number, cfg->per_number_per_hour,
                            &allowed) != 0) {
        m2s_status_set(&j->st, M2S_E_STATE, NULL, "state store: cannot count the storm limit");
        return;
    }
    if (!allowed) {
        if (cfg->on_exceed == M2S_EXCEED_DROP) {
            m2s_state_suppressed_add(st, j->t->number);
            m2s_state_mark_sent(st, msg->key, j->t->number, "dropped");
            j->claimed = false;
            m2s_status_set(&j->st, M2S_DROPPED, NULL, "limits.per_number_per_hour (%ld) "
                           "reached for %s", cfg->per_number_per_hour, j->t->number);
        } else {
            m2s_status_set(&j->st, M2S_E_RATE_DEFER, NULL, "limits.per_number_per_hour (%ld) "
                           "reached for %s; try later", cfg->per_number_per_hour, j->t->number);
        }
        return;
    }
    j->rate_taken = cfg->per_number_per_hour > 0;
    if (m2s_state_suppressed_take(st, j->t->number, &j->suppressed) != 0)
        j->suppressed = 0;
}

static m2s_class sender_limit(const m2s_config *cfg, m2s_state *st, const char *who,
                              m2s_status *out)
{
    bool allowed = true;
    if (cfg->per_sender_per_hour <= 0 || !st)
        return M2S_OK;
    if (m2s_state_rate_take(st, "sender", who, cfg->per_sender_per_hour, &allowed) != 0)
        return m2s_status_set(out, M2S_E_STATE, NULL, "state store: cannot count the storm limit");
    if (allowed)
        return M2S_OK;
    return m2s_status_set(out, cfg->on_exceed == M2S_EXCEED_DROP ? M2S_DROPPED : M2S_E_RATE_DEFER,
                          NULL, "limits.per_sender_per_hour (%ld) reached for <%s>%s",
                          cfg->per_sender_per_hour, who,
                          cfg->on_exceed == M2S_EXCEED_DEFER ? "; try later" : "");
}

/* ---------------------------------------------------------- result */

static void log_job(job *j)
{
    j->logged = true;
    const m2s_outcome_row *row = m2s_outcome(j->st.cls);
    if (j->st.cls == M2S_OK && j->sent_before)
        m2s_log(LOG_INFO, "to=<%s>, number=%s, status=sent (already sent for this mail)",
                j->t->recipient, j->t->number);
    else if (j->st.cls == M2S_OK)
        m2s_log(LOG_INFO, "to=<%s>, number=%s, status=sent, id=%s, parts=%d, encoding=%s%s",
                j->t->recipient, j->t->number, j->id ? j->id : "-", j->count.parts,
                j->count.encoding == M2S_ENC_GSM7 ? "gsm7" : "ucs2",
                j->truncated ? ", truncated" : "");
    else {
        char *line = m2s_status_line(&j->st);
        m2s_log(j->st.cls == M2S_DROPPED ? LOG_NOTICE : LOG_WARNING,
                "to=<%s>, number=%s, status=%s (%s)", j->t->recipient, j->t->number,
                j->duplicate ? "duplicate" : row->status, line);
        free(line);
    }
}

/* --metrics: numbers not sent, by what happened ("dropped:duplicate",
 * "dropped:limit", "deferred:4.4.2", ...), one write per kind. */
static void count_not_sent(m2s_state *state, const job *jobs, size_t n)
{
    m2s_strv names = { 0 };
    for (size_t i = 0; i < n; i++) {
        const job *j = &jobs[i];
        if (j->st.cls == M2S_OK)
            continue;
        const m2s_outcome_row *row = m2s_outcome(j->st.cls);
        char *name = j->st.cls == M2S_DROPPED
            ? xasprintf("dropped:%s", j->duplicate ? "duplicate" : "limit")
            : xasprintf("%s:%s", row->status, j->st.dsn ? j->st.dsn : row->dsn);
        m2s_strv_take(&names, name);
    }
    for (size_t i = 0; i < names.n; i++) {
        long k = 0;
        bool first = true;
        for (size_t x = 0; x < names.n; x++) {
            if (strcmp(names.v[x], names.v[i]) == 0) {
                first = first && x >= i;
                k++;
            }
        }
        if (first)
            m2s_state_counter_add(state, names.v[i], k);
    }
    m2s_strv_clear(&names);
}

/* Several outcomes made into one: the worst class wins, and the reasons
 * of every outcome of its kind (temporary, or permanent) make the text,
 * each once; when some numbers were done and the rest will be retried,
 * the text says so. */
static void combine(const m2s_status *const *sts, size_t n, m2s_status *out)
{
    m2s_class worst = M2S_OK;
    const char *dsn = NULL;
    size_t n_sent = 0;
    m2s_strv whys = { 0 };
    for (size_t i = 0; i < n; i++) {
        worst = m2s_outcome_worse(worst, sts[i]->cls);
        if (sts[i]->cls == M2S_OK || sts[i]->cls == M2S_DROPPED)
            n_sent++;
    }
    if (worst == M2S_OK || worst == M2S_DROPPED) {
        m2s_status_take(out, worst, NULL, NULL);
        return;
    }
    bool temp = m2s_outcome_is_temporary(worst);
    for (size_t i = 0; i < n; i++) {
        const m2s_status *st = sts[i];
        bool same = temp ? m2s_outcome_is_temporary(st->cls)
                  : st->cls == worst || (m2s_outcome(st->cls)->severity >= 10 &&
                                         !m2s_outcome_is_temporary(st->cls));
        if (!same || !st->why || m2s_strv_contains(&whys, st->why))
            continue;
        if (!dsn && st->cls == worst)
            dsn = st->dsn;
        m2s_strv_add(&whys, st->why);
    }
    m2s_buf b;
    m2s_buf_init(&b);
    for (size_t i = 0; i < whys.n; i++)
        m2s_buf_printf(&b, "%s%s", i ? "; " : "", whys.v[i]);
    if (n > 1 && n_sent > 0 && temp)
        m2s_buf_printf(&b, " (%zu of %zu numbers done; they will not get it again)",
                       n_sent, n);
    m2s_status_take(out, worst, dsn, m2s_buf_steal(&b));
    m2s_strv_clear(&whys);
}

/* The outcome of the whole mail, and of each recipient: every number it
 * reaches and every refusal of it. */
static void results(const job *jobs, const m2s_routes *routes, m2s_result *out)
{
    size_t n = routes->n + routes->n_fail;
    const m2s_status **all = xcalloc(n ? n : 1, sizeof *all);
    const m2s_status **mine = xcalloc(n ? n : 1, sizeof *mine);
    for (size_t i = 0; i < routes->n; i++)
        all[i] = &jobs[i].st;
    for (size_t i = 0; i < routes->n_fail; i++)
        all[routes->n + i] = &routes->fail[i].st;
    combine(all, n, &out->mail);
    for (size_t r = 0; r < out->n_rcpt; r++) {
        size_t k = 0;
        for (size_t i = 0; i < routes->n; i++)
            for (size_t x = 0; x < routes->t[i].n_rcpts; x++)
                if (routes->t[i].rcpts[x] == r)
                    mine[k++] = &jobs[i].st;
        for (size_t i = 0; i < routes->n_fail; i++)
            if (routes->fail[i].rcpt == r)
                mine[k++] = &routes->fail[i].st;
        combine(mine, k, &out->rcpt[r]);
    }
    free(mine);
    free(all);
}

void m2s_result_init(m2s_result *res, size_t n_rcpt)
{
    res->mail = (m2s_status)M2S_STATUS_INIT;
    res->n_rcpt = n_rcpt;
    res->rcpt = xcalloc(n_rcpt ? n_rcpt : 1, sizeof *res->rcpt);
}

void m2s_result_set_all(m2s_result *res, const m2s_status *st)
{
    m2s_status_set(&res->mail, st->cls, st->dsn, st->why ? "%s" : NULL, st->why);
    for (size_t i = 0; i < res->n_rcpt; i++)
        m2s_status_set(&res->rcpt[i], st->cls, st->dsn, st->why ? "%s" : NULL, st->why);
}

void m2s_result_clear(m2s_result *res)
{
    m2s_status_clear(&res->mail);
    for (size_t i = 0; i < res->n_rcpt; i++)
        m2s_status_clear(&res->rcpt[i]);
    free(res->rcpt);
    res->rcpt = NULL;
    res->n_rcpt = 0;
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
                 const m2s_media_set *media, m2s_state *state, m2s_bird *bird,
                 m2s_result *out)
{
    size_t n = routes->n;
    job *jobs = xcalloc(n ? n : 1, sizeof *jobs);
    m2s_http_req **reqs = xcalloc(n ? n : 1, sizeof *reqs);
    size_t n_req = 0;
    m2s_deliver_tally tally_here = { 0 };
    batch_ctx ctx = { state, bird, msg->key, opts->tally ? opts->tally : &tally_here,
                      opts->fallback };
    m2s_status sender_st = M2S_STATUS_INIT;

    /* Whole-mail storm limit per sender. */
    const char *who = opts->sender && *opts->sender ? opts->sender
                    : msg->from_addr && *msg->from_addr ? msg->from_addr : "<>";
    m2s_class sc = sender_limit(cfg, state, who, &sender_st);

    for (size_t i = 0; i < n; i++) {
        job *j = &jobs[i];
        j->t = &routes->t[i];
        if (sc != M2S_OK) {
            m2s_status_set(&j->st, sc, NULL, "%s", sender_st.why);
            if (sc == M2S_DROPPED)
                m2s_state_suppressed_add(state, j->t->number);
            continue;
        }
        if (state) {
            /* state.claim_ttl: how long a relay that dies holding the
             * claim keeps the number from the others (at least the
             * deadline, so a living run never loses it). */
            switch (m2s_state_claim(state, msg->key, j->t->number, (double)cfg->claim_ttl)) {
            case M2S_CLAIM_OK:
                j->claimed = true;
                break;
            case M2S_CLAIM_SENT:
                j->sent_before = true;
                continue;
            case M2S_CLAIM_BUSY:
                m2s_status_set(&j->st, M2S_E_STATE, NULL, "another mail2sms is sending this "
                               "mail to %s; try later", j->t->number);
                continue;
            default:
                m2s_status_set(&j->st, M2S_E_STATE, NULL, "state store: cannot claim the number");
                continue;
            }
            if (cfg->duplicate_window > 0) {
                take_duplicate(cfg, state, msg, j);
                if (j->st.cls != M2S_OK)
                    continue;
            }
            take_limits(cfg, state, msg, j);
            if (j->st.cls != M2S_OK)
                continue;
        }
        build_request(cfg, msg, media, j);
        if (j->st.cls != M2S_OK)
            continue;
        m2s_bird_request(bird, M2S_BIRD_SEND, &j->req);
        j->req.body = j->body;
        j->req.body_len = strlen(j->body);
        j->req.label = j->t->number;
        j->req.done = on_done;
        j->req.user = &ctx;
        reqs[n_req++] = &j->req;
    }

    if (n_req > 0) {
        m2s_transport_stats hs;
        if (state && opts->mail && m2s_state_mail_note(state, msg->key, opts->mail) != 0)
            m2s_log(LOG_WARNING, "the journal could not remember the mail for tracking");
        m2s_bird_run(bird, reqs, n_req, opts->deadline_at, &hs);
        m2s_debug("%zu message%s: %lu HTTP requests, %lu of them retries", n_req,
                  n_req == 1 ? "" : "s", hs.requests, hs.retries);
    }

    size_t n_sent = 0;
    for (size_t i = 0; i < n; i++) {
        job *j = &jobs[i];
        if (j->st.cls == M2S_OK || j->st.cls == M2S_DROPPED)
            n_sent++;
        if (state && j->claimed && j->st.cls != M2S_OK) {
            /* Not sent: the claim, the storm-limit event and the count of
             * suppressed messages go back, so the retry finds them as
             * they were. Only what reached a phone counts. */
            m2s_state_release(state, msg->key, j->t->number);
            if (j->rate_taken)
                m2s_state_rate_give_back(state, "number", j->t->number);
            for (long k = 0; k < j->suppressed; k++)
                m2s_state_suppressed_add(state, j->t->number);
        }
        if (state && j->dup_text && j->st.cls != M2S_OK)
            m2s_state_dup_give_back(state, j->t->number, j->dup_text, msg->key);
        if (!j->logged)
            log_job(j);
    }
    /* Recipients that gave no number at all. */
    for (size_t i = 0; i < routes->n_fail; i++) {
        const m2s_route_fail *f = &routes->fail[i];
        char *line = m2s_status_line(&f->st);
        m2s_log(LOG_WARNING, "to=<%s>%s%s, status=%s (%s)", f->recipient,
                f->number ? ", number=" : "", f->number ? f->number : "",
                m2s_outcome(f->st.cls)->status, line);
        free(line);
    }

    if (state)
        count_not_sent(state, jobs, n);
    results(jobs, routes, out);
    m2s_class worst = out->mail.cls;
    /* A mail that will be retried has not used up its sender's budget. */
    if (state && sc == M2S_OK && cfg->per_sender_per_hour > 0 &&
        m2s_outcome_is_temporary(worst))
        m2s_state_rate_give_back(state, "sender", who);

    for (size_t i = 0; i < n; i++) {
        m2s_status_clear(&jobs[i].st);
        free(jobs[i].body);
        free(jobs[i].id);
        free(jobs[i].dup_text);
        m2s_http_req_clear(&jobs[i].req);
    }
    m2s_status_clear(&sender_st);
    free(reqs);
    free(jobs);
}
