/* outcome.h - the one table from failure class to exit code, enhanced
 * status code and log text (mail2sms(8), "EXIT STATUS"), and the one type
 * in which every stage reports how it went.
 *
 * Postfix defers only on 75 (EX_TEMPFAIL) and 71 (EX_OSERR); every other
 * code bounces. Everything that is our own fault or unknown is temporary.
 */
#ifndef M2S_OUTCOME_H
#define M2S_OUTCOME_H

#include <stdbool.h>
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
bool m2s_outcome_is_temporary(m2s_class cls);

/* The one line Postfix shows: "<dsn> <text>", where dsn_override (a finer
 * code of the same class, e.g. 4.4.2 for a timeout) replaces the row's
 * code when not NULL; trimmed to one line of at most 400 bytes
 * (m2s_oneline). Returns a new string. */
char *m2s_outcome_line(m2s_class cls, const char *dsn_override, const char *text);

/* ------------------------------------------------------------ status */

/* How a stage, a number or the whole mail went. One ownership rule: the
 * status owns why (NULL or a heap string, released by m2s_status_clear);
 * dsn is NULL (the class's own code) or static storage. A zeroed status
 * (M2S_STATUS_INIT) is success with no reason. */
typedef struct m2s_status {
    m2s_class cls;
    const char *dsn;
    char *why;
} m2s_status;

#define M2S_STATUS_INIT { M2S_OK, NULL, NULL }

/* Set st to cls with a reason formatted from fmt (NULL for none); an
 * earlier reason is released. Returns cls. */
m2s_class m2s_status_set(m2s_status *st, m2s_class cls, const char *dsn, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* The same, taking ownership of why (may be NULL). Returns cls. */
m2s_class m2s_status_take(m2s_status *st, m2s_class cls, const char *dsn, char *why);

/* Move src into dst (dst's reason is released first); src becomes success. */
void m2s_status_move(m2s_status *dst, m2s_status *src);

/* The line Postfix shows for st (m2s_outcome_line). New string. */
char *m2s_status_line(const m2s_status *st);

/* Release the reason; st becomes success. */
void m2s_status_clear(m2s_status *st);

/* ------------------------------------------------------- last words */

/* Ends that cannot go through a status: the process must stop now. */
typedef enum m2s_last_words {
    M2S_LAST_OUT_OF_MEMORY,     /* 75 4.3.0 */
    M2S_LAST_DEADLINE           /* 75 4.4.7: `deadline` ran out */
} m2s_last_words;

/* Write the line for `which` to standard output and _exit with its code.
 * Async-signal-safe: a signal handler may call it. */
void m2s_outcome_exit_now(m2s_last_words which) __attribute__((noreturn));

/* A SIGALRM handler for the last resort behind `deadline`: whatever is
 * still running then (a pathological mail, a stuck library call) ends
 * with M2S_LAST_DEADLINE, before Postfix's own time limit would kill the
 * run and bounce the mail. What was accepted is in the journal already. */
void m2s_outcome_on_alarm(int sig);

/* Make running out of memory end the process with M2S_LAST_OUT_OF_MEMORY
 * (util.h's allocators call it). Call once at start. */
void m2s_outcome_init(void);

#endif
