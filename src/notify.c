/* notify.c - the RFC 3464 notice of a failed SMS and the local sendmail.
 *
 * The notice is built as plain text (no MIME library needed for three
 * parts of our own making): the readable part says which number, alias
 * and mail, and what Bird said; the machine part has one recipient block
 * with Action: failed; the third part is the original mail's header block
 * as the journal kept it.
 */
#include "build-config.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "notify.h"
#include "util.h"

/* The domain of an address, or NULL. Borrowed from addr. */
static const char *domain_of(const char *addr)
{
    const char *at = addr ? strrchr(addr, '@') : NULL;
    return at && at[1] ? at + 1 : NULL;
}

const char *m2s_notify_rcpt(const m2s_config *cfg, const m2s_tracked *t)
{
    const char *rcpt = cfg->track_notify_to ? cfg->track_notify_to : t->sender;
    if (!rcpt || !*rcpt || strcmp(rcpt, "<>") == 0 || !strchr(rcpt, '@'))
        return NULL;
    /* No loops: a notice to the SMS domain would come back as an SMS. */
    const char *mine = domain_of(t->recipient), *theirs = domain_of(rcpt);
    if (mine && theirs && strcasecmp(mine, theirs) == 0)
        return NULL;
    return rcpt;
}

static void rfc5322_date(double t, char out[64])
{
    time_t s = (time_t)t;
    struct tm tm;
    if (!gmtime_r(&s, &tm) || !strftime(out, 64, "%a, %d %b %Y %H:%M:%S +0000", &tm))
        snprintf(out, 64, "Thu, 01 Jan 1970 00:00:00 +0000");
}

static void iso_time(double t, char out[32])
{
    time_t s = (time_t)t;
    struct tm tm;
    if (!gmtime_r(&s, &tm) || !strftime(out, 32, "%Y-%m-%d %H:%M:%S UTC", &tm))
        snprintf(out, 32, "%.0f", t);
}

/* s as one header value: ASCII as it is, else an RFC 2047 encoded word
 * in base64 (one per 45 bytes, whole UTF-8 characters each). */
static void add_header_text(m2s_buf *b, const char *s)
{
    static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    bool ascii = true;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        if (*p >= 0x80 || *p < 0x20)
            ascii = false;
    if (ascii) {
        m2s_buf_adds(b, s);
        return;
    }
    size_t n = strlen(s), i = 0;
    while (i < n) {
        size_t len = n - i > 45 ? 45 : n - i;
        while (i + len < n && ((unsigned char)s[i + len] & 0xC0) == 0x80)
            len--;
        m2s_buf_adds(b, i ? "\n =?utf-8?b?" : "=?utf-8?b?");
        for (size_t k = 0; k < len; k += 3) {
            unsigned v = (unsigned char)s[i + k] << 16;
            if (k + 1 < len)
                v |= (unsigned char)s[i + k + 1] << 8;
            if (k + 2 < len)
                v |= (unsigned char)s[i + k + 2];
            m2s_buf_addc(b, b64[(v >> 18) & 63]);
            m2s_buf_addc(b, b64[(v >> 12) & 63]);
            m2s_buf_addc(b, k + 1 < len ? b64[(v >> 6) & 63] : '=');
            m2s_buf_addc(b, k + 2 < len ? b64[v & 63] : '=');
        }
        m2s_buf_adds(b, "?=");
        i += len;
    }
}

/* A value of the machine part: printable ASCII on one line. */
static char *ascii_line(const char *s)
{
    char *o = m2s_oneline(s ? s : "", 200);
    for (char *p = o; *p; p++)
        if ((unsigned char)*p >= 0x80)
            *p = '?';
    return o;
}

char *m2s_notify_message(const m2s_tracked *t, const char *rcpt, const char *dsn,
                         const char *host)
{
    m2s_buf b;
    unsigned char rnd[8] = { 0 };
    char boundary[64], date[64], accepted[32], seen[32];
    double now = (double)time(NULL);
    m2s_random_bytes(rnd, sizeof rnd);
    snprintf(boundary, sizeof boundary, "mail2sms-%02x%02x%02x%02x%02x%02x%02x%02x/%s",
             rnd[0], rnd[1], rnd[2], rnd[3], rnd[4], rnd[5], rnd[6], rnd[7], "report");
    rfc5322_date(now, date);
    iso_time(t->accepted, accepted);
    iso_time(t->status_at, seen);
    const char *status = t->outcome ? t->outcome : t->status ? t->status : "failed";
    char *recipient = ascii_line(t->recipient ? t->recipient : t->number);
    char *diag = ascii_line(t->reason ? t->reason : "no reason given");
    char *source = t->source ? ascii_line(t->source) : NULL;

    m2s_buf_init(&b);
    m2s_buf_printf(&b, "From: Mail Delivery System <MAILER-DAEMON@%s>\n", host);
    m2s_buf_printf(&b, "To: <%s>\n", rcpt);
    m2s_buf_adds(&b, "Subject: Undelivered SMS: ");
    add_header_text(&b, t->subject && *t->subject ? t->subject : "(no subject)");
    m2s_buf_printf(&b, "\nDate: %s\n", date);
    m2s_buf_printf(&b, "Message-ID: <mail2sms.%02x%02x%02x%02x%02x%02x%02x%02x@%s>\n",
                   rnd[7], rnd[6], rnd[5], rnd[4], rnd[3], rnd[2], rnd[1], rnd[0], host);
    if (t->message_id)
        m2s_buf_printf(&b, "In-Reply-To: %s\nReferences: %s\n", t->message_id, t->message_id);
    m2s_buf_adds(&b, "Auto-Submitted: auto-replied\n"
                     "MIME-Version: 1.0\n");
    m2s_buf_printf(&b, "Content-Type: multipart/report; report-type=delivery-status;\n"
                   " boundary=\"%s\"\n\n", boundary);
    m2s_buf_adds(&b, "This is a MIME-encapsulated message.\n\n");

    /* 1: for a person */
    m2s_buf_printf(&b, "--%s\nContent-Description: Notification\n"
                   "Content-Type: text/plain; charset=utf-8\n"
                   "Content-Transfer-Encoding: 8bit\n\n", boundary);
    m2s_buf_printf(&b, "This is the mail2sms program at host %s.\n\n"
                   "Your mail was sent as an SMS, but Bird reports that the SMS\n"
                   "could not be delivered to the phone. It will not be tried again.\n\n",
                   host);
    m2s_buf_printf(&b, "Number:      %s\n", t->number ? t->number : "?");
    if (t->alias)
        m2s_buf_printf(&b, "Alias:       %s\n", t->alias);
    if (t->recipient)
        m2s_buf_printf(&b, "Address:     %s\n", t->recipient);
    if (t->subject)
        m2s_buf_printf(&b, "Mail:        %s\n", t->subject);
    if (t->message_id)
        m2s_buf_printf(&b, "Message-ID:  %s\n", t->message_id);
    if (t->queue_id)
        m2s_buf_printf(&b, "Queue ID:    %s\n", t->queue_id);
    m2s_buf_printf(&b, "Accepted:    %s\n", accepted);
    m2s_buf_printf(&b, "Status:      %s (seen %s)\n", status, seen);
    m2s_buf_printf(&b, "Reason:      %s\n", t->reason ? t->reason : "(none given)");
    if (t->source)
        m2s_buf_printf(&b, "Source:      %s\n", t->source);
    if (t->bird_id)
        m2s_buf_printf(&b, "Bird id:     %s\n", t->bird_id);
    m2s_buf_adds(&b, "\n");

    /* 2: for a program (RFC 3464) */
    m2s_buf_printf(&b, "--%s\nContent-Description: Delivery report\n"
                   "Content-Type: message/delivery-status\n\n", boundary);
    m2s_buf_printf(&b, "Reporting-MTA: dns; %s\n", host);
    m2s_buf_printf(&b, "Arrival-Date: %s\n\n", date);
    rfc5322_date(t->accepted, date);
    m2s_buf_printf(&b, "Final-Recipient: rfc822; %s\n", recipient);
    m2s_buf_printf(&b, "Action: failed\nStatus: %s\n", dsn);
    m2s_buf_printf(&b, "Diagnostic-Code: X-Bird; %s: %s%s%s%s\n", status, diag,
                   source ? " (" : "", source ? source : "", source ? ")" : "");
    m2s_buf_printf(&b, "Last-Attempt-Date: %s\n\n", date);

    /* 3: the mail's own headers */
    m2s_buf_printf(&b, "--%s\nContent-Description: Undelivered Message Headers\n"
                   "Content-Type: text/rfc822-headers\n\n", boundary);
    if (t->headers && *t->headers) {
        /* Line ends as the rest of the notice: sendmail makes them CRLF. */
        for (const char *p = t->headers; *p; p++)
            if (*p != '\r')
                m2s_buf_addc(&b, *p);
        if (b.data[b.len - 1] != '\n')
            m2s_buf_addc(&b, '\n');
    } else {
        m2s_buf_printf(&b, "Subject: %s\n", t->subject ? t->subject : "");
    }
    m2s_buf_printf(&b, "\n--%s--\n", boundary);
    free(recipient);
    free(diag);
    free(source);
    return m2s_buf_steal(&b);
}

int m2s_notify_send(const m2s_config *cfg, const char *rcpt, const char *msg, char **why)
{
    int in[2] = { -1, -1 };
    pid_t pid = -1;
    int ret = -1, status = 0;
    *why = NULL;
    if (pipe(in) < 0) {
        *why = xasprintf("cannot run %s: %s", cfg->track_sendmail, strerror(errno));
        goto out;
    }
    pid = fork();
    if (pid < 0) {
        *why = xasprintf("cannot run %s: %s", cfg->track_sendmail, strerror(errno));
        goto out;
    }
    if (pid == 0) {
        dup2(in[0], STDIN_FILENO);
        close(in[0]);
        close(in[1]);
        signal(SIGPIPE, SIG_DFL);
        /* -f "": the null envelope sender, so a notice never bounces back. */
        execl(cfg->track_sendmail, "sendmail", "-i", "-f", "", "--", rcpt, (char *)NULL);
        _exit(127);
    }
    close(in[0]);
    in[0] = -1;
    if (m2s_write_all(in[1], msg, strlen(msg)) != 0) {
        *why = xasprintf("%s did not take the notice: %s", cfg->track_sendmail,
                         strerror(errno));
    }
    close(in[1]);
    in[1] = -1;
    while (waitpid(pid, &status, 0) < 0) {
        if (errno != EINTR) {
            free(*why);
            *why = xasprintf("%s: %s", cfg->track_sendmail, strerror(errno));
            goto out;
        }
    }
    if (*why)
        goto out;
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        *why = WIFEXITED(status)
            ? xasprintf("%s exited with %d", cfg->track_sendmail, WEXITSTATUS(status))
            : xasprintf("%s was killed by signal %d", cfg->track_sendmail, WTERMSIG(status));
        goto out;
    }
    ret = 0;
out:
    if (in[0] >= 0)
        close(in[0]);
    if (in[1] >= 0)
        close(in[1]);
    return ret;
}
