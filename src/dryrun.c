/* dryrun.c - a transport that prints instead of sending, and answers as
 * Bird would; and the stand-in store for media.directory.
 *
 * The printed lines are the contract of mail2sms -n (mail2sms(8)): one
 * JSON object per request to Bird's API, in the order they would go. A
 * presigned upload's stand-in media URL is https://dry-run.invalid/N/NAME,
 * N the item's place among the mail's media (1-based: its place in the
 * batch of presign requests), NAME its file name percent-encoded.
 */
#include "build-config.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "bird.h"
#include "dryrun.h"
#include "payload.h"

typedef struct dryrun {
    m2s_transport base;         /* first: the transport this is */
    FILE *out;
    unsigned long sent;         /* messages answered, for their stand-in ids */
} dryrun;

/* https://dry-run.invalid/N/NAME, NAME with RFC 3986 percent-encoding of
 * everything but the unreserved characters. New string. */
static char *standin_url(size_t n, const char *name)
{
    static const char hex[] = "0123456789ABCDEF";
    m2s_buf b;
    m2s_buf_init(&b);
    m2s_buf_printf(&b, "https://dry-run.invalid/%zu/", n);
    for (const unsigned char *p = (const unsigned char *)(name ? name : ""); *p; p++) {
        if (isalnum(*p) || *p == '-' || *p == '.' || *p == '_' || *p == '~') {
            m2s_buf_addc(&b, (char)*p);
        } else {
            m2s_buf_addc(&b, '%');
            m2s_buf_addc(&b, hex[*p >> 4]);
            m2s_buf_addc(&b, hex[*p & 15]);
        }
    }
    return m2s_buf_steal(&b);
}

static void answer(m2s_http_req *r, long status, char *body)
{
    m2s_http_req_clear(r);
    r->status = status;
    r->resp = body;
    r->resp_len = strlen(body);
    r->attempts = 1;
}

static void dryrun_run(m2s_transport *t, m2s_http_req **reqs, size_t n, double deadline_at,
                       m2s_transport_stats *stats)
{
    dryrun *d = (dryrun *)t;
    size_t presigns = 0;
    (void)deadline_at;
    for (size_t i = 0; i < n; i++) {
        m2s_http_req *r = reqs[i];
        if (r->call == M2S_BIRD_UPLOAD) {
            /* Its URL is a stand-in: nothing to show. */
            answer(r, 204, xstrdup(""));
        } else {
            char *line = m2s_payload_dry_run_line(r->method ? r->method : "POST", r->url,
                                                  r->body);
            fprintf(d->out, "%s\n", line);
            free(line);
            if (r->call == M2S_BIRD_PRESIGN) {
                char *url = standin_url(++presigns, r->label);
                answer(r, 200, xasprintf("{\"mediaUrl\":\"%s\",\"uploadUrl\":"
                                         "\"https://dry-run.invalid/upload\","
                                         "\"uploadMethod\":\"POST\"}", url));
                free(url);
            } else {
                answer(r, 202, xasprintf("{\"id\":\"dry-run-%lu\",\"status\":\"accepted\"}",
                                         ++d->sent));
            }
        }
        stats->requests++;
        if (r->done)
            r->done(r, r->user);
    }
    fflush(d->out);
}

static void dryrun_free(m2s_transport *t)
{
    free(t);
}

m2s_transport *m2s_dryrun_new(FILE *out)
{
    dryrun *d = xcalloc(1, sizeof *d);
    d->base.run = dryrun_run;
    d->base.free = dryrun_free;
    d->out = out;
    return &d->base;
}

/* media.directory in a dry run: stand-in URLs, nothing written. */
static m2s_class store_standin(const m2s_config *cfg, m2s_bird *bird, double deadline_at,
                               m2s_media_set *set, m2s_status *st)
{
    (void)cfg, (void)bird, (void)deadline_at, (void)st;
    for (size_t i = 0; i < set->n; i++) {
        free(set->items[i].url);
        set->items[i].url = standin_url(i + 1, set->items[i].att->filename);
    }
    return M2S_OK;
}

static const m2s_media_backend standin = { "dry run", store_standin };

const m2s_media_backend *m2s_dryrun_media(const m2s_config *cfg)
{
    return cfg->media_store == M2S_STORE_DIRECTORY ? &standin : &m2s_media_bird;
}
