#include "build-config.h"
#include "payload.h"
char *m2s_payload_message(const m2s_payload_in *in) { return xstrdup("{}"); }
char *m2s_payload_presign(const char *content_type) { return xstrdup("{}"); }
char *m2s_payload_dry_run_line(const char *method, const char *url, const char *body_json) { return xstrdup("{}"); }
int m2s_payload_parse_accepted(const char *body, size_t len, char **id, char **status) { return -1; }
char *m2s_payload_error_text(const char *body, size_t len) { return NULL; }
int m2s_payload_parse_presign(const char *body, size_t len, m2s_presign *out) { return -1; }
void m2s_presign_clear(m2s_presign *p) {}
