/* outcome.c - the one table from failure class to exit code, DSN and log
 * status (interface.md, "Exit status and the line Postfix shows"). */
#include "build-config.h"

#include <stdlib.h>
#include <string.h>
#include <sysexits.h>

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

int m2s_outcome_is_temporary(m2s_class cls)
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
