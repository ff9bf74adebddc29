/* check_cli.c - the command line of mail2sms(8): every option in its
 * short and long form, "--", the null sender and each refusal (which the
 * caller turns into a deferral). */
#include "build-config.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "unit.h"
#include "cli.h"
#include "util.h"

/* argv built from a NULL-terminated list; argv[0] is the program. Kept in
 * static storage because m2s_cli borrows from it. */
static char *args[32];
static int nargs;

static int parse(m2s_cli *cli, char **why, ...)
{
    va_list ap;
    va_start(ap, why);
    nargs = 0;
    args[nargs++] = (char *)"mail2sms";
    for (const char *a; (a = va_arg(ap, const char *)) != NULL;)
        args[nargs++] = (char *)a;
    args[nargs] = NULL;
    va_end(ap);
    return m2s_cli_parse(nargs, args, cli, why);
}

START_TEST(test_short_options)
{
    m2s_cli c;
    char *why = NULL;
    int rc = parse(&c, &why, "-c", "/tmp/x.conf", "-f", "nagios@mon.example.com",
                   "-q", "4F3A21C0E2", "-n", "-v", "--", "+31612345678@sms.example.com",
                   NULL);
    ck_assert_msg(rc == 0, "rc %d: %s", rc, why ? why : "");
    ck_assert_ptr_null(why);
    ck_assert_str_eq(c.config_path, "/tmp/x.conf");
    ck_assert_str_eq(c.sender, "nagios@mon.example.com");
    ck_assert_str_eq(c.queue_id, "4F3A21C0E2");
    ck_assert(c.dry_run);
    ck_assert(c.verbose);
    ck_assert(!c.check_config && !c.help && !c.version);
    ck_assert_int_eq(c.n_recipients, 1);
    ck_assert_str_eq(c.recipients[0], "+31612345678@sms.example.com");
}
END_TEST

START_TEST(test_long_options)
{
    m2s_cli c;
    char *why = NULL;
    int rc = parse(&c, &why, "--config=/etc/m.conf", "--sender=a@b.example",
                   "--queue-id=ABC123", "--dry-run", "--verbose",
                   "oncall@sms.example.com", "x@sms.example.com", NULL);
    ck_assert_msg(rc == 0, "rc %d: %s", rc, why ? why : "");
    ck_assert_str_eq(c.config_path, "/etc/m.conf");
    ck_assert_str_eq(c.sender, "a@b.example");
    ck_assert_str_eq(c.queue_id, "ABC123");
    ck_assert(c.dry_run && c.verbose);
    ck_assert_int_eq(c.n_recipients, 2);
    ck_assert_str_eq(c.recipients[0], "oncall@sms.example.com");
    ck_assert_str_eq(c.recipients[1], "x@sms.example.com");
}
END_TEST

/* The long options also take their value as the next argument. */
START_TEST(test_long_options_separate_value)
{
    m2s_cli c;
    char *why = NULL;
    int rc = parse(&c, &why, "--config", "/etc/m.conf", "--sender", "s@x.example",
                   "--queue-id", "Q1", "r@sms.example.com", NULL);
    ck_assert_msg(rc == 0, "rc %d: %s", rc, why ? why : "");
    ck_assert_str_eq(c.config_path, "/etc/m.conf");
    ck_assert_str_eq(c.sender, "s@x.example");
    ck_assert_str_eq(c.queue_id, "Q1");
    ck_assert_int_eq(c.n_recipients, 1);
}
END_TEST

START_TEST(test_defaults)
{
    m2s_cli c;
    char *why = NULL;
    ck_assert_int_eq(parse(&c, &why, "r@sms.example.com", NULL), 0);
    ck_assert_ptr_null(c.config_path);
    ck_assert_ptr_null(c.sender);           /* not given, unlike "" */
    ck_assert_ptr_null(c.queue_id);
    ck_assert(!c.dry_run && !c.verbose && !c.check_config && !c.help && !c.version);
    ck_assert_int_eq(c.n_recipients, 1);
}
END_TEST

/* Postfix passes "-f ''" for the null sender: an empty string, not "missing". */
START_TEST(test_null_sender)
{
    m2s_cli c;
    char *why = NULL;
    int rc = parse(&c, &why, "-f", "", "-q", "Q", "--", "r@sms.example.com", NULL);
    ck_assert_msg(rc == 0, "rc %d: %s", rc, why ? why : "");
    ck_assert_ptr_nonnull(c.sender);
    ck_assert_str_eq(c.sender, "");
    ck_assert_int_eq(c.n_recipients, 1);
    rc = parse(&c, &why, "--sender=", "r@sms.example.com", NULL);
    ck_assert_int_eq(rc, 0);
    ck_assert_ptr_nonnull(c.sender);
    ck_assert_str_eq(c.sender, "");
}
END_TEST

/* After "--" everything is a recipient, even what looks like an option. */
START_TEST(test_dash_recipient_after_double_dash)
{
    m2s_cli c;
    char *why = NULL;
    int rc = parse(&c, &why, "-f", "x@y.example", "--", "-n@sms.example.com",
                   "--help@sms.example.com", NULL);
    ck_assert_msg(rc == 0, "rc %d: %s", rc, why ? why : "");
    ck_assert(!c.dry_run);
    ck_assert(!c.help);
    ck_assert_int_eq(c.n_recipients, 2);
    ck_assert_str_eq(c.recipients[0], "-n@sms.example.com");
    ck_assert_str_eq(c.recipients[1], "--help@sms.example.com");
}
END_TEST

START_TEST(test_missing_recipient)
{
    m2s_cli c;
    char *why = NULL;
    ck_assert_int_eq(parse(&c, &why, "-f", "a@b.example", "--", NULL), -1);
    ck_assert_ptr_nonnull(why);
    ck_assert(*why);
    ck_assert_ptr_null(strchr(why, '\n'));
    free(why);
    why = NULL;
    ck_assert_int_eq(parse(&c, &why, NULL), -1);
    ck_assert_ptr_nonnull(why);
    free(why);
}
END_TEST

START_TEST(test_unknown_option)
{
    m2s_cli c;
    char *why = NULL;
    ck_assert_int_eq(parse(&c, &why, "-x", "--", "r@sms.example.com", NULL), -1);
    ck_assert_ptr_nonnull(why);
    ck_assert_msg(strstr(why, "-x") != NULL, "why does not name -x: %s", why);
    free(why);
    why = NULL;
    ck_assert_int_eq(parse(&c, &why, "--frobnicate", "r@sms.example.com", NULL), -1);
    ck_assert_ptr_nonnull(why);
    ck_assert_msg(strstr(why, "--frobnicate") != NULL, "why does not name it: %s", why);
    free(why);
}
END_TEST

START_TEST(test_missing_value)
{
    m2s_cli c;
    char *why = NULL;
    ck_assert_int_eq(parse(&c, &why, "-q", NULL), -1);
    ck_assert_ptr_nonnull(why);
    ck_assert_msg(strstr(why, "-q") != NULL, "why does not name -q: %s", why);
    free(why);
    why = NULL;
    ck_assert_int_eq(parse(&c, &why, "r@sms.example.com", "--config", NULL), -1);
    ck_assert_ptr_nonnull(why);
    ck_assert_msg(strstr(why, "--config") != NULL, "why does not name --config: %s", why);
    free(why);
}
END_TEST

START_TEST(test_check_config)
{
    m2s_cli c;
    char *why = NULL;
    ck_assert_int_eq(parse(&c, &why, "--check-config", "-c", "/etc/m.conf", NULL), 0);
    ck_assert(c.check_config);
    ck_assert_str_eq(c.config_path, "/etc/m.conf");
    ck_assert_int_eq(c.n_recipients, 0);
    ck_assert_int_eq(parse(&c, &why, "--check-config", NULL), 0);
    ck_assert(c.check_config);
    ck_assert_ptr_null(c.config_path);
    /* with recipients it is a mistake */
    ck_assert_int_eq(parse(&c, &why, "--check-config", "r@sms.example.com", NULL), -1);
    ck_assert_ptr_nonnull(why);
    free(why);
}
END_TEST

START_TEST(test_help_version)
{
    m2s_cli c;
    char *why = NULL;
    ck_assert_int_eq(parse(&c, &why, "--help", NULL), 0);
    ck_assert(c.help && !c.version);
    ck_assert_ptr_null(why);
    ck_assert_int_eq(parse(&c, &why, "--version", NULL), 0);
    ck_assert(c.version && !c.help);
    ck_assert_ptr_null(why);
}
END_TEST

START_TEST(test_empty_recipient)
{
    m2s_cli c;
    char *why = NULL;
    ck_assert_int_eq(parse(&c, &why, "--", "", NULL), -1);
    ck_assert_ptr_nonnull(why);
    free(why);
    why = NULL;
    ck_assert_int_eq(parse(&c, &why, "--", "a@sms.example.com", "", NULL), -1);
    ck_assert_ptr_nonnull(why);
    free(why);
}
END_TEST

START_TEST(test_usage_mentions_options)
{
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    ck_assert_ptr_nonnull(f);
    m2s_cli_usage(f);
    fclose(f);
    static const char *const opts[] = { "--config", "--sender", "--queue-id", "--dry-run",
                                        "--verbose", "--check-config", "--help", "--version" };
    for (size_t i = 0; i < sizeof opts / sizeof opts[0]; i++)
        ck_assert_msg(strstr(text, opts[i]) != NULL, "usage lacks %s", opts[i]);
    free(text);
}
END_TEST

/* A second parse in the same process starts afresh (no state left over from
 * a first one that failed in the middle of a cluster of short options).
 * (Resetting with optind = 1 once left glibc inside the old "-xn" cluster;
 * optind = 0 reinitialises.) */
START_TEST(test_parse_twice)
{
    m2s_cli c;
    char *why = NULL;
    ck_assert_int_eq(parse(&c, &why, "-xn", "r@sms.example.com", NULL), -1);
    free(why);
    why = NULL;
    ck_assert_int_eq(parse(&c, &why, "r@sms.example.com", NULL), 0);
    ck_assert(!c.dry_run);
    ck_assert_int_eq(c.n_recipients, 1);
    ck_assert_str_eq(c.recipients[0], "r@sms.example.com");
}
END_TEST

static Suite *make_suite(void)
{
    Suite *s = suite_create("cli");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_short_options);
    tcase_add_test(tc, test_long_options);
    tcase_add_test(tc, test_long_options_separate_value);
    tcase_add_test(tc, test_defaults);
    tcase_add_test(tc, test_null_sender);
    tcase_add_test(tc, test_dash_recipient_after_double_dash);
    tcase_add_test(tc, test_missing_recipient);
    tcase_add_test(tc, test_unknown_option);
    tcase_add_test(tc, test_missing_value);
    tcase_add_test(tc, test_check_config);
    tcase_add_test(tc, test_help_version);
    tcase_add_test(tc, test_empty_recipient);
    tcase_add_test(tc, test_usage_mentions_options);
    tcase_add_test(tc, test_parse_twice);
    suite_add_tcase(s, tc);
    return s;
}
