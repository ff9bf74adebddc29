/* check_state.c - unit tests for the state store, on both backends.
 *
 * Every test of the interface runs twice: on SQLite (a fresh directory
 * from mkdtemp, removed afterwards) and on PostgreSQL (a private cluster
 * started for this run by tests/pg_instance.py, its tables dropped before
 * each test). Old rows (for the rate window and purging) are made by
 * editing the database directly, as an administrator could.
 *
 * Without PostgreSQL (no initdb) the second half is skipped with a note,
 * unless M2S_REQUIRE_POSTGRESQL=1 makes that a failure.
 *
 * The tests that fork many processes are slow under valgrind; set
 * M2S_TEST_NO_FORK=1 to skip them (e.g. for a CK_FORK=no valgrind run).
 */
#include "build-config.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <libpq-fe.h>
#include <signal.h>
#include <stdarg.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "state.h"
#include "unit.h"
#include "util.h"

static char tmpdir[64];
static bool on_pg;                  /* the backend of the running test */
static char *pg_conninfo;           /* the private cluster's superuser */
static char *pg_password;           /* role m2s_pw's password */
static pid_t pg_helper;
static FILE *pg_helper_in;
static pid_t main_pid;

static void pg_exec_ok(const char *q);

static void setup(void)
{
    strcpy(tmpdir, "/tmp/check_state.XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(tmpdir));
}

static void setup_sqlite(void)
{
    on_pg = false;
    setup();
}

/* A fresh database for each test: no tables, then this version's. */
static void setup_pg(void)
{
    on_pg = true;
    setup();
    pg_exec_ok("DROP TABLE IF EXISTS m2s_schema, journal, events, suppressed, recent,"
               " rate_cap, outage, mails, sms_status, counters");
    m2s_state_where w = { M2S_BACKEND_POSTGRESQL, NULL, pg_conninfo, NULL };
    char *why = NULL;
    FILE *devnull = fopen("/dev/null", "w");
    int rc = m2s_state_init(&w, devnull, &why);
    fclose(devnull);
    if (rc != 0)
        ck_abort_msg("m2s_state_init: %s", why ? why : "?");
    /* The tables belong to the superuser that made them; the password
     * role uses them as a relay's role would. */
    pg_exec_ok("GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO m2s_pw;"
               "GRANT USAGE ON ALL SEQUENCES IN SCHEMA public TO m2s_pw");
}

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb; (void)flag; (void)ftw;
    return remove(path);
}

static void teardown(void)
{
    nftw(tmpdir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

static bool no_fork(void)
{
    const char *v = getenv("M2S_TEST_NO_FORK");
    return v && *v && strcmp(v, "0") != 0;
}

/* The state directory inside the test's temporary directory. */
static char *state_dir(void)
{
    return xasprintf("%s/state", tmpdir);
}

/* Where the test's store is: dir for SQLite, the cluster for PostgreSQL. */
static m2s_state_where where_of(const char *dir)
{
    m2s_state_where w = { on_pg ? M2S_BACKEND_POSTGRESQL : M2S_BACKEND_SQLITE, dir,
                          pg_conninfo, NULL };
    return w;
}

static m2s_state *try_open(const char *dir, char **why)
{
    m2s_state_where w = where_of(dir);
    return m2s_state_open(&w, why);
}

static m2s_state *open_ok(const char *dir)
{
    char *why = NULL;
    m2s_state *st = try_open(dir, &why);
    if (!st)
        ck_abort_msg("m2s_state_open(%s): %s", on_pg ? pg_conninfo : dir,
                     why ? why : "(no reason)");
    ck_assert_ptr_null(why);
    return st;
}

static void pg_quiet(void *arg, const char *message)
{
    (void)arg, (void)message;
}

static PGconn *pg_connect(void)
{
    PGconn *c = PQconnectdb(pg_conninfo);
    if (PQstatus(c) != CONNECTION_OK)
        ck_abort_msg("cannot connect to the test cluster: %s", PQerrorMessage(c));
    PQsetNoticeProcessor(c, pg_quiet, NULL);
    return c;
}

static void pg_exec_ok(const char *q)
{
    PGconn *c = pg_connect();
    PGresult *r = PQexec(c, q);
    ExecStatusType t = PQresultStatus(r);
    if (t != PGRES_COMMAND_OK && t != PGRES_TUPLES_OK)
        ck_abort_msg("%s: %s", q, PQresultErrorMessage(r));
    PQclear(r);
    PQfinish(c);
}

/* Run SQL directly on the state database. */
static void sql(const char *dir, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *q = xvasprintf(fmt, ap);
    va_end(ap);
    if (on_pg) {
        pg_exec_ok(q);
        free(q);
        return;
    }
    char *path = xasprintf("%s/state.sqlite", dir);
    sqlite3 *db = NULL;
    char *err = NULL;
    ck_assert_int_eq(sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL), SQLITE_OK);
    sqlite3_busy_timeout(db, 5000);
    int rc = sqlite3_exec(db, q, NULL, NULL, &err);
    if (rc != SQLITE_OK)
        ck_abort_msg("%s: %s", q, err ? err : "?");
    sqlite3_close(db);
    free(path);
    free(q);
}

/* One integer from a query run directly on the state database. */
static long sql_long(const char *dir, const char *q)
{
    long v = 0;
    if (on_pg) {
        PGconn *c = pg_connect();
        PGresult *r = PQexec(c, q);
        if (PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) != 1)
            ck_abort_msg("%s: %s", q, PQresultErrorMessage(r));
        v = atol(PQgetvalue(r, 0, 0));
        PQclear(r);
        PQfinish(c);
        return v;
    }
    char *path = xasprintf("%s/state.sqlite", dir);
    sqlite3 *db = NULL;
    sqlite3_stmt *s = NULL;
    ck_assert_int_eq(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    ck_assert_int_eq(sqlite3_prepare_v2(db, q, -1, &s, NULL), SQLITE_OK);
    ck_assert_int_eq(sqlite3_step(s), SQLITE_ROW);
    v = (long)sqlite3_column_int64(s, 0);
    sqlite3_finalize(s);
    sqlite3_close(db);
    free(path);
    return v;
}

/* Set the schema version the database says it has. */
static void set_schema_version(const char *dir, int v)
{
    if (on_pg)
        sql(dir, "UPDATE m2s_schema SET version = %d", v);
    else
        sql(dir, "PRAGMA user_version = %d", v);
}

static double wall(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void sleep_s(double s)
{
    struct timespec ts = { (time_t)s, (long)((s - (double)(time_t)s) * 1e9) };
    while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
        ;
}

/* ------------------------------------------------------------ open */

START_TEST(test_open_creates)
{
    char *dir = state_dir();
    mode_t old = umask(022);
    m2s_state *st = open_ok(dir);
    umask(old);

    struct stat sb;
    ck_assert_int_eq(stat(dir, &sb), 0);
    ck_assert(S_ISDIR(sb.st_mode));
    ck_assert_int_eq(sb.st_mode & 07777, 0750);
    char *db = xasprintf("%s/state.sqlite", dir);
    ck_assert_int_eq(stat(db, &sb), 0);
    ck_assert(S_ISREG(sb.st_mode));
    ck_assert_int_eq(sb.st_mode & 07777, 0640);
    ck_assert_int_eq(sql_long(dir, "PRAGMA user_version"), M2S_STATE_SCHEMA_VERSION);
    ck_assert_int_eq(sql_long(dir, "SELECT count(*) FROM sqlite_master WHERE type = 'table'"
                                   " AND name IN ('journal', 'events', 'suppressed')"), 3);
    m2s_state_close(st);

    /* The WAL mode is a property of the file: check it from outside. */
    char *path = xasprintf("%s/state.sqlite", dir);
    sqlite3 *raw = NULL;
    sqlite3_stmt *s = NULL;
    ck_assert_int_eq(sqlite3_open_v2(path, &raw, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    ck_assert_int_eq(sqlite3_prepare_v2(raw, "PRAGMA journal_mode", -1, &s, NULL), SQLITE_OK);
    ck_assert_int_eq(sqlite3_step(s), SQLITE_ROW);
    ck_assert_str_eq((const char *)sqlite3_column_text(s, 0), "wal");
    sqlite3_finalize(s);
    sqlite3_close(raw);

    /* Opening again keeps what was stored. */
    st = open_ok(dir);
    ck_assert_int_eq(m2s_state_mark_sent(st, "k", "+31600000001", "id1"), 0);
    m2s_state_close(st);
    st = open_ok(dir);
    ck_assert_int_eq(m2s_state_claim(st, "k", "+31600000001", 30), M2S_CLAIM_SENT);
    m2s_state_close(st);
    free(path);
    free(db);
    free(dir);
}
END_TEST

START_TEST(test_open_under_file)
{
    char *file = xasprintf("%s/plain", tmpdir);
    int fd = open(file, O_WRONLY | O_CREAT, 0600);
    ck_assert_int_ge(fd, 0);
    close(fd);
    char *dir = xasprintf("%s/sub", file);
    char *why = NULL;
    m2s_state *st = try_open(dir, &why);
    ck_assert_ptr_null(st);
    ck_assert_ptr_nonnull(why);
    ck_assert_ptr_nonnull(strstr(why, dir));
    free(why);

    /* Missing parents are not created. */
    free(dir);
    dir = xasprintf("%s/no/such", tmpdir);
    why = NULL;
    ck_assert_ptr_null(try_open(dir, &why));
    ck_assert_ptr_nonnull(why);
    free(why);

    why = NULL;
    ck_assert_ptr_null(try_open("", &why));
    ck_assert_ptr_nonnull(why);
    free(why);
    free(dir);
    free(file);
}
END_TEST

START_TEST(test_open_not_a_database)
{
    char *dir = state_dir();
    ck_assert_int_eq(mkdir(dir, 0750), 0);
    char *path = xasprintf("%s/state.sqlite", dir);
    FILE *f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    for (int i = 0; i < 200; i++)
        fputs("this is not an SQLite database\n", f);
    fclose(f);
    char *why = NULL;
    ck_assert_ptr_null(try_open(dir, &why));
    ck_assert_ptr_nonnull(why);
    ck_assert_ptr_nonnull(strstr(why, "state.sqlite"));
    free(why);
    free(path);
    free(dir);
}
END_TEST

START_TEST(test_open_unwritable)
{
    if (geteuid() == 0)
        return;                 /* root writes anywhere: nothing to test */
    char *dir = state_dir();
    m2s_state *st = open_ok(dir);
    m2s_state_close(st);
    ck_assert_int_eq(chmod(dir, 0500), 0);
    char *why = NULL;
    st = try_open(dir, &why);
    chmod(dir, 0750);
    if (st)
        m2s_state_close(st);
    ck_assert_ptr_null(st);
    ck_assert_ptr_nonnull(why);
    free(why);
    free(dir);
}
END_TEST

START_TEST(test_newer_schema_refused)
{
    char *dir = state_dir();
    m2s_state_close(open_ok(dir));
    set_schema_version(dir, 99);
    char *why = NULL;
    ck_assert_ptr_null(try_open(dir, &why));
    ck_assert_ptr_nonnull(why);
    ck_assert_ptr_nonnull(strstr(why, "99"));
    ck_assert_ptr_nonnull(strstr(why, "newer"));
    free(why);
    free(dir);
}
END_TEST

/* ------------------------------------------------------------ journal */

START_TEST(test_claim_mark_claim)
{
    char *dir = state_dir();
    m2s_state *st = open_ok(dir);
    bool sent = true;
    ck_assert_int_eq(m2s_state_claim(st, "<a@x>", "+31611111111", 30), M2S_CLAIM_OK);
    /* Claimed is not sent. */
    ck_assert_int_eq(m2s_state_is_sent(st, "<a@x>", "+31611111111", &sent), 0);
    ck_assert(!sent);
    /* Our own claim is still ours. */
    ck_assert_int_eq(m2s_state_claim(st, "<a@x>", "+31611111111", 30), M2S_CLAIM_OK);
    ck_assert_int_eq(m2s_state_mark_sent(st, "<a@x>", "+31611111111", "msg-1"), 0);
    ck_assert_int_eq(m2s_state_claim(st, "<a@x>", "+31611111111", 30), M2S_CLAIM_SENT);
    ck_assert_int_eq(m2s_state_is_sent(st, "<a@x>", "+31611111111", &sent), 0);
    ck_assert(sent);
    ck_assert_int_eq(m2s_state_is_sent(st, "<a@x>", "+31699999999", &sent), 0);
    ck_assert(!sent);
    /* Another mail, or another number, is independent. */
    ck_assert_int_eq(m2s_state_claim(st, "<b@x>", "+31611111111", 30), M2S_CLAIM_OK);
    ck_assert_int_eq(m2s_state_claim(st, "<a@x>", "+31622222222", 30), M2S_CLAIM_OK);

    /* Another process sees SENT too. */
    m2s_state *other = open_ok(dir);
    ck_assert_int_eq(m2s_state_claim(other, "<a@x>", "+31611111111", 30), M2S_CLAIM_SENT);
    /* Release does not undo a sent entry. */
    ck_assert_int_eq(m2s_state_release(st, "<a@x>", "+31611111111"), 0);
    ck_assert_int_eq(m2s_state_claim(other, "<a@x>", "+31611111111", 30), M2S_CLAIM_SENT);
    m2s_state_close(other);

    ck_assert_int_eq(sql_long(dir, "SELECT count(*) FROM journal WHERE mail_key = '<a@x>'"
                                   " AND number = '+31611111111' AND message_id = 'msg-1'"), 1);
    /* Marking again without an id keeps the id we had. */
    ck_assert_int_eq(m2s_state_mark_sent(st, "<a@x>", "+31611111111", NULL), 0);
    ck_assert_int_eq(sql_long(dir, "SELECT count(*) FROM journal WHERE mail_key = '<a@x>'"
                                   " AND number = '+31611111111' AND message_id = 'msg-1'"), 1);
    /* Marking an unclaimed number records it. */
    ck_assert_int_eq(m2s_state_mark_sent(st, "<c@x>", "+31633333333", NULL), 0);
    ck_assert_int_eq(m2s_state_claim(st, "<c@x>", "+31633333333", 30), M2S_CLAIM_SENT);
    m2s_state_close(st);
    free(dir);
}
END_TEST

START_TEST(test_claim_release_claim)
{
    char *dir = state_dir();
    m2s_state *a = open_ok(dir);
    m2s_state *b = open_ok(dir);
    ck_assert_int_eq(m2s_state_claim(a, "q1", "+31611111111", 30), M2S_CLAIM_OK);
    ck_assert_int_eq(m2s_state_claim(b, "q1", "+31611111111", 30), M2S_CLAIM_BUSY);
    /* b cannot release a's claim. */
    ck_assert_int_eq(m2s_state_release(b, "q1", "+31611111111"), 0);
    ck_assert_int_eq(m2s_state_claim(b, "q1", "+31611111111", 30), M2S_CLAIM_BUSY);
    /* a can; then b may claim. */
    ck_assert_int_eq(m2s_state_release(a, "q1", "+31611111111"), 0);
    ck_assert_int_eq(m2s_state_claim(b, "q1", "+31611111111", 30), M2S_CLAIM_OK);
    ck_assert_int_eq(m2s_state_claim(a, "q1", "+31611111111", 30), M2S_CLAIM_BUSY);
    /* Releasing something never claimed is fine. */
    ck_assert_int_eq(m2s_state_release(a, "q2", "+31699999999"), 0);
    m2s_state_close(a);
    m2s_state_close(b);
    free(dir);
}
END_TEST

START_TEST(test_lease_expiry)
{
    char *dir = state_dir();
    m2s_state *a = open_ok(dir);
    m2s_state *b = open_ok(dir);
    ck_assert_int_eq(m2s_state_claim(a, "k", "+31611111111", 0.05), M2S_CLAIM_OK);
    ck_assert_int_eq(m2s_state_claim(b, "k", "+31611111111", 30), M2S_CLAIM_BUSY);
    sleep_s(0.1);
    ck_assert_int_eq(m2s_state_claim(b, "k", "+31611111111", 30), M2S_CLAIM_OK);
    /* Now b holds it for 30 s: a is the one waiting. */
    ck_assert_int_eq(m2s_state_claim(a, "k", "+31611111111", 0.05), M2S_CLAIM_BUSY);
    /* a's late release must not drop b's claim. */
    ck_assert_int_eq(m2s_state_release(a, "k", "+31611111111"), 0);
    ck_assert_int_eq(m2s_state_claim(a, "k", "+31611111111", 0.05), M2S_CLAIM_BUSY);
    ck_assert_int_eq(m2s_state_mark_sent(b, "k", "+31611111111", "id"), 0);
    ck_assert_int_eq(m2s_state_claim(a, "k", "+31611111111", 30), M2S_CLAIM_SENT);
    m2s_state_close(a);
    m2s_state_close(b);
    free(dir);
}
END_TEST

/* A process that dies holding a claim blocks the number only until its
 * lease runs out. */
START_TEST(test_dead_process_claim)
{
    if (no_fork())
        return;
    char *dir = state_dir();
    m2s_state_close(open_ok(dir));
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        char *why = NULL;
        m2s_state *st = try_open(dir, &why);
        if (st)
            m2s_state_claim(st, "k", "+31611111111", 0.3);
        /* No release: the process dies. (The handle is closed first only
         * so that valgrind, which follows children, sees no leak.) */
        m2s_state_close(st);
        free(dir);
        free(why);
        raise(SIGKILL);
        _exit(1);
    }
    int status = 0;
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    ck_assert(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
    /* The claim outlives the process: busy until the lease runs out. */
    m2s_state *st = open_ok(dir);
    ck_assert_int_eq(m2s_state_claim(st, "k", "+31611111111", 30), M2S_CLAIM_BUSY);
    sleep_s(0.4);
    ck_assert_int_eq(m2s_state_claim(st, "k", "+31611111111", 30), M2S_CLAIM_OK);
    m2s_state_close(st);
    free(dir);
}
END_TEST

#define NPROC 20
#define NNUM 30

static int child_run(const char *dir, const char *out, int idx)
{
    char *why = NULL;
    m2s_state *st = try_open(dir, &why);
    if (!st) {
        fprintf(stderr, "child %d: %s\n", idx, why);
        return 2;
    }
    int fd = open(out, O_WRONLY | O_APPEND);
    if (fd < 0)
        return 3;
    int rc = 0;
    for (int j = 0; j < NNUM && rc == 0; j++) {
        /* Start at a different number in each process so they collide. */
        char number[32];
        snprintf(number, sizeof number, "+316%08d", (j + idx * 7) % NNUM);
        switch (m2s_state_claim(st, "<storm@example.com>", number, 30)) {
        case M2S_CLAIM_OK: {
            unsigned char r = 0;
            m2s_random_bytes(&r, 1);
            sleep_s(r / 255.0 * 0.002);         /* "talking to the API" */
            char line[40];
            int n = snprintf(line, sizeof line, "%s\n", number);
            if (write(fd, line, (size_t)n) != n)
                rc = 4;
            else if (m2s_state_mark_sent(st, "<storm@example.com>", number, "id") < 0)
                rc = 5;
            break;
        }
        case M2S_CLAIM_SENT:
        case M2S_CLAIM_BUSY:
            break;
        case M2S_CLAIM_ERROR:
            rc = 6;
            break;
        }
    }
    close(fd);
    m2s_state_close(st);
    return rc;
}

START_TEST(test_parallel_processes)
{
    if (no_fork())
        return;
    char *dir = state_dir();
    char *out = xasprintf("%s/sent.txt", tmpdir);
    int fd = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    ck_assert_int_ge(fd, 0);
    close(fd);

    /* The children create the database themselves, all at once. */
    pid_t pids[NPROC];
    for (int i = 0; i < NPROC; i++) {
        pids[i] = fork();
        ck_assert_int_ge(pids[i], 0);
        if (pids[i] == 0) {
            int rc = child_run(dir, out, i);
            free(out);
            free(dir);
            _exit(rc);
        }
    }
    for (int i = 0; i < NPROC; i++) {
        int status = 0;
        ck_assert_int_eq(waitpid(pids[i], &status, 0), pids[i]);
        ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0,
                      "child %d ended with status %d", i, status);
    }

    int seen[NNUM] = { 0 };
    int lines = 0;
    FILE *f = fopen(out, "r");
    ck_assert_ptr_nonnull(f);
    char line[64];
    while (fgets(line, sizeof line, f)) {
        int n = -1;
        ck_assert_int_eq(sscanf(line, "+316%d", &n), 1);
        ck_assert(n >= 0 && n < NNUM);
        seen[n]++;
        lines++;
    }
    fclose(f);
    for (int n = 0; n < NNUM; n++)
        ck_assert_msg(seen[n] == 1, "number %d sent %d times", n, seen[n]);
    ck_assert_int_eq(lines, NNUM);

    m2s_state *st = open_ok(dir);
    for (int n = 0; n < NNUM; n++) {
        char number[32];
        snprintf(number, sizeof number, "+316%08d", n);
        ck_assert_int_eq(m2s_state_claim(st, "<storm@example.com>", number, 30), M2S_CLAIM_SENT);
    }
    m2s_state_close(st);
    free(out);
    free(dir);
}
END_TEST

/* ------------------------------------------------------------ rate limits */

START_TEST(test_rate_take)
{
    char *dir = state_dir();
    m2s_state *st = open_ok(dir);
    bool allowed = false;
    for (int i = 0; i < 3; i++) {
        allowed = false;
        ck_assert_int_eq(m2s_state_rate_take(st, "number", "+31611111111", 3, &allowed), 0);
        ck_assert_msg(allowed, "take %d refused", i + 1);
    }
    allowed = true;
    ck_assert_int_eq(m2s_state_rate_take(st, "number", "+31611111111", 3, &allowed), 0);
    ck_assert(!allowed);
    /* Refusals are not counted: a higher limit lets exactly one more in. */
    ck_assert_int_eq(m2s_state_rate_take(st, "number", "+31611111111", 4, &allowed), 0);
    ck_assert(allowed);
    ck_assert_int_eq(m2s_state_rate_take(st, "number", "+31611111111", 4, &allowed), 0);
    ck_assert(!allowed);

    /* Other numbers and other kinds have their own counts. */
    ck_assert_int_eq(m2s_state_rate_take(st, "number", "+31622222222", 3, &allowed), 0);
    ck_assert(allowed);
    ck_assert_int_eq(m2s_state_rate_take(st, "sender", "+31611111111", 3, &allowed), 0);
    ck_assert(allowed);

    /* Another process sees the same counts. */
    m2s_state *other = open_ok(dir);
    ck_assert_int_eq(m2s_state_rate_take(other, "number", "+31611111111", 4, &allowed), 0);
    ck_assert(!allowed);
    m2s_state_close(other);
    m2s_state_close(st);
    free(dir);
}
END_TEST

/* A send that failed gives its event back: the budget counts SMS that
 * reached a phone, and only the giver's own kind and number. */
START_TEST(test_rate_give_back)
{
    char *dir = state_dir();
    m2s_state *st = open_ok(dir);
    bool allowed = false;
    for (int i = 0; i < 2; i++) {
        ck_assert_int_eq(m2s_state_rate_take(st, "number", "+31611111111", 2, &allowed), 0);
        ck_assert(allowed);
    }
    ck_assert_int_eq(m2s_state_rate_take(st, "sender", "a@example.com", 1, &allowed), 0);
    ck_assert(allowed);
    ck_assert_int_eq(m2s_state_rate_take(st, "number", "+31611111111", 2, &allowed), 0);
    ck_assert(!allowed);
    ck_assert_int_eq(m2s_state_rate_give_back(st, "number", "+31611111111"), 0);
    ck_assert_int_eq(m2s_state_rate_take(st, "number", "+31611111111", 2, &allowed), 0);
    ck_assert_msg(allowed, "the given-back event still counted");
    ck_assert_int_eq(m2s_state_rate_take(st, "number", "+31611111111", 2, &allowed), 0);
    ck_assert(!allowed);
    /* giving back where nothing was taken changes nothing elsewhere */
    ck_assert_int_eq(m2s_state_rate_give_back(st, "number", "+31699999999"), 0);
    ck_assert_int_eq(m2s_state_rate_take(st, "sender", "a@example.com", 1, &allowed), 0);
    ck_assert(!allowed);
    m2s_state_close(st);
    free(dir);
}
END_TEST

START_TEST(test_rate_unlimited)
{
    char *dir = state_dir();
    m2s_state *st = open_ok(dir);
    bool allowed;
    for (int i = 0; i < 5; i++) {
        allowed = false;
        ck_assert_int_eq(m2s_state_rate_take(st, "sender", "a@example.com", 0, &allowed), 0);
        ck_assert(allowed);
        allowed = false;
        ck_assert_int_eq(m2s_state_rate_take(st, "sender", "a@example.com", -1, &allowed), 0);
        ck_assert(allowed);
    }
    /* Nothing was recorded. */
    ck_assert_int_eq(sql_long(dir, "SELECT count(*) FROM events"), 0);
    ck_assert_int_eq(m2s_state_rate_take(st, "sender", "a@example.com", 1, &allowed), 0);
    ck_assert(allowed);
    m2s_state_close(st);
    free(dir);
}
END_TEST

START_TEST(test_rate_window)
{
    char *dir = state_dir();
    m2s_state *st = open_ok(dir);
    double now = wall();
    /* Five events just over an hour ago: they no longer count. */
    for (int i = 0; i < 5; i++)
        sql(dir, "INSERT INTO events (kind, who, t) VALUES ('number', '+31611111111', %.3f)",
            now - 3700 - i);
    /* Two within the hour: they do. */
    for (int i = 0; i < 2; i++)
        sql(dir, "INSERT INTO events (kind, who, t) VALUES ('number', '+31622222222', %.3f)",
            now - 3000 + i);
    bool allowed;
    for (int i = 0; i < 3; i++) {
        allowed = false;
        ck_assert_int_eq(m2s_state_rate_take(st, "number", "+31611111111", 3, &allowed), 0);
        ck_assert(allowed);
    }
    ck_assert_int_eq(m2s_state_rate_take(st, "number", "+31611111111", 3, &allowed), 0);
    ck_assert(!allowed);

    allowed = false;
    ck_assert_int_eq(m2s_state_rate_take(st, "number", "+31622222222", 3, &allowed), 0);
    ck_assert(allowed);
    ck_assert_int_eq(m2s_state_rate_take(st, "number", "+31622222222", 3, &allowed), 0);
    ck_assert(!allowed);
    m2s_state_close(st);
    free(dir);
}
END_TEST

START_TEST(test_suppressed)
{
    char *dir = state_dir();
    m2s_state *st = open_ok(dir);
    long n = -1;
    ck_assert_int_eq(m2s_state_suppressed_take(st, "+31611111111", &n), 0);
    ck_assert_int_eq(n, 0);
    for (int i = 0; i < 3; i++)
        ck_assert_int_eq(m2s_state_suppressed_add(st, "+31611111111"), 0);
    ck_assert_int_eq(m2s_state_suppressed_add(st, "+31622222222"), 0);
    ck_assert_int_eq(m2s_state_suppressed_take(st, "+31611111111", &n), 0);
    ck_assert_int_eq(n, 3);
    ck_assert_int_eq(m2s_state_suppressed_take(st, "+31611111111", &n), 0);
    ck_assert_int_eq(n, 0);
    ck_assert_int_eq(m2s_state_suppressed_add(st, "+31611111111"), 0);
    ck_assert_int_eq(m2s_state_suppressed_take(st, "+31611111111", &n), 0);
    ck_assert_int_eq(n, 1);
    /* The other number kept its own count. */
    m2s_state *other = open_ok(dir);
    ck_assert_int_eq(m2s_state_suppressed_take(other, "+31622222222", &n), 0);
    ck_assert_int_eq(n, 1);
    m2s_state_close(other);
    m2s_state_close(st);
    free(dir);
}
END_TEST

/* ------------------------------------------------------------ purge */

START_TEST(test_purge)
{
    char *dir = state_dir();
    m2s_state *st = open_ok(dir);
    double now = wall();
    ck_assert_int_eq(m2s_state_mark_sent(st, "old", "+31611111111", NULL), 0);
    ck_assert_int_eq(m2s_state_mark_sent(st, "new", "+31611111111", NULL), 0);
    ck_assert_int_eq(m2s_state_mark_sent(st, "edge", "+31611111111", NULL), 0);
    sql(dir, "UPDATE journal SET updated = %.3f WHERE mail_key = 'old'", now - 31 * 86400.0);
    sql(dir, "UPDATE journal SET updated = %.3f WHERE mail_key = 'edge'", now - 29 * 86400.0);
    sql(dir, "INSERT INTO events (kind, who, t) VALUES ('number', 'x', %.3f)", now - 3 * 3600.0);
    sql(dir, "INSERT INTO events (kind, who, t) VALUES ('number', 'y', %.3f)", now - 60.0);
    ck_assert_int_eq(m2s_state_suppressed_add(st, "+31699999999"), 0);
    ck_assert_int_eq(m2s_state_suppressed_add(st, "+31688888888"), 0);
    sql(dir, "UPDATE suppressed SET updated = %.3f WHERE number = '+31699999999'",
        now - 40 * 86400.0);

    /* 0 days keeps the journal (only stale events go). */
    ck_assert_int_eq(m2s_state_purge(st, 0), 0);
    ck_assert_int_eq(sql_long(dir, "SELECT count(*) FROM journal"), 3);
    ck_assert_int_eq(sql_long(dir, "SELECT count(*) FROM events WHERE who = 'x'"), 0);
    ck_assert_int_eq(sql_long(dir, "SELECT count(*) FROM events WHERE who = 'y'"), 1);

    ck_assert_int_eq(m2s_state_purge(st, 30), 0);
    ck_assert_int_eq(sql_long(dir, "SELECT count(*) FROM journal"), 2);
    ck_assert_int_eq(m2s_state_claim(st, "old", "+31611111111", 30), M2S_CLAIM_OK);
    ck_assert_int_eq(m2s_state_claim(st, "new", "+31611111111", 30), M2S_CLAIM_SENT);
    ck_assert_int_eq(m2s_state_claim(st, "edge", "+31611111111", 30), M2S_CLAIM_SENT);
    ck_assert_int_eq(sql_long(dir, "SELECT count(*) FROM events"), 1);
    long n = -1;
    ck_assert_int_eq(m2s_state_suppressed_take(st, "+31699999999", &n), 0);
    ck_assert_int_eq(n, 0);
    ck_assert_int_eq(m2s_state_suppressed_take(st, "+31688888888", &n), 0);
    ck_assert_int_eq(n, 1);
    m2s_state_close(st);
    free(dir);
}
END_TEST

START_TEST(test_null_arguments)
{
    char *dir = state_dir();
    m2s_state *st = open_ok(dir);
    bool allowed = true;
    long n = 5;
    ck_assert_int_eq(m2s_state_claim(NULL, "k", "n", 30), M2S_CLAIM_ERROR);
    ck_assert_int_eq(m2s_state_claim(st, NULL, "n", 30), M2S_CLAIM_ERROR);
    ck_assert_int_eq(m2s_state_mark_sent(st, "k", NULL, NULL), -1);
    ck_assert_int_eq(m2s_state_release(NULL, "k", "n"), -1);
    ck_assert_int_eq(m2s_state_rate_take(NULL, "number", "n", 3, &allowed), -1);
    ck_assert(!allowed);
    ck_assert_int_eq(m2s_state_suppressed_take(NULL, "n", &n), -1);
    ck_assert_int_eq(n, 0);
    ck_assert_int_eq(m2s_state_purge(NULL, 30), -1);
    m2s_state_close(NULL);
    m2s_state_close(st);
    free(dir);
}
END_TEST

/* ------------------------------------------------------------ schema */

/* A file of version 1 (before recent texts, the rate cap and the outage
 * record) is migrated on open and keeps its journal. */
START_TEST(test_sqlite_migrates_v1)
{
    char *dir = state_dir();
    ck_assert_int_eq(mkdir(dir, 0750), 0);
    char *path = xasprintf("%s/state.sqlite", dir);
    sqlite3 *db = NULL;
    ck_assert_int_eq(sqlite3_open(path, &db), SQLITE_OK);
    ck_assert_int_eq(sqlite3_exec(db,
        "CREATE TABLE journal (mail_key TEXT NOT NULL, number TEXT NOT NULL,"
        " state TEXT NOT NULL CHECK (state IN ('claimed', 'sent')), owner TEXT,"
        " lease_until REAL, message_id TEXT, updated REAL NOT NULL,"
        " PRIMARY KEY (mail_key, number));"
        "CREATE TABLE events (kind TEXT NOT NULL, who TEXT NOT NULL, t REAL NOT NULL);"
        "CREATE TABLE suppressed (number TEXT PRIMARY KEY, n INTEGER NOT NULL,"
        " updated REAL NOT NULL);"
        "INSERT INTO journal VALUES ('old', '+31611111111', 'sent', 'x', NULL, 'id', 1e10);"
        "PRAGMA user_version = 1;", NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(db);
    m2s_state *st = open_ok(dir);
    ck_assert_int_eq(sql_long(dir, "PRAGMA user_version"), M2S_STATE_SCHEMA_VERSION);
    ck_assert_int_eq(m2s_state_claim(st, "old", "+31611111111", 30), M2S_CLAIM_SENT);
    bool dup = true;
    ck_assert_int_eq(m2s_state_dup_take(st, "+31611111111", "text", "k", 60, &dup), 0);
    ck_assert(!dup);
    m2s_state_close(st);
    free(path);
    free(dir);
}
END_TEST

/* PostgreSQL's schema is made by --init-state only: a run refuses a
 * database without it, or with an older one, and says what to do. */
START_TEST(test_pg_schema_required)
{
    char *why = NULL;
    pg_exec_ok("DROP TABLE m2s_schema");
    ck_assert_ptr_null(try_open(NULL, &why));
    ck_assert_ptr_nonnull(why);
    ck_assert_msg(strstr(why, "--init-state") && strstr(why, "no mail2sms schema"), "%s", why);
    free(why);

    pg_exec_ok("CREATE TABLE m2s_schema (version integer NOT NULL);"
               "INSERT INTO m2s_schema VALUES (1); DROP TABLE outage");
    why = NULL;
    ck_assert_ptr_null(try_open(NULL, &why));
    ck_assert_msg(why && strstr(why, "older") && strstr(why, "--init-state"), "%s", why);
    free(why);

    /* --init-state migrates it, and says so; the journal stays. */
    sql(NULL, "INSERT INTO journal VALUES ('old', '+31611111111', 'sent', 'x', NULL, 'id', 1e10)");
    m2s_state_where w = where_of(NULL);
    char *out = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&out, &len);
    why = NULL;
    ck_assert_int_eq(m2s_state_init(&w, f, &why), 0);
    fclose(f);
    char *want = xasprintf("migrated from version 1 to %d", M2S_STATE_SCHEMA_VERSION);
    ck_assert_msg(strstr(out, want), "%s", out);
    free(want);
    free(out);
    m2s_state *st = open_ok(NULL);
    ck_assert_int_eq(m2s_state_claim(st, "old", "+31611111111", 30), M2S_CLAIM_SENT);
    double since, next;
    ck_assert_int_eq(m2s_state_outage_check(st, 60, &since, &next), M2S_OUTAGE_NONE);
    m2s_state_close(st);

    /* Once more: nothing to do. */
    f = open_memstream(&out, &len);
    ck_assert_int_eq(m2s_state_init(&w, f, &why), 0);
    fclose(f);
    ck_assert_msg(strstr(out, "nothing to do"), "%s", out);
    free(out);
}
END_TEST

/* A wrong connection string, a wrong password: a clear reason, which
 * never holds the password. */
START_TEST(test_pg_bad_connection)
{
    char *why = NULL;
    m2s_state_where w = { M2S_BACKEND_POSTGRESQL, NULL, "host=/nonexistent/dir dbname=x", NULL };
    ck_assert_ptr_null(m2s_state_open(&w, &why));
    ck_assert_msg(why && strstr(why, "postgresql") && strstr(why, "/nonexistent/dir"), "%s", why);
    free(why);

    w.conninfo = "this is not a connection string";
    why = NULL;
    ck_assert_ptr_null(m2s_state_open(&w, &why));
    ck_assert_ptr_nonnull(why);
    free(why);

    /* m2s_pw must give its password. */
    char *ci = xasprintf("%s", pg_conninfo);
    char *user = strstr(ci, "user=m2s");
    ck_assert_ptr_nonnull(user);
    *user = '\0';
    char *pw_ci = xasprintf("%suser=m2s_pw", ci);
    w.conninfo = pw_ci;
    w.password = "wrong-password-123";
    why = NULL;
    ck_assert_ptr_null(m2s_state_open(&w, &why));
    ck_assert_msg(why && strstr(why, "password authentication failed"), "%s", why);
    ck_assert_ptr_null(strstr(why, "wrong-password-123"));
    free(why);

    /* The right one, from the "file"; also when the string has a wrong one. */
    w.password = pg_password;
    why = NULL;
    m2s_state *st = m2s_state_open(&w, &why);
    ck_assert_msg(st != NULL, "%s", why ? why : "?");
    ck_assert_str_eq(m2s_state_backend_name(st), "postgresql");
    m2s_state_close(st);
    char *with_pw = xasprintf("%s password=secret-in-string", pw_ci);
    w.conninfo = with_pw;
    st = m2s_state_open(&w, &why);
    ck_assert_msg(st != NULL, "%s", why ? why : "?");
    m2s_state_close(st);

    /* The description for --check-config shows no password. */
    char *out = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&out, &len);
    ck_assert_int_eq(m2s_state_check(&w, f, &why), 0);
    fclose(f);
    char *want = xasprintf("connected, schema version %d", M2S_STATE_SCHEMA_VERSION);
    ck_assert_msg(strstr(out, want), "%s", out);
    free(want);
    ck_assert_msg(strstr(out, "user=m2s_pw"), "%s", out);
    ck_assert_ptr_null(strstr(out, "secret-in-string"));
    ck_assert_ptr_null(strstr(out, pg_password));
    free(out);
    free(with_pw);
    free(pw_ci);
    free(ci);
}
END_TEST

/* ------------------------------------------------------------ duplicates */

START_TEST(test_duplicate_window)
{
    char *dir = state_dir();
    m2s_state *a = open_ok(dir);
    m2s_state *b = open_ok(dir);
    bool dup = true;
    ck_assert_int_eq(m2s_state_dup_take(a, "+31611111111", "disk full", "<m1@x>", 60, &dup), 0);
    ck_assert(!dup);
    /* Another mail, the same text and number: a duplicate, in any process. */
    ck_assert_int_eq(m2s_state_dup_take(b, "+31611111111", "disk full", "<m2@x>", 60, &dup), 0);
    ck_assert(dup);
    /* A retry of the first mail is not its own duplicate. */
    ck_assert_int_eq(m2s_state_dup_take(b, "+31611111111", "disk full", "<m1@x>", 60, &dup), 0);
    ck_assert(!dup);
    /* Another number, another text: not duplicates. */
    ck_assert_int_eq(m2s_state_dup_take(b, "+31622222222", "disk full", "<m2@x>", 60, &dup), 0);
    ck_assert(!dup);
    ck_assert_int_eq(m2s_state_dup_take(b, "+31611111111", "disk fine", "<m2@x>", 60, &dup), 0);
    ck_assert(!dup);
    /* Window 0 is off. */
    ck_assert_int_eq(m2s_state_dup_take(b, "+31611111111", "disk full", "<m3@x>", 0, &dup), 0);
    ck_assert(!dup);
    /* A send that failed gives the text back: the next copy goes. */
    ck_assert_int_eq(m2s_state_dup_give_back(b, "+31611111111", "disk full", "<m2@x>"), 0);
    ck_assert_int_eq(m2s_state_dup_take(b, "+31611111111", "disk full", "<m4@x>", 60, &dup), 0);
    ck_assert_msg(dup, "another mail's give-back removed the first mail's record");
    ck_assert_int_eq(m2s_state_dup_give_back(a, "+31611111111", "disk full", "<m1@x>"), 0);
    ck_assert_int_eq(m2s_state_dup_take(b, "+31611111111", "disk full", "<m4@x>", 60, &dup), 0);
    ck_assert(!dup);
    /* After the window the text goes again; the window counts from the
     * copy that was sent, not from the duplicates. */
    sql(dir, "UPDATE recent SET t = t - 61");
    ck_assert_int_eq(m2s_state_dup_take(a, "+31611111111", "disk full", "<m5@x>", 60, &dup), 0);
    ck_assert(!dup);
    ck_assert_int_eq(m2s_state_dup_take(a, "+31611111111", "disk full", "<m6@x>", 60, &dup), 0);
    ck_assert(dup);
    m2s_state_close(a);
    m2s_state_close(b);
    free(dir);
}
END_TEST

/* ------------------------------------------------------------ rate cap */

START_TEST(test_rate_lease)
{
    char *dir = state_dir();
    m2s_state *a = open_ok(dir);
    m2s_state *b = open_ok(dir);
    double d1 = -1, d2 = -1, d3 = -1, d4 = -1;
    ck_assert_int_eq(m2s_state_rate_lease(a, "ws", 5, 0.1, &d1), 0);
    ck_assert_msg(d1 >= 0 && d1 < 0.05, "first lease waits %f", d1);
    /* The next block, from any process, starts where this one ends. */
    ck_assert_int_eq(m2s_state_rate_lease(b, "ws", 5, 0.1, &d2), 0);
    ck_assert_msg(d2 > 0.45 && d2 <= 0.5, "second lease waits %f", d2);
    ck_assert_int_eq(m2s_state_rate_lease(a, "ws", 1, 0.1, &d3), 0);
    ck_assert_msg(d3 > 0.95 && d3 <= 1.0, "third lease waits %f", d3);
    /* Another bucket (workspace) has its own clock. */
    ck_assert_int_eq(m2s_state_rate_lease(b, "other", 5, 0.1, &d4), 0);
    ck_assert_msg(d4 < 0.05, "other bucket waits %f", d4);
    /* Once the leased time is past, a lease starts now, not in the past. */
    sleep_s(1.1);
    ck_assert_int_eq(m2s_state_rate_lease(b, "ws", 2, 0.1, &d1), 0);
    ck_assert_msg(d1 >= 0 && d1 < 0.05, "lease after a pause waits %f", d1);
    ck_assert_int_eq(m2s_state_rate_lease(b, "ws", 2, 0.1, &d2), 0);
    ck_assert_msg(d2 > 0.15 && d2 <= 0.2, "lease after a pause waits %f", d2);
    ck_assert_int_eq(m2s_state_rate_lease(NULL, "ws", 2, 0.1, &d2), -1);
    m2s_state_close(a);
    m2s_state_close(b);
    free(dir);
}
END_TEST

/* ------------------------------------------------------------ outage */

START_TEST(test_outage)
{
    char *dir = state_dir();
    m2s_state *a = open_ok(dir);
    m2s_state *b = open_ok(dir);
    double since = -1, next = -1;
    double t0 = wall();
    ck_assert_int_eq(m2s_state_outage_check(a, 60, &since, &next), M2S_OUTAGE_NONE);
    ck_assert(since == 0 && next == 0);
    /* A run used up its retries: the others defer until the probe. */
    ck_assert_int_eq(m2s_state_outage_report(a, false, 30), 0);
    ck_assert_int_eq(m2s_state_outage_check(b, 60, &since, &next), M2S_OUTAGE_DEFER);
    ck_assert_msg(since >= t0 - 1 && since <= wall() + 1, "since %f", since);
    ck_assert_msg(next >= since + 29 && next <= since + 31, "next %f since %f", next, since);
    /* Another failure moves the probe on but keeps the start. */
    double since1 = since;
    sql(dir, "UPDATE outage SET since = since - 100, next_probe = next_probe - 100");
    ck_assert_int_eq(m2s_state_outage_report(b, false, 30), 0);
    ck_assert_int_eq(m2s_state_outage_check(a, 60, &since, &next), M2S_OUTAGE_DEFER);
    ck_assert_msg(since < since1 - 99, "since was moved: %f", since);
    ck_assert_msg(next > wall() + 25, "next probe not moved on: %f", next);

    /* Probe due: exactly one run gets it. */
    sql(dir, "UPDATE outage SET next_probe = next_probe - 60");
    ck_assert_int_eq(m2s_state_outage_check(a, 60, &since, &next), M2S_OUTAGE_PROBE);
    ck_assert_int_eq(m2s_state_outage_check(b, 60, &since, &next), M2S_OUTAGE_DEFER);
    /* A run that was already under way and fails leaves the live probe be. */
    ck_assert_int_eq(m2s_state_outage_report(b, false, 30), 0);
    ck_assert_int_eq(m2s_state_outage_check(b, 60, &since, &next), M2S_OUTAGE_DEFER);
    ck_assert_msg(next <= wall(), "the probe's due time was moved by another run");
    /* The probe fails: the next one is probe_after later, nobody probes now. */
    ck_assert_int_eq(m2s_state_outage_report(a, false, 30), 0);
    ck_assert_int_eq(m2s_state_outage_check(b, 60, &since, &next), M2S_OUTAGE_DEFER);
    ck_assert_int_eq(m2s_state_outage_check(a, 60, &since, &next), M2S_OUTAGE_DEFER);
    /* A probe whose run died is overtaken once its hold runs out. */
    sql(dir, "UPDATE outage SET next_probe = next_probe - 60");
    ck_assert_int_eq(m2s_state_outage_check(a, 0.2, &since, &next), M2S_OUTAGE_PROBE);
    ck_assert_int_eq(m2s_state_outage_check(b, 60, &since, &next), M2S_OUTAGE_DEFER);
    sleep_s(0.3);
    ck_assert_int_eq(m2s_state_outage_check(b, 60, &since, &next), M2S_OUTAGE_PROBE);
    /* The first answer ends it for everyone. */
    ck_assert_int_eq(m2s_state_outage_report(b, true, 30), 0);
    ck_assert_int_eq(m2s_state_outage_check(a, 60, &since, &next), M2S_OUTAGE_NONE);
    ck_assert_int_eq(m2s_state_outage_check(b, 60, &since, &next), M2S_OUTAGE_NONE);
    ck_assert_int_eq(m2s_state_outage_check(NULL, 60, &since, &next), M2S_OUTAGE_ERROR);
    m2s_state_close(a);
    m2s_state_close(b);
    free(dir);
}
END_TEST

/* The backends' own clocks, for both: a claim made with a lease in the
 * past is free at once (the store's time, not the test's). */
START_TEST(test_backend_name)
{
    char *dir = state_dir();
    m2s_state *st = open_ok(dir);
    ck_assert_str_eq(m2s_state_backend_name(st), on_pg ? "postgresql" : "sqlite");
    ck_assert_str_eq(m2s_state_backend_name(NULL), "none");
    m2s_state_close(st);
    free(dir);
}
END_TEST

START_TEST(test_pg_missing)
{
    ck_abort_msg("M2S_REQUIRE_POSTGRESQL=1 but no private PostgreSQL cluster could be started");
}
END_TEST

/* ------------------------------------------------------------ tracking */

/* An accepted SMS with its meta, and its mail. */
static void track_send(m2s_state *st, const char *key, const char *number, const char *id,
                       const char *alias)
{
    m2s_mail_meta mm = { "nagios@example.com", "4F3A21C0E2", "<m1@example.com>",
                         "PROBLEM: web1 down", "Subject: PROBLEM: web1 down\n" };
    m2s_sms_meta sm = { alias, "oncall@sms.example.com", 2, false };
    ck_assert_int_eq(m2s_state_mail_note(st, key, &mm), 0);
    ck_assert_int_eq(m2s_state_claim(st, key, number, 30), M2S_CLAIM_OK);
    ck_assert_int_eq(m2s_state_mark_sent_sms(st, key, number, id, &sm), 0);
}

/* Every SMS of the test is due now. */
static void make_due(const char *dir)
{
    sql(dir, "UPDATE journal SET next_check = 0");
}

/* The journal remembers each SMS; a check is due only after its time;
 * news goes into the history; an outcome ends it once and is counted. */
START_TEST(test_track_lifecycle)
{
    char *dir = state_dir();
    m2s_state *st = open_ok(dir);
    m2s_tracked *v = NULL;
    size_t n = 9;
    bool applied = false, ok = false;
    track_send(st, "mid:m1@example.com", "+31611111111", "bird-1", "oncall");
    /* Dropped and duplicate marks are not followed. */
    ck_assert_int_eq(m2s_state_mark_sent(st, "mid:m1@example.com", "+31622222222", "dropped"), 0);

    ck_assert_int_eq(m2s_state_track_take(st, 100, 60, false, &v, &n), 0);
    ck_assert_uint_eq(n, 0);                /* first check after 15 s */
    m2s_tracked_free(v, n);
    make_due(dir);
    ck_assert_int_eq(m2s_state_track_take(st, 100, 60, true, &v, &n), 0);
    ck_assert_uint_eq(n, 1);                /* peek claims nothing ... */
    m2s_tracked_free(v, n);
    ck_assert_int_eq(m2s_state_track_take(st, 100, 60, false, &v, &n), 0);
    ck_assert_uint_eq(n, 1);                /* ... so it is still there */
    ck_assert_str_eq(v[0].bird_id, "bird-1");
    ck_assert_str_eq(v[0].alias, "oncall");
    ck_assert_str_eq(v[0].recipient, "oncall@sms.example.com");
    ck_assert_str_eq(v[0].sender, "nagios@example.com");
    ck_assert_str_eq(v[0].queue_id, "4F3A21C0E2");
    ck_assert_str_eq(v[0].message_id, "<m1@example.com>");
    ck_assert_str_eq(v[0].subject, "PROBLEM: web1 down");
    ck_assert_str_eq(v[0].status, "accepted");
    ck_assert_int_eq(v[0].parts, 2);
    ck_assert_ptr_null(v[0].outcome);
    ck_assert(v[0].accepted > 1e9);
    m2s_tracked_free(v, n);

    m2s_track_event sent = { "sent", NULL, NULL, NULL, 30, true, false };
    ck_assert_int_eq(m2s_state_track_apply(st, "mid:m1@example.com", "+31611111111", &sent,
                                           &applied), 0);
    ck_assert(applied);
    ck_assert_int_eq(m2s_state_track_apply(st, "mid:m1@example.com", "+31611111111", &sent,
                                           &applied), 0);
    ck_assert_int_eq(sql_long(dir, "SELECT count(*) FROM sms_status"), 2);  /* accepted, sent */
    ck_assert_int_eq(sql_long(dir, "SELECT checks FROM journal WHERE number = '+31611111111'"), 2);
    /* Not due again before its next check. */
    ck_assert_int_eq(m2s_state_track_take(st, 100, 60, false, &v, &n), 0);
    ck_assert_uint_eq(n, 0);
    m2s_tracked_free(v, n);

    m2s_track_event failed = { "delivery_failed", "unknown_subscriber", "sms-messagebird 15005",
                               "delivery_failed", 0, true, true };
    ck_assert_int_eq(m2s_state_track_apply(st, "mid:m1@example.com", "+31611111111", &failed,
                                           &applied), 0);
    ck_assert(applied);
    /* Never an outcome twice. */
    ck_assert_int_eq(m2s_state_track_apply(st, "mid:m1@example.com", "+31611111111", &failed,
                                           &applied), 0);
    ck_assert(!applied);
    /* Its actions are still ours; another tracker does not get them. */
    m2s_state *other = open_ok(dir);
    ck_assert_int_eq(m2s_state_track_take(other, 100, 60, false, &v, &n), 0);
    ck_assert_uint_eq(n, 0);
    m2s_tracked_free(v, n);
    ck_assert_int_eq(m2s_state_track_action(st, "mid:m1@example.com", "+31611111111", "notify",
                                            "sending", &ok), 0);
    ck_assert(ok);
    ck_assert_int_eq(m2s_state_track_action(st, "mid:m1@example.com", "+31611111111", "notify",
                                            "sending", &ok), 0);
    ck_assert(!ok);                         /* at most once */
    ck_assert_int_eq(m2s_state_track_action(st, "mid:m1@example.com", "+31611111111", "notify",
                                            "sent", &ok), 0);
    ck_assert_int_eq(m2s_state_track_action(st, "mid:m1@example.com", "+31611111111", "done",
                                            NULL, &ok), 0);
    ck_assert_int_eq(m2s_state_track_take(other, 100, 60, false, &v, &n), 0);
    ck_assert_uint_eq(n, 0);                /* done: nothing left */
    m2s_tracked_free(v, n);

    ck_assert_int_eq(m2s_state_track_find(st, "4F3A21C0E2", &v, &n), 0);
    ck_assert_uint_eq(n, 1);
    ck_assert_str_eq(v[0].outcome, "delivery_failed");
    ck_assert_str_eq(v[0].reason, "unknown_subscriber");
    ck_assert_str_eq(v[0].source, "sms-messagebird 15005");
    ck_assert_str_eq(v[0].notify, "sent");
    m2s_tracked_free(v, n);

    /* The counter stays when the journal is purged. */
    ck_assert_int_eq(m2s_state_counter_add(st, "deferred:4.4.2", 3), 0);
    ck_assert_int_eq(m2s_state_counter_add(st, "deferred:4.4.2", 1), 0);
    sql(dir, "UPDATE journal SET updated = 1000; UPDATE mails SET t = 1000;"
             " UPDATE sms_status SET t = 1000");
    ck_assert_int_eq(m2s_state_purge(st, 30), 0);
    ck_assert_int_eq(sql_long(dir, "SELECT count(*) FROM journal"), 0);
    ck_assert_int_eq(sql_long(dir, "SELECT count(*) FROM mails"), 0);
    ck_assert_int_eq(sql_long(dir, "SELECT count(*) FROM sms_status"), 0);
    m2s_counter *c = NULL;
    long followed = 9;
    double oldest = 9;
    ck_assert_int_eq(m2s_state_metrics(st, &c, &n, &followed, &oldest), 0);
    ck_assert_uint_eq(n, 2);
    ck_assert_str_eq(c[0].name, "deferred:4.4.2");
    ck_assert_int_eq(c[0].n, 4);
    ck_assert_str_eq(c[1].name, "final:delivery_failed");
    ck_assert_int_eq(c[1].n, 1);
    ck_assert_int_eq(followed, 0);
    m2s_counters_free(c, n);
    m2s_state_close(other);
    m2s_state_close(st);
    free(dir);
}
END_TEST

/* Two trackers at once take different SMS; a dead one's claims run out. */
START_TEST(test_track_two_takers)
{
    char *dir = state_dir();
    m2s_state *a = open_ok(dir), *b = open_ok(dir);
    m2s_tracked *va = NULL, *vb = NULL;
    size_t na = 0, nb = 0;
    char num[16], id[16];
    for (int i = 0; i < 10; i++) {
        snprintf(num, sizeof num, "+3161000000%d", i);
        snprintf(id, sizeof id, "bird-%d", i);
        track_send(a, "k", num, id, NULL);
    }
    make_due(dir);
    ck_assert_int_eq(m2s_state_track_take(a, 6, 1, false, &va, &na), 0);
    ck_assert_int_eq(m2s_state_track_take(b, 100, 60, false, &vb, &nb), 0);
    ck_assert_uint_eq(na, 6);
    ck_assert_uint_eq(nb, 4);
    for (size_t i = 0; i < na; i++)
        for (size_t k = 0; k < nb; k++)
            ck_assert_str_ne(va[i].number, vb[k].number);
    m2s_tracked_free(vb, nb);
    /* a "dies": after its lease b may take its six. */
    sql(dir, "UPDATE journal SET track_until = 1"
             " WHERE track_until < (SELECT min(track_until) FROM journal) + 30");
    ck_assert_int_eq(m2s_state_track_take(b, 100, 60, false, &vb, &nb), 0);
    ck_assert_uint_eq(nb, 6);               /* the six; its own four wait for it */
    for (size_t k = 0; k < nb; k++) {
        bool was_a = false;
        for (size_t i = 0; i < na; i++)
            was_a = was_a || strcmp(vb[k].number, va[i].number) == 0;
        ck_assert_msg(was_a, "b took %s, which was not a's", vb[k].number);
    }
    m2s_tracked_free(vb, nb);
    m2s_tracked_free(va, na);
    m2s_state_close(a);
    m2s_state_close(b);
    free(dir);
}
END_TEST

/* --status finds an SMS by each kind of query. */
START_TEST(test_track_find)
{
    char *dir = state_dir();
    m2s_state *st = open_ok(dir);
    m2s_tracked *v = NULL;
    size_t n = 0;
    track_send(st, "mid:m1@example.com", "+31611111111", "bird-1", "OnCall");
    const char *hits[] = { "4F3A21C0E2", "<m1@example.com>", "m1@example.com", "+31611111111",
                           "31611111111", "oncall", "bird-1" };
    for (size_t i = 0; i < sizeof hits / sizeof hits[0]; i++) {
        ck_assert_int_eq(m2s_state_track_find(st, hits[i], &v, &n), 0);
        ck_assert_msg(n == 1, "%s: %zu", hits[i], n);
        m2s_tracked_free(v, n);
    }
    ck_assert_int_eq(m2s_state_track_find(st, "+31699999999", &v, &n), 0);
    ck_assert_uint_eq(n, 0);
    m2s_tracked_free(v, n);
    m2s_state_close(st);
    free(dir);
}
END_TEST

/* A journal of schema 2 (today's relays): its rows with a Bird id are
 * followed after the migration, and still block a second send. */
START_TEST(test_sqlite_migrates_v2)
{
    char *dir = state_dir();
    ck_assert_int_eq(mkdir(dir, 0750), 0);
    char *path = xasprintf("%s/state.sqlite", dir);
    sqlite3 *db = NULL;
    ck_assert_int_eq(sqlite3_open(path, &db), SQLITE_OK);
    ck_assert_int_eq(sqlite3_exec(db,
        "CREATE TABLE journal (mail_key TEXT NOT NULL, number TEXT NOT NULL,"
        " state TEXT NOT NULL CHECK (state IN ('claimed', 'sent')), owner TEXT,"
        " lease_until REAL, message_id TEXT, updated REAL NOT NULL,"
        " PRIMARY KEY (mail_key, number));"
        "CREATE TABLE events (kind TEXT NOT NULL, who TEXT NOT NULL, t REAL NOT NULL);"
        "CREATE TABLE suppressed (number TEXT PRIMARY KEY, n INTEGER NOT NULL,"
        " updated REAL NOT NULL);"
        "CREATE TABLE recent (number TEXT NOT NULL, digest TEXT NOT NULL,"
        " mail_key TEXT NOT NULL, t REAL NOT NULL, PRIMARY KEY (number, digest));"
        "CREATE TABLE rate_cap (bucket TEXT PRIMARY KEY, next_at REAL NOT NULL);"
        "CREATE TABLE outage (name TEXT PRIMARY KEY, since REAL NOT NULL,"
        " next_probe REAL NOT NULL, prober TEXT, probe_until REAL NOT NULL DEFAULT 0);"
        "INSERT INTO journal VALUES ('old', '+31611111111', 'sent', 'x', NULL, 'bird-9', 1e9);"
        "INSERT INTO journal VALUES ('old', '+31622222222', 'sent', 'x', NULL, 'dropped', 1e9);"
        "PRAGMA user_version = 2;", NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(db);
    m2s_state *st = open_ok(dir);
    ck_assert_int_eq(sql_long(dir, "PRAGMA user_version"), M2S_STATE_SCHEMA_VERSION);
    ck_assert_int_eq(m2s_state_claim(st, "old", "+31611111111", 30), M2S_CLAIM_SENT);
    m2s_tracked *v = NULL;
    size_t n = 0;
    ck_assert_int_eq(m2s_state_track_take(st, 100, 60, false, &v, &n), 0);
    ck_assert_uint_eq(n, 1);
    ck_assert_str_eq(v[0].bird_id, "bird-9");
    ck_assert_str_eq(v[0].status, "accepted");
    ck_assert(v[0].accepted == 1e9);
    m2s_tracked_free(v, n);
    m2s_state_close(st);
    free(path);
    free(dir);
}
END_TEST

/* Tests of the interface, on whichever backend the case runs. */
static void add_interface_tests(TCase *tc)
{
    tcase_add_test(tc, test_backend_name);
    tcase_add_test(tc, test_newer_schema_refused);
    tcase_add_test(tc, test_claim_mark_claim);
    tcase_add_test(tc, test_claim_release_claim);
    tcase_add_test(tc, test_lease_expiry);
    tcase_add_test(tc, test_dead_process_claim);
    tcase_add_test(tc, test_parallel_processes);
    tcase_add_test(tc, test_rate_take);
    tcase_add_test(tc, test_rate_give_back);
    tcase_add_test(tc, test_rate_unlimited);
    tcase_add_test(tc, test_rate_window);
    tcase_add_test(tc, test_suppressed);
    tcase_add_test(tc, test_purge);
    tcase_add_test(tc, test_duplicate_window);
    tcase_add_test(tc, test_rate_lease);
    tcase_add_test(tc, test_outage);
    tcase_add_test(tc, test_null_arguments);
    tcase_add_test(tc, test_track_lifecycle);
    tcase_add_test(tc, test_track_two_takers);
    tcase_add_test(tc, test_track_find);
}

/* The private cluster: started once for the whole run by
 * tests/pg_instance.py serve, stopped when its standard input closes. */
static void pg_helper_stop(void)
{
    if (getpid() != main_pid || !pg_helper_in)
        return;
    fclose(pg_helper_in);
    pg_helper_in = NULL;
    int status;
    waitpid(pg_helper, &status, 0);
    free(pg_conninfo);
    free(pg_password);
}

static bool pg_helper_start(void)
{
    int in[2], out[2];
    char *script = xasprintf("%s/tests/pg_instance.py", unit_srcdir());
    bool ok = false;
    main_pid = getpid();
    if (pipe(in) < 0 || pipe(out) < 0)
        goto out;
    pg_helper = fork();
    if (pg_helper == 0) {
        dup2(in[0], 0);
        dup2(out[1], 1);
        close(in[0]), close(in[1]), close(out[0]), close(out[1]);
        execlp("python3", "python3", script, "serve", (char *)NULL);
        _exit(127);
    }
    close(in[0]);
    close(out[1]);
    pg_helper_in = fdopen(in[1], "w");
    FILE *from = fdopen(out[0], "r");
    char line[1024] = "", pw[256] = "";
    if (!fgets(line, sizeof line, from) || strncmp(line, "unavailable", 11) == 0) {
        fprintf(stderr, "# PostgreSQL half skipped: %s", line[0] ? line : "no helper\n");
        fclose(from);
        pg_helper_stop();
        goto out;
    }
    if (!fgets(pw, sizeof pw, from)) {
        fclose(from);
        pg_helper_stop();
        goto out;
    }
    fclose(from);
    line[strcspn(line, "\n")] = '\0';
    pw[strcspn(pw, "\n")] = '\0';
    pg_conninfo = xstrdup(line);
    pg_password = xstrdup(pw);
    atexit(pg_helper_stop);
    fprintf(stderr, "# PostgreSQL: %s\n", pg_conninfo);
    ok = true;
out:
    free(script);
    return ok;
}

static Suite *make_suite(void)
{
    Suite *s = suite_create("state");
    TCase *tc = tcase_create("sqlite");
    tcase_add_checked_fixture(tc, setup_sqlite, teardown);
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, test_open_creates);
    tcase_add_test(tc, test_open_under_file);
    tcase_add_test(tc, test_open_not_a_database);
    tcase_add_test(tc, test_open_unwritable);
    tcase_add_test(tc, test_sqlite_migrates_v1);
    tcase_add_test(tc, test_sqlite_migrates_v2);
    add_interface_tests(tc);
    suite_add_tcase(s, tc);

    const char *req = getenv("M2S_REQUIRE_POSTGRESQL");
    if (pg_helper_start()) {
        TCase *pc = tcase_create("postgresql");
        tcase_add_checked_fixture(pc, setup_pg, teardown);
        tcase_set_timeout(pc, 60);
        tcase_add_test(pc, test_pg_schema_required);
        tcase_add_test(pc, test_pg_bad_connection);
        add_interface_tests(pc);
        suite_add_tcase(s, pc);
    } else if (req && strcmp(req, "1") == 0) {
        TCase *pc = tcase_create("postgresql-missing");
        tcase_add_test(pc, test_pg_missing);
        suite_add_tcase(s, pc);
    }
    return s;
}
