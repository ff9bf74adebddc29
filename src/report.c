/* report.c - --status and --metrics: read the journal, print it.
 *
 * The JSON of --status is written here by hand (strings escaped as RFC
 * 8259 says): it is our own small shape, not Bird's, and needs no parser.
 */
#include "build-config.h"

#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <time.h>

#include "log.h"
#include "report.h"
#include "state.h"

static void when_text(double t, char out[32])
{
    time_t s = (time_t)t;
    struct tm tm;
    if (t <= 0 || !gmtime_r(&s, &tm) || !strftime(out, 32, "%Y-%m-%d %H:%M:%S UTC", &tm))
        snprintf(out, 32, "-");
}

static void iso8601(double t, char out[32])
{
    time_t s = (time_t)t;
    struct tm tm;
    if (t <= 0 || !gmtime_r(&s, &tm) || !strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm))
        out[0] = '\0';
}

static void json_str(FILE *out, const char *s)
{
    if (!s) {
        fputs("null", out);
        return;
    }
    fputc('"', out);
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p == '"' || *p == '\\')
            fprintf(out, "\\%c", *p);
        else if (*p < 0x20)
            fprintf(out, "\\u%04x", *p);
        else
            fputc(*p, out);
    }
    fputc('"', out);
}

static void json_field(FILE *out, const char *name, const char *value, bool first)
{
    fprintf(out, "%s\"%s\":", first ? "" : ",", name);
    json_str(out, value);
}

static m2s_state *open_store(const m2s_config *cfg)
{
    m2s_state_where where;
    char *why = NULL;
    m2s_state_where_of(cfg, cfg->state_dir, &where);
    m2s_state *st = m2s_state_open(&where, &why);
    if (!st) {
        m2s_log(LOG_ERR, "%s", why);
        fprintf(stderr, "mail2sms: %s\n", why);
    }
    free(why);
    return st;
}

static void print_json(FILE *out, const m2s_tracked *t)
{
    char acc[32], seen[32];
    iso8601(t->accepted, acc);
    iso8601(t->status_at, seen);
    fputc('{', out);
    json_field(out, "accepted", acc, true);
    json_field(out, "queue_id", t->queue_id, false);
    json_field(out, "message_id", t->message_id, false);
    json_field(out, "subject", t->subject, false);
    json_field(out, "sender", t->sender, false);
    json_field(out, "recipient", t->recipient, false);
    json_field(out, "alias", t->alias, false);
    json_field(out, "number", t->number, false);
    json_field(out, "bird_id", t->bird_id, false);
    json_field(out, "status", t->status, false);
    json_field(out, "status_at", seen, false);
    json_field(out, "reason", t->reason, false);
    json_field(out, "source", t->source, false);
    json_field(out, "outcome", t->outcome, false);
    fprintf(out, ",\"final\":%s,\"checks\":%ld,\"parts\":%d,\"fallback\":%s",
            t->outcome ? "true" : "false", t->checks, t->parts, t->fallback ? "true" : "false");
    json_field(out, "notice", t->notify, false);
    json_field(out, "fallback_sms", t->fallback_state, false);
    fputs("}\n", out);
}

static void print_line(FILE *out, const m2s_tracked *t)
{
    char acc[32], seen[32];
    when_text(t->accepted, acc);
    when_text(t->status_at, seen);
    fprintf(out, "%s  %s  to=<%s>  number=%s  id=%s  status=%s%s (seen %s)", acc,
            t->queue_id ? t->queue_id : "-", t->recipient ? t->recipient : "", t->number,
            t->bird_id ? t->bird_id : "-", t->outcome ? t->outcome : t->status,
            t->outcome ? "" : ", followed", seen);
    if (t->reason)
        fprintf(out, "  reason=%s", t->reason);
    if (t->source)
        fprintf(out, " (%s)", t->source);
    if (t->notify)
        fprintf(out, "  notice=%s", t->notify);
    if (t->fallback_state)
        fprintf(out, "  fallback=%s", t->fallback_state);
    if (t->fallback)
        fputs("  (a fallback SMS)", out);
    fprintf(out, "  subject=%s\n", t->subject ? t->subject : "");
}

int m2s_report_status(const m2s_config *cfg, const char *query, bool json, FILE *out)
{
    m2s_tracked *v = NULL;
    size_t n = 0;
    int rc = EX_TEMPFAIL;
    m2s_state *st = open_store(cfg);
    if (!st)
        goto out;
    if (m2s_state_track_find(st, query, &v, &n) != 0) {
        fprintf(stderr, "mail2sms: the journal cannot be read\n");
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        if (json)
            print_json(out, &v[i]);
        else
            print_line(out, &v[i]);
    }
    if (n == 0 && !json)
        fprintf(stderr, "mail2sms: no SMS in the journal for \"%s\"\n", query);
    rc = n > 0 ? EX_OK : 1;
out:
    m2s_tracked_free(v, n);
    m2s_state_close(st);
    return rc;
}

/* ------------------------------------------------------------ metrics */

typedef struct family {
    const char *prefix;         /* counter names "prefix:label" */
    const char *metric;
    const char *help;
    const char *label;          /* one label, or two "outcome,class" */
    const char *const *known;   /* label values always printed, NULL-ended */
} family;

static const char *const finals[] = { "delivered", "delivery_failed", "sending_failed",
                                      "rejected", "deleted", "skipped", "no_report",
                                      "expired", "unknown", NULL };
static const char *const results[] = { "sent", "failed", NULL };
static const char *const none[] = { NULL };

static const family families[] = {
    { "final", "mail2sms_sms_final_total",
      "SMS followed to a final state, by that state.", "status", finals },
    { "deferred", "mail2sms_sms_deferred_total",
      "Numbers the pipe deferred, by enhanced status code.", "class", none },
    { "bounced", "mail2sms_sms_bounced_total",
      "Numbers the pipe bounced, by enhanced status code.", "class", none },
    { "dropped", "mail2sms_sms_dropped_total",
      "Numbers the pipe dropped, by reason.", "reason", none },
    { "notices", "mail2sms_notices_total",
      "Delivery status notifications of failed SMS, by result.", "result", results },
    { "fallbacks", "mail2sms_fallbacks_total",
      "Fallback SMS of failed SMS, by result.", "result", results },
};

static long long counter_of(const m2s_counter *c, size_t n, const char *prefix,
                            const char *label)
{
    for (size_t i = 0; i < n; i++) {
        size_t pl = strlen(prefix);
        if (strncmp(c[i].name, prefix, pl) == 0 && c[i].name[pl] == ':' &&
            strcmp(c[i].name + pl + 1, label) == 0)
            return c[i].n;
    }
    return 0;
}

/* A label value as the exposition format wants it: \\, \" and \n escaped. */
static void label_value(FILE *out, const char *s)
{
    for (; *s; s++) {
        if (*s == '\\' || *s == '"')
            fprintf(out, "\\%c", *s);
        else if (*s == '\n')
            fputs("\\n", out);
        else
            fputc(*s, out);
    }
}

int m2s_report_metrics(const m2s_config *cfg, FILE *out)
{
    m2s_counter *c = NULL;
    size_t n = 0;
    long followed = 0;
    double oldest = 0;
    int rc = EX_TEMPFAIL;
    m2s_state *st = open_store(cfg);
    if (!st)
        goto out;
    if (m2s_state_metrics(st, &c, &n, &followed, &oldest) != 0) {
        fprintf(stderr, "mail2sms: the journal cannot be read\n");
        goto out;
    }
    for (size_t f = 0; f < sizeof families / sizeof families[0]; f++) {
        const family *fm = &families[f];
        size_t pl = strlen(fm->prefix);
        fprintf(out, "# HELP %s %s\n# TYPE %s counter\n", fm->metric, fm->help, fm->metric);
        for (const char *const *k = fm->known; *k; k++)
            fprintf(out, "%s{%s=\"%s\"} %lld\n", fm->metric, fm->label, *k,
                    counter_of(c, n, fm->prefix, *k));
        for (size_t i = 0; i < n; i++) {
            if (strncmp(c[i].name, fm->prefix, pl) != 0 || c[i].name[pl] != ':')
                continue;
            const char *lv = c[i].name + pl + 1;
            bool known = false;
            for (const char *const *k = fm->known; *k; k++)
                known = known || strcmp(*k, lv) == 0;
            if (known)
                continue;
            fprintf(out, "%s{%s=\"", fm->metric, fm->label);
            label_value(out, lv);
            fprintf(out, "\"} %lld\n", c[i].n);
        }
    }
    fprintf(out, "# HELP mail2sms_tracking_passes_total Tracking passes completed.\n"
            "# TYPE mail2sms_tracking_passes_total counter\n"
            "mail2sms_tracking_passes_total %lld\n", counter_of(c, n, "tracking", "passes"));
    fprintf(out, "# HELP mail2sms_sms_tracked SMS still followed (not yet final).\n"
            "# TYPE mail2sms_sms_tracked gauge\nmail2sms_sms_tracked %ld\n", followed);
    double age = oldest > 0 ? (double)time(NULL) - oldest : 0;
    fprintf(out, "# HELP mail2sms_sms_tracked_oldest_age_seconds Age of the oldest SMS "
            "still followed (0: none).\n"
            "# TYPE mail2sms_sms_tracked_oldest_age_seconds gauge\n"
            "mail2sms_sms_tracked_oldest_age_seconds %.0f\n", age < 0 ? 0 : age);
    rc = EX_OK;
out:
    m2s_counters_free(c, n);
    m2s_state_close(st);
    return rc;
}
