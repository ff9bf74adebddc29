/* mime.c - the one table of MIME types: extension and whether Bird's MMS
 * takes it as an image. */
#include "build-config.h"

#include <stddef.h>
#include <string.h>

#include "mime.h"

static const struct {
    const char *type;
    const char *ext;
    bool image;
} types[] = {
    { "image/jpeg", "jpg", true },
    { "image/png", "png", true },
    { "image/gif", "gif", true },
    { "application/pdf", "pdf", false },
    { "text/plain", "txt", false },
    { "audio/mpeg", "mp3", false },
    { "message/rfc822", "eml", false },
};

/* What mail software writes for image/jpeg. */
static const char *const jpeg_misspellings[] = { "image/jpg", "image/pjpeg" };

const char *m2s_mime_canonical(const char *type)
{
    if (type == NULL)
        return "application/octet-stream";
    for (size_t i = 0; i < sizeof jpeg_misspellings / sizeof jpeg_misspellings[0]; i++)
        if (strcmp(type, jpeg_misspellings[i]) == 0)
            return "image/jpeg";
    return type;
}

/* The table's row for type, or -1. */
static int find(const char *type)
{
    const char *t = m2s_mime_canonical(type);
    for (size_t i = 0; i < sizeof types / sizeof types[0]; i++)
        if (strcmp(t, types[i].type) == 0)
            return (int)i;
    return -1;
}

const char *m2s_mime_ext(const char *type)
{
    int i = find(type);
    return i < 0 ? NULL : types[i].ext;
}

bool m2s_mime_is_image(const char *type)
{
    int i = find(type);
    return i >= 0 && types[i].image;
}
