/* outcome.h - the one table from failure class to exit code, enhanced
 * status code and log text (../shared/design/interface.md, "Exit status").
 *
 * Postfix defers only on 75 (EX_TEMPFAIL) and 71 (EX_OSERR); every other
 * code bounces. Everything that is our own fault or unknown is temporary.
 */
#ifndef M2S_OUTCOME_H
#define M2S_OUTCOME_H

#include <stddef.h>

typedef enum m2s_class {
    M2S_OK = 0,            /* accepted (or already sent for this mail)      0          */
    M2S_DROPPED,           /* storm limit, on_exceed = "drop"              0          */
    M2S_E_USAGE,           /* command-line error                          75 4.3.5   */
    M2S_E_CONFIG,          /* missing/invalid config, bad key file        75 4.3.5   */
    M2S_E_API_AUTH,        /* API 401/403/404                             75 4.3.5   */
    M2S_E_API_TEMP,        /* API 429/5xx after retries                   75 4.4.x   */
    M2S_E_NETWORK,         /* DNS, connect, timeout after retries         75 4.4.x   */
    M2S_E_INTERNAL,        /* our bug, out of memory, unknown reply       75 4.3.0   */
    M2S_E_STATE,           /* state store unavailable                     75 4.3.0   */
    M2S_E_RATE_DEFER,      /* storm limit, on_exceed = "defer"            75 4.7.0   */
    M2S_E_UNKNOWN_RCPT,    /* neither alias nor number                    67 5.1.1   */
    M2S_E_PREFIX,          /* number prefix not allowed                   77 5.7.1   */
    M2S_E_SENDER,          /* sender not allowed                          77 5.7.1   */
    M2S_E_CONTENT,         /* nothing to send, too large, API 400/422     65 5.6.0   */
    M2S_CLASS_COUNT
} m2s_class;

typedef struct m2s_outcome_row {
    m2s_class cls;
    int exit_code;          /* sysexits value */
    const char *dsn;        /* enhanced status code, "" for success */
    const char *status;     /* the log's status= word: sent, deferred, bounced, dropped */
    int severity;           /* higher wins when several numbers disagree */
} m2s_outcome_row;

/* The row for a class (static storage, never NULL for a valid class). */
const m2s_outcome_row *m2s_outcome(m2s_class cls);

/* Which of two classes wins for the whole mail: any temporary failure beats
 * every permanent one, a permanent one beats success. */
m2s_class m2s_outcome_worse(m2s_class a, m2s_class b);

/* True for classes that make Postfix retry (exit 75). */
int m2s_outcome_is_temporary(m2s_class cls);

/* The DSN for a network/API temporary failure may be refined: 4.4.1 (no
 * answer / connect), 4.4.2 (connection dropped / timeout), 4.4.3 (DNS),
 * 4.4.7 (deadline). NULL dsn_override keeps the row's code. */

/* Format the one line Postfix shows: "<dsn> <text>", trimmed to one line
 * of at most 400 bytes (m2s_oneline). Returns a new string. */
char *m2s_outcome_line(m2s_class cls, const char *dsn_override, const char *text);

#endif
