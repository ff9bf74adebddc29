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
 * libcurl cannot be set up. cfg is borrowed and must outlive it. */
m2s_transport *m2s_http_new(const m2s_config *cfg);

/* The same with max_rate starts per second instead of bird.max_rate
 * (tracking.max_rate for the tracker's reads). */
m2s_transport *m2s_http_new_rate(const m2s_config *cfg, double max_rate);

/* The User-Agent sent: "mail2sms/VERSION libcurl/X". Static storage. */
const char *m2s_http_user_agent(void);

#endif
