/* util.h - small helpers shared by every module.
 *
 * Memory: the x* allocators never return NULL. When memory runs out they
 * call the handler set with m2s_util_on_oom, which must not return
 * (outcome.c's prints the line Postfix expects and exits so that the mail
 * is deferred, not bounced); without one they abort().
 */
#ifndef M2S_UTIL_H
#define M2S_UTIL_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>

/* The handler for exhausted memory; it must not return. */
void m2s_util_on_oom(void (*handler)(void));

void *xmalloc(size_t n);
void *xcalloc(size_t n, size_t size);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);           /* NULL in, NULL out */
char *xstrndup(const char *s, size_t n);
char *xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
char *xvasprintf(const char *fmt, va_list ap);

/* A growable byte buffer, always NUL-terminated. The caller owns buf->data. */
typedef struct m2s_buf {
    char *data;
    size_t len;
    size_t cap;
} m2s_buf;

void m2s_buf_init(m2s_buf *b);
void m2s_buf_add(m2s_buf *b, const void *p, size_t n);
void m2s_buf_adds(m2s_buf *b, const char *s);
void m2s_buf_addc(m2s_buf *b, char c);
void m2s_buf_printf(m2s_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
char *m2s_buf_steal(m2s_buf *b);        /* returns data (caller frees), resets b */
void m2s_buf_clear(m2s_buf *b);

/* A list of owned strings. */
typedef struct m2s_strv {
    char **v;
    size_t n;
} m2s_strv;

void m2s_strv_add(m2s_strv *l, const char *s);      /* copies s */
void m2s_strv_take(m2s_strv *l, char *s);           /* takes ownership of s */
bool m2s_strv_contains(const m2s_strv *l, const char *s);
void m2s_strv_clear(m2s_strv *l);

/* Case-insensitive shell-style match ('*' and '?') for sender patterns. */
bool m2s_glob_match(const char *pattern, const char *s);

/* An address as written in an envelope or a header, bare: without the
 * white space (space, tab, CR, LF) around it and one pair of <>, nor the
 * white space just inside them. addr may be NULL (gives ""). Returns a new
 * string. */
char *m2s_address_bare(const char *addr);

/* Keep at most max bytes of s for a one-line message: control characters
 * become spaces, a cut UTF-8 sequence is not left half, "..." marks a cut.
 * Returns a new string. */
char *m2s_oneline(const char *s, size_t max);

/* Monotonic clock in seconds. */
double m2s_now(void);

/* Read all of fd into memory. At most limit bytes are kept; *too_large is set
 * when there was more (the rest is read and discarded so the writer never
 * blocks). Returns 0, or -1 with errno set. */
int m2s_read_all(int fd, size_t limit, m2s_buf *out, bool *too_large);

/* Write all len bytes of data to fd, across short writes and EINTR.
 * 0, or -1 with errno set. */
int m2s_write_all(int fd, const void *data, size_t len);

/* Fill p with n cryptographically random bytes (getrandom). 0 on success. */
int m2s_random_bytes(void *p, size_t n);

#endif
