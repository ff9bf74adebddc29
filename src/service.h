/* service.h - mail2sms --lmtp: the resident LMTP service.
 *
 * GLib's main loop accepts connections (GSocketService) on
 * service.listen, or on the sockets systemd hands over (LISTEN_FDS), and
 * moves each session's bytes (lmtp.h) between its socket and the session.
 * A finished transaction goes to a pool of service.workers threads; each
 * worker owns one libcurl transport (connections, HTTP/2, TLS sessions
 * kept across mails) and runs m2s_run for one mail at a time, with its
 * own deadline and the mail's queue id as its log context. All workers'
 * transports share one bird.max_rate window. The replies go back to the
 * main loop, one per recipient.
 *
 * SIGTERM (and SIGINT): stop accepting, close idle sessions with 421,
 * let the mails being run finish and answer them, then return. SIGHUP:
 * load the configuration again; a file that is not usable keeps the one
 * in use (and the reason is logged). Nothing is kept per mail once it is
 * answered.
 */
#ifndef M2S_SERVICE_H
#define M2S_SERVICE_H

#include "config.h"

/* Run the service until SIGTERM with cfg (taken: freed here) loaded from
 * config_path (borrowed; loaded again on SIGHUP). Logging must be open.
 * Returns the exit status: 0 after a clean stop, 71 (EX_OSERR) when it
 * cannot listen or start its workers. */
int m2s_service_run(const char *config_path, m2s_config *cfg);

#endif
