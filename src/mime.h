/* mime.h - MIME types: the extension for a type, the image types Bird's
 * MMS takes, the common misspellings of image/jpeg. One table for the
 * names mail.c makes up for attachments and the files media.c stores.
 *
 * A leaf module (no library, no other module). Types are lower case
 * "type/subtype", as mail.c gives them. Every string returned is static
 * or the caller's own argument: nothing to free.
 */
#ifndef M2S_MIME_H
#define M2S_MIME_H

#include <stdbool.h>

/* The type as Bird should get it: "image/jpg" and "image/pjpeg" are
 * "image/jpeg", NULL is "application/octet-stream", anything else is
 * type itself. */
const char *m2s_mime_canonical(const char *type);

/* The usual file extension for type (after m2s_mime_canonical), without
 * the dot: "jpg", "pdf", "eml"...; NULL for a type not in the table. */
const char *m2s_mime_ext(const char *type);

/* True for the image types Bird's MMS takes as images (image/jpeg,
 * image/png, image/gif; misspellings of image/jpeg included). */
bool m2s_mime_is_image(const char *type);

#endif
