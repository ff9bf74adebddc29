/* check_html.c - unit tests for html.c: HTML to text and boilerplate
 * detection. */
#include "build-config.h"

#include <stdlib.h>
#include <string.h>

#include "unit.h"
#include "html.h"
#include "util.h"

static char *conv(const char *html)
{
    return m2s_html_to_text(html, strlen(html), 0);
}

#define ASSERT_HTML(html, want) do { \
        char *got_ = conv(html); \
        ck_assert_msg(strcmp(got_, (want)) == 0, "html: %s\n got: [%s]\nwant: [%s]", \
                      (html), got_, (want)); \
        free(got_); \
    } while (0)

/* Does line (a whole line of text) occur in text? */
static bool has_line(const char *text, const char *line)
{
    size_t n = strlen(line);
    for (const char *p = text; (p = strstr(p, line)) != NULL; p++) {
        if ((p == text || p[-1] == '\n') && (p[n] == '\0' || p[n] == '\n'))
            return true;
    }
    return false;
}

START_TEST(test_dropped_parts)
{
    ASSERT_HTML("<html><head><title>T</title><style>p{color:red}</style>"
                "<script>var x = 1;</script></head><body><!-- hidden note -->"
                "<p>Visible</p><script>alert('x')</script><noscript>no js</noscript>"
                "<template><p>tpl</p></template></body></html>",
                "Visible");
}
END_TEST

START_TEST(test_breaks)
{
    ASSERT_HTML("line1<br>line2<br/>line3", "line1\nline2\nline3");
    ASSERT_HTML("a<br><br><br><br>b", "a\n\nb");
    ASSERT_HTML("<p>one</p><p>two</p>", "one\n\ntwo");
    ASSERT_HTML("<div>one</div><div>two</div>text", "one\ntwo\ntext");
    ASSERT_HTML("<h1>Title</h1>body", "Title\n\nbody");
    ASSERT_HTML("<p>  lots   of\n\n   space\t here  </p>", "lots of space here");
    ASSERT_HTML("<b>bold</b> <i>italic</i>", "bold italic");
    ASSERT_HTML("<pre>  a  b\n  c</pre>", "  a  b\n  c");
    ASSERT_HTML("<p>x</p><p></p><p></p><div></div><p>y</p>", "x\n\ny");
}
END_TEST

START_TEST(test_lists)
{
    ASSERT_HTML("<p>Items:</p><ul><li>one</li><li>two <b>2</b></li><li></li></ul><p>end</p>",
                "Items:\n\n- one\n- two 2\n\nend");
    ASSERT_HTML("<ol><li>first<ul><li>inner</li></ul></li><li>second</li></ol>",
                "- first\n- inner\n- second");
}
END_TEST

START_TEST(test_table)
{
    ASSERT_HTML("<table><tr><th>Host</th><th>State</th></tr>"
                "<tr><td>db1</td><td></td><td>DOWN</td></tr>"
                "<tr><td> </td><td>&nbsp;</td></tr>"
                "<tr><td>web <b>2</b></td><td>UP</td></tr></table>",
                "Host | State\ndb1 | DOWN\nweb 2 | UP");
    /* a layout table: a cell holding block content is not squashed into
     * one line with its neighbours */
    char *t = conv("<table><tr><td><p>Para one</p><p>Para two</p></td><td>side</td></tr></table>");
    ck_assert(has_line(t, "Para one"));
    ck_assert(has_line(t, "Para two"));
    ck_assert(has_line(t, "side"));
    free(t);
    /* Outlook wraps every cell in a paragraph: still one line per row */
    ASSERT_HTML("<table class=MsoNormalTable><tr><td><p class=MsoNormal>Host<o:p></o:p></p></td>"
                "<td><p class=MsoNormal><b>db1</b><o:p></o:p></p></td></tr></table>",
                "Host | db1");
    /* a cell with line breaks is laid out as lines */
    ASSERT_HTML("<table><tr><td>Labels<br>a = 1<br>b = 2</td><td>x</td></tr></table>",
                "Labels\na = 1\nb = 2\nx");
    /* nested tables: the inner rows give the lines */
    t = conv("<table><tr><td><table><tr><td>k1</td><td>v1</td></tr><tr><td>k2</td><td>v2</td></tr>"
             "</table></td></tr></table>");
    ck_assert_str_eq(t, "k1 | v1\nk2 | v2");
    free(t);
}
END_TEST

START_TEST(test_links)
{
    ASSERT_HTML("See <a href=\"https://example.com/x?id=1\">the graph</a> now",
                "See the graph (https://example.com/x?id=1) now");
    ASSERT_HTML("<a href=\"https://example.com/\">https://example.com</a>", "https://example.com");
    ASSERT_HTML("<a href=\"http://www.example.com/a\">example.com/a</a>", "example.com/a");
    ASSERT_HTML("Mail <a href=\"mailto:ops@example.com\">the ops team</a>.", "Mail the ops team.");
    ASSERT_HTML("<a href=\"javascript:void(0)\">Click</a> <a href=\"#top\">Top</a> <a href=\"\">E</a>",
                "Click Top E");
    ASSERT_HTML("<a href=\"https://t.example.com/track?u=abc&amp;id=9\">Read</a>",
                "Read (https://t.example.com/track?u=abc&id=9)");
    /* an image-only link with no alt gives nothing */
    ASSERT_HTML("<p>x<a href=\"https://social.example.com\"><img src=\"f.png\"></a></p>", "x");
}
END_TEST

START_TEST(test_images)
{
    ASSERT_HTML("<p>Hello<img src=\"https://t.example.com/o.gif\" width=\"1\" height=\"1\" alt=\"pixel\"></p>"
                "<img src=\"logo.png\" alt=\"ACME Monitoring\">"
                "<img src=\"x.gif\" style=\"display:none\" alt=\"hidden\">"
                "<img src=\"y.gif\" style=\"width:1px;height:1px\" alt=\"tiny\">"
                "<img src=\"z.gif\" width=\"0\" alt=\"zero\">"
                "<img src=\"deco.png\" alt=\"\">"
                "<p>See <a href=\"https://g.example.com/d/1\"><img src=\"b.png\" alt=\"View alert\"></a></p>",
                "Hello\n\nSee View alert (https://g.example.com/d/1)");
}
END_TEST

START_TEST(test_entities)
{
    ASSERT_HTML("<p>R&amp;D caf&eacute;&nbsp;&nbsp;bar wait&#8230; &lt;tag&gt; &#x20AC;5 &quot;q&quot;</p>",
                "R&D caf\xc3\xa9 bar wait\xe2\x80\xa6 <tag> \xe2\x82\xac" "5 \"q\"");
    /* raw UTF-8 passes through */
    ASSERT_HTML("<p>\xd0\x9f\xd1\x80\xd0\xb8\xd0\xb2\xd0\xb5\xd1\x82 \xf0\x9f\x98\x80</p>",
                "\xd0\x9f\xd1\x80\xd0\xb8\xd0\xb2\xd0\xb5\xd1\x82 \xf0\x9f\x98\x80");
}
END_TEST

START_TEST(test_hidden)
{
    ASSERT_HTML("<body><div style=\"display: none; max-height:0; overflow:hidden\">Preheader teaser</div>"
                "<span style=\"VISIBILITY:hidden\">invisible</span>"
                "<p hidden>hidden attr</p>"
                "<p style=\"display:block\">Shown</p></body>",
                "Shown");
}
END_TEST

START_TEST(test_alertmanager)
{
    const char *html =
        "<!DOCTYPE html PUBLIC \"-//W3C//DTD XHTML 1.0 Transitional//EN\">\n"
        "<html xmlns=\"http://www.w3.org/1999/xhtml\"><head>"
        "<meta name=\"viewport\" content=\"width=device-width\" />"
        "<meta http-equiv=\"Content-Type\" content=\"text/html; charset=UTF-8\" />"
        "<title>[FIRING:2] HighCPU (prod)</title>"
        "<style>body { -webkit-font-smoothing: antialiased; } .alert { font-size: 16px; }</style>"
        "</head>\n<body itemscope itemtype=\"http://schema.org/EmailMessage\">\n"
        "<table class=\"body-wrap\">\n<tr>\n<td></td>\n"
        "<td class=\"container\" width=\"600\">\n<div class=\"content\">\n"
        "<table class=\"main\" width=\"100%\" cellpadding=\"0\" cellspacing=\"0\">\n"
        "<tr>\n<td class=\"alert alert-warning\">\n  2 alerts for alertname=HighCPU env=prod\n</td>\n</tr>\n"
        "<tr>\n<td class=\"content-wrap\">\n<table width=\"100%\" cellpadding=\"0\" cellspacing=\"0\">\n"
        "<tr>\n<td class=\"content-block\">\n"
        "<a href='http://am.example.com:9093/#/alerts?receiver=sms' class=\"btn-primary\">View in Alertmanager</a>\n"
        "</td>\n</tr>\n"
        "<tr>\n<td class=\"content-block\">\n<strong>[2] Firing</strong>\n</td>\n</tr>\n"
        "<tr>\n<td class=\"content-block\">\n<strong>Labels</strong><br />\n"
        "alertname = HighCPU<br />\ninstance = web1:9100<br />\n"
        "<strong>Annotations</strong><br />\nsummary = CPU &gt; 90%<br />\n"
        "<a href=\"http://prom.example.com/graph?g0.expr=cpu\">Source</a><br />\n</td>\n</tr>\n"
        "<tr>\n<td class=\"content-block\">\n<strong>Labels</strong><br />\n"
        "alertname = HighCPU<br />\ninstance = web2:9100<br />\n</td>\n</tr>\n"
        "</table>\n</td>\n</tr>\n</table>\n"
        "<div class=\"footer\">\n<table width=\"100%\">\n<tr>\n"
        "<td class=\"aligncenter content-block\"><a href='http://am.example.com:9093/#/status'>Sent by Alertmanager</a></td>\n"
        "</tr>\n</table>\n</div></div>\n</td>\n<td></td>\n</tr>\n</table>\n</body>\n</html>\n";
    char *t = conv(html);
    /* the first line names the alert */
    ck_assert_msg(strncmp(t, "2 alerts for alertname=HighCPU env=prod\n", 40) == 0, "got [%s]", t);
    ck_assert(has_line(t, "[2] Firing"));
    ck_assert(has_line(t, "alertname = HighCPU"));
    ck_assert(has_line(t, "instance = web1:9100"));
    ck_assert(has_line(t, "instance = web2:9100"));
    ck_assert(has_line(t, "summary = CPU > 90%"));
    ck_assert(has_line(t, "Source (http://prom.example.com/graph?g0.expr=cpu)"));
    ck_assert(has_line(t, "View in Alertmanager (http://am.example.com:9093/#/alerts?receiver=sms)"));
    ck_assert(strstr(t, "FIRING:2") == NULL);       /* the title is gone */
    ck_assert(strstr(t, "font-smoothing") == NULL);
    ck_assert(strstr(t, "\n\n\n") == NULL);
    ck_assert(strstr(t, " \n") == NULL);
    free(t);
}
END_TEST

START_TEST(test_garbage)
{
    static const char *const junk[] = {
        "<", "<<<>>>", "<p", "<table><tr><td>a<td>b", "<div><p><b>x</div></i></table>",
        "</p></p>text</html>", "<a href=>x", "<img>", "<!-- unclosed", "<![CDATA[x]]>",
        "\xff\xfe<p>bad utf8 \xc3</p>", "<script>never closed", "&#0;&#xD800;&bogus;",
        "<ul><li><ul><li><ul><li>deep", "<br><br><br>",
    };
    for (size_t i = 0; i < sizeof junk / sizeof junk[0]; i++) {
        char *t = conv(junk[i]);
        ck_assert_ptr_nonnull(t);
        ck_assert(strstr(t, "\n\n\n") == NULL);
        free(t);
    }
    char *t;
    ASSERT_HTML("<table><tr><td>a<td>b", "a | b");
    /* invalid UTF-8 becomes U+FFFD, never raw bytes in the output */
    ASSERT_HTML("<p>caf\xe9 ok</p><p>\xc3\xa9t\xc3\xa9</p>", "caf\xef\xbf\xbd ok\n\n\xc3\xa9t\xc3\xa9");
    /* a NUL byte does not end the document */
    t = m2s_html_to_text("<p>a</p>\0<p>b</p>", 17, 0);
    ck_assert_str_eq(t, "a\n\nb");
    free(t);
    ASSERT_HTML("<div><p><b>x</div></i></table>", "x");

    t = m2s_html_to_text("", 0, 0);
    ck_assert_str_eq(t, "");
    free(t);
    t = m2s_html_to_text(NULL, 0, 0);
    ck_assert_str_eq(t, "");
    free(t);
    /* only the given length is read */
    t = m2s_html_to_text("<p>abc</p><p>IGNORED</p>", 10, 0);
    ck_assert_str_eq(t, "abc");
    free(t);
    ASSERT_HTML("<html><head><style>x</style></head><body> </body></html>", "");

    /* deep nesting does not blow up */
    m2s_buf b;
    m2s_buf_init(&b);
    for (int i = 0; i < 3000; i++)
        m2s_buf_adds(&b, "<div>");
    m2s_buf_adds(&b, "deep");
    t = m2s_html_to_text(b.data, b.len, 0);
    ck_assert_ptr_nonnull(t);
    free(t);
    m2s_buf_clear(&b);
}
END_TEST

/* max_text stops early, and what comes out is the start of the whole. */
START_TEST(test_max_text)
{
    m2s_buf b;
    m2s_buf_init(&b);
    m2s_buf_adds(&b, "<html><head><style>p { color: red }</style></head><body>");
    for (int i = 0; i < 2000; i++)
        m2s_buf_printf(&b, "<p>Paragraph %d of the digest.</p><pre>   </pre>"
                           "<table><tr><td>cell %d</td><td>x</td></tr></table>", i, i);
    m2s_buf_adds(&b, "</body></html>");
    char *all = m2s_html_to_text(b.data, b.len, 0);
    char *part = m2s_html_to_text(b.data, b.len, 4096);
    size_t n = strlen(part);
    ck_assert_uint_ge(n, 4096);
    ck_assert_uint_lt(n, strlen(all) / 4);
    ck_assert_int_eq(strncmp(part, all, n), 0);
    ck_assert(strstr(all, "Paragraph 1999 of the digest.") != NULL);
    ck_assert(strstr(part, "Paragraph 1999") == NULL);
    free(all);
    free(part);
    m2s_buf_clear(&b);
}
END_TEST

START_TEST(test_boilerplate)
{
    static const char *const yes[] = {
        "",
        "   \n\t ",
        "View this email in your browser",
        "View this email in your browser: https://mailchi.mp/abc/def?e=123",
        "This email requires an HTML-capable client.",
        "To view this email as a web page, click here: https://example.com/v/1",
        "Your email client does not support HTML. Please open https://example.com/m in your browser.",
        "If you cannot read this message, please click here <https://example.com/x>",
        "VIEW THIS MESSAGE IN A BROWSER\nhttp://example.com/1\n",
        "This is a multi-part message in MIME format.",
        "This message contains graphics. If you do not see the graphics, click here to view.",
        "View online: https://example.com/n/1\n\nUnsubscribe: https://example.com/u",
        "Having trouble viewing this email? View it online: https://e.example.com/o",
    };
    static const char *const no[] = {
        "Disk /var is 95% full on db1. View this email in your browser: https://example.com/v",
        "CRITICAL: web1 is DOWN (ping timeout). Details: https://nagios.example.com/host/web1",
        "Firing: HighCPU instance=web1 value=97%",
        "Your order 1234 has shipped and will arrive on Monday.",
        "Backup job nightly-db failed with exit code 2 at 03:14. "
        "If you cannot read this message, contact the admin.",
    };
    for (size_t i = 0; i < sizeof yes / sizeof yes[0]; i++)
        ck_assert_msg(m2s_text_is_boilerplate(yes[i]), "should be boilerplate: %s", yes[i]);
    for (size_t i = 0; i < sizeof no / sizeof no[0]; i++)
        ck_assert_msg(!m2s_text_is_boilerplate(no[i]), "should not be boilerplate: %s", no[i]);

    /* long text is never boilerplate, even when it starts with the phrase */
    m2s_buf b;
    m2s_buf_init(&b);
    m2s_buf_adds(&b, "View this email in your browser. ");
    for (int i = 0; i < 40; i++)
        m2s_buf_adds(&b, "Server db1 reports load. ");
    ck_assert(!m2s_text_is_boilerplate(b.data));
    m2s_buf_clear(&b);
}
END_TEST

static Suite *make_suite(void)
{
    Suite *s = suite_create("html");
    TCase *tc = tcase_create("convert");
    tcase_add_test(tc, test_dropped_parts);
    tcase_add_test(tc, test_breaks);
    tcase_add_test(tc, test_lists);
    tcase_add_test(tc, test_table);
    tcase_add_test(tc, test_links);
    tcase_add_test(tc, test_images);
    tcase_add_test(tc, test_entities);
    tcase_add_test(tc, test_hidden);
    tcase_add_test(tc, test_alertmanager);
    tcase_add_test(tc, test_garbage);
    tcase_add_test(tc, test_max_text);
    suite_add_tcase(s, tc);
    tc = tcase_create("boilerplate");
    tcase_add_test(tc, test_boilerplate);
    suite_add_tcase(s, tc);
    return s;
}
