/* outcome.c - the one table from failure class to exit code, DSN and log
 * status (mail2sms(8), "EXIT STATUS"), the status type, and the last
 * words of a process that must stop at once. */
#include "build-config.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <unistd.h>

#include "outcome.h"
#include "util.h"

/* severity: temporary failures (75) rank above every permanent one, which
 * rank above success, so "any temporary failure -> 75" falls out of a max. */
static const m2s_outcome_row table[M2S_CLASS_COUNT] = {
    [M2S_OK]             = { M2S_OK,             EX_OK,       "",      "sent",     0 },
    [M2S_DROPPED]        = { M2S_DROPPED,        EX_OK,       "",      "dropped",  1 },
    [M2S_E_UNKNOWN_RCPT] = { M2S_E_UNKNOWN_RCPT, EX_NOUSER,   "5.1.1", "bounced", 10 },
    [M2S_E_CONTENT]      = { M2S_E_CONTENT,      EX_DATAERR,  "5.6.0", "bounced", 11 },
    [M2S_E_PREFIX]       = { M2S_E_PREFIX,       EX_NOPERM,   "5.7.1", "bounced", 12 },
    [M2S_E_SENDER]       = { M2S_E_SENDER,       EX_NOPERM,   "5.7.1", "bounced", 13 },
    [M2S_E_RATE_DEFER]   = { M2S_E_RATE_DEFER,   EX_TEMPFAIL, "4.7.0", "deferred", 20 },
    [M2S_E_API_TEMP]     = { M2S_E_API_TEMP,     EX_TEMPFAIL, "4.4.0", "deferred", 21 },
    [M2S_E_NETWORK]      = { M2S_E_NETWORK,      EX_TEMPFAIL, "4.4.1", "deferred", 22 },
    [M2S_E_API_AUTH]     = { M2S_E_API_AUTH,     EX_TEMPFAIL, "4.3.5", "deferred", 23 },
    [M2S_E_STATE]        = { M2S_E_STATE,        EX_TEMPFAIL, "4.3.0", "deferred", 24 },
    [M2S_E_INTERNAL]     = { M2S_E_INTERNAL,     EX_TEMPFAIL, "4.3.0", "deferred", 25 },
    [M2S_E_CONFIG]       = { M2S_E_CONFIG,       EX_TEMPFAIL, "4.3.5", "deferred", 26 },
    [M2S_E_USAGE]        = { M2S_E_USAGE,        EX_TEMPFAIL, "4.3.5", "deferred", 27 },
};

/* The lines of a process that stops at once, whole and static, so that a
 * signal handler can write them. */
static const struct {
    m2s_class cls;
    const char *line;
} last_words[] = {
    [M2S_LAST_OUT_OF_MEMORY] = { M2S_E_INTERNAL, "4.3.0 mail2sms: out of memory\n" },
    [M2S_LAST_DEADLINE] = { M2S_E_NETWORK,
                            "4.4.7 mail2sms: deadline reached, will try again later\n" },
};

const m2s_outcome_row *m2s_outcome(m2s_class cls)
{
    if ((int)cls < 0 || cls >= M2S_CLASS_COUNT)
        cls = M2S_E_INTERNAL;
    return &table[cls];
}

m2s_class m2s_outcome_worse(m2s_class a, m2s_class b)
{
    return m2s_outcome(a)->severity >= m2s_outcome(b)->severity ? a : b;
}

bool m2s_outcome_is_temporary(m2s_class cls)
{
    return m2s_outcome(cls)->exit_code == EX_TEMPFAIL;
}

char *m2s_outcome_line(m2s_class cls, const char *dsn_override, const char *text)
{
    const m2s_outcome_row *row = m2s_outcome(cls);
    const char *dsn = dsn_override && *dsn_override ? dsn_override : row->dsn;
    char *raw = *dsn ? xasprintf("%s %s", dsn, text ? text : "")
                     : xstrdup(text ? text : "");
    char *line = m2s_oneline(raw, 400);
    free(raw);
    return line;
}

m2s_class m2s_status_take(m2s_status *st, m2s_class cls, const char *dsn, char *why)
{
    free(st->why);
    st->cls = cls;
    st->dsn = dsn;
    st->why = why;
    return cls;
}

m2s_class m2s_status_set(m2s_status *st, m2s_class cls, const char *dsn, const char *fmt, ...)
{
    char *why = NULL;
    if (fmt) {
        va_list ap;
        va_start(ap, fmt);
        why = xvasprintf(fmt, ap);
        va_end(ap);
    }
    return m2s_status_take(st, cls, dsn, why);
}

void m2s_status_move(m2s_status *dst, m2s_status *src)
{
    m2s_status_take(dst, src->cls, src->dsn, src->why);
    src->why = NULL;
    src->cls = M2S_OK;
    src->dsn = NULL;
}

char *m2s_status_line(const m2s_status *st)
{
    return m2s_outcome_line(st->cls, st->dsn, st->why);
}

void m2s_status_clear(m2s_status *st)
{
    m2s_status_take(st, M2S_OK, NULL, NULL);
}

void m2s_outcome_exit_now(m2s_last_words which)
{
    const char *line = last_words[which].line;
    ssize_t r = write(STDOUT_FILENO, line, strlen(line));
    (void)r;
    _exit(table[last_words[which].cls].exit_code);
}

void m2s_outcome_on_alarm(int sig)
{
    (void)sig;
    m2s_outcome_exit_now(M2S_LAST_DEADLINE);
}

static void out_of_memory(void)
{
    m2s_outcome_exit_now(M2S_LAST_OUT_OF_MEMORY);
}

void m2s_outcome_init(void)
{
    m2s_util_on_oom(out_of_memory);
}
