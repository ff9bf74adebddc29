/* compose.h - from a parsed mail to what the SMS says: body text chosen
 * (plain or HTML, message.prefer), tidied, the subject squashed, options
 * (tags, validity, scheduledFor, reference) from config and, for trusted
 * senders, from X-SMS-* headers; then per number the formatted text held
 * to message.max_parts, with the media's note or links.
 */
#ifndef M2S_COMPOSE_H
#define M2S_COMPOSE_H

#include <stdbool.h>
#include "config.h"
#include "mail.h"
#include "media.h"
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
 * M2S_E_CONTENT with the reason in st for an invalid header value. */
m2s_class m2s_compose(const m2s_config *cfg, const m2s_mail *mail,
                      const char *raw, size_t raw_len, const char *queue_id,
                      bool trusted, m2s_message **out, m2s_status *st);

/* Expand {subject} {body} {from} {from_name} in fmt. New string. */
char *m2s_compose_expand(const char *fmt, const m2s_message *msg);

/* The SMS text for one number: fmt expanded (NULL = message.format),
 * transliterated when configured, whitespace tidied, prefix and suffix
 * (may be NULL) kept whole while the rest is held to message.max_parts.
 * Returns M2S_OK with *text (new), or M2S_E_CONTENT in st when there is
 * nothing to send or on_too_long = "reject" and it does not fit. */
m2s_class m2s_compose_text(const m2s_config *cfg, const m2s_message *msg,
                           const char *fmt, const char *prefix,
                           const char *suffix, char **text,
                           m2s_sms_count *count, bool *truncated, m2s_status *st);

/* Called by m2s_compose: condense msg's subject and body as
 * message.condense says (logging each rule's work with m2s_debug), and
 * when an alias sets another condense, keep the text of that setting in
 * msg->alt_subject and msg->alt_body (owned by msg). */
void m2s_compose_condense(const m2s_config *cfg, const m2s_mail *mail, m2s_message *msg);

/* The message an alias's numbers get (alias may be NULL): msg, or, when
 * the alias's condense differs from message.condense, *view made a copy
 * of msg with the other text. What it returns borrows from msg: never
 * free it or *view. */
const m2s_message *m2s_compose_for_alias(const m2s_config *cfg, const m2s_message *msg,
                                         const m2s_alias *alias, m2s_message *view);

/* What one number gets. */
typedef struct m2s_sms {
    char *text;                     /* owned; NULL when a template is sent */
    const char *subject;            /* the MMS subject: borrowed from the message */
    m2s_sms_count count;
    bool truncated;
    bool mms;                       /* the media go along as media */
    const m2s_template *tmpl;       /* borrowed from the config, or NULL */
    m2s_strv tmpl_values;           /* owned: its parameters, expanded */
} m2s_sms;

/* The SMS for number, reached through alias (NULL for a plain number):
 * the alias's template or format (else message.*), "(+N suppressed)"
 * first when suppressed > 0, and after the text the media's URLs (a
 * number without MMS, media.non_mms = "links") and their note; when the
 * URLs cannot fit, a note that says so instead. media may be NULL.
 * M2S_OK with *out set (release with m2s_sms_clear), or the class of
 * m2s_compose_text's failure with st set and *out empty. */
m2s_class m2s_compose_sms(const m2s_config *cfg, const m2s_message *msg,
                          const m2s_alias *alias, const char *number, long suppressed,
                          const m2s_media_set *media, m2s_sms *out, m2s_status *st);
void m2s_sms_clear(m2s_sms *sms);

void m2s_message_free(m2s_message *msg);

#endif
