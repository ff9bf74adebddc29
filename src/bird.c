/* bird.c - Bird's endpoints, credential and answers.
 *
 * One table says what an answer means for each kind of call: success,
 * credentials or ids refused (defer: the operator must fix them), content
 * refused (bounce, or leave a medium out), busy (retried, then defer), or
 * anything else (our fault or unknown: defer). A transport error is always
 * a network failure, with the enhanced code its kind gives. The texts
 * name the number or the file and Bird's own error.
 */
#include "build-config.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "bird.h"
#include "log.h"

struct m2s_bird {
    const m2s_config *cfg;
    m2s_transport *tr;
    char *messages_url;
    char *presign_url;
    m2s_strv api_headers;       /* the Authorization line: SECRET */
};

#define CALL(c) (1u << (c))
#define API_CALLS (CALL(M2S_BIRD_SEND) | CALL(M2S_BIRD_PRESIGN) | CALL(M2S_BIRD_STATUS))
#define POST_CALLS (CALL(M2S_BIRD_SEND) | CALL(M2S_BIRD_PRESIGN))
#define ALL_CALLS (API_CALLS | CALL(M2S_BIRD_UPLOAD))

/* What an HTTP status means, by call. The first row that matches wins;
 * no row: M2S_E_INTERNAL. Bird's storage service (uploads) is S3-like: a
 * 403 or 404 there is an expired or refused presigned URL, which the next
 * run asks for anew. */
static const struct {
    unsigned calls;
    long lo, hi;
    m2s_class cls;
} answers[] = {
    { API_CALLS,              200, 299, M2S_OK },
    { CALL(M2S_BIRD_UPLOAD),  200, 201, M2S_OK },
    { CALL(M2S_BIRD_UPLOAD),  204, 204, M2S_OK },
    { API_CALLS,              401, 401, M2S_E_API_AUTH },
    { API_CALLS,              403, 404, M2S_E_API_AUTH },
    { POST_CALLS,             400, 400, M2S_E_CONTENT },
    { POST_CALLS,             409, 409, M2S_E_CONTENT },
    { POST_CALLS,             413, 413, M2S_E_CONTENT },
    { POST_CALLS,             422, 422, M2S_E_CONTENT },
    { CALL(M2S_BIRD_PRESIGN), 415, 415, M2S_E_CONTENT },   /* that media type */
    { CALL(M2S_BIRD_UPLOAD),  413, 413, M2S_E_CONTENT },
    { CALL(M2S_BIRD_UPLOAD),  403, 404, M2S_E_API_TEMP },
    { ALL_CALLS,              408, 408, M2S_E_API_TEMP },
    { ALL_CALLS,              429, 429, M2S_E_API_TEMP },
    { ALL_CALLS,              500, 599, M2S_E_API_TEMP },
};

/* A transport error is a network failure with this enhanced code. */
static const char *const net_dsn[M2S_HTTP_ERR_COUNT] = {
    [M2S_HTTP_OK] = "4.4.0",
    [M2S_HTTP_DNS] = "4.4.3",
    [M2S_HTTP_CONNECT] = "4.4.1",
    [M2S_HTTP_TIMEOUT] = "4.4.2",
    [M2S_HTTP_DROPPED] = "4.4.2",
    [M2S_HTTP_TLS] = "4.4.0",
    [M2S_HTTP_DEADLINE] = "4.4.7",
    [M2S_HTTP_OTHER] = "4.4.0",
};

static m2s_class answer_class(m2s_bird_call call, long status)
{
    for (size_t i = 0; i < sizeof answers / sizeof answers[0]; i++)
        if ((answers[i].calls & CALL(call)) && status >= answers[i].lo &&
            status <= answers[i].hi)
            return answers[i].cls;
    return M2S_E_INTERNAL;
}

static const char *plural(int n)
{
    return n == 1 ? "" : "s";
}

/* The class of an answer to call. A transport error is a network failure,
 * set in st here as "<what>: <error>[, the request may have arrived] (N
 * attempts)", what formatted from fmt. */
static m2s_class classify(m2s_bird_call call, const m2s_http_req *r, m2s_status *st,
                          const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static m2s_class classify(m2s_bird_call call, const m2s_http_req *r, m2s_status *st,
                          const char *fmt, ...)
{
    if (r->err == M2S_HTTP_OK)
        return answer_class(call, r->status);
    va_list ap;
    va_start(ap, fmt);
    char *what = xvasprintf(fmt, ap);
    va_end(ap);
    int e = (int)r->err >= 0 && r->err < M2S_HTTP_ERR_COUNT ? (int)r->err : M2S_HTTP_OTHER;
    m2s_status_set(st, M2S_E_NETWORK, net_dsn[e], "%s: %s%s (%d attempt%s)", what,
                   r->err_text ? r->err_text : "network error",
                   r->maybe_sent ? ", the request may have arrived" : "",
                   r->attempts, plural(r->attempts));
    free(what);
    return M2S_E_NETWORK;
}

/* ------------------------------------------------------------ client */

char *m2s_bird_messages_url(const m2s_config *cfg)
{
    return xasprintf("%s/workspaces/%s/channels/%s/messages", cfg->api_url,
                     cfg->workspace_id, cfg->channel_id);
}

char *m2s_bird_status_url(const m2s_config *cfg, const char *id)
{
    return xasprintf("%s/workspaces/%s/channels/%s/messages/%s", cfg->api_url,
                     cfg->workspace_id, cfg->channel_id, id);
}

static char *presign_url(const m2s_config *cfg)
{
    if (cfg->presign_path == M2S_PRESIGN_WORKSPACE)
        return xasprintf("%s/workspaces/%s/channel-media/presigned-upload", cfg->api_url,
                         cfg->workspace_id);
    return xasprintf("%s/workspaces/%s/channels/%s/presigned-upload", cfg->api_url,
                     cfg->workspace_id, cfg->channel_id);
}

m2s_bird *m2s_bird_new(const m2s_config *cfg, m2s_transport *tr)
{
    m2s_bird *b = xcalloc(1, sizeof *b);
    b->cfg = cfg;
    b->tr = tr;
    b->messages_url = m2s_bird_messages_url(cfg);
    b->presign_url = presign_url(cfg);
    m2s_strv_take(&b->api_headers,
                  xasprintf("Authorization: AccessKey %s", cfg->access_key ? cfg->access_key : ""));
    return b;
}

void m2s_bird_free(m2s_bird *b)
{
    if (!b)
        return;
    for (size_t i = 0; i < b->api_headers.n; i++)
        explicit_bzero(b->api_headers.v[i], strlen(b->api_headers.v[i]));
    m2s_strv_clear(&b->api_headers);
    free(b->messages_url);
    free(b->presign_url);
    free(b);
}

void m2s_bird_request(m2s_bird *b, m2s_bird_call call, m2s_http_req *req)
{
    req->call = (int)call;
    req->method = "POST";
    req->url = call == M2S_BIRD_PRESIGN ? b->presign_url : b->messages_url;
    req->headers = &b->api_headers;
}

void m2s_bird_status_request(m2s_bird *b, const char *id, m2s_http_req *req, char **url)
{
    *url = m2s_bird_status_url(b->cfg, id);
    req->call = M2S_BIRD_STATUS;
    req->method = "GET";
    req->url = *url;
    req->headers = &b->api_headers;
    req->body = NULL;
    req->body_len = 0;
}

void m2s_bird_upload_request(const m2s_presign *p, m2s_http_req *req)
{
    req->call = M2S_BIRD_UPLOAD;
    req->method = p->upload_method && strcasecmp(p->upload_method, "PUT") == 0 ? "PUT" : "POST";
    req->url = p->upload_url;
    req->headers = NULL;
    req->form_names = &p->form_names;
    req->form_values = &p->form_values;
}

void m2s_bird_run(m2s_bird *b, m2s_http_req **reqs, size_t n, double deadline_at,
                  m2s_transport_stats *stats)
{
    m2s_transport_run(b->tr, reqs, n, deadline_at, stats);
}

/* ------------------------------------------------------------ answers */

/* Which setting holds the key, for a hint. */
static const char *key_setting(const m2s_bird *b)
{
    return b->cfg->access_key_file ? "bird.access_key_file" : "bird.access_key";
}

m2s_class m2s_bird_sent(const m2s_bird *b, const m2s_http_req *r, const char *number,
                        char **id, m2s_status *st)
{
    *id = NULL;
    m2s_class cls = classify(M2S_BIRD_SEND, r, st, "Bird API unreachable for %s", number);
    long code = r->status;
    if (r->err != M2S_HTTP_OK)
        return cls;
    if (cls == M2S_OK) {
        char *status = NULL;
        if (m2s_payload_parse_accepted(r->resp, r->resp_len, id, &status) != 0) {
            /* Accepted, but the reply is not Bird's message: it was sent. */
            m2s_log(LOG_WARNING, "number=%s: HTTP %ld with an unreadable reply; "
                    "counting it as sent", number, code);
            *id = xstrdup("unknown");
        }
        free(status);
        return M2S_OK;
    }
    char *err = m2s_payload_error_text(r->resp, r->resp_len);
    const char *detail = err ? err : "no Bird error body";
    switch (cls) {
    case M2S_E_API_AUTH:
        m2s_status_set(st, cls, NULL, "Bird API refused the credentials or ids (HTTP %ld): %s "
                       "(check %s, workspace_id, channel_id)", code, detail, key_setting(b));
        break;
    case M2S_E_CONTENT:
        m2s_status_set(st, cls, NULL, "Bird API rejected the message for %s (HTTP %ld): %s",
                       number, code, detail);
        break;
    case M2S_E_API_TEMP:
        m2s_status_set(st, cls, NULL, "Bird API busy for %s (HTTP %ld after %d attempt%s): %s",
                       number, code, r->attempts, plural(r->attempts), detail);
        break;
    default:
        m2s_status_set(st, cls, NULL, "unexpected answer from the Bird API for %s (HTTP %ld): %s",
                       number, code, detail);
        break;
    }
    free(err);
    return cls;
}

m2s_class m2s_bird_presigned(const m2s_bird *b, const m2s_http_req *r, const char *name,
                             const char *type, m2s_presign *p, m2s_status *st)
{
    m2s_class cls = classify(M2S_BIRD_PRESIGN, r, st,
                             "Bird media upload request of \"%s\" failed", name);
    long code = r->status;
    if (r->err != M2S_HTTP_OK)
        return cls;
    if (cls == M2S_OK) {
        if (m2s_payload_parse_presign(r->resp, r->resp_len, p) == 0)
            return M2S_OK;
        return m2s_status_set(st, M2S_E_INTERNAL, NULL, "Bird presigned-upload reply for "
                              "\"%s\" unreadable (HTTP %ld)", name, code);
    }
    char *err = m2s_payload_error_text(r->resp, r->resp_len);
    const char *detail = err ? err : "no Bird error body";
    switch (cls) {
    case M2S_E_API_AUTH:
        m2s_status_set(st, cls, NULL, "Bird API refused the media upload request (HTTP %ld): "
                       "%s (check %s, workspace_id, channel_id, media.presign_path)", code,
                       detail, key_setting(b));
        break;
    case M2S_E_CONTENT:
        m2s_status_set(st, cls, NULL, "Bird API refused media \"%s\" of type %s (HTTP %ld): %s",
                       name, type, code, detail);
        break;
    case M2S_E_API_TEMP:
        m2s_status_set(st, cls, NULL, "Bird API busy for the media upload request (HTTP %ld "
                       "after %d attempt%s): %s", code, r->attempts, plural(r->attempts),
                       detail);
        break;
    default:
        m2s_status_set(st, cls, NULL, "unexpected answer to the media upload request "
                       "(HTTP %ld): %s", code, detail);
        break;
    }
    free(err);
    return cls;
}

m2s_class m2s_bird_uploaded(const m2s_http_req *r, const char *name, size_t len,
                            m2s_status *st)
{
    m2s_class cls = classify(M2S_BIRD_UPLOAD, r, st, "media upload of \"%s\" failed", name);
    long code = r->status;
    if (r->err != M2S_HTTP_OK)
        return cls;
    /* S3 says "too large" in its XML error, whatever the status. */
    if (cls != M2S_OK && r->resp && strstr(r->resp, "<Code>EntityTooLarge</Code>"))
        cls = M2S_E_CONTENT;
    switch (cls) {
    case M2S_OK:
        break;
    case M2S_E_CONTENT:
        m2s_status_set(st, cls, NULL, "media \"%s\" (%zu bytes) refused by Bird's storage as "
                       "too large (HTTP %ld)", name, len, code);
        break;
    case M2S_E_API_TEMP:
        m2s_status_set(st, cls, NULL, "media upload of \"%s\" refused by Bird's storage (HTTP "
                       "%ld after %d attempt%s); will retry with a new upload URL", name, code,
                       r->attempts, plural(r->attempts));
        break;
    default:
        m2s_status_set(st, M2S_E_INTERNAL, NULL, "unexpected answer to the media upload of "
                       "\"%s\" (HTTP %ld)", name, code);
        break;
    }
    return cls;
}

void m2s_bird_msg_status_clear(m2s_bird_msg_status *ms)
{
    free(ms->status);
    free(ms->reason);
    free(ms->source);
    memset(ms, 0, sizeof *ms);
}

m2s_class m2s_bird_read_status(const m2s_bird *b, const m2s_http_req *r, const char *id,
                               m2s_bird_msg_status *ms, m2s_status *st)
{
    memset(ms, 0, sizeof *ms);
    m2s_class cls = classify(M2S_BIRD_STATUS, r, st, "Bird API unreachable for message %s", id);
    long code = r->status;
    if (r->err != M2S_HTTP_OK)
        return cls;
    if (code == 404) {
        ms->unknown = true;
        return M2S_OK;
    }
    if (cls == M2S_OK) {
        if (m2s_payload_parse_status(r->resp, r->resp_len, &ms->status, &ms->reason,
                                     &ms->source) == 0)
            return M2S_OK;
        m2s_bird_msg_status_clear(ms);
        return m2s_status_set(st, M2S_E_INTERNAL, NULL, "Bird's answer for message %s is "
                              "not a message (HTTP %ld)", id, code);
    }
    char *err = m2s_payload_error_text(r->resp, r->resp_len);
    const char *detail = err ? err : "no Bird error body";
    if (cls == M2S_E_API_AUTH)
        m2s_status_set(st, cls, NULL, "Bird API refused the credentials or ids (HTTP %ld): %s "
                       "(check %s, workspace_id, channel_id)", code, detail, key_setting(b));
    else if (cls == M2S_E_API_TEMP)
        m2s_status_set(st, cls, NULL, "Bird API busy for message %s (HTTP %ld after %d "
                       "attempt%s): %s", id, code, r->attempts, plural(r->attempts), detail);
    else
        m2s_status_set(st, cls, NULL, "unexpected answer from the Bird API for message %s "
                       "(HTTP %ld): %s", id, code, detail);
    free(err);
    return cls;
}

const char *m2s_bird_failure_dsn(const char *status, const char *reason)
{
    /* Bird's reasons for a number that is not (or no longer) a phone. */
    static const char *const gone[] = { "unknown_subscriber", "invalid_number",
                                        "absent_subscriber_permanent", "number_ported" };
    for (size_t i = 0; reason && i < sizeof gone / sizeof gone[0]; i++)
        if (strcmp(reason, gone[i]) == 0)
            return "5.1.1";
    if (status && strcmp(status, "rejected") == 0)
        return "5.7.1";
    if (status && strcmp(status, "sending_failed") == 0)
        return "5.4.0";
    return "5.0.0";
}
