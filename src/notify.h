/* notify.h - the delivery status notification (RFC 3464) of an SMS that
 * failed for good, and its handing to the local sendmail
 * (tracking.on_failure "notify"). The notice has the null envelope
 * sender and Auto-Submitted: auto-replied; it never goes to the null
 * sender nor to an address of the SMS domain itself.
 */
#ifndef M2S_NOTIFY_H
#define M2S_NOTIFY_H

#include "config.h"
#include "state_backend.h"

/* To whom the notice for t goes: tracking.notify_to, else the mail's
 * envelope sender; NULL when nobody may get it (no sender, the null
 * sender, or an address in the domain of t's SMS recipient). Borrowed
 * from cfg or t. */
const char *m2s_notify_rcpt(const m2s_config *cfg, const m2s_tracked *t);

/* The notice for t as a whole mail to rcpt: a readable part, the
 * message/delivery-status part with dsn (a 5.x.x code) as its Status,
 * and the original headers. host names the reporting system. New
 * string. */
char *m2s_notify_message(const m2s_tracked *t, const char *rcpt, const char *dsn,
                         const char *host);

/* Hand msg to tracking.sendmail with the null envelope sender, for rcpt.
 * 0, or -1 with *why (new string). */
int m2s_notify_send(const m2s_config *cfg, const char *rcpt, const char *msg, char **why);

#endif
