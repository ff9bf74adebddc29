/* log.c - syslog, facility mail, ident "mail2sms", or log_file; a copy on
 * stderr with -v. */
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

static char *log_queue_id;
static bool log_verbose;
static bool log_quiet;          /* a dry run: nothing but the -v copy */
static int log_fd = -1;
static char log_host[64];

void m2s_log_open(const char *queue_id, bool verbose)
{
    free(log_queue_id);
    log_queue_id = xstrdup(queue_id && *queue_id ? queue_id : "NOQUEUE");
    log_verbose = verbose;
    openlog("mail2sms", LOG_PID | LOG_NDELAY, LOG_MAIL);
}

int m2s_log_to_file(const char *path, char **why)
{
    int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOCTTY, 0640);
    if (fd < 0) {
        *why = xasprintf("cannot open log_file %s: %s", path, strerror(errno));
        return -1;
    }
    if (log_fd >= 0)
        close(log_fd);
    log_fd = fd;
    if (gethostname(log_host, sizeof log_host - 1) != 0)
        strcpy(log_host, "localhost");
    log_host[strcspn(log_host, ".")] = '\0';     /* short name, as syslog writes it */
    return 0;
}

/* One line to log_file, as Debian's rsyslog writes mail.log:
 * "2026-11-27T21:50:01.123456+00:00 host mail2sms[1234]: QUEUEID: ..." in
 * one write(2), so lines of processes running at once never interleave. */
static void file_line(const char *qid, const char *line)
{
    struct timeval tv;
    struct tm tm;
    char stamp[40], zone[8];
    gettimeofday(&tv, NULL);
    localtime_r(&tv.tv_sec, &tm);
    strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%S", &tm);
    strftime(zone, sizeof zone, "%z", &tm);   /* +hhmm */
    char *text = xasprintf("%s.%06ld%.3s:%s %s mail2sms[%ld]: %s: %s\n", stamp,
                           (long)tv.tv_usec, zone, zone + 3, log_host, (long)getpid(), qid,
                           line);
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
}
