/* check_config.c - loading and validating the configuration: the example
 * of mail2sms.conf(5), defaults, problem lines "NAME:LINE: ..." for syntax,
 * unknown keys, types, ranges and meanings, the access key's file and its
 * secrecy, aliases in both forms, and the key table. */
#include "build-config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "unit.h"
#include "bird.h"
#include "config.h"
#include "rules.h"
#include "util.h"

/* ------------------------------------------------------------ helpers */

#define NAME "test.conf"

/* The least a usable configuration needs (every other key has a default). */
#define MINIMAL \
    "bird = { workspace_id = \"ws-1\"; channel_id = \"ch_1\"; access_key = \"k3yK3y\"; };\n"

static m2s_config *load(const char *text, m2s_strv *problems)
{
    memset(problems, 0, sizeof *problems);
    return m2s_config_load_string(text, NAME, problems);
}

static char *joined(const m2s_strv *p)
{
    m2s_buf b;
    m2s_buf_init(&b);
    for (size_t i = 0; i < p->n; i++)
        m2s_buf_printf(&b, "  [%s]\n", p->v[i]);
    return m2s_buf_steal(&b);
}

/* The index of the first problem line holding every one of the
 * NULL-terminated substrings, or -1. */
static int find_problem(const m2s_strv *p, ...)
{
    for (size_t i = 0; i < p->n; i++) {
        va_list ap;
        va_start(ap, p);
        bool all = true;
        for (const char *s; (s = va_arg(ap, const char *)) != NULL;)
            if (!strstr(p->v[i], s))
                all = false;
        va_end(ap);
        if (all)
            return (int)i;
    }
    return -1;
}

/* Assert the text is refused with a problem that holds all the given
 * strings (the first usually being "NAME:LINE:"). */
#define REFUSED(text, ...) do { \
        m2s_strv p_; \
        m2s_config *c_ = load((text), &p_); \
        char *all_ = joined(&p_); \
        ck_assert_msg(c_ == NULL, "accepted:\n%s", (text)); \
        ck_assert_msg(find_problem(&p_, __VA_ARGS__, NULL) >= 0, \
                      "no problem line with the expected words; got:\n%s", all_); \
        free(all_); \
        m2s_strv_clear(&p_); \
    } while (0)

static m2s_config *load_ok(const char *text)
{
    m2s_strv p;
    m2s_config *c = load(text, &p);
    char *all = joined(&p);
    ck_assert_msg(c != NULL, "refused:\n%s\nproblems:\n%s", text, all);
    ck_assert_uint_eq(p.n, 0);
    free(all);
    m2s_strv_clear(&p);
    return c;
}

/* A private directory for files with particular modes. */
static char tmpdir[64];

static void tmp_setup(void)
{
    strcpy(tmpdir, "/tmp/m2s-check-config-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(tmpdir));
}

static char *tmp_file(const char *name, const char *content, mode_t mode)
{
    char *path = xasprintf("%s/%s", tmpdir, name);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(write(fd, content, strlen(content)), (ssize_t)strlen(content));
    ck_assert_int_eq(fchmod(fd, mode), 0);      /* not subject to the umask */
    close(fd);
    return path;
}

static void tmp_teardown(void)
{
    static const char *const names[] = { "key", "key640", "key644", "conf", "conf644",
                                         "conf600", "confkf" };
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        char *p = xasprintf("%s/%s", tmpdir, names[i]);
        unlink(p);
        free(p);
    }
    rmdir(tmpdir);
}

/* ------------------------------------------------ the contract example */

/* the original contract's example (the first release's configuration), with the key file made real. */
static char *example_config(const char *key_file)
{
    return xasprintf(
        "bird = {\n"
        "  api_url = \"https://api.bird.com\";\n"
        "  workspace_id = \"2f6a1c3e-ws\";  channel_id = \"9b8c7d6e-ch\";\n"
        "  access_key_file = \"%s\";   # owner-only; or access_key = \"...\"\n"
        "  timeout = 20;                                    # seconds per HTTP request\n"
        "};\n"
        "recipients = {\n"
        "  default_country = \"31\";\n"
        "  allowed_prefixes = [ \"+31\", \"+32\" ];\n"
        "  aliases = { oncall = [ \"+31612345678\", \"+31687654321\" ]; };\n"
        "};\n"
        "senders = { allowed = [ \"*@monitoring.example.com\" ]; };   # unset = anyone\n"
        "message = { format = \"{subject}: {body}\"; max_parts = 3; };\n"
        "media   = { store = \"bird\"; mms = \"auto\"; };\n"
        "limits  = { per_number_per_hour = 30; on_exceed = \"defer\"; };\n"
        "state_dir = \"/var/lib/mail2sms\";\n"
        "deadline = 120;\n", key_file);
}

START_TEST(test_example_config)
{
    tmp_setup();
    char *key = tmp_file("key", "  AbCdEf0123456789secret \n\n", 0600);
    char *text = example_config(key);
    m2s_config *c = load_ok(text);
    ck_assert_str_eq(c->api_url, "https://api.bird.com");
    ck_assert_str_eq(c->workspace_id, "2f6a1c3e-ws");
    ck_assert_str_eq(c->channel_id, "9b8c7d6e-ch");
    ck_assert_str_eq(c->access_key_file, key);
    ck_assert_str_eq(c->access_key, "AbCdEf0123456789secret");  /* white space trimmed */
    ck_assert_int_eq(c->timeout, 20);
    ck_assert_str_eq(c->default_country, "31");
    ck_assert_uint_eq(c->allowed_prefixes.n, 2);
    ck_assert_str_eq(c->allowed_prefixes.v[0], "+31");
    ck_assert_str_eq(c->allowed_prefixes.v[1], "+32");
    ck_assert_uint_eq(c->n_aliases, 1);
    ck_assert_str_eq(c->aliases[0].name, "oncall");
    ck_assert_uint_eq(c->aliases[0].numbers.n, 2);
    ck_assert_str_eq(c->aliases[0].numbers.v[0], "+31612345678");
    ck_assert_str_eq(c->aliases[0].numbers.v[1], "+31687654321");
    ck_assert_ptr_null(c->aliases[0].format);
    ck_assert_ptr_null(c->aliases[0].tmpl);
    ck_assert_uint_eq(c->senders_allowed.n, 1);
    ck_assert_str_eq(c->senders_allowed.v[0], "*@monitoring.example.com");
    ck_assert_str_eq(c->format, "{subject}: {body}");
    ck_assert_int_eq(c->max_parts, 3);
    ck_assert_int_eq(c->media_store, M2S_STORE_BIRD);
    ck_assert_int_eq(c->mms, M2S_MMS_AUTO);
    ck_assert_int_eq(c->per_number_per_hour, 30);
    ck_assert_int_eq(c->on_exceed, M2S_EXCEED_DEFER);
    ck_assert_str_eq(c->state_dir, "/var/lib/mail2sms");
    ck_assert_int_eq(c->deadline, 120);
    m2s_config_free(c);
    free(text);
    free(key);
    tmp_teardown();
}
END_TEST

/* The same file loaded from disk: problem-free, and the path recorded. */
START_TEST(test_example_config_file)
{
    tmp_setup();
    char *key = tmp_file("key", "FileKey42\n", 0600);
    char *text = example_config(key);
    /* with the key in its own file the configuration may be world-readable */
    char *conf = tmp_file("conf644", text, 0644);
    m2s_strv p = { 0 };
    m2s_config *c = m2s_config_load(conf, &p);
    char *all = joined(&p);
    ck_assert_msg(c != NULL, "refused:\n%s", all);
    ck_assert_str_eq(c->path, conf);
    ck_assert_str_eq(c->access_key, "FileKey42");
    m2s_config_free(c);
    free(all);
    m2s_strv_clear(&p);
    free(conf);
    free(text);
    free(key);
    tmp_teardown();
}
END_TEST

START_TEST(test_defaults)
{
    m2s_config *c = load_ok(MINIMAL);
    /* the first release's example */
    ck_assert_str_eq(c->api_url, "https://api.bird.com");
    ck_assert_int_eq(c->timeout, 20);
    ck_assert_int_eq(c->max_parts, 3);
    ck_assert_int_eq(c->deadline, 120);
    ck_assert_str_eq(c->format, "{subject}: {body}");
    ck_assert_int_eq(c->media_store, M2S_STORE_BIRD);
    ck_assert_int_eq(c->mms, M2S_MMS_AUTO);
    /* config.h */
    ck_assert_int_eq(c->connect_timeout, 10);
    ck_assert_int_eq(c->concurrency, 8);
    ck_assert(c->max_rate > 49.99 && c->max_rate < 50.01);
    ck_assert(c->strip_signature && c->strip_quotes && c->collapse_blank && c->transliterate);
    ck_assert_int_eq(c->validity, 0);
    ck_assert_ptr_null(c->tmpl);
    ck_assert_int_eq(c->max_message_bytes, 30 * 1024 * 1024);
    ck_assert_int_eq(c->max_mime_depth, 20);
    ck_assert_int_eq(c->max_mime_parts, 500);
    ck_assert_int_eq(c->retention_days, 30);
    ck_assert_ptr_nonnull(c->state_dir);
    ck_assert_int_eq(c->state_dir[0], '/');
    ck_assert_ptr_null(c->default_country);
    ck_assert_uint_eq(c->allowed_prefixes.n, 0);
    ck_assert_uint_eq(c->senders_allowed.n, 0);
    ck_assert_uint_eq(c->n_aliases, 0);
    ck_assert_ptr_null(c->sender_token);
    ck_assert_str_eq(c->access_key, "k3yK3y");
    m2s_config_free(c);
}
END_TEST

/* ------------------------------------------------------------ problems */

START_TEST(test_syntax_error_line)
{
    const char *text =
        "bird = {\n"
        "  workspace_id = \"ws\";\n"
        "  channel_id = \"ch\";\n"
        "  timeout = ;\n"
        "};\n";
    REFUSED(text, NAME ":4:");
    m2s_strv p;
    ck_assert_ptr_null(load(text, &p));
    ck_assert_uint_eq(p.n, 1);
    m2s_strv_clear(&p);

    /* an unterminated string a few lines further down */
    REFUSED(MINIMAL "\n\nmessage = { format = \"{subject};\n};\n", NAME ":");
}
END_TEST

START_TEST(test_syntax_error_file)
{
    tmp_setup();
    char *conf = tmp_file("conf", MINIMAL "state_dir = \"/x\";\ndeadline = ;\n", 0600);
    m2s_strv p = { 0 };
    ck_assert_ptr_null(m2s_config_load(conf, &p));
    ck_assert_uint_eq(p.n, 1);
    char *want = xasprintf("%s:3:", conf);
    ck_assert_msg(strncmp(p.v[0], want, strlen(want)) == 0, "got \"%s\", want \"%s...\"",
                  p.v[0], want);
    free(want);
    m2s_strv_clear(&p);
    free(conf);
    tmp_teardown();
}
END_TEST

START_TEST(test_missing_file)
{
    m2s_strv p = { 0 };
    ck_assert_ptr_null(m2s_config_load("/nonexistent/m2s/mail2sms.conf", &p));
    ck_assert_uint_ge(p.n, 1);
    ck_assert_ptr_nonnull(strstr(p.v[0], "/nonexistent/m2s/mail2sms.conf"));
    m2s_strv_clear(&p);
    /* problems may be NULL */
    ck_assert_ptr_null(m2s_config_load("/nonexistent/m2s/mail2sms.conf", NULL));
    ck_assert_ptr_null(m2s_config_load_string("x = ;", NAME, NULL));
    ck_assert_ptr_null(m2s_config_load_string(MINIMAL "colour = 1;", NAME, NULL));
}
END_TEST

START_TEST(test_unknown_key_top)
{
    REFUSED(MINIMAL "colour = \"blue\";\n", NAME ":2:", "colour");
}
END_TEST

START_TEST(test_unknown_key_nested)
{
    const char *text =
        "bird = {\n"
        "  workspace_id = \"ws\"; channel_id = \"ch\"; access_key = \"k\";\n"
        "  timout = 20;\n"
        "};\n"
        "message = {\n"
        "  max_part = 2;\n"
        "};\n";
    REFUSED(text, NAME ":3:", "bird.timout");
    REFUSED(text, NAME ":6:", "message.max_part");
    /* an unknown key in an alias group and in a template */
    REFUSED(MINIMAL "recipients = { aliases = {\n ops = { numbers = [\"+31612345678\"];\n"
            " formt = \"x\"; }; }; };\n", NAME ":4:", "formt");
    REFUSED(MINIMAL "message = { template = {\n project_id = \"p\";\n langauge = \"nl\"; }; };\n",
            NAME ":4:", "langauge");
}
END_TEST

START_TEST(test_wrong_type)
{
    REFUSED("bird = { workspace_id = \"ws\"; channel_id = \"ch\"; access_key = \"k\";\n"
            "  timeout = \"20\"; };\n", NAME ":2:", "bird.timeout");
    REFUSED(MINIMAL "message = { max_parts = 2.5; };\n", NAME ":2:", "message.max_parts");
    REFUSED(MINIMAL "message = { transliterate = \"yes\"; };\n", NAME ":2:",
            "message.transliterate");
    REFUSED(MINIMAL "message = { format = 5; };\n", NAME ":2:", "message.format");
    REFUSED(MINIMAL "recipients = { allowed_prefixes = [ 31, 32 ]; };\n", NAME ":2:",
            "recipients.allowed_prefixes");
    REFUSED(MINIMAL "senders = \"anyone\";\n", NAME ":2:", "senders");
    REFUSED(MINIMAL "deadline = \"120\";\n", NAME ":2:", "deadline");
}
END_TEST

START_TEST(test_out_of_range)
{
    REFUSED(MINIMAL "message = { max_parts = 11; };\n", NAME ":2:", "message.max_parts");
    REFUSED(MINIMAL "message = { max_parts = 0; };\n", NAME ":2:", "message.max_parts");
    REFUSED("bird = { workspace_id = \"ws\"; channel_id = \"ch\"; access_key = \"k\";\n"
            " timeout = 0; };\n", NAME ":2:", "bird.timeout");
    REFUSED("bird = { workspace_id = \"ws\"; channel_id = \"ch\"; access_key = \"k\";\n"
            " timeout = -5; };\n", NAME ":2:", "bird.timeout");
    REFUSED(MINIMAL "limits = { per_number_per_hour = -1; };\n", NAME ":2:",
            "limits.per_number_per_hour");
    REFUSED(MINIMAL "message = { validity = -1; };\n", NAME ":2:", "message.validity");
    /* the edges are allowed */
    m2s_config *c = load_ok(MINIMAL "message = { max_parts = 10; };\n");
    ck_assert_int_eq(c->max_parts, 10);
    m2s_config_free(c);
    c = load_ok(MINIMAL "message = { max_parts = 1; };\n");
    ck_assert_int_eq(c->max_parts, 1);
    m2s_config_free(c);
}
END_TEST

START_TEST(test_enum_values)
{
    REFUSED(MINIMAL "message = { on_too_long = \"cut\"; };\n", NAME ":2:",
            "message.on_too_long", "cut");
    REFUSED(MINIMAL "message = { prefer = \"rich\"; };\n", NAME ":2:", "message.prefer");
    REFUSED(MINIMAL "limits = { on_exceed = \"bounce\"; };\n", NAME ":2:", "limits.on_exceed");
    REFUSED(MINIMAL "media = { store = \"s3\"; };\n", NAME ":2:", "media.store");
    REFUSED(MINIMAL "senders = { check = 1; };\n", NAME ":2:", "senders.check");
    m2s_config *c = load_ok(MINIMAL "message = { on_too_long = \"reject\"; prefer = \"html\"; };\n"
                            "limits = { on_exceed = \"drop\"; };\n"
                            "senders = { check = \"envelope\"; };\n");
    ck_assert_int_eq(c->on_too_long, M2S_TOO_LONG_REJECT);
    ck_assert_int_eq(c->prefer, M2S_PREFER_HTML);
    ck_assert_int_eq(c->on_exceed, M2S_EXCEED_DROP);
    ck_assert_int_eq(c->sender_check, M2S_SENDER_CHECK_ENVELOPE);
    m2s_config_free(c);
    c = load_ok(MINIMAL "message = { on_too_long = \"truncate\"; prefer = \"plain\"; };\n");
    ck_assert_int_eq(c->on_too_long, M2S_TOO_LONG_TRUNCATE);
    ck_assert_int_eq(c->prefer, M2S_PREFER_PLAIN);
    m2s_config_free(c);
}
END_TEST

START_TEST(test_missing_ids)
{
    REFUSED("bird = {\n channel_id = \"ch\"; access_key = \"k\"; };\n", NAME ":", "workspace_id");
    REFUSED("bird = {\n workspace_id = \"ws\"; access_key = \"k\"; };\n", NAME ":", "channel_id");
    REFUSED("state_dir = \"/var/lib/x\";\n", NAME, "workspace_id");
    REFUSED("bird = { workspace_id = \"a/b\"; channel_id = \"ch\"; access_key = \"k\"; };\n",
            NAME ":1:", "workspace_id");
}
END_TEST

START_TEST(test_api_url)
{
#define IDS "workspace_id = \"ws\"; channel_id = \"ch\"; access_key = \"k\";"
    REFUSED("bird = { " IDS "\n api_url = \"http://api.bird.com\"; };\n", NAME ":2:",
            "bird.api_url");
    REFUSED("bird = { " IDS "\n api_url = \"ftp://api.bird.com\"; };\n", NAME ":2:",
            "bird.api_url");
    REFUSED("bird = { " IDS "\n api_url = \"api.bird.com\"; };\n", NAME ":2:", "bird.api_url");

    m2s_config *c = load_ok("bird = { " IDS " api_url = \"https://eu.api.bird.com/\"; };\n");
    ck_assert_str_eq(c->api_url, "https://eu.api.bird.com");
    m2s_config_free(c);
    c = load_ok("bird = { " IDS " api_url = \"http://127.0.0.1:8080/\"; };\n");
    ck_assert_str_eq(c->api_url, "http://127.0.0.1:8080");
    m2s_config_free(c);
    c = load_ok("bird = { " IDS " api_url = \"http://localhost:9000\"; };\n");
    ck_assert_str_eq(c->api_url, "http://localhost:9000");
    m2s_config_free(c);
}
END_TEST

/* Plain HTTP is for this machine only: a host that merely begins like a
 * local one is somewhere else.
 * (A check of the first characters after "http://" once accepted
 * "http://localhost.example.com" and "http://127.0.0.1@evil.example".) */
START_TEST(test_api_url_lookalike_hosts)
{
    REFUSED("bird = { " IDS "\n api_url = \"http://localhost.example.com\"; };\n", NAME ":2:",
            "bird.api_url");
    REFUSED("bird = { " IDS "\n api_url = \"http://127.0.0.1.example.com/\"; };\n", NAME ":2:",
            "bird.api_url");
    REFUSED("bird = { " IDS "\n api_url = \"http://127.0.0.1@evil.example/\"; };\n", NAME ":2:",
            "bird.api_url");
}
END_TEST

/* ---------------------------------------------------------- access key */

START_TEST(test_key_file_modes)
{
    tmp_setup();
    char *k600 = tmp_file("key", "\tkey-in-file\r\n", 0600);
    char *k640 = tmp_file("key640", "key-in-file\n", 0640);
    char *k644 = tmp_file("key644", "key-in-file\n", 0644);

    char *text = xasprintf("bird = { workspace_id = \"ws\"; channel_id = \"ch\";\n"
                           " access_key_file = \"%s\"; };\n", k600);
    m2s_config *c = load_ok(text);
    ck_assert_str_eq(c->access_key, "key-in-file");
    m2s_config_free(c);
    free(text);

    const char *bad[] = { k640, k644 };
    for (size_t i = 0; i < 2; i++) {
        text = xasprintf("bird = { workspace_id = \"ws\"; channel_id = \"ch\";\n"
                         " access_key_file = \"%s\"; };\n", bad[i]);
        REFUSED(text, NAME ":2:", bad[i], "read by others");
        free(text);
    }
    char *missing = xasprintf("%s/no-such-key", tmpdir);
    text = xasprintf("bird = { workspace_id = \"ws\"; channel_id = \"ch\";\n"
                     " access_key_file = \"%s\"; };\n", missing);
    REFUSED(text, NAME ":2:", missing);
    free(text);
    free(missing);

    /* both ways at once */
    text = xasprintf("bird = { workspace_id = \"ws\"; channel_id = \"ch\";\n"
                     " access_key_file = \"%s\";\n access_key = \"inline\"; };\n", k600);
    REFUSED(text, NAME ":", "access_key");
    free(text);
    /* neither */
    REFUSED("bird = { workspace_id = \"ws\"; channel_id = \"ch\"; };\n", NAME, "access key");

    free(k600);
    free(k640);
    free(k644);
    tmp_teardown();
}
END_TEST

/* An inline key is only acceptable in a file its owner alone can read. */
START_TEST(test_inline_key_file_mode)
{
    tmp_setup();
    const char *text = "bird = { workspace_id = \"ws\"; channel_id = \"ch\";\n"
                       "  access_key = \"inlineSecret\"; };\n";
    char *shared = tmp_file("conf644", text, 0644);
    m2s_strv p = { 0 };
    ck_assert_ptr_null(m2s_config_load(shared, &p));
    char *all = joined(&p);
    ck_assert_msg(find_problem(&p, shared, "access_key", NULL) >= 0, "got:\n%s", all);
    ck_assert_ptr_null(strstr(all, "inlineSecret"));
    free(all);
    m2s_strv_clear(&p);
    char *group = tmp_file("conf", text, 0640);
    ck_assert_ptr_null(m2s_config_load(group, &p));
    ck_assert_uint_ge(p.n, 1);
    m2s_strv_clear(&p);

    char *owner = tmp_file("conf600", text, 0600);
    m2s_config *c = m2s_config_load(owner, &p);
    ck_assert_ptr_nonnull(c);
    ck_assert_str_eq(c->access_key, "inlineSecret");
    m2s_config_free(c);
    m2s_strv_clear(&p);
    free(shared);
    free(group);
    free(owner);
    tmp_teardown();
}
END_TEST

/* The key never appears in a problem line, even when it is the problem. */
START_TEST(test_key_not_in_problems)
{
    static const char *const texts[] = {
        "bird = { workspace_id = \"ws\"; channel_id = \"ch\"; access_key = \"s3cr3t K3y\"; };\n",
        "bird = { workspace_id = \"ws\"; channel_id = \"ch\"; access_key = \"s3cr3t\\tK3y\"; };\n",
        "bird = { channel_id = \"ch\"; access_key = \"s3cr3tK3y\"; api_url = \"http://x\"; };\n",
        "bird = { workspace_id = \"ws\"; channel_id = \"ch\"; access_key = \"s3cr3tK3y\";\n"
        "  access_key_file = \"/nonexistent/key\"; };\n",
        "bird = { workspace_id = \"ws\"; channel_id = \"ch\"; access_key = \"s3cr3tK3y\"; };\n"
        "deadline = 1;\n",
    };
    for (size_t i = 0; i < sizeof texts / sizeof texts[0]; i++) {
        m2s_strv p;
        m2s_config *c = load(texts[i], &p);
        ck_assert_msg(c == NULL, "accepted: %s", texts[i]);
        ck_assert_uint_ge(p.n, 1);
        for (size_t j = 0; j < p.n; j++) {
            ck_assert_msg(strstr(p.v[j], "s3cr3t") == NULL && strstr(p.v[j], "K3y") == NULL,
                          "the key leaks: %s", p.v[j]);
        }
        m2s_strv_clear(&p);
    }
}
END_TEST

static char *summary_of(const m2s_config *c)
{
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    ck_assert_ptr_nonnull(f);
    char *endpoint = m2s_bird_messages_url(c);
    m2s_config_summary(c, endpoint, f);
    fclose(f);
    free(endpoint);
    return text;
}

START_TEST(test_summary_keeps_secrets)
{
    m2s_config *c = load_ok(
        "bird = { workspace_id = \"ws-777\"; channel_id = \"ch-888\";\n"
        "  access_key = \"TopSecretAccessKey\"; };\n"
        "senders = { allowed = [ \"*@mon.example.com\" ]; token = \"TokenValue123\"; };\n"
        "recipients = { aliases = { oncall = [ \"+31612345678\" ]; }; };\n");
    char *s = summary_of(c);
    ck_assert_ptr_nonnull(s);
    ck_assert_ptr_null(strstr(s, "TopSecretAccessKey"));
    ck_assert_ptr_null(strstr(s, "TokenValue123"));
    /* and it does say something useful */
    ck_assert_ptr_nonnull(strstr(s, "ws-777"));
    ck_assert_ptr_nonnull(strstr(s, "ch-888"));
    ck_assert_ptr_nonnull(strstr(s, "oncall"));
    free(s);
    m2s_config_free(c);

    tmp_setup();
    char *key = tmp_file("key", "KeyFromFileXYZ\n", 0600);
    char *text = example_config(key);
    c = load_ok(text);
    s = summary_of(c);
    ck_assert_ptr_null(strstr(s, "KeyFromFileXYZ"));
    free(s);
    m2s_config_free(c);
    free(text);
    free(key);
    tmp_teardown();
}
END_TEST

/* ------------------------------------------------------------- aliases */

START_TEST(test_aliases_group_form)
{
    m2s_config *c = load_ok(
        MINIMAL
        "recipients = { aliases = {\n"
        "  oncall = [ \"+31612345678\", \"+31687654321\" ];\n"
        "  ops = { numbers = [ \"+32470123456\" ]; format = \"{subject}\";\n"
        "          template = { project_id = \"proj-1\"; version = \"v3\"; locale = \"nl\";\n"
        "                       parameters = { title = \"{subject}\"; text = \"{body}\"; }; }; };\n"
        "  single = \"+31611111111\";\n"
        "}; };\n");
    ck_assert_uint_eq(c->n_aliases, 3);
    const m2s_alias *a = m2s_config_alias(c, "oncall");
    ck_assert_ptr_nonnull(a);
    ck_assert_uint_eq(a->numbers.n, 2);
    ck_assert_str_eq(a->numbers.v[1], "+31687654321");
    ck_assert_ptr_null(a->format);
    a = m2s_config_alias(c, "ops");
    ck_assert_ptr_nonnull(a);
    ck_assert_uint_eq(a->numbers.n, 1);
    ck_assert_str_eq(a->numbers.v[0], "+32470123456");
    ck_assert_str_eq(a->format, "{subject}");
    ck_assert_ptr_nonnull(a->tmpl);
    ck_assert_str_eq(a->tmpl->project_id, "proj-1");
    ck_assert_str_eq(a->tmpl->version, "v3");
    ck_assert_str_eq(a->tmpl->locale, "nl");
    ck_assert_uint_eq(a->tmpl->param_keys.n, 2);
    ck_assert_uint_eq(a->tmpl->param_values.n, 2);
    ck_assert_str_eq(a->tmpl->param_keys.v[0], "title");
    ck_assert_str_eq(a->tmpl->param_values.v[0], "{subject}");
    ck_assert_str_eq(a->tmpl->param_keys.v[1], "text");
    ck_assert_str_eq(a->tmpl->param_values.v[1], "{body}");
    a = m2s_config_alias(c, "single");
    ck_assert_ptr_nonnull(a);
    ck_assert_uint_eq(a->numbers.n, 1);
    m2s_config_free(c);
}
END_TEST

/* Names libconfig cannot take as keys ("on.call") use the list form.
 * (The "name" member was once refused as an unknown key.) */
START_TEST(test_aliases_list_form)
{
    m2s_config *c = load_ok(
        MINIMAL
        "recipients = { aliases = (\n"
        "  { name = \"on.call\"; numbers = [ \"+31612345678\" ]; },\n"
        "  { name = \"db-team\"; numbers = [ \"+31687654321\", \"+32470123456\" ];\n"
        "    format = \"DB {subject}\"; }\n"
        "); };\n");
    ck_assert_uint_eq(c->n_aliases, 2);
    const m2s_alias *a = m2s_config_alias(c, "on.call");
    ck_assert_ptr_nonnull(a);
    ck_assert_str_eq(a->name, "on.call");
    ck_assert_uint_eq(a->numbers.n, 1);
    ck_assert_str_eq(a->numbers.v[0], "+31612345678");
    a = m2s_config_alias(c, "DB-Team");
    ck_assert_ptr_nonnull(a);
    ck_assert_uint_eq(a->numbers.n, 2);
    ck_assert_str_eq(a->format, "DB {subject}");
    m2s_config_free(c);
}
END_TEST

START_TEST(test_aliases_list_form_refusals)
{
    /* an entry without a name, an entry that is not a group */
    REFUSED(MINIMAL "recipients = { aliases = (\n { numbers = [ \"+31612345678\" ]; }\n); };\n",
            NAME ":", "recipients.aliases");
    REFUSED(MINIMAL "recipients = { aliases = (\n \"+31612345678\"\n); };\n",
            NAME ":", "recipients.aliases");
}
END_TEST

START_TEST(test_alias_lookup_case)
{
    m2s_config *c = load_ok(MINIMAL "recipients = { aliases = { OnCall = [\"+31612345678\"]; }; };\n");
    const m2s_alias *a = m2s_config_alias(c, "oncall");
    ck_assert_ptr_nonnull(a);
    ck_assert_str_eq(a->name, "OnCall");
    ck_assert_ptr_eq(m2s_config_alias(c, "ONCALL"), a);
    ck_assert_ptr_eq(m2s_config_alias(c, "OnCall"), a);
    ck_assert_ptr_null(m2s_config_alias(c, "oncal"));
    ck_assert_ptr_null(m2s_config_alias(c, "oncall2"));
    ck_assert_ptr_null(m2s_config_alias(c, ""));
    m2s_config_free(c);
}
END_TEST

START_TEST(test_alias_bad_numbers)
{
    REFUSED(MINIMAL "recipients = { aliases = {\n oncall = [ \"+31612345678\", \"12ab\" ]; }; };\n",
            NAME ":", "oncall", "12ab");
    /* a national number without recipients.default_country */
    REFUSED(MINIMAL "recipients = { aliases = {\n oncall = [ \"0612345678\" ]; }; };\n",
            NAME ":", "oncall", "0612345678");
    /* with it, fine */
    m2s_config *c = load_ok(MINIMAL "recipients = { default_country = \"31\";\n"
                            " aliases = { oncall = [ \"0612345678\" ]; }; };\n");
    m2s_config_free(c);
    REFUSED(MINIMAL "recipients = { aliases = {\n oncall = [ ]; }; };\n", NAME ":", "oncall");
    REFUSED(MINIMAL "recipients = { aliases = {\n oncall = [ 31612345678 ]; }; };\n", NAME ":");
    /* defined twice, differing only in case */
    REFUSED(MINIMAL "recipients = { aliases = {\n ops = [\"+31612345678\"];\n"
            " OPS = [\"+31687654321\"]; }; };\n", NAME ":", "OPS", "twice");
}
END_TEST

/* ------------------------------------------------------------- message */

/* The limits of rules.h, said in the same words as ever. */
START_TEST(test_rules_limits_text)
{
    REFUSED(MINIMAL "message = {\n tags = [ \"t1\",\"t2\",\"t3\",\"t4\",\"t5\",\"t6\","
            "\"t7\",\"t8\",\"t9\",\"t10\",\"t11\" ]; };\n",
            NAME ":3: message.tags: at most 10 tags");
    REFUSED(MINIMAL "message = {\n tags = [ \"bad!tag\" ]; };\n",
            NAME ":3: message.tags: \"bad!tag\" must be 1-50 letters, digits, '-', '_' or spaces");
    REFUSED(MINIMAL "message = {\n validity = 31536001; };\n",
            NAME ":3: 'message.validity' must be between 0 and 31536000");
    m2s_config *c = load_ok(MINIMAL "message = { validity = 31536000; };\n");
    ck_assert_int_eq(c->validity, M2S_RULES_VALIDITY_MAX);
    m2s_config_free(c);

    /* a country calling code has one to three digits */
    c = load_ok(MINIMAL "recipients = { default_country = \"353\"; };\n");
    m2s_config_free(c);
    REFUSED(MINIMAL "recipients = {\n default_country = \"3531\"; };\n",
            NAME ":3:", "recipients.default_country must be a country calling code");
    /* alias numbers are read by the same rule as recipients */
    REFUSED(MINIMAL "recipients = { aliases = {\n x = [ \"+3161234\" ]; }; };\n",
            "alias 'x'", "phone number too short (fewer than 8 digits)");
}
END_TEST


START_TEST(test_message_strip_and_tags)
{
    m2s_config *c = load_ok(MINIMAL "message = { strip = [ \"^Sent from my \", \"^--+$\" ];\n"
                            " tags = [ \"monitoring\", \"On call\", \"a_b-c 9\" ]; };\n");
    ck_assert_uint_eq(c->strip_patterns.n, 2);
    ck_assert_str_eq(c->strip_patterns.v[0], "^Sent from my ");
    ck_assert_uint_eq(c->tags.n, 3);
    ck_assert_str_eq(c->tags.v[0], "monitoring");
    /* Bird stores tags in lower case */
    ck_assert(strcasecmp(c->tags.v[1], "on call") == 0);
    ck_assert(strcasecmp(c->tags.v[2], "a_b-c 9") == 0);
    m2s_config_free(c);

    REFUSED(MINIMAL "message = {\n strip = [ \"ok\", \"(unclosed\" ]; };\n", NAME ":3:",
            "message.strip", "(unclosed");
    REFUSED(MINIMAL "message = {\n tags = [ \"ok\", \"bad!tag\" ]; };\n", NAME ":3:",
            "message.tags", "bad!tag");
    REFUSED(MINIMAL "message = {\n tags = [ \"\" ]; };\n", NAME ":3:", "message.tags");
    REFUSED(MINIMAL "message = {\n tags = [ \"a123456789b123456789c123456789d123456789e123456789f\" ]; };\n",
            NAME ":3:", "message.tags");
    REFUSED(MINIMAL "message = {\n tags = [ \"t1\",\"t2\",\"t3\",\"t4\",\"t5\",\"t6\",\"t7\",\"t8\","
            "\"t9\",\"t10\",\"t11\" ]; };\n", NAME ":3:", "message.tags");
    c = load_ok(MINIMAL "message = { tags = [ \"t1\",\"t2\",\"t3\",\"t4\",\"t5\",\"t6\",\"t7\",\"t8\","
                "\"t9\",\"t10\" ]; };\n");
    ck_assert_uint_eq(c->tags.n, 10);
    m2s_config_free(c);
}
END_TEST

START_TEST(test_message_template)
{
    m2s_config *c = load_ok(MINIMAL "message = { template = { project_id = \"p-9\";\n"
                            " parameters = { s = \"{subject}\"; }; }; };\n");
    ck_assert_ptr_nonnull(c->tmpl);
    ck_assert_str_eq(c->tmpl->project_id, "p-9");
    ck_assert_str_eq(c->tmpl->version, "latest");   /* config.h defaults */
    ck_assert_str_eq(c->tmpl->locale, "en");
    ck_assert_uint_eq(c->tmpl->param_keys.n, 1);
    m2s_config_free(c);
    REFUSED(MINIMAL "message = {\n template = { version = \"v1\"; }; };\n", NAME ":3:", "project_id");
}
END_TEST

/* --------------------------------------------------------------- media */

START_TEST(test_media_mms)
{
    m2s_config *c = load_ok(MINIMAL "media = { mms = \"auto\"; };\n");
    ck_assert_int_eq(c->mms, M2S_MMS_AUTO);
    m2s_config_free(c);
    c = load_ok(MINIMAL "media = { mms = true; };\n");
    ck_assert_int_eq(c->mms, M2S_MMS_ON);
    m2s_config_free(c);
    c = load_ok(MINIMAL "media = { mms = false; };\n");
    ck_assert_int_eq(c->mms, M2S_MMS_OFF);
    m2s_config_free(c);
    REFUSED(MINIMAL "media = {\n mms = \"yes\"; };\n", NAME ":3:", "media.mms");
    REFUSED(MINIMAL "media = {\n mms = 1; };\n", NAME ":3:", "media.mms");
}
END_TEST

START_TEST(test_media_directory)
{
    m2s_strv p;
    ck_assert_ptr_null(load(MINIMAL "media = {\n store = \"directory\"; };\n", &p));
    char *all = joined(&p);
    ck_assert_msg(find_problem(&p, NAME ":3:", "media.directory", NULL) >= 0, "got:\n%s", all);
    ck_assert_msg(find_problem(&p, NAME ":3:", "media.base_url", NULL) >= 0, "got:\n%s", all);
    free(all);
    m2s_strv_clear(&p);
    REFUSED(MINIMAL "media = {\n store = \"directory\"; directory = \"relative/dir\";\n"
            " base_url = \"https://media.example.com/m\"; };\n", NAME ":3:", "media.directory");
    REFUSED(MINIMAL "media = {\n store = \"directory\"; directory = \"/srv/sms-media\";\n"
            " base_url = \"http://media.example.com/m\"; };\n", NAME ":3:", "media.base_url");
    m2s_config *c = load_ok(MINIMAL "media = { store = \"directory\"; directory = \"/srv/sms-media\";\n"
                            " base_url = \"https://media.example.com/m\"; };\n");
    ck_assert_int_eq(c->media_store, M2S_STORE_DIRECTORY);
    ck_assert_str_eq(c->media_directory, "/srv/sms-media");
    ck_assert_str_eq(c->media_base_url, "https://media.example.com/m");
    m2s_config_free(c);
}
END_TEST

/* ------------------------------------------------------------ deadline */

START_TEST(test_deadline_vs_timeouts)
{
    /* default timeout 20 + connect_timeout 10 = 30 */
    REFUSED(MINIMAL "deadline = 25;\n", NAME ":2:", "deadline");
    m2s_config *c = load_ok(MINIMAL "deadline = 30;\n");
    ck_assert_int_eq(c->deadline, 30);
    m2s_config_free(c);
    REFUSED("bird = { workspace_id = \"ws\"; channel_id = \"ch\"; access_key = \"k\";\n"
            " timeout = 100; connect_timeout = 30; };\ndeadline = 120;\n", NAME ":3:", "deadline");
    c = load_ok("bird = { workspace_id = \"ws\"; channel_id = \"ch\"; access_key = \"k\";\n"
                " timeout = 5; connect_timeout = 5; };\ndeadline = 10;\n");
    ck_assert_int_eq(c->timeout, 5);
    ck_assert_int_eq(c->connect_timeout, 5);
    m2s_config_free(c);
}
END_TEST

/* ------------------------------------------------------- many problems */

START_TEST(test_many_problems)
{
    const char *text =
        MINIMAL
        "colour = 1;\n"                                     /* 2 unknown */
        "message = { max_parts = \"3\";\n"                  /* 3 type */
        "  on_too_long = \"cut\"; };\n"                     /* 4 enum */
        "limits = { per_number_per_hour = -4; };\n"         /* 5 range */
        "media = { mms = \"maybe\"; };\n";                  /* 6 mms */
    m2s_strv p;
    ck_assert_ptr_null(load(text, &p));
    char *all = joined(&p);
    ck_assert_msg(p.n == 5, "want 5 problems, got %zu:\n%s", p.n, all);
    ck_assert_msg(find_problem(&p, NAME ":2:", "colour", NULL) >= 0, "%s", all);
    ck_assert_msg(find_problem(&p, NAME ":3:", "message.max_parts", NULL) >= 0, "%s", all);
    ck_assert_msg(find_problem(&p, NAME ":4:", "message.on_too_long", NULL) >= 0, "%s", all);
    ck_assert_msg(find_problem(&p, NAME ":5:", "limits.per_number_per_hour", NULL) >= 0, "%s", all);
    ck_assert_msg(find_problem(&p, NAME ":6:", "media.mms", NULL) >= 0, "%s", all);
    free(all);
    m2s_strv_clear(&p);

    /* problems of meaning, each reported */
    text = "bird = { channel_id = \"ch\"; access_key = \"k\";\n"
           "  api_url = \"http://api.bird.com\"; };\n"
           "message = { strip = [ \"[\" ]; };\n"
           "deadline = 10;\n";
    ck_assert_ptr_null(load(text, &p));
    all = joined(&p);
    ck_assert_msg(p.n == 4, "want 4 problems, got %zu:\n%s", p.n, all);
    ck_assert_msg(find_problem(&p, "workspace_id", NULL) >= 0, "%s", all);
    ck_assert_msg(find_problem(&p, NAME ":2:", "api_url", NULL) >= 0, "%s", all);
    ck_assert_msg(find_problem(&p, NAME ":3:", "message.strip", NULL) >= 0, "%s", all);
    ck_assert_msg(find_problem(&p, NAME ":4:", "deadline", NULL) >= 0, "%s", all);
    free(all);
    m2s_strv_clear(&p);
}
END_TEST

/* A key error and a meaning error in one file: both are reported, so one
 * --check-config run lists everything to fix ("one line per problem").
 */
START_TEST(test_problems_of_both_passes)
{
    const char *text = "bird = { channel_id = \"ch\"; access_key = \"k\"; };\n"
                       "colour = 1;\n";
    m2s_strv p;
    ck_assert_ptr_null(load(text, &p));
    char *all = joined(&p);
    ck_assert_msg(find_problem(&p, NAME ":2:", "colour", NULL) >= 0, "%s", all);
    ck_assert_msg(find_problem(&p, "workspace_id", NULL) >= 0, "%s", all);
    free(all);
    m2s_strv_clear(&p);
}
END_TEST

/* ------------------------------------------------------------ key table */

static const m2s_key_info *key_named(const char *name)
{
    size_t n;
    const m2s_key_info *k = m2s_config_keys(&n);
    for (size_t i = 0; i < n; i++)
        if (strcmp(k[i].name, name) == 0)
            return &k[i];
    return NULL;
}

START_TEST(test_keys_table)
{
    size_t n = 0;
    const m2s_key_info *k = m2s_config_keys(&n);
    ck_assert_ptr_nonnull(k);
    ck_assert_uint_gt(n, 20);
    static const char *const types[] = { "string", "integer", "number", "boolean", "list",
                                         "group", "alias", "string|boolean", NULL };
    for (size_t i = 0; i < n; i++) {
        ck_assert_ptr_nonnull(k[i].name);
        ck_assert_ptr_nonnull(k[i].type);
        bool known = false;
        for (size_t t = 0; types[t]; t++)
            if (strcmp(types[t], k[i].type) == 0)
                known = true;
        ck_assert_msg(known, "%s has type \"%s\"", k[i].name, k[i].type);
        for (size_t j = i + 1; j < n; j++)
            ck_assert_msg(strcmp(k[i].name, k[j].name) != 0, "%s listed twice", k[i].name);
    }
    /* every key of the original contract's example (the first release's configuration), and the free-named aliases */
    static const char *const contract_keys[] = {
        "bird", "bird.api_url", "bird.workspace_id", "bird.channel_id", "bird.access_key_file",
        "bird.access_key", "bird.timeout", "recipients", "recipients.default_country",
        "recipients.allowed_prefixes", "recipients.aliases", "recipients.aliases.*",
        "senders", "senders.allowed", "message", "message.format", "message.max_parts",
        "media", "media.store", "media.mms", "media.directory", "media.base_url",
        "limits", "limits.per_number_per_hour", "limits.on_exceed", "state_dir", "deadline",
        /* config.h fields that are keys */
        "bird.connect_timeout", "bird.ca_file", "message.on_too_long", "message.prefer",
        "message.strip", "message.tags", "message.validity", "message.template",
        "message.transliterate", "senders.token", "senders.trusted",
    };
    for (size_t i = 0; i < sizeof contract_keys / sizeof contract_keys[0]; i++)
        ck_assert_msg(key_named(contract_keys[i]) != NULL, "%s is not listed", contract_keys[i]);
    ck_assert_str_eq(key_named("bird.timeout")->type, "integer");
    ck_assert_str_eq(key_named("bird.api_url")->type, "string");
    ck_assert_str_eq(key_named("media.mms")->type, "string|boolean");
    /* the same static table every time */
    size_t n2 = 0;
    ck_assert_ptr_eq(m2s_config_keys(&n2), k);
    ck_assert_uint_eq(n2, n);
}
END_TEST

/* "a.b.c" set to v, as nested groups. */
static char *nested(const char *name, const char *v)
{
    m2s_buf b;
    m2s_buf_init(&b);
    char *copy = xstrdup(name);
    int depth = 0;
    char *save = NULL;
    char *parts[8];
    for (char *s = strtok_r(copy, ".", &save); s && depth < 8; s = strtok_r(NULL, ".", &save))
        parts[depth++] = s;
    for (int i = 0; i < depth; i++) {
        const char *p = strcmp(parts[i], "*") == 0 ? "x" : parts[i];
        if (i < depth - 1)
            m2s_buf_printf(&b, "%s = { ", p);
        else
            m2s_buf_printf(&b, "%s = %s; ", p, v);
    }
    for (int i = 0; i < depth - 1; i++)
        m2s_buf_adds(&b, "}; ");
    free(copy);
    return m2s_buf_steal(&b);
}

/* Every listed key is one the loader knows: set each in turn and no
 * problem may call it unknown. */
START_TEST(test_keys_are_accepted)
{
    size_t n = 0;
    const m2s_key_info *k = m2s_config_keys(&n);
    for (size_t i = 0; i < n; i++) {
        const char *t = k[i].type;
        const char *v = strcmp(t, "string") == 0 ? "\"v\"" :
                        strcmp(t, "integer") == 0 ? "1" :
                        strcmp(t, "number") == 0 ? "1.5" :
                        strcmp(t, "boolean") == 0 ? "true" :
                        strcmp(t, "list") == 0 || strcmp(t, "alias") == 0 ? "[ \"+31612345678\" ]" :
                        strcmp(t, "string|boolean") == 0 ? "true" : "{ }";
        char *setting = nested(k[i].name, v);
        /* keys inside bird go into the one bird group */
        char *text = strncmp(k[i].name, "bird.", 5) == 0
            ? xasprintf("%s\n", setting)
            : xasprintf(MINIMAL "%s\n", setting);
        m2s_strv p;
        m2s_config *c = load(text, &p);
        for (size_t j = 0; j < p.n; j++)
            ck_assert_msg(strstr(p.v[j], "unknown key") == NULL,
                          "listed key %s is refused as unknown: %s", k[i].name, p.v[j]);
        m2s_config_free(c);
        m2s_strv_clear(&p);
        free(text);
        free(setting);
    }
}
END_TEST

START_TEST(test_default_path)
{
    const char *p = m2s_config_default_path();
    ck_assert_ptr_nonnull(p);
    ck_assert_int_eq(p[0], '/');
    size_t n = strlen(p);
    ck_assert(n > strlen("/mail2sms/mail2sms.conf"));
    ck_assert_str_eq(p + n - strlen("/mail2sms/mail2sms.conf"), "/mail2sms/mail2sms.conf");
}
END_TEST

/* service.*: the LMTP service's keys, its defaults and the listen forms. */
START_TEST(test_service_keys)
{
    m2s_config *c = load_ok(MINIMAL);
    ck_assert_uint_eq(c->listen.n, 0);
    ck_assert_int_eq(c->max_connections, 100);
    ck_assert_int_eq(c->workers, 4);
    ck_assert_int_eq(c->client_timeout, 300);
    m2s_config_free(c);
    c = load_ok(MINIMAL "service = { listen = [ \"unix:/run/x/lmtp\", \"inet:127.0.0.1:24\","
                " \"inet:[::1]:2424\" ]; workers = 2; max_connections = 5; timeout = 60; };\n");
    ck_assert_uint_eq(c->listen.n, 3);
    ck_assert_str_eq(c->listen.v[2], "inet:[::1]:2424");
    ck_assert_int_eq(c->workers, 2);
    ck_assert_int_eq(c->max_connections, 5);
    ck_assert_int_eq(c->client_timeout, 60);
    m2s_config_free(c);
    REFUSED(MINIMAL "service = { listen = [ \"unix:relative\" ]; };\n", "service.listen");
    REFUSED(MINIMAL "service = { listen = \"inet:127.0.0.1\"; };\n", "service.listen");
    REFUSED(MINIMAL "service = { listen = \"inet:127.0.0.1:70000\"; };\n", "service.listen");
    REFUSED(MINIMAL "service = { listen = \"tcp:127.0.0.1:24\"; };\n", "service.listen");
    REFUSED(MINIMAL "service = { workers = 0; };\n", "service.workers");
}
END_TEST

static Suite *make_suite(void)
{
    Suite *s = suite_create("config");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_example_config);
    tcase_add_test(tc, test_example_config_file);
    tcase_add_test(tc, test_defaults);
    tcase_add_test(tc, test_syntax_error_line);
    tcase_add_test(tc, test_syntax_error_file);
    tcase_add_test(tc, test_missing_file);
    tcase_add_test(tc, test_unknown_key_top);
    tcase_add_test(tc, test_unknown_key_nested);
    tcase_add_test(tc, test_wrong_type);
    tcase_add_test(tc, test_out_of_range);
    tcase_add_test(tc, test_enum_values);
    tcase_add_test(tc, test_missing_ids);
    tcase_add_test(tc, test_api_url);
    tcase_add_test(tc, test_api_url_lookalike_hosts);
    tcase_add_test(tc, test_problems_of_both_passes);
    tcase_add_test(tc, test_key_file_modes);
    tcase_add_test(tc, test_inline_key_file_mode);
    tcase_add_test(tc, test_key_not_in_problems);
    tcase_add_test(tc, test_summary_keeps_secrets);
    tcase_add_test(tc, test_aliases_group_form);
    tcase_add_test(tc, test_aliases_list_form);
    tcase_add_test(tc, test_aliases_list_form_refusals);
    tcase_add_test(tc, test_alias_lookup_case);
    tcase_add_test(tc, test_alias_bad_numbers);
    tcase_add_test(tc, test_rules_limits_text);
    tcase_add_test(tc, test_message_strip_and_tags);
    tcase_add_test(tc, test_message_template);
    tcase_add_test(tc, test_media_mms);
    tcase_add_test(tc, test_media_directory);
    tcase_add_test(tc, test_deadline_vs_timeouts);
    tcase_add_test(tc, test_many_problems);
    tcase_add_test(tc, test_keys_table);
    tcase_add_test(tc, test_keys_are_accepted);
    tcase_add_test(tc, test_default_path);
    tcase_add_test(tc, test_service_keys);
    suite_add_tcase(s, tc);
    return s;
}
