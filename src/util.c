/* util.c - allocation that defers on exhaustion, buffers, string lists. */
#include "build-config.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "util.h"

static void (*oom_handler)(void);

void m2s_util_on_oom(void (*handler)(void))
{
    oom_handler = handler;
}

static void out_of_memory(void)
{
    if (oom_handler)
        oom_handler();
    abort();
}

void *xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (!p)
        out_of_memory();
    return p;
}

void *xcalloc(size_t n, size_t size)
{
    void *p = calloc(n ? n : 1, size ? size : 1);
    if (!p)
        out_of_memory();
    return p;
}

void *xrealloc(void *p, size_t n)
{
    void *q = realloc(p, n ? n : 1);
    if (!q)
        out_of_memory();
    return q;
}

char *xstrdup(const char *s)
{
    if (!s)
        return NULL;
    return xstrndup(s, strlen(s));
}

char *xstrndup(const char *s, size_t n)
{
    size_t len = strnlen(s, n);
    char *p = xmalloc(len + 1);
    memcpy(p, s, len);
    p[len] = '\0';
    return p;
}

char *xvasprintf(const char *fmt, va_list ap)
{
    va_list ap2;
    va_copy(ap2, ap);
    int n = vsnprintf(NULL, 0, fmt, ap2);
    va_end(ap2);
    if (n < 0)
        n = 0;
    char *p = xmalloc((size_t)n + 1);
    vsnprintf(p, (size_t)n + 1, fmt, ap);
    return p;
}

char *xasprintf(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *p = xvasprintf(fmt, ap);
    va_end(ap);
    return p;
}

void m2s_buf_init(m2s_buf *b)
{
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
}

static void buf_reserve(m2s_buf *b, size_t extra)
{
    if (b->len + extra + 1 <= b->cap)
        return;
    size_t cap = b->cap ? b->cap : 64;
    while (cap < b->len + extra + 1)
        cap *= 2;
    b->data = xrealloc(b->data, cap);
    b->cap = cap;
}

void m2s_buf_add(m2s_buf *b, const void *p, size_t n)
{
    buf_reserve(b, n);
    if (n)
        memcpy(b->data + b->len, p, n);
    b->len += n;
    b->data[b->len] = '\0';
}

void m2s_buf_adds(m2s_buf *b, const char *s)
{
    m2s_buf_add(b, s, strlen(s));
}

void m2s_buf_addc(m2s_buf *b, char c)
{
    m2s_buf_add(b, &c, 1);
}

void m2s_buf_printf(m2s_buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *s = xvasprintf(fmt, ap);
    va_end(ap);
    m2s_buf_adds(b, s);
    free(s);
}

char *m2s_buf_steal(m2s_buf *b)
{
    char *p = b->data ? b->data : xstrdup("");
    m2s_buf_init(b);
    return p;
}

void m2s_buf_clear(m2s_buf *b)
{
    free(b->data);
    m2s_buf_init(b);
}

void m2s_strv_take(m2s_strv *l, char *s)
{
    l->v = xrealloc(l->v, (l->n + 2) * sizeof *l->v);
    l->v[l->n++] = s;
    l->v[l->n] = NULL;
}

void m2s_strv_add(m2s_strv *l, const char *s)
{
    m2s_strv_take(l, xstrdup(s));
}

bool m2s_strv_contains(const m2s_strv *l, const char *s)
{
    for (size_t i = 0; i < l->n; i++)
        if (strcmp(l->v[i], s) == 0)
            return true;
    return false;
}

void m2s_strv_clear(m2s_strv *l)
{
    for (size_t i = 0; i < l->n; i++)
        free(l->v[i]);
    free(l->v);
    l->v = NULL;
    l->n = 0;
}

bool m2s_glob_match(const char *p, const char *s)
{
    /* Iterative matcher with one backtrack point: linear enough for the
     * short patterns of an allow-list. */
    const char *star = NULL, *ss = NULL;
    while (*s) {
        if (*p == '*') {
            star = p++;
            ss = s;
        } else if (*p == '?' || tolower((unsigned char)*p) == tolower((unsigned char)*s)) {
            p++;
            s++;
        } else if (star) {
            p = star + 1;
            s = ++ss;
        } else {
            return false;
        }
    }
    while (*p == '*')
        p++;
    return *p == '\0';
}

static bool is_address_space(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

char *m2s_address_bare(const char *addr)
{
    const char *s = addr ? addr : "";
    while (is_address_space(*s))
        s++;
    size_t n = strlen(s);
    while (n > 0 && is_address_space(s[n - 1]))
        n--;
    if (n >= 2 && s[0] == '<' && s[n - 1] == '>') {
        s++;
        n -= 2;
        while (n > 0 && is_address_space(*s)) {
            s++;
            n--;
        }
        while (n > 0 && is_address_space(s[n - 1]))
            n--;
    }
    return xstrndup(s, n);
}

char *m2s_oneline(const char *s, size_t max)
{
    m2s_buf b;
    m2s_buf_init(&b);
    if (!s)
        s = "";
    size_t n = strlen(s);
    bool cut = n > max;
    size_t keep = cut ? (max > 3 ? max - 3 : 0) : n;
    /* Do not cut inside a UTF-8 sequence. */
    while (cut && keep > 0 && ((unsigned char)s[keep] & 0xC0) == 0x80)
        keep--;
    bool space = false;
    for (size_t i = 0; i < keep; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x20 || c == 0x7f) {
            if (!space && b.len)
                m2s_buf_addc(&b, ' ');
            space = true;
            continue;
        }
        space = (c == ' ');
        m2s_buf_addc(&b, (char)c);
    }
    while (b.len && b.data[b.len - 1] == ' ')
        b.data[--b.len] = '\0';
    if (cut)
        m2s_buf_adds(&b, "...");
    return m2s_buf_steal(&b);
}

double m2s_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int m2s_read_all(int fd, size_t limit, m2s_buf *out, bool *too_large)
{
    char chunk[65536];
    *too_large = false;
    for (;;) {
        ssize_t r = read(fd, chunk, sizeof chunk);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        if (r == 0)
            return 0;
        if (*too_large)
            continue;           /* drain, so the writer never blocks */
        if (out->len + (size_t)r > limit) {
            *too_large = true;
            continue;
        }
        m2s_buf_add(out, chunk, (size_t)r);
    }
}

int m2s_write_all(int fd, const void *data, size_t len)
{
    const unsigned char *p = data;
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

int m2s_random_bytes(void *p, size_t n)
{
    unsigned char *q = p;
    while (n > 0) {
        ssize_t r = getrandom(q, n, 0);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        q += r;
        n -= (size_t)r;
    }
    return 0;
}
