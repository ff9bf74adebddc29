/* rules.h - Bird's rules for values, known to every layer: E.164 phone
 * numbers, tags, validity, reference, scheduling limits.
 *
 * A leaf module: it depends only on util, so the configuration, routing,
 * composing and the JSON all check a value the same way and say the same
 * limit. Each limit has one constant here; messages are built from it.
 */
#ifndef M2S_RULES_H
#define M2S_RULES_H

#include <stdbool.h>

/* E.164: "+", a country code of 1 to M2S_RULES_CC_MAX_DIGITS digits not
 * starting with 0, and M2S_RULES_E164_MIN_DIGITS to
 * M2S_RULES_E164_MAX_DIGITS digits in all. */
#define M2S_RULES_E164_MIN_DIGITS 8
#define M2S_RULES_E164_MAX_DIGITS 15
#define M2S_RULES_CC_MAX_DIGITS 3

/* Tags: at most M2S_RULES_MAX_TAGS per message, each 1 to
 * M2S_RULES_TAG_MAX_LEN of [a-zA-Z0-9-_ ]. */
#define M2S_RULES_MAX_TAGS 10
#define M2S_RULES_TAG_MAX_LEN 50

/* validity: seconds, one year at the most. */
#define M2S_RULES_VALIDITY_MIN 1
#define M2S_RULES_VALIDITY_MAX 31536000

/* reference: 1 to M2S_RULES_REFERENCE_MAX bytes. */
#define M2S_RULES_REFERENCE_MAX 256

/* scheduledFor: at most this many days ahead. */
#define M2S_RULES_SCHEDULE_MAX_DAYS 35

/* Normalise a phone number as people write it ("+CC...", "00CC...",
 * national "0..." with default_country, other bare digits international;
 * separators . - ( ) and spaces ignored, "(0)" after a country code
 * dropped). Returns a new "+digits" string (caller frees), or NULL with
 * *why (static text) set. default_country may be NULL; why may be NULL. */
char *m2s_rules_number(const char *in, const char *default_country,
                       const char **why);

/* True for a separator a person writes inside a phone number: space, tab,
 * '.', '-', '(' or ')'. */
bool m2s_rules_number_separator(char c);

/* Bird's rule for one tag (see M2S_RULES_TAG_MAX_LEN). */
bool m2s_rules_tag_valid(const char *tag);

#endif
