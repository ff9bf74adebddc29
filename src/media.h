/* media.h - attachments and inline images to media URLs for MMS: which are
 * sent (at most 10, media.max_bytes each, media.max_total_bytes in all),
 * and where they go: Bird's presigned upload (media.store = "bird") or a
 * local directory served by the operator's web server ("directory").
 * Each item is stored once per mail however many numbers it reaches.
 */
#ifndef M2S_MEDIA_H
#define M2S_MEDIA_H

#include <stdbool.h>
#include <stdio.h>
#include "config.h"
#include "mail.h"
#include "outcome.h"
#include "http.h"

#define M2S_MEDIA_MAX_ITEMS 10

typedef struct m2s_media_item {
    const m2s_attachment *att;  /* borrowed from the mail */
    char *url;                  /* owned; set by m2s_media_store */
    bool is_image;              /* image/jpeg, image/png, image/gif */
} m2s_media_item;

typedef struct m2s_media_set {
    m2s_media_item *items;
    size_t n;
    size_t n_over_count;        /* left out: more than 10 */
    size_t n_too_large;         /* left out: over the size limits */
    size_t n_refused;           /* left out: Bird refused the type or size */
    bool all_images;
    const char *dsn;            /* set with a failure of m2s_media_store: a
                                 * finer enhanced status code for the line
                                 * ("4.4.2" for a timeout), or NULL; static */
} m2s_media_set;

/* Choose the media of a mail. M2S_OK, or M2S_E_CONTENT with *why when an
 * item is too large and media.on_too_large = "reject". */
m2s_class m2s_media_select(const m2s_config *cfg, const m2s_mail *mail,
                           m2s_media_set *out, char **why);

/* Store every item and set its url. In a dry run nothing is uploaded or
 * written: urls are https://dry-run.invalid/<n>/<filename> and, for the
 * "bird" store, the requests that would be made are printed to dry_out.
 * An item Bird refuses for good (its type, or its size at the storage
 * service unless media.on_too_large = "reject") is left out of the set and
 * counted in n_refused, so that the text still goes. Returns M2S_OK, or
 * the class of the failure with *why (new string) and set->dsn. http may
 * be NULL in a dry run or for the "directory" store. */
m2s_class m2s_media_store(const m2s_config *cfg, m2s_http *http,
                          bool dry_run, FILE *dry_out, m2s_media_set *set,
                          char **why);

/* A note for the text: "[2 attachments not sent]" and the like, or NULL.
 * sent_as_mms tells whether the items themselves went as media. */
char *m2s_media_note(const m2s_config *cfg, const m2s_media_set *set,
                     bool sent_as_mms);

/* Whether a number gets MMS under media.mms. */
bool m2s_media_mms_for(const m2s_config *cfg, const char *number);

/* Whether the items must be stored at all for these n target numbers:
 * false when there are none, or when no number gets MMS and
 * media.non_mms = "drop" (then nothing is uploaded or written). */
bool m2s_media_needed(const m2s_config *cfg, const m2s_media_set *set,
                      const char *const *numbers, size_t n);

void m2s_media_set_clear(m2s_media_set *set);

#endif
