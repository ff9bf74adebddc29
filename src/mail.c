/* mail.c - parse one RFC 5322 / MIME message with GMime into plain structs.
 *
 * The message is parsed straight from the caller's buffer (a GByteArray
 * wrapper around it, no copy); GMime keeps part contents as substreams of
 * that buffer, so the only extra memory is the decoded text and
 * attachments we hand back.
 *
 * Body choice: the first inline text/plain part is the text, the first
 * inline text/html part the HTML. Further inline text/plain parts of a
 * multipart/mixed (Apple Mail splits a body around inline images) are
 * appended to the text; losing alternatives of a multipart/alternative are
 * dropped. Every other leaf part is an attachment, message/rfc822 parts
 * included (written out whole). Signatures of multipart/signed are
 * skipped: they are of no use on a phone.
 */
#include "build-config.h"

#include <errno.h>
#include <iconv.h>
#include <string.h>
#include <gmime/gmime.h>

#include "mail.h"
#include "mime.h"

/* What a parsed mail keeps to load its attachments later: the message
 * (whose parts read the caller's bytes through stream) and, per
 * attachment, the part it comes from. */
struct m2s_mail_tree {
    GByteArray *arr;            /* wraps the caller's bytes; not ours to free */
    GMimeStream *stream;
    GMimeMessage *msg;
    GPtrArray *parts;           /* GMimeObject *, one per mail->att, referenced */
};

typedef struct walk_ctx {
    m2s_mail *mail;
    const m2s_mail_limits *limits;
    long parts;
    bool too_complex;
    char *why;                  /* reason when too_complex */
} walk_ctx;

enum {
    IN_ALTERNATIVE = 1 << 0,    /* a child of multipart/alternative */
    IN_RELATED = 1 << 1,        /* a non-root child of multipart/related */
};

/* ---- UTF-8 helpers ---------------------------------------------------- */

/* Append n bytes at p to b as valid UTF-8: invalid bytes become U+FFFD and
 * NUL bytes are dropped (the result is a C string). */
static void add_utf8(m2s_buf *b, const char *p, size_t n)
{
    while (n > 0) {
        const gchar *end;
        bool ok = g_utf8_validate(p, (gssize)n, &end);
        size_t good = (size_t)(end - p);
        m2s_buf_add(b, p, good);
        if (ok)
            break;
        p += good;
        n -= good;
        if (*p != '\0')
            m2s_buf_add(b, "\xEF\xBF\xBD", 3);
        p++;
        n--;
    }
}

/* A new valid UTF-8 copy of s (NULL gives NULL). */
static char *utf8_dup(const char *s)
{
    if (s == NULL)
        return NULL;
    m2s_buf b;
    m2s_buf_init(&b);
    m2s_buf_adds(&b, "");
    add_utf8(&b, s, strlen(s));
    return m2s_buf_steal(&b);
}

/* Drop a leading byte order mark and turn CRLF into LF, in place. */
static void tidy_text(m2s_buf *b)
{
    size_t i = 0, o = 0;
    if (b->len >= 3 && memcmp(b->data, "\xEF\xBB\xBF", 3) == 0)
        i = 3;
    for (; i < b->len; i++) {
        if (b->data[i] == '\r' && i + 1 < b->len && b->data[i + 1] == '\n')
            continue;
        b->data[o++] = b->data[i];
    }
    b->len = o;
    b->data[o] = '\0';
}

/* Convert n bytes at p from the iconv descriptor cd to UTF-8 into b.
 * Undecodable bytes become U+FFFD; conversion goes on after them. */
static void iconv_into(m2s_buf *b, iconv_t cd, const char *p, size_t n)
{
    char out[8192];
    char *in = (char *)p;
    size_t inleft = n;

    iconv(cd, NULL, NULL, NULL, NULL);
    for (;;) {
        char *o = out;
        size_t oleft = sizeof out;
        size_t r;
        if (inleft > 0)
            r = iconv(cd, &in, &inleft, &o, &oleft);
        else
            r = iconv(cd, NULL, NULL, &o, &oleft);      /* flush shift state */
        int e = errno;
        add_utf8(b, out, (size_t)(o - out));
        if (r != (size_t)-1) {
            if (inleft == 0 && o == out)
                break;
            continue;
        }
        if (e == E2BIG)
            continue;
        if (e == EILSEQ || e == EINVAL) {
            m2s_buf_add(b, "\xEF\xBF\xBD", 3);
            if (e == EINVAL || inleft <= 1) {           /* cut at the end */
                inleft = 0;
            } else {
                in++;
                inleft--;
            }
            continue;
        }
        /* anything else: give up on conversion, keep the rest sanitised */
        add_utf8(b, in, inleft);
        break;
    }
}

/* Charsets mail software claims while really sending a superset. */
static const char *superset_charset(const char *cs)
{
    static const struct { const char *name, *super; } map[] = {
        { "iso-8859-1", "WINDOWS-1252" }, { "iso8859-1", "WINDOWS-1252" },
        { "latin1", "WINDOWS-1252" }, { "iso_8859-1", "WINDOWS-1252" },
        { "us-ascii", "WINDOWS-1252" }, { "ascii", "WINDOWS-1252" },
        { "shift_jis", "CP932" }, { "shift-jis", "CP932" },
        { "sjis", "CP932" }, { "x-sjis", "CP932" },
        { "gb2312", "GB18030" }, { "gbk", "GB18030" },
        { "ks_c_5601-1987", "CP949" }, { "euc-kr", "CP949" },
    };
    for (size_t i = 0; i < sizeof map / sizeof map[0]; i++)
        if (g_ascii_strcasecmp(cs, map[i].name) == 0)
            return map[i].super;
    return NULL;
}

static bool is_utf8_name(const char *cs)
{
    return g_ascii_strcasecmp(cs, "utf-8") == 0 || g_ascii_strcasecmp(cs, "utf8") == 0;
}

static iconv_t open_charset(const char *cs)
{
    const char *super = superset_charset(cs);
    iconv_t cd = (iconv_t)-1;
    if (super != NULL)
        cd = g_mime_iconv_open("UTF-8", super);
    if (cd == (iconv_t)-1)
        cd = g_mime_iconv_open("UTF-8", cs);
    return cd;
}

/* The charset an HTML document declares in a <meta> near its top, or NULL.
 * Returns a new string. */
static char *html_meta_charset(const char *p, size_t n)
{
    size_t lim = n < 4096 ? n : 4096;
    for (size_t i = 0; i + 8 < lim; i++) {
        if (g_ascii_strncasecmp(p + i, "charset=", 8) != 0)
            continue;
        size_t j = i + 8;
        while (j < lim && (p[j] == '"' || p[j] == '\'' || p[j] == ' '))
            j++;
        size_t k = j;
        while (k < lim && (g_ascii_isalnum(p[k]) || p[k] == '-' || p[k] == '_'
                           || p[k] == '.' || p[k] == ':'))
            k++;
        if (k > j)
            return xstrndup(p + j, k - j);
    }
    return NULL;
}

/* Decoded bytes of a text part in charset cs (may be NULL) to a new valid
 * UTF-8 string: UTF-8 when it is (or when the charset is missing and the
 * bytes are valid UTF-8), else the charset's superset, else windows-1252. */
static char *text_to_utf8(const char *p, size_t n, const char *cs, bool html)
{
    m2s_buf b;
    char *meta = NULL;
    iconv_t cd = (iconv_t)-1;

    m2s_buf_init(&b);
    m2s_buf_adds(&b, "");
    if (cs != NULL && *cs == '\0')
        cs = NULL;
    if (cs == NULL && html && !g_utf8_validate(p, (gssize)n, NULL))
        cs = meta = html_meta_charset(p, n);

    bool declared_utf8 = cs != NULL && is_utf8_name(cs);
    bool ascii = cs != NULL && (g_ascii_strcasecmp(cs, "us-ascii") == 0
                                || g_ascii_strcasecmp(cs, "ascii") == 0);
    if (declared_utf8 || cs == NULL || ascii) {
        if (declared_utf8 || g_utf8_validate(p, (gssize)n, NULL)) {
            add_utf8(&b, p, n);
            goto out;
        }
        cs = "windows-1252";
    }
    cd = open_charset(cs);
    if (cd == (iconv_t)-1) {
        /* unknown or bogus charset name */
        if (g_utf8_validate(p, (gssize)n, NULL)) {
            add_utf8(&b, p, n);
            goto out;
        }
        cd = g_mime_iconv_open("UTF-8", "WINDOWS-1252");
    }
    if (cd == (iconv_t)-1)
        add_utf8(&b, p, n);
    else
        iconv_into(&b, cd, p, n);
out:
    if (cd != (iconv_t)-1)
        g_mime_iconv_close(cd);
    free(meta);
    tidy_text(&b);
    return m2s_buf_steal(&b);
}

/* ---- RFC 2047 header text ---------------------------------------------- */

/* Decode one encoded word's payload ("B" or "Q") into out. */
static void decode_word(m2s_buf *out, char enc, const char *p, size_t n)
{
    if (enc == 'B' || enc == 'b') {
        guchar *dec = g_malloc(n / 4 * 3 + 4);
        gint state = 0;
        guint save = 0;
        gsize len = g_base64_decode_step(p, n, dec, &state, &save);
        m2s_buf_add(out, dec, len);
        g_free(dec);
        return;
    }
    for (size_t i = 0; i < n; i++) {
        if (p[i] == '_') {
            m2s_buf_addc(out, ' ');
        } else if (p[i] == '=' && i + 2 < n &&
                   g_ascii_isxdigit(p[i + 1]) && g_ascii_isxdigit(p[i + 2])) {
            m2s_buf_addc(out, (char)(g_ascii_xdigit_value(p[i + 1]) * 16 +
                                     g_ascii_xdigit_value(p[i + 2])));
            i += 2;
        } else {
            m2s_buf_addc(out, p[i]);
        }
    }
}

/* Parse "=?charset?enc?text?=" at p; on success set the parts and return
 * the length of the whole word, else 0. */
static size_t encoded_word(const char *p, const char **cs, size_t *cs_len, char *enc,
                           const char **text, size_t *text_len)
{
    if (p[0] != '=' || p[1] != '?')
        return 0;
    const char *c = p + 2, *q = strchr(c, '?');
    if (!q || q == c || !q[1] || q[2] != '?' || !strchr("BbQq", q[1]))
        return 0;
    const char *t = q + 3, *end = strstr(t, "?=");
    if (!end || memchr(c, ' ', (size_t)(end - c)))
        return 0;
    *cs = c;
    *cs_len = (size_t)(q - c);
    const char *star = memchr(c, '*', *cs_len);     /* RFC 2231 language */
    if (star)
        *cs_len = (size_t)(star - c);
    *enc = q[1];
    *text = t;
    *text_len = (size_t)(end - t);
    return (size_t)(end + 2 - p);
}

/* Convert the bytes of pending encoded words (charset *cs) into out and
 * forget them. */
static void flush_words(m2s_buf *out, m2s_buf *pend, char **cs)
{
    char *u = text_to_utf8(pend->data ? pend->data : "", pend->len, *cs, false);
    m2s_buf_adds(out, u);
    free(u);
    m2s_buf_clear(pend);
    free(*cs);
    *cs = NULL;
}

/* Decode an unstructured header value (RFC 2047) to valid UTF-8, folding
 * line breaks. Adjacent encoded words in the same charset are joined
 * before conversion, so a character (or an ISO-2022-JP shift sequence)
 * split across two words comes out whole; white space between encoded
 * words is dropped. Raw 8-bit text is UTF-8 when valid, else
 * windows-1252. Written here because GMime 3.2's own decoder loses the
 * words after a base64 word that ends in padding. Used for the subject
 * and every X-SMS-* header. */
static char *decode_header_text(const char *raw)
{
    m2s_buf out, pend;
    char *pend_cs = NULL;
    m2s_buf_init(&out);
    m2s_buf_init(&pend);
    m2s_buf_adds(&out, "");
    const char *p = raw;
    while (*p) {
        const char *cs, *text;
        size_t cs_len, text_len;
        char enc;
        size_t w = encoded_word(p, &cs, &cs_len, &enc, &text, &text_len);
        if (w) {
            char *name = xstrndup(cs, cs_len);
            if (pend_cs && g_ascii_strcasecmp(pend_cs, name) != 0)
                flush_words(&out, &pend, &pend_cs);
            if (!pend_cs)
                pend_cs = name;
            else
                free(name);
            decode_word(&pend, enc, text, text_len);
            p += w;
            /* white space up to another encoded word is not text */
            const char *q = p;
            while (*q == ' ' || *q == '\t' || *q == '\r' || *q == '\n')
                q++;
            size_t dummy_len;
            const char *d1, *d2;
            char d3;
            if (encoded_word(q, &d1, &dummy_len, &d3, &d2, &dummy_len))
                p = q;
            continue;
        }
        if (pend_cs)
            flush_words(&out, &pend, &pend_cs);
        size_t n = 0;
        while (p[n] && !(p[n] == '=' && p[n + 1] == '?'))
            n++;
        if (n == 0)
            n = 1;          /* a lone "=?" that is not a word */
        char *u = text_to_utf8(p, n, NULL, false);
        for (char *c = u; *c; c++)
            if (*c == '\r' || *c == '\n' || *c == '\t')
                *c = ' ';
        m2s_buf_adds(&out, u);
        free(u);
        p += n;
    }
    if (pend_cs)
        flush_words(&out, &pend, &pend_cs);
    return m2s_buf_steal(&out);
}

static bool only_whitespace(const char *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (p[i] != ' ' && p[i] != '\t' && p[i] != '\r' && p[i] != '\n'
            && p[i] != '\f' && p[i] != '\v')
            return false;
    return true;
}

/* ---- GMime helpers ---------------------------------------------------- */

/* The decoded content of a leaf part as a GByteArray (caller unrefs). */
static GByteArray *part_bytes(GMimePart *part)
{
    GMimeDataWrapper *dw = g_mime_part_get_content(part);
    GByteArray *arr;
    GMimeStream *mem;

    if (dw == NULL)
        return g_byte_array_new();
    /* size hint: the encoded length, which bounds the decoded one */
    GMimeStream *src = g_mime_data_wrapper_get_stream(dw);
    gint64 hint = src ? g_mime_stream_length(src) : 0;
    if (hint < 0 || hint > 64 * 1024 * 1024)
        hint = 0;
    arr = g_byte_array_sized_new((guint)hint);
    mem = g_mime_stream_mem_new_with_byte_array(arr);
    g_mime_stream_mem_set_owner(GMIME_STREAM_MEM(mem), FALSE);
    g_mime_data_wrapper_write_to_stream(dw, mem);
    g_object_unref(mem);
    return arr;
}

/* The decoded size of a leaf part without decoding it: base64 counted
 * from its alphabet, other encodings by their encoded length, which is
 * never smaller than the decoded one. */
static size_t part_size(GMimePart *part)
{
    GMimeDataWrapper *dw = g_mime_part_get_content(part);
    GMimeStream *src = dw ? g_mime_data_wrapper_get_stream(dw) : NULL;
    if (src == NULL)
        return 0;
    gint64 raw = g_mime_stream_length(src);
    if (raw < 0)
        raw = 0;
    if (g_mime_data_wrapper_get_encoding(dw) != GMIME_CONTENT_ENCODING_BASE64)
        return (size_t)raw;
    /* Base64: every byte but line ends and padding carries 6 bits. Line
     * ends are counted with memchr; stray characters are rare enough that
     * the result stays exact for what mail software writes. */
    size_t chars = 0, pad = 0;
    char buf[16384];
    g_mime_stream_reset(src);
    for (;;) {
        ssize_t n = g_mime_stream_read(src, buf, sizeof buf);
        if (n <= 0)
            break;
        chars += (size_t)n;
        for (const char *q = buf, *end = buf + n; (q = memchr(q, '\n', (size_t)(end - q))); q++)
            chars--;
        for (const char *q = buf, *end = buf + n; (q = memchr(q, '\r', (size_t)(end - q))); q++)
            chars--;
        /* padding and blanks at the end of what was read so far */
        pad = 0;
        for (ssize_t i = n - 1; i >= 0 && strchr("=\r\n \t", buf[i]); i--)
            if (buf[i] == '=' || buf[i] == ' ' || buf[i] == '\t')
                pad++;
    }
    g_mime_stream_reset(src);
    chars = chars > pad ? chars - pad : 0;
    return chars / 4 * 3 + (chars % 4 >= 2 ? chars % 4 - 1 : 0);
}

/* An attached message written out whole. */
static GByteArray *message_bytes(GMimeObject *obj)
{
    GMimeMessage *inner = g_mime_message_part_get_message(GMIME_MESSAGE_PART(obj));
    GByteArray *arr = g_byte_array_new();
    if (inner != NULL) {
        GMimeStream *mem = g_mime_stream_mem_new_with_byte_array(arr);
        g_mime_stream_mem_set_owner(GMIME_STREAM_MEM(mem), FALSE);
        g_mime_object_write_to_stream(GMIME_OBJECT(inner), NULL, mem);
        g_object_unref(mem);
    }
    return arr;
}

/* The size of an attached message, written to nowhere. */
static size_t message_size(GMimeObject *obj)
{
    GMimeMessage *inner = g_mime_message_part_get_message(GMIME_MESSAGE_PART(obj));
    if (inner == NULL)
        return 0;
    GMimeStream *null = g_mime_stream_null_new();
    g_mime_object_write_to_stream(GMIME_OBJECT(inner), NULL, null);
    size_t n = (size_t)GMIME_STREAM_NULL(null)->written;
    g_object_unref(null);
    return n;
}

/* Lower case "type/subtype" of obj (new string). */
static char *mime_type_of(GMimeObject *obj)
{
    GMimeContentType *ct = g_mime_object_get_content_type(obj);
    const char *t = ct ? g_mime_content_type_get_media_type(ct) : NULL;
    const char *s = ct ? g_mime_content_type_get_media_subtype(ct) : NULL;
    if (t == NULL || *t == '\0')
        t = "text";
    if (s == NULL || *s == '\0')
        s = g_ascii_strcasecmp(t, "text") == 0 ? "plain" : "octet-stream";
    char *r = xasprintf("%s/%s", t, s);
    for (char *q = r; *q; q++)
        *q = g_ascii_tolower(*q);
    return r;
}

static bool mime_is(const char *mime, const char *want)
{
    return strcmp(mime, want) == 0;
}

/* A Content-ID / Message-ID without its angle brackets and blanks. */
static char *strip_angles(const char *id)
{
    if (id == NULL)
        return NULL;
    while (*id == ' ' || *id == '\t' || *id == '<')
        id++;
    size_t n = strlen(id);
    while (n > 0 && (id[n - 1] == ' ' || id[n - 1] == '\t' || id[n - 1] == '>'
                     || id[n - 1] == '\r' || id[n - 1] == '\n'))
        n--;
    if (n == 0)
        return NULL;
    char *raw = xstrndup(id, n);
    char *r = utf8_dup(raw);
    free(raw);
    return r;
}

/* The name of an attached file: valid UTF-8, no directory, no control
 * characters; NULL when nothing usable is left. Returns a new string. */
static char *clean_filename(const char *name)
{
    if (name == NULL)
        return NULL;
    char *u = utf8_dup(name);
    char *base = u;
    for (char *q = u; *q; q++)
        if (*q == '/' || *q == '\\')
            base = q + 1;
    for (char *q = base; *q; q++)
        if ((unsigned char)*q < 0x20 || *q == 0x7f)
            *q = '_';
    g_strstrip(base);
    char *r = NULL;
    if (*base != '\0' && strcmp(base, ".") != 0 && strcmp(base, "..") != 0)
        r = xstrdup(base);
    free(u);
    return r;
}

/* Add an attachment to be loaded from obj later; takes filename (may be
 * NULL), mime and cid. */
static void add_attachment(m2s_mail *mail, GMimeObject *obj, char *filename, char *mime,
                           char *cid, bool is_inline, size_t len)
{
    mail->att = xrealloc(mail->att, (mail->n_att + 1) * sizeof *mail->att);
    g_ptr_array_add(mail->tree->parts, g_object_ref(obj));
    m2s_attachment *a = &mail->att[mail->n_att++];
    if (filename == NULL) {
        const char *ext = m2s_mime_ext(mime);
        filename = xasprintf("attachment-%zu.%s", mail->n_att, ext ? ext : "bin");
    }
    a->filename = filename;
    a->content_type = mime;
    a->content_id = cid;
    a->is_inline = is_inline;
    a->data = NULL;
    a->len = len;
}

/* Copy a byte array into xmalloc'd memory (NUL-terminated for safety). */
static unsigned char *copy_bytes(GByteArray *arr, size_t *len)
{
    unsigned char *d = xmalloc(arr->len + 1);
    if (arr->len > 0)
        memcpy(d, arr->data, arr->len);
    d[arr->len] = '\0';
    *len = arr->len;
    return d;
}

/* ---- the tree walk ---------------------------------------------------- */

/* Count a part at depth; false (and ctx->too_complex) when over a limit. */
static bool count_part(walk_ctx *ctx, long depth)
{
    ctx->parts++;
    if (depth > ctx->limits->max_depth) {
        ctx->too_complex = true;
        ctx->why = xasprintf("MIME nesting deeper than %ld levels", ctx->limits->max_depth);
        return false;
    }
    if (ctx->parts > ctx->limits->max_parts) {
        ctx->too_complex = true;
        ctx->why = xasprintf("more than %ld MIME parts", ctx->limits->max_parts);
        return false;
    }
    return true;
}

/* Count the parts of an encapsulated message against the limits. */
static void count_tree(walk_ctx *ctx, GMimeObject *obj, long depth)
{
    if (obj == NULL || ctx->too_complex || !count_part(ctx, depth))
        return;
    if (GMIME_IS_MULTIPART(obj)) {
        GMimeMultipart *mp = GMIME_MULTIPART(obj);
        int n = g_mime_multipart_get_count(mp);
        for (int i = 0; i < n && !ctx->too_complex; i++)
            count_tree(ctx, g_mime_multipart_get_part(mp, i), depth + 1);
    } else if (GMIME_IS_MESSAGE_PART(obj)) {
        GMimeMessage *m = g_mime_message_part_get_message(GMIME_MESSAGE_PART(obj));
        if (m != NULL)
            count_tree(ctx, g_mime_message_get_mime_part(m), depth + 1);
    }
}

static void do_message_part(walk_ctx *ctx, GMimeObject *obj, long depth)
{
    GMimeMessage *inner = g_mime_message_part_get_message(GMIME_MESSAGE_PART(obj));
    char *name = NULL;

    if (inner != NULL) {
        count_tree(ctx, g_mime_message_get_mime_part(inner), depth + 1);
        if (ctx->too_complex)
            return;
    }
    const char *disp_name = g_mime_object_get_content_disposition_parameter(obj, "filename");
    if (disp_name == NULL)
        disp_name = g_mime_object_get_content_type_parameter(obj, "name");
    name = clean_filename(disp_name);
    if (name == NULL && inner != NULL) {
        char *subj = clean_filename(g_mime_message_get_subject(inner));
        if (subj != NULL) {
            char *cut = m2s_oneline(subj, 80);
            name = xasprintf("%s.eml", cut);
            free(cut);
            free(subj);
        }
    }
    if (name == NULL)
        name = xstrdup("message.eml");
    const char *disp = g_mime_object_get_disposition(obj);
    bool is_inline = disp != NULL && g_ascii_strcasecmp(disp, "inline") == 0;
    add_attachment(ctx->mail, obj, name, xstrdup("message/rfc822"),
                   strip_angles(g_mime_object_get_content_id(obj)), is_inline,
                   message_size(obj));
}

static void append_text(char **dst, char *add)
{
    if (*dst == NULL) {
        *dst = add;
        return;
    }
    char *j = xasprintf("%s%s%s", *dst,
                        (**dst && (*dst)[strlen(*dst) - 1] != '\n') ? "\n" : "", add);
    free(*dst);
    free(add);
    *dst = j;
}

static void do_leaf(walk_ctx *ctx, GMimeObject *obj, unsigned flags)
{
    GMimePart *part = GMIME_PART(obj);
    m2s_mail *mail = ctx->mail;
    char *mime = mime_type_of(obj);
    GByteArray *arr = NULL;
    const char *disp = g_mime_object_get_disposition(obj);
    bool disp_attach = disp != NULL && g_ascii_strcasecmp(disp, "attachment") == 0;
    bool disp_inline = disp != NULL && g_ascii_strcasecmp(disp, "inline") == 0;
    const char *fname = g_mime_part_get_filename(part);
    bool is_attachment = disp_attach || (fname != NULL && *fname != '\0' && !disp_inline);

    if (!is_attachment && !(flags & IN_RELATED)
        && (mime_is(mime, "text/plain") || mime_is(mime, "text/html"))) {
        bool html = mime_is(mime, "text/html");
        char **dst = html ? &mail->text_html : &mail->text_plain;
        if (*dst == NULL || (!html && !(flags & IN_ALTERNATIVE))) {
            arr = part_bytes(part);
            const char *cs = g_mime_object_get_content_type_parameter(obj, "charset");
            append_text(dst, text_to_utf8((const char *)arr->data, arr->len, cs, html));
            goto out;
        }
        if (flags & IN_ALTERNATIVE)
            goto out;           /* a losing alternative of the body */
    }

    add_attachment(mail, obj, clean_filename(fname), mime,
                   strip_angles(g_mime_part_get_content_id(part)),
                   disp_inline || (flags & IN_RELATED), part_size(part));
    mime = NULL;
out:
    if (arr != NULL)
        g_byte_array_unref(arr);
    free(mime);
}

static bool is_signature(const char *mime)
{
    return mime_is(mime, "application/pgp-signature")
        || mime_is(mime, "application/pkcs7-signature")
        || mime_is(mime, "application/x-pkcs7-signature");
}

static void walk(walk_ctx *ctx, GMimeObject *obj, long depth, unsigned flags)
{
    if (obj == NULL || ctx->too_complex || !count_part(ctx, depth))
        return;

    if (GMIME_IS_MULTIPART(obj)) {
        GMimeMultipart *mp = GMIME_MULTIPART(obj);
        char *mime = mime_type_of(obj);
        int n = g_mime_multipart_get_count(mp);
        int root = 0;
        if (n == 0 && ctx->mail->text_plain == NULL) {
            /* a multipart without (matching) boundaries: its text is all
             * GMime could keep, as the prologue; better than nothing */
            const char *pro = g_mime_multipart_get_prologue(mp);
            if (pro != NULL && !only_whitespace(pro, strlen(pro)))
                ctx->mail->text_plain = text_to_utf8(pro, strlen(pro), NULL, false);
        }
        if (mime_is(mime, "multipart/related")) {
            char *start = strip_angles(g_mime_object_get_content_type_parameter(obj, "start"));
            for (int i = 0; start != NULL && i < n; i++) {
                char *cid = strip_angles(g_mime_object_get_content_id(
                                             g_mime_multipart_get_part(mp, i)));
                bool hit = cid != NULL && strcmp(cid, start) == 0;
                free(cid);
                if (hit) {
                    root = i;
                    break;
                }
            }
            free(start);
        }
        for (int i = 0; i < n && !ctx->too_complex; i++) {
            GMimeObject *child = g_mime_multipart_get_part(mp, i);
            unsigned f = flags & IN_RELATED;
            if (mime_is(mime, "multipart/alternative"))
                f |= IN_ALTERNATIVE;
            else if (mime_is(mime, "multipart/related") && i != root)
                f |= IN_RELATED;
            if (mime_is(mime, "multipart/signed") && i > 0) {
                char *cm = mime_type_of(child);
                bool sig = is_signature(cm);
                free(cm);
                if (sig) {
                    ctx->parts++;
                    continue;
                }
            }
            walk(ctx, child, depth + 1, f);
        }
        free(mime);
    } else if (GMIME_IS_MESSAGE_PART(obj)) {
        do_message_part(ctx, obj, depth);
    } else if (GMIME_IS_PART(obj)) {
        do_leaf(ctx, obj, flags);
    }
}

/* ---- headers ---------------------------------------------------------- */

static void take_from(m2s_mail *mail, GMimeMessage *msg)
{
    InternetAddressList *list = g_mime_message_get_from(msg);
    InternetAddressMailbox *mb = NULL;

    for (int depth = 0; list != NULL && mb == NULL && depth < 4; depth++) {
        InternetAddressList *next = NULL;
        int n = internet_address_list_length(list);
        for (int i = 0; i < n && mb == NULL; i++) {
            InternetAddress *ia = internet_address_list_get_address(list, i);
            if (INTERNET_ADDRESS_IS_MAILBOX(ia))
                mb = INTERNET_ADDRESS_MAILBOX(ia);
            else if (INTERNET_ADDRESS_IS_GROUP(ia) && next == NULL)
                next = internet_address_group_get_members(INTERNET_ADDRESS_GROUP(ia));
        }
        list = next;
    }
    if (mb != NULL) {
        const char *addr = internet_address_mailbox_get_addr(mb);
        const char *name = internet_address_get_name(INTERNET_ADDRESS(mb));
        mail->from_addr = utf8_dup(addr ? addr : "");
        mail->from_name = utf8_dup(name ? name : "");
        g_strstrip(mail->from_addr);
        g_strstrip(mail->from_name);
    } else {
        mail->from_addr = xstrdup("");
        mail->from_name = xstrdup("");
    }
}

/* X-SMS-* values go through decode_header_text, as the subject does; so
 * do the first MAX_KEPT_HEADERS headers of any name, kept for the
 * condenser (message.rules, source profiles, the Date rule). */
#define MAX_KEPT_HEADERS 100
static void take_sms_headers(m2s_mail *mail, GMimeMessage *msg)
{
    GMimeHeaderList *hl = g_mime_object_get_header_list(GMIME_OBJECT(msg));
    int n = hl ? g_mime_header_list_get_count(hl) : 0;

    for (int i = 0; i < n; i++) {
        GMimeHeader *h = g_mime_header_list_get_header_at(hl, i);
        const char *name = g_mime_header_get_name(h);
        if (name == NULL)
            continue;
        bool sms = g_ascii_strncasecmp(name, "X-SMS-", 6) == 0;
        if (!sms && mail->hdr_names.n >= MAX_KEPT_HEADERS)
            continue;
        const char *raw = g_mime_header_get_raw_value(h);
        char *unfolded = g_mime_utils_header_unfold(raw ? raw : "");
        char *value = decode_header_text(unfolded);
        g_strstrip(value);
        if (mail->hdr_names.n < MAX_KEPT_HEADERS) {
            m2s_strv_take(&mail->hdr_names, utf8_dup(name));
            m2s_strv_add(&mail->hdr_values, value);
        }
        if (sms) {
            m2s_strv_take(&mail->header_names, utf8_dup(name));
            m2s_strv_take(&mail->header_values, value);
        } else {
            free(value);
        }
        g_free(unfolded);
    }
}

/* ---- public ----------------------------------------------------------- */

void m2s_mail_init(void)
{
    g_mime_init();
}

void m2s_mail_shutdown(void)
{
    g_mime_shutdown();
}

/* GMime builds every part before we can count them, at about 2 KB each, so
 * a 30 MB mail of tiny parts would take gigabytes. Count the delimiter
 * lines of the boundaries the mail declares first: each starts one part,
 * so more of them than max_parts is over the limit for certain. */
static bool surely_too_many_parts(const char *p, size_t n, long max_parts)
{
    GHashTable *bounds = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
    long count = 0;

    /* "boundary=" is found through its rarer tail with memmem, which is
     * much faster than looking at every 'b' of a base64 attachment; the
     * two usual spellings of the tail are looked for. */
    for (int pass = 0; pass < 2; pass++) {
    const char *tail = pass == 0 ? "oundary=" : "OUNDARY=";
    for (size_t i = 0; i + 9 < n; i++) {
        const char *hit = memmem(p + i + 1, n - i - 1, tail, 8);
        if (hit == NULL)
            break;
        i = (size_t)(hit - p) - 1;
        if ((p[i] | 0x20) != 'b' || g_ascii_strncasecmp(p + i, "boundary=", 9) != 0)
            continue;
        size_t j = i + 9, k;
        if (j < n && p[j] == '"') {
            k = ++j;
            while (k < n && p[k] != '"' && p[k] != '\n')
                k++;
        } else {
            k = j;
            while (k < n && p[k] != ';' && p[k] != '\n' && p[k] != '\r'
                   && p[k] != ' ' && p[k] != '\t')
                k++;
        }
        if (k > j && k - j <= 200)
            g_hash_table_add(bounds, g_strndup(p + j, k - j));
        i = k > i ? k - 1 : i;
    }
    }
    if (g_hash_table_size(bounds) == 0)
        goto out;
    for (size_t i = 0; i < n && count <= max_parts;) {
        const char *nl = memchr(p + i, '\n', n - i);
        size_t end = nl ? (size_t)(nl - p) : n;
        if (end - i > 2 && p[i] == '-' && p[i + 1] == '-') {
            size_t e = end;
            while (e > i + 2 && (p[e - 1] == '\r' || p[e - 1] == ' ' || p[e - 1] == '\t'))
                e--;
            if (e - (i + 2) <= 200) {
                char *b = g_strndup(p + i + 2, e - (i + 2));
                if (g_hash_table_contains(bounds, b))
                    count++;
                g_free(b);
            }
        }
        i = end + 1;
    }
out:
    g_hash_table_destroy(bounds);
    return count > max_parts;
}

m2s_mail_status m2s_mail_parse(const char *data, size_t len,
                               const m2s_mail_limits *limits,
                               m2s_mail **out, char **why)
{
    static const char *fallback[] = { "UTF-8", "WINDOWS-1252", NULL };
    m2s_mail_status st = M2S_MAIL_MALFORMED;
    char *reason = NULL;
    m2s_mail *mail = NULL;
    GByteArray *arr = NULL;
    GMimeStream *stream = NULL;
    GMimeParser *parser = NULL;
    GMimeParserOptions *opts = NULL;
    GMimeMessage *msg = NULL;
    walk_ctx ctx = { 0 };

    static const m2s_mail_limits default_limits = { 20, 500 };
    if (limits == NULL)
        limits = &default_limits;
    *out = NULL;
    if (data == NULL || len == 0 || only_whitespace(data, len)) {
        st = M2S_MAIL_EMPTY;
        reason = xstrdup("empty message (no headers, no body)");
        goto out;
    }
    if (len > G_MAXUINT) {
        reason = xstrdup("message too large to parse");
        goto out;
    }
    /* an mbox "From " line before the headers is not a header */
    if (len > 5 && memcmp(data, "From ", 5) == 0) {
        const char *nl = memchr(data, '\n', len);
        if (nl != NULL) {
            len -= (size_t)(nl + 1 - data);
            data = nl + 1;
        }
        if (nl == NULL || len == 0 || only_whitespace(data, len)) {
            st = M2S_MAIL_EMPTY;
            reason = xstrdup("empty message (only an mbox From line)");
            goto out;
        }
    }

    if (surely_too_many_parts(data, len, limits->max_parts)) {
        st = M2S_MAIL_TOO_COMPLEX;
        reason = xasprintf("more than %ld MIME parts", limits->max_parts);
        goto out;
    }

    /* wrap the caller's bytes without copying; never written to */
    arr = g_byte_array_new_take((guint8 *)data, len);
    stream = g_mime_stream_mem_new_with_byte_array(arr);
    g_mime_stream_mem_set_owner(GMIME_STREAM_MEM(stream), FALSE);

    opts = g_mime_parser_options_new();
    g_mime_parser_options_set_address_compliance_mode(opts, GMIME_RFC_COMPLIANCE_LOOSE);
    g_mime_parser_options_set_allow_addresses_without_domain(opts, TRUE);
    g_mime_parser_options_set_parameter_compliance_mode(opts, GMIME_RFC_COMPLIANCE_LOOSE);
    g_mime_parser_options_set_rfc2047_compliance_mode(opts, GMIME_RFC_COMPLIANCE_LOOSE);
    g_mime_parser_options_set_fallback_charsets(opts, fallback);

    parser = g_mime_parser_new_with_stream(stream);
    g_mime_parser_set_format(parser, GMIME_FORMAT_MESSAGE);
    g_mime_parser_set_persist_stream(parser, TRUE);
    msg = g_mime_parser_construct_message(parser, opts);
    if (msg == NULL) {
        reason = xstrdup("not a message: GMime could not parse it");
        goto out;
    }

    GMimeHeaderList *hl = g_mime_object_get_header_list(GMIME_OBJECT(msg));
    GMimeObject *body = g_mime_message_get_mime_part(msg);
    bool no_headers = hl == NULL || g_mime_header_list_get_count(hl) == 0;
    if (no_headers && body == NULL) {
        reason = xstrdup("not a message: no header and no body");
        goto out;
    }

    mail = xcalloc(1, sizeof *mail);
    mail->tree = xcalloc(1, sizeof *mail->tree);
    mail->tree->parts = g_ptr_array_new_with_free_func(g_object_unref);
    ctx.mail = mail;
    ctx.limits = limits;
    walk(&ctx, body, 1, 0);
    if (ctx.too_complex) {
        st = M2S_MAIL_TOO_COMPLEX;
        reason = ctx.why;
        ctx.why = NULL;
        goto out;
    }

    GMimeHeaderList *headers = g_mime_object_get_header_list(GMIME_OBJECT(msg));
    GMimeHeader *sh = g_mime_header_list_get_header(headers, "Subject");
    const char *raw_subj = sh ? g_mime_header_get_raw_value(sh) : NULL;
    mail->subject = decode_header_text(raw_subj ? raw_subj : "");
    g_strstrip(mail->subject);
    take_from(mail, msg);
    mail->message_id = strip_angles(g_mime_message_get_message_id(msg));
    take_sms_headers(mail, msg);

    /* The attachments are loaded from the tree later. */
    mail->tree->msg = msg;
    mail->tree->stream = stream;
    mail->tree->arr = arr;
    msg = NULL;
    stream = NULL;
    arr = NULL;
    *out = mail;
    mail = NULL;
    st = M2S_MAIL_OK;
out:
    free(ctx.why);
    m2s_mail_free(mail);
    if (msg != NULL)
        g_object_unref(msg);
    if (parser != NULL)
        g_object_unref(parser);
    if (stream != NULL)
        g_object_unref(stream);
    if (arr != NULL)
        g_byte_array_free(arr, FALSE);      /* the bytes are the caller's */
    if (opts != NULL)
        g_mime_parser_options_free(opts);
    if (why != NULL)
        *why = reason;
    else
        free(reason);
    return st;
}

int m2s_mail_load_attachment(m2s_mail *mail, m2s_attachment *att)
{
    if (mail == NULL || att == NULL || att < mail->att || att >= mail->att + mail->n_att ||
        mail->tree == NULL)
        return -1;
    if (att->data != NULL)
        return 0;
    GMimeObject *obj = g_ptr_array_index(mail->tree->parts, (guint)(att - mail->att));
    GByteArray *arr = GMIME_IS_MESSAGE_PART(obj) ? message_bytes(obj)
                                                 : part_bytes(GMIME_PART(obj));
    att->data = copy_bytes(arr, &att->len);
    g_byte_array_unref(arr);
    return 0;
}

const char *m2s_mail_header(const m2s_mail *mail, const char *name)
{
    if (mail == NULL || name == NULL)
        return NULL;
    for (size_t i = 0; i < mail->header_names.n && i < mail->header_values.n; i++)
        if (g_ascii_strcasecmp(mail->header_names.v[i], name) == 0)
            return mail->header_values.v[i];
    return NULL;
}

void m2s_mail_free(m2s_mail *mail)
{
    if (mail == NULL)
        return;
    free(mail->subject);
    free(mail->from_addr);
    free(mail->from_name);
    free(mail->message_id);
    free(mail->text_plain);
    free(mail->text_html);
    for (size_t i = 0; i < mail->n_att; i++) {
        free(mail->att[i].filename);
        free(mail->att[i].content_type);
        free(mail->att[i].content_id);
        free(mail->att[i].data);
    }
    free(mail->att);
    m2s_strv_clear(&mail->header_names);
    m2s_strv_clear(&mail->hdr_names);
    m2s_strv_clear(&mail->hdr_values);
    m2s_strv_clear(&mail->header_values);
    if (mail->tree != NULL) {
        if (mail->tree->parts != NULL)
            g_ptr_array_unref(mail->tree->parts);
        if (mail->tree->msg != NULL)
            g_object_unref(mail->tree->msg);
        if (mail->tree->stream != NULL)
            g_object_unref(mail->tree->stream);
        if (mail->tree->arr != NULL)
            g_byte_array_free(mail->tree->arr, FALSE);  /* the bytes are the caller's */
        free(mail->tree);
    }
    free(mail);
}
