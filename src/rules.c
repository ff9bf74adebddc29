/* rules.c - Bird's rules for values: phone numbers normalised to E.164,
 * tags. Nothing here knows the configuration or a library.
 */
#include "build-config.h"

#include <ctype.h>
#include <string.h>

#include "rules.h"
#include "util.h"

/* The limits inside static reason texts. */
#define STR_(x) #x
#define STR(x) STR_(x)
#define TOO_LONG \
    "phone number too long (more than " STR(M2S_RULES_E164_MAX_DIGITS) " digits)"
#define TOO_SHORT \
    "phone number too short (fewer than " STR(M2S_RULES_E164_MIN_DIGITS) " digits)"

static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

static bool is_space(char c)
{
    return c == ' ' || c == '\t';
}

bool m2s_rules_number_separator(char c)
{
    return is_space(c) || c == '.' || c == '-' || c == '(' || c == ')';
}

/* At s (pointing at '('), the European trunk notation "(0)" with optional
 * spaces inside. Returns its length, or 0. */
static size_t trunk_group_len(const char *s)
{
    size_t i = 1;
    while (is_space(s[i]))
        i++;
    if (s[i] != '0')
        return 0;
    i++;
    while (is_space(s[i]))
        i++;
    if (s[i] != ')')
        return 0;
    return i + 1;
}

char *m2s_rules_number(const char *in, const char *default_country,
                       const char **why)
{
    const char *dummy;
    char *res = NULL;
    char digits[64];
    size_t nd = 0;
    bool plus = false;
    const char *p;
    m2s_buf b;

    m2s_buf_init(&b);
    if (!why)
        why = &dummy;
    *why = NULL;
    if (!in) {
        *why = "empty phone number";
        goto out;
    }
    p = in;
    while (is_space(*p))
        p++;
    if (*p == '\0') {
        *why = "empty phone number";
        goto out;
    }
    if (*p == '+') {
        plus = true;
        p++;
    }
    for (; *p; p++) {
        size_t trunk;
        if (is_digit(*p)) {
            if (nd >= sizeof digits - 1) {
                *why = TOO_LONG;
                goto out;
            }
            digits[nd++] = *p;
        } else if (*p == '(' && (trunk = trunk_group_len(p)) > 0) {
            /* "+49 (0)30 ...": the national trunk 0 written after the
             * country code is dropped; anywhere else it is a plain 0. */
            size_t cc = plus ? nd
                : (nd >= 2 && digits[0] == '0' && digits[1] == '0') ? nd - 2
                : 0;
            if (cc < 1 || cc > M2S_RULES_CC_MAX_DIGITS) {
                if (nd >= sizeof digits - 1) {
                    *why = TOO_LONG;
                    goto out;
                }
                digits[nd++] = '0';
            }
            p += trunk - 1;
        } else if (m2s_rules_number_separator(*p)) {
            continue;
        } else if (*p == '+') {
            *why = "'+' is only allowed at the start of a phone number";
            goto out;
        } else {
            *why = "not a phone number";
            goto out;
        }
    }
    digits[nd] = '\0';
    if (nd == 0) {
        *why = "phone number has no digits";
        goto out;
    }

    m2s_buf_addc(&b, '+');
    if (plus) {
        m2s_buf_adds(&b, digits);
    } else if (digits[0] == '0' && digits[1] == '0') {
        m2s_buf_adds(&b, digits + 2);
    } else if (digits[0] == '0') {
        /* National: the trunk 0 gives way to the default country code. */
        const char *cc = default_country;
        if (cc && *cc == '+')
            cc++;
        if (!cc || !*cc) {
            *why = "national number needs recipients.default_country";
            goto out;
        }
        for (const char *c = cc; *c; c++) {
            if (!is_digit(*c)) {
                *why = "recipients.default_country is not a country code";
                goto out;
            }
        }
        m2s_buf_adds(&b, cc);
        m2s_buf_adds(&b, digits + 1);
    } else {
        m2s_buf_adds(&b, digits);   /* bare digits are international */
    }

    size_t n = b.len - 1;
    if (n == 0)
        *why = "phone number has no digits";
    else if (b.data[1] == '0')
        *why = "country code cannot start with 0";
    else if (n < M2S_RULES_E164_MIN_DIGITS)
        *why = TOO_SHORT;
    else if (n > M2S_RULES_E164_MAX_DIGITS)
        *why = TOO_LONG;
    else
        res = m2s_buf_steal(&b);
out:
    m2s_buf_clear(&b);
    return res;
}

bool m2s_rules_tag_valid(const char *s)
{
    size_t n = strlen(s);
    if (n < 1 || n > M2S_RULES_TAG_MAX_LEN)
        return false;
    for (; *s; s++)
        if (!isalnum((unsigned char)*s) && !strchr("-_ ", *s))
            return false;
    return true;
}
