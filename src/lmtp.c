/* lmtp.c - the LMTP session state machine (RFC 2033, with RFC 5321's
 * commands, RFC 1870 SIZE, RFC 2034 enhanced codes, RFC 2920 pipelining).
 *
 *   GREETED --LHLO--> READY --MAIL--> MAIL --RCPT--> RCPT --DATA--> DATA
 *      ^                ^                                             |
 *      |                +------- m2s_lmtp_reply (one per RCPT) <-- RUN (event)
 *   QUIT or too many errors: CLOSED
 *
 * Input is buffered only up to one command line: a longer line is
 * dropped as it arrives and answered with 500. DATA is decoded byte by
 * byte (dot-unstuffing, CRLF to LF) into a buffer that stops growing at
 * the message limit, so memory is bounded by the limits, never by what
 * a client sends.
 */
#include "build-config.h"

#include <ctype.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "lmtp.h"
#include "util.h"

#define DEFAULT_MAX_LINE 2048
#define DEFAULT_MAX_RCPT 1000
#define DEFAULT_MAX_ERRORS 20
#define OUTPUT_HIGH (64 * 1024)     /* stop and let the caller write */
#define MAX_QUEUE_ID 64

typedef enum { S_GREETED, S_READY, S_MAIL, S_RCPT, S_DATA, S_RUN, S_CLOSED } sstate;

/* Where the DATA decoder is within a line. */
typedef enum { D_LINE_START, D_DOT, D_DOT_CR, D_IN_LINE, D_CR } dstate;

struct m2s_lmtp {
    char *hostname;
    size_t max_line;
    int64_t max_message;
    size_t max_rcpt;
    unsigned max_errors;
    sstate state;
    m2s_buf in;
    size_t in_pos;              /* first unprocessed byte of in */
    bool discarding;            /* inside an overlong line, until its LF */
    m2s_buf out;
    unsigned errors;
    char *sender;
    m2s_strv rcpts;
    char *queue_id;             /* XFORWARD IDENT, for the next transaction */
    dstate dstate;
    m2s_buf data;
    int64_t data_bytes;         /* decoded bytes seen, kept or not */
    m2s_lmtp_txn txn;
};

m2s_lmtp *m2s_lmtp_new(const m2s_lmtp_limits *limits)
{
    m2s_lmtp *s = xcalloc(1, sizeof *s);
    s->hostname = xstrdup(limits->hostname && *limits->hostname ? limits->hostname
                                                                 : "localhost");
    s->max_line = limits->max_line ? limits->max_line : DEFAULT_MAX_LINE;
    s->max_message = limits->max_message > 0 ? limits->max_message : INT64_MAX;
    s->max_rcpt = limits->max_recipients ? limits->max_recipients : DEFAULT_MAX_RCPT;
    s->max_errors = limits->max_errors ? limits->max_errors : DEFAULT_MAX_ERRORS;
    m2s_buf_init(&s->in);
    m2s_buf_init(&s->out);
    m2s_buf_init(&s->data);
    m2s_buf_printf(&s->out, "220 %s LMTP mail2sms ready\r\n", s->hostname);
    return s;
}

static void txn_clear(m2s_lmtp *s)
{
    free(s->sender);
    s->sender = NULL;
    m2s_strv_clear(&s->rcpts);
    m2s_buf_clear(&s->data);
    s->data_bytes = 0;
    memset(&s->txn, 0, sizeof s->txn);
}

void m2s_lmtp_free(m2s_lmtp *s)
{
    if (!s)
        return;
    txn_clear(s);
    free(s->queue_id);
    free(s->hostname);
    m2s_buf_clear(&s->in);
    m2s_buf_clear(&s->out);
    free(s);
}

void m2s_lmtp_input(m2s_lmtp *s, const char *data, size_t len)
{
    if (s->in_pos > 0) {
        /* what was processed goes, so the buffer holds one line at most */
        memmove(s->in.data, s->in.data + s->in_pos, s->in.len - s->in_pos);
        s->in.len -= s->in_pos;
        s->in.data[s->in.len] = '\0';
        s->in_pos = 0;
    }
    if (len)
        m2s_buf_add(&s->in, data, len);
}

const char *m2s_lmtp_output(const m2s_lmtp *s, size_t *len)
{
    *len = s->out.len;
    return s->out.data ? s->out.data : "";
}

void m2s_lmtp_output_done(m2s_lmtp *s)
{
    s->out.len = 0;
    if (s->out.data)
        s->out.data[0] = '\0';
    if (s->out.cap > OUTPUT_HIGH) {
        m2s_buf_clear(&s->out);      /* a burst of replies leaves no big buffer behind */
        m2s_buf_init(&s->out);
    }
}

const m2s_lmtp_txn *m2s_lmtp_transaction(const m2s_lmtp *s)
{
    return s->state == S_RUN ? &s->txn : NULL;
}

bool m2s_lmtp_in_transaction(const m2s_lmtp *s)
{
    return s->state == S_MAIL || s->state == S_RCPT || s->state == S_DATA ||
           s->state == S_RUN;
}

bool m2s_lmtp_in_data(const m2s_lmtp *s)
{
    return s->state == S_DATA;
}

static void reply(m2s_lmtp *s, const char *line)
{
    m2s_buf_adds(&s->out, line);
    m2s_buf_add(&s->out, "\r\n", 2);
}

void m2s_lmtp_shutdown(m2s_lmtp *s, const char *dsn, const char *text)
{
    if (s->state == S_CLOSED)
        return;
    m2s_buf_printf(&s->out, "421 %s %s %s\r\n", dsn ? dsn : "4.3.2", s->hostname,
                   text ? text : "closing connection");
    txn_clear(s);
    s->state = S_CLOSED;
}

/* A bad command: its reply, and the session ends after too many. */
static void error_reply(m2s_lmtp *s, const char *line)
{
    reply(s, line);
    if (++s->errors >= s->max_errors)
        m2s_lmtp_shutdown(s, "4.7.0", "too many errors");
}

char *m2s_lmtp_reply_line(const m2s_status *st)
{
    char *text = m2s_status_line(st);
    char *line;
    if (st->cls == M2S_OK || st->cls == M2S_DROPPED)
        line = xasprintf("250 2.0.0 %s", *text ? text : "Ok");
    else if (m2s_outcome_is_temporary(st->cls))
        line = xasprintf("451 %s", text);
    else
        line = xasprintf("%s %s", st->cls == M2S_E_CONTENT ? "554" : "550", text);
    free(text);
    return line;
}

/* ------------------------------------------------------ parsing */

/* "KEYWORD" at the start of line, case-insensitively, followed by the
 * end or a space. Sets *rest past the spaces after it. */
static bool verb_is(const char *line, const char *verb, const char **rest)
{
    size_t n = strlen(verb);
    if (strncasecmp(line, verb, n) != 0 || (line[n] && line[n] != ' '))
        return false;
    const char *p = line + n;
    while (*p == ' ')
        p++;
    *rest = p;
    return true;
}

/* The path of "FROM:<path> params" (prefix "FROM:" or "TO:"): a new
 * string, the bare address (no <>, no source route, a quoted local part
 * unquoted), with *params after it. NULL when it is not well formed. */
static char *parse_path(const char *arg, const char *prefix, const char **params)
{
    size_t n = strlen(prefix);
    if (strncasecmp(arg, prefix, n) != 0)
        return NULL;
    const char *p = arg + n;
    while (*p == ' ')
        p++;
    if (*p != '<')
        return NULL;
    p++;
    const char *end = p;
    bool quoted = false;
    for (; *end; end++) {
        if (quoted && *end == '\\' && end[1]) {
            end++;
            continue;
        }
        if (*end == '"')
            quoted = !quoted;
        else if (!quoted && *end == '>')
            break;
        else if (!quoted && (*end == '<' || *end == ' '))
            return NULL;
    }
    if (*end != '>')
        return NULL;
    const char *a = p;
    /* "@relay,@relay:user@domain": the route is dropped (RFC 5321 4.1.2) */
    if (*a == '@') {
        const char *colon = memchr(a, ':', (size_t)(end - a));
        if (!colon)
            return NULL;
        a = colon + 1;
    }
    m2s_buf out;
    m2s_buf_init(&out);
    bool in_q = false;
    for (const char *q = a; q < end; q++) {
        if (*q == '"') {
            in_q = !in_q;
            continue;
        }
        if (in_q && *q == '\\' && q + 1 < end)
            q++;
        m2s_buf_addc(&out, *q);
    }
    if (!out.data)
        m2s_buf_adds(&out, "");
    p = end + 1;
    while (*p == ' ')
        p++;
    *params = p;
    return m2s_buf_steal(&out);
}

/* Check MAIL's parameters. 0, or -1 with the reply in *err (static). */
static int mail_params(const m2s_lmtp *s, const char *params, const char **err)
{
    const char *p = params;
    while (*p) {
        const char *end = strchr(p, ' ');
        size_t n = end ? (size_t)(end - p) : strlen(p);
        if (n > 5 && strncasecmp(p, "SIZE=", 5) == 0) {
            int64_t v = 0;
            for (size_t i = 5; i < n; i++) {
                if (!isdigit((unsigned char)p[i]) || v > INT64_MAX / 10 - 10) {
                    *err = "501 5.5.4 bad SIZE parameter";
                    return -1;
                }
                v = v * 10 + (p[i] - '0');
            }
            if (v > s->max_message) {
                *err = "552 5.3.4 message too large for SMS (limits.max_message_bytes)";
                return -1;
            }
        } else if (n > 5 && strncasecmp(p, "BODY=", 5) == 0) {
            if (!((n == 9 && strncasecmp(p + 5, "7BIT", 4) == 0) ||
                  (n == 13 && strncasecmp(p + 5, "8BITMIME", 8) == 0))) {
                *err = "501 5.5.4 bad BODY parameter";
                return -1;
            }
        } else {
            *err = "555 5.5.4 unsupported MAIL parameter";
            return -1;
        }
        p += n;
        while (*p == ' ')
            p++;
    }
    return 0;
}

/* A queue id as Postfix writes one: letters, digits and a few marks. */
static bool queue_id_ok(const char *v, size_t n)
{
    if (n == 0 || n > MAX_QUEUE_ID)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!isalnum((unsigned char)v[i]) && !strchr(".-_", v[i]))
            return false;
    return true;
}

static void cmd_xforward(m2s_lmtp *s, const char *arg)
{
    if (!*arg) {
        error_reply(s, "501 5.5.4 XFORWARD needs attributes");
        return;
    }
    const char *p = arg;
    while (*p) {
        const char *end = strchr(p, ' ');
        size_t n = end ? (size_t)(end - p) : strlen(p);
        const char *eq = memchr(p, '=', n);
        if (!eq || eq == p) {
            error_reply(s, "501 5.5.4 bad XFORWARD attribute");
            return;
        }
        size_t klen = (size_t)(eq - p);
        if (klen == 5 && strncasecmp(p, "IDENT", 5) == 0) {
            const char *v = eq + 1;
            size_t vlen = n - klen - 1;
            free(s->queue_id);
            s->queue_id = queue_id_ok(v, vlen) ? xstrndup(v, vlen) : NULL;
        }
        p += n;
        while (*p == ' ')
            p++;
    }
    reply(s, "250 2.0.0 Ok");
}

static void cmd_lhlo(m2s_lmtp *s, const char *arg)
{
    if (!*arg) {
        error_reply(s, "501 5.5.4 LHLO needs a host name");
        return;
    }
    txn_clear(s);
    s->state = S_READY;
    m2s_buf_printf(&s->out, "250-%s\r\n250-PIPELINING\r\n250-ENHANCEDSTATUSCODES\r\n"
                   "250-8BITMIME\r\n250-SIZE %" PRId64 "\r\n"
                   "250 XFORWARD NAME ADDR PROTO HELO IDENT SOURCE\r\n",
                   s->hostname, s->max_message == INT64_MAX ? (int64_t)0 : s->max_message);
}

static void cmd_mail(m2s_lmtp *s, const char *arg)
{
    const char *params = NULL, *err = NULL;
    if (s->state == S_GREETED) {
        error_reply(s, "503 5.5.1 send LHLO first");
        return;
    }
    if (s->state != S_READY) {
        error_reply(s, "503 5.5.1 nested MAIL command");
        return;
    }
    char *addr = parse_path(arg, "FROM:", &params);
    if (!addr) {
        error_reply(s, "501 5.5.4 syntax: MAIL FROM:<address>");
        return;
    }
    if (mail_params(s, params, &err) != 0) {
        free(addr);
        error_reply(s, err);
        return;
    }
    s->sender = addr;
    s->state = S_MAIL;
    reply(s, "250 2.1.0 Ok");
}

static void cmd_rcpt(m2s_lmtp *s, const char *arg)
{
    const char *params = NULL;
    if (s->state != S_MAIL && s->state != S_RCPT) {
        error_reply(s, "503 5.5.1 need MAIL before RCPT");
        return;
    }
    char *addr = parse_path(arg, "TO:", &params);
    if (!addr) {
        error_reply(s, "501 5.5.4 syntax: RCPT TO:<address>");
        return;
    }
    if (!*addr) {
        free(addr);
        error_reply(s, "501 5.1.3 empty recipient address");
        return;
    }
    if (*params) {
        free(addr);
        error_reply(s, "555 5.5.4 unsupported RCPT parameter");
        return;
    }
    if (s->rcpts.n >= s->max_rcpt) {
        free(addr);
        reply(s, "452 4.5.3 too many recipients");
        return;
    }
    m2s_strv_take(&s->rcpts, addr);
    s->state = S_RCPT;
    reply(s, "250 2.1.5 Ok");
}

static void cmd_data(m2s_lmtp *s, const char *arg)
{
    if (*arg) {
        error_reply(s, "501 5.5.4 DATA takes no arguments");
        return;
    }
    if (s->state == S_MAIL) {
        error_reply(s, "503 5.5.1 no valid recipients");
        return;
    }
    if (s->state != S_RCPT) {
        error_reply(s, "503 5.5.1 need RCPT before DATA");
        return;
    }
    s->state = S_DATA;
    s->dstate = D_LINE_START;
    m2s_buf_clear(&s->data);
    s->data_bytes = 0;
    reply(s, "354 End data with <CR><LF>.<CR><LF>");
}

static void command(m2s_lmtp *s, const char *line)
{
    const char *arg = NULL;
    if (verb_is(line, "LHLO", &arg))
        cmd_lhlo(s, arg);
    else if (verb_is(line, "MAIL", &arg))
        cmd_mail(s, arg);
    else if (verb_is(line, "RCPT", &arg))
        cmd_rcpt(s, arg);
    else if (verb_is(line, "DATA", &arg))
        cmd_data(s, arg);
    else if (verb_is(line, "RSET", &arg)) {
        txn_clear(s);
        if (s->state != S_GREETED)
            s->state = S_READY;
        reply(s, "250 2.0.0 Ok");
    } else if (verb_is(line, "NOOP", &arg))
        reply(s, "250 2.0.0 Ok");
    else if (verb_is(line, "QUIT", &arg)) {
        m2s_buf_printf(&s->out, "221 2.0.0 %s closing connection\r\n", s->hostname);
        txn_clear(s);
        s->state = S_CLOSED;
    } else if (verb_is(line, "VRFY", &arg))
        reply(s, "252 2.5.2 cannot VRFY; send some mail and see");
    else if (verb_is(line, "XFORWARD", &arg)) {
        if (s->state == S_GREETED)
            error_reply(s, "503 5.5.1 send LHLO first");
        else if (s->state != S_READY)
            error_reply(s, "503 5.5.1 XFORWARD inside a transaction");
        else
            cmd_xforward(s, arg);
    } else if (verb_is(line, "HELO", &arg) || verb_is(line, "EHLO", &arg))
        error_reply(s, "500 5.5.1 this is LMTP: say LHLO");
    else
        error_reply(s, "500 5.5.2 command not recognized");
}

/* ---------------------------------------------------------- DATA */

static void data_add(m2s_lmtp *s, const char *p, size_t n)
{
    if (s->data_bytes < s->max_message) {
        int64_t room = s->max_message - s->data_bytes;
        m2s_buf_add(&s->data, p, (int64_t)n < room ? n : (size_t)room);
    }
    s->data_bytes += (int64_t)n;
}

/* Decode DATA bytes from the input until the final "." line. True when
 * it came (the input after it is left for the next command). */
static bool data_feed(m2s_lmtp *s)
{
    const char *p = s->in.data + s->in_pos;
    const char *end = s->in.data + s->in.len;
    while (p < end) {
        char c = *p++;
        switch (s->dstate) {
        case D_LINE_START:
            if (c == '.') {
                s->dstate = D_DOT;
                break;
            }
            /* fall through */
        case D_IN_LINE:
            if (c == '\r') {
                s->dstate = D_CR;
            } else if (c == '\n') {
                data_add(s, "\n", 1);
                s->dstate = D_LINE_START;
            } else {
                /* the rest of the line up to a CR or LF at once */
                const char *q = p;
                while (q < end && *q != '\r' && *q != '\n')
                    q++;
                data_add(s, p - 1, (size_t)(q - (p - 1)));
                p = q;
                s->dstate = D_IN_LINE;
            }
            break;
        case D_DOT:
            if (c == '\r')
                s->dstate = D_DOT_CR;
            else if (c == '\n')
                goto done;                  /* ".\n", leniently */
            else {
                p--;                        /* the dot was stuffing: drop it */
                s->dstate = D_IN_LINE;
            }
            break;
        case D_DOT_CR:
            if (c == '\n')
                goto done;
            data_add(s, "\r", 1);           /* ".\r" then more: a line with a CR */
            p--;
            s->dstate = D_IN_LINE;
            break;
        case D_CR:
            if (c == '\n') {
                data_add(s, "\n", 1);
                s->dstate = D_LINE_START;
            } else {
                data_add(s, "\r", 1);
                p--;
                s->dstate = D_IN_LINE;
            }
            break;
        }
    }
    s->in_pos = s->in.len;
    return false;
done:
    s->in_pos = (size_t)(p - s->in.data);
    return true;
}

/* The queue id in the first Received: header when Postfix wrote it
 * ("by host (Postfix, from userid 0) id 4QxABC; date", "by host (Postfix)
 * with ESMTP id 4QxABC for <...>"): for mail Postfix delivers, its own
 * queue id, the one its log lines carry. A new string, or NULL. Only the
 * first 64 KB of the header are looked at. */
static char *received_queue_id(const char *d, size_t len)
{
    char *id = NULL;
    m2s_buf h;
    m2s_buf_init(&h);
    if (len > 65536)
        len = 65536;
    for (size_t i = 0; i < len && d[i] != '\n';) {
        if (len - i > 9 && strncasecmp(d + i, "Received:", 9) == 0) {
            for (size_t j = i + 9; j < len && h.len < 4096; j++) {
                if (d[j] == '\n' && (j + 1 >= len || (d[j + 1] != ' ' && d[j + 1] != '\t')))
                    break;
                m2s_buf_addc(&h, d[j] == '\n' || d[j] == '\t' ? ' ' : d[j]);
            }
            break;
        }
        const char *nl = memchr(d + i, '\n', len - i);
        if (!nl)
            break;
        i = (size_t)(nl - d) + 1;
    }
    const char *p = h.data ? strstr(h.data, "(Postfix") : NULL;
    p = p ? strstr(p, " id ") : NULL;
    if (p) {
        p += 4;
        size_t n = strcspn(p, "; ");
        if (queue_id_ok(p, n))
            id = xstrndup(p, n);
    }
    m2s_buf_clear(&h);
    return id;
}

static void data_done(m2s_lmtp *s)
{
    if (!s->data.data)
        m2s_buf_adds(&s->data, "");
    char *qid = received_queue_id(s->data.data, s->data.len);
    if (qid) {
        /* Postfix's own id beats XFORWARD's, which names the upstream one */
        free(s->queue_id);
        s->queue_id = qid;
    }
    s->txn = (m2s_lmtp_txn){
        .sender = s->sender,
        .recipients = s->rcpts.v,
        .n_recipients = s->rcpts.n,
        .queue_id = s->queue_id,
        .data = s->data.data,
        .len = s->data.len,
        .too_large = s->data_bytes > s->max_message,
    };
    s->state = S_RUN;
}

void m2s_lmtp_reply(m2s_lmtp *s, const m2s_status *st, size_t n)
{
    if (s->state != S_RUN)
        return;
    for (size_t i = 0; i < s->rcpts.n; i++) {
        m2s_status internal = { M2S_E_INTERNAL, NULL, (char *)"no outcome for this recipient" };
        char *line = m2s_lmtp_reply_line(i < n ? &st[i] : &internal);
        reply(s, line);
        free(line);
    }
    txn_clear(s);
    free(s->queue_id);      /* XFORWARD is per transaction */
    s->queue_id = NULL;
    s->state = S_READY;
}

/* --------------------------------------------------------- step */

m2s_lmtp_event m2s_lmtp_step(m2s_lmtp *s)
{
    for (;;) {
        if (s->state == S_CLOSED)
            return M2S_LMTP_CLOSE;
        if (s->state == S_RUN)
            return M2S_LMTP_MAIL;
        if (s->in_pos >= s->in.len)
            return M2S_LMTP_MORE;
        if (s->out.len >= OUTPUT_HIGH)
            return M2S_LMTP_WRITE;
        if (s->state == S_DATA) {
            if (data_feed(s))
                data_done(s);
            continue;
        }
        char *start = s->in.data + s->in_pos;
        size_t avail = s->in.len - s->in_pos;
        char *lf = memchr(start, '\n', avail);
        if (s->discarding) {
            if (!lf) {
                s->in_pos = s->in.len;
                return M2S_LMTP_MORE;
            }
            s->in_pos += (size_t)(lf - start) + 1;
            s->discarding = false;
            error_reply(s, "500 5.5.2 line too long");
            continue;
        }
        if (!lf) {
            if (avail >= s->max_line) {
                s->discarding = true;       /* keep none of it */
                s->in_pos = s->in.len;
            }
            return M2S_LMTP_MORE;
        }
        size_t n = (size_t)(lf - start);
        s->in_pos += n + 1;
        if (n + 1 > s->max_line) {
            error_reply(s, "500 5.5.2 line too long");
            continue;
        }
        if (n > 0 && start[n - 1] == '\r')
            n--;
        if (memchr(start, '\0', n)) {
            error_reply(s, "500 5.5.2 NUL in command");
            continue;
        }
        char *line = xstrndup(start, n);
        command(s, line);
        free(line);
    }
}
