/* lmtp.h - one LMTP session (RFC 2033) as a state machine without I/O:
 * bytes from the client go in, reply bytes come out, and a finished
 * transaction (envelope and message) is handed to the caller, which runs
 * it and gives back one status per recipient. It never reads a socket,
 * logs or sends anything itself, so every input can be fuzzed.
 *
 * Usage:
 *
 *   s = m2s_lmtp_new(&limits);            the greeting is queued
 *   loop: write m2s_lmtp_output() to the client, m2s_lmtp_output_done();
 *         on M2S_LMTP_MORE read and m2s_lmtp_input(); on M2S_LMTP_WRITE
 *         just step again; on M2S_LMTP_MAIL run m2s_lmtp_transaction() and call
 *         m2s_lmtp_reply(); on M2S_LMTP_CLOSE write, then close.
 *
 * Commands: LHLO, MAIL FROM (SIZE=, BODY=), RCPT TO, DATA, RSET, NOOP,
 * QUIT, VRFY (252), XFORWARD. LHLO advertises PIPELINING,
 * ENHANCEDSTATUSCODES, 8BITMIME, SIZE and XFORWARD. Every reply carries
 * an enhanced status code. The queue id of a transaction is the one in
 * the first Received: header Postfix wrote (its own, as in its log),
 * else XFORWARD's IDENT.
 */
#ifndef M2S_LMTP_H
#define M2S_LMTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "outcome.h"

typedef struct m2s_lmtp m2s_lmtp;

typedef struct m2s_lmtp_limits {
    const char *hostname;       /* in the greeting and LHLO reply (copied) */
    size_t max_line;            /* a command line, CRLF included; 0 = 2048 */
    int64_t max_message;        /* message bytes kept (limits.max_message_bytes) */
    size_t max_recipients;      /* per transaction; 0 = 1000 */
    unsigned max_errors;        /* bad commands before "421" and close; 0 = 20 */
} m2s_lmtp_limits;

typedef enum m2s_lmtp_event {
    M2S_LMTP_MORE,      /* write the output, then give more input */
    M2S_LMTP_WRITE,     /* write the output, then step again (input is waiting) */
    M2S_LMTP_MAIL,      /* a transaction is complete: run it, m2s_lmtp_reply */
    M2S_LMTP_CLOSE      /* write the output, then close the connection */
} m2s_lmtp_event;

/* A finished transaction (all borrowed from the session, valid until
 * m2s_lmtp_reply). The message has LF line ends and no dot-stuffing, as
 * the pipe reads it. */
typedef struct m2s_lmtp_txn {
    const char *sender;         /* "" = null sender */
    char *const *recipients;    /* bare addresses */
    size_t n_recipients;
    const char *queue_id;       /* Postfix's (Received:), XFORWARD IDENT, or NULL */
    const char *data;
    size_t len;
    bool too_large;             /* more than max_message bytes came; data is cut */
} m2s_lmtp_txn;

/* A new session (free with m2s_lmtp_free); its output holds the greeting. */
m2s_lmtp *m2s_lmtp_new(const m2s_lmtp_limits *limits);
void m2s_lmtp_free(m2s_lmtp *s);

/* Bytes read from the client (copied). Call only after M2S_LMTP_MORE. */
void m2s_lmtp_input(m2s_lmtp *s, const char *data, size_t len);

/* Process what input there is, up to the next event. */
m2s_lmtp_event m2s_lmtp_step(m2s_lmtp *s);

/* The reply bytes to write (borrowed; *len may be 0), and the call that
 * says they were written. */
const char *m2s_lmtp_output(const m2s_lmtp *s, size_t *len);
void m2s_lmtp_output_done(m2s_lmtp *s);

/* After M2S_LMTP_MAIL: the transaction (borrowed), or NULL at other times. */
const m2s_lmtp_txn *m2s_lmtp_transaction(const m2s_lmtp *s);

/* Give the outcome of the transaction: st[i] for recipient i (n must be
 * its n_recipients; st is borrowed). Queues one reply per recipient and
 * ends the transaction. */
void m2s_lmtp_reply(m2s_lmtp *s, const m2s_status *st, size_t n);

/* Whether a transaction is open (MAIL given, not yet ended) or its DATA
 * is being received: an idle session can be closed without losing one. */
bool m2s_lmtp_in_transaction(const m2s_lmtp *s);
/* Whether the session is receiving DATA (for the slow-client timeout). */
bool m2s_lmtp_in_data(const m2s_lmtp *s);

/* Queue "421 4.3.2 TEXT" (or another 421 reason) and make the next step
 * M2S_LMTP_CLOSE: the service closes a session (shutdown, timeout). */
void m2s_lmtp_shutdown(m2s_lmtp *s, const char *dsn, const char *text);

/* The LMTP reply line for one recipient's outcome, without CRLF: 250 for
 * success (and a dropped mail), 451 for every temporary class, 550 (554
 * for content) for the permanent ones, then the line the pipe prints
 * (m2s_status_line). Returns a new string. */
char *m2s_lmtp_reply_line(const m2s_status *st);

#endif
