/* senders.c - who may spend the SMS budget.
 *
 * Rules, in order:
 *  1. The null sender ("" from -f, also written "<>") is refused when
 *     senders.allowed is set and senders.allow_null is false: bounces are
 *     sent with a null sender, and once an allow-list is configured they
 *     must not turn into SMS. Without senders.allowed everyone may send,
 *     the null sender included.
 *  2. With senders.allowed set, senders.check decides which addresses must
 *     match a pattern: "both" the envelope sender and the From header
 *     address (the envelope only when -f was given at all, and a null
 *     sender that rule 1 let through counts as matching), "envelope" only
 *     the envelope sender (a missing -f is refused), "header" only From.
 *     A missing From address never matches.
 *  3. With senders.token set, the mail must carry the token in an
 *     X-SMS-Token header (exact, after trimming) or anywhere in the
 *     subject. It is removed from the subject either way, so it is never
 *     sent on, and never appears in a reason line.
 *
 * Patterns are m2s_glob_match globs (case-insensitive, '*' and '?') on the
 * bare address (m2s_address_bare); a pattern without '@' (or starting
 * with '@') is matched against the domain part only.
 */
#include "build-config.h"

#include <stdlib.h>
#include <string.h>

#include "senders.h"
#include "util.h"

#define ADDR_MAX 300            /* bytes of an address in a reason line */

static bool is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

static bool pattern_match(const char *pattern, const char *addr)
{
    if (!pattern || !*pattern || !addr || !*addr)
        return false;
    if (pattern[0] == '@' || !strchr(pattern, '@')) {
        const char *at = strrchr(addr, '@');
        const char *domain = at ? at + 1 : "";
        const char *pd = pattern[0] == '@' ? pattern + 1 : pattern;
        return *domain && m2s_glob_match(pd, domain);
    }
    return m2s_glob_match(pattern, addr);
}

/* True when the bare form of addr matches one of the patterns. */
static bool list_match(const m2s_strv *patterns, const char *addr)
{
    bool ok = false;
    char *bare = m2s_address_bare(addr);
    for (size_t i = 0; i < patterns->n && !ok; i++)
        ok = pattern_match(patterns->v[i], bare);
    free(bare);
    return ok;
}

static bool is_null_sender(const char *envelope)
{
    if (!envelope)
        return false;
    char *bare = m2s_address_bare(envelope);
    bool null = bare[0] == '\0';
    free(bare);
    return null;
}

/* The same token-free, one-line form for every address in a reason. */
static char *shown_address(const char *addr, const char *token)
{
    char *bare = m2s_address_bare(addr);
    char *one = m2s_oneline(bare, ADDR_MAX);
    free(bare);
    if (token && *token && strstr(one, token)) {
        m2s_buf b;
        m2s_buf_init(&b);
        size_t tl = strlen(token);
        for (const char *p = one; *p;) {
            if (strncmp(p, token, tl) == 0) {
                m2s_buf_adds(&b, "***");
                p += tl;
            } else {
                m2s_buf_addc(&b, *p++);
            }
        }
        free(one);
        one = m2s_buf_steal(&b);
    }
    return one;
}

static bool header_token_matches(const char *value, const char *token)
{
    if (!value)
        return false;
    while (is_space(*value))
        value++;
    size_t n = strlen(value);
    while (n > 0 && is_space(value[n - 1]))
        n--;
    return n == strlen(token) && strncmp(value, token, n) == 0;
}

static char closer_of(char c)
{
    switch (c) {
    case '[': return ']';
    case '(': return ')';
    case '<': return '>';
    case '{': return '}';
    default: return '\0';
    }
}

/* Remove every occurrence of token from subject, with brackets that hold
 * only the token and a ':' right after it, and tidy the spaces so that
 * "[tok] Disk full" and "Disk full tok" both become "Disk full".
 * Returns a new string, or NULL when the token is not in subject. */
static char *subject_without_token(const char *subject, const char *token)
{
    size_t tl = strlen(token);
    const char *hit = strstr(subject, token);
    if (!hit)
        return NULL;

    m2s_buf b;
    m2s_buf_init(&b);
    const char *p = subject;
    while (hit) {
        const char *s = hit, *e = hit + tl;
        if (s > p && closer_of(s[-1]) && *e == closer_of(s[-1])) {
            s--;
            e++;
        }
        if (*e == ':' && (e[1] == '\0' || is_space(e[1])))
            e++;
        /* A token glued into a word leaves the word glued. */
        bool gap = (s > subject && is_space(s[-1])) || is_space(*e);
        m2s_buf_add(&b, p, (size_t)(s - p));
        while (b.len > 0 && is_space(b.data[b.len - 1]))
            b.data[--b.len] = '\0';
        while (is_space(*e))
            e++;
        p = e;
        hit = strstr(p, token);
        if (gap && b.len > 0 && *p && hit != p)
            m2s_buf_addc(&b, ' ');
    }
    m2s_buf_adds(&b, p);
    while (b.len > 0 && is_space(b.data[b.len - 1]))
        b.data[--b.len] = '\0';
    return m2s_buf_steal(&b);
}

m2s_class m2s_senders_authorize(const m2s_config *cfg, const char *envelope,
                                m2s_mail *mail, m2s_status *st)
{
    m2s_class cls = M2S_E_SENDER;
    char *reason = NULL;
    const char *token = cfg->sender_token && *cfg->sender_token
        ? cfg->sender_token : NULL;
    const char *from = mail->from_addr ? mail->from_addr : "";
    bool null = is_null_sender(envelope);
    bool listed = cfg->senders_allowed.n > 0;
    bool check_env = cfg->sender_check != M2S_SENDER_CHECK_HEADER;
    bool check_hdr = cfg->sender_check != M2S_SENDER_CHECK_ENVELOPE;

    if (null && listed && !cfg->allow_null_sender) {
        reason = xstrdup("null sender not allowed (senders.allow_null)");
        goto out;
    }

    if (listed && check_env && !null) {
        if (!envelope) {
            if (cfg->sender_check == M2S_SENDER_CHECK_ENVELOPE) {
                reason = xstrdup("no envelope sender given (senders.check)");
                goto out;
            }
        } else if (!list_match(&cfg->senders_allowed, envelope)) {
            char *a = shown_address(envelope, token);
            reason = xasprintf("sender <%s> not allowed (senders.allowed)", a);
            free(a);
            goto out;
        }
    }

    if (listed && check_hdr && !list_match(&cfg->senders_allowed, from)) {
        char *a = shown_address(from, token);
        reason = xasprintf("From header <%s> not allowed (senders.allowed)", a);
        free(a);
        goto out;
    }

    if (token) {
        bool found = header_token_matches(m2s_mail_header(mail, "X-SMS-Token"), token);
        char *subject = subject_without_token(mail->subject ? mail->subject : "",
                                              token);
        if (subject) {
            free(mail->subject);
            mail->subject = subject;
            found = true;
        }
        if (!found) {
            reason = xstrdup("sender token missing");
            goto out;
        }
    }
    cls = M2S_OK;
out:
    if (cls != M2S_OK && st)
        m2s_status_take(st, cls, NULL, reason);
    else
        free(reason);
    return cls;
}

bool m2s_senders_trusted(const m2s_config *cfg, const char *envelope,
                         const m2s_mail *mail)
{
    const m2s_strv *list = &cfg->senders_trusted;
    const char *from = mail && mail->from_addr ? mail->from_addr : "";

    if (list->n == 0)
        return false;
    switch (cfg->sender_check) {
    case M2S_SENDER_CHECK_ENVELOPE:
        return envelope && list_match(list, envelope);
    case M2S_SENDER_CHECK_HEADER:
        return list_match(list, from);
    case M2S_SENDER_CHECK_BOTH:
    default:
        /* A null sender matches no pattern, so it is never trusted. */
        if (envelope && !list_match(list, envelope))
            return false;
        return list_match(list, from);
    }
}
