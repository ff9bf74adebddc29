/* media.c - placeholder until MMS media land. */
#include "build-config.h"
#include <stdlib.h>
#include <string.h>
#include "media.h"
m2s_class m2s_media_select(const m2s_config *cfg, const m2s_mail *mail, m2s_media_set *out, char **why) { memset(out, 0, sizeof *out); return M2S_OK; }
m2s_class m2s_media_store(const m2s_config *cfg, m2s_http *http, bool dry_run, FILE *dry_out, m2s_media_set *set, char **why) { return M2S_OK; }
char *m2s_media_note(const m2s_config *cfg, const m2s_media_set *set, bool sent_as_mms) { return NULL; }
bool m2s_media_mms_for(const m2s_config *cfg, const char *number) { return false; }
void m2s_media_set_clear(m2s_media_set *set) { free(set->items); memset(set, 0, sizeof *set); }
