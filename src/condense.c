/* condense.c - facts first, said once, one part where the facts fit: the
 * rules of condense.h, run over the data of profiles.c. */
#include "build-config.h"

#include <ctype.h>
#include <pthread.h>
#include <regex.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "condense.h"
#include "log.h"
#include "profiles.h"
#include "text.h"

#define MAX_FACTS 4             /* output / value lines put first */
#define INSIDE_MIN 12           /* a line this long inside the subject is said */
#define LOG_LINE_MAX 80         /* bytes of a line quoted in the -v log */
#define N_FIELDS (sizeof M2S_PROFILE_FIELDS - 1)
#define PATTERN_CACHE 1024

/* ------------------------------------------------------------ patterns */

/* The tables' patterns, compiled once per process (static strings, so
 * their address is their name). NULL for one that does not compile. Kept
 * until exit. The LMTP service condenses on several threads at once: the
 * cache is looked up and filled under a lock (regexec itself may run on
 * one pattern in several threads). */
static const regex_t *table_re(const char *pattern)
{
    static struct { const char *p; regex_t re; bool ok; } cache[PATTERN_CACHE];
    static size_t used;
    static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
    const regex_t *re = NULL;
    pthread_mutex_lock(&lock);
    for (size_t i = 0; i < used; i++)
        if (cache[i].p == pattern) {
            re = cache[i].ok ? &cache[i].re : NULL;
            goto out;
        }
    if (used == PATTERN_CACHE) {
        m2s_log(LOG_ERR, "condense: more than %d table patterns; \"%s\" is not used",
                PATTERN_CACHE, pattern);
        goto out;
    }
    cache[used].p = pattern;
    cache[used].ok = regcomp(&cache[used].re, pattern, REG_EXTENDED | REG_ICASE) == 0;
    re = cache[used].ok ? &cache[used].re : NULL;
    used++;
out:
    pthread_mutex_unlock(&lock);
    return re;
}

static bool table_match(const char *pattern, const char *s, size_t nm, regmatch_t *m)
{
    const regex_t *re = pattern ? table_re(pattern) : NULL;
    return re && regexec(re, s, nm, m, 0) == 0;
}

/* An administrator's pattern (validated at load): compiled for each use,
 * as the configuration may change between calls in one process (tests). */
static bool admin_match(const char *pattern, const char *s)
{
    regex_t re;
    bool hit = false;
    if (regcomp(&re, pattern, REG_EXTENDED | REG_ICASE | REG_NOSUB) != 0)
        goto out;
    hit = regexec(&re, s, 0, NULL, 0) == 0;
    regfree(&re);
out:
    return hit;
}

/* "Name: ERE" against the mail's headers. */
static bool header_match(const char *spec, const m2s_mail *mail, bool admin)
{
    bool hit = false;
    const char *colon = strchr(spec, ':');
    if (!colon || !mail)
        return false;
    char *name = xstrndup(spec, (size_t)(colon - spec));
    const char *re = colon + 1;
    while (*re == ' ')
        re++;
    for (size_t i = 0; i < mail->hdr_names.n && i < mail->hdr_values.n && !hit; i++) {
        if (strcasecmp(mail->hdr_names.v[i], name) != 0)
            continue;
        hit = admin ? admin_match(re, mail->hdr_values.v[i])
                    : table_match(re, mail->hdr_values.v[i], 0, NULL);
    }
    free(name);
    return hit;
}

/* ------------------------------------------------------------ lines */

typedef enum { KEEP, DROPPED, FACT, FIRST } line_role;

typedef struct wline {
    char *text;
    line_role role;
    int field;                  /* a headline field this line gave, or -1 */
    size_t rank;                /* a fact's or first line's place: its pattern's */
    char *value;                /* that field's value (owned) */
} wline;

typedef struct work {
    const m2s_config *cfg;
    const m2s_mail *mail;
    const char *subject;        /* as it came */
    char *from;                 /* "Name <address>" */
    wline *lines;
    size_t n;
    const m2s_profile *prof;
    char *field[N_FIELDS];
    bool recovery;
    m2s_strv *log;
} work;

static int field_index(char c)
{
    const char *p = strchr(M2S_PROFILE_FIELDS, c);
    return p && c ? (int)(p - M2S_PROFILE_FIELDS) : -1;
}

static char *quote(const char *s)
{
    return m2s_oneline(s, LOG_LINE_MAX);
}

static void note(work *w, const char *rule, const char *what, const char *text)
{
    if (!w->log)
        return;
    char *q = quote(text);
    m2s_strv_take(w->log, xasprintf("%s: %s \"%s\"", rule, what, q));
    free(q);
}

static void drop(work *w, size_t i, const char *rule, const char *why)
{
    w->lines[i].role = DROPPED;
    note(w, rule, why, w->lines[i].text);
}

static void split_lines(work *w, const char *body)
{
    for (const char *p = body; *p;) {
        size_t n = strcspn(p, "\n");
        w->lines = xrealloc(w->lines, (w->n + 1) * sizeof *w->lines);
        w->lines[w->n].text = xstrndup(p, n);
        w->lines[w->n].role = KEEP;
        w->lines[w->n].field = -1;
        w->lines[w->n].rank = 0;
        w->lines[w->n].value = NULL;
        w->n++;
        p += n;
        if (*p)
            p++;
    }
}

/* Case-insensitive: does hay hold needle with no letter or digit right
 * before or after it? */
static bool holds_word(const char *hay, const char *needle)
{
    size_t n = strlen(needle);
    if (n == 0)
        return false;
    for (const char *p = hay; (p = strcasestr(p, needle)) != NULL; p++) {
        bool before = p == hay || !isalnum((unsigned char)p[-1]);
        bool after = !isalnum((unsigned char)p[n]);
        if (before && after)
            return true;
    }
    return false;
}

/* A line "Key: value" or "key = value" (apcaccess: "HOSTNAME : gw01"):
 * the key lower-cased into key (at most keysz - 1 bytes) and a pointer to
 * the value; NULL when the line is not one. */
static const char *key_value(const char *s, char *key, size_t keysz)
{
    size_t i = 0;
    while (s[i] && (isalnum((unsigned char)s[i]) || strchr(" _-/.", s[i])) && i < 32)
        i++;
    if (i == 0 || (s[i] != ':' && s[i] != '=') || !isalpha((unsigned char)s[0]))
        return NULL;
    size_t k = i;
    while (k > 0 && s[k - 1] == ' ')
        k--;
    if (k == 0 || k >= keysz)
        return NULL;
    for (size_t j = 0; j < k; j++)
        key[j] = (char)tolower((unsigned char)s[j]);
    key[k] = '\0';
    const char *v = s + i + 1;
    while (*v == ' ')
        v++;
    return *v ? v : NULL;
}

/* s lower-cased with only its letters and digits (ASCII) and every
 * other byte: "UPS: ups1 on battery" and "UPS ups1 on battery" are one. */
static char *letters(const char *s)
{
    char *r = xstrdup(s), *o = r;
    for (const char *p = s; *p; p++)
        if (isalnum((unsigned char)*p) || (unsigned char)*p >= 0x80)
            *o++ = (char)tolower((unsigned char)*p);
    *o = '\0';
    return r;
}

/* The subject without its decoration: a leading "Subject:", "RE:",
 * "[FIRING:1]"-style tags; trailing "!", ".", ":" and spaces. New string. */
static char *undecorated(const char *s)
{
    for (;;) {
        while (*s == ' ')
            s++;
        if (strncasecmp(s, "subject:", 8) == 0)
            s += 8;
        else if (strncasecmp(s, "re:", 3) == 0 || strncasecmp(s, "fw:", 3) == 0)
            s += 3;
        else if (*s == '[' && strchr(s, ']'))
            s = strchr(s, ']') + 1;
        else
            break;
    }
    char *r = xstrdup(s);
    size_t n = strlen(r);
    while (n > 0 && strchr("!.: ", r[n - 1]))
        r[--n] = '\0';
    return r;
}

/* ------------------------------------------------------------ rules */

static void admin_rules(work *w)
{
    for (size_t r = 0; r < w->cfg->n_rules; r++) {
        const m2s_msg_rule *rule = &w->cfg->rules[r];
        if ((rule->from && !admin_match(rule->from, w->from)) ||
            (rule->subject && !admin_match(rule->subject, w->subject)) ||
            (rule->header && !header_match(rule->header, w->mail, true)))
            continue;
        char *tag = xasprintf("rule %s", rule->name);
        for (size_t i = 0; i < w->n; i++) {
            if (w->lines[i].role != KEEP)
                continue;
            for (size_t k = 0; k < rule->drop.n; k++)
                if (admin_match(rule->drop.v[k], w->lines[i].text)) {
                    drop(w, i, tag, "dropped");
                    break;
                }
            if (w->lines[i].role != KEEP)
                continue;
            for (size_t k = 0; k < rule->first.n; k++)
                if (admin_match(rule->first.v[k], w->lines[i].text)) {
                    w->lines[i].role = FIRST;
                    w->lines[i].rank = k;
                    note(w, tag, "moved first", w->lines[i].text);
                    break;
                }
        }
        free(tag);
    }
}

/* How well p fits the mail: 2 for its subject, 1 each for its body
 * line, From and header. A profile is taken at 3 or more: its subject
 * and one more sign ("Problem: ..." alone is anybody's subject). */
static int profile_score(const work *w, const m2s_profile *p)
{
    int score = 0;
    for (size_t s = 0; s < M2S_PROFILE_MAX_SUBJECTS && p->subjects[s].re; s++)
        if (table_match(p->subjects[s].re, w->subject, 0, NULL)) {
            score += 2;
            break;
        }
    if (p->body_re)
        for (size_t i = 0; i < w->n; i++)
            if (table_match(p->body_re, w->lines[i].text, 0, NULL)) {
                score++;
                break;
            }
    if (p->from_re && table_match(p->from_re, w->from, 0, NULL))
        score++;
    if (p->header && header_match(p->header, w->mail, false))
        score++;
    return score;
}

static void set_field(work *w, int f, const char *s, size_t n)
{
    if (f < 0 || w->field[f])
        return;
    while (n > 0 && s[0] == ' ')
        s++, n--;
    while (n > 0 && strchr(" .!:", s[n - 1]))
        n--;
    if (n > 0)
        w->field[f] = xstrndup(s, n);
}

/* Fields from a match of groups (one letter per group) on s. Returns the
 * field of the first group that gave one, or -1. */
static int take_groups(work *w, const char *groups, const char *s, const regmatch_t *m)
{
    int first = -1;
    for (size_t g = 0; groups[g] && g + 1 < 10; g++) {
        int f = field_index(groups[g]);
        if (f < 0 || m[g + 1].rm_so < 0)
            continue;
        if (!w->field[f] && first < 0)
            first = f;
        set_field(w, f, s + m[g + 1].rm_so, (size_t)(m[g + 1].rm_eo - m[g + 1].rm_so));
    }
    return first;
}

static void recognise(work *w)
{
    size_t np;
    const m2s_profile *tab = m2s_profiles_table(&np);
    int best = 2;
    for (size_t i = 0; i < np; i++) {
        int sc = profile_score(w, &tab[i]);
        if (sc > best) {        /* ties: the first in the table */
            best = sc;
            w->prof = &tab[i];
        }
    }
    if (!w->prof)
        return;
    const m2s_profile *p = w->prof;
    note(w, "profile", "recognised", p->name);
    regmatch_t m[10];
    for (size_t s = 0; s < M2S_PROFILE_MAX_SUBJECTS && p->subjects[s].re; s++) {
        if (!table_match(p->subjects[s].re, w->subject, 10, m))
            continue;
        take_groups(w, p->subjects[s].groups, w->subject, m);
        if (p->subjects[s].kind)
            set_field(w, field_index('k'), p->subjects[s].kind, strlen(p->subjects[s].kind));
        if (p->subjects[s].state)
            set_field(w, field_index('s'), p->subjects[s].state, strlen(p->subjects[s].state));
        break;
    }
    int x = field_index('x');
    size_t facts = 0;
    for (size_t i = 0; i < w->n; i++) {
        if (w->lines[i].role == DROPPED)
            continue;
        for (size_t l = 0; l < M2S_PROFILE_MAX_LINES && p->lines[l].re; l++) {
            const m2s_profile_line *pl = &p->lines[l];
            if (!table_match(pl->re, w->lines[i].text, 10, m))
                continue;
            if (strcmp(pl->groups, "x") == 0) {
                size_t at = i;
                if (pl->value_next == 2 && i + 1 < w->n && facts < MAX_FACTS) {
                    w->lines[i].role = FACT;        /* "X acknowledged ...", then its message */
                    w->lines[i].rank = l;
                    facts++;
                    note(w, "profile", "output first", w->lines[i].text);
                    at = i + 1;
                } else if (pl->value_next) {
                    if (i + 1 >= w->n)
                        break;
                    drop(w, i, "profile", "label of the output");
                    at = i + 1;
                }
                if (facts < MAX_FACTS && w->lines[at].role != DROPPED) {
                    w->lines[at].role = FACT;
                    w->lines[at].rank = l;
                    facts++;
                    note(w, "profile", "output first", w->lines[at].text);
                    if (!w->field[x])
                        w->field[x] = xstrdup(w->lines[at].text);
                }
                if (at != i)
                    i = at;
                break;
            }
            int f = take_groups(w, pl->groups, w->lines[i].text, m);
            if (f >= 0) {
                w->lines[i].field = f;
                w->lines[i].value = xstrdup(w->field[f]);
            }
            break;
        }
    }
    for (size_t f = 0; f < N_FIELDS; f++) {
        if (!w->field[f])
            continue;
        if ((p->recovery && (f == (size_t)field_index('k') || f == (size_t)field_index('s')) &&
             table_match(p->recovery, w->field[f], 0, NULL)))
            w->recovery = true;
    }
}

/* The profile's headline from the fields; "" when it says nothing. */
static char *headline(const work *w)
{
    const m2s_profile *p = w->prof;
    int k = field_index('k');
    bool hide_kind = w->field[k] && p->kind_hide && table_match(p->kind_hide, w->field[k], 0, NULL);
    bool any = false;
    m2s_buf b;
    m2s_buf_init(&b);
    m2s_buf_adds(&b, "");
    for (const char *t = p->headline; *t; t++) {
        if (*t != '{') {
            m2s_buf_addc(&b, *t);
            continue;
        }
        const char *end = strchr(t, '}');
        if (!end)
            break;
        const char *pct = memchr(t, '%', (size_t)(end - t));
        int f = pct ? field_index(pct[1]) : -1;
        const char *v = f >= 0 ? w->field[f] : NULL;
        if (f == k && hide_kind)
            v = NULL;
        if (v && f != field_index('x')) {
            m2s_buf_add(&b, t + 1, (size_t)(pct - t - 1));
            m2s_buf_adds(&b, v);
            m2s_buf_add(&b, pct + 2, (size_t)(end - pct - 2));
            if (f != k)
                any = true;
        }
        t = end;
    }
    char *s = m2s_buf_steal(&b);
    char *tidy = m2s_text_squash(s);
    free(s);
    size_t start = strspn(tidy, ":/ ");
    size_t n = strlen(tidy);
    while (n > start && strchr(":/ ", tidy[n - 1]))
        n--;
    char *r = any ? xstrndup(tidy + start, n - start) : xstrdup("");
    free(tidy);
    return r;
}

/* Rule "once": what the subject (or the headline) already says. */
static void said_once(work *w, const char *head, bool subject_shown)
{
    char *plain = undecorated(w->subject);
    const char *const *keys = m2s_profiles_said_keys();
    for (size_t i = 0; i < w->n; i++) {
        wline *l = &w->lines[i];
        if (l->role != KEEP)
            continue;
        /* Repeated lines: said once is enough, whatever the subject. */
        bool seen = false;
        for (size_t j = 0; j < i && !seen; j++)
            seen = w->lines[j].role != DROPPED && strcmp(w->lines[j].text, l->text) == 0;
        if (seen) {
            drop(w, i, "once", "repeated line");
            continue;
        }
        if (!subject_shown)
            continue;
        char *lp = undecorated(l->text);
        char *la = letters(lp), *sa = letters(plain);
        bool same = (*la && strcmp(la, sa) == 0) || strcasecmp(lp, plain) == 0 ||
                    strcasecmp(l->text, w->subject) == 0 ||
                    (strlen(lp) >= INSIDE_MIN && (strcasestr(w->subject, lp) ||
                                                  (head && strcasestr(head, lp))));
        free(la);
        free(sa);
        free(lp);
        if (same) {
            drop(w, i, "once", "the subject says");
            continue;
        }
        if (l->field >= 0 && head && l->value && holds_word(head, l->value)) {
            drop(w, i, "once", "the headline says");
            continue;
        }
        char key[40];
        const char *v = key_value(l->text, key, sizeof key);
        if (!v || strlen(v) < 2)
            continue;
        for (size_t k = 0; keys[k]; k++) {
            if (strcmp(keys[k], key) != 0)
                continue;
            if (holds_word(w->subject, v) || (head && holds_word(head, v)))
                drop(w, i, "once", "its value is in the subject");
            break;
        }
    }
    free(plain);
}

/* The mail's Date as day of month and "HH:MM"; false when there is none. */
static bool mail_date(const m2s_mail *mail, int *day, char hm[6])
{
    const char *d = NULL;
    if (mail)
        for (size_t i = 0; i < mail->hdr_names.n && i < mail->hdr_values.n; i++)
            if (strcasecmp(mail->hdr_names.v[i], "Date") == 0)
                d = mail->hdr_values.v[i];
    if (!d)
        return false;
    const char *c = strchr(d, ',');
    const char *p = c ? c + 1 : d;
    char mon[8];
    int year, hh, mm;
    if (sscanf(p, "%d %7s %d %d:%d", day, mon, &year, &hh, &mm) != 5 || hh < 0 || hh > 23 ||
        mm < 0 || mm > 59)
        return false;
    snprintf(hm, 6, "%02d:%02d", hh, mm);
    return true;
}

/* A line that only says when: its words are date words, and it holds the
 * mail's day and hour:minute. */
static bool restates_date(const char *s, int day, const char *hm)
{
    static const char *const words[] = {
        "date", "time", "datetime", "when", "timestamp", "at", "on", "problem", "started",
        "sent", "event", "mon", "tue", "wed", "thu", "fri", "sat", "sun", "jan", "feb", "mar",
        "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec", "cet", "cest", "utc",
        "gmt", "est", "edt", "pst", "pdt", "bst", "am", "pm", "z", "t", NULL,
    };
    if (strlen(s) > 80 || !strstr(s, hm))
        return false;
    bool day_seen = false;
    for (const char *p = s; *p;) {
        if (isdigit((unsigned char)*p)) {
            char *end;
            long v = strtol(p, &end, 10);
            if (v == day && end - p <= 2)
                day_seen = true;
            p = end;
        } else if (isalpha((unsigned char)*p)) {
            size_t n = 0;
            while (isalpha((unsigned char)p[n]))
                n++;
            bool known = false;
            for (size_t k = 0; words[k] && !known; k++)
                known = (strlen(words[k]) == n || (strlen(words[k]) == 3 && n > 3)) &&
                        strncasecmp(p, words[k], strlen(words[k])) == 0 &&
                        (strlen(words[k]) == n || n <= 9);
            if (!known)
                return false;
            p += n;
        } else if ((unsigned char)*p >= 0x80) {
            return false;
        } else {
            p++;
        }
    }
    return day_seen;
}

/* Rule "boiler": the table's lines, and dates that restate Date:. */
static void boilerplate(work *w)
{
    size_t nb;
    const m2s_boilerplate *tab = m2s_profiles_boilerplate(&nb);
    int day = 0;
    char hm[6];
    bool have_date = mail_date(w->mail, &day, hm);
    for (size_t i = 0; i < w->n; i++) {
        wline *l = &w->lines[i];
        if (l->role != KEEP)
            continue;
        for (size_t b = 0; b < nb; b++) {
            if (tab[b].profile && (!w->prof || strcmp(tab[b].profile, w->prof->name) != 0))
                continue;
            if (table_match(tab[b].re, l->text, 0, NULL)) {
                char *why = xasprintf("%s boilerplate", tab[b].source);
                drop(w, i, "boiler", why);
                free(why);
                break;
            }
        }
        if (l->role == KEEP && have_date && restates_date(l->text, day, hm))
            drop(w, i, "boiler", "restates the Date header");
    }
}

/* ------------------------------------------------------------ room */

/* The lines of one role joined; facts and first lines in the order of
 * the patterns that chose them (the one that says most first), then of
 * the mail. */
static char *join(const work *w, line_role role)
{
    m2s_buf b;
    m2s_buf_init(&b);
    m2s_buf_adds(&b, "");
    size_t ranks = 0;
    for (size_t i = 0; i < w->n; i++)
        if (w->lines[i].role == role && w->lines[i].rank + 1 > ranks)
            ranks = w->lines[i].rank + 1;
    for (size_t r = 0; r < ranks; r++) {
        for (size_t i = 0; i < w->n; i++) {
            if (w->lines[i].role != role || w->lines[i].rank != r)
                continue;
            if (b.len)
                m2s_buf_addc(&b, '\n');
            m2s_buf_adds(&b, w->lines[i].text);
        }
    }
    return m2s_buf_steal(&b);
}

/* SMS parts of the formatted text (message.format) with subject and body. */
static void count_as_sent(const work *w, const char *subject, const char *body,
                          m2s_sms_count *c)
{
    m2s_text_fields f = {
        subject, body,
        w->mail && w->mail->from_addr ? w->mail->from_addr : "",
        w->mail && w->mail->from_name ? w->mail->from_name : "",
    };
    char *t = m2s_text_expand(w->cfg->format, &f);
    char *tidy = m2s_text_tidy_lines(t);
    char *tr = w->cfg->transliterate ? m2s_transliterate(tidy) : xstrdup(tidy);
    m2s_sms_count_text(tr, c);
    m2s_sms_count cu;
    m2s_sms_count_text(tidy, &cu);
    if (cu.encoding == M2S_ENC_UCS2 && c->encoding == M2S_ENC_UCS2)
        *c = cu;
    free(tr);
    free(tidy);
    free(t);
}

/* Is a shorter or equal than b, as a phone counts? */
static bool not_longer(const m2s_sms_count *a, const m2s_sms_count *b)
{
    if (a->parts != b->parts)
        return a->parts < b->parts;
    if (a->encoding != b->encoding)
        return a->encoding == M2S_ENC_GSM7;
    return a->units <= b->units;
}

/* The body: facts, the administrator's first lines, then the rest; for a
 * known source the rest only while it fits in the parts the facts need. */
static char *assemble(work *w, const char *subject)
{
    char *facts = join(w, FACT);
    char *first = join(w, FIRST);
    m2s_buf b;
    m2s_buf_init(&b);
    m2s_buf_adds(&b, facts);
    if (*first) {
        if (b.len)
            m2s_buf_addc(&b, '\n');
        m2s_buf_adds(&b, first);
    }
    int budget = 0;
    if (w->prof) {
        m2s_sms_count c;
        count_as_sent(w, subject, b.data, &c);
        budget = c.parts < 1 ? 1 : c.parts;
    }
    bool full = false;
    size_t last = (size_t)-1;      /* the last line of the rest kept */
    for (size_t i = 0; i < w->n; i++) {
        wline *l = &w->lines[i];
        if (l->role != KEEP)
            continue;
        if (w->prof && w->recovery) {
            drop(w, i, "room", "a recovery says only the facts");
            continue;
        }
        if (full) {
            drop(w, i, "room", "past the parts the facts need");
            continue;
        }
        size_t mark = b.len;
        if (b.len)
            m2s_buf_addc(&b, '\n');
        m2s_buf_adds(&b, l->text);
        if (!w->prof)
            continue;
        m2s_sms_count c;
        count_as_sent(w, subject, b.data, &c);
        if (c.parts > budget) {
            /* the first line that does not fit ends the text: what
             * follows it is read in its light (a label, its list) */
            b.len = mark;
            b.data[mark] = '\0';
            drop(w, i, "room", "past the parts the facts need");
            full = true;
        } else {
            last = i;
        }
    }
    /* a label whose value did not fit says nothing ("Packages:") */
    if (w->prof && last != (size_t)-1 && full) {
        const char *t = w->lines[last].text;
        size_t tl = strlen(t);
        if (tl && t[tl - 1] == ':' && b.len >= tl) {
            b.len -= tl;
            while (b.len && b.data[b.len - 1] == '\n')
                b.len--;
            b.data[b.len] = '\0';
            drop(w, last, "room", "a label without its value");
        }
    }
    free(first);
    free(facts);
    return m2s_buf_steal(&b);
}

/* ------------------------------------------------------------ pictographs */

static bool is_pictograph(unsigned int cp)
{
    return (cp >= 0x1F000 && cp <= 0x1FAFF) || (cp >= 0x2600 && cp <= 0x27BF) ||
           (cp >= 0x2B00 && cp <= 0x2BFF) || (cp >= 0x2300 && cp <= 0x23FF) ||
           cp == 0x2139 || cp == 0x203C || cp == 0x2049 || cp == 0x3030 ||
           cp == 0x303D || cp == 0x3297 || cp == 0x3299;
}

static bool is_attached(unsigned int cp)
{
    return cp == 0xFE0F || cp == 0xFE0E || cp == 0x200D || cp == 0x20E3 ||
           (cp >= 0x1F3FB && cp <= 0x1F3FF) || (cp >= 0xE0020 && cp <= 0xE007F);
}

/* Decode valid UTF-8 (m2s_mail sanitises all text); bytes that are not a
 * sequence count as themselves. */
static size_t next_cp(const char *s, unsigned int *cp)
{
    const unsigned char *p = (const unsigned char *)s;
    int more = p[0] >= 0xF0 ? 3 : p[0] >= 0xE0 ? 2 : p[0] >= 0xC0 ? 1 : 0;
    unsigned int c = more ? p[0] & (0x3F >> more) : p[0];
    for (int i = 1; i <= more; i++) {
        if ((p[i] & 0xC0) != 0x80) {
            *cp = p[0];
            return 1;
        }
        c = (c << 6) | (p[i] & 0x3F);
    }
    *cp = c;
    return (size_t)more + 1;
}

/* Only pictographs keep s out of GSM-7 (and there is one). */
static bool only_pictographs(const m2s_config *cfg, const char *s)
{
    char *t = cfg->transliterate ? m2s_transliterate(s) : xstrdup(s);
    bool any = false, other = false;
    for (const char *p = t; *p && !other;) {
        unsigned int cp;
        p += next_cp(p, &cp);
        if (m2s_gsm7_char(cp, NULL) || cp == '\t')
            continue;
        if (is_pictograph(cp))
            any = true;
        else if (!is_attached(cp))
            other = true;
    }
    free(t);
    return any && !other;
}

static bool line_says_state(const char *line)
{
    const char *const *words = m2s_profiles_state_words();
    for (size_t k = 0; words[k]; k++)
        if (holds_word(line, words[k]))
            return true;
    return false;
}

static const char *pictograph_word(unsigned int cp)
{
    size_t n;
    const m2s_pictograph *tab = m2s_profiles_pictographs(&n);
    for (size_t i = 0; i < n; i++)
        if (tab[i].cp == cp)
            return tab[i].word;
    return "";
}

static char *replace_pictographs(const char *s, m2s_strv *log)
{
    m2s_buf b;
    m2s_buf_init(&b);
    m2s_buf_adds(&b, "");
    for (const char *p = s; *p;) {
        size_t n = strcspn(p, "\n");
        char *line = xstrndup(p, n);
        bool words = line_says_state(line);
        m2s_buf lb;
        m2s_buf_init(&lb);
        m2s_buf_adds(&lb, "");
        for (const char *q = line; *q;) {
            unsigned int cp;
            size_t k = next_cp(q, &cp);
            if (is_attached(cp)) {
                q += k;
                continue;
            }
            if (!is_pictograph(cp)) {
                m2s_buf_add(&lb, q, k);
                q += k;
                continue;
            }
            const char *word = words ? "" : pictograph_word(cp);
            if (log)
                m2s_strv_take(log, xasprintf("emoji: U+%04X %s", cp,
                                             *word ? word : "dropped"));
            if (*word) {
                if (lb.len && lb.data[lb.len - 1] != ' ' && lb.data[lb.len - 1] != '[')
                    m2s_buf_addc(&lb, ' ');
                m2s_buf_adds(&lb, word);
                if (q[k] && q[k] != ' ')
                    m2s_buf_addc(&lb, ' ');
            }
            q += k;
        }
        /* "[ Down]" from "[🔴 Down]", doubled spaces: tidy the line */
        char *l2 = m2s_text_squash(lb.data);
        m2s_buf_clear(&lb);
        char *open;
        while ((open = strstr(l2, "[ ")) != NULL)
            memmove(open + 1, open + 2, strlen(open + 2) + 1);
        if (b.len)
            m2s_buf_addc(&b, '\n');
        m2s_buf_adds(&b, l2);
        free(l2);
        free(line);
        p += n;
        if (*p)
            p++;
    }
    return m2s_buf_steal(&b);
}

bool m2s_condense_pictographs(const m2s_config *cfg, char **subject, char **body,
                              m2s_strv *log)
{
    char *all = xasprintf("%s\n%s", *subject, *body);
    bool change = !cfg->keep_emoji && only_pictographs(cfg, all);
    free(all);
    if (!change)
        return false;
    char *s = replace_pictographs(*subject, log);
    char *b = replace_pictographs(*body, log);
    free(*subject);
    free(*body);
    *subject = s;
    *body = b;
    return true;
}

/* ------------------------------------------------------------ public */

/* Does the text sent show the subject? message.format, or with a
 * template, any of its parameters. (An alias's own format is not asked:
 * the lines are condensed once for all numbers.) */
static bool subject_shown(const m2s_config *cfg)
{
    if (cfg->tmpl) {
        for (size_t i = 0; i < cfg->tmpl->param_values.n; i++)
            if (strstr(cfg->tmpl->param_values.v[i], "{subject}"))
                return true;
        return false;
    }
    return strstr(cfg->format, "{subject}") != NULL;
}

void m2s_condense_text(const m2s_config *cfg, const m2s_mail *mail, char **subject,
                       char **body, m2s_condense_info *info)
{
    work w;
    memset(&w, 0, sizeof w);
    m2s_strv scratch = { 0 };
    w.cfg = cfg;
    w.mail = mail;
    w.log = info ? &info->log : &scratch;
    if (info) {
        info->profile = NULL;
        info->recovery = false;
    }
    char *orig_subject = xstrdup(*subject);
    char *orig_body = xstrdup(*body);
    char *new_subject = NULL, *new_body = NULL, *head = NULL;

    m2s_condense_pictographs(cfg, subject, body, w.log);
    w.subject = *subject;
    const char *fa = mail && mail->from_addr ? mail->from_addr : "";
    const char *fn = mail && mail->from_name ? mail->from_name : "";
    w.from = *fn ? xasprintf("%s <%s>", fn, fa) : xstrdup(fa);
    split_lines(&w, *body);

    admin_rules(&w);
    recognise(&w);
    head = w.prof ? headline(&w) : xstrdup("");
    if (*head)
        note(&w, "profile", "headline", head);
    said_once(&w, *head ? head : NULL, subject_shown(cfg));
    boilerplate(&w);
    new_subject = xstrdup(*head ? head : *subject);
    new_body = assemble(&w, new_subject);

    /* Never longer than the mail as it came, as a phone counts it. */
    m2s_sms_count before, after;
    count_as_sent(&w, orig_subject, orig_body, &before);
    count_as_sent(&w, new_subject, new_body, &after);
    if (!not_longer(&after, &before)) {
        note(&w, "condense", "longer than the mail, kept as it was", new_subject);
        free(new_subject);
        free(new_body);
        new_subject = xstrdup(orig_subject);
        new_body = xstrdup(orig_body);
    }
    free(*subject);
    free(*body);
    *subject = new_subject;
    *body = new_body;
    if (info) {
        info->profile = w.prof ? w.prof->name : NULL;
        info->recovery = w.recovery;
    }

    free(head);
    free(orig_body);
    free(orig_subject);
    for (size_t i = 0; i < w.n; i++) {
        free(w.lines[i].text);
        free(w.lines[i].value);
    }
    free(w.lines);
    for (size_t f = 0; f < N_FIELDS; f++)
        free(w.field[f]);
    free(w.from);
    m2s_strv_clear(&scratch);
}

void m2s_condense_info_clear(m2s_condense_info *info)
{
    if (info)
        m2s_strv_clear(&info->log);
}

