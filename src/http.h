/* http.h - the libcurl transport: a batch of independent requests sent
 * concurrently over reused connections (HTTP/2 where offered), never more
 * than bird.concurrency at once nor more than bird.max_rate starts in any
 * one-second window; each request retried on 408, 429 (Retry-After
 * honoured), 500, 502, 503, 504, DNS, connect and timeout errors, with
 * exponential backoff and jitter, never past the batch's deadline. TLS
 * verification is always on. Connections and the rate window live as long
 * as the transport, across batches. Only this module knows libcurl; it
 * knows nothing of Bird.
 */
#ifndef M2S_HTTP_H
#define M2S_HTTP_H

#include "config.h"
#include "transport.h"

/* A new libcurl transport (free it with m2s_transport_free), or NULL when
 * libcurl cannot be set up. cfg is borrowed and must outlive it. A
 * transport is used by one thread at a time. */
m2s_transport *m2s_http_new(const m2s_config *cfg);

/* A bird.max_rate window that several transports share, each on its own
 * thread, so that together they never start more than max_rate requests
 * in any second (free with m2s_http_rate_free after every transport that
 * uses it). */
typedef struct m2s_http_rate m2s_http_rate;
m2s_http_rate *m2s_http_rate_new(double max_rate);
void m2s_http_rate_free(m2s_http_rate *rate);

/* A transport as m2s_http_new's, counting against rate (borrowed; NULL:
 * a window of its own). */
m2s_transport *m2s_http_new_shared(const m2s_config *cfg, m2s_http_rate *rate);

/* libcurl's global set-up, once per process: call it before threads that
 * make transports start (m2s_http_new calls it too). 0, or -1. */
int m2s_http_global_init(void);
/* The same with max_rate starts per second instead of bird.max_rate
 * (tracking.max_rate for the tracker's reads). */
m2s_transport *m2s_http_new_rate(const m2s_config *cfg, double max_rate);

/* The User-Agent sent: "mail2sms/VERSION libcurl/X". Static storage. */
const char *m2s_http_user_agent(void);

#endif
