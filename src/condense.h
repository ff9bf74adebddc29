/* condense.h - an alert mail read in one glance: facts first, said once,
 * without the generators' boilerplate, one SMS part where the facts fit.
 *
 * The rules, in order (docs/message-quality.md):
 *   rules    the administrator's message.rules: lines to drop, lines first
 *   once     body lines equal to (or wholly inside) the subject, "Key: value"
 *            lines whose value the subject carries, repeated lines
 *   boiler   generator boilerplate (src/profiles.c) and date lines that
 *            only restate the mail's Date
 *   profile  a known source: its headline (state, object) replaces the
 *            subject, its output / value lines come first, verbatim
 *   room     for a known source, the other lines follow while the text
 *            stays in the parts the facts need (a recovery: none)
 *   emoji    status pictographs that alone keep a text out of GSM-7 are
 *            dropped (the words say the state) or become [DOWN], [UP], ...
 * A line goes only because one of these says so; with -v each is logged.
 * message.condense = false skips all of it.
 */
#ifndef M2S_CONDENSE_H
#define M2S_CONDENSE_H

#include <stdbool.h>
#include "config.h"
#include "mail.h"

/* What the condenser did, for tests and the -v log. */
typedef struct m2s_condense_info {
    const char *profile;        /* the source profile recognised (static), or NULL */
    bool recovery;
    m2s_strv log;               /* "rule: what happened to which line", in order */
} m2s_condense_info;

/* Condense *subject and *body (UTF-8, both owned by the caller and
 * replaced by new strings) of mail (may be NULL: no headers, no Date).
 * info may be NULL; otherwise it is filled and its log must be released
 * with m2s_condense_info_clear. Never fails. */
void m2s_condense_text(const m2s_config *cfg, const m2s_mail *mail, char **subject,
                       char **body, m2s_condense_info *info);

void m2s_condense_info_clear(m2s_condense_info *info);

/* Pictographs (status icons) in text: dropped where the words on their
 * line say the state, else replaced by their word ("[DOWN]"), when they
 * alone keep subject and body out of GSM-7 (after transliteration when
 * cfg->transliterate). Returns true and sets *subject, *body to new
 * strings (the old ones are freed) when anything changed. */
bool m2s_condense_pictographs(const m2s_config *cfg, char **subject, char **body,
                              m2s_strv *log);

#endif
