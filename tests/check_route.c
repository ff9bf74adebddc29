/* check_route.c - recipient addresses to phone numbers: normalisation,
 * aliases, allowed prefixes, deduplication and the refusal lines. */
#include "build-config.h"

#include <stdlib.h>
#include <string.h>

#include "unit.h"
#include "route.h"
#include "rules.h"
#include "util.h"

/* ------------------------------------------------------------ helpers */

/* A configuration filled by hand (config.c is tested on its own). */
static m2s_config *cfg_new(const char *default_country)
{
    m2s_config *c = xcalloc(1, sizeof *c);
    c->default_country = xstrdup(default_country);
    return c;
}

/* numbers: NULL-terminated list. */
static void cfg_alias(m2s_config *c, const char *name, const char *const *numbers)
{
    c->aliases = xrealloc(c->aliases, (c->n_aliases + 1) * sizeof *c->aliases);
    m2s_alias *a = &c->aliases[c->n_aliases++];
    memset(a, 0, sizeof *a);
    a->name = xstrdup(name);
    for (; *numbers; numbers++)
        m2s_strv_add(&a->numbers, *numbers);
}

static void cfg_free(m2s_config *c)
{
    for (size_t i = 0; i < c->n_aliases; i++) {
        free(c->aliases[i].name);
        m2s_strv_clear(&c->aliases[i].numbers);
    }
    free(c->aliases);
    m2s_strv_clear(&c->allowed_prefixes);
    free(c->default_country);
    free(c);
}

static void route1(const m2s_config *c, const char *rcpt, m2s_routes *r)
{
    char *v[1] = { (char *)rcpt };
    memset(r, 0, sizeof *r);
    m2s_route(c, v, 1, r);
}

/* ------------------------------------------------------ normalisation */

static const struct {
    const char *in;
    const char *cc;
    const char *want;       /* NULL = refused */
} norm_cases[] = {
    { "+31 6 12345678",        NULL, "+31612345678" },
    { "+31612345678",          NULL, "+31612345678" },
    { "0031612345678",         NULL, "+31612345678" },
    { "00 31 6 1234 5678",     NULL, "+31612345678" },
    { "06-12345678",           "31", "+31612345678" },
    { "(06) 1234 5678",        "31", "+31612345678" },
    { "06.12.34.56.78",        "31", "+31612345678" },
    { "  0612345678  ",        "31", "+31612345678" },
    { "06-12345678",           "+31", "+31612345678" },
    { "+1 (415) 555-0123",     NULL, "+14155550123" },
    { "1.415.555.0123",        NULL, "+14155550123" },
    { "14155550123",           NULL, "+14155550123" },
    { "31612345678",           "44", "+31612345678" },
    { "+44 20 7946 0958",      NULL, "+442079460958" },
    { "020 7946 0958",         "44", "+442079460958" },
    { "+49 (0)30 1234567",     NULL, "+49301234567" },
    { "+49 (0) 30 1234567",    NULL, "+49301234567" },
    { "+49(0)301234567",       NULL, "+49301234567" },
    { "0049 (0)30 1234567",    NULL, "+49301234567" },
    { "+31 (0)6 12345678",     NULL, "+31612345678" },
    { "+353 (0)1 234 5678",    NULL, "+35312345678" },
    { "+123456789012345",      NULL, "+123456789012345" },  /* 15 digits */
    { "+12345678",             NULL, "+12345678" },         /* 8 digits */
    /* refused */
    { "06-12345678",           NULL, NULL },   /* national, no default */
    { "06-12345678",           "3x", NULL },   /* bad default country */
    { "+3161234",              NULL, NULL },   /* 7 digits */
    { "+1234567890123456",     NULL, NULL },   /* 16 digits */
    { "abc",                   NULL, NULL },
    { "",                      NULL, NULL },
    { "   ",                   NULL, NULL },
    { "+",                     NULL, NULL },
    { "0",                     NULL, NULL },
    { "0",                     "31", NULL },
    { "00",                    NULL, NULL },
    { "+0612345678",           NULL, NULL },   /* country code 0 */
    { "000612345678",          NULL, NULL },
    { "+31+612345678",         NULL, NULL },   /* '+' inside */
    { "31612345678+",          NULL, NULL },
    { "++31612345678",         NULL, NULL },
    { "+31 6 1234 567x",       NULL, NULL },
    { "+31/612345678",         NULL, NULL },
    { "oncall",                "31", NULL },
    { "+31 6 12345678 ext 1",  NULL, NULL },
};

START_TEST(test_normalize_table)
{
    const char *in = norm_cases[_i].in, *cc = norm_cases[_i].cc;
    const char *want = norm_cases[_i].want;
    const char *why = "unset";
    char *got = m2s_rules_number(in, cc, &why);
    if (want) {
        ck_assert_msg(got != NULL, "\"%s\" (cc %s) refused: %s", in,
                      cc ? cc : "none", why);
        ck_assert_str_eq(got, want);
    } else {
        ck_assert_msg(got == NULL, "\"%s\" (cc %s) accepted as %s", in,
                      cc ? cc : "none", got);
        ck_assert_ptr_nonnull(why);
        ck_assert_int_gt((int)strlen(why), 0);
        ck_assert_ptr_null(strchr(why, '\n'));
    }
    free(got);
}
END_TEST

START_TEST(test_normalize_reasons)
{
    const char *why = NULL;
    ck_assert_ptr_null(m2s_rules_number("0612345678", NULL, &why));
    ck_assert_str_eq(why, "national number needs recipients.default_country");
    ck_assert_ptr_null(m2s_rules_number("+3161234", NULL, &why));
    ck_assert_ptr_nonnull(strstr(why, "too short"));
    ck_assert_ptr_null(m2s_rules_number("+1234567890123456", NULL, &why));
    ck_assert_ptr_nonnull(strstr(why, "too long"));
    ck_assert_ptr_null(m2s_rules_number("+31+612345678", NULL, &why));
    ck_assert_ptr_nonnull(strstr(why, "'+'"));
    ck_assert_ptr_null(m2s_rules_number("+0612345678", NULL, &why));
    ck_assert_ptr_nonnull(strstr(why, "0"));
    /* A very long digit string is refused, not overflowed. */
    char big[400];
    memset(big, '9', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    ck_assert_ptr_null(m2s_rules_number(big, NULL, &why));
    ck_assert_ptr_nonnull(strstr(why, "too long"));
    /* why may be NULL */
    ck_assert_ptr_null(m2s_rules_number("abc", NULL, NULL));
    ck_assert_ptr_null(m2s_rules_number(NULL, "31", &why));
}
END_TEST

/* --------------------------------------------------------------- rules */

START_TEST(test_rules_number_limits)
{
    const char *why = NULL;
    char digits[M2S_RULES_E164_MAX_DIGITS + 2];
    char *got;

    /* exactly the limits, and one past each */
    digits[0] = '+';
    memset(digits + 1, '1', M2S_RULES_E164_MAX_DIGITS);
    digits[M2S_RULES_E164_MAX_DIGITS + 1] = '\0';
    got = m2s_rules_number(digits, NULL, &why);
    ck_assert_ptr_nonnull(got);
    ck_assert_str_eq(got, digits);
    free(got);
    digits[M2S_RULES_E164_MIN_DIGITS + 1] = '\0';
    got = m2s_rules_number(digits, NULL, &why);
    ck_assert_ptr_nonnull(got);
    free(got);
    digits[M2S_RULES_E164_MIN_DIGITS] = '\0';
    ck_assert_ptr_null(m2s_rules_number(digits, NULL, &why));
    ck_assert_str_eq(why, "phone number too short (fewer than 8 digits)");
    ck_assert_ptr_null(m2s_rules_number("+1234567890123456", NULL, &why));
    ck_assert_str_eq(why, "phone number too long (more than 15 digits)");

    /* "(0)" is a trunk only after a country code of at most three digits */
    got = m2s_rules_number("+123 (0)45678901", NULL, &why);
    ck_assert_str_eq(got, "+12345678901");
    free(got);
    got = m2s_rules_number("+1234 (0)5678901", NULL, &why);
    ck_assert_str_eq(got, "+123405678901");
    free(got);
}
END_TEST

START_TEST(test_rules_number_separator)
{
    const char *yes = " \t.-()";
    for (const char *c = yes; *c; c++)
        ck_assert_msg(m2s_rules_number_separator(*c), "'%c'", *c);
    const char *no = "0+/x\n,";
    for (const char *c = no; *c; c++)
        ck_assert_msg(!m2s_rules_number_separator(*c), "'%c'", *c);
}
END_TEST

START_TEST(test_rules_tag)
{
    char tag[M2S_RULES_TAG_MAX_LEN + 2];
    memset(tag, 'a', sizeof tag - 1);
    tag[sizeof tag - 1] = '\0';
    ck_assert(!m2s_rules_tag_valid(tag));            /* one too long */
    tag[M2S_RULES_TAG_MAX_LEN] = '\0';
    ck_assert(m2s_rules_tag_valid(tag));
    ck_assert(m2s_rules_tag_valid("monitoring"));
    ck_assert(m2s_rules_tag_valid("On call"));
    ck_assert(m2s_rules_tag_valid("a_b-c 9"));
    ck_assert(!m2s_rules_tag_valid(""));
    ck_assert(!m2s_rules_tag_valid("bad!tag"));
    ck_assert(!m2s_rules_tag_valid("caf\xc3\xa9"));
    ck_assert(!m2s_rules_tag_valid("a,b"));
    /* Bird's documented limits */
    ck_assert_int_eq(M2S_RULES_MAX_TAGS, 10);
    ck_assert_int_eq(M2S_RULES_TAG_MAX_LEN, 50);
    ck_assert_int_eq(M2S_RULES_VALIDITY_MAX, 365 * 24 * 3600);
}
END_TEST

/* ------------------------------------------------------------ prefixes */

START_TEST(test_prefix_allowed)
{
    m2s_config *c = cfg_new(NULL);
    /* empty list: everything */
    ck_assert_int_ne(m2s_prefix_allowed(c, "+447700900123"), 0);
    ck_assert_int_eq(m2s_prefix_allowed(c, NULL), 0);

    m2s_strv_add(&c->allowed_prefixes, "+31");
    m2s_strv_add(&c->allowed_prefixes, "32");      /* without '+' */
    m2s_strv_add(&c->allowed_prefixes, "0049");    /* international 00 */
    ck_assert_int_ne(m2s_prefix_allowed(c, "+31612345678"), 0);
    ck_assert_int_ne(m2s_prefix_allowed(c, "+32470123456"), 0);
    ck_assert_int_ne(m2s_prefix_allowed(c, "+49301234567"), 0);
    ck_assert_int_eq(m2s_prefix_allowed(c, "+447700900123"), 0);
    ck_assert_int_eq(m2s_prefix_allowed(c, "+3312345678"), 0);
    /* "32" means +32, not a number containing 32 somewhere */
    ck_assert_int_eq(m2s_prefix_allowed(c, "+1320555012"), 0);
    cfg_free(c);

    /* a longer prefix narrows */
    c = cfg_new(NULL);
    m2s_strv_add(&c->allowed_prefixes, "+31 6");
    ck_assert_int_ne(m2s_prefix_allowed(c, "+31612345678"), 0);
    ck_assert_int_eq(m2s_prefix_allowed(c, "+31201234567"), 0);
    cfg_free(c);

    /* an entry without digits does not open the door */
    c = cfg_new(NULL);
    m2s_strv_add(&c->allowed_prefixes, "+");
    ck_assert_int_eq(m2s_prefix_allowed(c, "+31612345678"), 0);
    cfg_free(c);
}
END_TEST

/* --------------------------------------------------------------- route */

START_TEST(test_route_number)
{
    m2s_config *c = cfg_new("31");
    m2s_routes r;
    route1(c, "+31612345678@sms.example.com", &r);
    ck_assert_uint_eq(r.n, 1);
    ck_assert_uint_eq(r.n_fail, 0);
    ck_assert_str_eq(r.t[0].number, "+31612345678");
    ck_assert_str_eq(r.t[0].recipient, "+31612345678@sms.example.com");
    ck_assert_ptr_null(r.t[0].alias);
    m2s_routes_clear(&r);

    /* national, with <> and spaces around */
    route1(c, " <0612345678@sms.example.com> ", &r);
    ck_assert_uint_eq(r.n, 1);
    ck_assert_str_eq(r.t[0].number, "+31612345678");
    ck_assert_str_eq(r.t[0].recipient, "0612345678@sms.example.com");
    m2s_routes_clear(&r);

    /* local part is before the LAST '@' */
    route1(c, "\"a@b\"@x@sms.example.com", &r);
    ck_assert_uint_eq(r.n, 0);
    ck_assert_uint_eq(r.n_fail, 1);
    ck_assert_str_eq(r.fail[0].st.why, "unknown recipient \"a@b@x\"");
    m2s_routes_clear(&r);
    cfg_free(c);
}
END_TEST

START_TEST(test_route_quoted_local)
{
    m2s_config *c = cfg_new("31");
    m2s_routes r;
    route1(c, "\"+31 6 1234 5678\"@sms.example.com", &r);
    ck_assert_uint_eq(r.n, 1);
    ck_assert_uint_eq(r.n_fail, 0);
    ck_assert_str_eq(r.t[0].number, "+31612345678");
    m2s_routes_clear(&r);

    route1(c, "<\"06 1234 5678\"@sms.example.com>", &r);
    ck_assert_uint_eq(r.n, 1);
    ck_assert_str_eq(r.t[0].number, "+31612345678");
    m2s_routes_clear(&r);
    cfg_free(c);
}
END_TEST

START_TEST(test_route_alias_case)
{
    m2s_config *c = cfg_new("31");
    cfg_alias(c, "oncall", (const char *const[]){ "+31612345678", "06 8765 4321", NULL });
    m2s_routes r;
    route1(c, "OnCall@sms.example.com", &r);
    ck_assert_uint_eq(r.n_fail, 0);
    ck_assert_uint_eq(r.n, 2);
    ck_assert_str_eq(r.t[0].number, "+31612345678");
    ck_assert_str_eq(r.t[1].number, "+31687654321");
    ck_assert_ptr_eq(r.t[0].alias, &c->aliases[0]);
    ck_assert_ptr_eq(r.t[1].alias, &c->aliases[0]);
    ck_assert_str_eq(r.t[0].recipient, "OnCall@sms.example.com");
    m2s_routes_clear(&r);
    ck_assert_ptr_null(r.t);
    ck_assert_uint_eq(r.n, 0);
    cfg_free(c);
}
END_TEST

START_TEST(test_route_alias_before_number)
{
    /* An alias whose name looks like a number wins over reading it. */
    m2s_config *c = cfg_new("31");
    cfg_alias(c, "112", (const char *const[]){ "+31611111111", NULL });
    cfg_alias(c, "oncall+urgent", (const char *const[]){ "+31622222222", NULL });
    m2s_routes r;
    route1(c, "112@sms.example.com", &r);
    ck_assert_uint_eq(r.n, 1);
    ck_assert_str_eq(r.t[0].number, "+31611111111");
    m2s_routes_clear(&r);
    route1(c, "ONCALL+URGENT@sms.example.com", &r);
    ck_assert_uint_eq(r.n, 1);
    ck_assert_str_eq(r.t[0].number, "+31622222222");
    m2s_routes_clear(&r);
    /* an extension is not stripped: "oncall+other" is unknown */
    route1(c, "oncall+other@sms.example.com", &r);
    ck_assert_uint_eq(r.n, 0);
    ck_assert_uint_eq(r.n_fail, 1);
    ck_assert_int_eq(r.fail[0].st.cls, M2S_E_UNKNOWN_RCPT);
    m2s_routes_clear(&r);
    cfg_free(c);
}
END_TEST

START_TEST(test_route_dedup)
{
    m2s_config *c = cfg_new("31");
    cfg_alias(c, "oncall", (const char *const[]){ "+31612345678", "+31687654321", NULL });
    cfg_alias(c, "ops", (const char *const[]){ "0687654321", "+31611112222",
                                               "+31 6 1111 2222", NULL });
    char *rcpts[] = { "oncall@sms.example.com", "ops@sms.example.com",
                      "+31612345678@sms.example.com" };
    m2s_routes r;
    memset(&r, 0, sizeof r);
    m2s_route(c, rcpts, 3, &r);
    ck_assert_uint_eq(r.n_fail, 0);
    ck_assert_uint_eq(r.n, 3);
    ck_assert_str_eq(r.t[0].number, "+31612345678");
    ck_assert_str_eq(r.t[1].number, "+31687654321");
    ck_assert_str_eq(r.t[2].number, "+31611112222");
    /* first recipient wins */
    ck_assert_str_eq(r.t[1].recipient, "oncall@sms.example.com");
    ck_assert_ptr_eq(r.t[1].alias, &c->aliases[0]);
    ck_assert_str_eq(r.t[2].recipient, "ops@sms.example.com");
    ck_assert_ptr_eq(r.t[2].alias, &c->aliases[1]);
    m2s_routes_clear(&r);

    /* the same recipient twice */
    char *twice[] = { "0612345678@sms.example.com", "+31612345678@sms.example.com" };
    memset(&r, 0, sizeof r);
    m2s_route(c, twice, 2, &r);
    ck_assert_uint_eq(r.n, 1);
    ck_assert_str_eq(r.t[0].recipient, "0612345678@sms.example.com");
    m2s_routes_clear(&r);
    cfg_free(c);
}
END_TEST

START_TEST(test_route_unknown)
{
    m2s_config *c = cfg_new(NULL);
    cfg_alias(c, "oncall", (const char *const[]){ "+31612345678", NULL });
    char *rcpts[] = { "nobody@sms.example.com", "oncall@sms.example.com",
                      "0612345678@sms.example.com", "+3161234@sms.example.com" };
    m2s_routes r;
    memset(&r, 0, sizeof r);
    m2s_route(c, rcpts, 4, &r);
    ck_assert_uint_eq(r.n, 1);
    ck_assert_str_eq(r.t[0].number, "+31612345678");
    ck_assert_uint_eq(r.n_fail, 3);
    ck_assert_str_eq(r.fail[0].recipient, "nobody@sms.example.com");
    ck_assert_ptr_null(r.fail[0].number);
    ck_assert_int_eq(r.fail[0].st.cls, M2S_E_UNKNOWN_RCPT);
    ck_assert_str_eq(r.fail[0].st.why, "unknown recipient \"nobody\"");
    /* number-like local parts say what was wrong */
    ck_assert_int_eq(r.fail[1].st.cls, M2S_E_UNKNOWN_RCPT);
    ck_assert_str_eq(r.fail[1].st.why, "unknown recipient \"0612345678\" "
                     "(national number needs recipients.default_country)");
    ck_assert_int_eq(r.fail[2].st.cls, M2S_E_UNKNOWN_RCPT);
    ck_assert_ptr_nonnull(strstr(r.fail[2].st.why, "unknown recipient \"+3161234\" ("));
    ck_assert_ptr_nonnull(strstr(r.fail[2].st.why, "too short"));
    m2s_routes_clear(&r);
    ck_assert_ptr_null(r.fail);
    ck_assert_uint_eq(r.n_fail, 0);

    /* control characters never break the one-line reason */
    route1(c, "bad\nname@sms.example.com", &r);
    ck_assert_uint_eq(r.n_fail, 1);
    ck_assert_ptr_null(strchr(r.fail[0].st.why, '\n'));
    m2s_routes_clear(&r);

    /* empty address */
    route1(c, "<>", &r);
    ck_assert_uint_eq(r.n, 0);
    ck_assert_uint_eq(r.n_fail, 1);
    ck_assert_str_eq(r.fail[0].st.why, "unknown recipient \"\"");
    m2s_routes_clear(&r);
    cfg_free(c);
}
END_TEST

START_TEST(test_route_prefix)
{
    m2s_config *c = cfg_new("31");
    m2s_strv_add(&c->allowed_prefixes, "+31");
    m2s_strv_add(&c->allowed_prefixes, "32");
    cfg_alias(c, "mixed", (const char *const[]){ "+447700900123", "+31612345678", NULL });
    char *rcpts[] = { "+447700900123@sms.example.com", "+32470123456@sms.example.com",
                      "mixed@sms.example.com" };
    m2s_routes r;
    memset(&r, 0, sizeof r);
    m2s_route(c, rcpts, 3, &r);
    ck_assert_uint_eq(r.n, 2);
    ck_assert_str_eq(r.t[0].number, "+32470123456");
    ck_assert_str_eq(r.t[1].number, "+31612345678");
    /* fails are per recipient: the alias's refused number is its own */
    ck_assert_uint_eq(r.n_fail, 2);
    ck_assert_int_eq(r.fail[0].st.cls, M2S_E_PREFIX);
    ck_assert_str_eq(r.fail[0].recipient, "+447700900123@sms.example.com");
    ck_assert_str_eq(r.fail[0].number, "+447700900123");
    ck_assert_str_eq(r.fail[0].st.why,
                     "number +447700900123 not allowed (recipients.allowed_prefixes)");
    ck_assert_int_eq(r.fail[1].st.cls, M2S_E_PREFIX);
    ck_assert_str_eq(r.fail[1].recipient, "mixed@sms.example.com");
    ck_assert_str_eq(r.fail[1].number, "+447700900123");
    m2s_routes_clear(&r);
    cfg_free(c);
}
END_TEST

START_TEST(test_route_bad_alias_number)
{
    m2s_config *c = cfg_new(NULL);
    cfg_alias(c, "team", (const char *const[]){ "0612345678", "+31612345678", "call me", NULL });
    cfg_alias(c, "empty", (const char *const[]){ NULL });
    m2s_routes r;
    route1(c, "team@sms.example.com", &r);
    ck_assert_uint_eq(r.n, 1);
    ck_assert_str_eq(r.t[0].number, "+31612345678");
    ck_assert_uint_eq(r.n_fail, 2);
    ck_assert_int_eq(r.fail[0].st.cls, M2S_E_UNKNOWN_RCPT);
    ck_assert_str_eq(r.fail[0].number, "0612345678");
    ck_assert_ptr_nonnull(strstr(r.fail[0].st.why, "invalid"));
    ck_assert_ptr_nonnull(strstr(r.fail[0].st.why, "\"team\""));
    ck_assert_str_eq(r.fail[1].number, "call me");
    m2s_routes_clear(&r);

    route1(c, "empty@sms.example.com", &r);
    ck_assert_uint_eq(r.n, 0);
    ck_assert_uint_eq(r.n_fail, 1);
    ck_assert_int_eq(r.fail[0].st.cls, M2S_E_UNKNOWN_RCPT);
    m2s_routes_clear(&r);
    cfg_free(c);
}
END_TEST

START_TEST(test_routes_free_null_safe)
{
    m2s_routes_clear(NULL);
    m2s_routes r;
    memset(&r, 0, sizeof r);
    m2s_routes_clear(&r);
    m2s_routes_clear(&r);
    ck_assert_uint_eq(r.n, 0);
    /* no recipients at all */
    m2s_config *c = cfg_new(NULL);
    m2s_route(c, NULL, 0, &r);
    ck_assert_uint_eq(r.n + r.n_fail, 0);
    cfg_free(c);
}
END_TEST

static Suite *make_suite(void)
{
    Suite *s = suite_create("route");
    TCase *tc = tcase_create("core");
    tcase_add_loop_test(tc, test_normalize_table, 0,
                        (int)(sizeof norm_cases / sizeof norm_cases[0]));
    tcase_add_test(tc, test_normalize_reasons);
    tcase_add_test(tc, test_rules_number_limits);
    tcase_add_test(tc, test_rules_number_separator);
    tcase_add_test(tc, test_rules_tag);
    tcase_add_test(tc, test_prefix_allowed);
    tcase_add_test(tc, test_route_number);
    tcase_add_test(tc, test_route_quoted_local);
    tcase_add_test(tc, test_route_alias_case);
    tcase_add_test(tc, test_route_alias_before_number);
    tcase_add_test(tc, test_route_dedup);
    tcase_add_test(tc, test_route_unknown);
    tcase_add_test(tc, test_route_prefix);
    tcase_add_test(tc, test_route_bad_alias_number);
    tcase_add_test(tc, test_routes_free_null_safe);
    suite_add_tcase(s, tc);
    return s;
}
