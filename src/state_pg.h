/* state_pg.h - the PostgreSQL backend of the state store (state.h): the
 * same tables as the SQLite backend in a database that several relays
 * share, reached with libpq (a connection string or URI; several hosts
 * and target_session_attrs for failover, TLS as libpq offers it). Only
 * this module knows libpq. The password is never put in a message.
 */
#ifndef M2S_STATE_PG_H
#define M2S_STATE_PG_H

#include "state_backend.h"

/* Connect with conninfo (a libpq connection string or URI) and password
 * (SECRET, or NULL: libpq's ~/.pgpass or PGPASSWORD). *version gets the
 * schema version found (0: none). A handle for m2s_state_pg_ops
 * (released by its close), or NULL with *why (new string) on failure. */
void *m2s_state_pg_open(const char *conninfo, const char *password, int *version,
                        char **why);

/* Create the schema, or migrate it from version `from`, to
 * M2S_STATE_SCHEMA_VERSION, in one transaction. 0, or -1 with *why. */
int m2s_state_pg_migrate(void *b, int from, char **why);

/* host, port, dbname, user, sslmode of conninfo, in words; never the
 * password. New string. */
char *m2s_state_pg_describe(const char *conninfo);

extern const m2s_state_ops m2s_state_pg_ops;

#endif
