/* log.c - syslog, facility mail, ident "mail2sms"; a copy on stderr with -v. */
#include "build-config.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "util.h"

static char *log_queue_id;
static bool log_verbose;

void m2s_log_open(const char *queue_id, bool verbose)
{
    free(log_queue_id);
    log_queue_id = xstrdup(queue_id && *queue_id ? queue_id : "NOQUEUE");
    log_verbose = verbose;
    openlog("mail2sms", LOG_PID | LOG_NDELAY, LOG_MAIL);
}

static void vlog_line(int priority, const char *fmt, va_list ap)
{
    char *msg = xvasprintf(fmt, ap);
    /* One line per event: never let message text break the log format. */
    char *line = m2s_oneline(msg, 2000);
    const char *qid = log_queue_id ? log_queue_id : "NOQUEUE";
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

void m2s_log_close(void)
{
    closelog();
    free(log_queue_id);
    log_queue_id = NULL;
}
