#include "build-config.h"
#include "http.h"
m2s_http *m2s_http_new(const m2s_config *cfg, double deadline_at) { return NULL; }
void m2s_http_run(m2s_http *h, m2s_http_req **reqs, size_t n) {}
void m2s_http_get_stats(const m2s_http *h, m2s_http_stats *out) {}
void m2s_http_req_clear(m2s_http_req *req) {}
void m2s_http_free(m2s_http *h) {}
bool m2s_http_is_temporary(const m2s_http_req *req) { return true; }
const char *m2s_http_user_agent(void) { return "mail2sms/" PACKAGE_VERSION; }
