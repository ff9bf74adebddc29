/* http.c - the libcurl transport: a batch of requests over libcurl's
 * multi interface.
 *
 * Each request goes through: PENDING (waits for its start time, a free
 * slot under bird.concurrency and room under bird.max_rate) -> RUNNING ->
 * DONE, or back to PENDING with a backoff when the answer is one that curl
 * itself would retry (408, 429, 500, 502, 503, 504, DNS, connect,
 * timeout, dropped connection) and the deadline leaves time for another
 * go. Connections stay in the multi handle's cache and are reused; HTTP/2
 * is asked for on TLS and multiplexed when the server offers it. The
 * max_rate window may be shared by transports on several threads (the
 * LMTP service's workers): it is the only thing they share.
 */
#include "build-config.h"

#include <curl/curl.h>
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "http.h"
#include "log.h"

#define MAX_RESPONSE (1024 * 1024)  /* more than any Bird reply; bounds memory */
#define MIN_ATTEMPT_SECONDS 0.5     /* no new attempt with less time than this left */
#define BACKOFF_BASE 0.5
#define BACKOFF_CAP 30.0
#define RATE_MARGIN 0.05            /* max_rate's window is kept 5% wider */

typedef enum { ST_PENDING, ST_RUNNING, ST_DONE } req_state;

typedef struct m2s_http m2s_http;

typedef struct slot {
    m2s_http_req *req;
    req_state state;
    double next_at;             /* earliest start of the next attempt */
    CURL *easy;
    struct curl_slist *headers;
    curl_mime *mime;
    m2s_buf resp;
    double retry_after;         /* from the last answer, seconds; < 0 = none */
    size_t file_pos;            /* read position for the upload callback */
    m2s_http *h;
    size_t ring_slot;           /* this attempt's entry in h->starts ... */
    unsigned long ring_seq;     /* ... while h->ring_owner[ring_slot] is this */
} slot;

/* The max_rate window: the last n_window start times. One transport owns
 * its own; transports on several threads may share one (the mutex). */
struct m2s_http_rate {
    pthread_mutex_t lock;
    double *starts;             /* ring of recent start times, for max_rate */
    unsigned long *ring_owner;  /* which attempt each entry belongs to */
    unsigned long ring_seq;
    size_t n_window;
    size_t ring_pos;
    double window;              /* seconds in which at most n_window may start */
    double rate;                /* starts per second at most */
};

struct m2s_http {
    m2s_transport base;         /* first: the transport this is */
    const m2s_config *cfg;
    double deadline_at;         /* of the batch being run */
    CURLM *multi;
    m2s_http_rate *rate;
    bool own_rate;
    m2s_transport_stats *stats; /* of the batch being run */
    /* starts leased from the shared cap (base.gate): the next at tok_next,
     * tok_left of them, window / n_window apart */
    double tok_next;
    long tok_left;
    bool gate_failed;           /* the cap could not be had: logged once */
};

static char user_agent[96];

const char *m2s_http_user_agent(void)
{
    if (!user_agent[0]) {
        const curl_version_info_data *v = curl_version_info(CURLVERSION_NOW);
        snprintf(user_agent, sizeof user_agent, "mail2sms/%s libcurl/%s", PACKAGE_VERSION,
                 v && v->version ? v->version : "?");
    }
    return user_agent;
}

static void http_run(m2s_transport *t, m2s_http_req **reqs, size_t n, double deadline_at,
                     m2s_transport_stats *stats);
static void http_free(m2s_transport *t);

m2s_http_rate *m2s_http_rate_new(double max_rate)
{
    m2s_http_rate *r = xcalloc(1, sizeof *r);
    pthread_mutex_init(&r->lock, NULL);
    /* "never more than max_rate in any one second": remember the last n
     * start times; a new start must come at least `window` after the n-th
     * last one. For a fractional rate below 1 the window stretches. Bird
     * counts requests as they arrive, and the network between can bunch
     * requests that left evenly, so the window keeps a margin. */
    double rate = max_rate > 0 ? max_rate : 50;
    r->rate = rate;
    r->n_window = rate >= 1 ? (size_t)floor(rate) : 1;
    r->window = (double)r->n_window / rate * (1.0 + RATE_MARGIN);
    r->starts = xcalloc(r->n_window, sizeof *r->starts);
    r->ring_owner = xcalloc(r->n_window, sizeof *r->ring_owner);
    for (size_t i = 0; i < r->n_window; i++)
        r->starts[i] = -1e9;
    return r;
}

void m2s_http_rate_free(m2s_http_rate *r)
{
    if (!r)
        return;
    pthread_mutex_destroy(&r->lock);
    free(r->starts);
    free(r->ring_owner);
    free(r);
}

int m2s_http_global_init(void)
{
    static bool global_done;
    if (!global_done) {
        if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
            return -1;
        global_done = true;
    }
    m2s_http_user_agent();
    return 0;
}

/* A transport counting against rate, or, when it is NULL, against a
 * window of its own of own_max_rate starts per second. */
static m2s_transport *http_new(const m2s_config *cfg, m2s_http_rate *rate, double own_max_rate)
{
    if (m2s_http_global_init() != 0)
        return NULL;
    m2s_http *h = xcalloc(1, sizeof *h);
    h->base.run = http_run;
    h->base.free = http_free;
    h->cfg = cfg;
    h->multi = curl_multi_init();
    if (!h->multi) {
        free(h);
        return NULL;
    }
    curl_multi_setopt(h->multi, CURLMOPT_PIPELINING, (long)CURLPIPE_MULTIPLEX);
    curl_multi_setopt(h->multi, CURLMOPT_MAX_HOST_CONNECTIONS, cfg->concurrency);
    curl_multi_setopt(h->multi, CURLMOPT_MAXCONNECTS, cfg->concurrency);
    h->own_rate = rate == NULL;
    h->rate = rate ? rate : m2s_http_rate_new(own_max_rate);
    return &h->base;
}

m2s_transport *m2s_http_new_shared(const m2s_config *cfg, m2s_http_rate *rate)
{
    return http_new(cfg, rate, cfg->max_rate);
}

m2s_transport *m2s_http_new_rate(const m2s_config *cfg, double max_rate)
{
    return http_new(cfg, NULL, max_rate);
}

m2s_transport *m2s_http_new(const m2s_config *cfg)
{
    return http_new(cfg, NULL, cfg->max_rate);
}

static void http_free(m2s_transport *t)
{
    m2s_http *h = (m2s_http *)t;
    curl_multi_cleanup(h->multi);
    if (h->own_rate)
        m2s_http_rate_free(h->rate);
    free(h);
}

static bool status_temporary(long status)
{
    return status == 408 || status == 429 || status == 500 || status == 502 ||
           status == 503 || status == 504;
}

/* ------------------------------------------------------- callbacks */

static size_t on_write(char *ptr, size_t size, size_t nmemb, void *user)
{
    slot *s = user;
    size_t n = size * nmemb;
    if (s->resp.len + n > MAX_RESPONSE)
        n = s->resp.len < MAX_RESPONSE ? MAX_RESPONSE - s->resp.len : 0;
    if (n)
        m2s_buf_add(&s->resp, ptr, n);
    return size * nmemb;
}

static size_t on_read_file(char *buf, size_t size, size_t nitems, void *user)
{
    slot *s = user;
    size_t want = size * nitems;
    size_t left = s->req->file_len - s->file_pos;
    if (want > left)
        want = left;
    memcpy(buf, s->req->file + s->file_pos, want);
    s->file_pos += want;
    return want;
}

static int on_seek_file(void *user, curl_off_t offset, int origin)
{
    slot *s = user;
    if (origin != SEEK_SET || offset < 0 || (size_t)offset > s->req->file_len)
        return CURL_SEEKFUNC_FAIL;
    s->file_pos = (size_t)offset;
    return CURL_SEEKFUNC_OK;
}

/* The request is about to go on the wire (its connection is up): that,
 * not the moment it was handed to curl, is when it counts against
 * max_rate. A first request that waited for a TCP and TLS handshake
 * would otherwise leave later than counted, closer to the ones after. */
static int on_prereq(void *user, char *primary_ip, char *local_ip, int primary_port,
                     int local_port)
{
    slot *s = user;
    m2s_http_rate *r = s->h->rate;
    (void)primary_ip, (void)local_ip, (void)primary_port, (void)local_port;
    pthread_mutex_lock(&r->lock);
    if (r->ring_owner[s->ring_slot] == s->ring_seq) {
        double now = m2s_now();
        if (now > r->starts[s->ring_slot])
            r->starts[s->ring_slot] = now;
    }
    pthread_mutex_unlock(&r->lock);
    return CURL_PREREQFUNC_OK;
}

/* --------------------------------------------------------- attempt */

static void slot_reset(slot *s)
{
    if (s->easy)
        curl_easy_cleanup(s->easy);
    curl_slist_free_all(s->headers);
    curl_mime_free(s->mime);
    s->easy = NULL;
    s->headers = NULL;
    s->mime = NULL;
    m2s_buf_clear(&s->resp);
    s->file_pos = 0;
}

/* Take an entry of the rate window for an attempt starting now, when the
 * window has room; otherwise *wait is how long until it has. Checked and
 * taken at once, so transports sharing the window never both take the
 * last place. */
static bool rate_take(m2s_http_rate *r, double now, double *wait, size_t *ring_slot,
                      unsigned long *ring_seq)
{
    bool ok = false;
    pthread_mutex_lock(&r->lock);
    double oldest = r->starts[r->ring_pos];
    if (oldest + r->window > now) {
        *wait = oldest + r->window - now;
        goto out;
    }
    r->starts[r->ring_pos] = now;
    r->ring_owner[r->ring_pos] = ++r->ring_seq;
    *ring_slot = r->ring_pos;
    *ring_seq = r->ring_seq;
    r->ring_pos = (r->ring_pos + 1) % r->n_window;
    ok = true;
out:
    pthread_mutex_unlock(&r->lock);
    return ok;
}

static bool slot_start(m2s_http *h, slot *s, double now)
{
    const m2s_config *cfg = h->cfg;
    m2s_http_req *r = s->req;
    double left = h->deadline_at - now;
    CURL *e = curl_easy_init();
    if (!e)
        return false;
    s->easy = e;
    s->retry_after = -1;

    long timeout_ms = (long)(fmin((double)cfg->timeout, left) * 1000);
    long connect_ms = (long)(fmin((double)cfg->connect_timeout, left) * 1000);
    curl_easy_setopt(e, CURLOPT_URL, r->url);
    curl_easy_setopt(e, CURLOPT_PRIVATE, s);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, timeout_ms > 1 ? timeout_ms : 1L);
    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, connect_ms > 1 ? connect_ms : 1L);
    curl_easy_setopt(e, CURLOPT_USERAGENT, m2s_http_user_agent());
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_write);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, s);
    curl_easy_setopt(e, CURLOPT_PREREQFUNCTION, on_prereq);
    curl_easy_setopt(e, CURLOPT_PREREQDATA, s);
    /* TLS verification is always on; only the CA bundle can be chosen. */
    curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 1L);
    curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 2L);
    if (cfg->ca_file)
        curl_easy_setopt(e, CURLOPT_CAINFO, cfg->ca_file);
    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L);
    /* HTTP/2 where the server offers it; later requests multiplex on the
     * connection once it is up. No CURLOPT_PIPEWAIT: a request held back
     * waiting for a connection would leave later, in a bunch, past what
     * the rate limiter counted, with its timeout already running. */
    curl_easy_setopt(e, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_2TLS);

    s->headers = curl_slist_append(s->headers, "Expect:");
    s->headers = curl_slist_append(s->headers, "Accept: application/json");
    for (size_t i = 0; r->headers && i < r->headers->n; i++)
        s->headers = curl_slist_append(s->headers, r->headers->v[i]);
    const char *method = r->method ? r->method : "POST";
    if (!r->file && r->file_load && r->file_load(r->file_ctx, &r->file, &r->file_len) != 0)
        return false;
    if (strcmp(method, "GET") == 0) {
        curl_easy_setopt(e, CURLOPT_HTTPGET, 1L);
    } else if (r->body) {
        s->headers = curl_slist_append(s->headers, "Content-Type: application/json");
        curl_easy_setopt(e, CURLOPT_POSTFIELDS, r->body);
        curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)r->body_len);
        if (strcmp(method, "POST") != 0)
            curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, method);
    } else if (r->file && strcmp(method, "PUT") == 0) {
        /* A presigned PUT: the bytes are the body. */
        char *ct = xasprintf("Content-Type: %s", r->file_type ? r->file_type
                                                              : "application/octet-stream");
        s->headers = curl_slist_append(s->headers, ct);
        free(ct);
        curl_easy_setopt(e, CURLOPT_UPLOAD, 1L);
        curl_easy_setopt(e, CURLOPT_READFUNCTION, on_read_file);
        curl_easy_setopt(e, CURLOPT_READDATA, s);
        curl_easy_setopt(e, CURLOPT_SEEKFUNCTION, on_seek_file);
        curl_easy_setopt(e, CURLOPT_SEEKDATA, s);
        curl_easy_setopt(e, CURLOPT_INFILESIZE_LARGE, (curl_off_t)r->file_len);
    } else if (r->file) {
        /* A presigned POST: every form field as given, the file last. */
        s->mime = curl_mime_init(e);
        for (size_t i = 0; r->form_names && i < r->form_names->n; i++) {
            curl_mimepart *p = curl_mime_addpart(s->mime);
            curl_mime_name(p, r->form_names->v[i]);
            curl_mime_data(p, r->form_values->v[i], CURL_ZERO_TERMINATED);
        }
        curl_mimepart *p = curl_mime_addpart(s->mime);
        curl_mime_name(p, "file");
        curl_mime_filename(p, r->file_name ? r->file_name : "file");
        curl_mime_type(p, r->file_type ? r->file_type : "application/octet-stream");
        curl_mime_data_cb(p, (curl_off_t)r->file_len, on_read_file, on_seek_file, NULL, s);
        curl_easy_setopt(e, CURLOPT_MIMEPOST, s->mime);
    }
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, s->headers);

    if (curl_multi_add_handle(h->multi, e) != CURLM_OK)
        return false;
    s->state = ST_RUNNING;
    r->attempts++;
    h->stats->requests++;
    if (r->attempts > 1)
        h->stats->retries++;
    return true;
}

static m2s_http_err classify(CURLcode rc)
{
    switch (rc) {
    case CURLE_OK: return M2S_HTTP_OK;
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_RESOLVE_PROXY: return M2S_HTTP_DNS;
    case CURLE_COULDNT_CONNECT: return M2S_HTTP_CONNECT;
    case CURLE_OPERATION_TIMEDOUT: return M2S_HTTP_TIMEOUT;
    case CURLE_GOT_NOTHING:
    case CURLE_RECV_ERROR:
    case CURLE_SEND_ERROR:
    case CURLE_PARTIAL_FILE:
    case CURLE_HTTP2:
    case CURLE_HTTP2_STREAM:
    case CURLE_WEIRD_SERVER_REPLY: return M2S_HTTP_DROPPED;
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_CERTPROBLEM: return M2S_HTTP_TLS;
    default: return M2S_HTTP_OTHER;
    }
}

/* Retry-After: delta-seconds or an HTTP date. */
static double parse_retry_after(const char *v)
{
    char *end;
    double d = strtod(v, &end);
    if (end != v && (*end == '\0' || *end == ' '))
        return d < 0 ? 0 : d;
    time_t t = curl_getdate(v, NULL);
    if (t > 0) {
        double delta = difftime(t, time(NULL));
        return delta < 0 ? 0 : delta;
    }
    return -1;
}

static double backoff(int attempts)
{
    double base = BACKOFF_BASE * pow(2, attempts > 1 ? attempts - 1 : 0);
    if (base > BACKOFF_CAP)
        base = BACKOFF_CAP;
    unsigned int r = 0;
    m2s_random_bytes(&r, sizeof r);
    /* "equal jitter": half fixed, half random, so retries of a fan-out
     * spread out instead of arriving together */
    return base / 2 + base / 2 * ((double)r / 4294967295.0);
}

static void finish(slot *s)
{
    m2s_http_req *r = s->req;
    s->state = ST_DONE;
    free(r->resp);
    r->resp_len = s->resp.len;
    r->resp = m2s_buf_steal(&s->resp);
    slot_reset(s);
    if (r->done)
        r->done(r, r->user);
}

static void on_complete(m2s_http *h, slot *s, CURLcode rc, double now)
{
    m2s_http_req *r = s->req;
    CURL *e = s->easy;
    long status = 0;
    curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &status);
    r->err = classify(rc);
    r->status = rc == CURLE_OK ? status : 0;
    free(r->err_text);
    r->err_text = NULL;
    if (rc != CURLE_OK) {
        r->err_text = xstrdup(curl_easy_strerror(rc));
        long req_size = 0;
        curl_easy_getinfo(e, CURLINFO_REQUEST_SIZE, &req_size);
        if (req_size > 0 && (r->err == M2S_HTTP_TIMEOUT || r->err == M2S_HTTP_DROPPED))
            r->maybe_sent = true;
    }
    struct curl_header *hd = NULL;
    if (rc == CURLE_OK &&
        curl_easy_header(e, "Retry-After", 0, CURLH_HEADER, -1, &hd) == CURLHE_OK && hd)
        s->retry_after = parse_retry_after(hd->value);
    curl_multi_remove_handle(h->multi, e);

    bool retry = r->err == M2S_HTTP_TLS ? false
               : r->err != M2S_HTTP_OK ? true
               : status_temporary(r->status);
    if (retry) {
        double wait = backoff(r->attempts);
        if (s->retry_after >= 0 && s->retry_after > wait)
            wait = s->retry_after;
        if (now + wait + MIN_ATTEMPT_SECONDS < h->deadline_at) {
            s->next_at = now + wait;
            s->state = ST_PENDING;
            m2s_buf_clear(&s->resp);
            slot_reset(s);
            return;
        }
    }
    finish(s);
}

/* The shared cap (base.gate): whether a start may go now, leasing a block
 * of at most want starts when none is left; else *wait. A leased start
 * whose time has passed by more than a quarter of the spacing is dropped:
 * used late it would crowd another process's next one. */
static bool gate_allows(m2s_http *h, double now, long want, double *wait)
{
    const m2s_rate_gate *g = h->base.gate;
    double interval = h->rate->window / (double)h->rate->n_window;
    if (!g || h->gate_failed)
        return true;
    while (h->tok_left > 0 && h->tok_next < now - interval / 4)
        h->tok_next += interval, h->tok_left--;
    if (h->tok_left == 0) {
        double delay = 0;
        if (want < 1)
            want = 1;
        if (g->lease(g->ctx, want, interval, &delay) != 0) {
            m2s_log(LOG_WARNING, "the shared rate cap cannot be had; keeping to this "
                    "process's own bird.max_rate");
            h->gate_failed = true;
            return true;
        }
        h->tok_next = now + delay;
        h->tok_left = want;
    }
    if (h->tok_next > now) {
        *wait = h->tok_next - now;
        return false;
    }
    return true;
}

/* A start taken from the leased block. */
static void gate_take(m2s_http *h)
{
    if (!h->base.gate || h->gate_failed || h->tok_left == 0)
        return;
    h->tok_next += h->rate->window / (double)h->rate->n_window;
    h->tok_left--;
}

/* Leases are asked for this many starts at most: a tenth of a second's
 * worth, so the store is written about ten times a second at full rate. */
static long gate_block(const m2s_http *h)
{
    long b = (long)ceil(h->rate->rate / 10);
    return b < 1 ? 1 : b;
}

static void http_run(m2s_transport *t, m2s_http_req **reqs, size_t n, double deadline_at,
                     m2s_transport_stats *stats)
{
    m2s_http *h = (m2s_http *)t;
    h->deadline_at = deadline_at;
    h->stats = stats;
    slot *slots = xcalloc(n ? n : 1, sizeof *slots);
    size_t done = 0, running = 0;
    for (size_t i = 0; i < n; i++) {
        slots[i].req = reqs[i];
        slots[i].h = h;
        slots[i].state = ST_PENDING;
        slots[i].next_at = 0;
        m2s_buf_init(&slots[i].resp);
    }
    while (done < n) {
        double now = m2s_now();
        double next_wake = now + 1.0;
        /* How many could start now: what a lease from the shared cap asks. */
        long ready = 0;
        for (size_t i = 0; i < n; i++)
            if (slots[i].state == ST_PENDING && slots[i].next_at <= now)
                ready++;
        long free_slots = h->cfg->concurrency - (long)running;
        long want = ready < free_slots ? ready : free_slots;
        if (want > gate_block(h))
            want = gate_block(h);
        /* Start what may start. */
        for (size_t i = 0; i < n; i++) {
            slot *s = &slots[i];
            if (s->state != ST_PENDING)
                continue;
            if (h->deadline_at - now < MIN_ATTEMPT_SECONDS) {
                /* Out of time: keep the last answer, or say why none came. */
                if (s->req->attempts == 0) {
                    s->req->err = M2S_HTTP_DEADLINE;
                    free(s->req->err_text);
                    s->req->err_text = xstrdup("no time left before the deadline");
                }
                finish(s);
                done++;
                continue;
            }
            if (s->next_at > now) {
                if (s->next_at < next_wake)
                    next_wake = s->next_at;
                continue;
            }
            if (running >= (size_t)h->cfg->concurrency)
                continue;
            double wait = 0;
            if (!gate_allows(h, now, want, &wait) ||
                !rate_take(h->rate, now, &wait, &s->ring_slot, &s->ring_seq)) {
                if (now + wait < next_wake)
                    next_wake = now + wait;
                break;
            }
            if (!slot_start(h, s, now)) {
                s->req->err = M2S_HTTP_OTHER;
                free(s->req->err_text);
                s->req->err_text = xstrdup("could not set up the HTTP request");
                finish(s);
                done++;
                continue;
            }
            gate_take(h);
            running++;
        }
        /* Slots past the concurrency limit may also be out of time. */
        if (done >= n)
            break;

        int still = 0;
        bool progressed = false;
        curl_multi_perform(h->multi, &still);
        CURLMsg *m;
        int left;
        while ((m = curl_multi_info_read(h->multi, &left))) {
            if (m->msg != CURLMSG_DONE)
                continue;
            slot *s = NULL;
            curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&s);
            CURLcode rc = m->data.result;
            running--;
            progressed = true;
            on_complete(h, s, rc, m2s_now());
            if (s->state == ST_DONE)
                done++;
        }
        if (done >= n)
            break;
        if (progressed)
            continue;       /* a slot may be free, or due again: look first */
        now = m2s_now();
        int timeout_ms = (int)((next_wake - now) * 1000);
        if (timeout_ms < 0)
            timeout_ms = 0;
        if (timeout_ms > 1000)
            timeout_ms = 1000;
        if (running > 0 || timeout_ms > 0)
            curl_multi_poll(h->multi, NULL, 0, timeout_ms > 0 ? timeout_ms : 1, NULL);
    }
    for (size_t i = 0; i < n; i++)
        slot_reset(&slots[i]);
    free(slots);
    h->stats = NULL;
}
