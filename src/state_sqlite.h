/* state_sqlite.h - the SQLite backend of the state store (state.h):
 * one database, state_dir/state.sqlite (WAL, busy timeout), shared safely
 * by every mail2sms process of one relay. Only this module knows SQLite.
 */
#ifndef M2S_STATE_SQLITE_H
#define M2S_STATE_SQLITE_H

#include "state_backend.h"

/* Open (and create, or migrate to M2S_STATE_SCHEMA_VERSION)
 * dir/state.sqlite. A handle for m2s_state_sqlite_ops (released by its
 * close), or NULL with *why (new string) on failure. */
void *m2s_state_sqlite_open(const char *dir, char **why);

extern const m2s_state_ops m2s_state_sqlite_ops;

#endif
