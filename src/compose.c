#include "build-config.h"
#include "compose.h"
m2s_class m2s_compose(const m2s_config *cfg, const m2s_mail *mail, const char *raw, size_t raw_len, const char *queue_id, bool trusted, m2s_message **out, char **why) { return M2S_E_INTERNAL; }
char *m2s_compose_expand(const char *fmt, const m2s_message *msg) { return xstrdup(fmt); }
m2s_class m2s_compose_text(const m2s_config *cfg, const m2s_message *msg, const char *fmt, const char *prefix, const char *suffix, char **text, m2s_sms_count *count, bool *truncated, char **why) { return M2S_E_INTERNAL; }
void m2s_message_free(m2s_message *msg) {}
