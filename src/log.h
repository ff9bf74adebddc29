/* log.h - syslog (facility mail, ident "mail2sms"), or a file of the
 * operator's (log_file), plus standard error with -v. Lines follow
 * Postfix's style:
 *   QUEUEID: to=<addr>, number=+31..., status=sent, id=..., parts=2
 * Nothing passed here may contain the access key; callers never pass it.
 */
#ifndef M2S_LOG_H
#define M2S_LOG_H

#include <stdbool.h>
#include <stdio.h>
#include <syslog.h>

/* queue_id is copied; NULL or "" logs "NOQUEUE". */
void m2s_log_open(const char *queue_id, bool verbose);
/* The queue id of the lines this thread logs from now on (copied; NULL
 * or "": "NOQUEUE"). A thread that set one sets NULL before it ends. */
void m2s_log_set_queue_id(const char *queue_id);
/* From now on write to the file at path (appended, created 0640) instead
 * of syslog, each line stamped as Postfix's maillog_file does
 * ("Nov 27 21:50:01 host mail2sms[1234]: ...") or, with iso8601, as
 * rsyslog does ("2026-11-27T21:50:01.123456+01:00 host ...").
 * -1 with *why (new string) when it cannot be opened: logging stays with
 * syslog, and m2s_log_report_trouble() can tell Postfix. */
int m2s_log_to_file(const char *path, bool iso8601, char **why);
/* Whether the current user could append to log_file path, creating
 * nothing: an existing file must open for appending (without O_CREAT), a
 * missing one needs a directory it may write in. 0 when it could; -1 with
 * *why (new string, naming the path and saying the lines would go to
 * syslog) when not. */
int m2s_log_check_file(const char *path, char **why);
/* When m2s_log_to_file() failed in this run, write one short line about it
 * to out (for the end of a successful run: pipe(8) shows a command's
 * output after "delivered via SERVICE service", up to 100 characters).
 * Nothing otherwise. */
void m2s_log_report_trouble(FILE *out);
void m2s_log(int priority, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Debug detail: only written when verbose (to stderr and syslog LOG_DEBUG). */
void m2s_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* From now on write nothing but the -v copy on stderr: a dry run leaves
 * no trace in the mail log. */
void m2s_log_quiet(void);
void m2s_log_close(void);

#endif
