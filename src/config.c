#include "build-config.h"
#include "config.h"
const char *m2s_config_default_path(void) { return SYSCONFDIR "/mail2sms/mail2sms.conf"; }
m2s_config *m2s_config_load(const char *path, m2s_strv *problems) { return NULL; }
m2s_config *m2s_config_load_string(const char *text, const char *name, m2s_strv *problems) { return NULL; }
void m2s_config_free(m2s_config *cfg) {}
void m2s_config_summary(const m2s_config *cfg, FILE *out) {}
const m2s_alias *m2s_config_alias(const m2s_config *cfg, const char *name) { return NULL; }
const m2s_key_info *m2s_config_keys(size_t *n) { *n = 0; return NULL; }
