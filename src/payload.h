/* payload.h - the Bird Channels API's JSON, in and out. Only this module
 * knows json-c. Every returned string is new and owned by the caller.
 */
#ifndef M2S_PAYLOAD_H
#define M2S_PAYLOAD_H

#include <stdbool.h>
#include <stddef.h>
#include "config.h"
#include "util.h"

typedef struct m2s_media_ref {
    const char *url;
    const char *content_type;
    const char *filename;
} m2s_media_ref;

typedef struct m2s_payload_in {
    const char *number;             /* E.164 */
    const char *text;               /* SMS text, or the MMS text */
    const char *subject;            /* metadata.subject for image/file; may be NULL */
    const m2s_media_ref *media;     /* NULL/0 = text body */
    size_t n_media;
    bool all_images;                /* body type image, else file */
    const char *reference;          /* may be NULL */
    const m2s_strv *tags;           /* may be NULL; valid by rules.h */
    long validity;                  /* 0 = omit */
    const char *scheduled_for;      /* may be NULL */
    const m2s_template *tmpl;       /* non-NULL: "template" instead of "body" */
    const m2s_strv *tmpl_values;    /* expanded values, same order as tmpl->param_keys */
} m2s_payload_in;

/* The request body of "Send a message". */
char *m2s_payload_message(const m2s_payload_in *in);

/* The request body of a presigned upload request: {"contentType": ...}. */
char *m2s_payload_presign(const char *content_type);

/* One dry-run line: {"method":...,"url":...,"body":<body_json>} (no newline).
 * body_json may be NULL (body omitted: used for uploads, where "body" is
 * replaced by a description of the form). */
char *m2s_payload_dry_run_line(const char *method, const char *url,
                               const char *body_json);

/* 202 reply: id and status of the message. Returns 0, or -1 when the body
 * is not a Bird message. *id and *status are new strings. */
int m2s_payload_parse_accepted(const char *body, size_t len, char **id,
                               char **status);

/* A message as Bird reads it back (GET .../messages/{id}): its status
 * word, its reason (or the failure's description) and the failure's
 * source as "name code" (each new, or NULL when absent). 0, or -1 when
 * the body is not a Bird message. */
int m2s_payload_parse_status(const char *body, size_t len, char **status, char **reason,
                             char **source);

/* A Bird error body ({code,message} or {code,message,details}) made into a
 * short line: "code: message (field: detail; ...)". NULL when the body is
 * not Bird-shaped. */
char *m2s_payload_error_text(const char *body, size_t len);

/* The answer to a presigned upload request. */
typedef struct m2s_presign {
    char *media_url;
    char *upload_url;
    char *upload_method;            /* "POST" by default */
    m2s_strv form_names;            /* uploadFormData, in the order given */
    m2s_strv form_values;
} m2s_presign;

int m2s_payload_parse_presign(const char *body, size_t len, m2s_presign *out);
void m2s_presign_clear(m2s_presign *p);

#endif
