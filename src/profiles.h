/* profiles.h - the data the condenser works from: one table of generator
 * boilerplate, one table of source profiles (how Nagios, Icinga, Zabbix,
 * Alertmanager, ... say state, object and value), one table of status
 * pictographs and the words they stand for. Data only; src/condense.c is
 * the one code path that reads it.
 *
 * Patterns are POSIX extended regular expressions, matched
 * case-insensitively against one tidied line (m2s_text_tidy_lines: no
 * leading or trailing space, decoration runs such as "*****" gone).
 * Everything here is static storage: nothing to free.
 */
#ifndef M2S_PROFILES_H
#define M2S_PROFILES_H

#include <stddef.h>

/* A line that says nothing an on-call person needs: banners, sign-offs,
 * hints of the tools, "do not reply", "view in a browser". */
typedef struct m2s_boilerplate {
    const char *source;     /* whose wording it is: "smartd", "generic", ... */
    const char *profile;    /* only for mails of this profile; NULL: any mail */
    const char *re;
} m2s_boilerplate;

const m2s_boilerplate *m2s_profiles_boilerplate(size_t *n);

/* Fields a profile fills, one letter each in the patterns' group maps:
 *   k kind (PROBLEM, RECOVERY, FIRING, ...)   s state or severity
 *   h host or device                         v service (the checked thing)
 *   o object (alert or problem name)         x output / value / description
 *   - a group that is not a field
 * Body lines that give x are kept verbatim and put first (the facts); a
 * pattern with group map "x" and no group keeps its whole line. */
#define M2S_PROFILE_FIELDS "ksvhox"

typedef struct m2s_profile_subject {
    const char *re;
    const char *groups;     /* one field letter per group, in order */
    const char *kind;       /* kind when the pattern gives none; NULL */
    const char *state;      /* state when the pattern gives none; NULL */
} m2s_profile_subject;

typedef struct m2s_profile_line {
    const char *re;
    const char *groups;     /* as above; "x" with no group: the whole line */
    int value_next;         /* 1: the value is the next line ("Additional Info:"), which
                             * is kept instead; 2: the next line is kept as well */
} m2s_profile_line;

#define M2S_PROFILE_MAX_SUBJECTS 4
#define M2S_PROFILE_MAX_LINES 10

typedef struct m2s_profile {
    const char *name;
    const char *from_re;        /* on "Name <address>" of From:; NULL */
    const char *header;         /* "Header-Name: ERE" the mails carry; NULL */
    const char *body_re;        /* a line the mails carry; NULL */
    m2s_profile_subject subjects[M2S_PROFILE_MAX_SUBJECTS];
    m2s_profile_line lines[M2S_PROFILE_MAX_LINES];
    /* The headline that replaces the subject. Text in {...} holds one
     * field as %k %s %v %h %o and is written only when that field has a
     * value; text outside braces always is. */
    const char *headline;
    const char *kind_hide;      /* kinds not worth saying ("PROBLEM"); NULL */
    const char *recovery;       /* a kind or state that means "all clear"; NULL */
} m2s_profile;

const m2s_profile *m2s_profiles_table(size_t *n);

/* Pictographs used as status icons, and the word each stands for ("" for
 * pure decoration such as a folder). */
typedef struct m2s_pictograph {
    unsigned int cp;
    const char *word;
} m2s_pictograph;

const m2s_pictograph *m2s_profiles_pictographs(size_t *n);

/* Words that already say a state: a pictograph beside one of them goes
 * without a word of its own. Lower case. */
const char *const *m2s_profiles_state_words(void);

/* "Key: value" keys whose value, when the subject already carries it, is
 * said once: host, service, state, notification type. Lower case. */
const char *const *m2s_profiles_said_keys(void);

#endif
