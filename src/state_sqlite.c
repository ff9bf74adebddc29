/* state_sqlite.c - the SQLite backend of the state store: the journal,
 * rate-limit counters, suppressed counts, recent texts, the rate cap's
 * clock and the outage record in one database, state_dir/state.sqlite,
 * shared by every mail2sms process of one relay. See docs/state.md for
 * the schema and the reasoning.
 *
 * Every change runs in its own BEGIN IMMEDIATE transaction: the write lock
 * is taken before anything is read, so the check ("is this number claimed?")
 * and the change ("claim it") cannot be split by another process. WAL mode
 * lets those short write transactions queue behind each other without
 * blocking readers; the busy timeout makes a waiting process sleep instead
 * of failing.
 */
#include "build-config.h"

#include <errno.h>
#include <fcntl.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "state_sqlite.h"
#include "util.h"

#define STATE_FILE "state.sqlite"
#define SCHEMA_VERSION M2S_STATE_SCHEMA_VERSION
/* How long one process waits for another's write transaction. Writers hold
 * the lock for well under a millisecond, so this is only reached when
 * something is badly wrong (a stuck process, a dead disk). */
#define BUSY_TIMEOUT_MS 10000
/* Rate-limit events are counted over one hour; keep them a little longer. */
#define EVENT_KEEP_SECONDS (2 * 3600.0)

/* Recent texts are kept for the longest duplicate window, and a bit. */
#define RECENT_KEEP_SECONDS (2 * 86400.0)

typedef struct sq {
    sqlite3 *db;
} sq;

/* Version 1: the journal, storm-limit events, suppressed counts. */
static const char schema_v1_sql[] =
    "CREATE TABLE IF NOT EXISTS journal ("
    "  mail_key TEXT NOT NULL,"
    "  number TEXT NOT NULL,"
    "  state TEXT NOT NULL CHECK (state IN ('claimed', 'sent')),"
    "  owner TEXT,"
    "  lease_until REAL,"
    "  message_id TEXT,"
    "  updated REAL NOT NULL,"
    "  PRIMARY KEY (mail_key, number));"
    "CREATE INDEX IF NOT EXISTS journal_updated ON journal (updated);"
    "CREATE TABLE IF NOT EXISTS events ("
    "  kind TEXT NOT NULL,"
    "  who TEXT NOT NULL,"
    "  t REAL NOT NULL);"
    "CREATE INDEX IF NOT EXISTS events_who ON events (kind, who, t);"
    "CREATE INDEX IF NOT EXISTS events_t ON events (t);"
    "CREATE TABLE IF NOT EXISTS suppressed ("
    "  number TEXT PRIMARY KEY,"
    "  n INTEGER NOT NULL,"
    "  updated REAL NOT NULL);"
    "CREATE INDEX IF NOT EXISTS suppressed_updated ON suppressed (updated);";

/* Version 2: recent texts (limits.duplicate_window), the rate cap's clock
 * (bird.max_rate for every process), the outage record (bird.outage_probe). */
static const char schema_v2_sql[] =
    "CREATE TABLE IF NOT EXISTS recent ("
    "  number TEXT NOT NULL,"
    "  digest TEXT NOT NULL,"
    "  mail_key TEXT NOT NULL,"
    "  t REAL NOT NULL,"
    "  PRIMARY KEY (number, digest));"
    "CREATE INDEX IF NOT EXISTS recent_t ON recent (t);"
    "CREATE TABLE IF NOT EXISTS rate_cap ("
    "  bucket TEXT PRIMARY KEY,"
    "  next_at REAL NOT NULL);"
    "CREATE TABLE IF NOT EXISTS outage ("
    "  name TEXT PRIMARY KEY,"
    "  since REAL NOT NULL,"
    "  next_probe REAL NOT NULL,"
    "  prober TEXT,"
    "  probe_until REAL NOT NULL DEFAULT 0);";

/* Version 3: what the journal remembers of each SMS to follow it to its
 * end (tracking), each mail's sender, ids, subject and headers, the
 * status history, and counters that purging never lowers. Journal rows
 * of version 2 with a Bird id are followed from their last change. */
static const char schema_v3_sql[] =
    "ALTER TABLE journal ADD COLUMN alias TEXT;"
    "ALTER TABLE journal ADD COLUMN recipient TEXT;"
    "ALTER TABLE journal ADD COLUMN parts INTEGER;"
    "ALTER TABLE journal ADD COLUMN accepted REAL;"
    "ALTER TABLE journal ADD COLUMN track_status TEXT;"
    "ALTER TABLE journal ADD COLUMN status_at REAL;"
    "ALTER TABLE journal ADD COLUMN reason TEXT;"
    "ALTER TABLE journal ADD COLUMN source TEXT;"
    "ALTER TABLE journal ADD COLUMN outcome TEXT;"
    "ALTER TABLE journal ADD COLUMN checks INTEGER NOT NULL DEFAULT 0;"
    "ALTER TABLE journal ADD COLUMN next_check REAL;"
    "ALTER TABLE journal ADD COLUMN track_owner TEXT;"
    "ALTER TABLE journal ADD COLUMN track_until REAL;"
    "ALTER TABLE journal ADD COLUMN notify TEXT;"
    "ALTER TABLE journal ADD COLUMN fallback TEXT;"
    "ALTER TABLE journal ADD COLUMN is_fallback INTEGER NOT NULL DEFAULT 0;"
    "ALTER TABLE journal ADD COLUMN actions_due INTEGER NOT NULL DEFAULT 0;"
    "UPDATE journal SET track_status = 'accepted', accepted = updated, status_at = updated,"
    "  next_check = updated WHERE state = 'sent' AND message_id IS NOT NULL"
    "  AND message_id NOT IN ('dropped', 'duplicate', 'unknown');"
    "CREATE INDEX IF NOT EXISTS journal_due ON journal (next_check)"
    "  WHERE track_status IS NOT NULL AND (outcome IS NULL OR actions_due = 1);"
    "CREATE INDEX IF NOT EXISTS journal_number ON journal (number);"
    "CREATE INDEX IF NOT EXISTS journal_alias ON journal (alias);"
    "CREATE INDEX IF NOT EXISTS journal_bird_id ON journal (message_id);"
    "CREATE TABLE IF NOT EXISTS mails ("
    "  mail_key TEXT PRIMARY KEY,"
    "  sender TEXT,"
    "  queue_id TEXT,"
    "  message_id TEXT,"
    "  subject TEXT,"
    "  headers TEXT,"
    "  t REAL NOT NULL);"
    "CREATE INDEX IF NOT EXISTS mails_queue_id ON mails (queue_id);"
    "CREATE INDEX IF NOT EXISTS mails_message_id ON mails (message_id);"
    "CREATE INDEX IF NOT EXISTS mails_t ON mails (t);"
    "CREATE TABLE IF NOT EXISTS sms_status ("
    "  mail_key TEXT NOT NULL,"
    "  number TEXT NOT NULL,"
    "  t REAL NOT NULL,"
    "  status TEXT NOT NULL,"
    "  reason TEXT);"
    "CREATE INDEX IF NOT EXISTS sms_status_sms ON sms_status (mail_key, number);"
    "CREATE INDEX IF NOT EXISTS sms_status_t ON sms_status (t);"
    "CREATE TABLE IF NOT EXISTS counters ("
    "  name TEXT PRIMARY KEY,"
    "  n INTEGER NOT NULL);";

/* Wall-clock time: leases and rate windows are compared between processes,
 * so the monotonic clock (per boot, but not comparable in meaning across a
 * reboot) is not the right one here. */
static double wall_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void db_error(sq *st, const char *what)
{
    m2s_log(LOG_ERR, "state: %s: %s", what, sqlite3_errmsg(st->db));
}

static bool is_busy(int rc)
{
    rc &= 0xff;
    return rc == SQLITE_BUSY || rc == SQLITE_LOCKED;
}

/* A short random pause before trying again, so waiting processes spread out. */
static void backoff(void)
{
    unsigned char r = 0;
    if (m2s_random_bytes(&r, 1) < 0)
        r = 128;
    struct timespec ts = { 0, (long)(1000000 + (long)r * 20000) };   /* 1-6 ms */
    nanosleep(&ts, NULL);
}

/* Run sql (no rows expected), retrying while the database is busy. SQLite's
 * busy handler covers most waits; a few lock conflicts (WAL recovery, the
 * first switch to WAL) return SQLITE_BUSY at once, hence the loop. */
static int exec_retry(sqlite3 *db, const char *sql)
{
    double deadline = m2s_now() + BUSY_TIMEOUT_MS / 1000.0;
    for (;;) {
        int rc = sqlite3_exec(db, sql, NULL, NULL, NULL);
        if (rc == SQLITE_OK)
            return SQLITE_OK;
        if (!is_busy(rc) || m2s_now() >= deadline)
            return rc;
        backoff();
    }
}

static int begin(sq *st)
{
    if (exec_retry(st->db, "BEGIN IMMEDIATE") != SQLITE_OK) {
        db_error(st, "cannot start a transaction");
        return -1;
    }
    return 0;
}

static int commit(sq *st)
{
    if (exec_retry(st->db, "COMMIT") != SQLITE_OK) {
        db_error(st, "cannot commit");
        return -1;
    }
    return 0;
}

/* Undo an open transaction, if any (after an error). */
static void rollback(sq *st)
{
    if (!sqlite3_get_autocommit(st->db))
        sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
}

/* Prepare sql and bind its parameters in order from the variadic list, as
 * types says: 's' text (NULL binds NULL), 'd' double, 'l' long. NULL on
 * error (logged). The caller finalizes the statement. */
static sqlite3_stmt *prepare(sq *st, const char *sql, const char *types, ...)
{
    sqlite3_stmt *s = NULL;
    va_list ap;
    va_start(ap, types);
    if (sqlite3_prepare_v2(st->db, sql, -1, &s, NULL) != SQLITE_OK) {
        db_error(st, "cannot prepare a statement");
        goto fail;
    }
    for (int i = 0; types[i]; i++) {
        int rc;
        switch (types[i]) {
        case 's': {
            const char *v = va_arg(ap, const char *);
            rc = v ? sqlite3_bind_text(s, i + 1, v, -1, SQLITE_TRANSIENT)
                   : sqlite3_bind_null(s, i + 1);
            break;
        }
        case 'd':
            rc = sqlite3_bind_double(s, i + 1, va_arg(ap, double));
            break;
        case 'l':
            rc = sqlite3_bind_int64(s, i + 1, (sqlite3_int64)va_arg(ap, long));
            break;
        default:
            rc = SQLITE_MISUSE;
            break;
        }
        if (rc != SQLITE_OK) {
            db_error(st, "cannot bind a parameter");
            goto fail;
        }
    }
    va_end(ap);
    return s;
fail:
    va_end(ap);
    sqlite3_finalize(s);
    return NULL;
}

/* Step a statement that returns no rows, then finalize it. 0 or -1. */
static int run(sq *st, sqlite3_stmt *s, const char *what)
{
    int ret = 0;
    if (!s)
        return -1;
    if (sqlite3_step(s) != SQLITE_DONE) {
        db_error(st, what);
        ret = -1;
    }
    sqlite3_finalize(s);
    return ret;
}

/* Read PRAGMA user_version into *v. SQLite result code. */
static int read_user_version(sqlite3 *db, int *v)
{
    sqlite3_stmt *s = NULL;
    int rc = sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &s, NULL);
    if (rc == SQLITE_OK) {
        rc = sqlite3_step(s);
        if (rc == SQLITE_ROW) {
            *v = sqlite3_column_int(s, 0);
            rc = SQLITE_OK;
        }
    }
    sqlite3_finalize(s);
    return rc;
}

/* Switch to WAL (a lasting property of the database file) and check that it
 * took: WAL needs shared memory, so it fails e.g. on some network
 * filesystems, and we would rather defer than run without it. */
static int set_wal(sqlite3 *db, char **why)
{
    double deadline = m2s_now() + BUSY_TIMEOUT_MS / 1000.0;
    for (;;) {
        sqlite3_stmt *s = NULL;
        int rc = sqlite3_prepare_v2(db, "PRAGMA journal_mode=WAL", -1, &s, NULL);
        if (rc == SQLITE_OK)
            rc = sqlite3_step(s);
        if (rc == SQLITE_ROW) {
            const char *mode = (const char *)sqlite3_column_text(s, 0);
            bool wal = mode && strcmp(mode, "wal") == 0;
            if (!wal)
                *why = xasprintf("cannot switch to WAL mode (journal mode is %s)",
                                 mode ? mode : "unknown");
            sqlite3_finalize(s);
            return wal ? 0 : -1;
        }
        sqlite3_finalize(s);
        if (!is_busy(rc) || m2s_now() >= deadline) {
            *why = xasprintf("cannot switch to WAL mode: %s", sqlite3_errmsg(db));
            return -1;
        }
        backoff();
    }
}

/* Create the tables once, or migrate an older file; later opens only
 * read user_version. */
static int ensure_schema(sqlite3 *db, char **why)
{
    int v = 0;
    int rc = read_user_version(db, &v);
    if (rc == SQLITE_OK && v == SCHEMA_VERSION)
        return 0;
    if (rc == SQLITE_OK && v > SCHEMA_VERSION) {
        *why = xasprintf("schema version %d is newer than this program knows (%d)",
                         v, SCHEMA_VERSION);
        return -1;
    }
    if (rc == SQLITE_OK)
        rc = exec_retry(db, "BEGIN IMMEDIATE");
    if (rc == SQLITE_OK)
        rc = read_user_version(db, &v);     /* another process may have won */
    if (rc == SQLITE_OK && v < SCHEMA_VERSION) {
        /* Create, or migrate an older file: every step only adds. */
        if (v < 1)
            rc = sqlite3_exec(db, schema_v1_sql, NULL, NULL, NULL);
        if (rc == SQLITE_OK && v < 2)
            rc = sqlite3_exec(db, schema_v2_sql, NULL, NULL, NULL);
        if (rc == SQLITE_OK && v < 3)
            rc = sqlite3_exec(db, schema_v3_sql, NULL, NULL, NULL);
        if (rc == SQLITE_OK) {
            char sql[64];
            snprintf(sql, sizeof sql, "PRAGMA user_version=%d", SCHEMA_VERSION);
            rc = sqlite3_exec(db, sql, NULL, NULL, NULL);
        }
    } else if (rc == SQLITE_OK && v != SCHEMA_VERSION) {
        *why = xasprintf("schema version %d is newer than this program knows (%d)",
                         v, SCHEMA_VERSION);
        sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
        return -1;
    }
    if (rc == SQLITE_OK)
        rc = exec_retry(db, "COMMIT");
    if (rc != SQLITE_OK) {
        *why = xasprintf("cannot create the tables: %s", sqlite3_errmsg(db));
        if (!sqlite3_get_autocommit(db))
            sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
        return -1;
    }
    return 0;
}

void *m2s_state_sqlite_open(const char *dir, char **why)
{
    sq *st = NULL;
    sqlite3 *db = NULL;
    char *path = NULL;
    char *err = NULL;
    int fd;

    *why = NULL;
    if (!dir || !*dir) {
        err = xstrdup("no state directory configured");
        goto out;
    }
    if (mkdir(dir, 0750) < 0 && errno != EEXIST) {
        err = xasprintf("cannot create %s: %s", dir, strerror(errno));
        goto out;
    }
    path = xasprintf("%s/%s", dir, STATE_FILE);

    /* Create the file ourselves so its mode is 0640 (less if the umask says
     * so) instead of SQLite's 0644; SQLite gives the -wal and -shm files the
     * mode of the database file. */
    fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0640);
    if (fd < 0) {
        err = xasprintf("cannot open %s: %s", path, strerror(errno));
        goto out;
    }
    close(fd);

    int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX;
    if (sqlite3_open_v2(path, &db, flags, NULL) != SQLITE_OK) {
        err = xasprintf("cannot open %s: %s", path,
                        db ? sqlite3_errmsg(db) : "out of memory");
        goto out;
    }
    sqlite3_busy_timeout(db, BUSY_TIMEOUT_MS);
    /* Every mail is one short-lived process: keep the WAL file between
     * them and leave checkpoints to SQLite's automatic ones, instead of a
     * checkpoint, two more fsyncs and a file deletion at every exit. */
    sqlite3_db_config(db, SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, 1, (int *)NULL);
    int persist = 1;
    sqlite3_file_control(db, "main", SQLITE_FCNTL_PERSIST_WAL, &persist);

    char *e = NULL;
    if (set_wal(db, &e) < 0 || ensure_schema(db, &e) < 0) {
        err = xasprintf("%s: %s", path, e);
        free(e);
        goto out;
    }
    /* In WAL mode NORMAL never corrupts the database and survives a crash of
     * the process; only an OS crash or power loss may forget the last
     * commits. mark_sent, the one record whose loss means a second SMS,
     * commits with FULL. See docs/state.md. */
    if (sqlite3_exec(db, "PRAGMA synchronous=NORMAL", NULL, NULL, NULL) != SQLITE_OK) {
        err = xasprintf("%s: %s", path, sqlite3_errmsg(db));
        goto out;
    }

    st = xcalloc(1, sizeof *st);
    st->db = db;
    db = NULL;
out:
    if (db)
        sqlite3_close(db);
    free(path);
    if (err)
        *why = xasprintf("state store: %s", err);
    free(err);
    return st;
}

static void sq_close(void *b)
{
    sq *st = b;
    if (!st)
        return;
    if (st->db) {
        rollback(st);
        if (sqlite3_close(st->db) != SQLITE_OK)
            db_error(st, "cannot close");
    }
    free(st);
}

static m2s_claim sq_claim(void *b, const char *owner, const char *key, const char *number,
                          double lease_seconds)
{
    sq *st = b;
    m2s_claim res = M2S_CLAIM_ERROR;
    sqlite3_stmt *s = NULL;
    bool take = false;

    if (!st || !key || !number)
        return M2S_CLAIM_ERROR;
    if (begin(st) < 0)
        return M2S_CLAIM_ERROR;
    double now = wall_now();

    s = prepare(st, "SELECT state, owner, lease_until FROM journal"
                " WHERE mail_key = ?1 AND number = ?2", "ss", key, number);
    if (!s)
        goto out;
    int rc = sqlite3_step(s);
    if (rc == SQLITE_DONE) {
        take = true;                            /* nobody has it yet */
    } else if (rc == SQLITE_ROW) {
        const char *state = (const char *)sqlite3_column_text(s, 0);
        const char *holder = (const char *)sqlite3_column_text(s, 1);
        double lease_until = sqlite3_column_double(s, 2);
        if (state && strcmp(state, "sent") == 0)
            res = M2S_CLAIM_SENT;
        else if (holder && strcmp(holder, owner) == 0)
            take = true;                        /* ours: renew the lease */
        else if (lease_until > now)
            res = M2S_CLAIM_BUSY;               /* a live process has it */
        else
            take = true;                        /* its process died: take over */
    } else {
        db_error(st, "cannot read the journal");
        goto out;
    }
    sqlite3_finalize(s);
    s = NULL;

    if (take) {
        if (run(st, prepare(st, "INSERT OR REPLACE INTO journal"
                            " (mail_key, number, state, owner, lease_until, message_id, updated)"
                            " VALUES (?1, ?2, 'claimed', ?3, ?4, NULL, ?5)",
                            "sssdd", key, number, owner, now + lease_seconds, now),
                "cannot claim") < 0)
            goto out;
        res = M2S_CLAIM_OK;
    }
    if (commit(st) < 0)
        res = M2S_CLAIM_ERROR;
out:
    sqlite3_finalize(s);
    if (res == M2S_CLAIM_ERROR)
        rollback(st);
    return res;
}

static int sq_is_sent(void *b, const char *key, const char *number, bool *sent)
{
    sq *st = b;
    int ret = -1;
    *sent = false;
    if (!st || !key || !number)
        return -1;
    sqlite3_stmt *s = prepare(st, "SELECT 1 FROM journal WHERE mail_key = ?1 AND number = ?2"
                              " AND state = 'sent'", "ss", key, number);
    if (!s)
        return -1;
    int rc = sqlite3_step(s);
    if (rc == SQLITE_ROW) {
        *sent = true;
        ret = 0;
    } else if (rc == SQLITE_DONE) {
        ret = 0;
    } else {
        db_error(st, "cannot read the journal");
    }
    sqlite3_finalize(s);
    return ret;
}

static int sq_mark_sent(void *b, const char *owner, const char *key, const char *number,
                        const char *id, const m2s_sms_meta *meta)
{
    sq *st = b;
    int ret = -1;
    if (!st || !key || !number)
        return -1;
    /* This commit reaches the disk before we return (fsync of the WAL):
     * the caller is about to tell Postfix the number is done. */
    if (sqlite3_exec(st->db, "PRAGMA synchronous=FULL", NULL, NULL, NULL) != SQLITE_OK) {
        db_error(st, "cannot set synchronous mode");
        return -1;
    }
    if (begin(st) < 0)
        goto out;
    /* Recorded whoever holds the claim: the API has accepted the message,
     * and that fact is what a retry must see. (If our lease ran out and
     * another process took over, it may send too; forgetting ours would
     * only add a third.) A known message id is kept if we have none. */
    double now = wall_now();
    if (run(st, prepare(st, "INSERT OR REPLACE INTO journal"
                        " (mail_key, number, state, owner, lease_until, message_id, updated)"
                        " VALUES (?1, ?2, 'sent', ?3, NULL,"
                        "  coalesce(?4, (SELECT message_id FROM journal"
                        "                WHERE mail_key = ?1 AND number = ?2)), ?5)",
                        "ssssd", key, number, owner, id, now),
            "cannot record a sent message") < 0)
        goto out;
    /* Followed from now on: its first check in M2S_TRACK_FIRST seconds. */
    if (meta && id &&
        (run(st, prepare(st, "UPDATE journal SET alias = ?3, recipient = ?4, parts = ?5,"
                         " accepted = ?6, track_status = 'accepted', status_at = ?6,"
                         " next_check = ?6 + ?7, is_fallback = ?8"
                         " WHERE mail_key = ?1 AND number = ?2",
                         "ssssldll", key, number, meta->alias, meta->recipient,
                         (long)meta->parts, now, (long)M2S_TRACK_FIRST,
                         (long)(meta->fallback ? 1 : 0)),
             "cannot record a sent message") < 0 ||
         run(st, prepare(st, "INSERT INTO sms_status (mail_key, number, t, status, reason)"
                         " VALUES (?1, ?2, ?3, 'accepted', NULL)", "ssd", key, number, now),
             "cannot record a sent message") < 0))
        goto out;
    if (commit(st) < 0)
        goto out;
    ret = 0;
out:
    if (ret < 0)
        rollback(st);
    sqlite3_exec(st->db, "PRAGMA synchronous=NORMAL", NULL, NULL, NULL);
    return ret;
}

static int sq_release(void *b, const char *owner, const char *key, const char *number)
{
    sq *st = b;
    int ret = -1;
    if (!st || !key || !number)
        return -1;
    if (begin(st) < 0)
        return -1;
    if (run(st, prepare(st, "DELETE FROM journal WHERE mail_key = ?1 AND number = ?2"
                        " AND owner = ?3 AND state = 'claimed'",
                        "sss", key, number, owner),
            "cannot release a claim") < 0)
        goto out;
    if (commit(st) < 0)
        goto out;
    ret = 0;
out:
    if (ret < 0)
        rollback(st);
    return ret;
}

static int sq_rate_take(void *b, const char *kind, const char *who, long limit, bool *allowed)
{
    sq *st = b;
    int ret = -1;
    sqlite3_stmt *s = NULL;

    *allowed = false;
    if (!st || !kind || !who)
        return -1;
    if (limit <= 0) {
        *allowed = true;
        return 0;
    }
    if (begin(st) < 0)
        return -1;
    double now = wall_now();
    s = prepare(st, "SELECT count(*) FROM events WHERE kind = ?1 AND who = ?2 AND t > ?3",
                "ssd", kind, who, now - 3600.0);
    if (!s)
        goto out;
    if (sqlite3_step(s) != SQLITE_ROW) {
        db_error(st, "cannot count events");
        goto out;
    }
    sqlite3_int64 count = sqlite3_column_int64(s, 0);
    sqlite3_finalize(s);
    s = NULL;

    bool ok = count < (sqlite3_int64)limit;
    if (ok && run(st, prepare(st, "INSERT INTO events (kind, who, t) VALUES (?1, ?2, ?3)",
                              "ssd", kind, who, now),
                  "cannot record an event") < 0)
        goto out;
    if (commit(st) < 0)
        goto out;
    *allowed = ok;
    ret = 0;
out:
    sqlite3_finalize(s);
    if (ret < 0)
        rollback(st);
    return ret;
}

static int sq_rate_give_back(void *b, const char *kind, const char *who)
{
    sq *st = b;
    if (!st || !kind || !who)
        return -1;
    return run(st, prepare(st, "DELETE FROM events WHERE rowid = (SELECT rowid FROM events "
                               "WHERE kind = ?1 AND who = ?2 ORDER BY t DESC LIMIT 1)",
                           "ss", kind, who),
               "cannot give back an event") < 0 ? -1 : 0;
}

static int sq_suppressed_add(void *b, const char *number)
{
    sq *st = b;
    int ret = -1;
    if (!st || !number)
        return -1;
    if (begin(st) < 0)
        return -1;
    double now = wall_now();
    if (run(st, prepare(st, "UPDATE suppressed SET n = n + 1, updated = ?2 WHERE number = ?1",
                        "sd", number, now),
            "cannot count a suppressed message") < 0)
        goto out;
    if (sqlite3_changes(st->db) == 0 &&
        run(st, prepare(st, "INSERT INTO suppressed (number, n, updated) VALUES (?1, 1, ?2)",
                        "sd", number, now),
            "cannot count a suppressed message") < 0)
        goto out;
    if (commit(st) < 0)
        goto out;
    ret = 0;
out:
    if (ret < 0)
        rollback(st);
    return ret;
}

static int sq_suppressed_take(void *b, const char *number, long *n)
{
    sq *st = b;
    int ret = -1;
    sqlite3_stmt *s = NULL;
    long count = 0;

    *n = 0;
    if (!st || !number)
        return -1;
    if (begin(st) < 0)
        return -1;
    s = prepare(st, "SELECT n FROM suppressed WHERE number = ?1", "s", number);
    if (!s)
        goto out;
    int rc = sqlite3_step(s);
    if (rc == SQLITE_ROW) {
        count = (long)sqlite3_column_int64(s, 0);
    } else if (rc != SQLITE_DONE) {
        db_error(st, "cannot read the suppressed count");
        goto out;
    }
    sqlite3_finalize(s);
    s = NULL;
    if (rc == SQLITE_ROW &&
        run(st, prepare(st, "DELETE FROM suppressed WHERE number = ?1", "s", number),
            "cannot reset the suppressed count") < 0)
        goto out;
    if (commit(st) < 0)
        goto out;
    *n = count;
    ret = 0;
out:
    sqlite3_finalize(s);
    if (ret < 0)
        rollback(st);
    return ret;
}

static int sq_purge(void *b, long days)
{
    sq *st = b;
    int ret = -1;
    if (!st)
        return -1;
    if (begin(st) < 0)
        return -1;
    double now = wall_now();
    /* days <= 0 keeps the journal: purging entries of mail still in the
     * queue would make its retry send again. */
    if (days > 0) {
        double cutoff = now - (double)days * 86400.0;
        if (run(st, prepare(st, "DELETE FROM journal WHERE updated < ?1", "d", cutoff),
                "cannot purge the journal") < 0 ||
            run(st, prepare(st, "DELETE FROM mails WHERE t < ?1", "d", cutoff),
                "cannot purge the journal") < 0 ||
            run(st, prepare(st, "DELETE FROM sms_status WHERE t < ?1", "d", cutoff),
                "cannot purge the journal") < 0 ||
            run(st, prepare(st, "DELETE FROM suppressed WHERE updated < ?1", "d", cutoff),
                "cannot purge suppressed counts") < 0)
            goto out;
    }
    if (run(st, prepare(st, "DELETE FROM events WHERE t < ?1", "d", now - EVENT_KEEP_SECONDS),
            "cannot purge rate-limit events") < 0 ||
        run(st, prepare(st, "DELETE FROM recent WHERE t < ?1", "d", now - RECENT_KEEP_SECONDS),
            "cannot purge recent texts") < 0)
        goto out;
    if (commit(st) < 0)
        goto out;
    ret = 0;
out:
    if (ret < 0)
        rollback(st);
    return ret;
}

static int sq_dup_take(void *b, const char *number, const char *digest, const char *key,
                       double window, bool *dup)
{
    sq *st = b;
    int ret = -1;
    sqlite3_stmt *s = NULL;

    *dup = false;
    if (begin(st) < 0)
        return -1;
    double now = wall_now();
    s = prepare(st, "SELECT mail_key, t FROM recent WHERE number = ?1 AND digest = ?2",
                "ss", number, digest);
    if (!s)
        goto out;
    int rc = sqlite3_step(s);
    bool take = true;
    if (rc == SQLITE_ROW) {
        const char *holder = (const char *)sqlite3_column_text(s, 0);
        double t = sqlite3_column_double(s, 1);
        if (holder && strcmp(holder, key) == 0)
            take = false;                   /* ours already (a retry) */
        else if (t > now - window) {
            take = false;
            *dup = true;                    /* another mail sent it inside the window */
        }
    } else if (rc != SQLITE_DONE) {
        db_error(st, "cannot read recent texts");
        goto out;
    }
    sqlite3_finalize(s);
    s = NULL;
    if (take && run(st, prepare(st, "INSERT OR REPLACE INTO recent (number, digest, mail_key, t)"
                                " VALUES (?1, ?2, ?3, ?4)", "sssd", number, digest, key, now),
                    "cannot record a recent text") < 0)
        goto out;
    if (commit(st) < 0)
        goto out;
    ret = 0;
out:
    sqlite3_finalize(s);
    if (ret < 0) {
        *dup = false;
        rollback(st);
    }
    return ret;
}

static int sq_dup_give_back(void *b, const char *number, const char *digest, const char *key)
{
    sq *st = b;
    return run(st, prepare(st, "DELETE FROM recent WHERE number = ?1 AND digest = ?2"
                               " AND mail_key = ?3", "sss", number, digest, key),
               "cannot forget a recent text");
}

static int sq_rate_lease(void *b, const char *bucket, long n, double interval, double *delay)
{
    sq *st = b;
    int ret = -1;
    sqlite3_stmt *s = NULL;

    *delay = 0;
    if (begin(st) < 0)
        return -1;
    double now = wall_now();
    double start = now;
    s = prepare(st, "SELECT next_at FROM rate_cap WHERE bucket = ?1", "s", bucket);
    if (!s)
        goto out;
    int rc = sqlite3_step(s);
    if (rc == SQLITE_ROW) {
        double next_at = sqlite3_column_double(s, 0);
        if (next_at > start)
            start = next_at;
    } else if (rc != SQLITE_DONE) {
        db_error(st, "cannot read the rate cap");
        goto out;
    }
    sqlite3_finalize(s);
    s = NULL;
    if (run(st, prepare(st, "INSERT OR REPLACE INTO rate_cap (bucket, next_at) VALUES (?1, ?2)",
                        "sd", bucket, start + (double)n * interval),
            "cannot lease from the rate cap") < 0)
        goto out;
    if (commit(st) < 0)
        goto out;
    *delay = start - now;
    ret = 0;
out:
    sqlite3_finalize(s);
    if (ret < 0)
        rollback(st);
    return ret;
}

static m2s_outage sq_outage_check(void *b, const char *owner, double hold, double *since,
                                  double *next_probe)
{
    sq *st = b;
    m2s_outage res = M2S_OUTAGE_ERROR;
    sqlite3_stmt *s = NULL;

    *since = *next_probe = 0;
    if (begin(st) < 0)
        return M2S_OUTAGE_ERROR;
    double now = wall_now();
    s = prepare(st, "SELECT since, next_probe, prober, probe_until FROM outage"
                " WHERE name = 'bird'", "");
    if (!s)
        goto out;
    int rc = sqlite3_step(s);
    bool probe = false;
    if (rc == SQLITE_DONE) {
        res = M2S_OUTAGE_NONE;
    } else if (rc == SQLITE_ROW) {
        *since = sqlite3_column_double(s, 0);
        *next_probe = sqlite3_column_double(s, 1);
        const char *prober = (const char *)sqlite3_column_text(s, 2);
        double probe_until = sqlite3_column_double(s, 3);
        bool probing = prober && probe_until > now && strcmp(prober, owner) != 0;
        probe = *next_probe <= now && !probing;
        res = probe ? M2S_OUTAGE_PROBE : M2S_OUTAGE_DEFER;
    } else {
        db_error(st, "cannot read the outage record");
        goto out;
    }
    sqlite3_finalize(s);
    s = NULL;
    if (probe && run(st, prepare(st, "UPDATE outage SET prober = ?1, probe_until = ?2"
                                 " WHERE name = 'bird'", "sd", owner, now + hold),
                     "cannot take the probe") < 0) {
        res = M2S_OUTAGE_ERROR;
        goto out;
    }
    if (commit(st) < 0)
        res = M2S_OUTAGE_ERROR;
out:
    sqlite3_finalize(s);
    if (res == M2S_OUTAGE_ERROR)
        rollback(st);
    return res;
}

static int sq_outage_report(void *b, const char *owner, bool answered, double probe_after)
{
    sq *st = b;
    int ret = -1;
    if (answered)
        return run(st, prepare(st, "DELETE FROM outage WHERE name = 'bird'", ""),
                   "cannot end the outage record");
    if (begin(st) < 0)
        return -1;
    double now = wall_now();
    /* Begin the outage, or move its next probe on; a live probe of
     * another process is left to report for itself. */
    if (run(st, prepare(st, "INSERT INTO outage (name, since, next_probe, prober, probe_until)"
                        " VALUES ('bird', ?1, ?2, NULL, 0)"
                        " ON CONFLICT (name) DO UPDATE SET next_probe = ?2, prober = NULL,"
                        "  probe_until = 0"
                        " WHERE prober IS NULL OR prober = ?3 OR probe_until <= ?1",
                        "dds", now, now + probe_after, owner),
            "cannot record the outage") < 0)
        goto out;
    if (commit(st) < 0)
        goto out;
    ret = 0;
out:
    if (ret < 0)
        rollback(st);
    return ret;
}

/* ------------------------------------------------------------ tracking */

/* The columns of a followed SMS, in the order read_tracked reads them. */
#define TRACKED_COLUMNS \
    "j.mail_key, j.number, j.message_id, j.alias, j.recipient, j.parts, j.accepted," \
    " j.track_status, j.status_at, j.reason, j.source, j.outcome, j.checks," \
    " j.is_fallback, j.actions_due, j.notify, j.fallback, j.next_check," \
    " m.sender, m.queue_id, m.message_id, m.subject, m.headers"

static char *col_text(sqlite3_stmt *s, int i)
{
    const unsigned char *t = sqlite3_column_text(s, i);
    return t ? xstrdup((const char *)t) : NULL;
}

static void read_tracked(sqlite3_stmt *s, m2s_tracked *t)
{
    memset(t, 0, sizeof *t);
    t->key = col_text(s, 0);
    t->number = col_text(s, 1);
    t->bird_id = col_text(s, 2);
    t->alias = col_text(s, 3);
    t->recipient = col_text(s, 4);
    t->parts = sqlite3_column_int(s, 5);
    t->accepted = sqlite3_column_double(s, 6);
    t->status = col_text(s, 7);
    t->status_at = sqlite3_column_double(s, 8);
    t->reason = col_text(s, 9);
    t->source = col_text(s, 10);
    t->outcome = col_text(s, 11);
    t->checks = (long)sqlite3_column_int64(s, 12);
    t->fallback = sqlite3_column_int(s, 13) != 0;
    t->actions_due = sqlite3_column_int(s, 14) != 0;
    t->notify = col_text(s, 15);
    t->fallback_state = col_text(s, 16);
    t->next_check = sqlite3_column_double(s, 17);
    t->sender = col_text(s, 18);
    t->queue_id = col_text(s, 19);
    t->message_id = col_text(s, 20);
    t->subject = col_text(s, 21);
    t->headers = col_text(s, 22);
}

/* Every row of s into a new array. 0 or -1 (the rows read so far are
 * given back, to be cleared by the caller). */
static int read_all_tracked(sq *st, sqlite3_stmt *s, m2s_tracked **out, size_t *n)
{
    size_t cap = 0;
    int rc;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        if (*n == cap) {
            cap = cap ? 2 * cap : 16;
            *out = xrealloc(*out, cap * sizeof **out);
        }
        read_tracked(s, &(*out)[(*n)++]);
    }
    if (rc != SQLITE_DONE) {
        db_error(st, "cannot read the journal");
        return -1;
    }
    return 0;
}

static int sq_mail_note(void *b, const char *key, const m2s_mail_meta *m)
{
    sq *st = b;
    return run(st, prepare(st, "INSERT OR REPLACE INTO mails (mail_key, sender, queue_id,"
                               " message_id, subject, headers, t) VALUES (?1, ?2, ?3, ?4, ?5,"
                               " ?6, ?7)", "ssssssd", key, m->sender, m->queue_id,
                           m->message_id, m->subject, m->headers, wall_now()),
               "cannot remember the mail");
}

/* What a tracker may take: due (or actions unfinished) and nobody's, not
 * even its own: what it kept (actions deferred) waits for the lease. */
#define TAKE_WHERE \
    " j.track_status IS NOT NULL" \
    " AND ((j.outcome IS NULL AND j.next_check <= ?2) OR j.actions_due = 1)" \
    " AND (j.track_owner IS NULL OR j.track_until <= ?2)"

static int sq_track_take(void *b, const char *owner, long limit, double lease, bool peek,
                         m2s_tracked **out, size_t *n)
{
    sq *st = b;
    int ret = -1;
    sqlite3_stmt *s = NULL;
    *out = NULL;
    *n = 0;
    if (begin(st) < 0)
        return -1;
    double now = wall_now();
    if (peek) {
        s = prepare(st, "SELECT " TRACKED_COLUMNS " FROM journal j LEFT JOIN mails m"
                    " USING (mail_key) WHERE" TAKE_WHERE " ORDER BY j.next_check LIMIT ?3",
                    "sdl", owner, now, limit);
    } else {
        if (run(st, prepare(st, "UPDATE journal SET track_owner = ?1, track_until = ?4"
                            " WHERE rowid IN (SELECT j.rowid FROM journal j WHERE" TAKE_WHERE
                            " ORDER BY j.next_check LIMIT ?3)",
                            "sdld", owner, now, limit, now + lease),
                "cannot claim SMS to follow") < 0)
            goto out;
        s = prepare(st, "SELECT " TRACKED_COLUMNS " FROM journal j LEFT JOIN mails m"
                    " USING (mail_key) WHERE j.track_owner = ?1 AND j.track_until = ?2"
                    " ORDER BY j.next_check", "sd", owner, now + lease);
    }
    if (!s || read_all_tracked(st, s, out, n) < 0)
        goto out;
    sqlite3_finalize(s);
    s = NULL;
    if (commit(st) < 0)
        goto out;
    ret = 0;
out:
    sqlite3_finalize(s);
    if (ret < 0)
        rollback(st);
    return ret;
}

static int sq_track_apply(void *b, const char *owner, const char *key, const char *number,
                          const m2s_track_event *ev, bool *applied)
{
    sq *st = b;
    int ret = -1;
    sqlite3_stmt *s = NULL;
    char *old = NULL;
    *applied = false;
    if (begin(st) < 0)
        return -1;
    double now = wall_now();
    s = prepare(st, "SELECT track_status FROM journal WHERE mail_key = ?1 AND number = ?2"
                " AND track_status IS NOT NULL AND outcome IS NULL", "ss", key, number);
    if (!s)
        goto out;
    int rc = sqlite3_step(s);
    if (rc == SQLITE_DONE) {
        ret = commit(st);       /* done already, or not followed */
        goto out;
    }
    if (rc != SQLITE_ROW) {
        db_error(st, "cannot read the journal");
        goto out;
    }
    old = col_text(s, 0);
    sqlite3_finalize(s);
    s = NULL;
    bool news = ev->status && (!old || strcmp(old, ev->status) != 0);
    /* The claim is kept for on_failure actions still to be done, by
     * owner or (a webhook, without a claim) by the next tracker. */
    if (run(st, prepare(st, "UPDATE journal SET"
                        " track_status = coalesce(?3, track_status),"
                        " status_at = CASE WHEN ?4 THEN ?5 ELSE status_at END,"
                        " reason = CASE WHEN ?3 IS NULL THEN reason ELSE ?6 END,"
                        " source = CASE WHEN ?3 IS NULL THEN source ELSE ?7 END,"
                        " outcome = ?8, checks = checks + ?9, next_check = ?5 + ?10,"
                        " actions_due = ?11,"
                        " track_owner = CASE WHEN ?11 THEN coalesce(?12, track_owner) ELSE NULL END,"
                        " track_until = CASE WHEN ?11 THEN track_until ELSE NULL END"
                        " WHERE mail_key = ?1 AND number = ?2",
                        "sssldsssldls", key, number, ev->status, (long)news, now, ev->reason,
                        ev->source, ev->outcome, (long)(ev->answered ? 1 : 0), ev->next_in,
                        (long)(ev->outcome && ev->actions_due ? 1 : 0), owner),
            "cannot record a status") < 0)
        goto out;
    if (news && run(st, prepare(st, "INSERT INTO sms_status (mail_key, number, t, status,"
                                " reason) VALUES (?1, ?2, ?3, ?4, ?5)", "ssdss", key, number,
                                now, ev->status, ev->reason),
                    "cannot record a status") < 0)
        goto out;
    if (ev->outcome) {
        char *name = xasprintf("final:%s", ev->outcome);
        int r = run(st, prepare(st, "INSERT INTO counters (name, n) VALUES (?1, 1)"
                                " ON CONFLICT (name) DO UPDATE SET n = n + 1", "s", name),
                    "cannot count");
        free(name);
        if (r < 0)
            goto out;
    }
    if (commit(st) < 0)
        goto out;
    *applied = true;
    ret = 0;
out:
    free(old);
    sqlite3_finalize(s);
    if (ret < 0) {
        *applied = false;
        rollback(st);
    }
    return ret;
}

static int sq_track_action(void *b, const char *owner, const char *key, const char *number,
                           const char *which, const char *value, bool *ok)
{
    sq *st = b;
    int ret = -1;
    char *sql = NULL;
    (void)owner;            /* the caller holds the claim of the row */
    *ok = false;
    if (strcmp(which, "done") == 0) {
        ret = run(st, prepare(st, "UPDATE journal SET actions_due = 0, track_owner = NULL,"
                              " track_until = NULL WHERE mail_key = ?1 AND number = ?2",
                              "ss", key, number), "cannot record an action");
    } else if (strcmp(which, "notify") == 0 || strcmp(which, "fallback") == 0) {
        bool take = value && strcmp(value, "sending") == 0;
        sql = xasprintf("UPDATE journal SET %s = ?3 WHERE mail_key = ?1 AND number = ?2%s",
                        which, take ? " AND " : "");
        if (take) {
            char *w = xasprintf("%s%s IS NULL", sql, which);
            free(sql);
            sql = w;
        }
        ret = run(st, prepare(st, sql, "sss", key, number, value), "cannot record an action");
    }
    if (ret == 0)
        *ok = sqlite3_changes(st->db) > 0;
    free(sql);
    return ret;
}

static int sq_track_find(void *b, const char *query, m2s_tracked **out, size_t *n)
{
    sq *st = b;
    *out = NULL;
    *n = 0;
    sqlite3_stmt *s = prepare(st, "SELECT " TRACKED_COLUMNS " FROM journal j LEFT JOIN mails m"
                              " USING (mail_key) WHERE j.track_status IS NOT NULL AND"
                              " (m.queue_id = ?1 OR m.message_id = ?1"
                              "  OR m.message_id = '<' || ?1 || '>' OR j.number = ?1"
                              "  OR j.number = '+' || ?1 OR j.alias = ?1 COLLATE NOCASE"
                              "  OR j.message_id = ?1 OR j.mail_key = ?1)"
                              " ORDER BY j.accepted, j.number", "s", query);
    if (!s)
        return -1;
    int ret = read_all_tracked(st, s, out, n);
    sqlite3_finalize(s);
    return ret;
}

static int sq_counter_add(void *b, const char *name, long n)
{
    sq *st = b;
    return run(st, prepare(st, "INSERT INTO counters (name, n) VALUES (?1, ?2)"
                               " ON CONFLICT (name) DO UPDATE SET n = n + ?2", "sl", name, n),
               "cannot count");
}

static int sq_metrics(void *b, m2s_counter **out, size_t *n, long *followed, double *oldest)
{
    sq *st = b;
    int ret = -1;
    size_t cap = 0;
    *out = NULL;
    *n = 0;
    *followed = 0;
    *oldest = 0;
    sqlite3_stmt *s = prepare(st, "SELECT name, n FROM counters ORDER BY name", "");
    if (!s)
        return -1;
    int rc;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        if (*n == cap) {
            cap = cap ? 2 * cap : 16;
            *out = xrealloc(*out, cap * sizeof **out);
        }
        (*out)[*n].name = col_text(s, 0);
        (*out)[*n].n = sqlite3_column_int64(s, 1);
        (*n)++;
    }
    if (rc != SQLITE_DONE) {
        db_error(st, "cannot read the counters");
        goto out;
    }
    sqlite3_finalize(s);
    s = prepare(st, "SELECT count(*), coalesce(min(accepted), 0) FROM journal"
                " WHERE track_status IS NOT NULL AND outcome IS NULL", "");
    if (!s || sqlite3_step(s) != SQLITE_ROW) {
        db_error(st, "cannot count the SMS followed");
        goto out;
    }
    *followed = (long)sqlite3_column_int64(s, 0);
    *oldest = sqlite3_column_double(s, 1);
    ret = 0;
out:
    sqlite3_finalize(s);
    return ret;
}

const m2s_state_ops m2s_state_sqlite_ops = {
    .name = "sqlite",
    .close = sq_close,
    .claim = sq_claim,
    .is_sent = sq_is_sent,
    .mark_sent = sq_mark_sent,
    .release = sq_release,
    .rate_take = sq_rate_take,
    .rate_give_back = sq_rate_give_back,
    .suppressed_add = sq_suppressed_add,
    .suppressed_take = sq_suppressed_take,
    .dup_take = sq_dup_take,
    .dup_give_back = sq_dup_give_back,
    .rate_lease = sq_rate_lease,
    .outage_check = sq_outage_check,
    .outage_report = sq_outage_report,
    .purge = sq_purge,
    .mail_note = sq_mail_note,
    .track_take = sq_track_take,
    .track_apply = sq_track_apply,
    .track_action = sq_track_action,
    .track_find = sq_track_find,
    .counter_add = sq_counter_add,
    .metrics = sq_metrics,
};
