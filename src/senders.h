/* senders.h - who may spend the SMS budget: senders.allowed patterns on
 * the envelope sender and/or the From header (senders.check), the null
 * sender (senders.allow_null), and the shared secret senders.token in
 * the subject or an X-SMS-Token header.
 */
#ifndef M2S_SENDERS_H
#define M2S_SENDERS_H

#include <stdbool.h>
#include "config.h"
#include "mail.h"
#include "outcome.h"

/* Decide whether the mail may be sent. envelope is the -f sender (NULL =
 * not given, "" = null sender). On success the token, if any, is removed
 * from mail->subject and M2S_OK returned (st untouched); otherwise
 * M2S_E_SENDER with the reason in st (one line, never containing the
 * token; st may be NULL). */
m2s_class m2s_senders_authorize(const m2s_config *cfg, const char *envelope,
                                m2s_mail *mail, m2s_status *st);

/* True when the sender may set X-SMS-* options (senders.trusted). */
bool m2s_senders_trusted(const m2s_config *cfg, const char *envelope,
                         const m2s_mail *mail);

#endif
