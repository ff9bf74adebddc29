#include "build-config.h"
#include "deliver.h"
void m2s_deliver(const m2s_config *cfg, const m2s_deliver_opts *opts, const m2s_message *msg, const m2s_routes *routes, m2s_media_set *media, m2s_state *state, m2s_http *http, m2s_result *res) { res->cls = M2S_E_INTERNAL; res->line = NULL; }
void m2s_result_clear(m2s_result *res) {}
