/* log.h - syslog (facility mail, ident "mail2sms"), or a file of the
 * operator's (log_file), plus standard error with -v. Lines follow
 * Postfix's style:
 *   QUEUEID: to=<addr>, number=+31..., status=sent, id=..., parts=2
 * Nothing passed here may contain the access key; callers never pass it.
 */
#ifndef M2S_LOG_H
#define M2S_LOG_H

#include <stdbool.h>
#include <syslog.h>

/* queue_id is copied; NULL or "" logs "NOQUEUE". */
void m2s_log_open(const char *queue_id, bool verbose);
/* From now on write to the file at path (appended, created 0640) instead
 * of syslog. -1 with *why (new string) when it cannot be opened: logging
 * stays with syslog. */
int m2s_log_to_file(const char *path, char **why);
void m2s_log(int priority, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Debug detail: only written when verbose (to stderr and syslog LOG_DEBUG). */
void m2s_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* From now on write nothing but the -v copy on stderr: a dry run leaves
 * no trace in the mail log. */
void m2s_log_quiet(void);
void m2s_log_close(void);

#endif
