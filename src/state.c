/* state.c - the state store's one interface over its two backends
 * (state_sqlite.c, state_pg.c): opening the one the configuration names,
 * the name of this handle's claims, the schema checks of --init-state and
 * --check-config, and the calls passed on with their arguments checked.
 */
#include "build-config.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "state.h"
#include "state_pg.h"
#include "state_sqlite.h"
#include "util.h"

struct m2s_state {
    const m2s_state_ops *ops;
    void *b;                /* the backend's handle */
    char *owner;            /* pid@host:token, names our claims and probes */
};

void m2s_state_where_of(const m2s_config *cfg, const char *dir, m2s_state_where *w)
{
    w->backend = cfg->state_backend;
    w->dir = dir;
    w->conninfo = cfg->state_postgresql;
    w->password = cfg->state_password;
}

/* Owner names look like 1234@host:9f0c1a2b3c4d5e6f. The pid and host are for
 * a human reading the database; the random token makes the name unique even
 * when pids are reused, two handles live in one process, or two relays
 * share a store. */
static char *make_owner(void)
{
    unsigned char tok[8];
    char host[256] = "localhost";
    char hex[2 * sizeof tok + 1];
    if (m2s_random_bytes(tok, sizeof tok) < 0) {
        /* getrandom cannot really fail; still never share a name. */
        static unsigned counter;
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        uint64_t v = (uint64_t)ts.tv_nsec ^ ((uint64_t)ts.tv_sec << 30) ^ ++counter;
        memcpy(tok, &v, sizeof tok);
    }
    for (size_t i = 0; i < sizeof tok; i++)
        snprintf(hex + 2 * i, 3, "%02x", tok[i]);
    if (gethostname(host, sizeof host - 1) < 0)
        strcpy(host, "localhost");
    host[sizeof host - 1] = '\0';
    return xasprintf("%ld@%s:%s", (long)getpid(), host, hex);
}

/* Open the backend; with migrate, PostgreSQL's schema is created or
 * brought to this version (SQLite does that on every open). *version gets
 * the schema version found before any migration. */
static m2s_state *open_backend(const m2s_state_where *w, bool migrate, int *version,
                               char **why)
{
    m2s_state *st = NULL;
    void *b = NULL;
    const m2s_state_ops *ops = NULL;
    char *err = NULL;

    *why = NULL;
    *version = M2S_STATE_SCHEMA_VERSION;
    if (w->backend == M2S_BACKEND_POSTGRESQL) {
        ops = &m2s_state_pg_ops;
        b = m2s_state_pg_open(w->conninfo, w->password, version, &err);
        if (b && migrate && *version != M2S_STATE_SCHEMA_VERSION &&
            m2s_state_pg_migrate(b, *version, &err) != 0) {
            ops->close(b);
            b = NULL;
        } else if (b && !migrate && *version != M2S_STATE_SCHEMA_VERSION) {
            err = *version == 0
                ? xasprintf("no mail2sms schema in the database: run mail2sms --init-state")
                : *version < M2S_STATE_SCHEMA_VERSION
                ? xasprintf("schema version %d is older than this program's (%d): run "
                            "mail2sms --init-state", *version, M2S_STATE_SCHEMA_VERSION)
                : xasprintf("schema version %d is newer than this program knows (%d)",
                            *version, M2S_STATE_SCHEMA_VERSION);
            ops->close(b);
            b = NULL;
        }
        if (!b) {
            *why = xasprintf("state store (postgresql): %s", err ? err : "cannot connect");
            goto out;
        }
    } else {
        ops = &m2s_state_sqlite_ops;
        if (!(b = m2s_state_sqlite_open(w->dir, &err))) {
            *why = err;
            err = NULL;
            goto out;
        }
    }
    st = xcalloc(1, sizeof *st);
    st->ops = ops;
    st->b = b;
    st->owner = make_owner();
out:
    free(err);
    return st;
}

m2s_state *m2s_state_open(const m2s_state_where *w, char **why)
{
    int version = 0;
    return open_backend(w, false, &version, why);
}

void m2s_state_close(m2s_state *st)
{
    if (!st)
        return;
    st->ops->close(st->b);
    free(st->owner);
    free(st);
}

const char *m2s_state_backend_name(const m2s_state *st)
{
    return st ? st->ops->name : "none";
}

/* Where the store is, in words (no password). New string. */
static char *where_text(const m2s_state_where *w)
{
    if (w->backend == M2S_BACKEND_POSTGRESQL) {
        char *d = m2s_state_pg_describe(w->conninfo);
        char *s = xasprintf("postgresql %s, password %s", d,
                            w->password ? "from state.password_file (not shown)"
                                        : "from libpq (~/.pgpass, PGPASSWORD) or none");
        free(d);
        return s;
    }
    return xasprintf("sqlite %s/state.sqlite", w->dir ? w->dir : "(no directory)");
}

int m2s_state_init(const m2s_state_where *w, FILE *out, char **why)
{
    int version = 0;
    m2s_state *st = open_backend(w, true, &version, why);
    if (!st)
        return -1;
    char *where = where_text(w);
    if (version == M2S_STATE_SCHEMA_VERSION)
        fprintf(out, "state: %s: schema version %d, nothing to do\n", where, version);
    else if (version == 0)
        fprintf(out, "state: %s: schema version %d created\n", where,
                M2S_STATE_SCHEMA_VERSION);
    else
        fprintf(out, "state: %s: schema migrated from version %d to %d\n", where, version,
                M2S_STATE_SCHEMA_VERSION);
    free(where);
    m2s_state_close(st);
    return 0;
}

int m2s_state_check(const m2s_state_where *w, FILE *out, char **why)
{
    char *where = where_text(w);
    int ret = 0;
    *why = NULL;
    if (w->backend == M2S_BACKEND_POSTGRESQL) {
        m2s_state *st = m2s_state_open(w, why);
        if (!st)
            ret = -1;
        else
            fprintf(out, "state: %s: connected, schema version %d\n", where,
                    M2S_STATE_SCHEMA_VERSION);
        m2s_state_close(st);
    } else {
        /* The file is made by the first run, as the pipe's user. */
        fprintf(out, "state: %s\n", where);
    }
    free(where);
    return ret;
}

m2s_claim m2s_state_claim(m2s_state *st, const char *key, const char *number,
                          double lease_seconds)
{
    if (!st || !key || !number)
        return M2S_CLAIM_ERROR;
    return st->ops->claim(st->b, st->owner, key, number, lease_seconds);
}

int m2s_state_is_sent(m2s_state *st, const char *key, const char *number, bool *sent)
{
    *sent = false;
    if (!st || !key || !number)
        return -1;
    return st->ops->is_sent(st->b, key, number, sent);
}

int m2s_state_mark_sent(m2s_state *st, const char *key, const char *number,
                        const char *id)
{
    if (!st || !key || !number)
        return -1;
    return st->ops->mark_sent(st->b, st->owner, key, number, id, NULL);
}

int m2s_state_mark_sent_sms(m2s_state *st, const char *key, const char *number,
                            const char *id, const m2s_sms_meta *meta)
{
    if (!st || !key || !number)
        return -1;
    return st->ops->mark_sent(st->b, st->owner, key, number, id, meta);
}

int m2s_state_mail_note(m2s_state *st, const char *key, const m2s_mail_meta *m)
{
    if (!st || !key || !m)
        return -1;
    return st->ops->mail_note(st->b, key, m);
}

int m2s_state_track_take(m2s_state *st, long limit, double lease, bool peek,
                         m2s_tracked **out, size_t *n)
{
    *out = NULL;
    *n = 0;
    if (!st || limit <= 0)
        return -1;
    return st->ops->track_take(st->b, st->owner, limit, lease, peek, out, n);
}

int m2s_state_track_apply(m2s_state *st, const char *key, const char *number,
                          const m2s_track_event *ev, bool *applied)
{
    *applied = false;
    if (!st || !key || !number || !ev)
        return -1;
    return st->ops->track_apply(st->b, st->owner, key, number, ev, applied);
}

int m2s_state_track_action(m2s_state *st, const char *key, const char *number,
                           const char *which, const char *value, bool *ok)
{
    *ok = false;
    if (!st || !key || !number || !which || (strcmp(which, "done") != 0 && !value))
        return -1;
    return st->ops->track_action(st->b, st->owner, key, number, which, value, ok);
}

int m2s_state_track_find(m2s_state *st, const char *query, m2s_tracked **out, size_t *n)
{
    *out = NULL;
    *n = 0;
    if (!st || !query)
        return -1;
    return st->ops->track_find(st->b, query, out, n);
}

int m2s_state_counter_add(m2s_state *st, const char *name, long n)
{
    if (!st || !name)
        return -1;
    return st->ops->counter_add(st->b, name, n);
}

int m2s_state_metrics(m2s_state *st, m2s_counter **out, size_t *n, long *followed,
                      double *oldest)
{
    *out = NULL;
    *n = 0;
    *followed = 0;
    *oldest = 0;
    if (!st)
        return -1;
    return st->ops->metrics(st->b, out, n, followed, oldest);
}

void m2s_tracked_clear(m2s_tracked *t)
{
    char **fields[] = { &t->key, &t->number, &t->bird_id, &t->alias, &t->recipient,
                        &t->sender, &t->queue_id, &t->message_id, &t->subject, &t->headers,
                        &t->status, &t->reason, &t->source, &t->outcome, &t->notify,
                        &t->fallback_state };
    for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++)
        free(*fields[i]);
    memset(t, 0, sizeof *t);
}

void m2s_tracked_free(m2s_tracked *v, size_t n)
{
    for (size_t i = 0; v && i < n; i++)
        m2s_tracked_clear(&v[i]);
    free(v);
}

void m2s_counters_free(m2s_counter *v, size_t n)
{
    for (size_t i = 0; v && i < n; i++)
        free(v[i].name);
    free(v);
}

int m2s_state_release(m2s_state *st, const char *key, const char *number)
{
    if (!st || !key || !number)
        return -1;
    return st->ops->release(st->b, st->owner, key, number);
}

int m2s_state_rate_take(m2s_state *st, const char *kind, const char *who,
                        long limit, bool *allowed)
{
    *allowed = false;
    if (!st || !kind || !who)
        return -1;
    if (limit <= 0) {
        *allowed = true;
        return 0;
    }
    return st->ops->rate_take(st->b, kind, who, limit, allowed);
}

int m2s_state_rate_give_back(m2s_state *st, const char *kind, const char *who)
{
    if (!st || !kind || !who)
        return -1;
    return st->ops->rate_give_back(st->b, kind, who);
}

int m2s_state_suppressed_add(m2s_state *st, const char *number)
{
    if (!st || !number)
        return -1;
    return st->ops->suppressed_add(st->b, number);
}

int m2s_state_suppressed_take(m2s_state *st, const char *number, long *n)
{
    *n = 0;
    if (!st || !number)
        return -1;
    return st->ops->suppressed_take(st->b, number, n);
}

/* The text's digest, FNV-1a over 64 bits twice (two offsets), as 32 hex
 * digits: texts are compared per number within minutes, where a chance
 * collision of 128 bits is out of the question. */
static void text_digest(const char *text, char out[33])
{
    uint64_t h1 = 0xcbf29ce484222325ULL, h2 = 0x84222325cbf29ce4ULL;
    for (const unsigned char *p = (const unsigned char *)text; *p; p++) {
        h1 = (h1 ^ *p) * 0x100000001b3ULL;
        h2 = (h2 ^ *p) * 0x100000001b3ULL;
        h2 ^= h2 >> 29;
    }
    snprintf(out, 33, "%016llx%016llx", (unsigned long long)h1, (unsigned long long)h2);
}

int m2s_state_dup_take(m2s_state *st, const char *number, const char *text,
                       const char *key, double window, bool *dup)
{
    char digest[33];
    *dup = false;
    if (!st || !number || !text || !key)
        return -1;
    if (window <= 0)
        return 0;
    text_digest(text, digest);
    return st->ops->dup_take(st->b, number, digest, key, window, dup);
}

int m2s_state_dup_give_back(m2s_state *st, const char *number, const char *text,
                            const char *key)
{
    char digest[33];
    if (!st || !number || !text || !key)
        return -1;
    text_digest(text, digest);
    return st->ops->dup_give_back(st->b, number, digest, key);
}

int m2s_state_rate_lease(m2s_state *st, const char *bucket, long n, double interval,
                         double *delay)
{
    *delay = 0;
    if (!st || !bucket || n <= 0 || interval < 0)
        return -1;
    return st->ops->rate_lease(st->b, bucket, n, interval, delay);
}

m2s_outage m2s_state_outage_check(m2s_state *st, double hold, double *since,
                                  double *next_probe)
{
    *since = *next_probe = 0;
    if (!st)
        return M2S_OUTAGE_ERROR;
    return st->ops->outage_check(st->b, st->owner, hold, since, next_probe);
}

int m2s_state_outage_report(m2s_state *st, bool answered, double probe_after)
{
    if (!st)
        return -1;
    return st->ops->outage_report(st->b, st->owner, answered, probe_after);
}

int m2s_state_purge(m2s_state *st, long days)
{
    if (!st)
        return -1;
    return st->ops->purge(st->b, days);
}
