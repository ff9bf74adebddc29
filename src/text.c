/* text.c - placeholder until the text module lands. */
#include "build-config.h"
#include <string.h>
#include "text.h"
char *m2s_text_tidy(const char *in, const m2s_tidy_opts *opts) { return xstrdup(in); }
char *m2s_text_squash(const char *in) { return xstrdup(in); }
void m2s_sms_count_text(const char *utf8, m2s_sms_count *out) { out->encoding = M2S_ENC_UCS2; out->units = strlen(utf8); out->parts = 1; }
bool m2s_gsm7_char(unsigned int cp, int *septets) { *septets = 1; return cp < 128; }
char *m2s_transliterate(const char *utf8) { return xstrdup(utf8); }
char *m2s_sms_fit(const char *utf8, int max_parts, const char *marker, bool *truncated) { *truncated = false; return xstrdup(utf8); }
char *m2s_utf8_sanitize(const char *in, size_t len) { return xstrndup(in, len); }
