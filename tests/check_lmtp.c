/* check_lmtp.c - the LMTP session state machine: the dialogue Postfix's
 * lmtp client has with it, pipelining, DATA decoding, per-recipient
 * replies from the outcome table, and what a hostile client gets. */
#include "build-config.h"

#include <stdlib.h>
#include <string.h>

#include "unit.h"
#include "lmtp.h"
#include "util.h"

/* Feed text (in pieces of chunk bytes; 0 = all at once) and step until
 * the session wants more input, has a mail, or closes. The replies are
 * appended to out. */
static m2s_lmtp_event feed_from(m2s_lmtp *s, const char *text, size_t len, size_t chunk,
                                m2s_buf *out, size_t *posp)
{
    m2s_lmtp_event ev = M2S_LMTP_MORE;
    size_t pos = posp ? *posp : 0;
    if (!chunk)
        chunk = len ? len : 1;
    for (;;) {
        ev = m2s_lmtp_step(s);
        size_t n;
        const char *o = m2s_lmtp_output(s, &n);
        m2s_buf_add(out, o, n);
        m2s_lmtp_output_done(s);
        if (ev == M2S_LMTP_WRITE)
            continue;
        if (ev != M2S_LMTP_MORE || pos >= len)
            break;
        size_t k = len - pos < chunk ? len - pos : chunk;
        m2s_lmtp_input(s, text + pos, k);
        pos += k;
    }
    if (posp)
        *posp = pos;
    return ev;
}

static m2s_lmtp_event feed(m2s_lmtp *s, const char *text, size_t len, size_t chunk, m2s_buf *out)
{
    return feed_from(s, text, len, chunk, out, NULL);
}

static m2s_lmtp *session(int64_t max_message, m2s_buf *out)
{
    m2s_lmtp_limits lim = { .hostname = "sms.example", .max_line = 512,
                            .max_message = max_message, .max_recipients = 3 };
    m2s_lmtp *s = m2s_lmtp_new(&lim);
    m2s_buf_init(out);
    ck_assert_int_eq(feed(s, "", 0, 0, out), M2S_LMTP_MORE);
    ck_assert_str_eq(out->data, "220 sms.example LMTP mail2sms ready\r\n");
    out->len = 0;
    out->data[0] = '\0';
    return s;
}

#define FEED(s, text, out) feed((s), (text), strlen(text), 0, (out))

START_TEST(lhlo_advertises)
{
    m2s_buf out;
    m2s_lmtp *s = session(4096, &out);
    ck_assert_int_eq(FEED(s, "LHLO postfix.example\r\n", &out), M2S_LMTP_MORE);
    ck_assert_str_eq(out.data, "250-sms.example\r\n250-PIPELINING\r\n"
                               "250-ENHANCEDSTATUSCODES\r\n250-8BITMIME\r\n250-SIZE 4096\r\n"
                               "250 XFORWARD NAME ADDR PROTO HELO IDENT SOURCE\r\n");
    m2s_lmtp_free(s);
    m2s_buf_clear(&out);
}
END_TEST

static const char pipelined[] =
    "LHLO client\r\n"
    "XFORWARD NAME=spike.porcupine.org ADDR=168.100.189.2 IDENT=4Qx1Yz2AbC\r\n"
    "MAIL FROM:<nagios@example.org> SIZE=60 BODY=8BITMIME\r\n"
    "RCPT TO:<oncall@sms.example>\r\n"
    "RCPT TO:<\"+31 6\"@sms.example>\r\n"
    "RCPT TO:<nobody@sms.example>\r\n"
    "DATA\r\n"
    "Subject: disk full\r\n"
    "\r\n"
    "..leading dot\r\n"
    ".\r\n"
    "QUIT\r\n";

/* One transaction with three recipients, all sent at once (PIPELINING):
 * the envelope and message as the pipe would read them, then one reply
 * per recipient in RCPT order, from the outcome table. */
START_TEST(pipelined_transaction)
{
    m2s_buf out;
    for (size_t chunk = 0; chunk <= 7; chunk += 7) {        /* all at once, then in 7s */
        m2s_lmtp *s = session(4096, &out);
        size_t pos = 0;
        ck_assert_int_eq(feed_from(s, pipelined, strlen(pipelined), chunk, &out, &pos),
                         M2S_LMTP_MAIL);
        ck_assert(m2s_lmtp_in_transaction(s));
        const m2s_lmtp_txn *t = m2s_lmtp_transaction(s);
        ck_assert_ptr_nonnull(t);
        ck_assert_str_eq(t->sender, "nagios@example.org");
        ck_assert_uint_eq(t->n_recipients, 3);
        ck_assert_str_eq(t->recipients[0], "oncall@sms.example");
        ck_assert_str_eq(t->recipients[1], "+31 6@sms.example");
        ck_assert_str_eq(t->recipients[2], "nobody@sms.example");
        ck_assert_str_eq(t->queue_id, "4Qx1Yz2AbC");
        ck_assert(!t->too_large);
        ck_assert_uint_eq(t->len, strlen("Subject: disk full\n\n.leading dot\n"));
        ck_assert(memcmp(t->data, "Subject: disk full\n\n.leading dot\n", t->len) == 0);
        ck_assert_str_eq(out.data, "250-sms.example\r\n250-PIPELINING\r\n"
                                   "250-ENHANCEDSTATUSCODES\r\n250-8BITMIME\r\n250-SIZE 4096\r\n"
                                   "250 XFORWARD NAME ADDR PROTO HELO IDENT SOURCE\r\n"
                                   "250 2.0.0 Ok\r\n250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n"
                                   "250 2.1.5 Ok\r\n250 2.1.5 Ok\r\n"
                                   "354 End data with <CR><LF>.<CR><LF>\r\n");
        out.len = 0;
        m2s_status st[3] = {
            { M2S_OK, NULL, NULL },
            { M2S_E_NETWORK, "4.4.2", (char *)"mail2sms: Bird API timed out" },
            { M2S_E_UNKNOWN_RCPT, NULL, (char *)"mail2sms: unknown recipient nobody" },
        };
        m2s_lmtp_reply(s, st, 3);
        ck_assert_ptr_null(m2s_lmtp_transaction(s));
        ck_assert_int_eq(feed_from(s, pipelined, strlen(pipelined), chunk, &out, &pos),
                         M2S_LMTP_CLOSE);
        ck_assert_str_eq(out.data, "250 2.0.0 Ok\r\n"
                                   "451 4.4.2 mail2sms: Bird API timed out\r\n"
                                   "550 5.1.1 mail2sms: unknown recipient nobody\r\n"
                                   "221 2.0.0 sms.example closing connection\r\n");
        m2s_lmtp_free(s);
        m2s_buf_clear(&out);
    }
}
END_TEST

/* The DATA decoder gives the same bytes however the input is cut. */
START_TEST(data_split_anywhere)
{
    static const char data[] = "A: b\r\n\r\nline one\r\n..\r\n...x\r\nbare\rcr\r\nlf only\n.\r\n";
    static const char want[] = "A: b\n\nline one\n.\n..x\nbare\rcr\nlf only\n";
    m2s_buf out;
    for (size_t chunk = 1; chunk <= sizeof data; chunk++) {
        m2s_lmtp *s = session(4096, &out);
        FEED(s, "LHLO c\r\nMAIL FROM:<>\r\nRCPT TO:<a@b>\r\nDATA\r\n", &out);
        ck_assert_int_eq(feed(s, data, strlen(data), chunk, &out), M2S_LMTP_MAIL);
        const m2s_lmtp_txn *t = m2s_lmtp_transaction(s);
        ck_assert_str_eq(t->sender, "");
        ck_assert_uint_eq(t->len, strlen(want));
        ck_assert_msg(memcmp(t->data, want, t->len) == 0, "chunk %zu: %s", chunk, t->data);
        ck_assert_ptr_null(t->queue_id);
        m2s_lmtp_free(s);
        m2s_buf_clear(&out);
    }
}
END_TEST

/* Commands out of order get 503 and change nothing. */
START_TEST(out_of_order)
{
    m2s_buf out;
    m2s_lmtp *s = session(4096, &out);
    FEED(s, "MAIL FROM:<a@b>\r\nLHLO c\r\n", &out);
    ck_assert(strncmp(out.data, "503 5.5.1 send LHLO first\r\n250-", 31) == 0);
    out.len = 0;
    FEED(s, "RCPT TO:<x@y>\r\nDATA\r\nMAIL FROM:<a@b>\r\nDATA\r\nMAIL FROM:<c@d>\r\n"
            "RSET\r\nRCPT TO:<x@y>\r\nEHLO c\r\nBDAT 10 LAST\r\n", &out);
    ck_assert_str_eq(out.data, "503 5.5.1 need MAIL before RCPT\r\n"
                               "503 5.5.1 need RCPT before DATA\r\n"
                               "250 2.1.0 Ok\r\n"
                               "503 5.5.1 no valid recipients\r\n"
                               "503 5.5.1 nested MAIL command\r\n"
                               "250 2.0.0 Ok\r\n"
                               "503 5.5.1 need MAIL before RCPT\r\n"
                               "500 5.5.1 this is LMTP: say LHLO\r\n"
                               "500 5.5.2 command not recognized\r\n");
    ck_assert(!m2s_lmtp_in_transaction(s));
    m2s_lmtp_free(s);
    m2s_buf_clear(&out);
}
END_TEST

/* Bad syntax: each gets its reply, nothing else changes. */
START_TEST(bad_syntax)
{
    m2s_buf out;
    m2s_lmtp *s = session(4096, &out);
    FEED(s, "LHLO\r\nLHLO c\r\n", &out);
    ck_assert(strncmp(out.data, "501 5.5.4 LHLO needs a host name\r\n250-", 38) == 0);
    out.len = 0;
    FEED(s, "MAIL FROM:a@b\r\nMAIL FROM:<a@b> SIZE=x\r\nMAIL FROM:<a@b> SIZE=5000\r\n"
            "MAIL FROM:<a@b> AUTH=<>\r\nMAIL FROM:<a <b>\r\nMAIL FROM:<@r1,@r2:a@b>\r\n"
            "RCPT TO:<>\r\nRCPT TO:<x@y> NOTIFY=NEVER\r\nRCPT TO:x@y\r\nDATA x\r\n", &out);
    ck_assert_str_eq(out.data, "501 5.5.4 syntax: MAIL FROM:<address>\r\n"
                               "501 5.5.4 bad SIZE parameter\r\n"
                               "552 5.3.4 message too large for SMS (limits.max_message_bytes)\r\n"
                               "555 5.5.4 unsupported MAIL parameter\r\n"
                               "501 5.5.4 syntax: MAIL FROM:<address>\r\n"
                               "250 2.1.0 Ok\r\n"
                               "501 5.1.3 empty recipient address\r\n"
                               "555 5.5.4 unsupported RCPT parameter\r\n"
                               "501 5.5.4 syntax: RCPT TO:<address>\r\n"
                               "501 5.5.4 DATA takes no arguments\r\n");
    m2s_lmtp_free(s);
    m2s_buf_clear(&out);
}
END_TEST

/* A line longer than the limit is dropped as it comes, answered once,
 * and the session goes on; so does one with a NUL in it. */
START_TEST(overlong_line)
{
    m2s_buf out;
    m2s_lmtp *s = session(4096, &out);
    size_t n = 100000;
    char *big = xmalloc(n + 3);
    memset(big, 'A', n);
    memcpy(big + n, "\r\n", 3);
    ck_assert_int_eq(feed(s, big, n + 2, 1000, &out), M2S_LMTP_MORE);
    ck_assert_str_eq(out.data, "500 5.5.2 line too long\r\n");
    out.len = 0;
    ck_assert_int_eq(feed(s, "NOOP\0x\r\nNOOP\r\n", 14, 0, &out), M2S_LMTP_MORE);
    ck_assert_str_eq(out.data, "500 5.5.2 NUL in command\r\n250 2.0.0 Ok\r\n");
    free(big);
    m2s_lmtp_free(s);
    m2s_buf_clear(&out);
}
END_TEST

/* More than the message limit: the kept bytes stop at the limit and the
 * transaction says so. */
START_TEST(too_large)
{
    m2s_buf out;
    m2s_lmtp *s = session(1024, &out);
    FEED(s, "LHLO c\r\nMAIL FROM:<a@b>\r\nRCPT TO:<x@y>\r\nDATA\r\n", &out);
    m2s_buf body;
    m2s_buf_init(&body);
    for (int i = 0; i < 500; i++)
        m2s_buf_adds(&body, "0123456789012345678901234567890123456789\r\n");
    m2s_buf_adds(&body, ".\r\n");
    ck_assert_int_eq(feed(s, body.data, body.len, 4096, &out), M2S_LMTP_MAIL);
    const m2s_lmtp_txn *t = m2s_lmtp_transaction(s);
    ck_assert(t->too_large);
    ck_assert_uint_eq(t->len, 1024);
    m2s_buf_clear(&body);
    m2s_lmtp_free(s);
    m2s_buf_clear(&out);
}
END_TEST

/* The recipient limit defers the rest (452): Postfix sends them in the
 * next transaction. XFORWARD's queue id lasts one transaction. */
START_TEST(recipient_limit_and_xforward)
{
    m2s_buf out;
    m2s_lmtp *s = session(4096, &out);
    FEED(s, "LHLO c\r\nXFORWARD IDENT=ABC123\r\nMAIL FROM:<a@b>\r\nRCPT TO:<1@y>\r\n"
            "RCPT TO:<2@y>\r\nRCPT TO:<3@y>\r\n", &out);
    out.len = 0;
    ck_assert_int_eq(FEED(s, "RCPT TO:<4@y>\r\nXFORWARD IDENT=X\r\nDATA\r\nx\r\n.\r\n", &out),
                     M2S_LMTP_MAIL);
    ck_assert_str_eq(out.data, "452 4.5.3 too many recipients\r\n"
                               "503 5.5.1 XFORWARD inside a transaction\r\n"
                               "354 End data with <CR><LF>.<CR><LF>\r\n");
    ck_assert_uint_eq(m2s_lmtp_transaction(s)->n_recipients, 3);
    ck_assert_str_eq(m2s_lmtp_transaction(s)->queue_id, "ABC123");
    m2s_status st[3] = { M2S_STATUS_INIT, M2S_STATUS_INIT, M2S_STATUS_INIT };
    m2s_lmtp_reply(s, st, 3);
    ck_assert_int_eq(FEED(s, "XFORWARD IDENT=bad/id\r\nMAIL FROM:<a@b>\r\nRCPT TO:<1@y>\r\n"
                             "DATA\r\nx\r\n.\r\n", &out), M2S_LMTP_MAIL);
    ck_assert_ptr_null(m2s_lmtp_transaction(s)->queue_id);
    m2s_lmtp_free(s);
    m2s_buf_clear(&out);
}
END_TEST

/* The queue id comes from the first Received: header Postfix wrote (a
 * folded one too), over XFORWARD's; not from another MTA's, nor from a
 * later header or the body. */
START_TEST(queue_id_from_received)
{
    static const struct { const char *head; const char *want; } cases[] = {
        { "Received: by mx.example (Postfix, from userid 0)\r\n\tid 1788BA741A7; Wed,  2 Dec"
          " 2026 06:07:11 +0000 (UTC)\r\n", "1788BA741A7" },
        { "Received: from c.example (c.example [192.0.2.1])\r\n\tby mx.example (Postfix) "
          "with ESMTPS id 4QxYz2AbCdef\r\n\tfor <a@b>; Wed, 2 Dec 2026\r\n", "4QxYz2AbCdef" },
        { "Received: from c by mx (Exim 4.96) id 1abc-000; Wed\r\n", "XF1" },
        { "Subject: x\r\nReceived: by mx (Postfix) id BAD/ID; x\r\n", "XF1" },
        { "Subject: x\r\n\r\nReceived: by mx (Postfix) id INBODY1; x\r\n", "XF1" },
        { "X-A: 1\r\nReceived: by mx (Postfix) id SECOND1; x\r\nReceived: by up (Postfix) "
          "id UP1; y\r\n", "SECOND1" },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        m2s_buf out, in;
        m2s_lmtp *s = session(4096, &out);
        m2s_buf_init(&in);
        m2s_buf_printf(&in, "LHLO c\r\nXFORWARD IDENT=XF1\r\nMAIL FROM:<a@b>\r\n"
                       "RCPT TO:<x@y>\r\nDATA\r\n%s\r\nbody\r\n.\r\n", cases[i].head);
        ck_assert_int_eq(feed(s, in.data, in.len, 0, &out), M2S_LMTP_MAIL);
        ck_assert_str_eq(m2s_lmtp_transaction(s)->queue_id, cases[i].want);
        m2s_buf_clear(&in);
        m2s_lmtp_free(s);
        m2s_buf_clear(&out);
    }
}
END_TEST

/* A client that only sends junk is told so, then closed with 421. */
START_TEST(too_many_errors)
{
    m2s_buf out;
    m2s_lmtp *s = session(4096, &out);
    m2s_lmtp_event ev = M2S_LMTP_MORE;
    int replies = 0;
    for (int i = 0; i < 100 && ev == M2S_LMTP_MORE; i++) {
        ev = FEED(s, "\x01\x02\xff garbage\r\n", &out);
        replies++;
    }
    ck_assert_int_eq(ev, M2S_LMTP_CLOSE);
    ck_assert_int_eq(replies, 20);
    ck_assert_ptr_nonnull(strstr(out.data, "421 4.7.0 sms.example too many errors\r\n"));
    m2s_lmtp_free(s);
    m2s_buf_clear(&out);
}
END_TEST

/* Shutting a session down in the middle of a transaction: 421, closed,
 * nothing of the transaction left. */
START_TEST(shutdown_mid_data)
{
    m2s_buf out;
    m2s_lmtp *s = session(4096, &out);
    FEED(s, "LHLO c\r\nMAIL FROM:<a@b>\r\nRCPT TO:<x@y>\r\nDATA\r\npart of it\r\n", &out);
    ck_assert(m2s_lmtp_in_data(s));
    out.len = 0;
    m2s_lmtp_shutdown(s, "4.4.2", "timeout");
    ck_assert(!m2s_lmtp_in_transaction(s));
    ck_assert_int_eq(FEED(s, "", &out), M2S_LMTP_CLOSE);
    ck_assert_str_eq(out.data, "421 4.4.2 sms.example timeout\r\n");
    m2s_lmtp_free(s);
    m2s_buf_clear(&out);
}
END_TEST

/* Every class gets the reply code its DSN class asks for, and the text
 * the pipe prints. */
START_TEST(reply_lines)
{
    for (int c = 0; c < M2S_CLASS_COUNT; c++) {
        m2s_status st = { (m2s_class)c, NULL, (char *)"why" };
        char *line = m2s_lmtp_reply_line(&st);
        char *pipe_line = m2s_status_line(&st);
        const m2s_outcome_row *row = m2s_outcome((m2s_class)c);
        if (row->exit_code == 0) {
            ck_assert_str_eq(line, "250 2.0.0 why");
        } else {
            ck_assert_str_eq(line + 4, pipe_line);
            ck_assert_int_eq(line[0], row->dsn[0]);
            ck_assert_int_eq(line[0], m2s_outcome_is_temporary((m2s_class)c) ? '4' : '5');
        }
        free(line);
        free(pipe_line);
    }
    m2s_status ok = M2S_STATUS_INIT;
    char *line = m2s_lmtp_reply_line(&ok);
    ck_assert_str_eq(line, "250 2.0.0 Ok");
    free(line);
    m2s_status content = { M2S_E_CONTENT, NULL, NULL };
    line = m2s_lmtp_reply_line(&content);
    ck_assert(strncmp(line, "554 5.6.0", 9) == 0);
    free(line);
}
END_TEST

static Suite *make_suite(void)
{
    Suite *s = suite_create("lmtp");
    TCase *tc = tcase_create("session");
    tcase_add_test(tc, lhlo_advertises);
    tcase_add_test(tc, pipelined_transaction);
    tcase_add_test(tc, data_split_anywhere);
    tcase_add_test(tc, out_of_order);
    tcase_add_test(tc, bad_syntax);
    tcase_add_test(tc, overlong_line);
    tcase_add_test(tc, too_large);
    tcase_add_test(tc, recipient_limit_and_xforward);
    tcase_add_test(tc, queue_id_from_received);
    tcase_add_test(tc, too_many_errors);
    tcase_add_test(tc, shutdown_mid_data);
    tcase_add_test(tc, reply_lines);
    suite_add_tcase(s, tc);
    return s;
}
