/* compose.c - what the SMS says: the body chosen and tidied, the subject
 * squashed, message options gathered; then, per number, the formatted
 * text held to message.max_parts. */
#include "build-config.h"

#include <ctype.h>
#include <errno.h>
#include <glib.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "compose.h"
#include "condense.h"
#include "html.h"
#include "log.h"
#include "rules.h"

#define BODY_WORK_BYTES (32 * 1024)
#define BOILERPLATE_LINES 8     /* opening lines checked for "view in browser" */

/* ------------------------------------------------------------ body */

/* The HTML as text, without the lines that only point elsewhere ("View
 * this email in your browser", "Unsubscribe"): newsletters and alert
 * mails put them first, where they would take the SMS's first line. */
static char *html_text(const char *html)
{
    /* Past twice what is kept of a body, the rest cannot change it. */
    char *text = m2s_html_to_text(html, strlen(html), 2 * BODY_WORK_BYTES);
    m2s_buf b;
    m2s_buf_init(&b);
    m2s_buf_adds(&b, "");
    int looked = 0;
    for (const char *p = text; *p;) {
        size_t n = strcspn(p, "\n");
        char *line = xstrndup(p, n);
        bool blank = line[strspn(line, " \t")] == '\0';
        /* Such lines come first; the rest of a long mail is left alone. */
        bool drop = !blank && looked < BOILERPLATE_LINES && m2s_text_is_boilerplate(line);
        if (!blank)
            looked++;
        if (!drop) {
            m2s_buf_adds(&b, line);
            m2s_buf_addc(&b, '\n');
        }
        free(line);
        p += n;
        if (*p == '\n')
            p++;
    }
    free(text);
    return m2s_buf_steal(&b);
}

static char *choose_body(const m2s_config *cfg, const m2s_mail *mail)
{
    const char *plain = mail->text_plain;
    const char *html = mail->text_html;
    bool use_html;
    switch (cfg->prefer) {
    case M2S_PREFER_PLAIN:
        use_html = !plain && html;
        break;
    case M2S_PREFER_HTML:
        use_html = html != NULL;
        break;
    default:    /* auto: plain, unless it is only "view in a browser" boilerplate */
        use_html = html && (!plain || m2s_text_is_boilerplate(plain));
        break;
    }
    if (use_html)
        return html_text(html);
    return xstrdup(plain ? plain : "");
}

/* HTML mails often open with the subject, or the start of it, as a
 * heading: said once is enough. */
static void drop_repeated_subject(m2s_message *msg)
{
    size_t n = strcspn(msg->body, "\n");
    size_t sl = strlen(msg->subject);
    if (sl == 0 || n > sl || (n < sl && n < 12) ||
        strncasecmp(msg->body, msg->subject, n) != 0)
        return;
    const char *rest = msg->body + n;
    if (*rest == '\n')
        rest++;
    char *body = xstrdup(rest);
    free(msg->body);
    msg->body = body;
}

/* ------------------------------------------------ X-SMS-* options */

static bool parse_rfc3339(const char *s, time_t *out)
{
    struct tm tm;
    memset(&tm, 0, sizeof tm);
    int n = 0;
    if (sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2d%n", &tm.tm_year, &tm.tm_mon, &tm.tm_mday,
               &tm.tm_hour, &tm.tm_min, &tm.tm_sec, &n) != 6 || n != 19)
        return false;
    const char *p = s + n;
    if (*p == '.') {
        p++;
        if (!isdigit((unsigned char)*p))
            return false;
        while (isdigit((unsigned char)*p))
            p++;
    }
    long offset = 0;
    if (*p == 'Z' || *p == 'z') {
        p++;
    } else if (*p == '+' || *p == '-') {
        int oh, om, m = 0;
        if (sscanf(p + 1, "%2d:%2d%n", &oh, &om, &m) != 2 || m != 5 || oh > 23 || om > 59)
            return false;
        offset = (oh * 3600L + om * 60L) * (*p == '-' ? -1 : 1);
        p += 6;
    } else {
        return false;
    }
    if (*p)
        return false;
    if (tm.tm_mon < 1 || tm.tm_mon > 12 || tm.tm_mday < 1 || tm.tm_mday > 31 ||
        tm.tm_hour > 23 || tm.tm_min > 59 || tm.tm_sec > 60)
        return false;
    tm.tm_year -= 1900;
    tm.tm_mon -= 1;
    int mday = tm.tm_mday;
    time_t t = timegm(&tm);
    if (t == (time_t)-1 || tm.tm_mday != mday)     /* 31 February and the like */
        return false;
    *out = t - offset;
    return true;
}

static m2s_class header_options(const m2s_mail *mail, m2s_message *msg, char **why)
{
    const char *v;
    if ((v = m2s_mail_header(mail, "X-SMS-Tags"))) {
        char *copy = xstrdup(v);
        char *save = NULL;
        for (char *t = strtok_r(copy, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
            char *tag = m2s_text_squash(t);
            for (char *c = tag; *c; c++)
                *c = (char)tolower((unsigned char)*c);
            if (!m2s_rules_tag_valid(tag)) {
                *why = xasprintf("invalid X-SMS-Tags header: tag \"%s\" must be 1-%d letters, "
                                 "digits, '-', '_' or spaces", tag, M2S_RULES_TAG_MAX_LEN);
                free(tag);
                free(copy);
                return M2S_E_CONTENT;
            }
            if (!m2s_strv_contains(&msg->tags, tag))
                m2s_strv_take(&msg->tags, tag);
            else
                free(tag);
        }
        free(copy);
        if (msg->tags.n > M2S_RULES_MAX_TAGS) {
            *why = xasprintf("invalid X-SMS-Tags header: %zu tags, at most %d", msg->tags.n,
                             M2S_RULES_MAX_TAGS);
            return M2S_E_CONTENT;
        }
    }
    if ((v = m2s_mail_header(mail, "X-SMS-Validity"))) {
        char *end;
        errno = 0;
        while (isspace((unsigned char)*v))
            v++;
        long long n = strtoll(v, &end, 10);
        while (isspace((unsigned char)*end))
            end++;
        if (!isdigit((unsigned char)*v) || *end || errno || n < M2S_RULES_VALIDITY_MIN ||
            n > M2S_RULES_VALIDITY_MAX) {
            *why = xasprintf("invalid X-SMS-Validity header \"%s\": seconds from %d to %d", v,
                             M2S_RULES_VALIDITY_MIN, M2S_RULES_VALIDITY_MAX);
            return M2S_E_CONTENT;
        }
        msg->validity = (long)n;
    }
    if ((v = m2s_mail_header(mail, "X-SMS-Scheduled-For"))) {
        char *s = m2s_text_squash(v);
        time_t t;
        if (!parse_rfc3339(s, &t)) {
            *why = xasprintf("invalid X-SMS-Scheduled-For header \"%s\": an RFC 3339 time "
                             "such as 2026-01-31T08:00:00Z", s);
            free(s);
            return M2S_E_CONTENT;
        }
        if (t > time(NULL) + M2S_RULES_SCHEDULE_MAX_DAYS * 86400L) {
            *why = xasprintf("invalid X-SMS-Scheduled-For header \"%s\": more than %d days ahead",
                             s, M2S_RULES_SCHEDULE_MAX_DAYS);
            free(s);
            return M2S_E_CONTENT;
        }
        free(msg->scheduled_for);
        msg->scheduled_for = s;
    }
    if ((v = m2s_mail_header(mail, "X-SMS-Reference"))) {
        char *s = m2s_text_squash(v);
        if (!*s || strlen(s) > M2S_RULES_REFERENCE_MAX) {
            *why = xasprintf("invalid X-SMS-Reference header: 1 to %d characters",
                             M2S_RULES_REFERENCE_MAX);
            free(s);
            return M2S_E_CONTENT;
        }
        free(msg->reference);
        msg->reference = s;
    }
    return M2S_OK;
}

static char *sha256_hex(const char *data, size_t len)
{
    gchar *h = g_compute_checksum_for_data(G_CHECKSUM_SHA256, (const guchar *)data, len);
    char *out = xasprintf("sha256:%s", h);
    g_free(h);
    return out;
}

m2s_class m2s_compose(const m2s_config *cfg, const m2s_mail *mail,
                      const char *raw, size_t raw_len, const char *queue_id,
                      bool trusted, m2s_message **out, m2s_status *st)
{
    m2s_class cls = M2S_OK;
    char *why = NULL;
    m2s_message *msg = xcalloc(1, sizeof *msg);
    *out = NULL;

    char *squashed = m2s_text_squash(mail->subject ? mail->subject : "");
    msg->subject = m2s_text_tidy_lines(squashed);
    free(squashed);
    size_t sl = strlen(msg->subject);
    while (sl > 0 && strchr(":;,|- ", msg->subject[sl - 1]))
        msg->subject[--sl] = '\0';
    char *body = choose_body(cfg, mail);
    /* Only the start of a long body can reach a phone; tidying needs some
     * room (quoted history and signatures are cut after it), not all of a
     * 200 KB newsletter. Cut at a line end. */
    size_t blen = strlen(body);
    if (blen > BODY_WORK_BYTES) {
        size_t cut = BODY_WORK_BYTES;
        while (cut > 0 && body[cut] != '\n')
            cut--;
        body[cut ? cut : BODY_WORK_BYTES] = '\0';
        size_t b = strlen(body);
        while (b > 0 && ((unsigned char)body[b - 1] & 0xC0) == 0x80)
            b--;    /* never leave half a character */
        if (b > 0 && ((unsigned char)body[b - 1] & 0xC0) == 0xC0)
            body[b - 1] = '\0';
    }
    m2s_tidy_opts opts = {
        .strip_signature = cfg->strip_signature,
        .strip_quotes = cfg->strip_quotes,
        .collapse_blank = cfg->collapse_blank,
        .strip = &cfg->strip_patterns,
    };
    char *tidied = m2s_text_tidy(body, &opts);
    msg->body = m2s_text_tidy_lines(tidied);
    free(tidied);
    free(body);
    drop_repeated_subject(msg);
    m2s_compose_condense(cfg, mail, msg);
    msg->from_addr = xstrdup(mail->from_addr ? mail->from_addr : "");
    msg->from_name = xstrdup(mail->from_name ? mail->from_name : "");

    const char *qid = queue_id && *queue_id ? queue_id : NULL;
    if (mail->message_id && *mail->message_id) {
        msg->reference = xstrdup(mail->message_id);
        msg->key = xasprintf("mid:%s", mail->message_id);
    } else if (qid) {
        msg->reference = xstrdup(qid);
        msg->key = xasprintf("qid:%s", qid);
    } else {
        msg->key = sha256_hex(raw, raw_len);
    }
    for (size_t i = 0; i < cfg->tags.n; i++)
        m2s_strv_add(&msg->tags, cfg->tags.v[i]);
    msg->validity = cfg->validity;

    if (trusted)
        cls = header_options(mail, msg, &why);
    if (cls != M2S_OK) {
        m2s_message_free(msg);
        return m2s_status_take(st, cls, NULL, why);
    }
    *out = msg;
    return M2S_OK;
}

/* ---------------------------------------------------------- format */

char *m2s_compose_expand(const char *fmt, const m2s_message *msg)
{
    m2s_text_fields f = { msg->subject, msg->body, msg->from_addr, msg->from_name };
    return m2s_text_expand(fmt, &f);
}

/* s with GSM-7 stand-ins for curly quotes, dashes and the like, when
 * message.transliterate is on and that makes it GSM-7; a text that stays
 * UCS-2 anyway (emoji, Cyrillic, CJK) keeps its own characters. */
static char *transliterated(const m2s_config *cfg, const char *s)
{
    if (!cfg->transliterate)
        return xstrdup(s);
    char *t = m2s_transliterate(s);
    m2s_sms_count c;
    m2s_sms_count_text(t, &c);
    if (c.encoding == M2S_ENC_GSM7)
        return t;
    free(t);
    return xstrdup(s);
}

m2s_class m2s_compose_text(const m2s_config *cfg, const m2s_message *msg,
                           const char *fmt, const char *prefix,
                           const char *suffix, char **text,
                           m2s_sms_count *count, bool *truncated, m2s_status *st)
{
    m2s_class cls = M2S_OK;
    char *expanded = m2s_compose_expand(fmt ? fmt : cfg->format, msg);
    /* No SMS part holds more than 160 characters, so a text of more than
     * twice max_parts * 160 characters is cut whatever happens: cut it
     * now, before the work that is linear in its length. */
    size_t limit = m2s_utf8_offset(expanded, (size_t)cfg->max_parts * 320);
    bool precut = expanded[limit] != '\0';
    expanded[limit] = '\0';
    char *tidy = m2s_text_tidy_lines(expanded);
    char *core = transliterated(cfg, tidy);
    char *pre = prefix ? transliterated(cfg, prefix) : NULL;
    char *suf = suffix ? transliterated(cfg, suffix) : NULL;
    /* prefix and suffix with their separators: "prefix core\nsuffix" */
    char *head = pre && *pre ? xasprintf("%s ", pre) : xstrdup("");
    char *tail = suf && *suf ? xasprintf("\n%s", suf) : xstrdup("");
    char *full = NULL;
    *text = NULL;
    *truncated = false;

    if (!*core) {
        cls = m2s_status_set(st, M2S_E_CONTENT, NULL,
                             "nothing to send: the mail has no subject and no text");
        goto out;
    }
    full = xasprintf("%s%s%s", head, core, tail);
    m2s_sms_count_text(full, count);
    if (count->parts <= cfg->max_parts && !precut) {
        *text = full;
        full = NULL;
        goto out;
    }
    if (cfg->on_too_long == M2S_TOO_LONG_REJECT) {
        cls = m2s_status_set(st, M2S_E_CONTENT, NULL, "message too long: %s%d SMS parts, "
                             "message.max_parts is %ld", precut ? "more than " : "",
                             count->parts, cfg->max_parts);
        goto out;
    }
    /* The core is cut, prefix and suffix stay whole; the marker is the
     * one of the whole text's encoding (*count is still its count). */
    *text = m2s_sms_cut(head, core, tail, (int)cfg->max_parts,
                        m2s_sms_marker(count->encoding));
    if (!*text) {
        cls = m2s_status_set(st, M2S_E_CONTENT, NULL,
                             "message cannot be made to fit message.max_parts");
        goto out;
    }
    m2s_sms_count_text(*text, count);
    *truncated = true;
out:
    free(full);
    free(tail);
    free(head);
    free(suf);
    free(pre);
    free(core);
    free(tidy);
    free(expanded);
    return cls;
}

/* ------------------------------------------------------- condensing */

void m2s_compose_condense(const m2s_config *cfg, const m2s_mail *mail, m2s_message *msg)
{
    bool other = false;
    for (size_t i = 0; i < cfg->n_aliases; i++)
        if (cfg->aliases[i].condense >= 0 && (cfg->aliases[i].condense != 0) != cfg->condense)
            other = true;
    if (!cfg->condense && !other)
        return;
    char *s = xstrdup(msg->subject), *b = xstrdup(msg->body);
    m2s_condense_info info = { 0 };
    m2s_condense_text(cfg, mail, &s, &b, &info);
    for (size_t i = 0; i < info.log.n; i++)
        m2s_debug("condense: %s", info.log.v[i]);
    m2s_condense_info_clear(&info);
    if (cfg->condense) {
        /* the message is the condensed text; the other, as it came */
        if (other) {
            msg->alt_subject = msg->subject;
            msg->alt_body = msg->body;
        } else {
            free(msg->subject);
            free(msg->body);
        }
        msg->subject = s;
        msg->body = b;
    } else if (other) {
        msg->alt_subject = s;
        msg->alt_body = b;
    } else {
        free(s);
        free(b);
    }
}

const m2s_message *m2s_compose_for_alias(const m2s_config *cfg, const m2s_message *msg,
                                         const m2s_alias *alias, m2s_message *view)
{
    if (!alias || alias->condense < 0 || (alias->condense != 0) == cfg->condense ||
        !msg->alt_subject || !msg->alt_body)
        return msg;
    /* alt holds the text of the setting message.condense does not have:
     * an alias that asks for it gets it */
    *view = *msg;
    view->subject = msg->alt_subject;
    view->body = msg->alt_body;
    view->alt_subject = NULL;
    view->alt_body = NULL;
    return view;
}

/* ------------------------------------------------------ per number */

static char *media_links(const m2s_media_set *media)
{
    m2s_buf b;
    m2s_buf_init(&b);
    for (size_t i = 0; i < media->n; i++) {
        if (!media->items[i].url)
            continue;
        if (b.len)
            m2s_buf_addc(&b, '\n');
        m2s_buf_adds(&b, media->items[i].url);
    }
    return m2s_buf_steal(&b);
}

/* What follows the text: the media's URLs (a number without MMS, under
 * media.non_mms = "links") and their note. New string or NULL. */
static char *media_suffix(const m2s_config *cfg, const m2s_media_set *media, bool mms,
                          bool *links_used)
{
    char *note = m2s_media_note(cfg, media, mms);
    char *links = media->n > 0 && !mms && cfg->non_mms == M2S_NON_MMS_LINKS
                      ? media_links(media) : NULL;
    char *suffix = NULL;
    *links_used = links && *links;
    if (*links_used && note)
        suffix = xasprintf("%s\n%s", links, note);
    else if (*links_used)
        suffix = xstrdup(links);
    else if (note)
        suffix = xstrdup(note);
    free(links);
    free(note);
    return suffix;
}

m2s_class m2s_compose_sms(const m2s_config *cfg, const m2s_message *msg,
                          const m2s_alias *alias, const char *number, long suppressed,
                          const m2s_media_set *media, m2s_sms *out, m2s_status *st)
{
    const m2s_template *tmpl = alias && alias->tmpl ? alias->tmpl : cfg->tmpl;
    const char *fmt = alias && alias->format ? alias->format : NULL;
    char *prefix = suppressed > 0 ? xasprintf("(+%ld suppressed)", suppressed) : NULL;
    char *suffix = NULL;
    bool links_used = false;
    m2s_class cls = M2S_OK;
    m2s_message view;

    memset(out, 0, sizeof *out);
    msg = m2s_compose_for_alias(cfg, msg, alias, &view);
    out->subject = msg->subject;
    out->mms = media && media->n > 0 && m2s_media_mms_for(cfg, number);
    if (tmpl) {
        out->tmpl = tmpl;
        for (size_t i = 0; i < tmpl->param_values.n; i++)
            m2s_strv_take(&out->tmpl_values, m2s_compose_expand(tmpl->param_values.v[i], msg));
        goto out;
    }
    if (media)
        suffix = media_suffix(cfg, media, out->mms, &links_used);
    cls = m2s_compose_text(cfg, msg, fmt, prefix, suffix, &out->text, &out->count,
                           &out->truncated, st);
    if (cls == M2S_E_CONTENT && links_used && cfg->on_too_long == M2S_TOO_LONG_TRUNCATE) {
        /* The links alone do not fit in message.max_parts (long file
         * names): say so instead of losing the alert. */
        m2s_status_clear(st);
        free(suffix);
        suffix = xasprintf("[%zu attachment%s: links too long for SMS]", media->n,
                           media->n == 1 ? "" : "s");
        cls = m2s_compose_text(cfg, msg, fmt, prefix, suffix, &out->text, &out->count,
                               &out->truncated, st);
    }
out:
    if (cls != M2S_OK)
        m2s_sms_clear(out);
    free(suffix);
    free(prefix);
    return cls;
}

void m2s_sms_clear(m2s_sms *sms)
{
    free(sms->text);
    m2s_strv_clear(&sms->tmpl_values);
    memset(sms, 0, sizeof *sms);
}

void m2s_message_free(m2s_message *msg)
{
    if (!msg)
        return;
    free(msg->subject);
    free(msg->body);
    free(msg->from_addr);
    free(msg->from_name);
    free(msg->reference);
    free(msg->key);
    m2s_strv_clear(&msg->tags);
    free(msg->scheduled_for);
    free(msg->alt_subject);
    free(msg->alt_body);
    free(msg);
}
