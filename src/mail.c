/* mail.c - placeholder until the GMime parser lands. */
#include "build-config.h"
#include <stdlib.h>
#include "mail.h"
void m2s_mail_init(void) {}
void m2s_mail_shutdown(void) {}
m2s_mail_status m2s_mail_parse(const char *data, size_t len, const m2s_mail_limits *limits, m2s_mail **out, char **why)
{ *out = NULL; if (why) *why = xstrdup("not implemented"); return M2S_MAIL_MALFORMED; }
const char *m2s_mail_header(const m2s_mail *mail, const char *name) { return NULL; }
void m2s_mail_free(m2s_mail *mail) { free(mail); }
