/* check_mail.c - unit tests for the GMime message parser (src/mail.c). */
#include "build-config.h"

#include <dirent.h>
#include <stdio.h>
#include <string.h>
#include <glib.h>

#include "unit.h"
#include "mail.h"
#include "mime.h"

static const m2s_mail_limits default_limits = { 20, 500 };

/* GMime is set up once per process, as the program does (it does not
 * support being shut down and set up again). */
static void setup(void)
{
    m2s_mail_init();
}

static void teardown(void)
{
    m2s_mail_shutdown();
}

/* Parse a C string with the default limits; the parse must succeed. */
static m2s_mail *parse_ok(const char *s)
{
    m2s_mail *m = NULL;
    char *why = NULL;
    m2s_mail_status st = m2s_mail_parse(s, strlen(s), &default_limits, &m, &why);
    ck_assert_msg(st == M2S_MAIL_OK, "status %d: %s", st, why ? why : "");
    ck_assert_ptr_nonnull(m);
    ck_assert_ptr_null(why);
    return m;
}

static bool valid_or_null(const char *s)
{
    return s == NULL || g_utf8_validate(s, -1, NULL);
}

/* Every string the mail holds is valid UTF-8 and the required ones are set. */
static void assert_all_utf8(m2s_mail *m)
{
    ck_assert_ptr_nonnull(m->subject);
    ck_assert_ptr_nonnull(m->from_addr);
    ck_assert_ptr_nonnull(m->from_name);
    ck_assert(g_utf8_validate(m->subject, -1, NULL));
    ck_assert(g_utf8_validate(m->from_addr, -1, NULL));
    ck_assert(g_utf8_validate(m->from_name, -1, NULL));
    ck_assert(valid_or_null(m->message_id));
    ck_assert(valid_or_null(m->text_plain));
    ck_assert(valid_or_null(m->text_html));
    for (size_t i = 0; i < m->n_att; i++) {
        ck_assert_ptr_nonnull(m->att[i].filename);
        ck_assert(m->att[i].filename[0] != '\0');
        ck_assert(g_utf8_validate(m->att[i].filename, -1, NULL));
        ck_assert(strchr(m->att[i].filename, '/') == NULL);
        ck_assert(g_utf8_validate(m->att[i].content_type, -1, NULL));
        ck_assert(valid_or_null(m->att[i].content_id));
        /* not decoded until asked; the size known before is exact for
         * base64 and never below the real one */
        if (m->att[i].data != NULL)
            continue;       /* the test loaded it already */
        size_t before = m->att[i].len;
        ck_assert_int_eq(m2s_mail_load_attachment(m, &m->att[i]), 0);
        ck_assert(m->att[i].len == 0 || m->att[i].data != NULL);
        ck_assert_msg(m->att[i].len <= before + 2, "size %zu, said %zu before loading",
                      m->att[i].len, before);
    }
    ck_assert_uint_eq(m->header_names.n, m->header_values.n);
    for (size_t i = 0; i < m->header_names.n; i++) {
        ck_assert(g_utf8_validate(m->header_names.v[i], -1, NULL));
        ck_assert(g_utf8_validate(m->header_values.v[i], -1, NULL));
    }
}

START_TEST(test_nagios_plain)
{
    const char *s =
        "Return-Path: <nagios@mon.example.com>\n"
        "Date: Tue, 04 Mar 2025 03:12:44 +0100\n"
        "From: Nagios Monitor <nagios@mon.example.com>\n"
        "To: oncall@sms.example.com\n"
        "Subject: ** PROBLEM Service Alert: web01/HTTP is CRITICAL **\n"
        "Message-ID: <20250304021244.1A2B3C@mon.example.com>\n"
        "X-Mailer: nagios\n"
        "\n"
        "***** Nagios *****\n"
        "\n"
        "Notification Type: PROBLEM\n"
        "Service: HTTP\n"
        "Host: web01\n"
        "State: CRITICAL\n";
    m2s_mail *m = parse_ok(s);
    ck_assert_str_eq(m->subject, "** PROBLEM Service Alert: web01/HTTP is CRITICAL **");
    ck_assert_str_eq(m->from_addr, "nagios@mon.example.com");
    ck_assert_str_eq(m->from_name, "Nagios Monitor");
    ck_assert_str_eq(m->message_id, "20250304021244.1A2B3C@mon.example.com");
    ck_assert_str_eq(m->text_plain,
                     "***** Nagios *****\n\nNotification Type: PROBLEM\n"
                     "Service: HTTP\nHost: web01\nState: CRITICAL\n");
    ck_assert_ptr_null(m->text_html);
    ck_assert_uint_eq(m->n_att, 0);
    ck_assert_uint_eq(m->header_names.n, 0);
    assert_all_utf8(m);
    m2s_mail_free(m);
}
END_TEST

START_TEST(test_no_from_no_subject)
{
    m2s_mail *m = parse_ok("To: a@b.example\n\nhello\n");
    ck_assert_str_eq(m->subject, "");
    ck_assert_str_eq(m->from_addr, "");
    ck_assert_str_eq(m->from_name, "");
    ck_assert_ptr_null(m->message_id);
    ck_assert_str_eq(m->text_plain, "hello\n");
    m2s_mail_free(m);
}
END_TEST

START_TEST(test_alternative)
{
    const char *s =
        "From: alerts@example.com\n"
        "Subject: disk full\n"
        "MIME-Version: 1.0\n"
        "Content-Type: multipart/alternative; boundary=\"alt-1\"\n"
        "\n"
        "--alt-1\n"
        "Content-Type: text/html; charset=utf-8\n"
        "\n"
        "<p>Disk <b>/var</b> is full</p>\n"
        "--alt-1\n"
        "Content-Type: text/plain; charset=utf-8\n"
        "\n"
        "Disk /var is full\n"
        "--alt-1--\n";
    m2s_mail *m = parse_ok(s);
    ck_assert_str_eq(m->text_plain, "Disk /var is full");
    ck_assert_ptr_nonnull(m->text_html);
    ck_assert_ptr_nonnull(strstr(m->text_html, "<b>/var</b>"));
    ck_assert_uint_eq(m->n_att, 0);
    m2s_mail_free(m);
}
END_TEST

START_TEST(test_html_only)
{
    const char *s =
        "From: \"Web Shop\" <shop@example.com>\n"
        "Subject: Order 42\n"
        "Content-Type: text/html; charset=\"us-ascii\"\n"
        "\n"
        "<html><body><p>Order 42 shipped</p></body></html>\n";
    m2s_mail *m = parse_ok(s);
    ck_assert_ptr_null(m->text_plain);
    ck_assert_str_eq(m->text_html, "<html><body><p>Order 42 shipped</p></body></html>\n");
    ck_assert_str_eq(m->from_name, "Web Shop");
    ck_assert_uint_eq(m->n_att, 0);
    m2s_mail_free(m);
}
END_TEST

START_TEST(test_latin1_qp_and_rfc2047_subject)
{
    const char *s =
        "From: =?ISO-8859-1?Q?Ren=E9_M=FCller?= <rene@example.fr>\n"
        "Subject: =?ISO-8859-1?Q?Caf=E9_ferm=E9?=\n"
        "MIME-Version: 1.0\n"
        "Content-Type: text/plain; charset=ISO-8859-1\n"
        "Content-Transfer-Encoding: quoted-printable\n"
        "\n"
        "Le caf=E9 est ferm=E9 =E0 18h.\n"
        "Prix: 5 =A4\n";
    m2s_mail *m = parse_ok(s);
    ck_assert_str_eq(m->subject, "Café fermé");
    ck_assert_str_eq(m->from_name, "René Müller");
    ck_assert_str_eq(m->text_plain, "Le café est fermé à 18h.\nPrix: 5 ¤\n");
    m2s_mail_free(m);
}
END_TEST

/* Subjects split over several encoded words: a base64 word ending in
 * padding must not swallow the next word, and an ISO-2022-JP text split
 * across words must come out whole. */
START_TEST(test_subject_split_encoded_words)
{
    static const struct { const char *header, *want; } cases[] = {
        { "=?UTF-8?B?U3TDtnJ1bmc6IERhdGVuYmFuay1SZXBsaWthdGlvbiA=?=\r\n"
          " =?UTF-8?B?dmVyesO2Z2VydCAoZGItcmVwbC0wMik=?=",
          "St\xc3\xb6rung: Datenbank-Replikation verz\xc3\xb6gert (db-repl-02)" },
        { "=?ISO-2022-JP?B?GyRCJVAlQyUvJSIlQyVXPDpHVBsoQjo=?=\r\n"
          " =?ISO-2022-JP?B?IBskQiVVJSElJCVrJTUhPCVQGyhCIGZzMDE=?=",
          "\xe3\x83\x90\xe3\x83\x83\xe3\x82\xaf\xe3\x82\xa2\xe3\x83\x83\xe3\x83\x97"
          "\xe5\xa4\xb1\xe6\x95\x97: \xe3\x83\x95\xe3\x82\xa1\xe3\x82\xa4\xe3\x83\xab"
          "\xe3\x82\xb5\xe3\x83\xbc\xe3\x83\x90 fs01" },
        /* a UTF-8 character split between two words */
        { "=?UTF-8?Q?caf=C3?= =?UTF-8?Q?=A9_ok?=", "caf\xc3\xa9 ok" },
        /* text between words keeps its spaces; mixed charsets */
        { "Re: =?ISO-8859-1?Q?Gr=FC=DFe?= aus =?UTF-8?B?S8O2bG4=?=",
          "Re: Gr\xc3\xbc\xc3\x9f" "e aus K\xc3\xb6ln" },
        /* not an encoded word: left alone */
        { "50% =?off", "50% =?off" },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *raw = xasprintf("From: a@example.com\r\nSubject: %s\r\n\r\nbody\r\n",
                              cases[i].header);
        m2s_mail *m = parse_ok(raw);
        ck_assert_str_eq(m->subject, cases[i].want);
        m2s_mail_free(m);
        free(raw);
    }
}
END_TEST

START_TEST(test_cp1252_without_charset)
{
    /* 8-bit text with no charset at all: not UTF-8, so windows-1252 */
    const char *s =
        "From: old@example.com\n"
        "Subject: legacy\n"
        "\n"
        "\x93quoted\x94 costs \x80" "5 \x96 caf\xe9\n";
    m2s_mail *m = parse_ok(s);
    ck_assert_str_eq(m->text_plain, "\xE2\x80\x9Cquoted\xE2\x80\x9D costs \xE2\x82\xAC"
                     "5 \xE2\x80\x93 caf\xC3\xA9\n");
    m2s_mail_free(m);

    /* no charset but valid UTF-8: kept as UTF-8 */
    m = parse_ok("From: new@example.com\nContent-Type: text/plain\n\nna\xC3\xAFve \xE2\x82\xAC\n");
    ck_assert_str_eq(m->text_plain, "na\xC3\xAFve \xE2\x82\xAC\n");
    m2s_mail_free(m);
}
END_TEST

START_TEST(test_bogus_charset)
{
    m2s_mail *m = parse_ok("Subject: x\nContent-Type: text/plain; charset=x-no-such-charset\n"
                           "\ncaf\xe9\n");
    ck_assert_str_eq(m->text_plain, "caf\xC3\xA9\n");
    m2s_mail_free(m);

    m = parse_ok("Subject: x\nContent-Type: text/plain; charset=\"\"\n\ncaf\xC3\xA9\n");
    ck_assert_str_eq(m->text_plain, "caf\xC3\xA9\n");
    m2s_mail_free(m);
}
END_TEST

START_TEST(test_invalid_utf8_replaced)
{
    m2s_mail *m = parse_ok("Subject: x\nContent-Type: text/plain; charset=utf-8\n"
                           "\nok \xff\xfe end \xC3\n");
    ck_assert_str_eq(m->text_plain, "ok \xEF\xBF\xBD\xEF\xBF\xBD end \xEF\xBF\xBD\n");
    m2s_mail_free(m);
}
END_TEST

START_TEST(test_base64_utf8_body)
{
    /* "Grüße aus Köln 👋\n" */
    const char *s =
        "From: a@example.de\n"
        "Subject: =?UTF-8?B?R3LDvMOfZQ==?=\n"
        "MIME-Version: 1.0\n"
        "Content-Type: text/plain; charset=UTF-8\n"
        "Content-Transfer-Encoding: base64\n"
        "\n"
        "R3LDvMOfZSBhdXMgS8O2bG4g8J+Riwo=\n";
    m2s_mail *m = parse_ok(s);
    ck_assert_str_eq(m->subject, "Grüße");
    ck_assert_str_eq(m->text_plain, "Grüße aus Köln \xF0\x9F\x91\x8B\n");
    m2s_mail_free(m);
}
END_TEST

START_TEST(test_bom_stripped)
{
    m2s_mail *m = parse_ok("Subject: x\nContent-Type: text/plain; charset=utf-8\n"
                           "\n\xEF\xBB\xBFhello\n");
    ck_assert_str_eq(m->text_plain, "hello\n");
    m2s_mail_free(m);
}
END_TEST

START_TEST(test_japanese)
{
    /* ISO-2022-JP: "すみません。" */
    m2s_mail *m = parse_ok("Subject: jp\nContent-Type: text/plain; charset=iso-2022-jp\n"
                           "Content-Transfer-Encoding: 7bit\n"
                           "\n\x1b$B$9$_$^$;$s!#\x1b(B\n");
    ck_assert_str_eq(m->text_plain, "すみません。\n");
    m2s_mail_free(m);

    /* Shift_JIS: "あいう" then the full-width "！" */
    m = parse_ok("Subject: sjis\nContent-Type: text/plain; charset=\"Shift_JIS\"\n"
                 "Content-Transfer-Encoding: 8bit\n"
                 "\n\x82\xa0\x82\xa2\x82\xa4\x81\x49\n");
    ck_assert_str_eq(m->text_plain, "あいう！\n");
    m2s_mail_free(m);
}
END_TEST

START_TEST(test_attachment_filenames)
{
    const char *s =
        "From: a@example.com\n"
        "Subject: files\n"
        "MIME-Version: 1.0\n"
        "Content-Type: multipart/mixed; boundary=b1\n"
        "\n"
        "--b1\n"
        "Content-Type: text/plain; charset=us-ascii\n"
        "\n"
        "see attached\n"
        "--b1\n"
        "Content-Type: application/pdf\n"
        "Content-Disposition: attachment; filename*=UTF-8''r%C3%A9sum%C3%A9%20v2.pdf\n"
        "Content-Transfer-Encoding: base64\n"
        "\n"
        "JVBERi0xLjQK\n"
        "--b1\n"
        "Content-Type: text/plain; name=\"=?UTF-8?B?w5xiZXJzaWNodC50eHQ=?=\"\n"
        "Content-Disposition: attachment\n"
        "\n"
        "rows\n"
        "--b1\n"
        "Content-Type: application/octet-stream\n"
        "Content-Disposition: attachment; filename=\"C:\\\\temp\\\\..\\\\evil.exe\"\n"
        "\n"
        "MZ\n"
        "--b1\n"
        "Content-Type: application/octet-stream\n"
        "Content-Disposition: attachment; filename=\"../../etc/passwd\"\n"
        "\n"
        "root\n"
        "--b1\n"
        "Content-Type: audio/mpeg\n"
        "Content-Disposition: attachment\n"
        "\n"
        "ID3\n"
        "--b1--\n";
    m2s_mail *m = parse_ok(s);
    ck_assert_str_eq(m->text_plain, "see attached");
    ck_assert_uint_eq(m->n_att, 5);
    for (size_t i = 0; i < m->n_att; i++)
        ck_assert_int_eq(m2s_mail_load_attachment(m, &m->att[i]), 0);
    ck_assert_str_eq(m->att[0].filename, "résumé v2.pdf");
    ck_assert_str_eq(m->att[0].content_type, "application/pdf");
    ck_assert_uint_eq(m->att[0].len, 9);
    ck_assert(memcmp(m->att[0].data, "%PDF-1.4\n", 9) == 0);
    ck_assert(!m->att[0].is_inline);
    ck_assert_str_eq(m->att[1].filename, "Übersicht.txt");
    ck_assert_str_eq(m->att[1].content_type, "text/plain");
    ck_assert_str_eq(m->att[2].filename, "evil.exe");
    ck_assert_str_eq(m->att[3].filename, "passwd");
    ck_assert_str_eq(m->att[4].filename, "attachment-5.mp3");
    ck_assert_str_eq(m->att[4].content_type, "audio/mpeg");
    assert_all_utf8(m);
    m2s_mail_free(m);
}
END_TEST

START_TEST(test_text_attachment_is_not_body)
{
    const char *s =
        "Subject: log\n"
        "Content-Type: text/plain; charset=utf-8\n"
        "Content-Disposition: attachment; filename=\"app.log\"\n"
        "\n"
        "ERROR something\n";
    m2s_mail *m = parse_ok(s);
    ck_assert_ptr_null(m->text_plain);
    ck_assert_ptr_null(m->text_html);
    ck_assert_uint_eq(m->n_att, 1);
    ck_assert_str_eq(m->att[0].filename, "app.log");
    ck_assert_uint_eq(m->att[0].len, strlen("ERROR something\n"));
    m2s_mail_free(m);
}
END_TEST

START_TEST(test_related_cid_image)
{
    const char *s =
        "From: report@example.com\n"
        "Subject: graph\n"
        "MIME-Version: 1.0\n"
        "Content-Type: multipart/alternative; boundary=\"outer\"\n"
        "\n"
        "--outer\n"
        "Content-Type: text/plain; charset=utf-8\n"
        "\n"
        "CPU graph attached\n"
        "--outer\n"
        "Content-Type: multipart/related; boundary=\"rel\"; type=\"text/html\"\n"
        "\n"
        "--rel\n"
        "Content-Type: text/html; charset=utf-8\n"
        "\n"
        "<p>CPU</p><img src=\"cid:graph1@example.com\">\n"
        "--rel\n"
        "Content-Type: image/png\n"
        "Content-ID: <graph1@example.com>\n"
        "Content-Transfer-Encoding: base64\n"
        "\n"
        "iVBORw0KGgo=\n"
        "--rel--\n"
        "--outer--\n";
    m2s_mail *m = parse_ok(s);
    ck_assert_str_eq(m->text_plain, "CPU graph attached");
    ck_assert_ptr_nonnull(m->text_html);
    ck_assert_ptr_nonnull(strstr(m->text_html, "cid:graph1@example.com"));
    ck_assert_uint_eq(m->n_att, 1);
    ck_assert(m->att[0].is_inline);
    ck_assert_str_eq(m->att[0].content_id, "graph1@example.com");
    ck_assert_str_eq(m->att[0].content_type, "image/png");
    ck_assert_str_eq(m->att[0].filename, "attachment-1.png");
    m2s_mail_free(m);
}
END_TEST

START_TEST(test_image_bytes)
{
    static const unsigned char png[] = {
        0x89, 'P', 'N', 'G', 0x0d, 0x0a, 0x1a, 0x0a, 0x00, 0x00, 0x00, 0x0d, 'I', 'H', 'D', 'R'
    };
    const char *s =
        "From: cam@example.com\n"
        "Subject: snapshot\n"
        "MIME-Version: 1.0\n"
        "Content-Type: multipart/mixed; boundary=\"=_cam\"\n"
        "\n"
        "--=_cam\n"
        "Content-Type: image/PNG; name=\"door.png\"\n"
        "Content-Disposition: inline; filename=\"door.png\"\n"
        "Content-Transfer-Encoding: base64\n"
        "\n"
        "iVBORw0KGgoAAAAN\n"
        "SUhEUg==\n"
        "--=_cam--\n";
    m2s_mail *m = parse_ok(s);
    ck_assert_ptr_null(m->text_plain);
    ck_assert_uint_eq(m->n_att, 1);
    ck_assert_str_eq(m->att[0].filename, "door.png");
    ck_assert_str_eq(m->att[0].content_type, "image/png");
    ck_assert(m->att[0].is_inline);
    ck_assert_ptr_null(m->att[0].content_id);
    ck_assert_uint_eq(m->att[0].len, sizeof png);       /* known before decoding */
    ck_assert_ptr_null(m->att[0].data);
    ck_assert_int_eq(m2s_mail_load_attachment(m, &m->att[0]), 0);
    ck_assert_uint_eq(m->att[0].len, sizeof png);
    ck_assert(memcmp(m->att[0].data, png, sizeof png) == 0);
    m2s_mail_free(m);
}
END_TEST

START_TEST(test_message_rfc822)
{
    const char *s =
        "From: fwd@example.com\n"
        "Subject: Fwd: outage\n"
        "MIME-Version: 1.0\n"
        "Content-Type: multipart/mixed; boundary=\"m\"\n"
        "\n"
        "--m\n"
        "Content-Type: text/plain\n"
        "\n"
        "see the forwarded mail\n"
        "--m\n"
        "Content-Type: message/rfc822\n"
        "\n"
        "From: origin@example.net\n"
        "Subject: Outage in DC/2\n"
        "\n"
        "inner text only\n"
        "--m--\n";
    m2s_mail *m = parse_ok(s);
    ck_assert_str_eq(m->text_plain, "see the forwarded mail");
    ck_assert_str_eq(m->subject, "Fwd: outage");
    ck_assert_uint_eq(m->n_att, 1);
    ck_assert_str_eq(m->att[0].content_type, "message/rfc822");
    ck_assert_str_eq(m->att[0].filename, "2.eml");  /* "/" cut like a directory */
    size_t said = m->att[0].len;
    ck_assert_int_eq(m2s_mail_load_attachment(m, &m->att[0]), 0);
    ck_assert_uint_eq(m->att[0].len, said);
    char *bytes = g_strndup((const char *)m->att[0].data, m->att[0].len);
    ck_assert_ptr_nonnull(strstr(bytes, "Subject: Outage in DC/2"));
    ck_assert_ptr_nonnull(strstr(bytes, "inner text only"));
    g_free(bytes);
    m2s_mail_free(m);

    /* no subject: message.eml */
    m = parse_ok("Subject: x\nContent-Type: multipart/mixed; boundary=q\n\n--q\n"
                 "Content-Type: message/rfc822\n\nFrom: a@b.example\n\nhi\n--q--\n");
    ck_assert_ptr_null(m->text_plain);
    ck_assert_uint_eq(m->n_att, 1);
    ck_assert_str_eq(m->att[0].filename, "message.eml");
    m2s_mail_free(m);
}
END_TEST

START_TEST(test_sms_headers)
{
    const char *s =
        "From: a@example.com\n"
        "Subject: x\n"
        "X-SMS-Tags: urgent, db\n"
        "x-sms-priority: =?UTF-8?Q?h=C3=B6g?=\n"
        "X-Mailer: not-sms\n"
        "X-SMS-Long: one\n"
        " two\n"
        "\n"
        "body\n";
    m2s_mail *m = parse_ok(s);
    ck_assert_uint_eq(m->header_names.n, 3);
    ck_assert_str_eq(m->header_names.v[0], "X-SMS-Tags");
    ck_assert_str_eq(m->header_names.v[1], "x-sms-priority");
    ck_assert_str_eq(m2s_mail_header(m, "x-sms-tags"), "urgent, db");
    ck_assert_str_eq(m2s_mail_header(m, "X-SMS-Priority"), "hög");
    ck_assert_str_eq(m2s_mail_header(m, "X-Sms-Long"), "one two");
    ck_assert_ptr_null(m2s_mail_header(m, "X-Mailer"));
    ck_assert_ptr_null(m2s_mail_header(m, "X-SMS-None"));
    ck_assert_ptr_null(m2s_mail_header(NULL, "X-SMS-Tags"));
    m2s_mail_free(m);
    m2s_mail_free(NULL);
}
END_TEST

/* The one table of MIME types (src/mime.c), which names made-up
 * attachments and stored files. */
START_TEST(test_mime_table)
{
    ck_assert_str_eq(m2s_mime_canonical("image/jpg"), "image/jpeg");
    ck_assert_str_eq(m2s_mime_canonical("image/pjpeg"), "image/jpeg");
    ck_assert_str_eq(m2s_mime_canonical("image/png"), "image/png");
    ck_assert_str_eq(m2s_mime_canonical(NULL), "application/octet-stream");
    ck_assert_str_eq(m2s_mime_ext("image/jpeg"), "jpg");
    ck_assert_str_eq(m2s_mime_ext("image/pjpeg"), "jpg");
    ck_assert_str_eq(m2s_mime_ext("image/gif"), "gif");
    ck_assert_str_eq(m2s_mime_ext("application/pdf"), "pdf");
    ck_assert_str_eq(m2s_mime_ext("text/plain"), "txt");
    ck_assert_str_eq(m2s_mime_ext("audio/mpeg"), "mp3");
    ck_assert_str_eq(m2s_mime_ext("message/rfc822"), "eml");
    ck_assert_ptr_null(m2s_mime_ext("application/octet-stream"));
    ck_assert_ptr_null(m2s_mime_ext(NULL));
    ck_assert(m2s_mime_is_image("image/jpeg"));
    ck_assert(m2s_mime_is_image("image/jpg"));
    ck_assert(m2s_mime_is_image("image/png"));
    ck_assert(m2s_mime_is_image("image/gif"));
    ck_assert(!m2s_mime_is_image("image/webp"));
    ck_assert(!m2s_mime_is_image("application/pdf"));
    ck_assert(!m2s_mime_is_image(NULL));

    /* a part without a name is named from the table, else ".bin" */
    m2s_mail *m = parse_ok(
        "Subject: x\nContent-Type: multipart/mixed; boundary=q\n\n"
        "--q\nContent-Type: text/plain\n\nhi\n"
        "--q\nContent-Type: image/pjpeg\nContent-Disposition: attachment\n\nxx\n"
        "--q\nContent-Type: application/x-thing\nContent-Disposition: attachment\n\nyy\n"
        "--q--\n");
    ck_assert_uint_eq(m->n_att, 2);
    ck_assert_str_eq(m->att[0].filename, "attachment-1.jpg");
    ck_assert_str_eq(m->att[1].filename, "attachment-2.bin");
    m2s_mail_free(m);
}
END_TEST

/* X-SMS-* values are decoded as the subject is: a base64 word ending in
 * padding does not swallow the words after it (GMime 3.2's own decoder
 * does). */
START_TEST(test_sms_header_split_encoded_words)
{
    const char *s =
        "From: a@example.com\r\n"
        "Subject: x\r\n"
        "X-SMS-Reference: =?UTF-8?B?U3TDtnJ1bmc6IERhdGVuYmFuay1SZXBsaWthdGlvbiA=?=\r\n"
        " =?UTF-8?B?dmVyesO2Z2VydCAoZGItcmVwbC0wMik=?=\r\n"
        "X-SMS-Tags: =?UTF-8?B?ZGIgYQ==?= =?UTF-8?B?bGVydHM=?=, ops\r\n"
        "\r\n"
        "body\r\n";
    m2s_mail *m = parse_ok(s);
    ck_assert_str_eq(m2s_mail_header(m, "X-SMS-Reference"),
                     "St\xc3\xb6rung: Datenbank-Replikation verz\xc3\xb6gert (db-repl-02)");
    ck_assert_str_eq(m2s_mail_header(m, "X-SMS-Tags"), "db alerts, ops");
    m2s_mail_free(m);
}
END_TEST

START_TEST(test_empty)
{
    m2s_mail *m = (m2s_mail *)1;
    char *why = NULL;
    ck_assert_int_eq(m2s_mail_parse("", 0, &default_limits, &m, &why), M2S_MAIL_EMPTY);
    ck_assert_ptr_null(m);
    ck_assert_ptr_nonnull(why);
    ck_assert(strchr(why, '\n') == NULL);
    free(why);

    why = NULL;
    ck_assert_int_eq(m2s_mail_parse(" \r\n\n\t", 5, &default_limits, &m, &why), M2S_MAIL_EMPTY);
    ck_assert_ptr_null(m);
    ck_assert_ptr_nonnull(why);
    free(why);

    /* why may be NULL */
    ck_assert_int_eq(m2s_mail_parse("\n", 1, &default_limits, &m, NULL), M2S_MAIL_EMPTY);
}
END_TEST

/* A small deterministic generator, so a failure can be reproduced. */
static unsigned long rng_state;
static unsigned rnd(void)
{
    rng_state = rng_state * 6364136223846793005UL + 1442695040888963407UL;
    return (unsigned)(rng_state >> 33);
}

START_TEST(test_binary_garbage)
{
    rng_state = 12345;
    int malformed = 0;
    for (int round = 0; round < 300; round++) {
        size_t n = 1 + rnd() % 3000;
        char *buf = malloc(n);
        for (size_t i = 0; i < n; i++) {
            unsigned r = rnd() % 10;
            buf[i] = r == 0 ? '\0' : r == 1 ? '\n' : r == 2 ? ':' : (char)rnd();
        }
        m2s_mail *m = NULL;
        char *why = NULL;
        m2s_mail_status st = m2s_mail_parse(buf, n, &default_limits, &m, &why);
        ck_assert_msg(st == M2S_MAIL_OK || st == M2S_MAIL_MALFORMED || st == M2S_MAIL_EMPTY,
                      "round %d: status %d", round, st);
        if (st == M2S_MAIL_OK) {
            assert_all_utf8(m);
        } else {
            ck_assert_ptr_null(m);
            ck_assert_ptr_nonnull(why);
            malformed++;
        }
        m2s_mail_free(m);
        free(why);
        free(buf);
    }
    ck_assert_int_gt(malformed, 0);

    /* garbage behind a valid header: parsed, body made valid UTF-8 */
    static const char hdr[] = "Subject: bin\nContent-Type: text/plain; charset=utf-8\n\n";
    size_t n = sizeof hdr - 1 + 2048;
    char *buf = malloc(n);
    memcpy(buf, hdr, sizeof hdr - 1);
    for (size_t i = sizeof hdr - 1; i < n; i++)
        buf[i] = (char)rnd();
    buf[sizeof hdr - 1 + 5] = '\0';
    m2s_mail *m = NULL;
    ck_assert_int_eq(m2s_mail_parse(buf, n, &default_limits, &m, NULL), M2S_MAIL_OK);
    assert_all_utf8(m);
    ck_assert_ptr_nonnull(m->text_plain);
    ck_assert_uint_gt(strlen(m->text_plain), 100);  /* the NUL did not cut it */
    m2s_mail_free(m);
    free(buf);

    /* a lone byte and a NUL-only buffer */
    char *why = NULL;
    ck_assert_int_eq(m2s_mail_parse("\0\0\0\0", 4, &default_limits, &m, &why), M2S_MAIL_MALFORMED);
    ck_assert_ptr_nonnull(why);
    free(why);
}
END_TEST

START_TEST(test_truncated_mime)
{
    const char *s =
        "From: a@example.com\n"
        "Subject: cut\n"
        "MIME-Version: 1.0\n"
        "Content-Type: multipart/mixed; boundary=\"never-closed\"\n"
        "\n"
        "--never-closed\n"
        "Content-Type: text/plain; charset=utf-8\n"
        "\n"
        "the text survives\n"
        "--never-closed\n"
        "Content-Type: image/jpeg; name=a.jpg\n"
        "Content-Transfer-Encoding: base64\n"
        "\n"
        "/9j/4AAQSkZJRgABAQ";
    m2s_mail *m = parse_ok(s);
    ck_assert_ptr_nonnull(m->text_plain);
    ck_assert_ptr_nonnull(strstr(m->text_plain, "the text survives"));
    ck_assert_uint_eq(m->n_att, 1);
    ck_assert_str_eq(m->att[0].filename, "a.jpg");
    m2s_mail_free(m);
}
END_TEST

/* A mail with levels nested multipart/mixed containers around one text. */
static char *nested_mail(int levels)
{
    GString *g = g_string_new("From: a@example.com\nSubject: deep\nMIME-Version: 1.0\n");
    for (int i = 0; i < levels; i++)
        g_string_append_printf(g, "Content-Type: multipart/mixed; boundary=\"b%d\"\n\n--b%d\n", i, i);
    g_string_append(g, "Content-Type: text/plain\n\ndeep text\n");
    for (int i = levels - 1; i >= 0; i--)
        g_string_append_printf(g, "--b%d--\n", i);
    return g_string_free(g, FALSE);
}

START_TEST(test_too_deep)
{
    char *s = nested_mail(6);               /* 6 multiparts + the text: depth 7 */
    m2s_mail *m = NULL;
    char *why = NULL;
    m2s_mail_limits lim = { 6, 500 };
    ck_assert_int_eq(m2s_mail_parse(s, strlen(s), &lim, &m, &why), M2S_MAIL_TOO_COMPLEX);
    ck_assert_ptr_null(m);
    ck_assert_ptr_nonnull(why);
    ck_assert_ptr_nonnull(strstr(why, "nesting"));
    free(why);

    lim.max_depth = 7;                      /* exactly at the limit: fine */
    ck_assert_int_eq(m2s_mail_parse(s, strlen(s), &lim, &m, NULL), M2S_MAIL_OK);
    ck_assert_str_eq(m->text_plain, "deep text");
    m2s_mail_free(m);
    g_free(s);

    /* nesting hidden inside an attached message counts too */
    s = g_strdup("Subject: outer\nContent-Type: multipart/mixed; boundary=o\n\n--o\n"
                 "Content-Type: message/rfc822\n\nSubject: inner\n"
                 "Content-Type: multipart/mixed; boundary=i\n\n--i\n"
                 "Content-Type: multipart/mixed; boundary=j\n\n--j\n"
                 "Content-Type: text/plain\n\nx\n--j--\n--i--\n--o--\n");
    lim.max_depth = 4;
    ck_assert_int_eq(m2s_mail_parse(s, strlen(s), &lim, &m, NULL), M2S_MAIL_TOO_COMPLEX);
    lim.max_depth = 5;
    ck_assert_int_eq(m2s_mail_parse(s, strlen(s), &lim, &m, NULL), M2S_MAIL_OK);
    m2s_mail_free(m);
    g_free(s);
}
END_TEST

START_TEST(test_too_many_parts)
{
    GString *g = g_string_new("Subject: many\nContent-Type: multipart/mixed; boundary=p\n\n");
    for (int i = 0; i < 10; i++)
        g_string_append_printf(g, "--p\nContent-Type: application/octet-stream; name=f%d.bin\n\n%d\n",
                               i, i);
    g_string_append(g, "--p--\n");
    m2s_mail *m = NULL;
    char *why = NULL;
    m2s_mail_limits lim = { 20, 10 };       /* 11 parts: the container and 10 */
    ck_assert_int_eq(m2s_mail_parse(g->str, g->len, &lim, &m, &why), M2S_MAIL_TOO_COMPLEX);
    ck_assert_ptr_null(m);
    ck_assert_ptr_nonnull(strstr(why, "parts"));
    free(why);

    lim.max_parts = 11;
    ck_assert_int_eq(m2s_mail_parse(g->str, g->len, &lim, &m, NULL), M2S_MAIL_OK);
    ck_assert_uint_eq(m->n_att, 10);
    ck_assert_str_eq(m->att[9].filename, "f9.bin");
    m2s_mail_free(m);
    g_string_free(g, TRUE);
}
END_TEST

START_TEST(test_crlf)
{
    const char *s =
        "From: Ops <ops@example.com>\r\n"
        "Subject: crlf\r\n"
        "Content-Type: multipart/alternative; boundary=c\r\n"
        "\r\n"
        "--c\r\n"
        "Content-Type: text/plain; charset=utf-8\r\n"
        "Content-Transfer-Encoding: quoted-printable\r\n"
        "\r\n"
        "line one\r\n"
        "line two is a long line that was wrapped by quoted-printa=\r\n"
        "ble\r\n"
        "\r\n"
        "--c\r\n"
        "Content-Type: text/html\r\n"
        "\r\n"
        "<p>one</p>\r\n<p>two</p>\r\n"
        "--c--\r\n";
    m2s_mail *m = parse_ok(s);
    ck_assert_str_eq(m->subject, "crlf");
    ck_assert_str_eq(m->from_name, "Ops");
    ck_assert_str_eq(m->text_plain,
                     "line one\nline two is a long line that was wrapped by quoted-printable\n");
    ck_assert_str_eq(m->text_html, "<p>one</p>\n<p>two</p>");
    m2s_mail_free(m);
}
END_TEST

START_TEST(test_split_body_and_signature)
{
    /* Apple Mail style: text, inline image, more text; then a signed mail */
    const char *s =
        "Subject: photo\n"
        "Content-Type: multipart/mixed; boundary=a\n"
        "\n"
        "--a\n"
        "Content-Type: text/plain; charset=us-ascii\n"
        "\n"
        "before\n"
        "--a\n"
        "Content-Type: image/gif\n"
        "Content-Disposition: inline\n"
        "Content-Transfer-Encoding: base64\n"
        "\n"
        "R0lGODlh\n"
        "--a\n"
        "Content-Type: text/plain; charset=us-ascii\n"
        "\n"
        "after\n"
        "--a--\n";
    m2s_mail *m = parse_ok(s);
    ck_assert_str_eq(m->text_plain, "before\nafter");
    ck_assert_uint_eq(m->n_att, 1);
    ck_assert_str_eq(m->att[0].filename, "attachment-1.gif");
    ck_assert(m->att[0].is_inline);
    m2s_mail_free(m);

    s = "Subject: signed\n"
        "Content-Type: multipart/signed; protocol=\"application/pgp-signature\"; boundary=s\n"
        "\n"
        "--s\n"
        "Content-Type: text/plain\n"
        "\n"
        "signed text\n"
        "--s\n"
        "Content-Type: application/pgp-signature; name=signature.asc\n"
        "\n"
        "-----BEGIN PGP SIGNATURE-----\n"
        "--s--\n";
    m = parse_ok(s);
    ck_assert_str_eq(m->text_plain, "signed text");
    ck_assert_uint_eq(m->n_att, 0);
    m2s_mail_free(m);
}
END_TEST

START_TEST(test_many_tiny_parts)
{
    /* 20000 parts of a few bytes: refused before GMime builds them all */
    GString *g = g_string_new("Subject: bomb\nContent-Type: multipart/mixed; boundary=t\n\n");
    for (int i = 0; i < 20000; i++)
        g_string_append(g, "--t\n\nx\n");
    g_string_append(g, "--t--\n");
    m2s_mail *m = NULL;
    char *why = NULL;
    ck_assert_int_eq(m2s_mail_parse(g->str, g->len, &default_limits, &m, &why),
                     M2S_MAIL_TOO_COMPLEX);
    ck_assert_ptr_null(m);
    ck_assert_ptr_nonnull(strstr(why, "500"));
    free(why);
    g_string_free(g, TRUE);

    /* separator lines that are no boundary are just text */
    g = g_string_new("Subject: log\nContent-Type: multipart/mixed; boundary=sep\n\n"
                     "--sep\nContent-Type: text/plain\n\n");
    for (int i = 0; i < 2000; i++)
        g_string_append(g, "--------\n--\n");
    g_string_append(g, "--sep--\n");
    ck_assert_int_eq(m2s_mail_parse(g->str, g->len, &default_limits, &m, NULL), M2S_MAIL_OK);
    ck_assert_ptr_nonnull(m->text_plain);
    ck_assert_uint_eq(strlen(m->text_plain), 2000 * 12 - 1);
    m2s_mail_free(m);
    g_string_free(g, TRUE);
}
END_TEST

START_TEST(test_multipart_without_boundary)
{
    m2s_mail *m = parse_ok("Subject: nb\nContent-Type: multipart/mixed\n\nsome text here\n");
    ck_assert_str_eq(m->text_plain, "some text here\n");
    m2s_mail_free(m);
}
END_TEST

START_TEST(test_html_meta_charset)
{
    /* no MIME charset; the document says windows-1251: "Привет" */
    m2s_mail *m = parse_ok("Subject: ru\nContent-Type: text/html\n\n"
                           "<html><head><meta http-equiv=\"Content-Type\" "
                           "content=\"text/html; charset=windows-1251\"></head>"
                           "<body>\xcf\xf0\xe8\xe2\xe5\xf2</body></html>\n");
    ck_assert_ptr_nonnull(m->text_html);
    ck_assert_ptr_nonnull(strstr(m->text_html, "<body>Привет</body>"));
    m2s_mail_free(m);
}
END_TEST

static char *read_file(const char *path, size_t *len)
{
    gchar *data = NULL;
    gsize n = 0;
    if (!g_file_get_contents(path, &data, &n, NULL))
        return NULL;
    *len = n;
    return data;
}

START_TEST(test_corpus)
{
    char *dir = g_strdup_printf("%s/../shared/corpus", unit_srcdir());
    DIR *d = opendir(dir);
    if (d == NULL) {
        g_free(dir);
        return;                             /* no corpus here: nothing to do */
    }
    m2s_mail_limits lim = { 20, 500 };
    int total = 0, ok = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (!g_str_has_suffix(e->d_name, ".eml"))
            continue;
        char *path = g_strdup_printf("%s/%s", dir, e->d_name);
        size_t len = 0;
        char *data = read_file(path, &len);
        ck_assert_msg(data != NULL, "cannot read %s", path);
        m2s_mail *m = NULL;
        char *why = NULL;
        m2s_mail_status st = m2s_mail_parse(data, len, &lim, &m, &why);
        ck_assert_msg(st == M2S_MAIL_OK || st == M2S_MAIL_MALFORMED || st == M2S_MAIL_EMPTY,
                      "%s: status %d", e->d_name, st);
        total++;
        if (st == M2S_MAIL_OK) {
            ok++;
            assert_all_utf8(m);
        } else {
            ck_assert_ptr_nonnull(why);
        }
        m2s_mail_free(m);
        free(why);
        g_free(data);
        g_free(path);
    }
    closedir(d);
    printf("corpus: %d of %d mails parse OK\n", ok, total);
    ck_assert_int_gt(total, 0);
    ck_assert_int_gt(ok, 0);
    g_free(dir);
}
END_TEST

static Suite *make_suite(void)
{
    Suite *s = suite_create("mail");
    TCase *tc = tcase_create("core");
    tcase_add_unchecked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_nagios_plain);
    tcase_add_test(tc, test_no_from_no_subject);
    tcase_add_test(tc, test_alternative);
    tcase_add_test(tc, test_html_only);
    tcase_add_test(tc, test_latin1_qp_and_rfc2047_subject);
    tcase_add_test(tc, test_subject_split_encoded_words);
    tcase_add_test(tc, test_cp1252_without_charset);
    tcase_add_test(tc, test_bogus_charset);
    tcase_add_test(tc, test_invalid_utf8_replaced);
    tcase_add_test(tc, test_base64_utf8_body);
    tcase_add_test(tc, test_bom_stripped);
    tcase_add_test(tc, test_japanese);
    tcase_add_test(tc, test_attachment_filenames);
    tcase_add_test(tc, test_text_attachment_is_not_body);
    tcase_add_test(tc, test_related_cid_image);
    tcase_add_test(tc, test_image_bytes);
    tcase_add_test(tc, test_message_rfc822);
    tcase_add_test(tc, test_sms_headers);
    tcase_add_test(tc, test_mime_table);
    tcase_add_test(tc, test_sms_header_split_encoded_words);
    tcase_add_test(tc, test_empty);
    tcase_add_test(tc, test_binary_garbage);
    tcase_add_test(tc, test_truncated_mime);
    tcase_add_test(tc, test_too_deep);
    tcase_add_test(tc, test_too_many_parts);
    tcase_add_test(tc, test_crlf);
    tcase_add_test(tc, test_split_body_and_signature);
    tcase_add_test(tc, test_many_tiny_parts);
    tcase_add_test(tc, test_multipart_without_boundary);
    tcase_add_test(tc, test_html_meta_charset);
    tcase_add_test(tc, test_corpus);
    suite_add_tcase(s, tc);
    return s;
}
