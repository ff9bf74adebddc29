/* transport.c - the calls every transport answers the same way. */
#include "build-config.h"

#include <stdlib.h>

#include "transport.h"

void m2s_transport_run(m2s_transport *t, m2s_http_req **reqs, size_t n, double deadline_at,
                       m2s_transport_stats *stats)
{
    m2s_transport_stats dummy;
    if (!stats)
        stats = &dummy;
    stats->requests = 0;
    stats->retries = 0;
    if (n > 0)
        t->run(t, reqs, n, deadline_at, stats);
}

void m2s_transport_free(m2s_transport *t)
{
    if (t)
        t->free(t);
}

void m2s_transport_set_gate(m2s_transport *t, const m2s_rate_gate *gate)
{
    if (t)
        t->gate = gate;
}

void m2s_http_req_clear(m2s_http_req *req)
{
    free(req->resp);
    free(req->err_text);
    req->resp = NULL;
    req->resp_len = 0;
    req->err_text = NULL;
    req->status = 0;
    req->err = M2S_HTTP_OK;
    req->attempts = 0;
    req->maybe_sent = false;
}
