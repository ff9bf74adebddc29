/* check_senders.c - sender authorization: senders.allowed patterns under
 * each senders.check mode, the null sender, the token, senders.trusted. */
#include "build-config.h"

#include <stdlib.h>
#include <string.h>

#include "unit.h"
#include "senders.h"
#include "util.h"

#define TOKEN "tok123secret"

/* ------------------------------------------------------------ helpers */

static m2s_config *cfg_new(m2s_sender_check check)
{
    m2s_config *c = xcalloc(1, sizeof *c);
    c->sender_check = check;
    return c;
}

static void cfg_free(m2s_config *c)
{
    m2s_strv_clear(&c->senders_allowed);
    m2s_strv_clear(&c->senders_trusted);
    free(c->sender_token);
    free(c);
}

static m2s_mail *mail_new(const char *from, const char *subject)
{
    m2s_mail *m = xcalloc(1, sizeof *m);
    m->from_addr = xstrdup(from);
    m->from_name = xstrdup("");
    m->subject = xstrdup(subject);
    return m;
}

static void mail_header(m2s_mail *m, const char *name, const char *value)
{
    m2s_strv_add(&m->header_names, name);
    m2s_strv_add(&m->header_values, value);
}

/* Local: mail.c is tested on its own. */
static void mail_free(m2s_mail *m)
{
    free(m->subject);
    free(m->from_addr);
    free(m->from_name);
    m2s_strv_clear(&m->header_names);
    m2s_strv_clear(&m->header_values);
    free(m);
}

/* Authorize and return the class; *why_out gets the reason (or NULL). */
static m2s_class auth(const m2s_config *c, const char *env, const char *from,
                      char **why_out)
{
    m2s_mail *m = mail_new(from, "Disk full");
    m2s_status st = M2S_STATUS_INIT;
    m2s_class cls = m2s_senders_authorize(c, env, m, &st);
    char *why = st.why;
    ck_assert_int_eq(st.cls, cls);
    if (cls == M2S_OK)
        ck_assert_ptr_null(why);
    else
        ck_assert_ptr_nonnull(why);
    mail_free(m);
    if (why_out)
        *why_out = why;
    else
        free(why);
    return cls;
}

/* ------------------------------------------------------------- tests */

START_TEST(test_open_to_anyone)
{
    m2s_config *c = cfg_new(M2S_SENDER_CHECK_BOTH);
    ck_assert_int_eq(auth(c, "anyone@example.org", "other@example.net", NULL), M2S_OK);
    ck_assert_int_eq(auth(c, NULL, "", NULL), M2S_OK);
    /* null sender: no allow-list, nothing to protect */
    ck_assert_int_eq(auth(c, "", "MAILER-DAEMON@example.org", NULL), M2S_OK);
    cfg_free(c);
}
END_TEST

START_TEST(test_check_both)
{
    m2s_config *c = cfg_new(M2S_SENDER_CHECK_BOTH);
    m2s_strv_add(&c->senders_allowed, "*@monitoring.example.com");
    char *why;

    ck_assert_int_eq(auth(c, "nagios@monitoring.example.com",
                          "Nagios@Monitoring.Example.COM", NULL), M2S_OK);
    ck_assert_int_eq(auth(c, "<nagios@monitoring.example.com>",
                          "zabbix@monitoring.example.com", NULL), M2S_OK);

    ck_assert_int_eq(auth(c, "eve@evil.example", "nagios@monitoring.example.com", &why),
                     M2S_E_SENDER);
    ck_assert_str_eq(why, "sender <eve@evil.example> not allowed (senders.allowed)");
    free(why);

    ck_assert_int_eq(auth(c, "nagios@monitoring.example.com", "eve@evil.example", &why),
                     M2S_E_SENDER);
    ck_assert_str_eq(why, "From header <eve@evil.example> not allowed (senders.allowed)");
    free(why);

    /* no -f: only the header can be checked */
    ck_assert_int_eq(auth(c, NULL, "nagios@monitoring.example.com", NULL), M2S_OK);
    ck_assert_int_eq(auth(c, NULL, "eve@evil.example", NULL), M2S_E_SENDER);
    /* empty From while the header is needed */
    ck_assert_int_eq(auth(c, "nagios@monitoring.example.com", "", &why), M2S_E_SENDER);
    ck_assert_ptr_nonnull(strstr(why, "From header"));
    free(why);
    cfg_free(c);
}
END_TEST

START_TEST(test_check_envelope)
{
    m2s_config *c = cfg_new(M2S_SENDER_CHECK_ENVELOPE);
    m2s_strv_add(&c->senders_allowed, "*@monitoring.example.com");
    char *why;
    ck_assert_int_eq(auth(c, "nagios@monitoring.example.com", "eve@evil.example", NULL),
                     M2S_OK);
    ck_assert_int_eq(auth(c, "nagios@monitoring.example.com", "", NULL), M2S_OK);
    ck_assert_int_eq(auth(c, "eve@evil.example", "nagios@monitoring.example.com", &why),
                     M2S_E_SENDER);
    ck_assert_str_eq(why, "sender <eve@evil.example> not allowed (senders.allowed)");
    free(why);
    /* the envelope is all this mode trusts: without -f nothing passes */
    ck_assert_int_eq(auth(c, NULL, "nagios@monitoring.example.com", NULL), M2S_E_SENDER);
    cfg_free(c);
}
END_TEST

START_TEST(test_check_header)
{
    m2s_config *c = cfg_new(M2S_SENDER_CHECK_HEADER);
    m2s_strv_add(&c->senders_allowed, "*@monitoring.example.com");
    char *why;
    ck_assert_int_eq(auth(c, "eve@evil.example", "nagios@monitoring.example.com", NULL),
                     M2S_OK);
    ck_assert_int_eq(auth(c, NULL, "nagios@monitoring.example.com", NULL), M2S_OK);
    ck_assert_int_eq(auth(c, "nagios@monitoring.example.com", "eve@evil.example", &why),
                     M2S_E_SENDER);
    ck_assert_str_eq(why, "From header <eve@evil.example> not allowed (senders.allowed)");
    free(why);
    ck_assert_int_eq(auth(c, "nagios@monitoring.example.com", "", NULL), M2S_E_SENDER);
    cfg_free(c);
}
END_TEST

START_TEST(test_address_bare)
{
    static const struct { const char *in, *want; } cases[] = {
        { "a@example.com", "a@example.com" },
        { " <a@example.com> ", "a@example.com" },
        { "< a@example.com >", "a@example.com" },
        { "\r\n\t<a@example.com>\r\n", "a@example.com" },
        { "<>", "" },
        { " < > ", "" },
        { "", "" },
        { "<a@example.com", "<a@example.com" },
        { "<<a@example.com>>", "<a@example.com>" },
        { "a b@example.com", "a b@example.com" },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *got = m2s_address_bare(cases[i].in);
        ck_assert_msg(strcmp(got, cases[i].want) == 0, "\"%s\" -> \"%s\"",
                      cases[i].in, got);
        free(got);
    }
    char *none = m2s_address_bare(NULL);
    ck_assert_str_eq(none, "");
    free(none);

    /* the sender rules see the bare address */
    m2s_config *c = cfg_new(M2S_SENDER_CHECK_BOTH);
    m2s_strv_add(&c->senders_allowed, "*@monitoring.example.com");
    ck_assert_int_eq(auth(c, " <nagios@monitoring.example.com>\n",
                          "nagios@monitoring.example.com", NULL), M2S_OK);
    ck_assert_int_eq(auth(c, " < > ", "nagios@monitoring.example.com", NULL),
                     M2S_E_SENDER);     /* a null sender, refused */
    cfg_free(c);
}
END_TEST

static const struct {
    const char *pattern;
    const char *addr;
    bool ok;
} pattern_cases[] = {
    { "*@monitoring.example.com", "nagios@monitoring.example.com", true },
    { "*@monitoring.example.com", "nagios@MONITORING.example.com", true },
    { "*@monitoring.example.com", "nagios@example.com", false },
    { "*@monitoring.example.com", "nagios@x.monitoring.example.com", false },
    { "monitoring.example.com", "nagios@monitoring.example.com", true },
    { "monitoring.example.com", "nagios@other.example.com", false },
    { "monitoring.example.com", "monitoring.example.com@evil.example", false },
    { "@monitoring.example.com", "zabbix@monitoring.example.com", true },
    { "@monitoring.example.com", "zabbix@evil.example", false },
    { "*.example.com", "cron@db1.example.com", true },
    { "*.example.com", "cron@example.com", false },
    { "alerts@example.com", "alerts@example.com", true },
    { "alerts@example.com", "Alerts@Example.com", true },
    { "alerts@example.com", "alerts2@example.com", false },
    { "alert?@example.com", "alert1@example.com", true },
    { "alert?@example.com", "alert12@example.com", false },
    { "root@*", "root@db1.example.com", true },
    { "root@*", "admin@db1.example.com", false },
    { "example.com", "root", false },           /* no domain at all */
};

START_TEST(test_patterns)
{
    m2s_config *c = cfg_new(M2S_SENDER_CHECK_ENVELOPE);
    m2s_strv_add(&c->senders_allowed, pattern_cases[_i].pattern);
    m2s_class want = pattern_cases[_i].ok ? M2S_OK : M2S_E_SENDER;
    ck_assert_msg(auth(c, pattern_cases[_i].addr, "", NULL) == want,
                  "pattern \"%s\" on <%s>: expected %s", pattern_cases[_i].pattern,
                  pattern_cases[_i].addr, pattern_cases[_i].ok ? "match" : "no match");
    cfg_free(c);
}
END_TEST

START_TEST(test_null_sender)
{
    m2s_config *c = cfg_new(M2S_SENDER_CHECK_BOTH);
    m2s_strv_add(&c->senders_allowed, "*@example.com");
    char *why;

    c->allow_null_sender = false;
    ck_assert_int_eq(auth(c, "", "MAILER-DAEMON@example.com", &why), M2S_E_SENDER);
    ck_assert_str_eq(why, "null sender not allowed (senders.allow_null)");
    free(why);
    ck_assert_int_eq(auth(c, "<>", "MAILER-DAEMON@example.com", NULL), M2S_E_SENDER);
    /* the rule holds whatever senders.check says */
    c->sender_check = M2S_SENDER_CHECK_HEADER;
    ck_assert_int_eq(auth(c, "", "MAILER-DAEMON@example.com", NULL), M2S_E_SENDER);

    c->allow_null_sender = true;
    c->sender_check = M2S_SENDER_CHECK_BOTH;
    ck_assert_int_eq(auth(c, "", "MAILER-DAEMON@example.com", NULL), M2S_OK);
    c->sender_check = M2S_SENDER_CHECK_ENVELOPE;
    ck_assert_int_eq(auth(c, "", "", NULL), M2S_OK);
    /* allow_null answers for the envelope only; From still has to match */
    c->sender_check = M2S_SENDER_CHECK_BOTH;
    ck_assert_int_eq(auth(c, "", "MAILER-DAEMON@evil.example", &why), M2S_E_SENDER);
    ck_assert_ptr_nonnull(strstr(why, "From header"));
    free(why);
    cfg_free(c);
}
END_TEST

START_TEST(test_token_header)
{
    m2s_config *c = cfg_new(M2S_SENDER_CHECK_BOTH);
    c->sender_token = xstrdup(TOKEN);
    m2s_mail *m = mail_new("a@example.com", "Disk full");
    mail_header(m, "X-SMS-Priority", "high");
    mail_header(m, "x-sms-token", "  " TOKEN " ");
    m2s_status st = M2S_STATUS_INIT;
    ck_assert_int_eq(m2s_senders_authorize(c, "a@example.com", m, &st), M2S_OK);
    ck_assert_ptr_null(st.why);
    ck_assert_str_eq(m->subject, "Disk full");
    mail_free(m);

    /* a wrong token in the header does not count */
    m = mail_new("a@example.com", "Disk full");
    mail_header(m, "X-SMS-Token", TOKEN "x");
    ck_assert_int_eq(m2s_senders_authorize(c, "a@example.com", m, &st), M2S_E_SENDER);
    ck_assert_str_eq(st.why, "sender token missing");
    m2s_status_clear(&st);
    mail_free(m);
    cfg_free(c);
}
END_TEST

static const struct {
    const char *subject;
    const char *want;
} token_subjects[] = {
    { "[" TOKEN "] Disk full", "Disk full" },
    { "Disk full " TOKEN, "Disk full" },
    { TOKEN " Disk full", "Disk full" },
    { "Disk " TOKEN " full", "Disk full" },
    { "Disk   " TOKEN "   full", "Disk full" },
    { TOKEN ": Disk full", "Disk full" },
    { "Disk full (" TOKEN ")", "Disk full" },
    { "Disk full [" TOKEN "] on db1", "Disk full on db1" },
    { TOKEN, "" },
    { TOKEN " " TOKEN " Disk full", "Disk full" },
    { "Disk" TOKEN "full", "Diskfull" },
};

START_TEST(test_token_subject)
{
    m2s_config *c = cfg_new(M2S_SENDER_CHECK_BOTH);
    c->sender_token = xstrdup(TOKEN);
    m2s_mail *m = mail_new("a@example.com", token_subjects[_i].subject);
    m2s_status st = M2S_STATUS_INIT;
    ck_assert_int_eq(m2s_senders_authorize(c, NULL, m, &st), M2S_OK);
    ck_assert_ptr_null(st.why);
    ck_assert_str_eq(m->subject, token_subjects[_i].want);
    ck_assert_ptr_null(strstr(m->subject, TOKEN));
    mail_free(m);
    cfg_free(c);
}
END_TEST

START_TEST(test_token_header_and_subject)
{
    /* found in the header, still never passed on in the subject */
    m2s_config *c = cfg_new(M2S_SENDER_CHECK_BOTH);
    c->sender_token = xstrdup(TOKEN);
    m2s_mail *m = mail_new("a@example.com", "[" TOKEN "] Disk full");
    mail_header(m, "X-SMS-Token", TOKEN);
    m2s_status st = M2S_STATUS_INIT;
    ck_assert_int_eq(m2s_senders_authorize(c, NULL, m, &st), M2S_OK);
    ck_assert_ptr_null(st.why);
    ck_assert_str_eq(m->subject, "Disk full");
    mail_free(m);
    cfg_free(c);
}
END_TEST

START_TEST(test_token_missing)
{
    m2s_config *c = cfg_new(M2S_SENDER_CHECK_BOTH);
    c->sender_token = xstrdup(TOKEN);
    m2s_mail *m = mail_new("a@example.com", "Disk full tok123");   /* a prefix only */
    m2s_status st = M2S_STATUS_INIT;
    ck_assert_int_eq(m2s_senders_authorize(c, "a@example.com", m, &st), M2S_E_SENDER);
    ck_assert_str_eq(st.why, "sender token missing");
    ck_assert_str_eq(m->subject, "Disk full tok123");
    m2s_status_clear(&st);
    mail_free(m);

    /* st may be NULL */
    m = mail_new("a@example.com", "");
    ck_assert_int_eq(m2s_senders_authorize(c, "a@example.com", m, NULL), M2S_E_SENDER);
    mail_free(m);
    cfg_free(c);
}
END_TEST

START_TEST(test_why_never_holds_token)
{
    m2s_config *c = cfg_new(M2S_SENDER_CHECK_BOTH);
    c->sender_token = xstrdup(TOKEN);
    m2s_strv_add(&c->senders_allowed, "*@example.com");
    const char *envs[] = { TOKEN "@evil.example", "a@example.com", "", "a@example.com" };
    const char *froms[] = { "a@example.com", TOKEN "@evil.example", "a@example.com",
                            "a@example.com" };
    const char *subjects[] = { "[" TOKEN "] x", "[" TOKEN "] x", "[" TOKEN "] x",
                               "no secret here" };
    for (size_t i = 0; i < sizeof envs / sizeof envs[0]; i++) {
        m2s_mail *m = mail_new(froms[i], subjects[i]);
        m2s_status st = M2S_STATUS_INIT;
        ck_assert_int_eq(m2s_senders_authorize(c, envs[i], m, &st), M2S_E_SENDER);
        char *why = st.why;
        ck_assert_ptr_nonnull(why);
        ck_assert_msg(strstr(why, TOKEN) == NULL, "case %zu: %s", i, why);
        ck_assert_ptr_null(strchr(why, '\n'));
        free(why);
        mail_free(m);
    }
    cfg_free(c);
}
END_TEST

START_TEST(test_trusted)
{
    m2s_config *c = cfg_new(M2S_SENDER_CHECK_BOTH);
    m2s_mail *ok = mail_new("ops@example.com", "x");
    m2s_mail *other = mail_new("eve@evil.example", "x");

    /* empty list: nobody */
    ck_assert(!m2s_senders_trusted(c, "ops@example.com", ok));

    m2s_strv_add(&c->senders_trusted, "ops@example.com");
    m2s_strv_add(&c->senders_trusted, "admin.example.com");
    ck_assert(m2s_senders_trusted(c, "ops@example.com", ok));
    ck_assert(m2s_senders_trusted(c, NULL, ok));
    ck_assert(m2s_senders_trusted(c, "root@admin.example.com", ok));
    ck_assert(!m2s_senders_trusted(c, "eve@evil.example", ok));
    ck_assert(!m2s_senders_trusted(c, "ops@example.com", other));
    ck_assert(!m2s_senders_trusted(c, "", ok));     /* null sender */

    c->sender_check = M2S_SENDER_CHECK_ENVELOPE;
    ck_assert(m2s_senders_trusted(c, "ops@example.com", other));
    ck_assert(!m2s_senders_trusted(c, NULL, ok));
    ck_assert(!m2s_senders_trusted(c, "eve@evil.example", ok));

    c->sender_check = M2S_SENDER_CHECK_HEADER;
    ck_assert(m2s_senders_trusted(c, "eve@evil.example", ok));
    ck_assert(!m2s_senders_trusted(c, "ops@example.com", other));

    /* senders.allowed is not senders.trusted */
    m2s_strv_clear(&c->senders_trusted);
    m2s_strv_add(&c->senders_allowed, "*");
    ck_assert(!m2s_senders_trusted(c, "ops@example.com", ok));

    mail_free(ok);
    mail_free(other);
    cfg_free(c);
}
END_TEST

static Suite *make_suite(void)
{
    Suite *s = suite_create("senders");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_open_to_anyone);
    tcase_add_test(tc, test_check_both);
    tcase_add_test(tc, test_check_envelope);
    tcase_add_test(tc, test_check_header);
    tcase_add_test(tc, test_address_bare);
    tcase_add_loop_test(tc, test_patterns, 0,
                        (int)(sizeof pattern_cases / sizeof pattern_cases[0]));
    tcase_add_test(tc, test_null_sender);
    tcase_add_test(tc, test_token_header);
    tcase_add_loop_test(tc, test_token_subject, 0,
                        (int)(sizeof token_subjects / sizeof token_subjects[0]));
    tcase_add_test(tc, test_token_header_and_subject);
    tcase_add_test(tc, test_token_missing);
    tcase_add_test(tc, test_why_never_holds_token);
    tcase_add_test(tc, test_trusted);
    suite_add_tcase(s, tc);
    return s;
}
