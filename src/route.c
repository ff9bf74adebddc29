/* route.c - recipient addresses to E.164 phone numbers
 * (mail2sms(8), "RECIPIENTS").
 *
 * The local part of each bare recipient address (m2s_address_bare) is
 * looked up as an alias first (the whole local part, case-insensitively:
 * m2s_config_alias), then read as a phone number. Numbers are normalised
 * by m2s_rules_number, checked against recipients.allowed_prefixes and
 * deduplicated across the whole mail (the first recipient that reaches a
 * number owns its target).
 */
#include "build-config.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "route.h"
#include "rules.h"
#include "util.h"

#define WHY_MAX 300             /* bytes of a quoted name in a why line */

static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

/* A configured prefix in the "+digits" form numbers have: separators are
 * dropped, "00" and a missing '+' are accepted. Returns a new string, or
 * NULL when it holds no digits (such an entry would allow everything). */
static char *prefix_form(const char *pfx)
{
    m2s_buf b;
    m2s_buf_init(&b);
    m2s_buf_addc(&b, '+');
    const char *p = pfx;
    while (*p == ' ' || *p == '\t')
        p++;
    if (*p == '+')
        p++;
    else if (p[0] == '0' && p[1] == '0')
        p += 2;
    for (; *p; p++)
        if (is_digit(*p))
            m2s_buf_addc(&b, *p);
    if (b.len == 1) {
        m2s_buf_clear(&b);
        return NULL;
    }
    return m2s_buf_steal(&b);
}

int m2s_prefix_allowed(const m2s_config *cfg, const char *number)
{
    int ok = 0;
    if (!number)
        goto out;
    if (!cfg || cfg->allowed_prefixes.n == 0) {
        ok = 1;
        goto out;
    }
    for (size_t i = 0; i < cfg->allowed_prefixes.n && !ok; i++) {
        char *pf = prefix_form(cfg->allowed_prefixes.v[i]);
        if (pf && strncmp(number, pf, strlen(pf)) == 0)
            ok = 1;
        free(pf);
    }
out:
    return ok;
}

/* The local part of a bare address: everything before the last '@' (the
 * whole string without one), with RFC 5321 quoting removed:
 * "\"+31 6 1234 5678\"" -> "+31 6 1234 5678". Returns a new string. */
static char *local_part(const char *addr)
{
    const char *at = strrchr(addr, '@');
    size_t n = at ? (size_t)(at - addr) : strlen(addr);
    m2s_buf b;
    m2s_buf_init(&b);
    for (size_t i = 0; i < n; i++) {
        if (addr[i] == '"')
            continue;
        if (addr[i] == '\\' && i + 1 < n)
            i++;
        m2s_buf_addc(&b, addr[i]);
    }
    return m2s_buf_steal(&b);
}

/* True when the local part looks like an attempt at a phone number, so the
 * unknown-recipient line can say what was wrong with it. */
static bool looks_numeric(const char *s)
{
    bool digit = false;
    for (; *s; s++) {
        if (is_digit(*s))
            digit = true;
        else if (*s != '+' && !m2s_rules_number_separator(*s))
            return false;
    }
    return digit;
}

static void add_fail(m2s_routes *out, size_t rcpt, const char *recipient,
                     const char *number, m2s_class cls, char *why)
{
    /* The same refusal twice for one recipient says nothing new. */
    for (size_t i = 0; i < out->n_fail; i++) {
        m2s_route_fail *f = &out->fail[i];
        if (f->st.cls == cls && strcmp(f->recipient, recipient) == 0 &&
            ((!f->number && !number) ||
             (f->number && number && strcmp(f->number, number) == 0))) {
            free(why);
            return;
        }
    }
    out->fail = xrealloc(out->fail, (out->n_fail + 1) * sizeof *out->fail);
    m2s_route_fail *f = &out->fail[out->n_fail++];
    f->recipient = xstrdup(recipient);
    f->number = xstrdup(number);
    f->rcpt = rcpt;
    f->st = (m2s_status)M2S_STATUS_INIT;
    m2s_status_take(&f->st, cls, NULL, why);
}

static void add_rcpt(m2s_target *t, size_t rcpt)
{
    for (size_t i = 0; i < t->n_rcpts; i++)
        if (t->rcpts[i] == rcpt)
            return;
    t->rcpts = xrealloc(t->rcpts, (t->n_rcpts + 1) * sizeof *t->rcpts);
    t->rcpts[t->n_rcpts++] = rcpt;
}

/* A normalised number reached through recipient: refused by prefix, merged
 * with an earlier target, or a new target. */
static void add_number(const m2s_config *cfg, m2s_routes *out, size_t rcpt,
                       const char *recipient, const m2s_alias *alias,
                       const char *number)
{
    if (!m2s_prefix_allowed(cfg, number)) {
        add_fail(out, rcpt, recipient, number, M2S_E_PREFIX,
                 xasprintf("number %s not allowed (recipients.allowed_prefixes)",
                           number));
        return;
    }
    for (size_t i = 0; i < out->n; i++)
        if (strcmp(out->t[i].number, number) == 0) {
            add_rcpt(&out->t[i], rcpt);
            return;
        }
    out->t = xrealloc(out->t, (out->n + 1) * sizeof *out->t);
    m2s_target *t = &out->t[out->n++];
    memset(t, 0, sizeof *t);
    t->number = xstrdup(number);
    t->recipient = xstrdup(recipient);
    t->alias = alias;
    add_rcpt(t, rcpt);
}

static void route_one(const m2s_config *cfg, size_t idx, const char *rcpt, m2s_routes *out)
{
    char *addr = m2s_address_bare(rcpt);
    char *local = local_part(addr);
    char *shown = m2s_oneline(local, WHY_MAX);
    char *number = NULL;
    const char *why = NULL;
    const char *cc = cfg ? cfg->default_country : NULL;

    const m2s_alias *alias = cfg ? m2s_config_alias(cfg, local) : NULL;
    if (alias) {
        if (alias->numbers.n == 0)
            add_fail(out, idx, addr, NULL, M2S_E_UNKNOWN_RCPT,
                     xasprintf("alias \"%s\" has no numbers", shown));
        for (size_t i = 0; i < alias->numbers.n; i++) {
            const char *raw = alias->numbers.v[i];
            char *num = m2s_rules_number(raw, cc, &why);
            if (num) {
                add_number(cfg, out, idx, addr, alias, num);
            } else {
                /* config.c refuses this at load time; never send it. */
                char *rs = m2s_oneline(raw, WHY_MAX);
                add_fail(out, idx, addr, raw, M2S_E_UNKNOWN_RCPT,
                         xasprintf("alias \"%s\" number \"%s\" is invalid: %s",
                                   shown, rs, why));
                free(rs);
            }
            free(num);
        }
        goto out;
    }

    number = m2s_rules_number(local, cc, &why);
    if (number) {
        add_number(cfg, out, idx, addr, NULL, number);
    } else if (looks_numeric(local)) {
        add_fail(out, idx, addr, NULL, M2S_E_UNKNOWN_RCPT,
                 xasprintf("unknown recipient \"%s\" (%s)", shown, why));
    } else {
        add_fail(out, idx, addr, NULL, M2S_E_UNKNOWN_RCPT,
                 xasprintf("unknown recipient \"%s\"", shown));
    }
out:
    free(number);
    free(shown);
    free(local);
    free(addr);
}

void m2s_route(const m2s_config *cfg, char *const *recipients, size_t n,
               m2s_routes *out)
{
    for (size_t i = 0; i < n; i++)
        route_one(cfg, i, recipients[i], out);
}

void m2s_routes_clear(m2s_routes *r)
{
    if (!r)
        return;
    for (size_t i = 0; i < r->n; i++) {
        free(r->t[i].number);
        free(r->t[i].recipient);
        free(r->t[i].rcpts);
    }
    free(r->t);
    for (size_t i = 0; i < r->n_fail; i++) {
        free(r->fail[i].recipient);
        free(r->fail[i].number);
        m2s_status_clear(&r->fail[i].st);
    }
    free(r->fail);
    memset(r, 0, sizeof *r);
}
