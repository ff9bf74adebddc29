/* http.h - talking to Bird with libcurl's multi interface: a batch of
 * independent requests sent concurrently over reused connections (HTTP/2
 * where offered), never more than bird.concurrency at once nor more than
 * bird.max_rate starts in any one-second window; each request retried on
 * 408, 429 (Retry-After honoured), 500, 502, 503, 504, DNS, connect and
 * timeout errors, with exponential backoff and jitter, never past the
 * deadline. TLS verification is always on. Only this module knows libcurl.
 */
#ifndef M2S_HTTP_H
#define M2S_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include "config.h"
#include "util.h"

typedef enum m2s_http_err {
    M2S_HTTP_OK = 0,        /* an HTTP answer came (any status) */
    M2S_HTTP_DNS,           /* name did not resolve */
    M2S_HTTP_CONNECT,       /* could not connect */
    M2S_HTTP_TIMEOUT,       /* request timed out */
    M2S_HTTP_DROPPED,       /* connection closed, empty or broken reply */
    M2S_HTTP_TLS,           /* certificate or handshake problem */
    M2S_HTTP_DEADLINE,      /* no time left to (re)try */
    M2S_HTTP_OTHER
} m2s_http_err;

typedef struct m2s_http_req m2s_http_req;
typedef void (*m2s_http_done_fn)(m2s_http_req *req, void *user);

struct m2s_http_req {
    /* in: set by the caller, owned by the caller */
    const char *method;             /* "POST" (default) or "PUT" */
    const char *url;
    const char *body;               /* JSON; NULL when a form is sent */
    size_t body_len;
    bool auth;                      /* send Authorization: AccessKey <key> */
    /* multipart/form-data (presigned upload): fields in order, file last */
    const m2s_strv *form_names;
    const m2s_strv *form_values;
    const unsigned char *file;
    size_t file_len;
    const char *file_name;
    const char *file_type;
    m2s_http_done_fn done;          /* called once with the final answer; may be NULL */
    void *user;

    /* out: owned by the request, released by m2s_http_req_clear */
    long status;                    /* HTTP status of the final answer, 0 if none */
    char *resp;                     /* body of the final answer (NUL-terminated) */
    size_t resp_len;
    m2s_http_err err;
    char *err_text;                 /* one line, for the log */
    int attempts;
    bool maybe_sent;                /* a request went out and no answer came back */
};

typedef struct m2s_http m2s_http;

/* deadline_at is an m2s_now() time by which every request must be done. */
m2s_http *m2s_http_new(const m2s_config *cfg, double deadline_at);

/* Send every request and return when each has its final answer. */
void m2s_http_run(m2s_http *h, m2s_http_req **reqs, size_t n);

/* Statistics of the last run, for tests and -v. */
typedef struct m2s_http_stats {
    unsigned long requests;         /* transfers started, retries included */
    unsigned long retries;
} m2s_http_stats;
void m2s_http_get_stats(const m2s_http *h, m2s_http_stats *out);

void m2s_http_req_clear(m2s_http_req *req);
void m2s_http_free(m2s_http *h);

/* The User-Agent sent: "mail2sms/VERSION libcurl/X". Static storage. */
const char *m2s_http_user_agent(void);

#endif
