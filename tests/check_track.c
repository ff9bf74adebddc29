/* check_track.c - the pieces of tracking that need no network or store:
 * the backoff, which statuses are final, Bird's status answer, the
 * failure's enhanced code, who gets a notice, and the notice itself,
 * parsed back with GMime as a multipart/report. */
#include "build-config.h"

#include <gmime/gmime.h>
#include <stdlib.h>
#include <string.h>

#include "bird.h"
#include "notify.h"
#include "payload.h"
#include "track.h"
#include "unit.h"
#include "util.h"

START_TEST(test_backoff)
{
    const double want[] = { 15, 30, 60, 120, 300, 900, 3600, 3600, 3600 };
    for (long i = 0; i < (long)(sizeof want / sizeof want[0]); i++)
        ck_assert_msg(m2s_track_backoff(i) == want[i], "checks %ld: %g", i,
                      m2s_track_backoff(i));
    ck_assert(m2s_track_backoff(-1) == 15);
    ck_assert(m2s_track_backoff(1000000) == 3600);
}
END_TEST

START_TEST(test_final)
{
    bool failed = true;
    const char *going[] = { "accepted", "processing", "scheduled", "sent", "weird", NULL };
    for (size_t i = 0; going[i]; i++) {
        ck_assert_msg(!m2s_track_is_final(going[i], &failed), "%s final", going[i]);
        ck_assert(!failed);
    }
    ck_assert(!m2s_track_is_final(NULL, NULL));
    const char *ok[] = { "delivered", "deleted", "skipped" };
    for (size_t i = 0; i < 3; i++) {
        ck_assert(m2s_track_is_final(ok[i], &failed));
        ck_assert_msg(!failed, "%s counted as failed", ok[i]);
    }
    const char *bad[] = { "delivery_failed", "sending_failed", "rejected" };
    for (size_t i = 0; i < 3; i++) {
        ck_assert(m2s_track_is_final(bad[i], &failed));
        ck_assert_msg(failed, "%s not failed", bad[i]);
    }
}
END_TEST

START_TEST(test_parse_status)
{
    char *status = NULL, *reason = NULL, *source = NULL;
    const char *failed = "{\"id\":\"m1\",\"status\":\"delivery_failed\","
                         "\"reason\":\"unknown_subscriber\",\"failure\":{\"code\":15,"
                         "\"description\":\"Unknown\",\"source\":{\"code\":\"15005\","
                         "\"name\":\"sms-messagebird\"}}}";
    ck_assert_int_eq(m2s_payload_parse_status(failed, strlen(failed), &status, &reason,
                                              &source), 0);
    ck_assert_str_eq(status, "delivery_failed");
    ck_assert_str_eq(reason, "unknown_subscriber");
    ck_assert_str_eq(source, "sms-messagebird 15005");
    free(status), free(reason), free(source);

    /* No reason: the failure's description stands in. */
    const char *desc = "{\"id\":\"m1\",\"status\":\"rejected\",\"failure\":"
                       "{\"description\":\"Blocked by carrier\"}}";
    ck_assert_int_eq(m2s_payload_parse_status(desc, strlen(desc), &status, &reason, &source), 0);
    ck_assert_str_eq(reason, "Blocked by carrier");
    ck_assert_ptr_null(source);
    free(status), free(reason), free(source);

    const char *sent = "{\"id\":\"m1\",\"status\":\"sent\"}";
    ck_assert_int_eq(m2s_payload_parse_status(sent, strlen(sent), &status, &reason, &source), 0);
    ck_assert_str_eq(status, "sent");
    ck_assert_ptr_null(reason);
    free(status);

    const char *junk[] = { "", "{\"id\": \"", "<html>", "{\"status\":\"sent\"}", "[1]",
                           "{\"id\":\"m1\"}" };
    for (size_t i = 0; i < sizeof junk / sizeof junk[0]; i++) {
        ck_assert_msg(m2s_payload_parse_status(junk[i], strlen(junk[i]), &status, &reason,
                                               &source) == -1, "%s read", junk[i]);
        ck_assert_ptr_null(status);
    }
}
END_TEST

START_TEST(test_failure_dsn)
{
    ck_assert_str_eq(m2s_bird_failure_dsn("delivery_failed", "unknown_subscriber"), "5.1.1");
    ck_assert_str_eq(m2s_bird_failure_dsn("rejected", NULL), "5.7.1");
    ck_assert_str_eq(m2s_bird_failure_dsn("sending_failed", "x"), "5.4.0");
    ck_assert_str_eq(m2s_bird_failure_dsn("delivery_failed", "network_timeout"), "5.0.0");
}
END_TEST

static m2s_config *config(const char *tracking)
{
    char *text = xasprintf("bird = { api_url = \"http://127.0.0.1:9\"; workspace_id = \"ws\";"
                           " channel_id = \"ch\"; access_key = \"k\"; };"
                           " tracking = { %s };", tracking);
    m2s_strv problems = { 0 };
    m2s_config *cfg = m2s_config_load_string(text, "test.conf", &problems);
    ck_assert_msg(cfg, "%s", problems.n ? problems.v[0] : "?");
    m2s_strv_clear(&problems);
    free(text);
    return cfg;
}

static m2s_tracked failed_sms(const char *sender)
{
    m2s_tracked t = { 0 };
    t.key = xstrdup("mid:m1@example.com");
    t.number = xstrdup("+31612345678");
    t.bird_id = xstrdup("bird-1");
    t.alias = xstrdup("oncall");
    t.recipient = xstrdup("oncall@sms.example.com");
    t.sender = xstrdup(sender);
    t.queue_id = xstrdup("4F3A21C0E2");
    t.message_id = xstrdup("<m1@example.com>");
    t.subject = xstrdup("Störung: db1 ist nicht erreichbar, bitte sofort prüfen und melden");
    t.headers = xstrdup("From: nagios@example.com\r\nSubject: x\r\nMessage-ID: <m1@example.com>\r\n");
    t.status = xstrdup("delivery_failed");
    t.outcome = xstrdup("delivery_failed");
    t.reason = xstrdup("unknown_subscriber");
    t.source = xstrdup("sms-messagebird 15005");
    t.accepted = 1.8e9;
    t.status_at = 1.8e9 + 30;
    return t;
}

START_TEST(test_notify_rcpt)
{
    m2s_config *plain = config("on_failure = [ \"notify\" ];");
    m2s_config *noc = config("on_failure = [ \"notify\" ]; notify_to = \"noc@example.net\";");
    m2s_tracked t = failed_sms("nagios@monitoring.example.com");
    ck_assert_str_eq(m2s_notify_rcpt(plain, &t), "nagios@monitoring.example.com");
    ck_assert_str_eq(m2s_notify_rcpt(noc, &t), "noc@example.net");
    const char *nobody[] = { "", "<>", "pager@sms.example.com", "PAGER@SMS.EXAMPLE.COM",
                             "no-at-sign" };
    for (size_t i = 0; i < sizeof nobody / sizeof nobody[0]; i++) {
        free(t.sender);
        t.sender = xstrdup(nobody[i]);
        ck_assert_msg(m2s_notify_rcpt(plain, &t) == NULL, "a notice to \"%s\"", nobody[i]);
    }
    free(t.sender);
    t.sender = NULL;
    ck_assert_ptr_null(m2s_notify_rcpt(plain, &t));
    m2s_tracked_clear(&t);
    m2s_config_free(plain);
    m2s_config_free(noc);
}
END_TEST

START_TEST(test_notify_message)
{
    m2s_tracked t = failed_sms("nagios@monitoring.example.com");
    char *msg = m2s_notify_message(&t, "nagios@monitoring.example.com", "5.1.1", "relay1");
    g_mime_init();
    GMimeStream *stream = g_mime_stream_mem_new_with_buffer(msg, strlen(msg));
    GMimeParser *parser = g_mime_parser_new_with_stream(stream);
    GMimeMessage *m = g_mime_parser_construct_message(parser, NULL);
    ck_assert_ptr_nonnull(m);
    GMimeObject *top = g_mime_message_get_mime_part(m);
    ck_assert(GMIME_IS_MULTIPART(top));
    GMimeContentType *ct = g_mime_object_get_content_type(top);
    ck_assert(g_mime_content_type_is_type(ct, "multipart", "report"));
    ck_assert_str_eq(g_mime_content_type_get_parameter(ct, "report-type"), "delivery-status");
    ck_assert_str_eq(g_mime_object_get_header(GMIME_OBJECT(m), "Auto-Submitted"), "auto-replied");
    /* The UTF-8 subject is an encoded word, decoded back whole. */
    ck_assert_msg(strstr(msg, "Subject: Undelivered SMS: =?utf-8?b?"), "%s", msg);
    ck_assert_str_eq(g_mime_message_get_subject(m), "Undelivered SMS: Störung: db1 ist nicht "
                     "erreichbar, bitte sofort prüfen und melden");
    GMimeMultipart *mp = GMIME_MULTIPART(top);
    ck_assert_int_eq(g_mime_multipart_get_count(mp), 3);
    const char *types[][2] = { { "text", "plain" }, { "message", "delivery-status" },
                               { "text", "rfc822-headers" } };
    for (int i = 0; i < 3; i++) {
        GMimeContentType *pt = g_mime_object_get_content_type(g_mime_multipart_get_part(mp, i));
        ck_assert_msg(g_mime_content_type_is_type(pt, types[i][0], types[i][1]), "part %d", i);
    }
    /* The machine part, field by field. */
    const char *ds = strstr(msg, "Content-Type: message/delivery-status");
    ck_assert_ptr_nonnull(ds);
    ck_assert_ptr_nonnull(strstr(ds, "\nReporting-MTA: dns; relay1\n"));
    ck_assert_ptr_nonnull(strstr(ds, "\n\nFinal-Recipient: rfc822; oncall@sms.example.com\n"
                                     "Action: failed\nStatus: 5.1.1\n"));
    ck_assert_ptr_nonnull(strstr(ds, "\nDiagnostic-Code: X-Bird; delivery_failed: "
                                     "unknown_subscriber (sms-messagebird 15005)\n"));
    /* The original headers, with their line ends made the notice's. */
    ck_assert_ptr_nonnull(strstr(msg, "Content-Type: text/rfc822-headers\n\nFrom: "
                                      "nagios@example.com\nSubject: x\n"));
    ck_assert_ptr_null(strchr(msg, '\r'));
    g_object_unref(m);
    g_object_unref(parser);
    g_object_unref(stream);
    g_mime_shutdown();
    free(msg);
    m2s_tracked_clear(&t);
}
END_TEST

START_TEST(test_config_keys)
{
    m2s_strv problems = { 0 };
    const char *bad[] = {
        "on_failure = [ \"page\" ];",
        "on_failure = [ \"fallback\" ];",           /* no tracking.fallback */
        "sendmail = \"sendmail\";",
        "notify_to = \"not an address\";",
        "max_rate = 51;",
        "max_age = 10;",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char *text = xasprintf("bird = { api_url = \"http://127.0.0.1:9\"; workspace_id = "
                               "\"ws\"; channel_id = \"ch\"; access_key = \"k\"; };"
                               " tracking = { %s };", bad[i]);
        m2s_config *cfg = m2s_config_load_string(text, "t.conf", &problems);
        ck_assert_msg(cfg == NULL, "accepted: %s", bad[i]);
        ck_assert_msg(problems.n >= 1 && strstr(problems.v[0], "tracking"), "%s: %s", bad[i],
                      problems.n ? problems.v[0] : "no problem");
        m2s_strv_clear(&problems);
        free(text);
    }
    m2s_config *cfg = config("");
    ck_assert_int_eq(cfg->track_max_age, 172800);
    ck_assert(cfg->track_max_rate == 10);
    ck_assert_str_eq(cfg->track_sendmail, "/usr/sbin/sendmail");
    ck_assert_uint_eq(cfg->track_on_failure.n, 0);
    m2s_config_free(cfg);
}
END_TEST

static Suite *make_suite(void)
{
    Suite *s = suite_create("track");
    TCase *tc = tcase_create("track");
    tcase_add_test(tc, test_backoff);
    tcase_add_test(tc, test_final);
    tcase_add_test(tc, test_parse_status);
    tcase_add_test(tc, test_failure_dsn);
    tcase_add_test(tc, test_notify_rcpt);
    tcase_add_test(tc, test_notify_message);
    tcase_add_test(tc, test_config_keys);
    suite_add_tcase(s, tc);
    return s;
}
