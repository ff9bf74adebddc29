/* route.c - placeholder until the router lands. */
#include "build-config.h"
#include <stdlib.h>
#include "route.h"
char *m2s_normalize_number(const char *in, const char *default_country, const char **why) { *why = "not implemented"; return NULL; }
int m2s_prefix_allowed(const m2s_config *cfg, const char *number) { return 1; }
void m2s_route(const m2s_config *cfg, char *const *recipients, size_t n, m2s_routes *out) {}
void m2s_routes_free(m2s_routes *r) {}
