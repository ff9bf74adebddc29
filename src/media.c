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

m2s_class m2s_media_select(const m2s_config *cfg, const m2s_mail *mail,
                           m2s_media_set *out, char **why)
{
    m2s_class cls = M2S_OK;
    uint64_t total = 0;
    memset(out, 0, sizeof *out);
    if (mail->n_att == 0)
        return M2S_OK;
    out->items = xcalloc(mail->n_att, sizeof *out->items);
    for (size_t i = 0; i < mail->n_att; i++) {
        const m2s_attachment *a = &mail->att[i];
        if (a->len == 0)
            continue;           /* nothing to show */
        bool over_item = (uint64_t)a->len > (uint64_t)cfg->media_max_bytes;
        bool over_total = !over_item &&
                          total + a->len > (uint64_t)cfg->media_max_total_bytes;
        if (over_item || over_total) {
            if (cfg->on_too_large == M2S_TOO_LARGE_REJECT) {
                *why = over_item
                    ? xasprintf("attachment \"%s\" too large for MMS: %zu bytes, "
                                "over media.max_bytes (%lld)", a->filename, a->len,
                                (long long)cfg->media_max_bytes)
                    : xasprintf("attachments too large for MMS: \"%s\" takes them "
                                "over media.max_total_bytes (%lld)", a->filename,
                                (long long)cfg->media_max_total_bytes);
                cls = M2S_E_CONTENT;
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
        m2s_buf_free(&b);
        return NULL;
    }
    return m2s_buf_steal(&b);
}

/* ------------------------------------------------------------ names */

/* RFC 3986 percent-encoding of everything but the unreserved characters. */
static void add_escaped(m2s_buf *b, const char *s)
{
    static const char hex[] = "0123456789ABCDEF";
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (isalnum(*p) || *p == '-' || *p == '.' || *p == '_' || *p == '~') {
            m2s_buf_addc(b, (char)*p);
        } else {
            m2s_buf_addc(b, '%');
            m2s_buf_addc(b, hex[*p >> 4]);
            m2s_buf_addc(b, hex[*p & 15]);
        }
    }
}

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

/* ---------------------------------------------------------- dry run */

static void store_dry_run(const m2s_config *cfg, FILE *dry_out, m2s_media_set *set,
                    const char *presign_url)
{
    for (size_t i = 0; i < set->n; i++) {
        m2s_media_item *it = &set->items[i];
        m2s_buf b;
        m2s_buf_init(&b);
        m2s_buf_printf(&b, "https://dry-run.invalid/%zu/", i + 1);
        add_escaped(&b, it->att->filename);
        free(it->url);
        it->url = m2s_buf_steal(&b);
        /* The presign request is known; its upload URL is not (it comes
         * in the presign reply), so the upload is not printed. */
        if (cfg->media_store == M2S_STORE_BIRD && dry_out) {
            char *body = m2s_payload_presign(media_type(it->att));
            char *line = m2s_payload_dry_run_line("POST", presign_url, body);
            fprintf(dry_out, "%s\n", line);
            free(line);
            free(body);
        }
    }
    if (dry_out)
        fflush(dry_out);
}

/* ----------------------------------------------------- bird store */

static const char *net_dsn(m2s_http_err err)
{
    switch (err) {
    case M2S_HTTP_DNS: return "4.4.3";
    case M2S_HTTP_CONNECT: return "4.4.1";
    case M2S_HTTP_TIMEOUT:
    case M2S_HTTP_DROPPED: return "4.4.2";
    case M2S_HTTP_DEADLINE: return "4.4.7";
    default: return "4.4.0";
    }
}

static m2s_class network_failure(const m2s_http_req *r, const char *what,
                                 const char *name, const char **dsn, char **why)
{
    *dsn = net_dsn(r->err);
    *why = xasprintf("%s of \"%s\" failed: %s%s (%d attempt%s)", what, name,
                     r->err_text ? r->err_text : "network error",
                     r->maybe_sent ? ", the request may have arrived" : "",
                     r->attempts, r->attempts == 1 ? "" : "s");
    return M2S_E_NETWORK;
}

/* The answer to one presign request, made into *p. */
static m2s_class presign_answer(const m2s_http_req *r, const m2s_media_item *it,
                                m2s_presign *p, const char **dsn, char **why)
{
    const char *name = it->att->filename;
    char *err = NULL;
    m2s_class cls;
    if (r->err != M2S_HTTP_OK)
        return network_failure(r, "Bird media upload request", name, dsn, why);
    long st = r->status;
    if (st >= 200 && st < 300) {
        if (m2s_payload_parse_presign(r->resp, r->resp_len, p) == 0)
            return M2S_OK;
        *why = xasprintf("Bird presigned-upload reply for \"%s\" unreadable (HTTP %ld)",
                         name, st);
        return M2S_E_INTERNAL;
    }
    err = m2s_payload_error_text(r->resp, r->resp_len);
    const char *detail = err ? err : "no Bird error body";
    if (st == 401 || st == 403 || st == 404) {
        cls = M2S_E_API_AUTH;
        *why = xasprintf("Bird API refused the media upload request (HTTP %ld): %s "
                         "(check bird.access_key, workspace_id, channel_id, "
                         "media.presign_path)", st, detail);
    } else if (st == 400 || st == 413 || st == 415 || st == 422) {
        cls = M2S_E_CONTENT;
        *why = xasprintf("Bird API refused media \"%s\" of type %s (HTTP %ld): %s",
                         name, media_type(it->att), st, detail);
    } else if (st == 408 || st == 429 || st >= 500) {
        cls = M2S_E_API_TEMP;
        *why = xasprintf("Bird API busy for the media upload request (HTTP %ld after %d "
                         "attempt%s): %s", st, r->attempts, r->attempts == 1 ? "" : "s",
                         detail);
    } else {
        cls = M2S_E_INTERNAL;
        *why = xasprintf("unexpected answer to the media upload request (HTTP %ld): %s",
                         st, detail);
    }
    free(err);
    return cls;
}

/* The answer of the storage service (S3-like, XML errors) to one upload. */
static m2s_class upload_answer(const m2s_http_req *r, const m2s_media_item *it,
                               const char **dsn, char **why)
{
    const char *name = it->att->filename;
    if (r->err != M2S_HTTP_OK)
        return network_failure(r, "media upload", name, dsn, why);
    long st = r->status;
    if (st == 200 || st == 201 || st == 204)
        return M2S_OK;
    bool too_large = st == 413 ||
                     (r->resp && strstr(r->resp, "<Code>EntityTooLarge</Code>"));
    if (too_large) {
        *why = xasprintf("media \"%s\" (%zu bytes) refused by Bird's storage as too large "
                         "(HTTP %ld)", name, it->att->len, st);
        return M2S_E_CONTENT;
    }
    if (st == 403 || st == 404 || st == 408 || st == 429 || st >= 500) {
        /* 403: the presigned URL expired or its signature failed; the next
         * run asks for a fresh one. */
        *why = xasprintf("media upload of \"%s\" refused by Bird's storage (HTTP %ld after "
                         "%d attempt%s); will retry with a new upload URL", name, st,
                         r->attempts, r->attempts == 1 ? "" : "s");
        return M2S_E_API_TEMP;
    }
    *why = xasprintf("unexpected answer to the media upload of \"%s\" (HTTP %ld)", name, st);
    return M2S_E_INTERNAL;
}

/* Take one item's outcome into the mail's. An item Bird refuses for good
 * is left out, with a warning, when `refusable`; the first other failure
 * becomes the mail's. Takes w. */
static void take(m2s_class c, bool refusable, const char *d, char *w, bool *gone,
                 m2s_class *cls, const char **dsn, char **why)
{
    if (c == M2S_OK)
        return;
    if (c == M2S_E_CONTENT && refusable) {
        m2s_log(LOG_WARNING, "media: %s; left out, the text goes without it", w);
        *gone = true;
        free(w);
    } else if (*cls == M2S_OK) {
        *cls = c;
        *dsn = d;
        *why = w;
    } else {
        free(w);
    }
}

static m2s_class store_bird(const m2s_config *cfg, m2s_http *http, m2s_media_set *set,
                            const char *presign_url, const char **dsn, char **why)
{
    size_t n = set->n, m = 0;
    m2s_class cls = M2S_OK;
    m2s_http_req *reqs = xcalloc(n, sizeof *reqs);
    m2s_http_req **ptrs = xcalloc(n, sizeof *ptrs);
    m2s_presign *ps = xcalloc(n, sizeof *ps);
    char **bodies = xcalloc(n, sizeof *bodies);
    bool *gone = xcalloc(n, sizeof *gone);
    size_t *which = xcalloc(n, sizeof *which);

    for (size_t i = 0; i < n; i++) {
        bodies[i] = m2s_payload_presign(media_type(set->items[i].att));
        reqs[i].method = "POST";
        reqs[i].url = presign_url;
        reqs[i].body = bodies[i];
        reqs[i].body_len = strlen(bodies[i]);
        reqs[i].auth = true;
        ptrs[i] = &reqs[i];
    }
    m2s_http_run(http, ptrs, n);
    for (size_t i = 0; i < n; i++) {
        const char *d = NULL;
        char *w = NULL;
        m2s_class c = presign_answer(&reqs[i], &set->items[i], &ps[i], &d, &w);
        take(c, true, d, w, &gone[i], &cls, dsn, why);
    }
    for (size_t i = 0; i < n; i++)
        m2s_http_req_clear(&reqs[i]);
    if (cls != M2S_OK)
        goto out;

    memset(reqs, 0, n * sizeof *reqs);
    for (size_t i = 0; i < n; i++) {
        if (gone[i])
            continue;
        const m2s_attachment *a = set->items[i].att;
        m2s_http_req *r = &reqs[m];
        r->method = strcasecmp(ps[i].upload_method, "PUT") == 0 ? "PUT" : "POST";
        r->url = ps[i].upload_url;
        r->auth = false;        /* the storage service refuses a second credential */
        r->form_names = &ps[i].form_names;
        r->form_values = &ps[i].form_values;
        r->file = a->data;
        r->file_len = a->len;
        r->file_name = a->filename;
        r->file_type = media_type(a);
        ptrs[m] = r;
        which[m++] = i;
    }
    m2s_http_run(http, ptrs, m);
    for (size_t k = 0; k < m; k++) {
        size_t i = which[k];
        const char *d = NULL;
        char *w = NULL;
        m2s_class c = upload_answer(&reqs[k], &set->items[i], &d, &w);
        take(c, cfg->on_too_large != M2S_TOO_LARGE_REJECT, d, w, &gone[i], &cls, dsn, why);
    }
    for (size_t k = 0; k < m; k++)
        m2s_http_req_clear(&reqs[k]);
    if (cls != M2S_OK)
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
    return cls;
}

/* ------------------------------------------------ directory store */

static int write_all(int fd, const unsigned char *p, size_t len)
{
    while (len > 0) {
        ssize_t w = write(fd, p, len);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        p += w;
        len -= (size_t)w;
    }
    return 0;
}

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
    if (write_all(fd, a->data, a->len) != 0 || fchmod(fd, 0644) != 0 || fsync(fd) != 0) {
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

static m2s_class store_directory(const m2s_config *cfg, m2s_media_set *set, char **why)
{
    const char *dir = cfg->media_directory;
    m2s_strv written = { 0 };
    m2s_class cls = M2S_OK;
    char **urls = xcalloc(set->n, sizeof *urls);

    for (size_t i = 0; i < set->n; i++) {
        char *name = NULL;
        if (write_item(dir, set->items[i].att, &name, why) != 0) {
            cls = M2S_E_INTERNAL;
            goto out;
        }
        m2s_strv_take(&written, xasprintf("%s/%s", dir, name));
        urls[i] = join_url(cfg->media_base_url, name);
        free(name);
    }
    /* The renames are durable once the directory itself is synced. */
    int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0 || fsync(dfd) != 0) {
        *why = xasprintf("media.directory %s: cannot sync: %s", dir, strerror(errno));
        cls = M2S_E_INTERNAL;
    }
    if (dfd >= 0)
        close(dfd);
    if (cls != M2S_OK)
        goto out;
    for (size_t i = 0; i < set->n; i++) {
        free(set->items[i].url);
        set->items[i].url = urls[i];
        urls[i] = NULL;
        m2s_debug("media: \"%s\" stored as %s", set->items[i].att->filename,
                  set->items[i].url);
    }
out:
    if (cls != M2S_OK)
        for (size_t i = 0; i < written.n; i++)
            unlink(written.v[i]);   /* a retry writes them again */
    for (size_t i = 0; i < set->n; i++)
        free(urls[i]);
    free(urls);
    m2s_strv_free(&written);
    return cls;
}

/* ------------------------------------------------------------ store */

m2s_class m2s_media_store(const m2s_config *cfg, m2s_http *http,
                          bool dry_run, FILE *dry_out, m2s_media_set *set,
                          char **why)
{
    m2s_class cls = M2S_OK;
    char *presign_url = NULL;
    set->dsn = NULL;
    if (set->n == 0)
        return M2S_OK;
    if (cfg->presign_path == M2S_PRESIGN_WORKSPACE)
        presign_url = xasprintf("%s/workspaces/%s/channel-media/presigned-upload",
                                cfg->api_url, cfg->workspace_id);
    else
        presign_url = xasprintf("%s/workspaces/%s/channels/%s/presigned-upload",
                                cfg->api_url, cfg->workspace_id, cfg->channel_id);

    if (dry_run) {
        store_dry_run(cfg, dry_out, set, presign_url);
        goto out;
    }
    if (cfg->media_store == M2S_STORE_DIRECTORY) {
        cls = store_directory(cfg, set, why);
    } else if (!http) {
        *why = xstrdup("media upload without an HTTP client");
        cls = M2S_E_INTERNAL;
    } else {
        cls = store_bird(cfg, http, set, presign_url, &set->dsn, why);
    }
    if (cls == M2S_OK && set->n > 0)
        m2s_log(LOG_INFO, "media: %zu item%s stored (%s)", set->n, set->n == 1 ? "" : "s",
                cfg->media_store == M2S_STORE_DIRECTORY ? "directory" : "bird");
out:
    free(presign_url);
    return cls;
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
