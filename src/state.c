/* state.c - placeholder until the SQLite journal lands. */
#include "build-config.h"
#include "state.h"
#include "util.h"
m2s_state *m2s_state_open(const char *dir, char **why) { *why = xstrdup("not implemented"); return NULL; }
void m2s_state_close(m2s_state *st) {}
m2s_claim m2s_state_claim(m2s_state *st, const char *key, const char *number, double lease_seconds) { return M2S_CLAIM_ERROR; }
int m2s_state_mark_sent(m2s_state *st, const char *key, const char *number, const char *id) { return -1; }
int m2s_state_release(m2s_state *st, const char *key, const char *number) { return -1; }
int m2s_state_rate_take(m2s_state *st, const char *kind, const char *who, long limit, bool *allowed) { *allowed = true; return 0; }
int m2s_state_suppressed_add(m2s_state *st, const char *number) { return 0; }
int m2s_state_suppressed_take(m2s_state *st, const char *number, long *n) { *n = 0; return 0; }
int m2s_state_purge(m2s_state *st, long days) { return 0; }
