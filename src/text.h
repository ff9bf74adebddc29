/* text.h - turning body text into an SMS that reads well on a phone and
 * costs as little as it can: tidying, GSM-7 / UCS-2 counting,
 * transliteration and truncation.
 *
 * All strings in and out are UTF-8. Every returned string is new and
 * owned by the caller, except m2s_sms_marker's.
 */
#ifndef M2S_TEXT_H
#define M2S_TEXT_H

#include <stdbool.h>
#include <stddef.h>
#include "util.h"

typedef struct m2s_tidy_opts {
    bool strip_signature;       /* cut at a line "-- " (or "--") */
    bool strip_quotes;          /* drop ">" lines and the "On ... wrote:" line before them */
    bool collapse_blank;        /* runs of blank lines become one */
    const m2s_strv *strip;      /* POSIX EREs: matching lines are removed; may be NULL */
} m2s_tidy_opts;

/* Tidy body text: normalise line ends, apply opts, trim trailing space on
 * each line and leading/trailing blank lines. */
char *m2s_text_tidy(const char *in, const m2s_tidy_opts *opts);

/* Collapse all whitespace (newlines too) to single spaces and trim:
 * used for subjects and one-line fields. */
char *m2s_text_squash(const char *in);

/* Tidy text for a phone, line by line: each line ("\n", "\r\n" or "\r"
 * ends one) trimmed of spaces and tabs, freed of decoration (a run of two
 * or more of the same "*=#~_" at either end or as a word of its own, as in
 * "***** Nagios *****", "=====", "RE: ** PROBLEM **"), runs of spaces and
 * tabs collapsed to one space; lines with nothing left are dropped, and
 * the lines are joined with "\n". Used on the body, the subject and the
 * formatted text. */
char *m2s_text_tidy_lines(const char *in);

/* The byte offset in s of its n-th code point, or strlen(s) when s has
 * fewer. Never inside a UTF-8 sequence of valid input. */
size_t m2s_utf8_offset(const char *s, size_t n);

typedef enum { M2S_ENC_GSM7, M2S_ENC_UCS2 } m2s_encoding;

typedef struct m2s_sms_count {
    m2s_encoding encoding;
    size_t units;       /* GSM-7 septets (extension chars count 2) or UCS-2 code units (surrogate pairs count 2) */
    int parts;          /* 1 if units <= 160/70, else ceil(units / 153 or 67); 0 for "" */
} m2s_sms_count;

/* parts is found by splitting the way a phone does: an extension
 * character (escape + char) and a surrogate pair never straddle two
 * parts, so a multi-part message can need one part more than the plain
 * division above says (152 septets + "[" + 152 septets is 3 parts). */

void m2s_sms_count_text(const char *utf8, m2s_sms_count *out);

/* True if the code point is in GSM 03.38 basic or extension table;
 * *septets gets 1 or 2. */
bool m2s_gsm7_char(unsigned int cp, int *septets);

/* Replace characters outside GSM-7 that have a faithful GSM-7 form (curly
 * quotes, dashes, ellipsis, special spaces, bullets, accented letters) with
 * it. Characters with no such form are kept untouched. */
char *m2s_transliterate(const char *utf8);

/* Truncation. One rule decides where a text is cut, for a whole text
 * (m2s_sms_fit) and for a core between a head and a tail kept whole
 * (m2s_sms_cut). Take the longest start of the text that fits with the
 * marker; move the cut back to the last white space within 20 characters;
 * if there is none (a URL, a path, a long word), to the last of the
 * punctuation ",;:-.([{/&" or an en/em dash within 20 characters; else
 * cut between two characters, but never right before a combining mark,
 * variation selector or skin tone nor right after a joiner. Then drop the
 * white space and that punctuation where they would dangle before the
 * marker (unless that is all there is). A cut never falls inside a UTF-8
 * sequence, a surrogate pair or an extension escape: what is kept is
 * always a start of the input, whole characters only. The final string
 * is what is counted: a marker outside GSM-7 (U+2026, the ellipsis) turns
 * a GSM-7 text into UCS-2. marker may be NULL or "". */

/* Hold text to max_parts SMS parts. If it fits, a copy is returned and
 * *truncated is false. Otherwise it is cut by the rule above and marker is
 * appended, the marker counted in the budget (a marker that alone does
 * not fit is left out); *truncated is true. Never NULL. */
char *m2s_sms_fit(const char *utf8, int max_parts, const char *marker,
                  bool *truncated);

/* Always cuts: head + the start of core chosen by the rule above + marker
 * + tail, all of it held to max_parts together; head and tail (NULL is "")
 * are kept whole, separators included. For a core that does not fit, or
 * that is itself only the start of a longer text: even when all of core
 * would fit, the cut goes back to a word boundary. Returns a new string,
 * or NULL when not even one character of core fits (head and tail take
 * the room). */
char *m2s_sms_cut(const char *head, const char *core, const char *tail,
                  int max_parts, const char *marker);

/* The marker a cut text of that encoding ends in: "..." for GSM-7, U+2026
 * (one character instead of three) for UCS-2. A static string, not to be
 * freed. */
const char *m2s_sms_marker(m2s_encoding encoding);

/* The values of a format's placeholders (borrowed; NULL reads as ""). */
typedef struct m2s_text_fields {
    const char *subject;        /* {subject} */
    const char *body;           /* {body} */
    const char *from;           /* {from} */
    const char *from_name;      /* {from_name} */
} m2s_text_fields;

/* Expand the placeholders of fmt ("\n" in it is a line break); an empty
 * value takes the separator next to it along ("{subject}: {body}" with no
 * subject is the body alone). New string. */
char *m2s_text_expand(const char *fmt, const m2s_text_fields *f);

/* Replace invalid UTF-8 with U+FFFD. */
char *m2s_utf8_sanitize(const char *in, size_t len);

#endif
