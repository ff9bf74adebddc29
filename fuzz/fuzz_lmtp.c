/* fuzz_lmtp.c - libFuzzer target for the LMTP session parser (lmtp.c):
 * one input is what a client sends, cut into reads of varying size (the
 * first byte picks the size). Every finished transaction is answered with
 * statuses picked from its own bytes. Checked on every step: each reply
 * line is "DDD" then a space or '-', ends in CRLF, and what a transaction
 * holds stays within the limits. Everything is freed, so LeakSanitizer
 * sees per-input leaks.
 *
 * Built and run by fuzz/run.sh (FUZZ_TARGET=lmtp).
 */
#include "build-config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lmtp.h"

#define MAX_MESSAGE 4096
#define MAX_RCPT 5

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_output(const char *o, size_t n)
{
    size_t i = 0;
    while (i < n) {
        const char *lf = memchr(o + i, '\n', n - i);
        if (!lf || lf == o + i || lf[-1] != '\r')
            abort();
        size_t len = (size_t)(lf - (o + i)) + 1;
        if (len < 6 || o[i] < '2' || o[i] > '5' || o[i + 1] < '0' || o[i + 1] > '9' ||
            o[i + 2] < '0' || o[i + 2] > '9' || (o[i + 3] != ' ' && o[i + 3] != '-'))
            abort();
        i += len;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    m2s_lmtp_limits lim = { .hostname = "fuzz.example", .max_line = 256,
                            .max_message = MAX_MESSAGE, .max_recipients = MAX_RCPT };
    size_t chunk = size ? (size_t)data[0] % 64 + 1 : 1;
    size_t pos = size ? 1 : 0;
    m2s_lmtp *s = m2s_lmtp_new(&lim);
    for (int guard = 0; guard < 100000; guard++) {
        m2s_lmtp_event ev = m2s_lmtp_step(s);
        size_t n;
        const char *o = m2s_lmtp_output(s, &n);
        check_output(o, n);
        m2s_lmtp_output_done(s);
        if (ev == M2S_LMTP_CLOSE)
            break;
        if (ev == M2S_LMTP_MAIL) {
            const m2s_lmtp_txn *t = m2s_lmtp_transaction(s);
            if (!t || t->n_recipients == 0 || t->n_recipients > MAX_RCPT ||
                t->len > MAX_MESSAGE || !t->sender)
                abort();
            m2s_status st[MAX_RCPT];
            for (size_t i = 0; i < t->n_recipients; i++) {
                unsigned char b = t->len ? (unsigned char)t->data[i % t->len] : 0;
                st[i] = (m2s_status){ (m2s_class)(b % M2S_CLASS_COUNT), NULL,
                                      (char *)(b & 1 ? "reason" : NULL) };
            }
            m2s_lmtp_reply(s, st, t->n_recipients);
            if (m2s_lmtp_transaction(s))
                abort();
            continue;
        }
        if (ev == M2S_LMTP_WRITE)
            continue;
        if (pos >= size)
            break;
        size_t k = size - pos < chunk ? size - pos : chunk;
        m2s_lmtp_input(s, (const char *)data + pos, k);
        pos += k;
    }
    m2s_lmtp_free(s);
    return 0;
}
