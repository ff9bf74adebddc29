/* media.h - attachments and inline images to media URLs for MMS: which are
 * sent (at most 10, media.max_bytes each, media.max_total_bytes in all),
 * and where they go: Bird's presigned upload (media.store = "bird") or a
 * local directory served by the operator's web server ("directory"), each
 * a backend; a dry run brings its own (dryrun.h).
 * Each item is stored once per mail however many numbers it reaches.
 */
#ifndef M2S_MEDIA_H
#define M2S_MEDIA_H

#include <stdbool.h>
#include "bird.h"
#include "config.h"
#include "mail.h"
#include "outcome.h"

#define M2S_MEDIA_MAX_ITEMS 10

typedef struct m2s_media_item {
    m2s_attachment *att;        /* borrowed from the mail; decoded when stored */
    m2s_mail *mail;             /* borrowed: what att is decoded from */
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
} m2s_media_set;

/* Choose the media of a mail (borrowed by the set until it is cleared).
 * M2S_OK, or M2S_E_CONTENT in st when an item is too large and
 * media.on_too_large = "reject". */
m2s_class m2s_media_select(const m2s_config *cfg, m2s_mail *mail, m2s_media_set *out,
                           m2s_status *st);

/* Where media are stored. store() sets every item's url, decoding the
 * attachments it needs; an item Bird refuses for good (its type, or its
 * size at the storage service unless media.on_too_large = "reject") is
 * left out of the set and counted in n_refused, so that the text still
 * goes. Returns M2S_OK, or the failure's class with st set. bird is the
 * client that Bird's store talks through, by deadline_at (an m2s_now()
 * time); the others ignore both. */
typedef struct m2s_media_backend {
    const char *name;           /* for the log line */
    m2s_class (*store)(const m2s_config *cfg, m2s_bird *bird, double deadline_at,
                       m2s_media_set *set, m2s_status *st);
} m2s_media_backend;

extern const m2s_media_backend m2s_media_bird;        /* Bird's presigned upload */
extern const m2s_media_backend m2s_media_directory;   /* media.directory, media.base_url */

/* The backend media.store names. Static storage. */
const m2s_media_backend *m2s_media_backend_of(const m2s_config *cfg);

/* Store the set with backend be (nothing to do for an empty set), and log
 * how many items went. */
m2s_class m2s_media_store(const m2s_media_backend *be, const m2s_config *cfg, m2s_bird *bird,
                          double deadline_at, m2s_media_set *set, m2s_status *st);

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
