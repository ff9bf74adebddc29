/* modes.h - the command-line modes that read or follow the journal. */
#ifndef M2S_MODES_H
#define M2S_MODES_H

#include "cli.h"

/* --track, --status QUERY [--json] or --metrics, as cli says: loads the
 * configuration, sets up logging and, for a pass, the transports and the
 * deadline; prints to standard output. Returns the exit code. */
int m2s_modes_journal(const m2s_cli *cli);

#endif
