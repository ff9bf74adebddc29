/* senders.c - placeholder until sender authorization lands. */
#include "build-config.h"
#include "senders.h"
m2s_class m2s_senders_authorize(const m2s_config *cfg, const char *envelope, m2s_mail *mail, char **why) { return M2S_OK; }
bool m2s_senders_trusted(const m2s_config *cfg, const char *envelope, const m2s_mail *mail) { return false; }
