/* check_text.c - unit tests for text.c: GSM-7 table, part counting,
 * transliteration, fitting and cutting, tidying (body and lines),
 * squashing, UTF-8 offsets and sanitising. */
#include "build-config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "unit.h"
#include "text.h"
#include "util.h"

/* ------------------------------------------------------------ helpers */

/* The GSM 03.38 basic table in code order (0x1B, the escape, left out)
 * and the extension characters, written out independently of text.c. */
static const char gsm_basic[] =
    "@\xc2\xa3$\xc2\xa5\xc3\xa8\xc3\xa9\xc3\xb9\xc3\xac\xc3\xb2\xc3\x87\n\xc3\x98\xc3\xb8\r\xc3\x85\xc3\xa5"
    "\xce\x94_\xce\xa6\xce\x93\xce\x9b\xce\xa9\xce\xa0\xce\xa8\xce\xa3\xce\x98\xce\x9e"
    "\xc3\x86\xc3\xa6\xc3\x9f\xc3\x89"
    " !\"#\xc2\xa4%&'()*+,-./0123456789:;<=>?"
    "\xc2\xa1" "ABCDEFGHIJKLMNOPQRSTUVWXYZ\xc3\x84\xc3\x96\xc3\x91\xc3\x9c\xc2\xa7"
    "\xc2\xbf" "abcdefghijklmnopqrstuvwxyz\xc3\xa4\xc3\xb6\xc3\xb1\xc3\xbc\xc3\xa0";
static const unsigned int gsm_ext[] = { '^', '{', '}', '\\', '[', '~', ']', '|', 0x20AC, '\f' };

/* Minimal independent UTF-8 decoder for valid input. */
static unsigned int dec(const char **pp)
{
    const unsigned char *p = (const unsigned char *)*pp;
    unsigned int c = *p++;
    int more = c >= 0xF0 ? 3 : c >= 0xE0 ? 2 : c >= 0xC0 ? 1 : 0;
    if (more)
        c &= 0x3F >> more;
    while (more--)
        c = (c << 6) | (*p++ & 0x3F);
    *pp = (const char *)p;
    return c;
}

static void enc(char *out, unsigned int cp)
{
    m2s_buf b;
    m2s_buf_init(&b);
    if (cp < 0x80) {
        m2s_buf_addc(&b, (char)cp);
    } else if (cp < 0x800) {
        m2s_buf_addc(&b, (char)(0xC0 | (cp >> 6)));
        m2s_buf_addc(&b, (char)(0x80 | (cp & 0x3F)));
    } else if (cp < 0x10000) {
        m2s_buf_addc(&b, (char)(0xE0 | (cp >> 12)));
        m2s_buf_addc(&b, (char)(0x80 | ((cp >> 6) & 0x3F)));
        m2s_buf_addc(&b, (char)(0x80 | (cp & 0x3F)));
    } else {
        m2s_buf_addc(&b, (char)(0xF0 | (cp >> 18)));
        m2s_buf_addc(&b, (char)(0x80 | ((cp >> 12) & 0x3F)));
        m2s_buf_addc(&b, (char)(0x80 | ((cp >> 6) & 0x3F)));
        m2s_buf_addc(&b, (char)(0x80 | (cp & 0x3F)));
    }
    strcpy(out, b.data);
    m2s_buf_clear(&b);
}

/* 0 if not GSM-7, else septets, from the tables above. */
static int ref_septets(unsigned int cp)
{
    for (size_t i = 0; i < sizeof gsm_ext / sizeof gsm_ext[0]; i++)
        if (gsm_ext[i] == cp)
            return 2;
    const char *p = gsm_basic;
    while (*p)
        if (dec(&p) == cp)
            return 1;
    return 0;
}

/* Straightforward reference splitter: put characters into parts one by
 * one, opening a new part when the next one does not fit whole. */
static void ref_count(const char *s, int *enc_gsm, size_t *units, int *parts)
{
    bool gsm = true;
    for (const char *p = s; *p;)
        if (!ref_septets(dec(&p)))
            gsm = false;
    size_t total = 0, single = gsm ? 160 : 70, cap = gsm ? 153 : 67, fill = 0;
    int n = 0;
    for (const char *p = s; *p;) {
        unsigned int cp = dec(&p);
        size_t w = gsm ? (size_t)ref_septets(cp) : (cp >= 0x10000 ? 2 : 1);
        total += w;
        if (n == 0 || fill + w > cap) {
            n++;
            fill = 0;
        }
        fill += w;
    }
    *enc_gsm = gsm;
    *units = total;
    *parts = total == 0 ? 0 : total <= single ? 1 : n;
}

/* Strict UTF-8 validity check (no overlongs, surrogates, > U+10FFFF). */
static bool valid_utf8(const char *str)
{
    const unsigned char *s = (const unsigned char *)str;
    while (*s) {
        unsigned int c = *s;
        int more;
        unsigned int min, v;
        if (c < 0x80) { s++; continue; }
        else if (c >= 0xC0 && c < 0xE0) { more = 1; min = 0x80; v = c & 0x1F; }
        else if (c >= 0xE0 && c < 0xF0) { more = 2; min = 0x800; v = c & 0x0F; }
        else if (c >= 0xF0 && c < 0xF8) { more = 3; min = 0x10000; v = c & 0x07; }
        else return false;
        s++;
        for (int i = 0; i < more; i++, s++) {
            if ((*s & 0xC0) != 0x80)
                return false;
            v = (v << 6) | (*s & 0x3F);
        }
        if (v < min || v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF))
            return false;
    }
    return true;
}

static char *repeat(const char *unit, size_t n)
{
    m2s_buf b;
    m2s_buf_init(&b);
    for (size_t i = 0; i < n; i++)
        m2s_buf_adds(&b, unit);
    if (!b.data)
        m2s_buf_adds(&b, "");
    return m2s_buf_steal(&b);
}

static void check_count(const char *s, m2s_encoding e, size_t units, int parts)
{
    m2s_sms_count c;
    m2s_sms_count_text(s, &c);
    ck_assert_int_eq(c.encoding, e);
    ck_assert_uint_eq(c.units, units);
    ck_assert_int_eq(c.parts, parts);
}

static bool is_gsm(const char *s)
{
    m2s_sms_count c;
    m2s_sms_count_text(s, &c);
    return c.encoding == M2S_ENC_GSM7;
}

/* ------------------------------------------------------------ GSM-7 table */

START_TEST(test_gsm_basic_chars)
{
    size_t n = 0;
    for (const char *p = gsm_basic; *p; n++) {
        const char *start = p;
        unsigned int cp = dec(&p);
        char one[8];
        memcpy(one, start, (size_t)(p - start));
        one[p - start] = '\0';
        int sep = 0;
        ck_assert_msg(m2s_gsm7_char(cp, &sep), "U+%04X should be GSM-7", cp);
        ck_assert_int_eq(sep, 1);
        check_count(one, M2S_ENC_GSM7, 1, 1);
    }
    ck_assert_uint_eq(n, 127);          /* 128 codes minus the escape */
}
END_TEST

START_TEST(test_gsm_ext_chars)
{
    for (size_t i = 0; i < sizeof gsm_ext / sizeof gsm_ext[0]; i++) {
        int sep = 0;
        ck_assert_msg(m2s_gsm7_char(gsm_ext[i], &sep), "U+%04X extension", gsm_ext[i]);
        ck_assert_int_eq(sep, 2);
        char one[8];
        enc(one, gsm_ext[i]);
        check_count(one, M2S_ENC_GSM7, 2, 1);
    }
}
END_TEST

START_TEST(test_gsm_exhaustive)
{
    /* nothing outside the two tables is GSM-7 */
    for (unsigned int cp = 0; cp < 0x3100; cp++) {
        int sep = -1;
        bool in = m2s_gsm7_char(cp, &sep);
        int want = ref_septets(cp);
        if (cp == 0)
            want = 0;   /* '@' is not NUL */
        ck_assert_msg(in == (want != 0), "U+%04X: got %d want %d", cp, in, want);
        if (in)
            ck_assert_int_eq(sep, want);
    }
    int sep;
    ck_assert(!m2s_gsm7_char('`', &sep));
    ck_assert(!m2s_gsm7_char(0xE7, &sep));      /* c cedilla lower case */
    ck_assert(!m2s_gsm7_char(0x1F600, &sep));
    ck_assert(!m2s_gsm7_char(0x3B1, &sep));     /* greek small alpha */
}
END_TEST

/* ------------------------------------------------------------ counting */

START_TEST(test_count_boundaries)
{
    char *s;
    check_count("", M2S_ENC_GSM7, 0, 0);
    s = repeat("a", 160); check_count(s, M2S_ENC_GSM7, 160, 1); free(s);
    s = repeat("a", 161); check_count(s, M2S_ENC_GSM7, 161, 2); free(s);
    s = repeat("a", 306); check_count(s, M2S_ENC_GSM7, 306, 2); free(s);
    s = repeat("a", 307); check_count(s, M2S_ENC_GSM7, 307, 3); free(s);
    s = repeat("\xd0\x96", 70); check_count(s, M2S_ENC_UCS2, 70, 1); free(s);
    s = repeat("\xd0\x96", 71); check_count(s, M2S_ENC_UCS2, 71, 2); free(s);
    s = repeat("\xd0\x96", 134); check_count(s, M2S_ENC_UCS2, 134, 2); free(s);
    s = repeat("\xd0\x96", 135); check_count(s, M2S_ENC_UCS2, 135, 3); free(s);
    /* one emoji: a surrogate pair */
    check_count("\xf0\x9f\x98\x80", M2S_ENC_UCS2, 2, 1);
    check_count("a\xf0\x9f\x98\x80", M2S_ENC_UCS2, 3, 1);
    /* 80 extension chars = 160 septets, one part; one more overflows */
    s = repeat("{", 80); check_count(s, M2S_ENC_GSM7, 160, 1); free(s);
    s = repeat("\xe2\x82\xac", 81); check_count(s, M2S_ENC_GSM7, 162, 2); free(s);
    /* a single non-GSM char turns the whole text into UCS-2 */
    s = repeat("a", 100);
    char *t = xasprintf("%s\xc3\xa7", s);
    check_count(t, M2S_ENC_UCS2, 101, 2);
    free(t);
    free(s);
}
END_TEST

START_TEST(test_count_ext_at_boundary)
{
    /* 152 'a' then '[': the escape pair would straddle parts 1 and 2, so
     * '[' moves to part 2; 152 + 2 + 152 = 306 septets needs 3 parts
     * although ceil(306/153) = 2. */
    char *a = repeat("a", 152);
    char *s = xasprintf("%s[%s", a, a);
    check_count(s, M2S_ENC_GSM7, 306, 3);
    free(s);
    /* the same with the bracket at a safe position: 2 parts */
    char *b = repeat("a", 151);
    s = xasprintf("%s[%sa", b, a);
    check_count(s, M2S_ENC_GSM7, 306, 2);
    free(s);
    free(b);
    free(a);
    /* UCS-2: 66 units then an emoji would split its surrogate pair */
    char *zh = repeat("\xd0\x96", 66);
    s = xasprintf("%s\xf0\x9f\x98\x80%s", zh, zh);     /* 66+2+66 = 134 */
    check_count(s, M2S_ENC_UCS2, 134, 3);
    free(s);
    free(zh);
}
END_TEST

START_TEST(test_count_random_property)
{
    static const char *const pool[] = {
        "a", "Z", "7", " ", ".", "\n", "@", "$", "_",
        "[", "]", "{", "}", "~", "^", "|", "\\", "\xe2\x82\xac",
        "\xc3\xa9", "\xc3\xa0", "\xc3\x84", "\xce\xa9",
        "\xc3\xa1", "\xc3\xa7", "\xc5\x82", "\xd0\x96", "\xe6\x97\xa5",
        "\xf0\x9f\x98\x80", "\xf0\x9f\x9a\x80",
    };
    const size_t npool = sizeof pool / sizeof pool[0];
    srand(12345);
    for (int iter = 0; iter < 3000; iter++) {
        m2s_buf b;
        m2s_buf_init(&b);
        m2s_buf_adds(&b, "");
        size_t len = (size_t)(rand() % 520);
        /* half of the strings stay GSM-7 */
        size_t limit = (iter % 2) ? npool : 22;
        for (size_t i = 0; i < len; i++)
            m2s_buf_adds(&b, pool[(size_t)rand() % limit]);
        int rgsm, rparts;
        size_t runits;
        ref_count(b.data, &rgsm, &runits, &rparts);
        m2s_sms_count c;
        m2s_sms_count_text(b.data, &c);
        ck_assert_int_eq(c.encoding == M2S_ENC_GSM7, rgsm);
        ck_assert_uint_eq(c.units, runits);
        ck_assert_msg(c.parts == rparts, "iter %d: parts %d want %d", iter, c.parts, rparts);
        m2s_buf_clear(&b);
    }
}
END_TEST

/* ------------------------------------------------------------ transliteration */

static const struct { const char *in, *out; } translit_cases[] = {
    { "\xe2\x80\x98x\xe2\x80\x99 \xe2\x80\x9ax\xe2\x80\x9b \xe2\x80\xb2", "'x' 'x' '" },
    { "\xe2\x80\x9cq\xe2\x80\x9d \xe2\x80\x9eq\xe2\x80\x9f \xe2\x80\xb3", "\"q\" \"q\" \"" },
    { "\xc2\xabguill\xc2\xbb", "\"guill\"" },
    { "a\xe2\x80\x93" "b\xe2\x80\x94" "c\xe2\x80\x95" "d\xe2\x88\x92" "e", "a-b-c-d-e" },
    { "wait\xe2\x80\xa6", "wait..." },
    { "a\xc2\xa0" "b\xe2\x80\x82" "c\xe2\x80\x89" "d\xe2\x80\xaf" "e\xe2\x81\x9f" "f\xe3\x80\x80g",
      "a b c d e f g" },
    { "ze\xe2\x80\x8bro\xef\xbb\xbfwi\xe2\x81\xa0" "dth\xe2\x80\x8c" "x\xe2\x80\x8dy", "zerowidthxy" },
    { "\xe2\x80\xa2 one \xc2\xb7 two \xe2\x80\xa3 three \xe2\x97\xa6 four",
      "- one - two - three - four" },
    { "Brand\xe2\x84\xa2 \xc2\xa9 2024 \xc2\xae", "BrandTM (C) 2024 (R)" },
    { "\xc2\xbc \xc2\xbd \xc2\xbe", "1/4 1/2 3/4" },
    { "3\xc3\x97" "4\xc3\xb7" "2", "3x4/2" },
    { "\xc3\xa1\xc3\xad\xc3\xb3\xc3\xba\xc3\xa2\xc3\xaa\xc3\xae\xc3\xb4\xc3\xbb\xc3\xab\xc3\xaf\xc3\xa3\xc3\xb5\xc3\xa7",
      "aiouaeiouei" "aoc" },
    { "\xc5\x82\xc5\x91\xc5\xb1\xc5\xa1\xc5\xbe\xc4\x8d\xc4\x87\xc5\x99\xc4\x9b\xc3\xbd\xc3\xbf\xc4\x9f\xc5\x9f\xc4\xb1\xc4\xb0",
      "louszccreyygsiI" },
    { "\xc3\x81\xc3\x8d\xc3\x93\xc3\x9a\xc5\x81\xc5\xa0\xc5\xbd\xc4\x8c\xc5\x98", "AIOULSZCR" },
    { "\xc5\x92uvre \xc5\x93uf", "OEuvre oeuf" },
    /* already GSM-7: untouched */
    { "\xc3\xa9\xc3\xa8\xc3\xa0\xc3\xb9\xc3\xac\xc3\xb2\xc3\x87\xc3\xa4\xc3\xb6\xc3\xbc\xc3\x9f\xc3\x91\xc2\xa3\xe2\x82\xac",
      "\xc3\xa9\xc3\xa8\xc3\xa0\xc3\xb9\xc3\xac\xc3\xb2\xc3\x87\xc3\xa4\xc3\xb6\xc3\xbc\xc3\x9f\xc3\x91\xc2\xa3\xe2\x82\xac" },
    /* decomposed accents: composed when GSM-7 has the letter, else dropped */
    { "e\xcc\x81t\xc3\xa9 a\xcc\x88 o\xcc\x82", "\xc3\xa9t\xc3\xa9 \xc3\xa4 o" },
    /* no faithful form: untouched */
    { "\xd0\x9f\xd1\x80\xd0\xb8\xd0\xb2\xd0\xb5\xd1\x82", "\xd0\x9f\xd1\x80\xd0\xb8\xd0\xb2\xd0\xb5\xd1\x82" },
    { "\xe6\x97\xa5\xe6\x9c\xac", "\xe6\x97\xa5\xe6\x9c\xac" },
    { "\xf0\x9f\x98\x80", "\xf0\x9f\x98\x80" },
    { "\xce\xb1\xce\xb2\xce\xb3", "\xce\xb1\xce\xb2\xce\xb3" },
    /* a ZWJ emoji sequence keeps its joiner */
    { "\xf0\x9f\x91\xa8\xe2\x80\x8d\xf0\x9f\x92\xbb", "\xf0\x9f\x91\xa8\xe2\x80\x8d\xf0\x9f\x92\xbb" },
    { "plain ascii [ok] {x}", "plain ascii [ok] {x}" },
    { "", "" },
};

START_TEST(test_translit_table)
{
    for (size_t i = 0; i < sizeof translit_cases / sizeof translit_cases[0]; i++) {
        char *t = m2s_transliterate(translit_cases[i].in);
        ck_assert_msg(strcmp(t, translit_cases[i].out) == 0, "case %zu: got \"%s\" want \"%s\"",
                      i, t, translit_cases[i].out);
        free(t);
    }
}
END_TEST

START_TEST(test_translit_makes_gsm)
{
    const char *in = "\xe2\x80\x98smart\xe2\x80\x99 \xe2\x80\x9cquotes\xe2\x80\x9d \xe2\x80\x94 dash\xe2\x80\xa6 \xc2\xbd";
    ck_assert(!is_gsm(in));
    char *t = m2s_transliterate(in);
    ck_assert(is_gsm(t));
    ck_assert_str_eq(t, "'smart' \"quotes\" - dash... 1/2");
    free(t);

    /* every Latin-1 Supplement and Latin Extended-A letter ends up GSM-7 */
    for (unsigned int cp = 0xC0; cp <= 0x17F; cp++) {
        if (cp == 0xD7 || cp == 0xF7)
            continue;
        char one[8];
        enc(one, cp);
        t = m2s_transliterate(one);
        ck_assert_msg(is_gsm(t) && *t, "U+%04X -> \"%s\" not GSM-7", cp, t);
        free(t);
    }
    /* the rest stays UCS-2 and intact */
    t = m2s_transliterate("\xe2\x80\x9cHi\xe2\x80\x9d \xf0\x9f\x98\x80");
    ck_assert_str_eq(t, "\"Hi\" \xf0\x9f\x98\x80");
    ck_assert(!is_gsm(t));
    free(t);
}
END_TEST

/* ------------------------------------------------------------ fitting */

static int parts(const char *s)
{
    m2s_sms_count c;
    m2s_sms_count_text(s, &c);
    return c.parts;
}

START_TEST(test_fit_no_cut)
{
    bool tr = true;
    char *t = m2s_sms_fit("short text", 1, "...", &tr);
    ck_assert_str_eq(t, "short text");
    ck_assert(!tr);
    free(t);
    char *a = repeat("a", 160);
    tr = true;
    t = m2s_sms_fit(a, 1, "...", &tr);
    ck_assert_str_eq(t, a);
    ck_assert(!tr);
    free(t);
    free(a);
}
END_TEST

START_TEST(test_fit_word_boundary)
{
    /* 40 words of 8 letters and a space: 360 chars */
    char *s = repeat("abcdefgh ", 40);
    bool tr = false;
    char *t = m2s_sms_fit(s, 1, "...", &tr);
    ck_assert(tr);
    ck_assert_int_eq(parts(t), 1);
    size_t n = strlen(t);
    ck_assert_uint_le(n, 160);
    ck_assert_uint_gt(n, 140);
    /* ends in a whole word followed by the marker */
    ck_assert_str_eq(t + n - 11, "abcdefgh...");
    ck_assert(strncmp(t, s, n - 3) == 0);
    free(t);

    /* trailing punctuation is not left before the marker */
    free(s);
    s = repeat("word, ", 50);
    t = m2s_sms_fit(s, 1, "...", &tr);
    ck_assert(tr);
    n = strlen(t);
    ck_assert_str_eq(t + n - 7, "word...");
    free(t);
    free(s);

    /* a UCS-2 marker makes the whole text UCS-2 and is counted */
    s = repeat("abcdefgh ", 40);
    t = m2s_sms_fit(s, 1, "\xe2\x80\xa6", &tr);
    ck_assert(tr);
    ck_assert_int_eq(parts(t), 1);
    n = strlen(t);
    ck_assert_uint_le(n, 72);
    ck_assert_str_eq(t + n - 11, "abcdefgh\xe2\x80\xa6");
    free(t);

    /* two parts */
    t = m2s_sms_fit(s, 2, "...", &tr);
    ck_assert(tr);
    ck_assert_int_eq(parts(t), 2);
    ck_assert_uint_gt(strlen(t), 280);
    free(t);
    free(s);
}
END_TEST

START_TEST(test_fit_long_word)
{
    /* no whitespace at all: cut at a character */
    char *s = repeat("x", 400);
    bool tr = false;
    char *t = m2s_sms_fit(s, 1, "...", &tr);
    ck_assert(tr);
    ck_assert_uint_eq(strlen(t), 160);
    ck_assert_str_eq(t + 157, "...");
    free(t);
    /* NULL and empty markers */
    t = m2s_sms_fit(s, 1, NULL, &tr);
    ck_assert(tr);
    ck_assert_uint_eq(strlen(t), 160);
    free(t);
    free(s);
    s = repeat("x", 500);
    t = m2s_sms_fit(s, 3, "", &tr);
    ck_assert(tr);
    ck_assert_uint_eq(strlen(t), 459);
    ck_assert_int_eq(parts(t), 3);
    free(t);
    free(s);
}
END_TEST

START_TEST(test_fit_ucs2)
{
    char *s = repeat("\xd0\x9f\xd1\x80\xd0\xb8\xd0\xb2\xd0\xb5\xd1\x82 ", 40);  /* 280 chars */
    bool tr = false;
    char *t = m2s_sms_fit(s, 1, "\xe2\x80\xa6", &tr);
    ck_assert(tr);
    ck_assert(valid_utf8(t));
    m2s_sms_count c;
    m2s_sms_count_text(t, &c);
    ck_assert_int_eq(c.encoding, M2S_ENC_UCS2);
    ck_assert_int_eq(c.parts, 1);
    ck_assert_uint_ge(c.units, 60);
    /* cut after a whole word */
    size_t n = strlen(t);
    ck_assert_str_eq(t + n - 15, "\xd0\x9f\xd1\x80\xd0\xb8\xd0\xb2\xd0\xb5\xd1\x82\xe2\x80\xa6");
    free(t);
    free(s);

    /* emoji only: never half a surrogate pair or UTF-8 sequence */
    s = repeat("\xf0\x9f\x98\x80", 100);
    t = m2s_sms_fit(s, 2, "...", &tr);
    ck_assert(tr);
    ck_assert(valid_utf8(t));
    ck_assert_int_le(parts(t), 2);
    ck_assert_uint_eq((strlen(t) - 3) % 4, 0);
    free(t);
    free(s);

    /* text that becomes GSM-7 once the emoji at the end is cut */
    char *a = repeat("abc ", 60);
    s = xasprintf("%s\xf0\x9f\x98\x80", a);
    t = m2s_sms_fit(s, 1, "...", &tr);
    ck_assert(tr);
    ck_assert(is_gsm(t));
    ck_assert_uint_gt(strlen(t), 150);
    free(t);
    free(s);
    free(a);
}
END_TEST

START_TEST(test_fit_random)
{
    static const char *const pool[] = {
        "a", "b", "c", " ", " ", ",", ".", "\n", "[", "\xe2\x82\xac", "\xc3\xa9",
        "\xc3\xa1", "\xd0\x96", "\xf0\x9f\x98\x80", "e\xcc\x81", "\xe6\x97\xa5",
    };
    static const char *const markers[] = { "...", "\xe2\x80\xa6", "", NULL, " [more]" };
    srand(4242);
    for (int iter = 0; iter < 400; iter++) {
        m2s_buf b;
        m2s_buf_init(&b);
        m2s_buf_adds(&b, "");
        size_t len = (size_t)(rand() % 700);
        size_t limit = (iter % 3 == 0) ? 10 : sizeof pool / sizeof pool[0];
        for (size_t i = 0; i < len; i++)
            m2s_buf_adds(&b, pool[(size_t)rand() % limit]);
        int maxp = 1 + rand() % 4;
        const char *marker = markers[(size_t)rand() % 5];
        bool tr = false;
        char *t = m2s_sms_fit(b.data, maxp, marker, &tr);
        ck_assert(valid_utf8(t));
        ck_assert_msg(parts(t) <= maxp, "iter %d: %d parts > %d", iter, parts(t), maxp);
        if (!tr) {
            ck_assert_str_eq(t, b.data);
        } else {
            ck_assert_int_gt(parts(b.data), maxp);
            size_t ml = marker ? strlen(marker) : 0;
            ck_assert_uint_ge(strlen(t), ml);
            ck_assert(strcmp(t + strlen(t) - ml, marker ? marker : "") == 0);
            /* what is kept is a prefix of the input */
            ck_assert(strncmp(t, b.data, strlen(t) - ml) == 0);
        }
        free(t);
        m2s_buf_clear(&b);
    }
}
END_TEST

/* The byte length of the kept start of core in head + kept + marker + tail,
 * after checking that t has that shape. */
static size_t kept_of(const char *t, const char *head, const char *core,
                      const char *marker, const char *tail)
{
    size_t tl = strlen(t), hl = strlen(head), ml = strlen(marker), sl = strlen(tail);
    ck_assert_uint_ge(tl, hl + ml + sl);
    ck_assert_msg(strncmp(t, head, hl) == 0, "head lost: %s", t);
    ck_assert_msg(strcmp(t + tl - sl, tail) == 0, "tail lost: %s", t);
    ck_assert_msg(strncmp(t + tl - sl - ml, marker, ml) == 0, "no marker before the tail: %s", t);
    size_t kept = tl - hl - ml - sl;
    ck_assert_uint_le(kept, strlen(core));
    ck_assert_msg(strncmp(t + hl, core, kept) == 0, "not a start of the core: %s", t);
    /* whole characters only */
    ck_assert_msg(((unsigned char)core[kept] & 0xC0) != 0x80, "cut inside a character: %s", t);
    return kept;
}

START_TEST(test_cut_between_words)
{
    /* 16 + core + 3 + 29 in 160 septets: 112 of the core would fit, the
     * cut goes back to the space after the 12th word */
    char *words = repeat("abcdefgh ", 40);
    words[strlen(words) - 1] = '\0';
    const char *head = "(+3 suppressed) ", *tail = "\nhttps://x.example/0123456789";
    char *t = m2s_sms_cut(head, words, tail, 1, "...");
    ck_assert_ptr_nonnull(t);
    char *twelve = repeat("abcdefgh ", 12);
    twelve[strlen(twelve) - 1] = '\0';
    char *want = xasprintf("%s%s...%s", head, twelve, tail);
    ck_assert_str_eq(t, want);
    ck_assert_int_eq(parts(t), 1);
    ck_assert_uint_eq(kept_of(t, head, words, "...", tail), 107);
    free(want);
    free(t);

    /* the same core, cut alone, goes further with the same rule */
    bool tr = false;
    char *whole = m2s_sms_fit(words, 1, "...", &tr);
    char *cut = m2s_sms_cut("", words, "", 1, "...");
    ck_assert(tr);
    ck_assert_str_eq(whole, cut);
    free(cut);
    char *seventeen = repeat("abcdefgh ", 17);
    seventeen[strlen(seventeen) - 1] = '\0';
    want = xasprintf("%s...", seventeen);      /* 152 + 3; 157 would cut "abcd" */
    ck_assert_str_eq(whole, want);
    free(want);
    free(whole);

    /* a core that would fit whole still ends at a word: it is only the
     * start of a longer text */
    t = m2s_sms_cut("", "alpha beta gamma", "", 1, "...");
    ck_assert_str_eq(t, "alpha beta...");
    free(t);
    /* punctuation before the cut is dropped, separators of head and tail are kept */
    t = m2s_sms_cut("[a] ", "one, two; three: four - five", "\n[b]", 1, "...");
    ck_assert_str_eq(t, "[a] one, two; three: four...\n[b]");
    free(t);

    free(seventeen);
    free(twelve);
    free(words);
}
END_TEST

START_TEST(test_cut_no_room)
{
    char *head = repeat("a", 150);
    /* 150 + 3 + 5: two characters of the core fit, up to the space */
    char *t = m2s_sms_cut(head, "xy zw", "\nbbbb", 1, "...");
    char *want = xasprintf("%sxy...\nbbbb", head);
    ck_assert_str_eq(t, want);
    free(want);
    free(t);
    /* 150 + 3 + 9 > 160 with no core at all: NULL */
    ck_assert_ptr_null(m2s_sms_cut(head, "xy zw", "\nbbbbbbbb", 1, "..."));
    /* a second part makes room */
    t = m2s_sms_cut(head, "xy zw", "\nbbbbbbbb", 2, "...");
    ck_assert_ptr_nonnull(t);
    ck_assert_int_eq(parts(t), 2);
    free(t);
    /* NULL head, tail and marker are "" */
    t = m2s_sms_cut(NULL, "one two", NULL, 1, NULL);
    ck_assert_str_eq(t, "one");
    free(t);
    free(head);
}
END_TEST

START_TEST(test_cut_whole_characters)
{
    /* extension characters: 78 * 2 + 3 = 159 septets, 79 would be 161;
     * "[" is also punctuation, but nothing else is there: kept */
    char *s = repeat("[", 100);
    char *t = m2s_sms_cut("", s, "", 1, "...");
    char *want = repeat("[", 78);
    ck_assert_str_eq(t + 78, "...");
    ck_assert(strncmp(t, want, 78) == 0);
    ck_assert_uint_eq(strlen(t), 81);
    free(want);
    free(t);
    free(s);
    /* the euro sign: 3 bytes, 2 septets */
    s = repeat("\xe2\x82\xac", 100);
    t = m2s_sms_cut("", s, "", 1, "...");
    ck_assert_uint_eq(kept_of(t, "", s, "...", ""), 78 * 3);
    ck_assert_int_eq(parts(t), 1);
    free(t);
    free(s);
    /* surrogate pairs: 34 emoji (68 units) + the ellipsis in 70 */
    s = repeat("\xf0\x9f\x98\x80", 50);
    t = m2s_sms_cut("", s, "", 1, "\xe2\x80\xa6");
    ck_assert_uint_eq(kept_of(t, "", s, "\xe2\x80\xa6", ""), 34 * 4);
    free(t);
    free(s);
    /* combining marks stay with their letter: 69 units would end in a
     * bare "e", so 34 whole "e\u0301" are kept */
    s = repeat("e\xcc\x81", 100);
    t = m2s_sms_cut("", s, "", 1, "\xe2\x80\xa6");
    ck_assert_uint_eq(kept_of(t, "", s, "\xe2\x80\xa6", ""), 34 * 3);
    free(t);
    free(s);
    /* never right after a joiner: 13 "man technologist" sequences (5
     * units each) and a man (2) would fit with the ellipsis, not the
     * joiner and laptop after him: the sequence goes whole */
    s = repeat("\xf0\x9f\x91\xa8\xe2\x80\x8d\xf0\x9f\x92\xbb", 30);
    t = m2s_sms_cut("", s, "", 1, "\xe2\x80\xa6");
    ck_assert_uint_eq(kept_of(t, "", s, "\xe2\x80\xa6", ""), 13 * 11);
    free(t);
    free(s);
    /* a text that is one long joined cluster is still cut, not lost */
    s = repeat("\xd0\x96\xe2\x80\x8d", 60);
    t = m2s_sms_cut("", s, "", 1, "\xe2\x80\xa6");
    ck_assert_ptr_nonnull(t);
    ck_assert_uint_eq(kept_of(t, "", s, "\xe2\x80\xa6", ""), 34 * 5 + 2);
    ck_assert_int_eq(parts(t), 1);
    free(t);
    free(s);
}
END_TEST

START_TEST(test_cut_long_word_at_punctuation)
{
    /* no space within 20 characters of the cut: the URL is cut where its
     * pieces meet, not in the middle of one */
    char *words = repeat("word ", 23);       /* 115 characters */
    char *s = xasprintf("%shttps://grafana.example.com/alerting/grafana/abcdefghij/view", words);
    bool tr = false;
    char *t = m2s_sms_fit(s, 1, "...", &tr);
    ck_assert(tr);
    char *want = xasprintf("%shttps://grafana.example.com/alerting...", words);
    ck_assert_str_eq(t, want);
    free(want);
    free(t);
    /* between a head and a tail, the same rule: 140 characters fit with
     * the marker and the tail, up to "example.c" */
    t = m2s_sms_cut("", s, "\nhttps://f.ex/abc", 1, "...");
    want = xasprintf("%shttps://grafana.example...\nhttps://f.ex/abc", words);
    ck_assert_str_eq(t, want);
    free(want);
    free(t);
    free(s);
    free(words);
}
END_TEST

/* The cut went back from the longest start that fits by at most 21
 * characters, plus punctuation, white space and characters that hold on
 * to the next one (combining marks, joiners). */
static void check_not_short(const char *t, const char *head, const char *core, size_t kept,
                            const char *marker, const char *tail, int maxp)
{
    /* the longest start that fits, found one character at a time */
    size_t fit = kept;
    const char *p = core + kept;
    while (*p) {
        const char *q = p;
        dec(&q);
        char *c = xasprintf("%s%.*s%s%s", head, (int)(q - core), core, marker, tail);
        bool ok = parts(c) <= maxp;
        free(c);
        if (!ok)
            break;
        p = q;
        fit = (size_t)(p - core);
    }
    /* the characters between kept and fit, last one first */
    unsigned int cps[1024];
    size_t n = 0;
    for (const char *r = core + kept; r < core + fit && n < 1024;)
        cps[n++] = dec(&r);
    for (size_t i = 0; i + 21 < n; i++) {
        unsigned int c = cps[i], next = cps[i + 1];
        bool ok = strchr(" \n,.[/", (int)c) != NULL || c == 0x301 || c == 0x200D ||
                  next == 0x301 || next == 0x200D;
        ck_assert_msg(ok, "cut too short (%zu characters back, U+%04X): %s", n, c, t);
    }
}

START_TEST(test_cut_random)
{
    static const char *const pool[] = {
        "a", "b", "c", " ", " ", ",", ".", "\n", "[", "\xe2\x82\xac", "\xc3\xa9", "/",
        "\xc3\xa1", "\xd0\x96", "\xf0\x9f\x98\x80", "e\xcc\x81", "\xe6\x97\xa5", "\xe2\x80\x8d",
    };
    static const char *const heads[] = { "", "(+2 suppressed) ", "\xd0\x96 " };
    static const char *const tails[] = { "", "\nhttps://x.example/abc", "\n[2 attachments]" };
    static const char *const markers[] = { "...", "\xe2\x80\xa6", "" };
    srand(2024);
    for (int iter = 0; iter < 600; iter++) {
        m2s_buf b;
        m2s_buf_init(&b);
        m2s_buf_adds(&b, "x");
        size_t len = (size_t)(rand() % 600);
        size_t limit = (iter % 3 == 0) ? 12 : sizeof pool / sizeof pool[0];
        for (size_t i = 0; i < len; i++)
            m2s_buf_adds(&b, pool[(size_t)rand() % limit]);
        int maxp = 1 + rand() % 3;
        const char *head = heads[(size_t)rand() % 3], *tail = tails[(size_t)rand() % 3];
        const char *marker = markers[(size_t)rand() % 3];
        char *t = m2s_sms_cut(head, b.data, tail, maxp, marker);
        ck_assert_ptr_nonnull(t);       /* heads and tails leave room */
        ck_assert(valid_utf8(t));
        ck_assert_msg(parts(t) <= maxp, "iter %d: %d parts > %d", iter, parts(t), maxp);
        size_t kept = kept_of(t, head, b.data, marker, tail);
        ck_assert_uint_gt(kept, 0);
        check_not_short(t, head, b.data, kept, marker, tail, maxp);
        if (!*tail && !*head) {
            bool tr = false;
            char *f = m2s_sms_fit(b.data, maxp, marker, &tr);
            if (tr)
                ck_assert_str_eq(f, t);     /* one rule for both */
            free(f);
        }
        free(t);
        m2s_buf_clear(&b);
    }
}
END_TEST

START_TEST(test_marker)
{
    ck_assert_str_eq(m2s_sms_marker(M2S_ENC_GSM7), "...");
    ck_assert_str_eq(m2s_sms_marker(M2S_ENC_UCS2), "\xe2\x80\xa6");
}
END_TEST

/* ------------------------------------------------------------ tidy */

static char *tidy(const char *in, bool sig, bool quotes, bool collapse, const m2s_strv *strip)
{
    m2s_tidy_opts o = { sig, quotes, collapse, strip };
    return m2s_text_tidy(in, &o);
}

START_TEST(test_tidy_signature)
{
    char *t = tidy("Disk full on db1\n\n-- \nBob\nOps team\n", true, false, true, NULL);
    ck_assert_str_eq(t, "Disk full on db1");
    free(t);
    t = tidy("Body\n--\nsig", true, false, true, NULL);
    ck_assert_str_eq(t, "Body");
    free(t);
    /* "---" and "-- x" are not separators; off means off */
    t = tidy("a\n---\nb\n-- x", true, false, true, NULL);
    ck_assert_str_eq(t, "a\n---\nb\n-- x");
    free(t);
    t = tidy("Body\n-- \nsig", false, false, true, NULL);
    ck_assert_str_eq(t, "Body\n--\nsig");
    free(t);
    /* a closing line ends the text too, but only after some text */
    t = tidy("Disk swapped, rebuilding.\n\nKind regards,\nJan\n+31 6 1234\n", true, false, true, NULL);
    ck_assert_str_eq(t, "Disk swapped, rebuilding.");
    free(t);
    t = tidy("Fixed.\nMet vriendelijke groet\nJan", true, false, true, NULL);
    ck_assert_str_eq(t, "Fixed.");
    free(t);
    t = tidy("Thanks!\nThe backup ran.", true, false, true, NULL);
    ck_assert_str_eq(t, "Thanks!\nThe backup ran.");
    free(t);
    t = tidy("Ok\nRegards, the team wants a call\nx", true, false, true, NULL);
    ck_assert_str_eq(t, "Ok\nRegards, the team wants a call\nx");
    free(t);
}
END_TEST

START_TEST(test_tidy_quotes)
{
    char *t = tidy("Thanks, fixed.\n\nOn Mon, 1 Jan 2024, Bob <b@x> wrote:\n> is it down?\n>> yes\n\nBye",
                   false, true, true, NULL);
    ck_assert_str_eq(t, "Thanks, fixed.\n\nBye");
    free(t);
    t = tidy("Ok\n\nAm 01.01.2024 um 10:00 schrieb Bob <b@x>:\n  > Frage\n", false, true, true, NULL);
    ck_assert_str_eq(t, "Ok");
    free(t);
    t = tidy("Oui\nLe lun. 1 janv. 2024 \xc3\xa0 10:00, Bob <b@x> a \xc3\xa9" "crit :\n> question\n",
             false, true, true, NULL);
    ck_assert_str_eq(t, "Oui");
    free(t);
    /* a wrapped attribution line */
    t = tidy("Yes\nOn Mon, 1 Jan 2024 at 10:00, Bob Smith\n<bob@example.com> wrote:\n> q\n",
             false, true, true, NULL);
    ck_assert_str_eq(t, "Yes");
    free(t);
    /* "wrote:" not followed by a quote stays */
    t = tidy("Bob wrote: the report\nline 2", false, true, true, NULL);
    ck_assert_str_eq(t, "Bob wrote: the report\nline 2");
    free(t);
    /* quotes kept when not asked */
    t = tidy("a\n> b", false, false, true, NULL);
    ck_assert_str_eq(t, "a\n> b");
    free(t);
}
END_TEST

START_TEST(test_tidy_outlook)
{
    char *t = tidy("Restarted it.\r\n\r\n-----Original Message-----\r\nFrom: Bob\r\nSent: Monday\r\n\r\nold\r\n",
                   false, true, true, NULL);
    ck_assert_str_eq(t, "Restarted it.");
    free(t);
    t = tidy("Done\n\n________________________________\nFrom: Alert System <a@x>\nSent: Monday, 1 January 2024 10:00\n"
             "To: ops\nSubject: x\n\nold text", false, true, true, NULL);
    ck_assert_str_eq(t, "Done");
    free(t);
    /* "From:" without a "Sent:" nearby is content */
    t = tidy("From: monitoring\nHost: db1\nState: down\n\n\n\n\nok", false, true, true, NULL);
    ck_assert_str_eq(t, "From: monitoring\nHost: db1\nState: down\n\nok");
    free(t);
}
END_TEST

START_TEST(test_tidy_strip_and_blank)
{
    m2s_strv re = { NULL, 0 };
    m2s_strv_add(&re, "^(CONFIDENTIAL|DISCLAIMER):");
    m2s_strv_add(&re, "unsubscribe");
    m2s_strv_add(&re, "([");          /* invalid: skipped */
    char *t = tidy("  Alert: x  \t\n\n\n\nDISCLAIMER: this mail is\nCONFIDENTIAL: yes\nclick to unsubscribe\nend\n\n\n",
                   false, false, true, &re);
    ck_assert_str_eq(t, "  Alert: x\n\nend");
    free(t);
    /* without collapsing, blank runs stay but the ends are trimmed */
    t = tidy("\n\na\n\n\nb\n\n", false, false, false, NULL);
    ck_assert_str_eq(t, "a\n\n\nb");
    free(t);
    /* CR, CRLF, tabs, NBSP-only lines */
    t = tidy("a\r\nb\rc\td\n\xc2\xa0\n\n\xc2\xa0 \ne\xc2\xa0", false, false, true, NULL);
    ck_assert_str_eq(t, "a\nb\nc d\n\ne");
    free(t);
    t = tidy("", true, true, true, &re);
    ck_assert_str_eq(t, "");
    free(t);
    m2s_strv_clear(&re);
}
END_TEST

START_TEST(test_tidy_lines)
{
    static const struct { const char *in, *out; } cases[] = {
        /* decoration framing a heading, or a line of its own */
        { "***** Nagios *****\nHost down", "Nagios\nHost down" },
        { "=====\nok\n=====", "ok" },
        { "## Heading ##", "Heading" },
        { "RE: ** PROBLEM ** web01", "RE: PROBLEM web01" },
        { "~~ a ~~ __ b __", "a b" },
        /* decoration that touches a word is part of it */
        { "**bold** and __init__", "**bold** and __init__" },
        { "==x== a*b", "==x== a*b" },
        { "* item\n- item", "* item\n- item" },
        { "**PROBLEM** ***", "**PROBLEM**" },
        /* mixed characters are not one run */
        { "*=*= alert", "*=*= alert" },
        /* spaces and tabs trimmed and collapsed; blank lines dropped */
        { "  a  \t b\t\n\n \t \n\nc  ", "a b\nc" },
        { "a\r\nb\rc\r\n\r\nd", "a\nb\nc\nd" },
        { "\xc3\xa9  \xd0\x96\t\xf0\x9f\x98\x80", "\xc3\xa9 \xd0\x96 \xf0\x9f\x98\x80" },
        /* a non-breaking space is not a space here */
        { "a\xc2\xa0" "b", "a\xc2\xa0" "b" },
        { "*****\n=====\n \n", "" },
        { "", "" },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *t = m2s_text_tidy_lines(cases[i].in);
        ck_assert_msg(strcmp(t, cases[i].out) == 0, "case %zu: got \"%s\" want \"%s\"",
                      i, t, cases[i].out);
        free(t);
    }
    char *t = m2s_text_tidy_lines(NULL);
    ck_assert_str_eq(t, "");
    free(t);
}
END_TEST

START_TEST(test_utf8_offset)
{
    const char *s = "a\xc3\xa9\xf0\x9f\x98\x80" "b\xe2\x82\xac";
    static const size_t want[] = { 0, 1, 3, 7, 8, 11, 11, 11 };
    for (size_t n = 0; n < sizeof want / sizeof want[0]; n++)
        ck_assert_uint_eq(m2s_utf8_offset(s, n), want[n]);
    ck_assert_uint_eq(m2s_utf8_offset("", 5), 0);
}
END_TEST

/* ------------------------------------------------------------ squash, sanitize */

START_TEST(test_squash)
{
    char *t = m2s_text_squash("  a\tb\r\n\n c\xc2\xa0\xc2\xa0" "d\xe2\x80\x83" "e\xe3\x80\x80" "f\xe2\x80\xaf" "g  ");
    ck_assert_str_eq(t, "a b c d e f g");
    free(t);
    t = m2s_text_squash(" \n\t ");
    ck_assert_str_eq(t, "");
    free(t);
    t = m2s_text_squash("\xd0\x9f\xd1\x80\xd0\xb8  \xf0\x9f\x98\x80");
    ck_assert_str_eq(t, "\xd0\x9f\xd1\x80\xd0\xb8 \xf0\x9f\x98\x80");
    free(t);
}
END_TEST

START_TEST(test_sanitize)
{
    static const struct { const char *in; size_t len; const char *out; } cases[] = {
        { "ok \xc3\xa9 \xf0\x9f\x98\x80", 0, "ok \xc3\xa9 \xf0\x9f\x98\x80" },
        { "a\xff" "b", 0, "a\xef\xbf\xbd" "b" },
        { "\xc0\xaf", 0, "\xef\xbf\xbd\xef\xbf\xbd" },                  /* overlong '/' */
        { "\xe0\x80\xaf", 0, "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd" },  /* overlong */
        { "\xed\xa0\x80x", 0, "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbdx" }, /* surrogate */
        { "\xf4\x90\x80\x80", 0, "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd" }, /* > U+10FFFF */
        { "ab\xe2\x82", 0, "ab\xef\xbf\xbd" },                           /* truncated at end */
        { "\xe2\x82x", 0, "\xef\xbf\xbdx" },                             /* truncated inside */
        { "a\0b", 3, "ab" },                                             /* NUL removed */
        { "\xef\xbf\xbd", 0, "\xef\xbf\xbd" },                           /* real U+FFFD kept */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        size_t len = cases[i].len ? cases[i].len : strlen(cases[i].in);
        char *t = m2s_utf8_sanitize(cases[i].in, len);
        ck_assert_msg(strcmp(t, cases[i].out) == 0, "case %zu", i);
        ck_assert(valid_utf8(t));
        free(t);
    }
    /* random bytes always come out valid */
    srand(99);
    for (int iter = 0; iter < 500; iter++) {
        unsigned char buf[64];
        for (size_t i = 0; i < sizeof buf; i++)
            buf[i] = (unsigned char)rand();
        char *t = m2s_utf8_sanitize((const char *)buf, sizeof buf);
        ck_assert(valid_utf8(t));
        free(t);
    }
}
END_TEST

static Suite *make_suite(void)
{
    Suite *s = suite_create("text");
    TCase *tc = tcase_create("gsm");
    tcase_add_test(tc, test_gsm_basic_chars);
    tcase_add_test(tc, test_gsm_ext_chars);
    tcase_add_test(tc, test_gsm_exhaustive);
    tcase_add_test(tc, test_count_boundaries);
    tcase_add_test(tc, test_count_ext_at_boundary);
    tcase_add_test(tc, test_count_random_property);
    suite_add_tcase(s, tc);

    tc = tcase_create("translit");
    tcase_add_test(tc, test_translit_table);
    tcase_add_test(tc, test_translit_makes_gsm);
    suite_add_tcase(s, tc);

    tc = tcase_create("fit");
    tcase_add_test(tc, test_fit_no_cut);
    tcase_add_test(tc, test_fit_word_boundary);
    tcase_add_test(tc, test_fit_long_word);
    tcase_add_test(tc, test_fit_ucs2);
    tcase_add_test(tc, test_fit_random);
    tcase_add_test(tc, test_cut_between_words);
    tcase_add_test(tc, test_cut_no_room);
    tcase_add_test(tc, test_cut_whole_characters);
    tcase_add_test(tc, test_cut_long_word_at_punctuation);
    tcase_add_test(tc, test_cut_random);
    tcase_add_test(tc, test_marker);
    suite_add_tcase(s, tc);

    tc = tcase_create("tidy");
    tcase_add_test(tc, test_tidy_signature);
    tcase_add_test(tc, test_tidy_quotes);
    tcase_add_test(tc, test_tidy_outlook);
    tcase_add_test(tc, test_tidy_strip_and_blank);
    tcase_add_test(tc, test_tidy_lines);
    tcase_add_test(tc, test_utf8_offset);
    tcase_add_test(tc, test_squash);
    tcase_add_test(tc, test_sanitize);
    suite_add_tcase(s, tc);
    return s;
}
