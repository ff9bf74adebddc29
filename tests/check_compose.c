/* check_compose.c - from a parsed mail to the SMS text: body choice
 * (message.prefer), message.format, fitting to message.max_parts with a
 * prefix and suffix kept whole, transliteration, the reference and journal
 * key, and the X-SMS-* headers of trusted senders. */
#include "build-config.h"

#include <ctype.h>
#include <glib.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "unit.h"
#include "compose.h"
#include "config.h"
#include "mail.h"
#include "text.h"
#include "util.h"

/* ------------------------------------------------------------ helpers */

#define MINIMAL \
    "bird = { workspace_id = \"ws\"; channel_id = \"ch\"; access_key = \"k\"; };\n"

static m2s_config *cfg_load(const char *extra)
{
    char *text = xasprintf(MINIMAL "%s", extra ? extra : "");
    m2s_strv p = { 0 };
    m2s_config *c = m2s_config_load_string(text, "compose.conf", &p);
    ck_assert_msg(c != NULL, "test configuration refused: %s", p.n ? p.v[0] : "?");
    m2s_strv_clear(&p);
    free(text);
    return c;
}

static m2s_mail *mail_new(const char *subject, const char *plain, const char *html)
{
    m2s_mail *m = xcalloc(1, sizeof *m);
    m->subject = xstrdup(subject ? subject : "");
    m->from_addr = xstrdup("nagios@mon.example.com");
    m->from_name = xstrdup("Nagios Core");
    m->text_plain = xstrdup(plain);
    m->text_html = xstrdup(html);
    return m;
}

static void mail_header(m2s_mail *m, const char *name, const char *value)
{
    m2s_strv_add(&m->header_names, name);
    m2s_strv_add(&m->header_values, value);
}

static const char raw_mail[] = "From: a@b\r\nSubject: x\r\n\r\nbody\r\n";

static m2s_message *compose_ok(const m2s_config *c, const m2s_mail *m, bool trusted)
{
    m2s_message *msg = NULL;
    m2s_status st = M2S_STATUS_INIT;
    m2s_class cls = m2s_compose(c, m, raw_mail, strlen(raw_mail), "4F3A21C0E2", trusted,
                                &msg, &st);
    ck_assert_msg(cls == M2S_OK, "compose failed: %s", st.why ? st.why : "?");
    ck_assert_ptr_nonnull(msg);
    ck_assert_ptr_null(st.why);
    return msg;
}

/* m2s_compose refuses with M2S_E_CONTENT and a reason holding word. */
static void compose_refused(const m2s_config *c, const m2s_mail *m, const char *word)
{
    m2s_message *msg = (m2s_message *)1;
    m2s_status st = M2S_STATUS_INIT;
    m2s_class cls = m2s_compose(c, m, raw_mail, strlen(raw_mail), NULL, true, &msg, &st);
    char *why = st.why;
    ck_assert_int_eq(st.cls, cls);
    ck_assert_msg(cls == M2S_E_CONTENT, "class %d, want M2S_E_CONTENT", cls);
    ck_assert_ptr_null(msg);
    ck_assert_ptr_nonnull(why);
    ck_assert_msg(strstr(why, word) != NULL, "reason \"%s\" does not say \"%s\"", why, word);
    ck_assert_ptr_null(strchr(why, '\n'));
    free(why);
}

/* The SMS text of a mail under configuration extra; fmt/prefix/suffix may be NULL. */
static m2s_class text_of(const m2s_config *c, const m2s_message *msg, const char *fmt,
                         const char *prefix, const char *suffix, char **text,
                         m2s_sms_count *count, bool *truncated, char **why)
{
    m2s_status st = M2S_STATUS_INIT;
    m2s_class cls = m2s_compose_text(c, msg, fmt, prefix, suffix, text, count, truncated, &st);
    ck_assert_int_eq(st.cls, cls);
    free(*why);
    *why = st.why;
    return cls;
}

static char *text_ok(const m2s_config *c, const m2s_message *msg, const char *fmt,
                     m2s_sms_count *count, bool *truncated)
{
    char *text = NULL, *why = NULL;
    m2s_sms_count dummy;
    bool tr = false;
    m2s_class cls = text_of(c, msg, fmt, NULL, NULL, &text, count ? count : &dummy, &tr, &why);
    ck_assert_msg(cls == M2S_OK, "compose_text failed: %s", why ? why : "?");
    ck_assert_ptr_nonnull(text);
    if (truncated)
        *truncated = tr;
    return text;
}

static bool ends_with(const char *s, const char *tail)
{
    size_t n = strlen(s), t = strlen(tail);
    return n >= t && strcmp(s + n - t, tail) == 0;
}

static char *repeat(const char *unit, int times)
{
    m2s_buf b;
    m2s_buf_init(&b);
    for (int i = 0; i < times; i++)
        m2s_buf_adds(&b, unit);
    return m2s_buf_steal(&b);
}

/* ----------------------------------------------------------- body choice */

static const char plain_text[] = "Service HTTP on web01 is CRITICAL: connection refused";
static const char html_text[] =
    "<html><head><style>p{color:red}</style></head><body>"
    "<p>Disk <b>/var</b> on db02 is 97% full</p></body></html>";

START_TEST(test_prefer_plain)
{
    m2s_config *c = cfg_load("message = { prefer = \"plain\"; };\n");
    m2s_mail *m = mail_new("s", plain_text, html_text);
    m2s_message *msg = compose_ok(c, m, false);
    ck_assert_str_eq(msg->body, plain_text);
    m2s_message_free(msg);
    m2s_mail_free(m);
    /* only HTML: converted even so */
    m = mail_new("s", NULL, html_text);
    msg = compose_ok(c, m, false);
    ck_assert_ptr_nonnull(strstr(msg->body, "Disk /var on db02 is 97% full"));
    ck_assert_ptr_null(strchr(msg->body, '<'));
    m2s_message_free(msg);
    m2s_mail_free(m);
    m2s_config_free(c);
}
END_TEST

START_TEST(test_prefer_html)
{
    m2s_config *c = cfg_load("message = { prefer = \"html\"; };\n");
    m2s_mail *m = mail_new("s", plain_text, html_text);
    m2s_message *msg = compose_ok(c, m, false);
    ck_assert_ptr_nonnull(strstr(msg->body, "Disk /var on db02 is 97% full"));
    ck_assert_ptr_null(strstr(msg->body, "connection refused"));
    ck_assert_ptr_null(strstr(msg->body, "color"));      /* <style> dropped */
    m2s_message_free(msg);
    m2s_mail_free(m);
    /* only plain: plain */
    m = mail_new("s", plain_text, NULL);
    msg = compose_ok(c, m, false);
    ck_assert_str_eq(msg->body, plain_text);
    m2s_message_free(msg);
    m2s_mail_free(m);
    m2s_config_free(c);
}
END_TEST

START_TEST(test_prefer_auto)
{
    m2s_config *c = cfg_load(NULL);          /* auto is the default */
    ck_assert_int_eq(c->prefer, M2S_PREFER_AUTO);
    m2s_mail *m = mail_new("s", plain_text, html_text);
    m2s_message *msg = compose_ok(c, m, false);
    ck_assert_str_eq(msg->body, plain_text);
    m2s_message_free(msg);
    m2s_mail_free(m);

    /* a plain part that only points at the HTML one */
    m = mail_new("s", "View this email in your browser:\nhttps://news.example.com/v/123\n",
                 html_text);
    msg = compose_ok(c, m, false);
    ck_assert_ptr_nonnull(strstr(msg->body, "Disk /var on db02 is 97% full"));
    ck_assert_ptr_null(strstr(msg->body, "browser"));
    m2s_message_free(msg);
    m2s_mail_free(m);

    /* nothing at all: an empty body, not a crash */
    m = mail_new("Only a subject", NULL, NULL);
    msg = compose_ok(c, m, false);
    ck_assert_str_eq(msg->body, "");
    ck_assert_str_eq(msg->subject, "Only a subject");
    m2s_message_free(msg);
    m2s_mail_free(m);
    m2s_config_free(c);
}
END_TEST

START_TEST(test_subject_and_from)
{
    m2s_config *c = cfg_load(NULL);
    m2s_mail *m = mail_new("  PROBLEM:\n\tweb01   is  DOWN  ", "x", NULL);
    m2s_message *msg = compose_ok(c, m, false);
    ck_assert_str_eq(msg->subject, "PROBLEM: web01 is DOWN");
    ck_assert_str_eq(msg->from_addr, "nagios@mon.example.com");
    ck_assert_str_eq(msg->from_name, "Nagios Core");
    m2s_message_free(msg);
    m2s_mail_free(m);
    m2s_config_free(c);
}
END_TEST

/* -------------------------------------------------------------- format */

START_TEST(test_expand_placeholders)
{
    m2s_message msg = { 0 };
    msg.subject = (char *)"Disk full";
    msg.body = (char *)"/var 99%";
    msg.from_addr = (char *)"root@db02.example.com";
    msg.from_name = (char *)"Cron Daemon";
    char *s = m2s_compose_expand("[{from_name} <{from}>] {subject}\\n{body} {unknown} {", &msg);
    ck_assert_str_eq(s, "[Cron Daemon <root@db02.example.com>] Disk full\n/var 99% {unknown} {");
    free(s);
    s = m2s_compose_expand("{body}{body}", &msg);
    ck_assert_str_eq(s, "/var 99%/var 99%");
    free(s);
    s = m2s_compose_expand("", &msg);
    ck_assert_str_eq(s, "");
    free(s);
}
END_TEST

START_TEST(test_format_in_text)
{
    m2s_config *c = cfg_load("message = { format = \"{from_name}: {subject}\\\\n{body}\"; };\n");
    m2s_mail *m = mail_new("CPU high", "load 12.5", NULL);
    m2s_message *msg = compose_ok(c, m, false);
    char *t = text_ok(c, msg, NULL, NULL, NULL);
    ck_assert_str_eq(t, "Nagios Core: CPU high\nload 12.5");
    free(t);
    /* a per-alias format given explicitly wins over message.format */
    t = text_ok(c, msg, "{subject} from {from}", NULL, NULL);
    ck_assert_str_eq(t, "CPU high from nagios@mon.example.com");
    free(t);
    m2s_message_free(msg);
    m2s_config_free(c);
    /* libconfig's own "\n" escape gives a real line break: the same text */
    c = cfg_load("message = { format = \"{from_name}: {subject}\\n{body}\"; };\n");
    ck_assert_ptr_nonnull(strchr(c->format, '\n'));
    msg = compose_ok(c, m, false);
    t = text_ok(c, msg, NULL, NULL, NULL);
    ck_assert_str_eq(t, "Nagios Core: CPU high\nload 12.5");
    free(t);
    m2s_message_free(msg);
    m2s_mail_free(m);
    m2s_config_free(c);
}
END_TEST

START_TEST(test_empty_subject_no_dangling)
{
    m2s_config *c = cfg_load(NULL);
    m2s_mail *m = mail_new("", "backup finished with 2 warnings", NULL);
    m2s_message *msg = compose_ok(c, m, false);
    char *t = text_ok(c, msg, NULL, NULL, NULL);
    ck_assert_str_eq(t, "backup finished with 2 warnings");
    free(t);
    m2s_message_free(msg);
    m2s_mail_free(m);

    /* and an empty body leaves no ": " behind the subject */
    m = mail_new("Backup OK", NULL, NULL);
    msg = compose_ok(c, m, false);
    t = text_ok(c, msg, NULL, NULL, NULL);
    ck_assert_str_eq(t, "Backup OK");
    free(t);
    m2s_message_free(msg);
    m2s_mail_free(m);
    m2s_config_free(c);
}
END_TEST

START_TEST(test_nothing_to_send)
{
    m2s_config *c = cfg_load(NULL);
    m2s_mail *m = mail_new("", NULL, NULL);
    m2s_message *msg = compose_ok(c, m, false);
    char *text = (char *)"untouched", *why = NULL;
    m2s_sms_count cnt;
    bool tr;
    ck_assert_int_eq(text_of(c, msg, NULL, NULL, NULL, &text, &cnt, &tr, &why), M2S_E_CONTENT);
    ck_assert_ptr_null(text);
    ck_assert_ptr_nonnull(why);
    free(why);
    m2s_message_free(msg);
    m2s_mail_free(m);
    /* white space only, and HTML with nothing readable, are nothing too */
    m = mail_new(" \t ", " \n\n \n", "<html><body><img src=\"x.gif\" width=1 height=1></body></html>");
    msg = compose_ok(c, m, false);
    why = NULL;
    ck_assert_int_eq(text_of(c, msg, NULL, NULL, NULL, &text, &cnt, &tr, &why), M2S_E_CONTENT);
    ck_assert_ptr_nonnull(why);
    free(why);
    m2s_message_free(msg);
    m2s_mail_free(m);
    m2s_config_free(c);
}
END_TEST

/* ------------------------------------------------------------- length */

START_TEST(test_too_long_reject)
{
    m2s_config *c = cfg_load("message = { max_parts = 2; on_too_long = \"reject\"; };\n");
    char *body = repeat("word ", 100);          /* 500 GSM-7 characters: 4 parts */
    m2s_mail *m = mail_new("Long", body, NULL);
    m2s_message *msg = compose_ok(c, m, false);
    char *text = NULL, *why = NULL;
    m2s_sms_count cnt;
    bool tr = true;
    ck_assert_int_eq(text_of(c, msg, NULL, NULL, NULL, &text, &cnt, &tr, &why), M2S_E_CONTENT);
    ck_assert_ptr_null(text);
    ck_assert_ptr_nonnull(why);
    free(why);
    m2s_message_free(msg);
    m2s_mail_free(m);
    free(body);

    /* what fits is sent whole, even under "reject" */
    body = repeat("abcd ", 50);
    m = mail_new("Short", body, NULL);
    msg = compose_ok(c, m, false);
    char *t = text_ok(c, msg, NULL, &cnt, &tr);
    ck_assert(!tr);
    ck_assert_int_le(cnt.parts, 2);
    free(t);
    m2s_message_free(msg);
    m2s_mail_free(m);
    free(body);
    m2s_config_free(c);
}
END_TEST

START_TEST(test_truncate)
{
    m2s_config *c = cfg_load("message = { max_parts = 2; on_too_long = \"truncate\"; };\n");
    char *body = repeat("lorem ipsum dolor sit amet ", 80);
    m2s_mail *m = mail_new("Report", body, NULL);
    m2s_message *msg = compose_ok(c, m, false);
    m2s_sms_count cnt;
    bool tr = false;
    char *t = text_ok(c, msg, NULL, &cnt, &tr);
    ck_assert(tr);
    /* counted again here, not taken on trust */
    m2s_sms_count mine;
    m2s_sms_count_text(t, &mine);
    ck_assert_int_le(mine.parts, 2);
    ck_assert_int_eq(mine.parts, cnt.parts);
    ck_assert_int_eq(mine.encoding, M2S_ENC_GSM7);
    ck_assert_msg(mine.units > 153, "cut far too short: %zu septets", mine.units);
    ck_assert(strncmp(t, "Report: lorem ipsum", 19) == 0);
    /* a visible marker at the end */
    ck_assert_msg(ends_with(t, "...") || ends_with(t, "\xe2\x80\xa6"), "no marker: %s", t);
    free(t);
    m2s_message_free(msg);
    m2s_mail_free(m);
    free(body);
    m2s_config_free(c);
}
END_TEST

/* A body that is UCS-2 whatever is done (Cyrillic) is held to 67-unit parts. */
START_TEST(test_truncate_ucs2)
{
    m2s_config *c = cfg_load("message = { max_parts = 3; };\n");
    char *body = repeat("\xd0\xbf\xd1\x80\xd0\xb8\xd0\xb2\xd0\xb5\xd1\x82 ", 100); /* привет */
    m2s_mail *m = mail_new("", body, NULL);
    m2s_message *msg = compose_ok(c, m, false);
    m2s_sms_count cnt;
    bool tr = false;
    char *t = text_ok(c, msg, NULL, &cnt, &tr);
    ck_assert(tr);
    m2s_sms_count mine;
    m2s_sms_count_text(t, &mine);
    ck_assert_int_eq(mine.encoding, M2S_ENC_UCS2);
    ck_assert_int_le(mine.parts, 3);
    ck_assert_msg(mine.units > 2 * 67, "cut far too short: %zu units", mine.units);
    ck_assert(g_utf8_validate(t, -1, NULL));
    free(t);
    m2s_message_free(msg);
    m2s_mail_free(m);
    free(body);
    m2s_config_free(c);
}
END_TEST

START_TEST(test_prefix_suffix_whole)
{
    m2s_config *c = cfg_load("message = { max_parts = 2; };\n");
    char *body = repeat("the quick brown fox jumps over the lazy dog ", 60);
    m2s_mail *m = mail_new("Alert", body, NULL);
    m2s_message *msg = compose_ok(c, m, false);
    const char *prefix = "(+3 suppressed)";
    const char *suffix = "https://files.example.com/s/AbCdEf0123456789/report.pdf";
    char *text = NULL, *why = NULL;
    m2s_sms_count cnt;
    bool tr = false;
    ck_assert_int_eq(text_of(c, msg, NULL, prefix, suffix, &text, &cnt, &tr, &why), M2S_OK);
    ck_assert_ptr_nonnull(text);
    ck_assert(tr);
    ck_assert_msg(strncmp(text, prefix, strlen(prefix)) == 0, "prefix lost: %s", text);
    ck_assert_msg(ends_with(text, suffix), "suffix cut: %s", text);
    ck_assert_ptr_nonnull(strstr(text, "Alert: the quick"));
    /* the marker shows where the body was cut, before the suffix */
    char *mark = strstr(text, "...");
    if (!mark)
        mark = strstr(text, "\xe2\x80\xa6");
    ck_assert_msg(mark != NULL && mark < text + strlen(text) - strlen(suffix),
                  "no marker before the suffix: %s", text);
    m2s_sms_count mine;
    m2s_sms_count_text(text, &mine);
    ck_assert_int_le(mine.parts, 2);
    free(text);

    /* short enough: all of it, untouched, nothing marked */
    m2s_message_free(msg);
    m2s_mail_free(m);
    m = mail_new("Alert", "all fine", NULL);
    msg = compose_ok(c, m, false);
    text = NULL;
    ck_assert_int_eq(text_of(c, msg, NULL, prefix, suffix, &text, &cnt, &tr, &why), M2S_OK);
    ck_assert(!tr);
    ck_assert(strncmp(text, prefix, strlen(prefix)) == 0);
    ck_assert_ptr_nonnull(strstr(text, "Alert: all fine"));
    ck_assert(ends_with(text, suffix));
    free(text);
    m2s_message_free(msg);
    m2s_mail_free(m);
    free(body);
    m2s_config_free(c);
}
END_TEST

/* Across many lengths of body, prefix and suffix (GSM-7 and UCS-2): the
 * text is within max_parts, prefix and suffix are whole, and a cut text
 * shows its marker at the cut. */
START_TEST(test_fit_many_lengths)
{
    static const char *const words[] = { "disk quota exceeded on vol ",
                                         "\xd0\xb4\xd0\xb8\xd1\x81\xd0\xba \xd0\xbf\xd0\xbe\xd0\xbb\xd0\xbd " };
    for (int mp = 1; mp <= 3; mp++) {
        char *extra = xasprintf("message = { max_parts = %d; };\n", mp);
        m2s_config *c = cfg_load(extra);
        free(extra);
        for (size_t w = 0; w < 2; w++) {
            for (int reps = 2; reps < 40; reps += 3) {
                for (int sl = 0; sl <= 40; sl += 20) {
                    char *body = repeat(words[w], reps);
                    body[strlen(body) - 1] = '\0';         /* no trailing space */
                    char *suffix = sl ? xasprintf("https://x.example/%0*d", sl, 7) : NULL;
                    const char *prefix = reps % 2 ? "(+2 suppressed)" : NULL;
                    m2s_message msg = { 0 };
                    msg.subject = (char *)"S";
                    msg.body = body;
                    msg.from_addr = msg.from_name = (char *)"";
                    char *text = NULL, *why = NULL;
                    m2s_sms_count cnt;
                    bool tr = false;
                    m2s_class cls = text_of(c, &msg, NULL, prefix, suffix, &text, &cnt, &tr, &why);
                    if (cls != M2S_OK) {
                        /* only when prefix and suffix alone nearly fill the budget */
                        ck_assert_int_eq(cls, M2S_E_CONTENT);
                        ck_assert_msg(mp == 1 && sl > 0, "mp %d reps %d sl %d: %s", mp, reps, sl, why);
                        free(why);
                    } else {
                        m2s_sms_count mine;
                        m2s_sms_count_text(text, &mine);
                        ck_assert_msg(mine.parts <= mp, "%d parts: %s", mine.parts, text);
                        ck_assert(g_utf8_validate(text, -1, NULL));
                        if (prefix)
                            ck_assert(strncmp(text, prefix, strlen(prefix)) == 0);
                        if (suffix)
                            ck_assert_msg(ends_with(text, suffix), "suffix cut: %s", text);
                        if (tr) {
                            char *mark = strstr(text, "...");
                            if (!mark)
                                mark = strstr(text, "\xe2\x80\xa6");
                            ck_assert_msg(mark != NULL, "cut without a marker: %s", text);
                            if (suffix)
                                ck_assert(mark < text + strlen(text) - strlen(suffix));
                        } else {
                            ck_assert_msg(strstr(text, body) != NULL, "body changed: %s", text);
                        }
                    }
                    free(text);
                    free(suffix);
                    free(body);
                }
            }
        }
        m2s_config_free(c);
    }
}
END_TEST

/* The text is cut by text.c's one rule, the same with or without a
 * prefix and suffix: what m2s_sms_fit gives for the whole text, what
 * m2s_sms_cut gives between the prefix and suffix (with their separators). */
START_TEST(test_truncate_one_rule)
{
    static const char *const bodies[] = {
        "disk quota exceeded on vol ",
        "see https://grafana.example.com/alerting/grafana/abcdefghij/view?orgId=1 ",
        "\xd0\xb4\xd0\xb8\xd1\x81\xd0\xba \xd0\xbf\xd0\xbe\xd0\xbb\xd0\xbd, ",
        "a\xf0\x9f\x98\x80 [x] ",
    };
    for (int mp = 1; mp <= 3; mp++) {
        char *extra = xasprintf("message = { max_parts = %d; format = \"{body}\"; };\n", mp);
        m2s_config *c = cfg_load(extra);
        free(extra);
        for (size_t w = 0; w < sizeof bodies / sizeof bodies[0]; w++) {
            for (int reps = 5; reps < 60; reps += 7) {
                char *body = repeat(bodies[w], reps);
                body[strlen(body) - 1] = '\0';
                for (int ps = 0; ps < 4; ps++) {
                    const char *prefix = ps & 1 ? "(+2 suppressed)" : NULL;
                    const char *suffix = ps & 2 ? "https://x.example/f/0123456789" : NULL;
                    m2s_message msg = { 0 };
                    msg.subject = msg.from_addr = msg.from_name = (char *)"";
                    msg.body = body;
                    char *text = NULL, *why = NULL;
                    m2s_sms_count cnt;
                    bool tr = false;
                    ck_assert_int_eq(text_of(c, &msg, NULL, prefix, suffix, &text, &cnt, &tr,
                                             &why), M2S_OK);
                    char *full = xasprintf("%s%s%s%s%s", prefix ? prefix : "", prefix ? " " : "",
                                           body, suffix ? "\n" : "", suffix ? suffix : "");
                    m2s_sms_count whole;
                    m2s_sms_count_text(full, &whole);
                    const char *marker = whole.encoding == M2S_ENC_GSM7 ? "..." : "\xe2\x80\xa6";
                    char *want;
                    if (whole.parts <= mp) {
                        want = xstrdup(full);
                    } else if (!prefix && !suffix) {
                        bool cut = false;
                        want = m2s_sms_fit(body, mp, marker, &cut);
                        ck_assert(cut);
                    } else {
                        char *head = xasprintf("%s%s", prefix ? prefix : "", prefix ? " " : "");
                        char *tail = xasprintf("%s%s", suffix ? "\n" : "", suffix ? suffix : "");
                        want = m2s_sms_cut(head, body, tail, mp, marker);
                        free(head);
                        free(tail);
                    }
                    ck_assert_ptr_nonnull(want);
                    ck_assert_msg(strcmp(text, want) == 0, "mp %d body %zu reps %d ps %d:\n%s\nwant\n%s",
                                  mp, w, reps, ps, text, want);
                    ck_assert(tr == (whole.parts > mp));
                    m2s_sms_count mine;
                    m2s_sms_count_text(text, &mine);
                    ck_assert_int_eq(mine.parts, cnt.parts);
                    ck_assert_uint_eq(mine.units, cnt.units);
                    free(want);
                    free(full);
                    free(text);
                }
                free(body);
            }
        }
        m2s_config_free(c);
    }
}
END_TEST

/* A URL cut in the middle goes back to where its pieces meet, with the
 * suffix kept whole after it. */
START_TEST(test_truncate_url_with_suffix)
{
    m2s_config *c = cfg_load("message = { max_parts = 1; format = \"{body}\"; };\n");
    char *words = repeat("word ", 23);                 /* 115 characters */
    char *body = xasprintf("%shttps://grafana.example.com/alerting/grafana/abcdefghij/view",
                           words);
    m2s_message msg = { 0 };
    msg.subject = msg.from_addr = msg.from_name = (char *)"";
    msg.body = body;
    char *text = NULL, *why = NULL;
    m2s_sms_count cnt;
    bool tr = false;
    /* 160 - 3 - 17: 140 characters of the body, up to "example.c" */
    ck_assert_int_eq(text_of(c, &msg, NULL, NULL, "https://f.ex/abc", &text, &cnt, &tr, &why),
                     M2S_OK);
    char *want = xasprintf("%shttps://grafana.example...\nhttps://f.ex/abc", words);
    ck_assert_str_eq(text, want);
    ck_assert(tr);
    ck_assert_int_eq(cnt.parts, 1);
    free(want);
    free(text);
    free(body);
    free(words);
    m2s_config_free(c);
}
END_TEST

/* The body and the subject are tidied line by line: decoration and
 * blank lines go. */
START_TEST(test_tidy_decoration)
{
    /* tidying alone: condensing (check_condense.c) would drop more */
    m2s_config *c = cfg_load("message = { condense = false; };\n");
    m2s_mail *m = mail_new("** PROBLEM ** web01 =====",
                           "***** Nagios *****\n\n  Host:   web01  \n=====\nState: DOWN\n", NULL);
    m2s_message *msg = compose_ok(c, m, false);
    ck_assert_str_eq(msg->subject, "PROBLEM web01");
    ck_assert_str_eq(msg->body, "Nagios\nHost: web01\nState: DOWN");
    char *t = text_ok(c, msg, "== {subject} ==\\n\\n{body}", NULL, NULL);
    ck_assert_str_eq(t, "PROBLEM web01\nNagios\nHost: web01\nState: DOWN");
    free(t);
    m2s_message_free(msg);
    m2s_mail_free(m);
    m2s_config_free(c);
}
END_TEST

/* Only separators left by an empty placeholder go: the body's own first
 * characters stay (a minus sign, a list dash).
 * (Stripping every leading ":-|,; " of the whole text once sent "-5 C in
 * the server room" as "5 C in the server room".) */
START_TEST(test_empty_subject_keeps_body_start)
{
    m2s_config *c = cfg_load(NULL);
    static const char *const bodies[] = { "-5 C in the server room", "- disk1 failed\n- disk2 ok" };
    for (size_t i = 0; i < 2; i++) {
        m2s_mail *m = mail_new("", bodies[i], NULL);
        m2s_message *msg = compose_ok(c, m, false);
        char *t = text_ok(c, msg, NULL, NULL, NULL);
        ck_assert_str_eq(t, bodies[i]);
        free(t);
        m2s_message_free(msg);
        m2s_mail_free(m);
    }
    m2s_config_free(c);
}
END_TEST

/* ------------------------------------------------------ transliteration */

/* “Disk full” – it’s at 99… */
static const char curly[] = "\xe2\x80\x9c" "Disk full" "\xe2\x80\x9d" " " "\xe2\x80\x93" " it"
                            "\xe2\x80\x99" "s at 99" "\xe2\x80\xa6";

START_TEST(test_transliterate_on)
{
    m2s_config *c = cfg_load(NULL);             /* on by default */
    ck_assert(c->transliterate);
    m2s_mail *m = mail_new("", curly, NULL);
    m2s_message *msg = compose_ok(c, m, false);
    m2s_sms_count cnt;
    char *t = text_ok(c, msg, NULL, &cnt, NULL);
    ck_assert_int_eq(cnt.encoding, M2S_ENC_GSM7);
    ck_assert_ptr_nonnull(strstr(t, "\"Disk full\""));
    ck_assert_ptr_nonnull(strstr(t, "it's"));
    for (const unsigned char *p = (const unsigned char *)t; *p; p++)
        ck_assert_msg(*p < 0x80, "non-ASCII byte left in \"%s\"", t);
    free(t);
    m2s_message_free(msg);
    m2s_mail_free(m);
    m2s_config_free(c);
}
END_TEST

START_TEST(test_transliterate_off)
{
    m2s_config *c = cfg_load("message = { transliterate = false; };\n");
    m2s_mail *m = mail_new("", curly, NULL);
    m2s_message *msg = compose_ok(c, m, false);
    m2s_sms_count cnt;
    char *t = text_ok(c, msg, NULL, &cnt, NULL);
    ck_assert_int_eq(cnt.encoding, M2S_ENC_UCS2);
    ck_assert_ptr_nonnull(strstr(t, "\xe2\x80\x9c" "Disk full\xe2\x80\x9d"));
    free(t);
    m2s_message_free(msg);
    m2s_mail_free(m);
    m2s_config_free(c);
}
END_TEST

/* ------------------------------------------------------ reference / key */

START_TEST(test_reference_message_id)
{
    m2s_config *c = cfg_load(NULL);
    m2s_mail *m = mail_new("s", "b", NULL);
    m->message_id = xstrdup("20260105.1234@mon.example.com");
    m2s_message *msg = compose_ok(c, m, false);
    ck_assert_str_eq(msg->reference, "20260105.1234@mon.example.com");
    ck_assert_ptr_nonnull(msg->key);
    ck_assert_ptr_nonnull(strstr(msg->key, "20260105.1234@mon.example.com"));
    char *key1 = xstrdup(msg->key);
    m2s_message_free(msg);

    /* the same Message-ID in a different copy of the mail: the same key */
    const char other[] = "Received: by relay2\r\nFrom: a@b\r\n\r\nbody\r\n";
    m2s_status st = M2S_STATUS_INIT;
    ck_assert_int_eq(m2s_compose(c, m, other, strlen(other), "OTHERQID", false, &msg, &st),
                     M2S_OK);
    ck_assert_str_eq(msg->key, key1);
    ck_assert_str_eq(msg->reference, "20260105.1234@mon.example.com");
    m2s_message_free(msg);
    free(key1);
    m2s_mail_free(m);
    m2s_config_free(c);
}
END_TEST

START_TEST(test_reference_queue_id)
{
    m2s_config *c = cfg_load(NULL);
    m2s_mail *m = mail_new("s", "b", NULL);     /* no Message-ID */
    m2s_message *msg = compose_ok(c, m, false); /* queue id 4F3A21C0E2 */
    ck_assert_str_eq(msg->reference, "4F3A21C0E2");
    ck_assert_ptr_nonnull(strstr(msg->key, "4F3A21C0E2"));
    m2s_message_free(msg);
    m2s_mail_free(m);
    m2s_config_free(c);
}
END_TEST

static char *key_of(const m2s_config *c, const m2s_mail *m, const char *raw, const char *qid)
{
    m2s_message *msg = NULL;
    m2s_status st = M2S_STATUS_INIT;
    ck_assert_int_eq(m2s_compose(c, m, raw, strlen(raw), qid, false, &msg, &st), M2S_OK);
    ck_assert_ptr_null(msg->reference);
    char *k = xstrdup(msg->key);
    m2s_message_free(msg);
    return k;
}

START_TEST(test_key_hash)
{
    m2s_config *c = cfg_load(NULL);
    m2s_mail *m = mail_new("s", "b", NULL);
    const char a[] = "Subject: one\r\n\r\nfirst mail\r\n";
    const char b[] = "Subject: one\r\n\r\nfirst mail!\r\n";
    char *ka = key_of(c, m, a, NULL);
    char *ka2 = key_of(c, m, a, "");            /* an empty queue id is none */
    char *kb = key_of(c, m, b, NULL);
    ck_assert_msg(strncmp(ka, "sha256:", 7) == 0, "key %s", ka);
    ck_assert_uint_eq(strlen(ka), 7 + 64);
    for (const char *p = ka + 7; *p; p++)
        ck_assert(isxdigit((unsigned char)*p));
    ck_assert_str_eq(ka, ka2);
    ck_assert_str_ne(ka, kb);
    /* SHA-256 of "abc", FIPS 180-2 */
    char *kabc = key_of(c, m, "abc", NULL);
    ck_assert(strcasecmp(kabc + 7,
              "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad") == 0);
    free(ka);
    free(ka2);
    free(kb);
    free(kabc);
    m2s_mail_free(m);
    m2s_config_free(c);
}
END_TEST

/* ---------------------------------------------------------- X-SMS-* */

START_TEST(test_header_tags)
{
    m2s_config *c = cfg_load("message = { tags = [ \"ops\" ]; };\n");
    m2s_mail *m = mail_new("s", "b", NULL);
    mail_header(m, "X-SMS-Tags", " Alpha, beta team ,OPS");
    m2s_message *msg = compose_ok(c, m, true);
    ck_assert(m2s_strv_contains(&msg->tags, "ops"));
    ck_assert(m2s_strv_contains(&msg->tags, "alpha"));
    ck_assert(m2s_strv_contains(&msg->tags, "beta team"));
    ck_assert_uint_eq(msg->tags.n, 3);          /* "OPS" is "ops" again */
    m2s_message_free(msg);
    m2s_mail_free(m);

    m = mail_new("s", "b", NULL);
    mail_header(m, "x-sms-tags", "good, bad!tag");
    compose_refused(c, m, "X-SMS-Tags");
    m2s_mail_free(m);

    /* 1 from the configuration + 10 from the header: more than Bird's 10 */
    m = mail_new("s", "b", NULL);
    mail_header(m, "X-SMS-Tags", "t1,t2,t3,t4,t5,t6,t7,t8,t9,t10");
    compose_refused(c, m, "X-SMS-Tags");
    m2s_mail_free(m);

    /* exactly 10 is fine */
    m = mail_new("s", "b", NULL);
    mail_header(m, "X-SMS-Tags", "t1,t2,t3,t4,t5,t6,t7,t8,t9");
    msg = compose_ok(c, m, true);
    ck_assert_uint_eq(msg->tags.n, 10);
    m2s_message_free(msg);
    m2s_mail_free(m);
    m2s_config_free(c);
}
END_TEST

START_TEST(test_header_validity)
{
    m2s_config *c = cfg_load("message = { validity = 600; };\n");
    m2s_mail *m = mail_new("s", "b", NULL);
    m2s_message *msg = compose_ok(c, m, true);
    ck_assert_int_eq(msg->validity, 600);       /* from the configuration */
    m2s_message_free(msg);
    mail_header(m, "X-SMS-Validity", " 3600 ");
    msg = compose_ok(c, m, true);
    ck_assert_int_eq(msg->validity, 3600);
    m2s_message_free(msg);
    m2s_mail_free(m);

    static const char *const bad[] = { "abc", "0", "-5", "12abc", "", "99999999999999999999" };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        m = mail_new("s", "b", NULL);
        mail_header(m, "X-SMS-Validity", bad[i]);
        compose_refused(c, m, "X-SMS-Validity");
        m2s_mail_free(m);
    }
    m2s_config_free(c);
}
END_TEST

static char *rfc3339_in(long seconds, const char *zone)
{
    time_t t = time(NULL) + seconds;
    long off = 0;
    if (strcmp(zone, "Z") != 0) {
        int h = 0, mi = 0;
        sscanf(zone + 1, "%d:%d", &h, &mi);
        off = (h * 3600L + mi * 60L) * (zone[0] == '-' ? -1 : 1);
    }
    t += off;               /* the local time of that zone */
    struct tm tm;
    gmtime_r(&t, &tm);
    char buf[64];
    strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
    return xasprintf("%s%s", buf, zone);
}

START_TEST(test_header_scheduled_for)
{
    m2s_config *c = cfg_load(NULL);
    char *tomorrow = rfc3339_in(86400, "Z");
    m2s_mail *m = mail_new("s", "b", NULL);
    mail_header(m, "X-SMS-Scheduled-For", tomorrow);
    m2s_message *msg = compose_ok(c, m, true);
    ck_assert_ptr_nonnull(msg->scheduled_for);
    ck_assert_str_eq(msg->scheduled_for, tomorrow);
    m2s_message_free(msg);
    m2s_mail_free(m);

    char *offset = rfc3339_in(2 * 86400, "+02:00");
    m = mail_new("s", "b", NULL);
    mail_header(m, "X-SMS-Scheduled-For", offset);
    msg = compose_ok(c, m, true);
    ck_assert_str_eq(msg->scheduled_for, offset);
    m2s_message_free(msg);
    m2s_mail_free(m);

    /* 34 days ahead in a zone west of UTC is still within 35 days */
    char *west = rfc3339_in(34 * 86400, "-05:00");
    m = mail_new("s", "b", NULL);
    mail_header(m, "X-SMS-Scheduled-For", west);
    msg = compose_ok(c, m, true);
    ck_assert_str_eq(msg->scheduled_for, west);
    m2s_message_free(msg);
    m2s_mail_free(m);

    char *far = rfc3339_in(40 * 86400, "Z");
    static const char *const bad_fixed[] = {
        "2026-02-31T00:00:00Z", "2026-13-01T00:00:00Z", "tomorrow", "2026-01-05 08:00:00",
        "2026-01-05T08:00:00", "2026-01-05T25:00:00Z", "",
    };
    for (size_t i = 0; i < sizeof bad_fixed / sizeof bad_fixed[0] + 1; i++) {
        const char *v = i < sizeof bad_fixed / sizeof bad_fixed[0] ? bad_fixed[i] : far;
        m = mail_new("s", "b", NULL);
        mail_header(m, "X-SMS-Scheduled-For", v);
        compose_refused(c, m, "X-SMS-Scheduled-For");
        m2s_mail_free(m);
    }
    free(far);
    free(west);
    free(offset);
    free(tomorrow);
    m2s_config_free(c);
}
END_TEST

START_TEST(test_header_reference)
{
    m2s_config *c = cfg_load(NULL);
    m2s_mail *m = mail_new("s", "b", NULL);
    m->message_id = xstrdup("mid@example.com");
    mail_header(m, "X-SMS-Reference", "ticket-4711");
    m2s_message *msg = compose_ok(c, m, true);
    ck_assert_str_eq(msg->reference, "ticket-4711");
    m2s_message_free(msg);
    m2s_mail_free(m);
    m2s_config_free(c);
}
END_TEST

/* An untrusted sender's X-SMS-* headers change nothing, valid or not. */
START_TEST(test_headers_untrusted)
{
    m2s_config *c = cfg_load("message = { tags = [ \"ops\" ]; validity = 600; };\n");
    m2s_mail *m = mail_new("s", "b", NULL);
    m->message_id = xstrdup("mid@example.com");
    mail_header(m, "X-SMS-Tags", "extra");
    mail_header(m, "X-SMS-Validity", "60");
    char *when = rfc3339_in(3600, "Z");
    mail_header(m, "X-SMS-Scheduled-For", when);
    mail_header(m, "X-SMS-Reference", "spoofed");
    m2s_message *msg = compose_ok(c, m, false);
    ck_assert_uint_eq(msg->tags.n, 1);
    ck_assert_str_eq(msg->tags.v[0], "ops");
    ck_assert_int_eq(msg->validity, 600);
    ck_assert_ptr_null(msg->scheduled_for);
    ck_assert_str_eq(msg->reference, "mid@example.com");
    m2s_message_free(msg);
    m2s_mail_free(m);

    /* invalid ones are not an error either */
    m = mail_new("s", "b", NULL);
    mail_header(m, "X-SMS-Tags", "bad!tag");
    mail_header(m, "X-SMS-Validity", "abc");
    mail_header(m, "X-SMS-Scheduled-For", "2026-02-31T00:00:00Z");
    msg = compose_ok(c, m, false);
    ck_assert_int_eq(msg->validity, 600);
    m2s_message_free(msg);
    m2s_mail_free(m);

    /* the same headers, trusted, do count */
    m = mail_new("s", "b", NULL);
    mail_header(m, "X-SMS-Tags", "extra");
    mail_header(m, "X-SMS-Validity", "60");
    mail_header(m, "X-SMS-Scheduled-For", when);
    msg = compose_ok(c, m, true);
    ck_assert_uint_eq(msg->tags.n, 2);
    ck_assert_int_eq(msg->validity, 60);
    ck_assert_str_eq(msg->scheduled_for, when);
    m2s_message_free(msg);
    m2s_mail_free(m);
    free(when);
    m2s_config_free(c);
}
END_TEST

static Suite *make_suite(void)
{
    Suite *s = suite_create("compose");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_prefer_plain);
    tcase_add_test(tc, test_prefer_html);
    tcase_add_test(tc, test_prefer_auto);
    tcase_add_test(tc, test_subject_and_from);
    tcase_add_test(tc, test_expand_placeholders);
    tcase_add_test(tc, test_format_in_text);
    tcase_add_test(tc, test_empty_subject_no_dangling);
    tcase_add_test(tc, test_nothing_to_send);
    tcase_add_test(tc, test_too_long_reject);
    tcase_add_test(tc, test_truncate);
    tcase_add_test(tc, test_truncate_ucs2);
    tcase_add_test(tc, test_prefix_suffix_whole);
    tcase_add_test(tc, test_fit_many_lengths);
    tcase_add_test(tc, test_truncate_one_rule);
    tcase_add_test(tc, test_truncate_url_with_suffix);
    tcase_add_test(tc, test_tidy_decoration);
    tcase_add_test(tc, test_empty_subject_keeps_body_start);
    tcase_add_test(tc, test_transliterate_on);
    tcase_add_test(tc, test_transliterate_off);
    tcase_add_test(tc, test_reference_message_id);
    tcase_add_test(tc, test_reference_queue_id);
    tcase_add_test(tc, test_key_hash);
    tcase_add_test(tc, test_header_tags);
    tcase_add_test(tc, test_header_validity);
    tcase_add_test(tc, test_header_scheduled_for);
    tcase_add_test(tc, test_header_reference);
    tcase_add_test(tc, test_headers_untrusted);
    suite_add_tcase(s, tc);
    return s;
}
