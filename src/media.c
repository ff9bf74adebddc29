/* media.c - attachments and inline images of a mail made into media URLs.
 *
 * Selection keeps the mail's order: an item over media.max_bytes, or one
 * that would take the message over media.max_total_bytes, is left out (or
 * refuses the mail with media.on_too_large = "reject"); after ten items the
 * rest are left out. The note in the text says how many.
 *
 * Storage, once per mail whatever the number of targets:
 *  - "bird": Bird's presigned upload. Every presign request goes out as one
 *    HTTP batch (with the access key), then every upload as a second batch
 *    (multipart/form-data to the storage URL, never with the access key).
 *    An item Bird refuses for good is left out and the text still goes;
 *    any temporary failure defers the whole mail.
 *  - "directory": each file written atomically (temporary file in the same
 *    directory, fsync, rename) under 128 random bits in hex plus the
 *    original extension; the operator's web server serves it at base_url.
 */
#include "build-config.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"
#include "media.h"
#include "mime.h"
#include "payload.h"

#define RANDOM_BYTES 16         /* 128 bits: 32 hex digits */
#define MAX_EXT 10

/* -------------------------------------------------------- selection */

/* The content type Bird gets for an attachment: the common misspellings of
 * image/jpeg are read as image/jpeg, everything else as the mail says. */
static const char *media_type(const m2s_attachment *a)
{
    return m2s_mime_canonical(a->content_type);
}

static bool is_image_type(const char *ct)
{
    return m2s_mime_is_image(ct);
}

static void set_all_images(m2s_media_set *set)
{
    set->all_images = set->n > 0;
    for (size_t i = 0; i < set->n; i++)
        if (!set->items[i].is_image)
            set->all_images = false;
}

m2s_class m2s_media_select(const m2s_config *cfg, m2s_mail *mail, m2s_media_set *out,
                           m2s_status *st)
{
    m2s_class cls = M2S_OK;
    uint64_t total = 0;
    memset(out, 0, sizeof *out);
    if (mail->n_att == 0)
        return M2S_OK;
    out->items = xcalloc(mail->n_att, sizeof *out->items);
    for (size_t i = 0; i < mail->n_att; i++) {
        m2s_attachment *a = &mail->att[i];
        if (a->len == 0)
            continue;           /* nothing to show */
        bool over_item = (uint64_t)a->len > (uint64_t)cfg->media_max_bytes;
        bool over_total = !over_item &&
                          total + a->len > (uint64_t)cfg->media_max_total_bytes;
        if (over_item || over_total) {
            if (cfg->on_too_large == M2S_TOO_LARGE_REJECT) {
                if (over_item)
                    cls = m2s_status_set(st, M2S_E_CONTENT, NULL, "attachment \"%s\" too large "
                                         "for MMS: %zu bytes, over media.max_bytes (%lld)",
                                         a->filename, a->len, (long long)cfg->media_max_bytes);
                else
                    cls = m2s_status_set(st, M2S_E_CONTENT, NULL, "attachments too large for "
                                         "MMS: \"%s\" takes them over media.max_total_bytes "
                                         "(%lld)", a->filename,
                                         (long long)cfg->media_max_total_bytes);
                goto out;
            }
            out->n_too_large++;
            m2s_debug("media: \"%s\" (%zu bytes) left out: over media.%s", a->filename,
                      a->len, over_item ? "max_bytes" : "max_total_bytes");
            continue;
        }
        if (out->n == M2S_MEDIA_MAX_ITEMS) {
            out->n_over_count++;
            continue;
        }
        total += a->len;
        m2s_media_item *it = &out->items[out->n++];
        it->att = a;
        it->mail = mail;
        it->is_image = is_image_type(media_type(a));
    }
    set_all_images(out);
out:
    if (cls != M2S_OK)
        m2s_media_set_clear(out);
    return cls;
}

/* ------------------------------------------------------ who needs it */

bool m2s_media_mms_for(const m2s_config *cfg, const char *number)
{
    switch (cfg->mms) {
    case M2S_MMS_ON:
        return true;
    case M2S_MMS_OFF:
        return false;
    default:
        /* Bird offers MMS only in the US and Canada. */
        return number && strncmp(number, "+1", 2) == 0;
    }
}

bool m2s_media_needed(const m2s_config *cfg, const m2s_media_set *set,
                      const char *const *numbers, size_t n)
{
    if (!set || set->n == 0 || n == 0)
        return false;
    if (cfg->non_mms == M2S_NON_MMS_LINKS)
        return true;
    for (size_t i = 0; i < n; i++)
        if (m2s_media_mms_for(cfg, numbers[i]))
            return true;
    return false;
}

/* ------------------------------------------------------------- note */

char *m2s_media_note(const m2s_config *cfg, const m2s_media_set *set,
                     bool sent_as_mms)
{
    if (!set)
        return NULL;
    size_t all = set->n + set->n_over_count + set->n_too_large + set->n_refused;
    if (!sent_as_mms && set->n > 0 && cfg->non_mms == M2S_NON_MMS_DROP)
        return xasprintf("[%zu attachment%s not sent]", all, all == 1 ? "" : "s");
    m2s_buf b;
    m2s_buf_init(&b);
    if (set->n_over_count)
        m2s_buf_printf(&b, "[%zu more attachment%s not sent]", set->n_over_count,
                       set->n_over_count == 1 ? "" : "s");
    if (set->n_too_large)
        m2s_buf_printf(&b, "%s[%zu attachment%s too large, not sent]", b.len ? " " : "",
                       set->n_too_large, set->n_too_large == 1 ? "" : "s");
    if (set->n_refused)
        m2s_buf_printf(&b, "%s[%zu attachment%s refused, not sent]", b.len ? " " : "",
                       set->n_refused, set->n_refused == 1 ? "" : "s");
    if (b.len == 0) {
        m2s_buf_clear(&b);
        return NULL;
    }
    return m2s_buf_steal(&b);
}

/* ------------------------------------------------------------ names */

/* The extension for a stored file: the original one, lower case, letters
 * and digits only (at most MAX_EXT), else one for the content type, else
 * none. Returns "" or ".ext" in buf. */
static void file_ext(const m2s_attachment *a, char buf[MAX_EXT + 2])
{
    const char *dot = a->filename ? strrchr(a->filename, '.') : NULL;
    size_t n = 0;
    buf[0] = '\0';
    if (dot && dot != a->filename) {
        const char *e = dot + 1;
        size_t len = strlen(e);
        bool ok = len > 0 && len <= MAX_EXT;
        for (size_t i = 0; ok && i < len; i++)
            if (!isascii((unsigned char)e[i]) || !isalnum((unsigned char)e[i]))
                ok = false;
        if (ok) {
            buf[n++] = '.';
            for (size_t i = 0; i < len; i++)
                buf[n++] = (char)tolower((unsigned char)e[i]);
            buf[n] = '\0';
            return;
        }
    }
    const char *known = m2s_mime_ext(media_type(a));
    if (known)
        snprintf(buf, MAX_EXT + 2, ".%s", known);
}

/* base_url + "/" + name, without a double slash. */
static char *join_url(const char *base, const char *name)
{
    size_t len = strlen(base);
    while (len > 0 && base[len - 1] == '/')
        len--;
    return xasprintf("%.*s/%s", (int)len, base, name);
}

/* ----------------------------------------------------- bird store */

/* The bytes of an upload, decoded only when the transport sends them. */
static int load_item(void *ctx, const unsigned char **data, size_t *len)
{
    m2s_media_item *it = ctx;
    if (!it->att->data && m2s_mail_load_attachment(it->mail, it->att) != 0)
        return -1;
    *data = it->att->data;
    *len = it->att->len;
    return 0;
}

/* Take one item's outcome into the mail's. An item Bird refuses for good
 * is left out, with a warning, when `refusable`; the first other failure
 * becomes the mail's. item is cleared. */
static void take(m2s_status *item, bool refusable, bool *gone, m2s_status *st)
{
    if (item->cls == M2S_OK)
        return;
    if (item->cls == M2S_E_CONTENT && refusable) {
        m2s_log(LOG_WARNING, "media: %s; left out, the text goes without it", item->why);
        *gone = true;
    } else if (st->cls == M2S_OK) {
        m2s_status_move(st, item);
    }
    m2s_status_clear(item);
}

static m2s_class store_bird(const m2s_config *cfg, m2s_bird *bird, double deadline_at,
                            m2s_media_set *set, m2s_status *st)
{
    size_t n = set->n, m = 0;
    m2s_status item = M2S_STATUS_INIT;
    m2s_http_req *reqs = xcalloc(n, sizeof *reqs);
    m2s_http_req **ptrs = xcalloc(n, sizeof *ptrs);
    m2s_presign *ps = xcalloc(n, sizeof *ps);
    char **bodies = xcalloc(n, sizeof *bodies);
    bool *gone = xcalloc(n, sizeof *gone);
    size_t *which = xcalloc(n, sizeof *which);

    for (size_t i = 0; i < n; i++) {
        bodies[i] = m2s_payload_presign(media_type(set->items[i].att));
        m2s_bird_request(bird, M2S_BIRD_PRESIGN, &reqs[i]);
        reqs[i].body = bodies[i];
        reqs[i].body_len = strlen(bodies[i]);
        reqs[i].label = set->items[i].att->filename;
        ptrs[i] = &reqs[i];
    }
    m2s_bird_run(bird, ptrs, n, deadline_at, NULL);
    for (size_t i = 0; i < n; i++) {
        const m2s_attachment *a = set->items[i].att;
        m2s_bird_presigned(bird, &reqs[i], a->filename, media_type(a), &ps[i], &item);
        take(&item, true, &gone[i], st);
    }
    for (size_t i = 0; i < n; i++)
        m2s_http_req_clear(&reqs[i]);
    if (st->cls != M2S_OK)
        goto out;

    memset(reqs, 0, n * sizeof *reqs);
    for (size_t i = 0; i < n; i++) {
        if (gone[i])
            continue;
        m2s_media_item *it = &set->items[i];
        m2s_http_req *r = &reqs[m];
        m2s_bird_upload_request(&ps[i], r);
        r->file_load = load_item;
        r->file_ctx = it;
        r->file_name = it->att->filename;
        r->file_type = media_type(it->att);
        r->label = it->att->filename;
        ptrs[m] = r;
        which[m++] = i;
    }
    m2s_bird_run(bird, ptrs, m, deadline_at, NULL);
    for (size_t k = 0; k < m; k++) {
        const m2s_attachment *a = set->items[which[k]].att;
        m2s_bird_uploaded(&reqs[k], a->filename, a->len, &item);
        take(&item, cfg->on_too_large != M2S_TOO_LARGE_REJECT, &gone[which[k]], st);
    }
    for (size_t k = 0; k < m; k++)
        m2s_http_req_clear(&reqs[k]);
    if (st->cls != M2S_OK)
        goto out;

    /* Keep what was stored, in the mail's order. */
    m = 0;
    for (size_t i = 0; i < n; i++) {
        if (gone[i]) {
            free(set->items[i].url);
            set->n_refused++;
            continue;
        }
        m2s_media_item it = set->items[i];
        free(it.url);
        it.url = xstrdup(ps[i].media_url);
        m2s_debug("media: \"%s\" (%s, %zu bytes) uploaded: %s", it.att->filename,
                  media_type(it.att), it.att->len, it.url);
        set->items[m++] = it;
    }
    set->n = m;
    set_all_images(set);
out:
    for (size_t i = 0; i < n; i++) {
        m2s_presign_clear(&ps[i]);
        free(bodies[i]);
    }
    free(which);
    free(gone);
    free(bodies);
    free(ps);
    free(ptrs);
    free(reqs);
    return st->cls;
}

/* ------------------------------------------------ directory store */

/* Write one item into dir under a new random name; *name is that name. */
static int write_item(const char *dir, const m2s_attachment *a, char **name, char **why)
{
    unsigned char rnd[RANDOM_BYTES];
    char hex[2 * RANDOM_BYTES + 1];
    char ext[MAX_EXT + 2];
    char *tmp = xasprintf("%s/.mail2sms-XXXXXX", dir);
    char *final = NULL;
    int fd = -1, rc = -1;

    if (m2s_random_bytes(rnd, sizeof rnd) != 0) {
        *why = xasprintf("media.directory: no random bytes for a file name: %s",
                         strerror(errno));
        goto out;
    }
    for (size_t i = 0; i < sizeof rnd; i++)
        snprintf(hex + 2 * i, 3, "%02x", rnd[i]);
    file_ext(a, ext);
    *name = xasprintf("%s%s", hex, ext);
    final = xasprintf("%s/%s", dir, *name);

    fd = mkstemp(tmp);
    if (fd < 0) {
        *why = xasprintf("media.directory %s: cannot create a file: %s", dir, strerror(errno));
        goto out;
    }
    if (m2s_write_all(fd, a->data, a->len) != 0 || fchmod(fd, 0644) != 0 || fsync(fd) != 0) {
        *why = xasprintf("media.directory %s: cannot write \"%s\": %s", dir, a->filename,
                         strerror(errno));
        goto out;
    }
    int c = close(fd);
    fd = -1;
    if (c != 0 || rename(tmp, final) != 0) {
        *why = xasprintf("media.directory %s: cannot store \"%s\": %s", dir, a->filename,
                         strerror(errno));
        goto out;
    }
    rc = 0;
out:
    if (fd >= 0)
        close(fd);
    if (rc != 0) {
        unlink(tmp);
        free(*name);
        *name = NULL;
    }
    free(final);
    free(tmp);
    return rc;
}

static m2s_class store_directory(const m2s_config *cfg, m2s_bird *bird, double deadline_at,
                                 m2s_media_set *set, m2s_status *st)
{
    const char *dir = cfg->media_directory;
    m2s_strv written = { 0 };
    char *why = NULL;
    char **urls = xcalloc(set->n, sizeof *urls);
    (void)bird, (void)deadline_at;

    for (size_t i = 0; i < set->n; i++) {
        m2s_media_item *it = &set->items[i];
        char *name = NULL;
        if (!it->att->data && m2s_mail_load_attachment(it->mail, it->att) != 0) {
            why = xasprintf("media.directory %s: cannot decode \"%s\"", dir, it->att->filename);
            goto out;
        }
        if (write_item(dir, it->att, &name, &why) != 0)
            goto out;
        m2s_strv_take(&written, xasprintf("%s/%s", dir, name));
        urls[i] = join_url(cfg->media_base_url, name);
        free(name);
    }
    /* The renames are durable once the directory itself is synced. */
    int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0 || fsync(dfd) != 0)
        why = xasprintf("media.directory %s: cannot sync: %s", dir, strerror(errno));
    if (dfd >= 0)
        close(dfd);
    if (why)
        goto out;
    for (size_t i = 0; i < set->n; i++) {
        free(set->items[i].url);
        set->items[i].url = urls[i];
        urls[i] = NULL;
        m2s_debug("media: \"%s\" stored as %s", set->items[i].att->filename,
                  set->items[i].url);
    }
out:
    if (why) {
        for (size_t i = 0; i < written.n; i++)
            unlink(written.v[i]);   /* a retry writes them again */
        m2s_status_take(st, M2S_E_INTERNAL, NULL, why);
    }
    for (size_t i = 0; i < set->n; i++)
        free(urls[i]);
    free(urls);
    m2s_strv_clear(&written);
    return st->cls;
}

/* ------------------------------------------------------------ store */

const m2s_media_backend m2s_media_bird = { "bird", store_bird };
const m2s_media_backend m2s_media_directory = { "directory", store_directory };

const m2s_media_backend *m2s_media_backend_of(const m2s_config *cfg)
{
    return cfg->media_store == M2S_STORE_DIRECTORY ? &m2s_media_directory : &m2s_media_bird;
}

m2s_class m2s_media_store(const m2s_media_backend *be, const m2s_config *cfg, m2s_bird *bird,
                          double deadline_at, m2s_media_set *set, m2s_status *st)
{
    if (set->n == 0)
        return M2S_OK;
    if (be->store(cfg, bird, deadline_at, set, st) != M2S_OK)
        return st->cls;
    if (set->n > 0)
        m2s_log(LOG_INFO, "media: %zu item%s stored (%s)", set->n, set->n == 1 ? "" : "s",
                be->name);
    return M2S_OK;
}

void m2s_media_set_clear(m2s_media_set *set)
{
    if (!set)
        return;
    for (size_t i = 0; set->items && i < set->n; i++)
        free(set->items[i].url);
    free(set->items);
    memset(set, 0, sizeof *set);
}
