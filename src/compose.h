/* compose.h - from a parsed mail to what the SMS says: body text chosen
 * (plain or HTML, message.prefer), tidied, the subject squashed, options
 * (tags, validity, scheduledFor, reference) from config and, for trusted
 * senders, from X-SMS-* headers; then per number the formatted text held
 * to message.max_parts.
 */
#ifndef M2S_COMPOSE_H
#define M2S_COMPOSE_H

#include <stdbool.h>
#include "config.h"
#include "mail.h"
#include "outcome.h"
#include "text.h"

typedef struct m2s_message {
    char *subject;          /* one line */
    char *body;             /* tidied text, may be "" */
    char *from_addr;        /* copies of the mail's */
    char *from_name;
    char *reference;        /* Message-ID, else queue id, else NULL */
    char *key;              /* journal key: Message-ID, else queue id, else sha256 of the mail */
    m2s_strv tags;
    long validity;          /* 0 = unset */
    char *scheduled_for;    /* RFC 3339 or NULL */
    char *alt_subject;      /* with the other message.condense setting, for */
    char *alt_body;         /* aliases that choose it (condense.h); NULL if none does */
} m2s_message;

/* Build the message. raw/raw_len is the mail as read (for the hash key).
 * trusted: X-SMS-* headers are honoured. Returns M2S_OK with *out set, or
 * M2S_E_CONTENT with *why (new string) for an invalid header value. */
m2s_class m2s_compose(const m2s_config *cfg, const m2s_mail *mail,
                      const char *raw, size_t raw_len, const char *queue_id,
                      bool trusted, m2s_message **out, char **why);

/* Expand {subject} {body} {from} {from_name} in fmt. New string. */
char *m2s_compose_expand(const char *fmt, const m2s_message *msg);

/* The SMS text for one number: fmt expanded (NULL = message.format),
 * transliterated when configured, whitespace tidied, prefix and suffix
 * (may be NULL) kept whole while the rest is held to message.max_parts.
 * Returns M2S_OK with *text (new), or M2S_E_CONTENT with *why when there is
 * nothing to send or on_too_long = "reject" and it does not fit. */
m2s_class m2s_compose_text(const m2s_config *cfg, const m2s_message *msg,
                           const char *fmt, const char *prefix,
                           const char *suffix, char **text,
                           m2s_sms_count *count, bool *truncated, char **why);

void m2s_message_free(m2s_message *msg);

#endif
