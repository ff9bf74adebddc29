/* mail.h - parse one RFC 5322 / MIME message with GMime into plain structs.
 *
 * Only this module knows GMime. Everything in struct m2s_mail is owned by
 * the m2s_mail and released by m2s_mail_free. All text is valid UTF-8:
 * charsets are converted, RFC 2047 words and RFC 2231 parameters decoded,
 * invalid bytes replaced.
 */
#ifndef M2S_MAIL_H
#define M2S_MAIL_H

#include <stdbool.h>
#include <stddef.h>
#include "util.h"

typedef struct m2s_attachment {
    char *filename;         /* decoded; never NULL ("attachment-N.ext" made up if absent) */
    char *content_type;     /* lower case "type/subtype" */
    char *content_id;       /* without <>, NULL if none */
    bool is_inline;         /* Content-Disposition inline, or part of multipart/related */
    unsigned char *data;    /* decoded bytes; NULL until m2s_mail_load_attachment */
    size_t len;             /* decoded size: exact once loaded, before that counted
                             * from the encoded bytes (base64 exactly, other
                             * encodings an upper bound) */
} m2s_attachment;

typedef struct m2s_mail {
    char *subject;          /* decoded, "" if none */
    char *from_addr;        /* bare address of From:, "" if none */
    char *from_name;        /* display name of From:, "" if none */
    char *message_id;       /* without <>, NULL if none */
    char *text_plain;       /* the chosen text/plain body, NULL if none */
    char *text_html;        /* the text/html body, NULL if none */
    m2s_attachment *att;
    size_t n_att;
    m2s_strv header_names;  /* X-SMS-* headers, names as written */
    m2s_strv header_values; /* their decoded values, same order */
    m2s_strv hdr_names;     /* every top-level header (at most 100), names as written, */
    m2s_strv hdr_values;    /* values decoded: for message.rules and source profiles */
    struct m2s_mail_tree *tree;     /* private: what attachments are loaded from */
} m2s_mail;

typedef struct m2s_mail_limits {
    long max_depth;         /* MIME nesting */
    long max_parts;         /* MIME parts in all */
} m2s_mail_limits;

typedef enum {
    M2S_MAIL_OK = 0,
    M2S_MAIL_EMPTY,         /* no input at all */
    M2S_MAIL_MALFORMED,     /* not a message GMime can read */
    M2S_MAIL_TOO_COMPLEX    /* nesting or part count over the limits */
} m2s_mail_status;

/* Initialise / shut down GMime once per process. */
void m2s_mail_init(void);
void m2s_mail_shutdown(void);

/* Parse len bytes at data. They are not copied: attachments are decoded
 * from them later, so they must stay as they are until m2s_mail_free.
 * On M2S_MAIL_OK *out is a new m2s_mail; otherwise *out is NULL and *why
 * (when why is not NULL) a new one-line reason. */
m2s_mail_status m2s_mail_parse(const char *data, size_t len,
                               const m2s_mail_limits *limits,
                               m2s_mail **out, char **why);

/* Decode att (one of mail->att) into att->data, with its exact length.
 * Attachments are decoded only when their bytes are needed: a dry run, or
 * an item left out, never costs the memory or the time. 0 on success. */
int m2s_mail_load_attachment(m2s_mail *mail, m2s_attachment *att);

/* The value of the first X-SMS-* header named name (case-insensitive),
 * borrowed from mail; NULL if absent. */
const char *m2s_mail_header(const m2s_mail *mail, const char *name);

void m2s_mail_free(m2s_mail *mail);

#endif
