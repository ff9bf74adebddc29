/* text.c - body tidying, GSM-7 / UCS-2 counting, transliteration and
 * truncation of SMS text.
 *
 * Part counting follows what a handset and an SMSC actually do when they
 * segment a long message: a GSM-7 escape pair (extension character) and a
 * UTF-16 surrogate pair are never split across two parts, so the real
 * number of parts is found by greedy segmentation, not by plain division.
 */
#include "build-config.h"

#include <ctype.h>
#include <regex.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "text.h"

#define GSM7_SINGLE 160
#define GSM7_MULTI 153
#define UCS2_SINGLE 70
#define UCS2_MULTI 67

/* ------------------------------------------------------------ UTF-8 */

/* Decode one code point from s (at most n bytes). Returns the number of
 * bytes consumed (>= 1 when n >= 1). Invalid or truncated sequences give
 * U+FFFD for the maximal invalid subpart (Unicode's recommended practice). */
static size_t utf8_decode(const unsigned char *s, size_t n, unsigned int *cp)
{
    unsigned int c = s[0];
    size_t need;
    unsigned int min, v;

    if (c < 0x80) {
        *cp = c;
        return 1;
    }
    if (c >= 0xC2 && c <= 0xDF) {
        need = 1; v = c & 0x1F; min = 0x80;
    } else if (c >= 0xE0 && c <= 0xEF) {
        need = 2; v = c & 0x0F; min = 0x800;
    } else if (c >= 0xF0 && c <= 0xF4) {
        need = 3; v = c & 0x07; min = 0x10000;
    } else {
        *cp = 0xFFFD;
        return 1;
    }
    size_t i;
    for (i = 1; i <= need; i++) {
        if (i >= n || (s[i] & 0xC0) != 0x80)
            break;
        unsigned int b = s[i];
        /* Reject overlongs and surrogates / > U+10FFFF at the 2nd byte, so
         * the invalid subpart ends where a decoder must stop. */
        if (i == 1) {
            if ((c == 0xE0 && b < 0xA0) || (c == 0xED && b > 0x9F) ||
                (c == 0xF0 && b < 0x90) || (c == 0xF4 && b > 0x8F))
                break;
        }
        v = (v << 6) | (b & 0x3F);
    }
    if (i <= need) {
        *cp = 0xFFFD;
        return i;       /* >= 1 */
    }
    if (v < min || (v >= 0xD800 && v <= 0xDFFF) || v > 0x10FFFF) {
        *cp = 0xFFFD;   /* unreachable given the checks above; be safe */
        return need + 1;
    }
    *cp = v;
    return need + 1;
}

static void utf8_put(m2s_buf *b, unsigned int cp)
{
    char t[4];
    size_t n;
    if (cp < 0x80) {
        t[0] = (char)cp; n = 1;
    } else if (cp < 0x800) {
        t[0] = (char)(0xC0 | (cp >> 6));
        t[1] = (char)(0x80 | (cp & 0x3F)); n = 2;
    } else if (cp < 0x10000) {
        t[0] = (char)(0xE0 | (cp >> 12));
        t[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        t[2] = (char)(0x80 | (cp & 0x3F)); n = 3;
    } else {
        t[0] = (char)(0xF0 | (cp >> 18));
        t[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
        t[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
        t[3] = (char)(0x80 | (cp & 0x3F)); n = 4;
    }
    m2s_buf_add(b, t, n);
}

char *m2s_utf8_sanitize(const char *in, size_t len)
{
    m2s_buf b;
    m2s_buf_init(&b);
    const unsigned char *s = (const unsigned char *)(in ? in : "");
    if (!in)
        len = 0;
    size_t i = 0;
    while (i < len) {
        if (s[i] == 0) {
            i++;
            continue;
        }
        if (s[i] < 0x80) {
            size_t j = i;
            while (j < len && s[j] && s[j] < 0x80)
                j++;
            m2s_buf_add(&b, s + i, j - i);
            i = j;
            continue;
        }
        unsigned int cp;
        size_t n = utf8_decode(s + i, len - i, &cp);
        if (cp == 0xFFFD && !(n == 3 && s[i] == 0xEF && s[i + 1] == 0xBF && s[i + 2] == 0xBD))
            utf8_put(&b, 0xFFFD);
        else
            m2s_buf_add(&b, s + i, n);
        i += n;
    }
    return m2s_buf_steal(&b);
}

size_t m2s_utf8_offset(const char *s, size_t n)
{
    size_t i = 0;
    for (; s[i] && n > 0; n--) {
        i++;
        while (((unsigned char)s[i] & 0xC0) == 0x80)
            i++;
    }
    return i;
}

/* ------------------------------------------------------------ whitespace */

static bool is_uspace(unsigned int cp)
{
    return cp == ' ' || cp == '\t' || cp == '\n' || cp == '\r' || cp == '\v' ||
           cp == '\f' || cp == 0x85 || cp == 0xA0 || cp == 0x1680 ||
           (cp >= 0x2000 && cp <= 0x200A) || cp == 0x2028 || cp == 0x2029 ||
           cp == 0x202F || cp == 0x205F || cp == 0x3000;
}

char *m2s_text_squash(const char *in)
{
    m2s_buf b;
    m2s_buf_init(&b);
    if (!in)
        return m2s_buf_steal(&b);
    const unsigned char *s = (const unsigned char *)in;
    size_t len = strlen(in), i = 0;
    bool space = false;
    while (i < len) {
        unsigned int cp;
        size_t n = utf8_decode(s + i, len - i, &cp);
        if (is_uspace(cp)) {
            space = true;
        } else {
            if (space && b.len)
                m2s_buf_addc(&b, ' ');
            space = false;
            m2s_buf_add(&b, s + i, n);
        }
        i += n;
    }
    return m2s_buf_steal(&b);
}

/* ------------------------------------------------------------ tidy */

/* Length of line without trailing whitespace (ASCII and NBSP etc.). */
static size_t rtrim_len(const char *line, size_t len)
{
    while (len > 0) {
        unsigned char c = (unsigned char)line[len - 1];
        if (c == ' ' || c == '\t' || c == '\r' || c == '\f' || c == '\v') {
            len--;
            continue;
        }
        if (c >= 0x80) {
            /* find the start of the last sequence */
            size_t st = len - 1;
            while (st > 0 && ((unsigned char)line[st] & 0xC0) == 0x80 && len - st < 4)
                st--;
            unsigned int cp;
            size_t n = utf8_decode((const unsigned char *)line + st, len - st, &cp);
            if (st + n == len && is_uspace(cp)) {
                len = st;
                continue;
            }
        }
        break;
    }
    return len;
}

static const char *skip_spaces(const char *s)
{
    while (*s == ' ' || *s == '\t')
        s++;
    return s;
}

static bool ends_with_ci(const char *s, size_t len, const char *suffix)
{
    size_t n = strlen(suffix);
    return len >= n && strncasecmp(s + len - n, suffix, n) == 0;
}

static bool starts_with_ci(const char *s, const char *prefix)
{
    return strncasecmp(s, prefix, strlen(prefix)) == 0;
}

/* "On Mon, 1 Jan 2024, Bob <b@x> wrote:", "Am ... schrieb:",
 * "Le ... a écrit :" and a few more languages. */
static bool attribution_tail(const char *line)
{
    size_t len = rtrim_len(line, strlen(line));
    static const char *const tails[] = {
        "wrote:", "schrieb:", "a \xc3\xa9" "crit :", "a \xc3\xa9" "crit:",
        "a ecrit :", "a ecrit:", "escribi\xc3\xb3:", "ha scritto:", "schreef:",
        "skrev:", "napisa\xc5\x82:", "kirjoitti:", "escreveu:",
    };
    for (size_t i = 0; i < sizeof tails / sizeof tails[0]; i++)
        if (ends_with_ci(line, len, tails[i]))
            return true;
    return false;
}

static bool attribution_head(const char *line);

/* "Am Mo., 1. Jan. 2024 um 10:00 Uhr schrieb Bob <b@x>:": the verb comes
 * before the name. */
static bool attribution_line(const char *line)
{
    if (attribution_tail(line))
        return true;
    size_t len = rtrim_len(line, strlen(line));
    if (!attribution_head(line) || len == 0 || line[len - 1] != ':')
        return false;
    static const char *const verbs[] = {
        " wrote", " schrieb ", " a \xc3\xa9" "crit", " escribi\xc3\xb3", " ha scritto",
        " schreef", " skrev", " napisa\xc5\x82", " kirjoitti", " escreveu",
    };
    for (size_t i = 0; i < sizeof verbs / sizeof verbs[0]; i++)
        if (strcasestr(line, verbs[i]))
            return true;
    return false;
}

static bool attribution_head(const char *line)
{
    const char *s = skip_spaces(line);
    return starts_with_ci(s, "On ") || starts_with_ci(s, "Am ") ||
           starts_with_ci(s, "Le ") || starts_with_ci(s, "El ") ||
           starts_with_ci(s, "Il ") || starts_with_ci(s, "Op ") ||
           starts_with_ci(s, "Den ") || starts_with_ci(s, "Em ");
}

static bool is_quoted(const char *line)
{
    return *skip_spaces(line) == '>';
}

static bool is_blank(const char *line)
{
    return rtrim_len(line, strlen(line)) == 0;
}

static bool is_original_message(const char *line)
{
    const char *s = skip_spaces(line);
    size_t dashes = 0;
    while (*s == '-') {
        s++;
        dashes++;
    }
    if (dashes < 2)
        return false;
    s = skip_spaces(s);
    static const char *const marks[] = {
        "Original Message", "Urspr\xc3\xbcngliche Nachricht", "Message d'origine",
    };
    for (size_t i = 0; i < sizeof marks / sizeof marks[0]; i++) {
        size_t n = strlen(marks[i]);
        if (strncasecmp(s, marks[i], n) == 0) {
            s = skip_spaces(s + n);
            while (*s == '-')
                s++;
            return *skip_spaces(s) == '\0';
        }
    }
    return false;
}

static bool is_underscore_rule(const char *line)
{
    const char *s = skip_spaces(line);
    size_t n = 0;
    while (*s == '_') {
        s++;
        n++;
    }
    return n >= 8 && *skip_spaces(s) == '\0';
}

static bool is_header_line(const char *line, const char *name)
{
    const char *s = skip_spaces(line);
    /* Outlook bolds them in HTML-turned-text: "*From:*" */
    if (*s == '*')
        s++;
    return starts_with_ci(s, name);
}

/* A line that is only a letter's closing: "Kind regards," "Thanks!" */
static bool is_closing(const char *line)
{
    static const char *const closings[] = {
        "regards", "kind regards", "best regards", "warm regards", "with regards",
        "many thanks", "thanks", "thank you", "cheers", "sincerely",
        "yours sincerely", "yours truly", "best wishes",
        "met vriendelijke groet", "met vriendelijke groeten", "mvg", "groet", "groeten",
        "mit freundlichen gr\xc3\xbc\xc3\x9f" "en", "freundliche gr\xc3\xbc\xc3\x9f" "e",
        "viele gr\xc3\xbc\xc3\x9f" "e", "beste gr\xc3\xbc\xc3\x9f" "e", "gru\xc3\x9f",
        "cordialement", "bien cordialement", "salutations", "saludos", "un saludo",
        "distinti saluti", "cordiali saluti",
    };
    const char *s = skip_spaces(line);
    size_t len = strlen(s);
    while (len > 0 && strchr(" ,.!", s[len - 1]))
        len--;
    for (size_t i = 0; i < sizeof closings / sizeof closings[0]; i++)
        if (strlen(closings[i]) == len && strncasecmp(s, closings[i], len) == 0)
            return true;
    return false;
}

/* Outlook's reply header: "From: ..." with "Sent: ..." (or "Date:") within
 * the next 4 lines. */
static bool is_outlook_header(char **lines, size_t n, size_t i)
{
    if (!is_header_line(lines[i], "From:") && !is_header_line(lines[i], "Von:") &&
        !is_header_line(lines[i], "De :") && !is_header_line(lines[i], "De:"))
        return false;
    for (size_t j = i + 1; j < n && j <= i + 4; j++) {
        if (is_header_line(lines[j], "Sent:") || is_header_line(lines[j], "Gesendet:") ||
            is_header_line(lines[j], "Envoy\xc3\xa9 :") || is_header_line(lines[j], "Envoy\xc3\xa9:"))
            return true;
    }
    return false;
}

char *m2s_text_tidy(const char *in, const m2s_tidy_opts *opts)
{
    m2s_tidy_opts defaults = { false, false, false, NULL };
    if (!opts)
        opts = &defaults;
    if (!in)
        in = "";

    /* 1. line ends and tabs */
    char *norm = xmalloc(strlen(in) + 1);
    size_t nl = 0;
    for (const char *p = in; *p; p++) {
        if (*p == '\r') {
            norm[nl++] = '\n';
            if (p[1] == '\n')
                p++;
        } else if (*p == '\t') {
            norm[nl++] = ' ';
        } else {
            norm[nl++] = *p;
        }
    }
    norm[nl] = '\0';

    /* 2. split into lines (pointers into norm) */
    size_t n = 1;
    for (size_t i = 0; i < nl; i++)
        if (norm[i] == '\n')
            n++;
    char **lines = xcalloc(n, sizeof *lines);
    bool *drop = xcalloc(n, sizeof *drop);
    regex_t *res = NULL;
    size_t nres = 0;
    m2s_buf out;
    m2s_buf_init(&out);
    {
        size_t k = 0;
        char *p = norm;
        lines[k++] = p;
        for (; *p; p++) {
            if (*p == '\n') {
                *p = '\0';
                lines[k++] = p + 1;
            }
        }
    }

    /* 3. signature: cut from the first "-- " line, or from a closing
     * ("Kind regards,") that follows some text: people rarely put the
     * separator in, and name, title and phone numbers cost a lot */
    if (opts->strip_signature) {
        bool text_seen = false;
        for (size_t i = 0; i < n; i++) {
            if (strcmp(lines[i], "-- ") == 0 || strcmp(lines[i], "--") == 0 ||
                (text_seen && is_closing(lines[i]))) {
                n = i;
                break;
            }
            if (!is_blank(lines[i]))
                text_seen = true;
        }
    }

    /* 4. quotes and reply history */
    if (opts->strip_quotes) {
        for (size_t i = 0; i < n; i++) {
            if (is_original_message(lines[i]) || is_outlook_header(lines, n, i)) {
                size_t cut = i;
                /* Outlook puts a rule of underscores above the header */
                size_t j = cut;
                while (j > 0 && is_blank(lines[j - 1]))
                    j--;
                if (j > 0 && is_underscore_rule(lines[j - 1]))
                    cut = j - 1;
                n = cut;
                break;
            }
        }
        for (size_t i = 0; i < n; i++) {
            if (!is_quoted(lines[i]))
                continue;
            bool block_start = (i == 0) || !is_quoted(lines[i - 1]);
            drop[i] = true;
            if (!block_start)
                continue;
            /* the attribution line right before the block (blank lines
             * in between are allowed); it may be wrapped onto two lines */
            size_t j = i;
            while (j > 0 && is_blank(lines[j - 1]))
                j--;
            if (j == 0 || drop[j - 1])
                continue;
            size_t a = j - 1;
            if (!attribution_line(lines[a]))
                continue;
            drop[a] = true;
            if (!attribution_head(lines[a]) && a > 0 && attribution_head(lines[a - 1]) &&
                !is_blank(lines[a - 1])) {
                size_t pl = rtrim_len(lines[a - 1], strlen(lines[a - 1]));
                if (pl && lines[a - 1][pl - 1] != ':' && lines[a - 1][pl - 1] != '.')
                    drop[a - 1] = true;
            }
        }
    }

    /* 5. configured line filters */
    if (opts->strip && opts->strip->n) {
        res = xcalloc(opts->strip->n, sizeof *res);
        for (size_t r = 0; r < opts->strip->n; r++) {
            if (opts->strip->v[r] &&
                regcomp(&res[nres], opts->strip->v[r], REG_EXTENDED | REG_NOSUB) == 0)
                nres++;
        }
        for (size_t i = 0; i < n; i++) {
            if (drop[i])
                continue;
            for (size_t r = 0; r < nres; r++) {
                if (regexec(&res[r], lines[i], 0, NULL, 0) == 0) {
                    drop[i] = true;
                    break;
                }
            }
        }
    }

    /* 6. trailing space, blank runs, leading/trailing blank lines */
    size_t blanks = 0;
    bool any = false;
    for (size_t i = 0; i < n; i++) {
        if (drop[i])
            continue;
        size_t len = rtrim_len(lines[i], strlen(lines[i]));
        if (len == 0) {
            blanks++;
            continue;
        }
        if (any) {
            size_t emit = blanks;
            if (opts->collapse_blank && emit > 1)
                emit = 1;
            for (size_t k = 0; k <= emit; k++)
                m2s_buf_addc(&out, '\n');
        }
        blanks = 0;
        any = true;
        m2s_buf_add(&out, lines[i], len);
    }

    for (size_t r = 0; r < nres; r++)
        regfree(&res[r]);
    free(res);
    free(drop);
    free(lines);
    free(norm);
    return m2s_buf_steal(&out);
}

/* ------------------------------------------------------------ lines */

/* True for a run of decoration characters, as monitoring templates frame
 * their headings with ("***** Nagios *****", "=====", "** PROBLEM **"). */
static bool is_deco(char c)
{
    return c == '*' || c == '=' || c == '#' || c == '~' || c == '_';
}

/* Length of the run of one decoration character at p (n bytes), if it is
 * two or more long; else 0. */
static size_t deco_run(const char *p, size_t n)
{
    size_t i = 0;
    while (i < n && is_deco(p[i]) && p[i] == p[0])
        i++;
    return i >= 2 ? i : 0;
}

/* One line made phone-friendly: decoration at either end removed, runs of
 * spaces collapsed. Appended to b. */
static void add_line(m2s_buf *b, const char *p, size_t n)
{
    size_t r;
    while (n > 0 && (*p == ' ' || *p == '\t'))
        p++, n--;
    while (n > 0 && (p[n - 1] == ' ' || p[n - 1] == '\t'))
        n--;
    if ((r = deco_run(p, n)) > 0 && (r == n || p[r] == ' ')) {
        p += r;
        n -= r;
    }
    for (size_t k = n; k > 0 && is_deco(p[k - 1]); k--) {
        size_t start = k - 1;
        while (start > 0 && p[start - 1] == p[k - 1])
            start--;
        if (k - start >= 2 && (start == 0 || p[start - 1] == ' '))
            n = start;
        break;
    }
    bool space = false;
    size_t before = b->len;
    for (size_t i = 0; i < n; i++) {
        if (p[i] == ' ' || p[i] == '\t') {
            space = true;
            continue;
        }
        /* a word that is nothing but decoration ("RE: ** PROBLEM") */
        size_t w = 0;
        while (i + w < n && p[i + w] != ' ' && p[i + w] != '\t')
            w++;
        if ((i == 0 || space) && deco_run(p + i, w) == w) {
            i += w - 1;
            continue;
        }
        if (space && b->len > before)
            m2s_buf_addc(b, ' ');
        space = false;
        m2s_buf_add(b, p + i, w);
        i += w - 1;
    }
}

char *m2s_text_tidy_lines(const char *in)
{
    m2s_buf b;
    m2s_buf_init(&b);
    const char *p = in ? in : "";
    while (*p) {
        size_t n = strcspn(p, "\r\n");
        size_t mark = b.len;
        if (b.len)
            m2s_buf_addc(&b, '\n');
        size_t body = b.len;
        add_line(&b, p, n);
        if (b.len == body) {            /* nothing left of that line */
            b.len = mark;
            if (b.data)
                b.data[b.len] = '\0';
        }
        p += n;
        if (*p == '\r')
            p++;
        if (*p == '\n')
            p++;
    }
    char *s = m2s_buf_steal(&b);
    size_t start = strspn(s, " \n");
    size_t end = strlen(s);
    while (end > start && strchr(" \n", s[end - 1]))
        end--;
    char *r = xstrndup(s + start, end - start);
    free(s);
    return r;
}

/* ------------------------------------------------------------ GSM-7 */

bool m2s_gsm7_char(unsigned int cp, int *septets)
{
    int s = 0;
    if (cp < 0x80) {
        /* ASCII: all of 0x20..0x5A (incl. $ and @), '_', a-z; not '`' */
        if (cp == '\n' || cp == '\r' ||
            (cp >= 0x20 && cp <= 0x5A) || cp == '_' ||
            (cp >= 'a' && cp <= 'z'))
            s = 1;
        else if (cp == '^' || cp == '{' || cp == '}' || cp == '\\' || cp == '[' ||
                 cp == '~' || cp == ']' || cp == '|' || cp == '\f')
            s = 2;
    } else {
        switch (cp) {
        case 0x00A3: case 0x00A5: case 0x00E8: case 0x00E9: case 0x00F9:
        case 0x00EC: case 0x00F2: case 0x00C7: case 0x00D8: case 0x00F8:
        case 0x00C5: case 0x00E5: case 0x0394: case 0x03A6: case 0x0393:
        case 0x039B: case 0x03A9: case 0x03A0: case 0x03A8: case 0x03A3:
        case 0x0398: case 0x039E: case 0x00C6: case 0x00E6: case 0x00DF:
        case 0x00C9: case 0x00A4: case 0x00A1: case 0x00C4: case 0x00D6:
        case 0x00D1: case 0x00DC: case 0x00A7: case 0x00BF: case 0x00E4:
        case 0x00F6: case 0x00F1: case 0x00FC: case 0x00E0:
            s = 1;
            break;
        case 0x20AC:
            s = 2;
            break;
        default:
            break;
        }
    }
    if (septets)
        *septets = s;
    return s != 0;
}

/* Greedy segmentation of a sequence of unit weights (1 or 2) into parts of
 * at most cap units; used with the multi-part capacity. */
typedef struct seg_counter {
    size_t units;
    size_t in_part;     /* units in the current multi-part segment */
    int multi_parts;    /* parts if the message is multi-part */
} seg_counter;

static void seg_add(seg_counter *c, size_t w, size_t cap)
{
    if (c->multi_parts == 0 || c->in_part + w > cap) {
        c->multi_parts++;
        c->in_part = 0;
    }
    c->in_part += w;
    c->units += w;
}

void m2s_sms_count_text(const char *utf8, m2s_sms_count *out)
{
    const unsigned char *s = (const unsigned char *)(utf8 ? utf8 : "");
    size_t len = strlen((const char *)s);
    seg_counter g = { 0, 0, 0 }, u = { 0, 0, 0 };
    bool gsm = true;
    size_t i = 0;
    while (i < len) {
        unsigned int cp;
        size_t n = utf8_decode(s + i, len - i, &cp);
        int sep = 0;
        if (gsm) {
            if (m2s_gsm7_char(cp, &sep))
                seg_add(&g, (size_t)sep, GSM7_MULTI);
            else
                gsm = false;
        }
        seg_add(&u, cp >= 0x10000 ? 2 : 1, UCS2_MULTI);
        i += n;
    }
    if (gsm) {
        out->encoding = M2S_ENC_GSM7;
        out->units = g.units;
        out->parts = g.units == 0 ? 0 : g.units <= GSM7_SINGLE ? 1 : g.multi_parts;
    } else {
        out->encoding = M2S_ENC_UCS2;
        out->units = u.units;
        out->parts = u.units <= UCS2_SINGLE ? 1 : u.multi_parts;
    }
}

/* ------------------------------------------------------------ transliteration */

/* Latin-1 Supplement U+00A0..U+00FF; NULL: keep (in GSM-7 or no faithful form). */
static const char *const latin1[96] = {
    /* A0 */ " ", NULL, "c", NULL, NULL, NULL, "|", NULL,
    /* A8 */ "\"", "(C)", "a", "\"", "-", "", "(R)", "-",
    /* B0 */ "deg", "+/-", "2", "3", "'", "u", NULL, "-",
    /* B8 */ ",", "1", "o", "\"", "1/4", "1/2", "3/4", NULL,
    /* C0 */ "A", "A", "A", "A", NULL, NULL, NULL, NULL,
    /* C8 */ "E", NULL, "E", "E", "I", "I", "I", "I",
    /* D0 */ "D", NULL, "O", "O", "O", "O", NULL, "x",
    /* D8 */ NULL, "U", "U", "U", NULL, "Y", "Th", NULL,
    /* E0 */ NULL, "a", "a", "a", NULL, NULL, NULL, "c",
    /* E8 */ NULL, NULL, "e", "e", NULL, "i", "i", "i",
    /* F0 */ "d", NULL, NULL, "o", "o", "o", NULL, "/",
    /* F8 */ NULL, NULL, "u", "u", NULL, "y", "th", "y",
};

/* Latin Extended-A U+0100..U+017F: base letters. */
static const char *const latin_ext_a[128] = {
    /* 100 */ "A", "a", "A", "a", "A", "a", "C", "c",
    /* 108 */ "C", "c", "C", "c", "C", "c", "D", "d",
    /* 110 */ "D", "d", "E", "e", "E", "e", "E", "e",
    /* 118 */ "E", "e", "E", "e", "G", "g", "G", "g",
    /* 120 */ "G", "g", "G", "g", "H", "h", "H", "h",
    /* 128 */ "I", "i", "I", "i", "I", "i", "I", "i",
    /* 130 */ "I", "i", "IJ", "ij", "J", "j", "K", "k",
    /* 138 */ "k", "L", "l", "L", "l", "L", "l", "L",
    /* 140 */ "l", "L", "l", "N", "n", "N", "n", "N",
    /* 148 */ "n", "'n", "N", "n", "O", "o", "O", "o",
    /* 150 */ "O", "o", "OE", "oe", "R", "r", "R", "r",
    /* 158 */ "R", "r", "S", "s", "S", "s", "S", "s",
    /* 160 */ "S", "s", "T", "t", "T", "t", "T", "t",
    /* 168 */ "U", "u", "U", "u", "U", "u", "U", "u",
    /* 170 */ "U", "u", "U", "u", "W", "w", "Y", "y",
    /* 178 */ "Y", "Z", "z", "Z", "z", "Z", "z", "s",
};

/* Everything else with a faithful form. "" removes the character. */
static const struct { unsigned int cp; const char *to; } translit_misc[] = {
    { 0x0218, "S" }, { 0x0219, "s" }, { 0x021A, "T" }, { 0x021B, "t" },
    { 0x02BC, "'" }, { 0x02C6, "^" }, { 0x02DC, "~" },
    { 0x1E9E, "SS" },
    { 0x2000, " " }, { 0x2001, " " }, { 0x2002, " " }, { 0x2003, " " },
    { 0x2004, " " }, { 0x2005, " " }, { 0x2006, " " }, { 0x2007, " " },
    { 0x2008, " " }, { 0x2009, " " }, { 0x200A, " " },
    { 0x200B, "" }, { 0x2060, "" }, { 0xFEFF, "" },
    { 0x2010, "-" }, { 0x2011, "-" }, { 0x2012, "-" }, { 0x2013, "-" },
    { 0x2014, "-" }, { 0x2015, "-" }, { 0x2212, "-" }, { 0x2043, "-" },
    { 0x2018, "'" }, { 0x2019, "'" }, { 0x201A, "'" }, { 0x201B, "'" },
    { 0x2032, "'" }, { 0x2039, "'" }, { 0x203A, "'" },
    { 0x201C, "\"" }, { 0x201D, "\"" }, { 0x201E, "\"" }, { 0x201F, "\"" },
    { 0x2033, "\"" },
    { 0x2022, "-" }, { 0x2023, "-" }, { 0x25E6, "-" }, { 0x2219, "-" },
    { 0x2026, "..." },
    { 0x2028, "\n" }, { 0x2029, "\n" },
    { 0x202F, " " }, { 0x205F, " " }, { 0x3000, " " },
    { 0x2044, "/" }, { 0x2122, "TM" },
    { 0x2190, "<-" }, { 0x2192, "->" }, { 0x2194, "<->" }, { 0x21D2, "=>" },
    { 0x2264, "<=" }, { 0x2265, ">=" }, { 0x2260, "!=" },
};

/* Combining marks after a base letter: compose to the GSM-7 letter when
 * there is one, otherwise drop the mark (the base letter stays). */
static const struct { char base; unsigned int mark; unsigned int to; } compose_tab[] = {
    { 'e', 0x0301, 0x00E9 }, { 'E', 0x0301, 0x00C9 }, { 'e', 0x0300, 0x00E8 },
    { 'u', 0x0300, 0x00F9 }, { 'i', 0x0300, 0x00EC }, { 'o', 0x0300, 0x00F2 },
    { 'a', 0x0300, 0x00E0 }, { 'a', 0x0308, 0x00E4 }, { 'o', 0x0308, 0x00F6 },
    { 'u', 0x0308, 0x00FC }, { 'A', 0x0308, 0x00C4 }, { 'O', 0x0308, 0x00D6 },
    { 'U', 0x0308, 0x00DC }, { 'n', 0x0303, 0x00F1 }, { 'N', 0x0303, 0x00D1 },
    { 'a', 0x030A, 0x00E5 }, { 'A', 0x030A, 0x00C5 }, { 'C', 0x0327, 0x00C7 },
};

static const char *translit_lookup(unsigned int cp)
{
    if (cp == 0xA0)
        return " ";
    if (cp > 0xA0 && cp <= 0xFF)
        return latin1[cp - 0xA0];
    if (cp >= 0x100 && cp <= 0x17F)
        return latin_ext_a[cp - 0x100];
    for (size_t i = 0; i < sizeof translit_misc / sizeof translit_misc[0]; i++)
        if (translit_misc[i].cp == cp)
            return translit_misc[i].to;
    return NULL;
}

char *m2s_transliterate(const char *utf8)
{
    m2s_buf b;
    m2s_buf_init(&b);
    const unsigned char *s = (const unsigned char *)(utf8 ? utf8 : "");
    size_t len = strlen((const char *)s), i = 0;
    unsigned int prev = 0;          /* previous input code point */
    while (i < len) {
        unsigned int cp;
        size_t n = utf8_decode(s + i, len - i, &cp);
        const char *to = NULL;
        if (cp >= 0x0300 && cp <= 0x036F && prev < 0x80 && isalpha((int)prev) &&
            b.len && (unsigned char)b.data[b.len - 1] == prev) {
            /* decomposed accent on an ASCII letter just written */
            unsigned int comp = 0;
            for (size_t k = 0; k < sizeof compose_tab / sizeof compose_tab[0]; k++)
                if ((unsigned)compose_tab[k].base == prev && compose_tab[k].mark == cp)
                    comp = compose_tab[k].to;
            if (comp) {
                b.len--;
                b.data[b.len] = '\0';
                utf8_put(&b, comp);
            }
            prev = cp;
            i += n;
            continue;
        }
        if (cp == 0x200C || cp == 0x200D) {
            /* joiners matter in emoji sequences and many scripts; they are
             * only noise between Latin letters, digits and punctuation */
            unsigned int next = 0;
            if (i + n < len)
                utf8_decode(s + i + n, len - i - n, &next);
            if (prev < 0x250 && next < 0x250) {
                i += n;
                continue;
            }
        } else if (cp >= 0x80) {
            int sep;
            if (!m2s_gsm7_char(cp, &sep))
                to = translit_lookup(cp);
        } else if (cp == '`') {
            to = "'";
        }
        if (to)
            m2s_buf_adds(&b, to);
        else
            m2s_buf_add(&b, s + i, n);
        prev = cp;
        i += n;
    }
    return m2s_buf_steal(&b);
}

/* ------------------------------------------------------------ fitting */

#define CUT_WORD_BACK 20        /* characters looked back for a word boundary */

/* Parts of head + text[0..len) + marker + tail. */
static int parts_of(const char *head, const char *text, size_t len, const char *marker,
                    const char *tail)
{
    size_t hl = strlen(head), ml = strlen(marker), tl = strlen(tail);
    char *t = xmalloc(hl + len + ml + tl + 1);
    memcpy(t, head, hl);
    memcpy(t + hl, text, len);
    memcpy(t + hl + len, marker, ml);
    memcpy(t + hl + len + ml, tail, tl + 1);
    m2s_sms_count c;
    m2s_sms_count_text(t, &c);
    free(t);
    return c.parts;
}

/* Characters that should not be left dangling before the marker. */
static bool is_trailing_junk(unsigned int cp)
{
    return is_uspace(cp) || cp == ',' || cp == ';' || cp == ':' || cp == '-' ||
           cp == '.' || cp == '(' || cp == '[' || cp == '{' || cp == '/' ||
           cp == '&' || cp == 0x2013 || cp == 0x2014;
}

/* Marks that belong to the preceding character: never cut right before them. */
static bool is_attached(unsigned int cp)
{
    return (cp >= 0x0300 && cp <= 0x036F) || cp == 0x200D || cp == 0x20E3 ||
           (cp >= 0xFE00 && cp <= 0xFE0F) || (cp >= 0x1F3FB && cp <= 0x1F3FF) ||
           (cp >= 0xE0020 && cp <= 0xE007F);
}

/* The truncation rule (see text.h): how many bytes of text are kept so
 * that head + kept + marker + tail fits in max_parts. 0 when not even the
 * first character fits. */
static size_t fit_cut(const char *head, const char *text, const char *marker,
                      const char *tail, int max_parts)
{
    size_t len = strlen(text), nc = 0;
    size_t *bounds = xmalloc((len + 1) * sizeof *bounds); /* byte offset of each code point, plus len */
    unsigned int *cps = xmalloc((len + 1) * sizeof *cps);
    for (size_t i = 0; i < len;) {
        unsigned int cp;
        size_t n = utf8_decode((const unsigned char *)text + i, len - i, &cp);
        bounds[nc] = i;
        cps[nc] = cp;
        nc++;
        i += n;
    }
    bounds[nc] = len;
    cps[nc] = 0;

    /* Largest k such that the first k characters fit. Parts grow
     * monotonically with the kept start, so a binary search finds it. */
    size_t lo = 0, hi = nc + 1;     /* fits(lo) is taken to hold, fits(hi) does not */
    while (hi - lo > 1) {
        size_t mid = lo + (hi - lo) / 2;
        if (parts_of(head, text, bounds[mid], marker, tail) <= max_parts)
            lo = mid;
        else
            hi = mid;
    }
    size_t k = lo;

    /* Prefer a word boundary within the last CUT_WORD_BACK characters;
     * in a long word (a URL, a path) the punctuation that separates its
     * pieces; else any character. */
    size_t cut = k;
    bool found = false;
    for (int pass = 0; pass < 2 && !found; pass++) {
        for (size_t j = k, steps = 0; j > 0 && steps <= CUT_WORD_BACK; j--, steps++) {
            if (pass == 0 ? is_uspace(cps[j]) : is_trailing_junk(cps[j])) {
                cut = j;
                found = true;
                break;
            }
        }
    }
    if (!is_uspace(cps[cut])) {
        /* keep combining marks, joiners and variation selectors with
         * their base, unless the text is one such cluster */
        size_t at = cut;
        while (cut > 0 && (is_attached(cps[cut]) || cps[cut - 1] == 0x200D))
            cut--;
        if (cut == 0)
            cut = at;
    }
    size_t before = cut;
    while (cut > 0 && is_trailing_junk(cps[cut - 1]))
        cut--;
    if (cut == 0)
        cut = before;       /* nothing but punctuation: keep it */
    /* Safety net; does not trigger when counting is monotonic. */
    while (cut > 0 && parts_of(head, text, bounds[cut], marker, tail) > max_parts)
        cut--;
    size_t kept = bounds[cut];
    free(bounds);
    free(cps);
    return kept;
}

char *m2s_sms_cut(const char *head, const char *core, const char *tail,
                  int max_parts, const char *marker)
{
    char *res = NULL;
    if (!head)
        head = "";
    if (!core)
        core = "";
    if (!tail)
        tail = "";
    if (!marker)
        marker = "";
    if (max_parts < 1)
        max_parts = 1;
    size_t kept = fit_cut(head, core, marker, tail, max_parts);
    if (kept == 0)
        goto out;
    size_t hl = strlen(head), ml = strlen(marker), tl = strlen(tail);
    res = xmalloc(hl + kept + ml + tl + 1);
    memcpy(res, head, hl);
    memcpy(res + hl, core, kept);
    memcpy(res + hl + kept, marker, ml);
    memcpy(res + hl + kept + ml, tail, tl + 1);
out:
    return res;
}

char *m2s_sms_fit(const char *utf8, int max_parts, const char *marker, bool *truncated)
{
    const char *text = utf8 ? utf8 : "";
    char *res = NULL;
    bool trunc = false;
    if (max_parts < 1)
        max_parts = 1;
    if (!marker)
        marker = "";

    m2s_sms_count c;
    m2s_sms_count_text(text, &c);
    if (c.parts <= max_parts) {
        res = xstrdup(text);
        goto out;
    }
    trunc = true;
    if (parts_of("", "", 0, marker, "") > max_parts)
        marker = "";        /* an absurd marker must not eat the message */
    res = m2s_sms_cut("", text, "", max_parts, marker);
    if (!res)
        res = xstrdup(marker);
out:
    if (truncated)
        *truncated = trunc;
    return res;
}

const char *m2s_sms_marker(m2s_encoding encoding)
{
    return encoding == M2S_ENC_GSM7 ? "..." : "\xe2\x80\xa6";
}

/* ---------------------------------------------------------- format */

/* A literal between placeholders that only separates them (": ", " - ",
 * "\n"): dropped next to a placeholder that came out empty. */
static bool only_separator(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!strchr(":-|,; \t\n", s[i]))
            return false;
    return true;
}

char *m2s_text_expand(const char *fmt, const m2s_text_fields *f)
{
    static const struct { const char *name; size_t off; } ph[] = {
        { "{subject}",   offsetof(m2s_text_fields, subject) },
        { "{body}",      offsetof(m2s_text_fields, body) },
        { "{from}",      offsetof(m2s_text_fields, from) },
        { "{from_name}", offsetof(m2s_text_fields, from_name) },
    };
    /* Split the format into literals and values, in order; even entries
     * are literals ("\n" in the configuration is a line break). */
    m2s_strv seg = { 0 };
    m2s_buf lit;
    m2s_buf_init(&lit);
    for (const char *p = fmt;;) {
        bool done = false;
        for (size_t i = 0; *p == '{' && i < sizeof ph / sizeof ph[0]; i++) {
            size_t n = strlen(ph[i].name);
            if (strncmp(p, ph[i].name, n) == 0) {
                const char *v = *(const char *const *)((const char *)f + ph[i].off);
                m2s_strv_take(&seg, m2s_buf_steal(&lit));
                m2s_strv_add(&seg, v ? v : "");
                p += n;
                done = true;
                break;
            }
        }
        if (done)
            continue;
        if (!*p)
            break;
        if (p[0] == '\\' && p[1] == 'n') {
            m2s_buf_addc(&lit, '\n');
            p += 2;
        } else {
            m2s_buf_addc(&lit, *p++);
        }
    }
    m2s_strv_take(&seg, m2s_buf_steal(&lit));
    /* An empty value takes its separator with it: the one after it, or,
     * for the last value, the one before it ("{subject}: {body}" with no
     * subject is the body alone, with no body the subject alone). */
    for (size_t i = 1; i < seg.n; i += 2) {
        if (*seg.v[i])
            continue;
        char **after = &seg.v[i + 1], **before = &seg.v[i - 1];
        if (i + 2 < seg.n && only_separator(*after, strlen(*after)))
            **after = '\0';
        else if (i >= 2 && only_separator(*before, strlen(*before)))
            **before = '\0';
        else if (i + 2 >= seg.n && only_separator(*after, strlen(*after)))
            **after = '\0';
    }
    m2s_buf b;
    m2s_buf_init(&b);
    m2s_buf_adds(&b, "");
    for (size_t i = 0; i < seg.n; i++)
        m2s_buf_adds(&b, seg.v[i]);
    m2s_strv_clear(&seg);
    return m2s_buf_steal(&b);
}

