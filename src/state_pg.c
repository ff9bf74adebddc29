/* state_pg.c - the PostgreSQL backend of the state store: the tables of
 * the SQLite backend in a database shared by several relays.
 *
 * Every operation is one message to the server: a single statement, or a
 * few sent together in one simple query, which PostgreSQL runs as one
 * transaction. Where a check and a change must not be split by another
 * relay, either one statement does both (INSERT ... ON CONFLICT DO UPDATE
 * ... WHERE, which locks the row it finds), or a transaction-scoped
 * advisory lock comes first and the statements after it read afresh
 * (READ COMMITTED takes a new snapshot per statement). Commits are
 * durable (synchronous_commit as the server has it, on by default): the
 * "sent" mark is what keeps a retry from sending twice.
 *
 * Times come from the server's clock, so relays whose clocks disagree a
 * little still agree on leases, windows and the rate cap.
 *
 * A connection that broke (the server restarted, a failover) is reset and
 * the operation sent once more; libpq's target_session_attrs picks the
 * new primary. Every operation may safely be sent twice.
 */
#include "build-config.h"

#include <libpq-fe.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "state_pg.h"
#include "util.h"

#define NOW_SQL "extract(epoch from clock_timestamp())::float8"
#define EVENT_KEEP_SECONDS (2 * 3600.0)
#define RECENT_KEEP_SECONDS (2 * 86400.0)
#define CONNECT_TIMEOUT "10"        /* seconds, unless the connection string says */

typedef struct pg {
    PGconn *conn;
    m2s_strv secrets;       /* SECRET: passwords to keep out of messages */
} pg;

/* ------------------------------------------------------------ text */

/* msg on one line with every secret replaced by "****". New string. */
static char *clean_text(const m2s_strv *secrets, const char *msg)
{
    m2s_buf b;
    m2s_buf_init(&b);
    const char *p = msg ? msg : "";
    while (*p) {
        size_t hit = 0;
        for (size_t i = 0; i < secrets->n && !hit; i++) {
            size_t n = strlen(secrets->v[i]);
            if (n && strncmp(p, secrets->v[i], n) == 0)
                hit = n;
        }
        if (hit) {
            m2s_buf_adds(&b, "****");
            p += hit;
        } else {
            m2s_buf_addc(&b, *p++);
        }
    }
    char *raw = m2s_buf_steal(&b);
    char *one = m2s_oneline(raw ? raw : "", 300);
    free(raw);
    return one;
}

static void pg_error(pg *p, const char *what, const char *msg)
{
    char *clean = clean_text(&p->secrets, msg ? msg : PQerrorMessage(p->conn));
    m2s_log(LOG_ERR, "state: %s: %s", what, clean);
    free(clean);
}

/* Escaped literals for one statement, released together. */
typedef struct lits {
    pg *p;
    m2s_strv keep;
} lits;

static const char *lit(lits *l, const char *s)
{
    if (!s)
        return "NULL";
    char *e = PQescapeLiteral(l->p->conn, s, strlen(s));
    if (!e)
        return "NULL";      /* only on out of memory or a broken encoding */
    m2s_strv_add(&l->keep, e);
    PQfreemem(e);
    return l->keep.v[l->keep.n - 1];
}

static void lits_free(lits *l)
{
    m2s_strv_clear(&l->keep);
}

/* ------------------------------------------------------------ queries */

/* Send sql (one or more statements) and read every result. The last
 * result with rows goes to *rows (the caller PQclears it) when rows is
 * not NULL. A broken connection is reset and sql sent once more. 0 or -1
 * (logged as what). */
static int pg_run(pg *p, const char *sql, PGresult **rows, const char *what)
{
    int ret = -1;
    PGresult *last = NULL;
    char *err = NULL;
    if (rows)
        *rows = NULL;
    for (int attempt = 0; attempt < 2; attempt++) {
        if (PQstatus(p->conn) != CONNECTION_OK) {
            PQreset(p->conn);
            if (PQstatus(p->conn) != CONNECTION_OK)
                break;
        }
        if (!PQsendQuery(p->conn, sql)) {
            free(err);
            err = xstrdup(PQerrorMessage(p->conn));
            continue;
        }
        bool failed = false;
        PGresult *r;
        while ((r = PQgetResult(p->conn))) {
            ExecStatusType s = PQresultStatus(r);
            if (s == PGRES_TUPLES_OK && !failed) {
                PQclear(last);
                last = r;
                continue;
            }
            if (s != PGRES_COMMAND_OK && s != PGRES_TUPLES_OK && !failed) {
                failed = true;
                free(err);
                err = xstrdup(PQresultErrorMessage(r));
            }
            PQclear(r);
        }
        if (!failed) {
            ret = 0;
            break;
        }
        PQclear(last);
        last = NULL;
        if (PQstatus(p->conn) == CONNECTION_OK)
            break;          /* the server said no: sending again will not help */
    }
    if (ret < 0) {
        pg_error(p, what, err ? err : PQerrorMessage(p->conn));
        PQclear(last);
        last = NULL;
    }
    free(err);
    if (rows)
        *rows = last;
    else
        PQclear(last);
    return ret;
}

/* Run sql, which returns at most one row; *found and, when found, the
 * first column as text in *val (new string) if val is not NULL. */
static int pg_row(pg *p, const char *sql, bool *found, char **val, const char *what)
{
    PGresult *r = NULL;
    *found = false;
    if (val)
        *val = NULL;
    if (pg_run(p, sql, &r, what) < 0)
        return -1;
    if (r && PQntuples(r) > 0) {
        *found = true;
        if (val && !PQgetisnull(r, 0, 0))
            *val = xstrdup(PQgetvalue(r, 0, 0));
    }
    PQclear(r);
    return 0;
}

/* ------------------------------------------------------------ schema */

static const char schema_v1_sql[] =
    "CREATE TABLE IF NOT EXISTS m2s_schema (version integer NOT NULL);"
    "CREATE TABLE IF NOT EXISTS journal ("
    "  mail_key text NOT NULL,"
    "  number text NOT NULL,"
    "  state text NOT NULL CHECK (state IN ('claimed', 'sent')),"
    "  owner text,"
    "  lease_until float8,"
    "  message_id text,"
    "  updated float8 NOT NULL,"
    "  PRIMARY KEY (mail_key, number));"
    "CREATE INDEX IF NOT EXISTS journal_updated ON journal (updated);"
    "CREATE TABLE IF NOT EXISTS events ("
    "  id bigserial PRIMARY KEY,"
    "  kind text NOT NULL,"
    "  who text NOT NULL,"
    "  t float8 NOT NULL);"
    "CREATE INDEX IF NOT EXISTS events_who ON events (kind, who, t);"
    "CREATE INDEX IF NOT EXISTS events_t ON events (t);"
    "CREATE TABLE IF NOT EXISTS suppressed ("
    "  number text PRIMARY KEY,"
    "  n bigint NOT NULL,"
    "  updated float8 NOT NULL);"
    "CREATE INDEX IF NOT EXISTS suppressed_updated ON suppressed (updated);";

static const char schema_v2_sql[] =
    "CREATE TABLE IF NOT EXISTS recent ("
    "  number text NOT NULL,"
    "  digest text NOT NULL,"
    "  mail_key text NOT NULL,"
    "  t float8 NOT NULL,"
    "  PRIMARY KEY (number, digest));"
    "CREATE INDEX IF NOT EXISTS recent_t ON recent (t);"
    "CREATE TABLE IF NOT EXISTS rate_cap ("
    "  bucket text PRIMARY KEY,"
    "  next_at float8 NOT NULL);"
    "CREATE TABLE IF NOT EXISTS outage ("
    "  name text PRIMARY KEY,"
    "  since float8 NOT NULL,"
    "  next_probe float8 NOT NULL,"
    "  prober text,"
    "  probe_until float8 NOT NULL DEFAULT 0);";

/* Version 3: tracking (see state_sqlite.c's schema_v3_sql). */
static const char schema_v3_sql[] =
    "ALTER TABLE journal ADD COLUMN IF NOT EXISTS alias text,"
    "  ADD COLUMN IF NOT EXISTS recipient text,"
    "  ADD COLUMN IF NOT EXISTS parts integer,"
    "  ADD COLUMN IF NOT EXISTS accepted float8,"
    "  ADD COLUMN IF NOT EXISTS track_status text,"
    "  ADD COLUMN IF NOT EXISTS status_at float8,"
    "  ADD COLUMN IF NOT EXISTS reason text,"
    "  ADD COLUMN IF NOT EXISTS source text,"
    "  ADD COLUMN IF NOT EXISTS outcome text,"
    "  ADD COLUMN IF NOT EXISTS checks bigint NOT NULL DEFAULT 0,"
    "  ADD COLUMN IF NOT EXISTS next_check float8,"
    "  ADD COLUMN IF NOT EXISTS track_owner text,"
    "  ADD COLUMN IF NOT EXISTS track_until float8,"
    "  ADD COLUMN IF NOT EXISTS notify text,"
    "  ADD COLUMN IF NOT EXISTS fallback text,"
    "  ADD COLUMN IF NOT EXISTS is_fallback boolean NOT NULL DEFAULT false,"
    "  ADD COLUMN IF NOT EXISTS actions_due boolean NOT NULL DEFAULT false;"
    "UPDATE journal SET track_status = 'accepted', accepted = updated, status_at = updated,"
    "  next_check = updated WHERE state = 'sent' AND message_id IS NOT NULL"
    "  AND message_id NOT IN ('dropped', 'duplicate', 'unknown') AND track_status IS NULL;"
    "CREATE INDEX IF NOT EXISTS journal_due ON journal (next_check)"
    "  WHERE track_status IS NOT NULL AND (outcome IS NULL OR actions_due);"
    "CREATE INDEX IF NOT EXISTS journal_number ON journal (number);"
    "CREATE INDEX IF NOT EXISTS journal_alias ON journal (lower(alias));"
    "CREATE INDEX IF NOT EXISTS journal_bird_id ON journal (message_id);"
    "CREATE TABLE IF NOT EXISTS mails ("
    "  mail_key text PRIMARY KEY,"
    "  sender text,"
    "  queue_id text,"
    "  message_id text,"
    "  subject text,"
    "  headers text,"
    "  t float8 NOT NULL);"
    "CREATE INDEX IF NOT EXISTS mails_queue_id ON mails (queue_id);"
    "CREATE INDEX IF NOT EXISTS mails_message_id ON mails (message_id);"
    "CREATE INDEX IF NOT EXISTS mails_t ON mails (t);"
    "CREATE TABLE IF NOT EXISTS sms_status ("
    "  id bigserial PRIMARY KEY,"
    "  mail_key text NOT NULL,"
    "  number text NOT NULL,"
    "  t float8 NOT NULL,"
    "  status text NOT NULL,"
    "  reason text);"
    "CREATE INDEX IF NOT EXISTS sms_status_sms ON sms_status (mail_key, number);"
    "CREATE INDEX IF NOT EXISTS sms_status_t ON sms_status (t);"
    "CREATE TABLE IF NOT EXISTS counters ("
    "  name text PRIMARY KEY,"
    "  n bigint NOT NULL);";

/* The schema version in the database, 0 when there is none. */
static int read_version(pg *p, int *version, char **why)
{
    PGresult *r = PQexec(p->conn, "SELECT to_regclass('m2s_schema') IS NOT NULL");
    int ret = -1;
    *version = 0;
    if (PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) != 1) {
        *why = clean_text(&p->secrets, PQresultErrorMessage(r));
        goto out;
    }
    if (strcmp(PQgetvalue(r, 0, 0), "t") == 0) {
        PQclear(r);
        r = PQexec(p->conn, "SELECT coalesce(max(version), 0) FROM m2s_schema");
        if (PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) != 1) {
            *why = clean_text(&p->secrets, PQresultErrorMessage(r));
            goto out;
        }
        *version = atoi(PQgetvalue(r, 0, 0));
    }
    ret = 0;
out:
    PQclear(r);
    return ret;
}

int m2s_state_pg_migrate(void *b, int from, char **why)
{
    pg *p = b;
    int ret = -1;
    m2s_buf sql;
    m2s_buf_init(&sql);
    *why = NULL;
    if (from > M2S_STATE_SCHEMA_VERSION) {
        *why = xasprintf("schema version %d is newer than this program knows (%d)", from,
                         M2S_STATE_SCHEMA_VERSION);
        goto out;
    }
    /* One transaction; the advisory lock keeps two --init-state apart. */
    m2s_buf_adds(&sql, "BEGIN; SELECT pg_advisory_xact_lock(7239513);");
    if (from < 1)
        m2s_buf_adds(&sql, schema_v1_sql);
    if (from < 2)
        m2s_buf_adds(&sql, schema_v2_sql);
    if (from < 3)
        m2s_buf_adds(&sql, schema_v3_sql);
    m2s_buf_printf(&sql, "DELETE FROM m2s_schema; INSERT INTO m2s_schema (version) VALUES (%d);"
                   "COMMIT;", M2S_STATE_SCHEMA_VERSION);
    PGresult *r = PQexec(p->conn, sql.data);
    if (PQresultStatus(r) != PGRES_COMMAND_OK) {
        char *e = clean_text(&p->secrets, PQresultErrorMessage(r));
        *why = xasprintf("cannot create the schema: %s", e);
        free(e);
        PQclear(r);
        PQclear(PQexec(p->conn, "ROLLBACK"));
        goto out;
    }
    PQclear(r);
    ret = 0;
out:
    m2s_buf_clear(&sql);
    return ret;
}

/* ------------------------------------------------------------ open */

/* The password of conninfo itself, if it holds one. New string or NULL. */
static char *conninfo_password(const char *conninfo)
{
    char *err = NULL;
    char *pw = NULL;
    PQconninfoOption *opts = PQconninfoParse(conninfo, &err);
    for (PQconninfoOption *o = opts; o && o->keyword; o++)
        if (strcmp(o->keyword, "password") == 0 && o->val && *o->val)
            pw = xstrdup(o->val);
    PQconninfoFree(opts);
    if (err)
        PQfreemem(err);
    return pw;
}

/* Notices ("relation already exists, skipping") are not for the log. */
static void pg_notice(void *arg, const char *message)
{
    (void)arg;
    m2s_debug("state: %s", message);
}

static void pg_close(void *b)
{
    pg *p = b;
    if (!p)
        return;
    PQfinish(p->conn);
    for (size_t i = 0; i < p->secrets.n; i++)
        explicit_bzero(p->secrets.v[i], strlen(p->secrets.v[i]));
    m2s_strv_clear(&p->secrets);
    free(p);
}

void *m2s_state_pg_open(const char *conninfo, const char *password, int *version,
                        char **why)
{
    pg *p = xcalloc(1, sizeof *p);
    *why = NULL;
    *version = 0;
    if (!conninfo || !*conninfo) {
        *why = xstrdup("no connection string (state.postgresql)");
        goto fail;
    }
    if (password && *password)
        m2s_strv_add(&p->secrets, password);
    char *own = conninfo_password(conninfo);
    if (own)
        m2s_strv_take(&p->secrets, own);
    /* Later entries win; the connection string's own connect_timeout and
     * application_name replace ours, the password file's password its. */
    const char *keys[] = { "connect_timeout", "application_name", "dbname", "password", NULL };
    const char *vals[] = { CONNECT_TIMEOUT, "mail2sms", conninfo,
                           password && *password ? password : NULL, NULL };
    p->conn = PQconnectdbParams(keys, vals, 1);
    if (!p->conn) {
        *why = xstrdup("out of memory");
        goto fail;
    }
    if (PQstatus(p->conn) != CONNECTION_OK) {
        *why = clean_text(&p->secrets, PQerrorMessage(p->conn));
        goto fail;
    }
    PQsetNoticeProcessor(p->conn, pg_notice, NULL);
    if (read_version(p, version, why) < 0)
        goto fail;
    return p;
fail:
    pg_close(p);
    return NULL;
}

char *m2s_state_pg_describe(const char *conninfo)
{
    static const char *const shown[] = { "host", "hostaddr", "port", "dbname", "user",
                                         "sslmode", "target_session_attrs" };
    char *err = NULL;
    PQconninfoOption *opts = PQconninfoParse(conninfo ? conninfo : "", &err);
    m2s_buf b;
    m2s_buf_init(&b);
    if (!opts) {
        m2s_buf_adds(&b, "(a connection string libpq cannot read)");
    } else {
        for (size_t i = 0; i < sizeof shown / sizeof shown[0]; i++)
            for (PQconninfoOption *o = opts; o->keyword; o++)
                if (strcmp(o->keyword, shown[i]) == 0 && o->val && *o->val)
                    m2s_buf_printf(&b, "%s%s=%s", b.len ? " " : "", o->keyword, o->val);
        if (!b.len)
            m2s_buf_adds(&b, "(libpq's defaults)");
    }
    PQconninfoFree(opts);
    if (err)
        PQfreemem(err);
    return m2s_buf_steal(&b);
}

/* ------------------------------------------------------------ journal */

static m2s_claim pg_claim(void *b, const char *owner, const char *key, const char *number,
                          double lease_seconds)
{
    pg *p = b;
    lits l = { p, { 0 } };
    m2s_claim res = M2S_CLAIM_ERROR;
    char *sql = NULL, *look = NULL, *state = NULL;
    const char *k = lit(&l, key), *n = lit(&l, number), *o = lit(&l, owner);
    /* Take it when nobody has it, it is ours, or its lease ran out. */
    sql = xasprintf("WITH c AS (SELECT " NOW_SQL " AS now)"
                    " INSERT INTO journal AS j (mail_key, number, state, owner, lease_until,"
                    "  message_id, updated)"
                    " SELECT %s, %s, 'claimed', %s, c.now + %.6f, NULL, c.now FROM c"
                    " ON CONFLICT (mail_key, number) DO UPDATE SET owner = EXCLUDED.owner,"
                    "  lease_until = EXCLUDED.lease_until, updated = EXCLUDED.updated"
                    " WHERE j.state = 'claimed' AND (j.owner = EXCLUDED.owner"
                    "  OR j.lease_until <= EXCLUDED.updated)"
                    " RETURNING 1", k, n, o, lease_seconds);
    look = xasprintf("SELECT state FROM journal WHERE mail_key = %s AND number = %s", k, n);
    for (int tries = 0; tries < 3 && res == M2S_CLAIM_ERROR; tries++) {
        bool found = false;
        if (pg_row(p, sql, &found, NULL, "cannot claim") < 0)
            break;
        if (found) {
            res = M2S_CLAIM_OK;
            break;
        }
        free(state);
        if (pg_row(p, look, &found, &state, "cannot read the journal") < 0)
            break;
        if (found)
            res = state && strcmp(state, "sent") == 0 ? M2S_CLAIM_SENT : M2S_CLAIM_BUSY;
        /* else released in between: try again */
    }
    free(state);
    free(look);
    free(sql);
    lits_free(&l);
    return res;
}

static int pg_is_sent(void *b, const char *key, const char *number, bool *sent)
{
    pg *p = b;
    lits l = { p, { 0 } };
    char *sql = xasprintf("SELECT 1 FROM journal WHERE mail_key = %s AND number = %s"
                          " AND state = 'sent'", lit(&l, key), lit(&l, number));
    int ret = pg_row(p, sql, sent, NULL, "cannot read the journal");
    free(sql);
    lits_free(&l);
    return ret;
}

static int pg_mark_sent(void *b, const char *owner, const char *key, const char *number,
                        const char *id, const m2s_sms_meta *meta)
{
    pg *p = b;
    lits l = { p, { 0 } };
    const char *k = lit(&l, key), *n = lit(&l, number);
    char *sql = xasprintf("INSERT INTO journal AS j (mail_key, number, state, owner,"
                          "  lease_until, message_id, updated)"
                          " VALUES (%s, %s, 'sent', %s, NULL, %s, " NOW_SQL ")"
                          " ON CONFLICT (mail_key, number) DO UPDATE SET state = 'sent',"
                          "  owner = EXCLUDED.owner, lease_until = NULL,"
                          "  message_id = coalesce(EXCLUDED.message_id, j.message_id),"
                          "  updated = EXCLUDED.updated",
                          k, n, lit(&l, owner), lit(&l, id));
    if (meta && id) {
        /* Followed from now on, in the same transaction (one message). */
        char *more = xasprintf("BEGIN; %s; UPDATE journal SET alias = %s, recipient = %s,"
                               " parts = %d, accepted = updated, track_status = 'accepted',"
                               " status_at = updated, next_check = updated + %d,"
                               " is_fallback = %s WHERE mail_key = %s AND number = %s;"
                               " INSERT INTO sms_status (mail_key, number, t, status)"
                               " VALUES (%s, %s, " NOW_SQL ", 'accepted'); COMMIT",
                               sql, lit(&l, meta->alias), lit(&l, meta->recipient),
                               meta->parts, M2S_TRACK_FIRST,
                               meta->fallback ? "true" : "false", k, n, k, n);
        free(sql);
        sql = more;
    }
    int ret = pg_run(p, sql, NULL, "cannot record a sent message");
    free(sql);
    lits_free(&l);
    return ret;
}

static int pg_release(void *b, const char *owner, const char *key, const char *number)
{
    pg *p = b;
    lits l = { p, { 0 } };
    char *sql = xasprintf("DELETE FROM journal WHERE mail_key = %s AND number = %s"
                          " AND owner = %s AND state = 'claimed'",
                          lit(&l, key), lit(&l, number), lit(&l, owner));
    int ret = pg_run(p, sql, NULL, "cannot release a claim");
    free(sql);
    lits_free(&l);
    return ret;
}

/* ------------------------------------------------------------ limits */

static int pg_rate_take(void *b, const char *kind, const char *who, long limit, bool *allowed)
{
    pg *p = b;
    lits l = { p, { 0 } };
    const char *k = lit(&l, kind), *w = lit(&l, who);
    /* The lock orders every relay counting this (kind, who); the count
     * after it sees every event committed before. */
    char *sql = xasprintf("SELECT pg_advisory_xact_lock(hashtextextended(%s || ':' || %s, 1));"
                          " WITH c AS (SELECT " NOW_SQL " AS now),"
                          "  n AS (SELECT count(*) AS n FROM events, c"
                          "   WHERE kind = %s AND who = %s AND t > c.now - 3600)"
                          " INSERT INTO events (kind, who, t) SELECT %s, %s, c.now FROM c, n"
                          "  WHERE n.n < %ld RETURNING 1",
                          k, w, k, w, k, w, limit);
    int ret = pg_row(p, sql, allowed, NULL, "cannot count events");
    free(sql);
    lits_free(&l);
    return ret;
}

static int pg_rate_give_back(void *b, const char *kind, const char *who)
{
    pg *p = b;
    lits l = { p, { 0 } };
    char *sql = xasprintf("DELETE FROM events WHERE id = (SELECT id FROM events"
                          " WHERE kind = %s AND who = %s ORDER BY t DESC LIMIT 1)",
                          lit(&l, kind), lit(&l, who));
    int ret = pg_run(p, sql, NULL, "cannot give back an event");
    free(sql);
    lits_free(&l);
    return ret;
}

static int pg_suppressed_add(void *b, const char *number)
{
    pg *p = b;
    lits l = { p, { 0 } };
    char *sql = xasprintf("INSERT INTO suppressed AS s (number, n, updated)"
                          " VALUES (%s, 1, " NOW_SQL ")"
                          " ON CONFLICT (number) DO UPDATE SET n = s.n + 1,"
                          "  updated = EXCLUDED.updated", lit(&l, number));
    int ret = pg_run(p, sql, NULL, "cannot count a suppressed message");
    free(sql);
    lits_free(&l);
    return ret;
}

static int pg_suppressed_take(void *b, const char *number, long *n)
{
    pg *p = b;
    lits l = { p, { 0 } };
    bool found = false;
    char *val = NULL;
    char *sql = xasprintf("DELETE FROM suppressed WHERE number = %s RETURNING n",
                          lit(&l, number));
    int ret = pg_row(p, sql, &found, &val, "cannot take the suppressed count");
    if (ret == 0 && found && val)
        *n = atol(val);
    free(val);
    free(sql);
    lits_free(&l);
    return ret;
}

static int pg_dup_take(void *b, const char *number, const char *digest, const char *key,
                       double window, bool *dup)
{
    pg *p = b;
    lits l = { p, { 0 } };
    bool taken = false, found = false;
    char *holder = NULL;
    const char *n = lit(&l, number), *d = lit(&l, digest), *k = lit(&l, key);
    *dup = false;
    /* New, or another mail's from before the window: ours now. */
    char *sql = xasprintf("INSERT INTO recent AS r (number, digest, mail_key, t)"
                          " VALUES (%s, %s, %s, " NOW_SQL ")"
                          " ON CONFLICT (number, digest) DO UPDATE SET"
                          "  mail_key = EXCLUDED.mail_key, t = EXCLUDED.t"
                          " WHERE r.mail_key <> EXCLUDED.mail_key AND r.t <= EXCLUDED.t - %.6f"
                          " RETURNING 1", n, d, k, window);
    char *look = xasprintf("SELECT mail_key FROM recent WHERE number = %s AND digest = %s",
                           n, d);
    int ret = pg_row(p, sql, &taken, NULL, "cannot record a recent text");
    if (ret == 0 && !taken) {
        ret = pg_row(p, look, &found, &holder, "cannot read recent texts");
        *dup = ret == 0 && found && holder && strcmp(holder, key) != 0;
    }
    free(holder);
    free(look);
    free(sql);
    lits_free(&l);
    return ret;
}

static int pg_dup_give_back(void *b, const char *number, const char *digest, const char *key)
{
    pg *p = b;
    lits l = { p, { 0 } };
    char *sql = xasprintf("DELETE FROM recent WHERE number = %s AND digest = %s"
                          " AND mail_key = %s", lit(&l, number), lit(&l, digest), lit(&l, key));
    int ret = pg_run(p, sql, NULL, "cannot forget a recent text");
    free(sql);
    lits_free(&l);
    return ret;
}

static int pg_rate_lease(void *b, const char *bucket, long n, double interval, double *delay)
{
    pg *p = b;
    lits l = { p, { 0 } };
    bool found = false;
    char *val = NULL;
    double span = (double)n * interval;
    /* One statement: the row lock orders the relays; the block starts
     * where the last one ended, or now. */
    char *sql = xasprintf("WITH c AS (SELECT " NOW_SQL " AS now)"
                          " INSERT INTO rate_cap AS r (bucket, next_at)"
                          "  SELECT %s, c.now + %.9f FROM c"
                          " ON CONFLICT (bucket) DO UPDATE SET"
                          "  next_at = greatest(r.next_at, EXCLUDED.next_at - %.9f) + %.9f"
                          " RETURNING next_at - %.9f - (SELECT now FROM c)",
                          lit(&l, bucket), span, span, span, span);
    int ret = pg_row(p, sql, &found, &val, "cannot lease from the rate cap");
    if (ret == 0 && found && val) {
        *delay = atof(val);
        if (*delay < 0)
            *delay = 0;
    }
    free(val);
    free(sql);
    lits_free(&l);
    return ret;
}

/* ------------------------------------------------------------ outage */

static m2s_outage pg_outage_check(void *b, const char *owner, double hold, double *since,
                                  double *next_probe)
{
    pg *p = b;
    lits l = { p, { 0 } };
    m2s_outage res = M2S_OUTAGE_ERROR;
    PGresult *r = NULL;
    char *take = NULL;
    const char *look = "SELECT since, next_probe FROM outage WHERE name = 'bird'";
    if (pg_run(p, look, &r, "cannot read the outage record") < 0)
        goto out;
    if (!r || PQntuples(r) == 0) {
        res = M2S_OUTAGE_NONE;
        goto out;
    }
    *since = atof(PQgetvalue(r, 0, 0));
    *next_probe = atof(PQgetvalue(r, 0, 1));
    PQclear(r);
    r = NULL;
    /* The probe: due, and nobody else's is live. */
    take = xasprintf("WITH c AS (SELECT " NOW_SQL " AS now)"
                     " UPDATE outage SET prober = %s, probe_until = c.now + %.6f FROM c"
                     " WHERE name = 'bird' AND next_probe <= c.now"
                     "  AND (prober IS NULL OR prober = %s OR probe_until <= c.now)"
                     " RETURNING since, next_probe", lit(&l, owner), hold, lit(&l, owner));
    if (pg_run(p, take, &r, "cannot take the probe") < 0)
        goto out;
    res = r && PQntuples(r) > 0 ? M2S_OUTAGE_PROBE : M2S_OUTAGE_DEFER;
out:
    PQclear(r);
    free(take);
    lits_free(&l);
    return res;
}

static int pg_outage_report(void *b, const char *owner, bool answered, double probe_after)
{
    pg *p = b;
    lits l = { p, { 0 } };
    char *sql = answered
        ? xstrdup("DELETE FROM outage WHERE name = 'bird'")
        : xasprintf("WITH c AS (SELECT " NOW_SQL " AS now)"
                    " INSERT INTO outage AS o (name, since, next_probe, prober, probe_until)"
                    "  SELECT 'bird', c.now, c.now + %.6f, NULL, 0 FROM c"
                    " ON CONFLICT (name) DO UPDATE SET next_probe = EXCLUDED.next_probe,"
                    "  prober = NULL, probe_until = 0"
                    " WHERE o.prober IS NULL OR o.prober = %s OR o.probe_until <= EXCLUDED.since",
                    probe_after, lit(&l, owner));
    int ret = pg_run(p, sql, NULL, "cannot record the outage");
    free(sql);
    lits_free(&l);
    return ret;
}

/* ------------------------------------------------------------ purge */

static int pg_purge(void *b, long days)
{
    pg *p = b;
    m2s_buf sql;
    m2s_buf_init(&sql);
    /* days <= 0 keeps the journal: purging entries of mail still in the
     * queue would make its retry send again. */
    if (days > 0)
        m2s_buf_printf(&sql, "DELETE FROM journal WHERE updated < " NOW_SQL " - %ld;"
                       "DELETE FROM suppressed WHERE updated < " NOW_SQL " - %ld;"
                       "DELETE FROM mails WHERE t < " NOW_SQL " - %ld;"
                       "DELETE FROM sms_status WHERE t < " NOW_SQL " - %ld;",
                       days * 86400, days * 86400, days * 86400, days * 86400);
    m2s_buf_printf(&sql, "DELETE FROM events WHERE t < " NOW_SQL " - %.0f;"
                   "DELETE FROM recent WHERE t < " NOW_SQL " - %.0f;",
                   EVENT_KEEP_SECONDS, RECENT_KEEP_SECONDS);
    int ret = pg_run(p, sql.data, NULL, "cannot purge");
    m2s_buf_clear(&sql);
    return ret;
}

/* ------------------------------------------------------------ tracking */

#define TRACKED_COLUMNS \
    "j.mail_key, j.number, j.message_id, j.alias, j.recipient, j.parts, j.accepted," \
    " j.track_status, j.status_at, j.reason, j.source, j.outcome, j.checks," \
    " j.is_fallback, j.actions_due, j.notify, j.fallback, j.next_check," \
    " m.sender, m.queue_id, m.message_id, m.subject, m.headers"

static char *val_text(const PGresult *r, int row, int col)
{
    return PQgetisnull(r, row, col) ? NULL : xstrdup(PQgetvalue(r, row, col));
}

static double val_num(const PGresult *r, int row, int col)
{
    return PQgetisnull(r, row, col) ? 0 : atof(PQgetvalue(r, row, col));
}

static bool val_bool(const PGresult *r, int row, int col)
{
    return !PQgetisnull(r, row, col) && strcmp(PQgetvalue(r, row, col), "t") == 0;
}

/* Every row of r (TRACKED_COLUMNS) into a new array. */
static void read_tracked(const PGresult *r, m2s_tracked **out, size_t *n)
{
    int rows = r ? PQntuples(r) : 0;
    *out = rows ? xcalloc((size_t)rows, sizeof **out) : NULL;
    *n = (size_t)rows;
    for (int i = 0; i < rows; i++) {
        m2s_tracked *t = &(*out)[i];
        t->key = val_text(r, i, 0);
        t->number = val_text(r, i, 1);
        t->bird_id = val_text(r, i, 2);
        t->alias = val_text(r, i, 3);
        t->recipient = val_text(r, i, 4);
        t->parts = (int)val_num(r, i, 5);
        t->accepted = val_num(r, i, 6);
        t->status = val_text(r, i, 7);
        t->status_at = val_num(r, i, 8);
        t->reason = val_text(r, i, 9);
        t->source = val_text(r, i, 10);
        t->outcome = val_text(r, i, 11);
        t->checks = (long)val_num(r, i, 12);
        t->fallback = val_bool(r, i, 13);
        t->actions_due = val_bool(r, i, 14);
        t->notify = val_text(r, i, 15);
        t->fallback_state = val_text(r, i, 16);
        t->next_check = val_num(r, i, 17);
        t->sender = val_text(r, i, 18);
        t->queue_id = val_text(r, i, 19);
        t->message_id = val_text(r, i, 20);
        t->subject = val_text(r, i, 21);
        t->headers = val_text(r, i, 22);
    }
}

static int pg_mail_note(void *b, const char *key, const m2s_mail_meta *m)
{
    pg *p = b;
    lits l = { p, { 0 } };
    char *sql = xasprintf("INSERT INTO mails (mail_key, sender, queue_id, message_id, subject,"
                          " headers, t) VALUES (%s, %s, %s, %s, %s, %s, " NOW_SQL ")"
                          " ON CONFLICT (mail_key) DO UPDATE SET sender = EXCLUDED.sender,"
                          " queue_id = EXCLUDED.queue_id, message_id = EXCLUDED.message_id,"
                          " subject = EXCLUDED.subject, headers = EXCLUDED.headers,"
                          " t = EXCLUDED.t", lit(&l, key), lit(&l, m->sender),
                          lit(&l, m->queue_id), lit(&l, m->message_id), lit(&l, m->subject),
                          lit(&l, m->headers));
    int ret = pg_run(p, sql, NULL, "cannot remember the mail");
    free(sql);
    lits_free(&l);
    return ret;
}

/* As state_sqlite.c's: due, and nobody's (not even this handle's). */
#define TAKE_WHERE \
    " j.track_status IS NOT NULL" \
    " AND ((j.outcome IS NULL AND j.next_check <= c.now) OR j.actions_due)" \
    " AND (j.track_owner IS NULL OR j.track_until <= c.now)"

static int pg_track_take(void *b, const char *owner, long limit, double lease, bool peek,
                         m2s_tracked **out, size_t *n)
{
    pg *p = b;
    lits l = { p, { 0 } };
    PGresult *r = NULL;
    const char *o = lit(&l, owner);
    char *sql;
    *out = NULL;
    *n = 0;
    if (peek)
        sql = xasprintf("WITH c AS (SELECT " NOW_SQL " AS now) SELECT " TRACKED_COLUMNS
                        " FROM c, journal j LEFT JOIN mails m USING (mail_key)"
                        " WHERE" TAKE_WHERE " ORDER BY j.next_check LIMIT %ld", limit);
    else
        /* SKIP LOCKED: two trackers at once take different rows; a row
         * another has just taken is checked again under its lock. */
        sql = xasprintf("WITH c AS (SELECT " NOW_SQL " AS now),"
                        " picked AS (SELECT j.mail_key, j.number FROM c, journal j WHERE"
                        TAKE_WHERE " ORDER BY j.next_check LIMIT %ld FOR UPDATE OF j SKIP LOCKED),"
                        " taken AS (UPDATE journal t SET track_owner = %s,"
                        "  track_until = (SELECT now FROM c) + %.6f FROM picked"
                        "  WHERE t.mail_key = picked.mail_key AND t.number = picked.number"
                        "  RETURNING t.*)"
                        " SELECT " TRACKED_COLUMNS " FROM taken j LEFT JOIN mails m"
                        " USING (mail_key) ORDER BY j.next_check", limit, o, lease);
    int ret = pg_run(p, sql, &r, "cannot claim SMS to follow");
    if (ret == 0)
        read_tracked(r, out, n);
    PQclear(r);
    free(sql);
    lits_free(&l);
    return ret;
}

static int pg_track_apply(void *b, const char *owner, const char *key, const char *number,
                          const m2s_track_event *ev, bool *applied)
{
    pg *p = b;
    lits l = { p, { 0 } };
    const char *k = lit(&l, key), *n = lit(&l, number), *stt = lit(&l, ev->status);
    const char *rs = lit(&l, ev->reason), *src = lit(&l, ev->source);
    const char *oc = lit(&l, ev->outcome);
    bool keep = ev->outcome && ev->actions_due;
    char *counter = ev->outcome ? xasprintf("final:%s", ev->outcome) : NULL;
    /* One statement: the row lock taken by "old" orders two appliers (the
     * second finds it ended and changes nothing); the history row and the
     * counter come from what the update returned. */
    char *sql = xasprintf(
        "WITH c AS (SELECT " NOW_SQL " AS now),"
        " old AS (SELECT track_status FROM journal WHERE mail_key = %s AND number = %s"
        "  AND track_status IS NOT NULL AND outcome IS NULL FOR UPDATE),"
        " upd AS (UPDATE journal j SET"
        "  track_status = coalesce(%s, j.track_status),"
        "  status_at = CASE WHEN %s IS NOT NULL AND %s IS DISTINCT FROM old.track_status"
        "   THEN c.now ELSE j.status_at END,"
        "  reason = CASE WHEN %s IS NULL THEN j.reason ELSE %s END,"
        "  source = CASE WHEN %s IS NULL THEN j.source ELSE %s END,"
        "  outcome = %s, checks = j.checks + %d, next_check = c.now + %.6f,"
        "  actions_due = %s,"
        "  track_owner = %s, track_until = %s"
        "  FROM c, old WHERE j.mail_key = %s AND j.number = %s"
        "  RETURNING (%s IS NOT NULL AND %s IS DISTINCT FROM old.track_status) AS news,"
        "   c.now AS t),"
        " hist AS (INSERT INTO sms_status (mail_key, number, t, status, reason)"
        "  SELECT %s, %s, upd.t, %s, %s FROM upd WHERE upd.news RETURNING 1)"
        "%s%s%s"
        " SELECT count(*) FROM upd",
        k, n, stt, stt, stt, stt, rs, stt, src, oc, ev->answered ? 1 : 0, ev->next_in,
        keep ? "true" : "false",
        keep ? (owner ? lit(&l, owner) : "j.track_owner") : "NULL",
        keep ? "j.track_until" : "NULL", k, n, stt, stt, k, n, stt, rs,
        counter ? ", cnt AS (INSERT INTO counters AS k (name, n) SELECT " : "",
        counter ? lit(&l, counter) : "",
        counter ? ", 1 FROM upd ON CONFLICT (name) DO UPDATE SET n = k.n + 1 RETURNING 1)"
                : "");
    bool found = false;
    char *val = NULL;
    int ret = pg_row(p, sql, &found, &val, "cannot record a status");
    *applied = ret == 0 && found && val && atol(val) > 0;
    free(val);
    free(sql);
    free(counter);
    lits_free(&l);
    return ret;
}

static int pg_track_action(void *b, const char *owner, const char *key, const char *number,
                           const char *which, const char *value, bool *ok)
{
    pg *p = b;
    lits l = { p, { 0 } };
    char *sql = NULL;
    bool take = value && strcmp(value, "sending") == 0;
    int ret = -1;
    (void)owner;            /* the caller holds the claim of the row */
    *ok = false;
    if (strcmp(which, "done") == 0)
        sql = xasprintf("UPDATE journal SET actions_due = false, track_owner = NULL,"
                        " track_until = NULL WHERE mail_key = %s AND number = %s"
                        " RETURNING 1", lit(&l, key), lit(&l, number));
    else if (strcmp(which, "notify") == 0 || strcmp(which, "fallback") == 0)
        sql = xasprintf("UPDATE journal SET %s = %s WHERE mail_key = %s AND number = %s"
                        "%s%s%s RETURNING 1", which, lit(&l, value), lit(&l, key),
                        lit(&l, number), take ? " AND " : "", take ? which : "",
                        take ? " IS NULL" : "");
    if (sql)
        ret = pg_row(p, sql, ok, NULL, "cannot record an action");
    free(sql);
    lits_free(&l);
    return ret;
}

static int pg_track_find(void *b, const char *query, m2s_tracked **out, size_t *n)
{
    pg *p = b;
    lits l = { p, { 0 } };
    PGresult *r = NULL;
    const char *q = lit(&l, query);
    *out = NULL;
    *n = 0;
    char *sql = xasprintf("SELECT " TRACKED_COLUMNS " FROM journal j LEFT JOIN mails m"
                          " USING (mail_key) WHERE j.track_status IS NOT NULL AND"
                          " (m.queue_id = %s OR m.message_id = %s"
                          "  OR m.message_id = '<' || %s || '>' OR j.number = %s"
                          "  OR j.number = '+' || %s OR lower(j.alias) = lower(%s)"
                          "  OR j.message_id = %s OR j.mail_key = %s)"
                          " ORDER BY j.accepted, j.number", q, q, q, q, q, q, q, q);
    int ret = pg_run(p, sql, &r, "cannot read the journal");
    if (ret == 0)
        read_tracked(r, out, n);
    PQclear(r);
    free(sql);
    lits_free(&l);
    return ret;
}

static int pg_counter_add(void *b, const char *name, long n)
{
    pg *p = b;
    lits l = { p, { 0 } };
    char *sql = xasprintf("INSERT INTO counters AS c (name, n) VALUES (%s, %ld)"
                          " ON CONFLICT (name) DO UPDATE SET n = c.n + EXCLUDED.n",
                          lit(&l, name), n);
    int ret = pg_run(p, sql, NULL, "cannot count");
    free(sql);
    lits_free(&l);
    return ret;
}

static int pg_metrics(void *b, m2s_counter **out, size_t *n, long *followed, double *oldest)
{
    pg *p = b;
    PGresult *r = NULL;
    int ret = -1;
    *out = NULL;
    *n = 0;
    *followed = 0;
    *oldest = 0;
    if (pg_run(p, "SELECT name, n FROM counters ORDER BY name", &r,
               "cannot read the counters") < 0)
        goto out;
    int rows = r ? PQntuples(r) : 0;
    *out = rows ? xcalloc((size_t)rows, sizeof **out) : NULL;
    for (int i = 0; i < rows; i++) {
        (*out)[i].name = val_text(r, i, 0);
        (*out)[i].n = atoll(PQgetvalue(r, i, 1));
    }
    *n = (size_t)rows;
    PQclear(r);
    r = NULL;
    if (pg_run(p, "SELECT count(*), coalesce(min(accepted), 0) FROM journal"
               " WHERE track_status IS NOT NULL AND outcome IS NULL", &r,
               "cannot count the SMS followed") < 0 || !r || PQntuples(r) != 1)
        goto out;
    *followed = atol(PQgetvalue(r, 0, 0));
    *oldest = val_num(r, 0, 1);
    ret = 0;
out:
    PQclear(r);
    return ret;
}

const m2s_state_ops m2s_state_pg_ops = {
    .name = "postgresql",
    .close = pg_close,
    .claim = pg_claim,
    .is_sent = pg_is_sent,
    .mark_sent = pg_mark_sent,
    .release = pg_release,
    .rate_take = pg_rate_take,
    .rate_give_back = pg_rate_give_back,
    .suppressed_add = pg_suppressed_add,
    .suppressed_take = pg_suppressed_take,
    .dup_take = pg_dup_take,
    .dup_give_back = pg_dup_give_back,
    .rate_lease = pg_rate_lease,
    .outage_check = pg_outage_check,
    .outage_report = pg_outage_report,
    .purge = pg_purge,
    .mail_note = pg_mail_note,
    .track_take = pg_track_take,
    .track_apply = pg_track_apply,
    .track_action = pg_track_action,
    .track_find = pg_track_find,
    .counter_add = pg_counter_add,
    .metrics = pg_metrics,
};
