/* log.c - syslog, facility mail, ident "mail2sms", or log_file; a copy on
 * stderr with -v. The queue id is per thread; the rest is set up by the
 * main thread before others start (m2s_log_to_file may be called again
 * while they run). */
#include "build-config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "util.h"

/* Each thread's own: the LMTP service's workers run a mail each. */
static __thread char *log_queue_id;
static bool log_verbose;
static bool log_quiet;          /* a dry run: nothing but the -v copy */
static int log_fd = -1;
static bool log_iso8601;
static char log_host[64];
static char *log_trouble;      /* why log_file could not be opened, or NULL */

void m2s_log_open(const char *queue_id, bool verbose)
{
    free(log_queue_id);
    log_queue_id = xstrdup(queue_id && *queue_id ? queue_id : "NOQUEUE");
    log_verbose = verbose;
    openlog("mail2sms", LOG_PID | LOG_NDELAY, LOG_MAIL);
}

void m2s_log_set_queue_id(const char *queue_id)
{
    free(log_queue_id);
    log_queue_id = queue_id && *queue_id ? xstrdup(queue_id) : NULL;
}

int m2s_log_to_file(const char *path, bool iso8601, char **why)
{
    int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOCTTY, 0640);
    if (fd < 0) {
        int err = errno;
        *why = xasprintf("cannot open log_file %s: %s", path, strerror(err));
        free(log_trouble);
        log_trouble = xasprintf("warning: log_file %s: %s; logged to syslog", path,
                                strerror(err));
        return -1;
    }
    if (log_fd >= 0) {
        /* in place, so that a thread writing a line meanwhile writes it
         * to the old file or the new one, never to a closed descriptor */
        dup3(fd, log_fd, O_CLOEXEC);
        close(fd);
    } else {
        log_fd = fd;
    }
    log_iso8601 = iso8601;
    if (gethostname(log_host, sizeof log_host - 1) != 0)
        strcpy(log_host, "localhost");
    log_host[strcspn(log_host, ".")] = '\0';     /* short name, as syslog writes it */
    return 0;
}

int m2s_log_check_file(const char *path, char **why)
{
    int rc = -1;
    char *dir = NULL;
    /* Appending to an existing file changes nothing by opening it. */
    int fd = open(path, O_WRONLY | O_APPEND | O_NOCTTY | O_CLOEXEC | O_NONBLOCK);
    if (fd >= 0) {
        rc = 0;
        goto out;
    }
    if (errno != ENOENT) {
        *why = xasprintf("cannot open log_file %s for appending: %s; "
                         "its lines would go to syslog", path, strerror(errno));
        goto out;
    }
    /* Missing: the first run creates it, if it may write in the directory. */
    dir = xstrdup(path);
    char *slash = strrchr(dir, '/');
    if (!slash || slash == dir)
        strcpy(dir, "/");
    else
        *slash = '\0';
    if (faccessat(AT_FDCWD, dir, W_OK | X_OK, AT_EACCESS) != 0) {
        *why = xasprintf("cannot create log_file %s: %s: %s; its lines would go to syslog",
                         path, dir, strerror(errno));
        goto out;
    }
    rc = 0;
out:
    if (fd >= 0)
        close(fd);
    free(dir);
    return rc;
}

void m2s_log_report_trouble(FILE *out)
{
    if (!log_trouble)
        return;
    fprintf(out, "%s\n", log_trouble);
    fflush(out);
}

/* The time stamp of a log_file line. Postfix's maillog_file (msg_logger(3),
 * written by postlogd(8)) has strftime "%b %d %H:%M:%S" in the C locale,
 * so mail2sms's lines sort in with Postfix's own; iso8601 is rsyslog's
 * "2026-11-27T21:50:01.123456+00:00". */
static void file_stamp(char *out, size_t size)
{
    static const char months[12][4] = { "Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                        "Jul", "Aug", "Sep", "Oct", "Nov", "Dec" };
    struct timeval tv;
    struct tm tm;
    char zone[8];
    gettimeofday(&tv, NULL);
    localtime_r(&tv.tv_sec, &tm);
    if (!log_iso8601) {
        snprintf(out, size, "%s %02d %02d:%02d:%02d", months[tm.tm_mon % 12], tm.tm_mday,
                 tm.tm_hour, tm.tm_min, tm.tm_sec);
        return;
    }
    strftime(zone, sizeof zone, "%z", &tm);   /* +hhmm */
    snprintf(out, size, "%04d-%02d-%02dT%02d:%02d:%02d.%06ld%.3s:%s", tm.tm_year + 1900,
             tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (long)tv.tv_usec,
             zone, zone + 3);
}

/* One line to log_file: "STAMP host mail2sms[1234]: QUEUEID: ..." in one
 * write(2), so lines of processes running at once never interleave. */
static void file_line(const char *qid, const char *line)
{
    char stamp[128];
    file_stamp(stamp, sizeof stamp);
    char *text = xasprintf("%s %s mail2sms[%ld]: %s: %s\n", stamp, log_host, (long)getpid(),
                           qid, line);
    ssize_t r = write(log_fd, text, strlen(text));
    (void)r;    /* nowhere left to report a failure to log */
    free(text);
}

static void vlog_line(int priority, const char *fmt, va_list ap)
{
    char *msg = xvasprintf(fmt, ap);
    /* One line per event: never let message text break the log format. */
    char *line = m2s_oneline(msg, 2000);
    const char *qid = log_queue_id ? log_queue_id : "NOQUEUE";
    if (log_quiet)
        ;
    else if (log_fd >= 0)
        file_line(qid, line);
    else
        syslog(priority, "%s: %s", qid, line);
    if (log_verbose)
        fprintf(stderr, "mail2sms: %s: %s\n", qid, line);
    free(line);
    free(msg);
}

void m2s_log(int priority, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vlog_line(priority, fmt, ap);
    va_end(ap);
}

void m2s_debug(const char *fmt, ...)
{
    if (!log_verbose)
        return;
    va_list ap;
    va_start(ap, fmt);
    vlog_line(LOG_DEBUG, fmt, ap);
    va_end(ap);
}

void m2s_log_quiet(void)
{
    log_quiet = true;
}

void m2s_log_close(void)
{
    if (log_fd >= 0)
        close(log_fd);
    log_fd = -1;
    closelog();
    free(log_queue_id);
    log_queue_id = NULL;
    log_quiet = false;
    free(log_trouble);
    log_trouble = NULL;
}
