/* service.c - the LMTP service: GIO sockets and GLib's main loop for the
 * sessions, a small pool of worker threads for the mails.
 *
 * Threads. The main thread owns the listeners, every connection, every
 * session (lmtp.c) and the configuration in use; it never blocks. A
 * worker thread owns one libcurl transport and runs one mail at a time
 * (m2s_run is blocking and keeps nothing between calls); while it runs,
 * the session whose transaction it is does nothing (its input is not
 * read), so the transaction's bytes, borrowed from the session, stay as
 * they are. The only thing workers share is the max_rate window (a mutex
 * in http.c); the log context (the queue id) is per thread.
 *
 * A configuration is a "generation": the config and the rate window,
 * referenced by the mails running with it and by the workers' transports
 * built on it. SIGHUP makes a new one; the old one goes when the last
 * mail and transport using it are done. A new generation keeps the rate
 * window of the old one when bird.max_rate did not change.
 *
 * Timeouts: a client has service.timeout seconds from each reply to send
 * its next command, and as long for the whole of a DATA; then it gets
 * 421 and is closed. A reply that cannot be written in that time closes
 * the connection. A mail being run has its own deadline (`deadline`),
 * as in the pipe; nothing here uses a process-wide alarm.
 */
#include "build-config.h"

#include <errno.h>
#include <gio/gio.h>
#include <gio/gunixsocketaddress.h>
#include <glib-unix.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sysexits.h>
#include <unistd.h>

#include "html.h"
#include "http.h"
#include "lmtp.h"
#include "log.h"
#include "mail.h"
#include "run.h"
#include "service.h"
#include "state.h"

#define READ_CHUNK 16384
#define SD_LISTEN_FDS_START 3

/* ---------------------------------------------------- generations */

typedef struct rate_ref {
    gint refs;
    m2s_http_rate *rate;
    double max_rate;
} rate_ref;

typedef struct gen {
    gint refs;
    m2s_config *cfg;
    rate_ref *rate;
    m2s_state *keep;            /* the journal held open, see gen_new */
} gen;

static void rate_unref(rate_ref *r)
{
    if (r && g_atomic_int_dec_and_test(&r->refs)) {
        m2s_http_rate_free(r->rate);
        free(r);
    }
}

/* A generation for cfg (taken), sharing prev's rate window when its
 * max_rate is the same. */
static gen *gen_new(m2s_config *cfg, const gen *prev)
{
    gen *g = xcalloc(1, sizeof *g);
    g->refs = 1;
    g->cfg = cfg;
    if (prev && prev->rate->max_rate == cfg->max_rate) {
        g->rate = prev->rate;
        g_atomic_int_inc(&g->rate->refs);
    } else {
        g->rate = xcalloc(1, sizeof *g->rate);
        g->rate->refs = 1;
        g->rate->rate = m2s_http_rate_new(cfg->max_rate);
        g->rate->max_rate = cfg->max_rate;
    }
    /* Each mail opens the journal and closes it again (m2s_run keeps
     * nothing). Held open here as well, that close is never the last one:
     * SQLite then neither checkpoints the whole log nor reads the
     * database afresh for every mail. Without it (it cannot be opened)
     * each mail says why itself. (PostgreSQL needs no such help.) */
    char *why = NULL;
    m2s_state_where where;
    m2s_state_where_of(cfg, cfg->state_dir, &where);
    g->keep = cfg->state_dir && where.backend == M2S_BACKEND_SQLITE
                  ? m2s_state_open(&where, &why) : NULL;
    free(why);
    return g;
}

static gen *gen_ref(gen *g)
{
    g_atomic_int_inc(&g->refs);
    return g;
}

static void gen_unref(gen *g)
{
    if (g && g_atomic_int_dec_and_test(&g->refs)) {
        rate_unref(g->rate);
        m2s_state_close(g->keep);
        m2s_config_free(g->cfg);
        free(g);
    }
}

/* --------------------------------------------------------- types */

typedef struct service service;

typedef struct conn {
    int refs;                   /* the list, each pending operation, a running mail */
    service *svc;
    GSocketConnection *sc;
    GCancellable *rcancel;      /* reads: cancelled to stop one (shutdown, timeout) */
    GCancellable *wcancel;      /* writes: cancelled only to close at once */
    m2s_lmtp *lmtp;
    char *peer;
    char buf[READ_CHUNK];
    guint timer;
    bool reading, writing, running;
    bool closing;               /* the session said CLOSE: write, then close */
    bool done;                  /* closed; waiting for the last reference */
    bool timed_out;
    bool rejected;              /* over max_connections: 421 and close */
    unsigned mails, rcpts;
    double started;
    const char *why;            /* for the connection's log line */
} conn;

typedef struct job {
    conn *c;
    gen *g;
    const m2s_lmtp_txn *txn;    /* borrowed from c's session */
    m2s_result res;
} job;

struct service {
    GMainLoop *loop;
    GSocketService *listener;
    const char *config_path;
    gen *current;
    GAsyncQueue *jobs;
    GThread **threads;
    size_t n_threads;
    GList *conns;
    unsigned n_conns;           /* not counting rejected ones */
    bool stopping;
    char *hostname;
    m2s_strv unix_paths;        /* sockets this process made, unlinked at exit */
};

static job stop_job;            /* tells a worker to end */

static void pump(conn *c);

/* ---------------------------------------------------------- workers */

static void job_run(job *j, m2s_transport *tr)
{
    const m2s_config *cfg = j->g->cfg;
    const m2s_lmtp_txn *t = j->txn;
    m2s_envelope envelope = { t->sender, t->queue_id, t->recipients, t->n_recipients };
    m2s_status st = M2S_STATUS_INIT;

    m2s_log_set_queue_id(t->queue_id);
    if (t->too_large)
        m2s_status_set(&st, M2S_E_CONTENT, NULL, "message too large for SMS: more than %lld "
                       "bytes (limits.max_message_bytes)", (long long)cfg->max_message_bytes);
    else if (!tr)
        m2s_status_set(&st, M2S_E_INTERNAL, NULL, "cannot initialise libcurl");
    if (st.cls != M2S_OK) {
        m2s_run_report(&envelope, &st);
        m2s_result_init(&j->res, t->n_recipients);
        m2s_result_set_all(&j->res, &st);
        goto out;
    }
    m2s_run_env env = {
        .transport = tr,
        .media = NULL,
        .state_dir = cfg->state_dir,
        .deadline_at = m2s_now() + (double)cfg->deadline - 1.0,
    };
    m2s_run(cfg, &env, &envelope, t->data, t->len, &j->res);
out:
    m2s_status_clear(&st);
    m2s_log_set_queue_id(NULL);
}

static gboolean job_done(gpointer p);

static gpointer worker_main(gpointer p)
{
    service *svc = p;
    gen *mine = NULL;
    m2s_transport *tr = NULL;
    for (;;) {
        job *j = g_async_queue_pop(svc->jobs);
        if (j == &stop_job)
            break;
        if (j->g != mine) {
            /* a new configuration: a new transport for it */
            m2s_transport_free(tr);
            gen_unref(mine);
            mine = gen_ref(j->g);
            tr = m2s_http_new_shared(mine->cfg, mine->rate->rate);
        }
        job_run(j, tr);
        g_idle_add(job_done, j);
    }
    m2s_transport_free(tr);
    gen_unref(mine);
    return NULL;
}

/* ------------------------------------------------------ connections */

static void conn_unref(conn *c)
{
    if (--c->refs > 0)
        return;
    g_io_stream_close(G_IO_STREAM(c->sc), NULL, NULL);
    g_object_unref(c->sc);
    g_object_unref(c->rcancel);
    g_object_unref(c->wcancel);
    m2s_lmtp_free(c->lmtp);
    free(c->peer);
    free(c);
}

static void maybe_stopped(service *svc)
{
    if (svc->stopping && svc->conns == NULL)
        g_main_loop_quit(svc->loop);
}

/* Close c: its log line, no more operations; freed when the last pending
 * one has come back. */
static void conn_finish(conn *c)
{
    service *svc = c->svc;
    if (c->done)
        return;
    c->done = true;
    if (c->timer)
        g_source_remove(c->timer);
    c->timer = 0;
    g_cancellable_cancel(c->rcancel);
    g_cancellable_cancel(c->wcancel);
    if (!c->rejected) {
        svc->n_conns--;
        m2s_log(LOG_INFO, "lmtp: disconnect from %s after %.1fs: mails=%u rcpts=%u%s%s",
                c->peer, m2s_now() - c->started, c->mails, c->rcpts,
                c->why ? ", " : "", c->why ? c->why : "");
    }
    svc->conns = g_list_remove(svc->conns, c);
    conn_unref(c);
    maybe_stopped(svc);
}

static gboolean on_timeout(gpointer p)
{
    conn *c = p;
    if (c->running)
        return G_SOURCE_CONTINUE;       /* the mail has its own deadline */
    if (c->timed_out || c->writing) {
        c->timer = 0;
        c->why = c->why ? c->why : "timeout writing a reply";
        conn_finish(c);                 /* the client reads nothing: close at once */
        return G_SOURCE_REMOVE;
    }
    c->timed_out = true;
    c->why = m2s_lmtp_in_data(c->lmtp) ? "timeout in DATA" : "timeout";
    m2s_lmtp_shutdown(c->lmtp, "4.4.2", "timeout: closing connection");
    g_cancellable_cancel(c->rcancel);   /* on_read comes back and pumps */
    return G_SOURCE_CONTINUE;           /* once more, for the 421 itself */
}

static void arm_timer(conn *c)
{
    if (c->timer)
        g_source_remove(c->timer);
    c->timer = g_timeout_add_seconds((guint)c->svc->current->cfg->client_timeout,
                                     on_timeout, c);
}

static void on_written(GObject *src, GAsyncResult *res, gpointer p)
{
    conn *c = p;
    GError *err = NULL;
    gboolean ok = g_output_stream_write_all_finish(G_OUTPUT_STREAM(src), res, NULL, &err);
    c->writing = false;
    if (!c->done && !ok) {
        c->why = c->why ? c->why : "lost connection writing a reply";
        conn_finish(c);
    } else if (!c->done) {
        m2s_lmtp_output_done(c->lmtp);
        if (!c->timed_out)
            arm_timer(c);
        pump(c);
    }
    g_clear_error(&err);
    conn_unref(c);
}

static void on_read(GObject *src, GAsyncResult *res, gpointer p)
{
    conn *c = p;
    GError *err = NULL;
    gssize n = g_input_stream_read_finish(G_INPUT_STREAM(src), res, &err);
    c->reading = false;
    if (c->done) {
        ;
    } else if (n > 0) {
        m2s_lmtp_input(c->lmtp, c->buf, (size_t)n);
        pump(c);
    } else if (n < 0 && g_error_matches(err, G_IO_ERROR, G_IO_ERROR_CANCELLED)) {
        pump(c);                        /* stopped for a 421: write it */
    } else {
        if (!c->why)
            c->why = m2s_lmtp_in_transaction(c->lmtp) ? "lost connection in a transaction"
                                                      : NULL;
        conn_finish(c);
    }
    g_clear_error(&err);
    conn_unref(c);
}

static void submit(conn *c)
{
    service *svc = c->svc;
    job *j = xcalloc(1, sizeof *j);
    j->c = c;
    j->g = gen_ref(svc->current);
    j->txn = m2s_lmtp_transaction(c->lmtp);
    c->running = true;
    c->refs++;
    g_async_queue_push(svc->jobs, j);
}

static gboolean job_done(gpointer p)
{
    job *j = p;
    conn *c = j->c;
    c->running = false;
    if (!c->done) {
        m2s_lmtp_reply(c->lmtp, j->res.rcpt, j->res.n_rcpt);
        c->mails++;
        c->rcpts += (unsigned)j->res.n_rcpt;
        if (c->svc->stopping) {
            m2s_lmtp_shutdown(c->lmtp, "4.3.2", "service shutting down");
            c->why = "service stopped";
        }
        pump(c);
    }
    m2s_result_clear(&j->res);
    gen_unref(j->g);
    free(j);
    conn_unref(c);
    return G_SOURCE_REMOVE;
}

/* Move c on as far as it can go without waiting: write what the session
 * has to say, hand a finished transaction to the workers, read more. */
static void pump(conn *c)
{
    while (!c->done && !c->reading && !c->writing && !c->running) {
        size_t n = 0;
        const char *out = m2s_lmtp_output(c->lmtp, &n);
        if (n > 0) {
            c->writing = true;
            c->refs++;
            g_output_stream_write_all_async(
                g_io_stream_get_output_stream(G_IO_STREAM(c->sc)), out, n,
                G_PRIORITY_DEFAULT, c->wcancel, on_written, c);
            return;
        }
        if (c->closing) {
            conn_finish(c);
            return;
        }
        switch (m2s_lmtp_step(c->lmtp)) {
        case M2S_LMTP_CLOSE:
            c->closing = true;
            break;
        case M2S_LMTP_WRITE:
            break;
        case M2S_LMTP_MAIL:
            submit(c);
            return;
        case M2S_LMTP_MORE:
            m2s_lmtp_output(c->lmtp, &n);
            if (n > 0)
                break;
            c->reading = true;
            c->refs++;
            g_input_stream_read_async(g_io_stream_get_input_stream(G_IO_STREAM(c->sc)),
                                      c->buf, sizeof c->buf, G_PRIORITY_DEFAULT, c->rcancel,
                                      on_read, c);
            return;
        }
    }
}

static char *peer_name(GSocketConnection *sc)
{
    GSocketAddress *a = g_socket_connection_get_remote_address(sc, NULL);
    char *name = NULL;
    if (a && G_IS_INET_SOCKET_ADDRESS(a)) {
        gchar *ip = g_inet_address_to_string(
            g_inet_socket_address_get_address(G_INET_SOCKET_ADDRESS(a)));
        name = xasprintf("%s:%u", ip, g_inet_socket_address_get_port(G_INET_SOCKET_ADDRESS(a)));
        g_free(ip);
    }
    if (a)
        g_object_unref(a);
    return name ? name : xstrdup("unix socket");
}

static gboolean on_incoming(GSocketService *ss, GSocketConnection *sc, GObject *src,
                            gpointer p)
{
    service *svc = p;
    const m2s_config *cfg = svc->current->cfg;
    (void)ss, (void)src;
    conn *c = xcalloc(1, sizeof *c);
    c->refs = 1;
    c->svc = svc;
    c->sc = g_object_ref(sc);
    c->rcancel = g_cancellable_new();
    c->wcancel = g_cancellable_new();
    c->started = m2s_now();
    c->peer = peer_name(sc);
    /* replies are small and each one is awaited: no Nagle delay (fails
     * harmlessly on a unix socket) */
    g_socket_set_option(g_socket_connection_get_socket(sc), IPPROTO_TCP, TCP_NODELAY, 1, NULL);
    m2s_lmtp_limits lim = { .hostname = svc->hostname,
                            .max_message = cfg->max_message_bytes };
    c->lmtp = m2s_lmtp_new(&lim);
    svc->conns = g_list_prepend(svc->conns, c);
    if (svc->stopping || svc->n_conns >= (unsigned)cfg->max_connections) {
        /* only the 421, no greeting */
        c->rejected = true;
        m2s_lmtp_output_done(c->lmtp);
        m2s_lmtp_shutdown(c->lmtp, "4.3.2", svc->stopping ? "service shutting down"
                                                          : "too many connections");
        m2s_log(LOG_WARNING, "lmtp: %s from %s (service.max_connections = %ld)",
                svc->stopping ? "shutting down: refused a connection" : "too many connections",
                c->peer, cfg->max_connections);
    } else {
        svc->n_conns++;
    }
    arm_timer(c);
    pump(c);
    return TRUE;
}

/* -------------------------------------------------------- listening */

/* The sockets systemd passed (sd_listen_fds(3)'s protocol): how many
 * were added, 0 when none were passed, -1 on error (logged). */
static int listen_systemd(service *svc)
{
    const char *pid = getenv("LISTEN_PID"), *fds = getenv("LISTEN_FDS");
    int n = 0, added = 0;
    if (!pid || !fds || strtol(pid, NULL, 10) != (long)getpid())
        return 0;
    n = (int)strtol(fds, NULL, 10);
    unsetenv("LISTEN_PID");
    unsetenv("LISTEN_FDS");
    unsetenv("LISTEN_FDNAMES");
    for (int fd = SD_LISTEN_FDS_START; fd < SD_LISTEN_FDS_START + n; fd++) {
        GError *err = NULL;
        GSocket *s = g_socket_new_from_fd(fd, &err);
        if (!s || !g_socket_listener_add_socket(G_SOCKET_LISTENER(svc->listener), s, NULL,
                                                &err)) {
            m2s_log(LOG_ERR, "lmtp: cannot use socket %d from systemd: %s", fd,
                    err ? err->message : "?");
            g_clear_error(&err);
            if (s)
                g_object_unref(s);
            return -1;
        }
        g_object_unref(s);
        added++;
    }
    if (added)
        m2s_log(LOG_INFO, "lmtp: listening on %d socket%s from systemd", added,
                added == 1 ? "" : "s");
    return added;
}

/* Listen on one service.listen entry. 0, or -1 (logged). */
static int listen_one(service *svc, const char *spec)
{
    GSocketAddress *addr = NULL;
    GError *err = NULL;
    int rc = -1;
    char *host = NULL;
    if (strncmp(spec, "unix:", 5) == 0) {
        const char *path = spec + 5;
        struct stat stt;
        /* a socket left by an earlier run; never anything else */
        if (lstat(path, &stt) == 0 && S_ISSOCK(stt.st_mode))
            unlink(path);
        addr = g_unix_socket_address_new(path);
    } else if (strncmp(spec, "inet:", 5) == 0) {
        const char *colon = strrchr(spec + 5, ':');
        if (!colon)
            goto bad;
        host = xstrndup(spec + 5, (size_t)(colon - (spec + 5)));
        size_t hl = strlen(host);
        if (hl >= 2 && host[0] == '[' && host[hl - 1] == ']') {
            memmove(host, host + 1, hl - 2);
            host[hl - 2] = '\0';
        }
        long port = strtol(colon + 1, NULL, 10);
        addr = g_inet_socket_address_new_from_string(host, (guint)port);
    }
    if (!addr)
        goto bad;
    /* A unix socket is made 0660 from the start (the workers do not run
     * yet, so the umask is ours): Postfix's lmtp client must reach it,
     * other users must not (give it, or its directory, the postfix group) */
    mode_t mask = umask(0117);
    gboolean ok = g_socket_listener_add_address(G_SOCKET_LISTENER(svc->listener), addr,
                                                G_SOCKET_TYPE_STREAM,
                                                G_SOCKET_PROTOCOL_DEFAULT, NULL, NULL, &err);
    umask(mask);
    if (!ok) {
        m2s_log(LOG_ERR, "lmtp: cannot listen on %s: %s", spec, err->message);
        goto out;
    }
    if (strncmp(spec, "unix:", 5) == 0)
        m2s_strv_add(&svc->unix_paths, spec + 5);
    m2s_log(LOG_INFO, "lmtp: listening on %s", spec);
    rc = 0;
    goto out;
bad:
    m2s_log(LOG_ERR, "lmtp: cannot listen on %s: not an address", spec);
out:
    g_clear_error(&err);
    if (addr)
        g_object_unref(addr);
    free(host);
    return rc;
}

/* -------------------------------------------------------- signals */

static gboolean on_term(gpointer p)
{
    service *svc = p;
    if (svc->stopping)
        return G_SOURCE_CONTINUE;
    svc->stopping = true;
    unsigned running = 0;
    g_socket_service_stop(svc->listener);
    g_socket_listener_close(G_SOCKET_LISTENER(svc->listener));
    /* a copy: pumping may close a connection, which leaves the list */
    GList *all = g_list_copy(svc->conns);
    for (GList *l = all; l; l = l->next)
        ((conn *)l->data)->refs++;
    for (GList *l = all; l; l = l->next) {
        conn *c = l->data;
        if (c->done || c->closing)
            continue;                   /* on its way out already (QUIT) */
        if (c->running) {
            running++;
            continue;                   /* answered first, then closed (job_done) */
        }
        c->why = "service stopped";
        m2s_lmtp_shutdown(c->lmtp, "4.3.2", "service shutting down");
        g_cancellable_cancel(c->rcancel);
        if (!c->reading)
            pump(c);
    }
    for (GList *l = all; l; l = l->next)
        conn_unref(l->data);
    g_list_free(all);
    m2s_log(LOG_INFO, "lmtp: stopping: %u mail%s being sent, %u connection%s", running,
            running == 1 ? "" : "s", svc->n_conns, svc->n_conns == 1 ? "" : "s");
    maybe_stopped(svc);
    return G_SOURCE_CONTINUE;
}

static bool same_strv(const m2s_strv *a, const m2s_strv *b)
{
    if (a->n != b->n)
        return false;
    for (size_t i = 0; i < a->n; i++)
        if (strcmp(a->v[i], b->v[i]) != 0)
            return false;
    return true;
}

static gboolean on_hup(gpointer p)
{
    service *svc = p;
    m2s_strv problems = { 0 };
    char *why = NULL;
    m2s_config *cfg = m2s_config_load(svc->config_path, &problems);
    if (!cfg) {
        for (size_t i = 0; i < problems.n; i++)
            m2s_log(LOG_ERR, "configuration: %s", problems.v[i]);
        m2s_log(LOG_ERR, "SIGHUP: %s is not usable; keeping the configuration in use",
                svc->config_path);
        goto out;
    }
    const m2s_config *old = svc->current->cfg;
    if (!same_strv(&cfg->listen, &old->listen) || cfg->workers != old->workers)
        m2s_log(LOG_WARNING, "SIGHUP: service.listen and service.workers change only "
                "when the service is restarted");
    if (cfg->log_file &&
        m2s_log_to_file(cfg->log_file, cfg->log_time == M2S_LOG_TIME_ISO8601, &why) != 0) {
        m2s_log(LOG_WARNING, "%s; logging stays where it was", why);
        free(why);
    }
    gen *g = gen_new(cfg, svc->current);
    gen_unref(svc->current);
    svc->current = g;
    m2s_log(LOG_INFO, "SIGHUP: configuration %s loaded again", svc->config_path);
out:
    m2s_strv_clear(&problems);
    return G_SOURCE_CONTINUE;
}

/* ------------------------------------------------------------ run */

int m2s_service_run(const char *config_path, m2s_config *cfg)
{
    service svc = { 0 };
    int rc = EX_OSERR;
    guint sig[4] = { 0 };

    svc.config_path = config_path;
    svc.current = gen_new(cfg, NULL);
    svc.hostname = xstrdup(g_get_host_name());
    svc.loop = g_main_loop_new(NULL, FALSE);
    svc.listener = g_socket_service_new();
    /* a burst of connections waits in the kernel, not in SYN retries */
    g_socket_listener_set_backlog(G_SOCKET_LISTENER(svc.listener),
                                  cfg->max_connections > 128 ? (int)cfg->max_connections : 128);
    svc.jobs = g_async_queue_new();
    /* what the workers' libraries need set up once, before they start */
    m2s_mail_init();
    m2s_html_init();
    if (m2s_http_global_init() != 0) {
        m2s_log(LOG_ERR, "lmtp: cannot initialise libcurl");
        goto out;
    }
    int n = listen_systemd(&svc);
    if (n < 0)
        goto out;
    for (size_t i = 0; n == 0 && i < cfg->listen.n; i++)
        if (listen_one(&svc, cfg->listen.v[i]) != 0)
            goto out;
    if (n == 0 && cfg->listen.n == 0 && listen_one(&svc, M2S_SERVICE_LISTEN) != 0)
        goto out;
    svc.n_threads = (size_t)cfg->workers;
    svc.threads = xcalloc(svc.n_threads, sizeof *svc.threads);
    for (size_t i = 0; i < svc.n_threads; i++) {
        GError *err = NULL;
        if (!(svc.threads[i] = g_thread_try_new("m2s-worker", worker_main, &svc, &err))) {
            m2s_log(LOG_ERR, "lmtp: cannot start a worker: %s", err->message);
            g_clear_error(&err);
            goto out;
        }
    }
    g_signal_connect(svc.listener, "incoming", G_CALLBACK(on_incoming), &svc);
    sig[0] = g_unix_signal_add(SIGTERM, on_term, &svc);
    sig[1] = g_unix_signal_add(SIGINT, on_term, &svc);
    sig[2] = g_unix_signal_add(SIGHUP, on_hup, &svc);
    g_socket_service_start(svc.listener);
    m2s_log(LOG_INFO, "lmtp: ready, %zu worker%s, at most %ld connections", svc.n_threads,
            svc.n_threads == 1 ? "" : "s", cfg->max_connections);
    g_main_loop_run(svc.loop);
    m2s_log(LOG_INFO, "lmtp: stopped");
    rc = EX_OK;
out:
    for (size_t i = 0; i < sizeof sig / sizeof sig[0]; i++)
        if (sig[i])
            g_source_remove(sig[i]);
    for (size_t i = 0; svc.threads && i < svc.n_threads; i++)
        if (svc.threads[i])
            g_async_queue_push(svc.jobs, &stop_job);
    for (size_t i = 0; svc.threads && i < svc.n_threads; i++)
        if (svc.threads[i])
            g_thread_join(svc.threads[i]);
    free(svc.threads);
    /* the jobs' replies that came back after the loop ended */
    while (g_main_context_iteration(NULL, FALSE))
        ;
    while (svc.conns)
        conn_finish(svc.conns->data);
    while (g_main_context_iteration(NULL, FALSE))
        ;
    g_socket_service_stop(svc.listener);
    g_socket_listener_close(G_SOCKET_LISTENER(svc.listener));
    g_object_unref(svc.listener);
    for (size_t i = 0; i < svc.unix_paths.n; i++)
        unlink(svc.unix_paths.v[i]);
    m2s_strv_clear(&svc.unix_paths);
    g_async_queue_unref(svc.jobs);
    g_main_loop_unref(svc.loop);
    gen_unref(svc.current);
    free(svc.hostname);
    m2s_mail_shutdown();
    return rc;
}
