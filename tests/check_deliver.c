/* check_deliver.c - the sending stage with a scripted transport: Bird's
 * answers are set per number, each request is recorded, and the journal
 * is a real state in a temporary directory. Claims and their give-back,
 * partial failure, storm limits that defer or drop, suppressed counts,
 * the outcome that wins, per-recipient outcomes and the media notes. */
#include "build-config.h"

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bird.h"
#include "compose.h"
#include "config.h"
#include "deliver.h"
#include "route.h"
#include "state.h"
#include "transport.h"
#include "unit.h"
#include "util.h"

/* The SQLite store in dir. */
static m2s_state *open_sqlite(const char *dir, char **why)
{
    m2s_state_where w = { M2S_BACKEND_SQLITE, dir, NULL, NULL };
    return m2s_state_open(&w, why);
}

/* ------------------------------------------------ scripted transport */

typedef struct rule {
    const char *number;         /* the request's label */
    long status;                /* HTTP status, or 0 with err */
    const char *body;
    m2s_http_err err;
} rule;

typedef struct script {
    m2s_transport base;
    rule rules[8];
    size_t n_rules;
    m2s_strv numbers;           /* every request's label, in order */
    m2s_strv bodies;            /* and its body */
} script;

static void script_run(m2s_transport *t, m2s_http_req **reqs, size_t n, double deadline_at,
                       m2s_transport_stats *stats)
{
    script *s = (script *)t;
    (void)deadline_at;
    for (size_t i = 0; i < n; i++) {
        m2s_http_req *r = reqs[i];
        const rule *hit = NULL;
        ck_assert_int_eq(r->call, M2S_BIRD_SEND);
        ck_assert_ptr_nonnull(r->label);
        m2s_strv_add(&s->numbers, r->label);
        m2s_strv_add(&s->bodies, r->body ? r->body : "");
        for (size_t k = 0; k < s->n_rules; k++)
            if (strcmp(s->rules[k].number, r->label) == 0)
                hit = &s->rules[k];
        m2s_http_req_clear(r);
        r->attempts = 1;
        if (hit && hit->status == 0) {
            r->err = hit->err;
            r->err_text = xstrdup("scripted network error");
        } else {
            r->status = hit ? hit->status : 202;
            r->resp = hit ? xstrdup(hit->body ? hit->body : "")
                          : xasprintf("{\"id\":\"id-%s\",\"status\":\"accepted\"}", r->label);
            r->resp_len = strlen(r->resp);
        }
        stats->requests++;
        if (r->done)
            r->done(r, r->user);
    }
}

static void script_free(m2s_transport *t)
{
    script *s = (script *)t;
    m2s_strv_clear(&s->numbers);
    m2s_strv_clear(&s->bodies);
    free(s);
}

static script *script_new(void)
{
    script *s = xcalloc(1, sizeof *s);
    s->base.run = script_run;
    s->base.free = script_free;
    return s;
}

static void script_answer(script *s, const char *number, long status, const char *body)
{
    s->rules[s->n_rules++] = (rule){ number, status, body, M2S_HTTP_OK };
}

static void script_fail(script *s, const char *number, m2s_http_err err)
{
    s->rules[s->n_rules++] = (rule){ number, 0, NULL, err };
}

static void script_reset(script *s)
{
    s->n_rules = 0;
    m2s_strv_clear(&s->numbers);
    m2s_strv_clear(&s->bodies);
}

/* -------------------------------------------------------------- world */

#define NUM_A "+31612345671"
#define NUM_B "+31612345672"
#define NUM_C "+15550100123"

static char tmpdir[64];

static void setup(void)
{
    strcpy(tmpdir, "/tmp/check_deliver.XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(tmpdir));
}

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb, (void)flag, (void)ftw;
    return remove(path);
}

static void teardown(void)
{
    nftw(tmpdir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* One test's configuration, journal, transport and Bird client. */
typedef struct world {
    m2s_config *cfg;
    m2s_state *state;
    script *tr;
    m2s_bird *bird;
} world;

static void world_open(world *w, const char *extra)
{
    char *text = xasprintf(
        "bird = { workspace_id = \"ws\"; channel_id = \"ch\"; access_key = \"k\"; };\n"
        "recipients = { aliases = { oncall = [ \"" NUM_A "\", \"" NUM_B "\" ]; }; };\n%s",
        extra ? extra : "");
    m2s_strv p = { 0 };
    char *why = NULL;
    w->cfg = m2s_config_load_string(text, "deliver.conf", &p);
    ck_assert_msg(w->cfg != NULL, "test configuration refused: %s", p.n ? p.v[0] : "?");
    char *dir = xasprintf("%s/state", tmpdir);
    w->state = open_sqlite(dir, &why);
    ck_assert_msg(w->state != NULL, "state: %s", why ? why : "?");
    w->tr = script_new();
    w->bird = m2s_bird_new(w->cfg, &w->tr->base);
    free(dir);
    m2s_strv_clear(&p);
    free(text);
}

/* The next run is another process: a new journal handle, a new owner of
 * claims. */
static void world_next_run(world *w)
{
    char *dir = xasprintf("%s/state", tmpdir), *why = NULL;
    m2s_state_close(w->state);
    w->state = open_sqlite(dir, &why);
    ck_assert_msg(w->state != NULL, "state: %s", why ? why : "?");
    script_reset(w->tr);
    free(dir);
}

static void world_close(world *w)
{
    m2s_bird_free(w->bird);
    m2s_transport_free(&w->tr->base);
    m2s_state_close(w->state);
    m2s_config_free(w->cfg);
}

static m2s_message *message(const char *key, const char *body)
{
    m2s_message *msg = xcalloc(1, sizeof *msg);
    msg->subject = xstrdup("DISK CRITICAL");
    msg->body = xstrdup(body);
    msg->from_addr = xstrdup("nagios@monitoring.example.com");
    msg->from_name = xstrdup("Nagios");
    msg->reference = xstrdup(key);
    msg->key = xasprintf("mid:%s", key);
    return msg;
}

/* Deliver msg to the recipients (NULL-terminated) and return the result. */
static void deliver(world *w, const m2s_message *msg, const m2s_media_set *media,
                    const char *const *rcpts, m2s_result *res)
{
    size_t n = 0;
    while (rcpts[n])
        n++;
    m2s_routes routes = { 0 };
    m2s_route(w->cfg, (char *const *)rcpts, n, &routes);
    m2s_result_init(res, n);
    m2s_deliver_opts opts = { .sender = "nagios@monitoring.example.com",
                              .deadline_at = m2s_now() + 60 };
    m2s_deliver(w->cfg, &opts, msg, &routes, media, w->state, w->bird, res);
    m2s_routes_clear(&routes);
}

static bool is_sent(world *w, const m2s_message *msg, const char *number)
{
    bool sent = false;
    ck_assert_int_eq(m2s_state_is_sent(w->state, msg->key, number, &sent), 0);
    return sent;
}

static char *line_of(const m2s_status *st)
{
    return m2s_status_line(st);
}

static const char *const oncall[] = { "oncall@sms.example.com", NULL };

/* -------------------------------------------------------------- tests */

START_TEST(all_accepted_then_already_sent)
{
    world w;
    m2s_result res;
    world_open(&w, NULL);
    m2s_message *msg = message("m1@example.com", "/var is 97% full");
    deliver(&w, msg, NULL, oncall, &res);
    ck_assert_int_eq(res.mail.cls, M2S_OK);
    ck_assert_ptr_null(res.mail.why);
    ck_assert_uint_eq(w.tr->numbers.n, 2);
    ck_assert_str_eq(w.tr->numbers.v[0], NUM_A);
    ck_assert_str_eq(w.tr->numbers.v[1], NUM_B);
    ck_assert(strstr(w.tr->bodies.v[0], "DISK CRITICAL: /var is 97% full") != NULL);
    ck_assert(is_sent(&w, msg, NUM_A));
    ck_assert(is_sent(&w, msg, NUM_B));
    ck_assert_uint_eq(res.n_rcpt, 1);
    ck_assert_int_eq(res.rcpt[0].cls, M2S_OK);
    m2s_result_clear(&res);

    /* The same mail again: the journal holds both, nothing is sent. */
    world_next_run(&w);
    deliver(&w, msg, NULL, oncall, &res);
    ck_assert_int_eq(res.mail.cls, M2S_OK);
    ck_assert_uint_eq(w.tr->numbers.n, 0);
    m2s_result_clear(&res);
    m2s_message_free(msg);
    world_close(&w);
}
END_TEST

START_TEST(partial_failure_retry_sends_the_rest)
{
    world w;
    m2s_result res;
    world_open(&w, NULL);
    m2s_message *msg = message("m2@example.com", "load 42");
    script_answer(w.tr, NUM_B, 503, "{\"code\":\"unavailable\",\"message\":\"try later\"}");
    deliver(&w, msg, NULL, oncall, &res);
    ck_assert_int_eq(res.mail.cls, M2S_E_API_TEMP);
    char *line = line_of(&res.mail);
    ck_assert_msg(strncmp(line, "4.4.0 Bird API busy for " NUM_B " (HTTP 503", 38) == 0, "%s",
                  line);
    ck_assert_msg(strstr(line, "unavailable: try later") != NULL, "%s", line);
    ck_assert_msg(strstr(line, "(1 of 2 numbers done; they will not get it again)") != NULL,
                  "%s", line);
    free(line);
    ck_assert(is_sent(&w, msg, NUM_A));
    ck_assert(!is_sent(&w, msg, NUM_B));
    m2s_result_clear(&res);

    /* The claim on B was given back: a retry sends B alone. */
    world_next_run(&w);
    deliver(&w, msg, NULL, oncall, &res);
    ck_assert_int_eq(res.mail.cls, M2S_OK);
    ck_assert_uint_eq(w.tr->numbers.n, 1);
    ck_assert_str_eq(w.tr->numbers.v[0], NUM_B);
    ck_assert(is_sent(&w, msg, NUM_B));
    m2s_result_clear(&res);
    m2s_message_free(msg);
    world_close(&w);
}
END_TEST

START_TEST(worst_outcome_wins)
{
    world w;
    m2s_result res;
    world_open(&w, NULL);
    /* A permanent refusal alone bounces the mail ... */
    m2s_message *msg = message("m3@example.com", "x");
    script_answer(w.tr, NUM_A, 422, "{\"code\":\"invalid\",\"message\":\"bad text\"}");
    deliver(&w, msg, NULL, oncall, &res);
    ck_assert_int_eq(res.mail.cls, M2S_E_CONTENT);
    char *line = line_of(&res.mail);
    ck_assert_msg(strncmp(line, "5.6.0 Bird API rejected the message for " NUM_A, 52) == 0,
                  "%s", line);
    free(line);
    m2s_result_clear(&res);
    m2s_message_free(msg);

    /* ... but any temporary failure beats it: the mail is retried, and
     * its line names only the temporary reasons, with the finer code. */
    script_reset(w.tr);
    msg = message("m4@example.com", "y");
    script_answer(w.tr, NUM_A, 422, "{\"code\":\"invalid\",\"message\":\"bad text\"}");
    script_fail(w.tr, NUM_B, M2S_HTTP_TIMEOUT);
    deliver(&w, msg, NULL, oncall, &res);
    ck_assert_int_eq(res.mail.cls, M2S_E_NETWORK);
    line = line_of(&res.mail);
    ck_assert_msg(strncmp(line, "4.4.2 Bird API unreachable for " NUM_B, 43) == 0, "%s", line);
    ck_assert_msg(strstr(line, "rejected") == NULL, "%s", line);
    free(line);
    m2s_result_clear(&res);
    m2s_message_free(msg);
    world_close(&w);
}
END_TEST

START_TEST(per_recipient_outcomes)
{
    world w;
    m2s_result res;
    world_open(&w, NULL);
    m2s_message *msg = message("m5@example.com", "z");
    const char *const rcpts[] = { "oncall@sms.example.com", NUM_C "@sms.example.com",
                                  "nobody@sms.example.com", NULL };
    script_answer(w.tr, NUM_B, 500, NULL);
    deliver(&w, msg, NULL, rcpts, &res);
    ck_assert_uint_eq(res.n_rcpt, 3);
    ck_assert_int_eq(res.mail.cls, M2S_E_API_TEMP);
    ck_assert_int_eq(res.rcpt[0].cls, M2S_E_API_TEMP);     /* B of the alias failed */
    ck_assert_ptr_nonnull(strstr(res.rcpt[0].why, NUM_B));
    ck_assert_int_eq(res.rcpt[1].cls, M2S_OK);
    ck_assert_int_eq(res.rcpt[2].cls, M2S_E_UNKNOWN_RCPT);
    ck_assert_str_eq(res.rcpt[2].why, "unknown recipient \"nobody\"");
    m2s_result_clear(&res);
    m2s_message_free(msg);
    world_close(&w);
}
END_TEST

START_TEST(busy_claim_defers)
{
    world w;
    m2s_result res;
    world_open(&w, NULL);
    m2s_message *msg = message("m6@example.com", "z");
    /* Another process holds A for this mail. */
    char *dir = xasprintf("%s/state", tmpdir), *why = NULL;
    m2s_state *other = open_sqlite(dir, &why);
    ck_assert_ptr_nonnull(other);
    ck_assert_int_eq(m2s_state_claim(other, msg->key, NUM_A, 300), M2S_CLAIM_OK);
    m2s_state_close(other);
    free(dir);
    deliver(&w, msg, NULL, oncall, &res);
    ck_assert_int_eq(res.mail.cls, M2S_E_STATE);
    ck_assert_ptr_nonnull(strstr(res.mail.why, "another mail2sms is sending this mail to " NUM_A));
    ck_assert_uint_eq(w.tr->numbers.n, 1);                  /* B went */
    ck_assert_str_eq(w.tr->numbers.v[0], NUM_B);
    m2s_result_clear(&res);
    m2s_message_free(msg);
    world_close(&w);
}
END_TEST

START_TEST(storm_limit_defers_and_gives_back)
{
    world w;
    m2s_result res;
    world_open(&w, "limits = { per_number_per_hour = 1; };\n");
    const char *const one[] = { NUM_A "@sms.example.com", NULL };

    /* A failed send does not use up the hour's budget ... */
    m2s_message *m1 = message("s1@example.com", "first");
    script_answer(w.tr, NUM_A, 503, NULL);
    deliver(&w, m1, NULL, one, &res);
    ck_assert_int_eq(res.mail.cls, M2S_E_API_TEMP);
    m2s_result_clear(&res);
    world_next_run(&w);
    deliver(&w, m1, NULL, one, &res);
    ck_assert_int_eq(res.mail.cls, M2S_OK);
    m2s_result_clear(&res);

    /* ... a sent one does: the next mail waits, and nothing is sent. */
    script_reset(w.tr);
    m2s_message *m2 = message("s2@example.com", "second");
    deliver(&w, m2, NULL, one, &res);
    ck_assert_int_eq(res.mail.cls, M2S_E_RATE_DEFER);
    char *line = line_of(&res.mail);
    ck_assert_str_eq(line, "4.7.0 limits.per_number_per_hour (1) reached for " NUM_A
                           "; try later");
    free(line);
    ck_assert_uint_eq(w.tr->numbers.n, 0);
    ck_assert(!is_sent(&w, m2, NUM_A));
    m2s_result_clear(&res);
    m2s_message_free(m2);
    m2s_message_free(m1);
    world_close(&w);
}
END_TEST

START_TEST(storm_limit_drops_and_counts_suppressed)
{
    world w;
    m2s_result res;
    world_open(&w, "limits = { per_number_per_hour = 1; on_exceed = \"drop\"; };\n");
    const char *const one[] = { NUM_A "@sms.example.com", NULL };
    m2s_message *m1 = message("d1@example.com", "first");
    m2s_message *m2 = message("d2@example.com", "second");
    m2s_message *m3 = message("d3@example.com", "third");
    deliver(&w, m1, NULL, one, &res);
    ck_assert_int_eq(res.mail.cls, M2S_OK);
    m2s_result_clear(&res);

    /* Over the limit: dropped (exit 0), nothing sent, and the journal
     * holds it so a retry does not come back. */
    script_reset(w.tr);
    deliver(&w, m2, NULL, one, &res);
    ck_assert_int_eq(res.mail.cls, M2S_DROPPED);
    ck_assert_uint_eq(w.tr->numbers.n, 0);
    ck_assert(is_sent(&w, m2, NUM_A));
    m2s_result_clear(&res);

    /* With room again, the next SMS says what was suppressed; when it
     * fails, the count goes back and the retry says it again. */
    w.cfg->per_number_per_hour = 10;
    script_reset(w.tr);
    script_answer(w.tr, NUM_A, 502, NULL);
    deliver(&w, m3, NULL, one, &res);
    ck_assert_int_eq(res.mail.cls, M2S_E_API_TEMP);
    ck_assert_uint_eq(w.tr->bodies.n, 1);
    ck_assert_msg(strstr(w.tr->bodies.v[0], "(+1 suppressed) DISK CRITICAL: third") != NULL,
                  "%s", w.tr->bodies.v[0]);
    m2s_result_clear(&res);
    world_next_run(&w);
    deliver(&w, m3, NULL, one, &res);
    ck_assert_int_eq(res.mail.cls, M2S_OK);
    ck_assert_msg(strstr(w.tr->bodies.v[0], "(+1 suppressed) DISK CRITICAL: third") != NULL,
                  "%s", w.tr->bodies.v[0]);
    m2s_result_clear(&res);

    /* Said once: the count is gone after a sent message. */
    m2s_message *m4 = message("d4@example.com", "fourth");
    script_reset(w.tr);
    deliver(&w, m4, NULL, one, &res);
    ck_assert_int_eq(res.mail.cls, M2S_OK);
    ck_assert(strstr(w.tr->bodies.v[0], "suppressed") == NULL);
    m2s_result_clear(&res);
    m2s_message_free(m4);
    m2s_message_free(m3);
    m2s_message_free(m2);
    m2s_message_free(m1);
    world_close(&w);
}
END_TEST

START_TEST(unreadable_accept_counts_as_sent)
{
    world w;
    m2s_result res;
    world_open(&w, NULL);
    m2s_message *msg = message("u1@example.com", "z");
    const char *const one[] = { NUM_A "@sms.example.com", NULL };
    script_answer(w.tr, NUM_A, 202, "not json");
    deliver(&w, msg, NULL, one, &res);
    ck_assert_int_eq(res.mail.cls, M2S_OK);
    ck_assert(is_sent(&w, msg, NUM_A));
    m2s_result_clear(&res);
    m2s_message_free(msg);
    world_close(&w);
}
END_TEST

START_TEST(auth_refusal_names_the_key_setting)
{
    world w;
    m2s_result res;
    world_open(&w, NULL);
    m2s_message *msg = message("a1@example.com", "z");
    const char *const one[] = { NUM_A "@sms.example.com", NULL };
    script_answer(w.tr, NUM_A, 401, "{\"code\":\"unauthorized\",\"message\":\"no\"}");
    deliver(&w, msg, NULL, one, &res);
    ck_assert_int_eq(res.mail.cls, M2S_E_API_AUTH);
    char *line = line_of(&res.mail);
    ck_assert_msg(strstr(line, "4.3.5 Bird API refused the credentials or ids (HTTP 401)") == line,
                  "%s", line);
    ck_assert_msg(strstr(line, "(check bird.access_key, workspace_id") != NULL, "%s", line);
    free(line);
    ck_assert(!is_sent(&w, msg, NUM_A));
    m2s_result_clear(&res);
    m2s_message_free(msg);
    world_close(&w);
}
END_TEST

/* A set of one image, already stored at url. */
static void one_image(m2s_media_set *set, m2s_attachment *att, const char *url)
{
    memset(att, 0, sizeof *att);
    att->filename = (char *)"graph.png";
    att->content_type = (char *)"image/png";
    att->len = 10;
    memset(set, 0, sizeof *set);
    set->items = xcalloc(1, sizeof *set->items);
    set->items[0].att = att;
    set->items[0].url = xstrdup(url);
    set->items[0].is_image = true;
    set->n = 1;
    set->all_images = true;
}

START_TEST(media_notes_and_links)
{
    world w;
    m2s_result res;
    m2s_media_set set;
    m2s_attachment att;
    const char *const rcpts[] = { NUM_A "@sms.example.com", NUM_C "@sms.example.com", NULL };

    /* links (the default): a number without MMS gets the URL, a +1 number
     * the image itself. */
    world_open(&w, NULL);
    one_image(&set, &att, "https://media.example.com/1/graph.png");
    m2s_message *msg = message("l1@example.com", "graph attached");
    deliver(&w, msg, &set, rcpts, &res);
    ck_assert_int_eq(res.mail.cls, M2S_OK);
    ck_assert_uint_eq(w.tr->bodies.n, 2);
    ck_assert_msg(strstr(w.tr->bodies.v[0], "graph attached\\nhttps://media.example.com/1/"
                                            "graph.png\"") != NULL, "%s", w.tr->bodies.v[0]);
    ck_assert_msg(strstr(w.tr->bodies.v[1], "\"type\":\"image\"") != NULL, "%s",
                  w.tr->bodies.v[1]);
    ck_assert_msg(strstr(w.tr->bodies.v[1], "\"mediaUrl\":\"https://media.example.com/1/"
                                            "graph.png\"") != NULL, "%s", w.tr->bodies.v[1]);
    m2s_result_clear(&res);
    m2s_message_free(msg);
    m2s_media_set_clear(&set);
    world_close(&w);
    teardown();
    setup();

    /* drop: the note instead of the link. */
    world_open(&w, "media = { non_mms = \"drop\"; };\n");
    one_image(&set, &att, "https://media.example.com/1/graph.png");
    msg = message("l2@example.com", "graph attached");
    deliver(&w, msg, &set, rcpts, &res);
    ck_assert_int_eq(res.mail.cls, M2S_OK);
    ck_assert_msg(strstr(w.tr->bodies.v[0], "graph attached\\n[1 attachment not sent]\"") !=
                  NULL, "%s", w.tr->bodies.v[0]);
    m2s_result_clear(&res);
    m2s_message_free(msg);
    m2s_media_set_clear(&set);
    world_close(&w);
    teardown();
    setup();

    /* A link too long for message.max_parts: say so, the alert goes. */
    world_open(&w, "message = { max_parts = 1; };\n");
    char *url = xasprintf("https://media.example.com/%0300d/graph.png", 0);
    one_image(&set, &att, url);
    msg = message("l3@example.com", "graph attached");
    deliver(&w, msg, &set, rcpts, &res);
    ck_assert_int_eq(res.mail.cls, M2S_OK);
    ck_assert_msg(strstr(w.tr->bodies.v[0], "[1 attachment: links too long for SMS]") != NULL,
                  "%s", w.tr->bodies.v[0]);
    m2s_result_clear(&res);
    m2s_message_free(msg);
    m2s_media_set_clear(&set);
    free(url);
    world_close(&w);
}
END_TEST

static Suite *make_suite(void)
{
    Suite *s = suite_create("deliver");
    TCase *tc = tcase_create("core");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, all_accepted_then_already_sent);
    tcase_add_test(tc, partial_failure_retry_sends_the_rest);
    tcase_add_test(tc, worst_outcome_wins);
    tcase_add_test(tc, per_recipient_outcomes);
    tcase_add_test(tc, busy_claim_defers);
    tcase_add_test(tc, storm_limit_defers_and_gives_back);
    tcase_add_test(tc, storm_limit_drops_and_counts_suppressed);
    tcase_add_test(tc, unreadable_accept_counts_as_sent);
    tcase_add_test(tc, auth_refusal_names_the_key_setting);
    tcase_add_test(tc, media_notes_and_links);
    suite_add_tcase(s, tc);
    return s;
}
