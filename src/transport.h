/* transport.h - how requests leave the program: a batch of independent
 * HTTP requests in, each with its final answer out. Two implementations:
 * libcurl (http.h), and the dry-run printer (dryrun.h), which prints the
 * requests and answers them itself. Nothing here knows Bird: bird.h fills
 * the requests and reads the answers.
 */
#ifndef M2S_TRANSPORT_H
#define M2S_TRANSPORT_H

#include <stdbool.h>
#include <stddef.h>
#include "util.h"

typedef enum m2s_http_err {
    M2S_HTTP_OK = 0,        /* an HTTP answer came (any status) */
    M2S_HTTP_DNS,           /* name did not resolve */
    M2S_HTTP_CONNECT,       /* could not connect */
    M2S_HTTP_TIMEOUT,       /* request timed out */
    M2S_HTTP_DROPPED,       /* connection closed, empty or broken reply */
    M2S_HTTP_TLS,           /* certificate or handshake problem */
    M2S_HTTP_DEADLINE,      /* no time left to (re)try */
    M2S_HTTP_OTHER,
    M2S_HTTP_ERR_COUNT
} m2s_http_err;

typedef struct m2s_http_req m2s_http_req;
typedef void (*m2s_http_done_fn)(m2s_http_req *req, void *user);

/* The bytes of an upload, made when the transport needs them (a dry run
 * never does): set *data and *len, which stay the caller's. 0, or -1 when
 * they cannot be had. */
typedef int (*m2s_http_load_fn)(void *ctx, const unsigned char **data, size_t *len);

struct m2s_http_req {
    /* in: set by the caller, owned by the caller */
    const char *method;             /* "POST" (default), "PUT" or "GET" */
    const char *url;
    const m2s_strv *headers;        /* extra "Name: value" lines; may be NULL */
    const char *body;               /* JSON; NULL for none or when a file is sent */
    size_t body_len;
    /* an upload: a PUT of the bytes, or a multipart/form-data POST with
     * these fields in order and the file last */
    const m2s_strv *form_names;
    const m2s_strv *form_values;
    const unsigned char *file;      /* or NULL with file_load set */
    size_t file_len;
    m2s_http_load_fn file_load;
    void *file_ctx;
    const char *file_name;
    const char *file_type;
    int call;                       /* the caller's kind of request, passed on untouched */
    const char *label;              /* what it is about (a number, a file name), or NULL */
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

/* Counts of one batch, for tests and -v. */
typedef struct m2s_transport_stats {
    unsigned long requests;         /* transfers started, retries included */
    unsigned long retries;
} m2s_transport_stats;

/* A cap on request starts shared with other processes (bird.max_rate for
 * every relay together): before its own limit lets a request start, the
 * transport leases starts in blocks. lease sets *delay, the seconds from
 * now to the first of n starts, the rest interval seconds apart; 0, or -1
 * when the cap cannot be had (the transport then keeps to its own limit).
 * Borrowed by the transport; the caller keeps it alive while set. */
typedef struct m2s_rate_gate {
    int (*lease)(void *ctx, long n, double interval, double *delay);
    void *ctx;
} m2s_rate_gate;

typedef struct m2s_transport m2s_transport;
struct m2s_transport {
    /* Send every request and return when each has its final answer, by
     * deadline_at (an m2s_now() time). stats (may be NULL) gets this
     * batch's counts. */
    void (*run)(m2s_transport *t, m2s_http_req **reqs, size_t n, double deadline_at,
                m2s_transport_stats *stats);
    void (*free)(m2s_transport *t);
    const m2s_rate_gate *gate;      /* NULL: none; set with m2s_transport_set_gate */
};

void m2s_transport_run(m2s_transport *t, m2s_http_req **reqs, size_t n, double deadline_at,
                       m2s_transport_stats *stats);
void m2s_transport_free(m2s_transport *t);      /* NULL is fine */

/* Set (or with NULL remove) the shared cap; a transport that sends
 * nothing (the dry run) ignores it. */
void m2s_transport_set_gate(m2s_transport *t, const m2s_rate_gate *gate);

/* Release what an answer holds; the request can be sent again. */
void m2s_http_req_clear(m2s_http_req *req);

#endif
