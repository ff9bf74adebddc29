/* check_payload.c - the JSON sent to and read from Bird's Channels API.
 * Every produced document is parsed back with json-c and compared by
 * value, and the message bodies are held against the essentials of the
 * OpenAPI CreateMessage schema (Bird's "Send a message"). */
#include "build-config.h"

#include <ctype.h>
#include <glib.h>
#include <json-c/json.h>
#include <stdlib.h>
#include <string.h>

#include "unit.h"
#include "payload.h"
#include "util.h"

/* ------------------------------------------------------------ helpers */

static json_object *parse_ok(const char *s)
{
    ck_assert_ptr_nonnull(s);
    ck_assert_msg(strchr(s, '\n') == NULL, "JSON spans lines: %s", s);
    json_tokener *tok = json_tokener_new();
    json_object *o = json_tokener_parse_ex(tok, s, (int)strlen(s));
    ck_assert_msg(json_tokener_get_error(tok) == json_tokener_success, "not JSON: %s", s);
    ck_assert_msg(json_tokener_get_parse_end(tok) == strlen(s), "trailing bytes after JSON: %s", s);
    json_tokener_free(tok);
    ck_assert_msg(json_object_is_type(o, json_type_object), "not an object: %s", s);
    return o;
}

/* Follow "a.b[0].c" from o; NULL when any step is missing. Borrowed. */
static json_object *jget(json_object *o, const char *path)
{
    char *copy = xstrdup(path);
    char *save = NULL;
    for (char *step = strtok_r(copy, ".", &save); step && o; step = strtok_r(NULL, ".", &save)) {
        char *br = strchr(step, '[');
        if (br)
            *br = '\0';
        if (*step) {
            json_object *next = NULL;
            if (!json_object_is_type(o, json_type_object) ||
                !json_object_object_get_ex(o, step, &next))
                o = NULL;
            else
                o = next;
        }
        while (o && br) {
            size_t idx = strtoul(br + 1, NULL, 10);
            if (!json_object_is_type(o, json_type_array) || idx >= json_object_array_length(o))
                o = NULL;
            else
                o = json_object_array_get_idx(o, idx);
            br = strchr(br + 1, '[');
        }
    }
    free(copy);
    return o;
}

static const char *jstr(json_object *o, const char *path)
{
    json_object *v = jget(o, path);
    if (!v || !json_object_is_type(v, json_type_string))
        return NULL;
    return json_object_get_string(v);
}

#define ASSERT_JSTR(o, path, want) do { \
        const char *got_ = jstr((o), (path)); \
        ck_assert_msg(got_ != NULL, "%s missing or not a string", (path)); \
        ck_assert_str_eq(got_, (want)); \
    } while (0)

static bool in_list(const char *k, const char *const *allowed)
{
    for (; *allowed; allowed++)
        if (strcmp(k, *allowed) == 0)
            return true;
    return false;
}

/* Every key of object o is one of allowed (additionalProperties: false). */
static void only_keys(json_object *o, const char *where, const char *const *allowed)
{
    ck_assert_msg(o && json_object_is_type(o, json_type_object), "%s is not an object", where);
    json_object_object_foreach(o, k, v) {
        (void)v;
        ck_assert_msg(in_list(k, allowed), "%s: key \"%s\" is not in Bird's schema", where, k);
    }
}

static void require_string(json_object *o, const char *path, bool non_empty)
{
    json_object *v = jget(o, path);
    ck_assert_msg(v && json_object_is_type(v, json_type_string), "%s must be a string", path);
    if (non_empty)
        ck_assert_msg(*json_object_get_string(v), "%s must not be empty", path);
}

/* The essentials of CreateMessage (channels-send-message.openapi.json):
 * CreateChannelMessage has additionalProperties false and requires
 * receiver; anyOf template / body; the body types we use (text, image,
 * file) each with additionalProperties false and their required fields;
 * tags at most 10 of ^[a-zA-Z0-9-_ ]{1,50}$; validity an integer >= 0;
 * scheduledFor a string. */
static void check_create_message(json_object *m)
{
    static const char *const top[] = { "sender", "receiver", "reference", "template", "meta",
        "replyTo", "body", "notification", "capFrequency", "enableLinkTracking",
        "ignoreQuietHours", "ignoreGlobalHoldout", "tags", "shortLinks", "scheduledFor",
        "validity", NULL };
    only_keys(m, "message", top);

    json_object *rcv = jget(m, "receiver");
    ck_assert_msg(rcv != NULL, "receiver is required");
    static const char *const rkeys[] = { "contacts", NULL };
    only_keys(rcv, "receiver", rkeys);
    json_object *contacts = jget(rcv, "contacts");
    ck_assert(contacts && json_object_is_type(contacts, json_type_array));
    ck_assert_int_ge(json_object_array_length(contacts), 1);
    static const char *const ckeys[] = { "id", "identifierKey", "identifierValue", "type",
        "identifiers", "platformAddress", "platformAddressSelector", NULL };
    for (size_t i = 0; i < json_object_array_length(contacts); i++)
        only_keys(json_object_array_get_idx(contacts, i), "receiver.contacts[]", ckeys);

    json_object *body = jget(m, "body"), *tmpl = jget(m, "template");
    ck_assert_msg(body || tmpl, "one of body or template is required");
    ck_assert_msg(!(body && tmpl), "body and template together");
    if (body) {
        const char *type = jstr(body, "type");
        ck_assert_ptr_nonnull(type);
        if (strcmp(type, "text") == 0) {
            static const char *const k[] = { "type", "text", NULL };
            static const char *const kt[] = { "text", "attachments", "actions", "metadata", NULL };
            only_keys(body, "body", k);
            only_keys(jget(body, "text"), "body.text", kt);
            require_string(body, "text.text", true);          /* minLength 1 */
        } else if (strcmp(type, "image") == 0) {
            static const char *const k[] = { "type", "image", NULL };
            static const char *const ki[] = { "text", "images", "metadata", "actions", NULL };
            static const char *const kim[] = { "mediaUrl", "altText", NULL };
            only_keys(body, "body", k);
            only_keys(jget(body, "image"), "body.image", ki);
            json_object *imgs = jget(body, "image.images");
            ck_assert(imgs && json_object_is_type(imgs, json_type_array));
            ck_assert_int_ge(json_object_array_length(imgs), 1);
            for (size_t i = 0; i < json_object_array_length(imgs); i++) {
                json_object *im = json_object_array_get_idx(imgs, i);
                only_keys(im, "body.image.images[]", kim);
                require_string(im, "mediaUrl", true);
            }
            if (jget(body, "image.text"))
                require_string(body, "image.text", false);
        } else if (strcmp(type, "file") == 0) {
            static const char *const k[] = { "type", "file", NULL };
            static const char *const kf[] = { "text", "files", "metadata", "actions", NULL };
            static const char *const kff[] = { "mediaUrl", "contentType", "filename", "altText",
                                               "metadata", NULL };
            only_keys(body, "body", k);
            only_keys(jget(body, "file"), "body.file", kf);
            json_object *files = jget(body, "file.files");
            ck_assert(files && json_object_is_type(files, json_type_array));
            ck_assert_int_ge(json_object_array_length(files), 1);
            for (size_t i = 0; i < json_object_array_length(files); i++) {
                json_object *f = json_object_array_get_idx(files, i);
                only_keys(f, "body.file.files[]", kff);
                require_string(f, "mediaUrl", true);
                require_string(f, "contentType", true);
            }
        } else {
            ck_abort_msg("unexpected body type %s", type);
        }
    }
    if (tmpl) {
        static const char *const k[] = { "name", "projectId", "version", "locale", "attachments",
            "shortLinks", "variables", "utmParameters", "parameters", "settings", NULL };
        static const char *const kp[] = { "type", "key", "value", NULL };
        only_keys(tmpl, "template", k);
        json_object *ps = jget(tmpl, "parameters");
        if (ps) {
            ck_assert(json_object_is_type(ps, json_type_array));
            for (size_t i = 0; i < json_object_array_length(ps); i++) {
                json_object *p = json_object_array_get_idx(ps, i);
                only_keys(p, "template.parameters[]", kp);
                require_string(p, "type", true);
                require_string(p, "key", true);             /* minLength 1 */
            }
        }
    }
    json_object *tags = jget(m, "tags");
    if (tags) {
        ck_assert(json_object_is_type(tags, json_type_array));
        ck_assert_int_le(json_object_array_length(tags), 10);
        for (size_t i = 0; i < json_object_array_length(tags); i++) {
            json_object *t = json_object_array_get_idx(tags, i);
            ck_assert(json_object_is_type(t, json_type_string));
            const char *s = json_object_get_string(t);
            ck_assert(strlen(s) >= 1 && strlen(s) <= 50);
            for (const char *c = s; *c; c++)
                ck_assert_msg(isalnum((unsigned char)*c) || strchr("-_ ", *c),
                              "tag \"%s\" breaks the pattern", s);
        }
    }
    json_object *val = jget(m, "validity");
    if (val) {
        ck_assert(json_object_is_type(val, json_type_int));
        ck_assert_int_ge(json_object_get_int64(val), 0);
    }
    if (jget(m, "scheduledFor"))
        require_string(m, "scheduledFor", true);
    if (jget(m, "reference"))
        require_string(m, "reference", false);
}

static json_object *message(const m2s_payload_in *in)
{
    char *s = m2s_payload_message(in);
    json_object *o = parse_ok(s);
    free(s);
    check_create_message(o);
    return o;
}

/* --------------------------------------------------------- messages */

START_TEST(test_text_message)
{
    m2s_payload_in in = {
        .number = "+31612345678",
        .text = "DOWN: web01 is not responding",
        .reference = "20260101.abc@mon.example.com",
    };
    json_object *o = message(&in);
    ck_assert_int_eq(json_object_array_length(jget(o, "receiver.contacts")), 1);
    ASSERT_JSTR(o, "receiver.contacts[0].identifierKey", "phonenumber");
    ASSERT_JSTR(o, "receiver.contacts[0].identifierValue", "+31612345678");
    ASSERT_JSTR(o, "body.type", "text");
    ASSERT_JSTR(o, "body.text.text", "DOWN: web01 is not responding");
    ASSERT_JSTR(o, "reference", "20260101.abc@mon.example.com");
    /* nothing that was not asked for */
    ck_assert_ptr_null(jget(o, "template"));
    ck_assert_ptr_null(jget(o, "tags"));
    ck_assert_ptr_null(jget(o, "validity"));
    ck_assert_ptr_null(jget(o, "scheduledFor"));
    ck_assert_ptr_null(jget(o, "body.text.metadata"));
    json_object_put(o);

    /* no reference: the key is left out, not sent empty */
    in.reference = NULL;
    o = message(&in);
    ck_assert_ptr_null(jget(o, "reference"));
    json_object_put(o);
}
END_TEST

START_TEST(test_options)
{
    m2s_strv tags = { 0 };
    m2s_strv_add(&tags, "monitoring");
    m2s_strv_add(&tags, "on call");
    m2s_payload_in in = {
        .number = "+32470123456",
        .text = "hello",
        .tags = &tags,
        .validity = 3600,
        .scheduled_for = "2026-03-01T08:00:00Z",
    };
    json_object *o = message(&in);
    json_object *t = jget(o, "tags");
    ck_assert_ptr_nonnull(t);
    ck_assert_int_eq(json_object_array_length(t), 2);
    ASSERT_JSTR(o, "tags[0]", "monitoring");
    ASSERT_JSTR(o, "tags[1]", "on call");
    json_object *v = jget(o, "validity");
    ck_assert(v && json_object_is_type(v, json_type_int));
    ck_assert_int_eq(json_object_get_int64(v), 3600);
    ASSERT_JSTR(o, "scheduledFor", "2026-03-01T08:00:00Z");
    json_object_put(o);
    m2s_strv_clear(&tags);

    /* an empty tag list is not sent */
    m2s_strv none = { 0 };
    in.tags = &none;
    in.validity = 0;
    in.scheduled_for = NULL;
    o = message(&in);
    ck_assert_ptr_null(jget(o, "tags"));
    ck_assert_ptr_null(jget(o, "validity"));
    ck_assert_ptr_null(jget(o, "scheduledFor"));
    json_object_put(o);
}
END_TEST

START_TEST(test_image_message)
{
    const m2s_media_ref media[] = {
        { "https://media.example/1/graph.png", "image/png", "graph.png" },
        { "https://media.example/2/cam.jpg", "image/jpeg", "cam.jpg" },
    };
    m2s_payload_in in = {
        .number = "+31612345678",
        .text = "CPU graph attached",
        .subject = "Grafana alert",
        .media = media,
        .n_media = 2,
        .all_images = true,
    };
    json_object *o = message(&in);
    ASSERT_JSTR(o, "body.type", "image");
    ck_assert_int_eq(json_object_array_length(jget(o, "body.image.images")), 2);
    ASSERT_JSTR(o, "body.image.images[0].mediaUrl", "https://media.example/1/graph.png");
    ASSERT_JSTR(o, "body.image.images[1].mediaUrl", "https://media.example/2/cam.jpg");
    ck_assert_ptr_null(jget(o, "body.image.images[0].contentType"));
    ck_assert_ptr_null(jget(o, "body.image.images[0].filename"));
    ASSERT_JSTR(o, "body.image.text", "CPU graph attached");
    ASSERT_JSTR(o, "body.image.metadata.subject", "Grafana alert");
    ck_assert_ptr_null(jget(o, "body.text"));
    ck_assert_ptr_null(jget(o, "body.file"));
    json_object_put(o);

    /* no subject: no metadata */
    in.subject = NULL;
    o = message(&in);
    ck_assert_ptr_null(jget(o, "body.image.metadata"));
    json_object_put(o);
}
END_TEST

START_TEST(test_file_message)
{
    const m2s_media_ref media[] = {
        { "https://media.example/1/report.pdf", "application/pdf", "report.pdf" },
        { "https://media.example/2/x.png", "image/png", "x.png" },
    };
    m2s_payload_in in = {
        .number = "+31612345678",
        .text = "Monthly report",
        .subject = "Report March",
        .media = media,
        .n_media = 2,
        .all_images = false,
    };
    json_object *o = message(&in);
    ASSERT_JSTR(o, "body.type", "file");
    ck_assert_int_eq(json_object_array_length(jget(o, "body.file.files")), 2);
    ASSERT_JSTR(o, "body.file.files[0].mediaUrl", "https://media.example/1/report.pdf");
    ASSERT_JSTR(o, "body.file.files[0].contentType", "application/pdf");
    ASSERT_JSTR(o, "body.file.files[0].filename", "report.pdf");
    ASSERT_JSTR(o, "body.file.files[1].mediaUrl", "https://media.example/2/x.png");
    ASSERT_JSTR(o, "body.file.files[1].contentType", "image/png");
    ASSERT_JSTR(o, "body.file.files[1].filename", "x.png");
    ASSERT_JSTR(o, "body.file.text", "Monthly report");
    ASSERT_JSTR(o, "body.file.metadata.subject", "Report March");
    ck_assert_ptr_null(jget(o, "body.image"));
    json_object_put(o);
}
END_TEST

START_TEST(test_template_message)
{
    m2s_template t = { 0 };
    t.project_id = (char *)"p-1234";
    t.version = (char *)"v7";
    t.locale = (char *)"nl-NL";
    m2s_strv_add(&t.param_keys, "subject");
    m2s_strv_add(&t.param_keys, "body");
    m2s_strv_add(&t.param_values, "{subject}");
    m2s_strv_add(&t.param_values, "{body}");
    m2s_strv values = { 0 };
    m2s_strv_add(&values, "Disk full");
    m2s_strv_add(&values, "/var is at 99%");
    m2s_payload_in in = {
        .number = "+31612345678",
        .text = "this text must not be sent",
        .reference = "ref-1",
        .tmpl = &t,
        .tmpl_values = &values,
    };
    json_object *o = message(&in);
    ck_assert_ptr_null(jget(o, "body"));
    ASSERT_JSTR(o, "template.projectId", "p-1234");
    ASSERT_JSTR(o, "template.version", "v7");
    ASSERT_JSTR(o, "template.locale", "nl-NL");
    json_object *ps = jget(o, "template.parameters");
    ck_assert(ps && json_object_is_type(ps, json_type_array));
    ck_assert_int_eq(json_object_array_length(ps), 2);
    ASSERT_JSTR(o, "template.parameters[0].type", "string");
    ASSERT_JSTR(o, "template.parameters[0].key", "subject");
    ASSERT_JSTR(o, "template.parameters[0].value", "Disk full");
    ASSERT_JSTR(o, "template.parameters[1].type", "string");
    ASSERT_JSTR(o, "template.parameters[1].key", "body");
    ASSERT_JSTR(o, "template.parameters[1].value", "/var is at 99%");
    ASSERT_JSTR(o, "receiver.contacts[0].identifierValue", "+31612345678");
    ASSERT_JSTR(o, "reference", "ref-1");
    char *raw = m2s_payload_message(&in);
    ck_assert_ptr_null(strstr(raw, "this text must not be sent"));
    free(raw);
    json_object_put(o);
    m2s_strv_clear(&values);
    m2s_strv_clear(&t.param_keys);
    m2s_strv_clear(&t.param_values);
}
END_TEST

/* Quotes, backslashes, line breaks, control characters and non-ASCII text
 * survive the round trip exactly. */
START_TEST(test_escaping)
{
    const char *text = "He said \"hi\" \\ back\nline 2\r\n\ttab \x01\x1f "
                       "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80 </script> a/b";
    const char *subject = "\"quoted\" subject\n";
    const m2s_media_ref media[] = {
        { "https://m.example/a?x=1&y=\"2\"", "application/pdf", "r\xc3\xa9sum\xc3\xa9 \"v2\".pdf" },
    };
    m2s_payload_in in = { .number = "+31612345678", .text = text, .reference = "<a\"b>" };
    json_object *o = message(&in);
    ASSERT_JSTR(o, "body.text.text", text);
    ASSERT_JSTR(o, "reference", "<a\"b>");
    json_object_put(o);

    in.media = media;
    in.n_media = 1;
    in.subject = subject;
    o = message(&in);
    ASSERT_JSTR(o, "body.file.text", text);
    ASSERT_JSTR(o, "body.file.metadata.subject", subject);
    ASSERT_JSTR(o, "body.file.files[0].mediaUrl", media[0].url);
    ASSERT_JSTR(o, "body.file.files[0].filename", media[0].filename);
    json_object_put(o);
}
END_TEST

START_TEST(test_presign_body)
{
    char *s = m2s_payload_presign("image/png");
    json_object *o = parse_ok(s);
    ASSERT_JSTR(o, "contentType", "image/png");
    ck_assert_int_eq(json_object_object_length(o), 1);
    json_object_put(o);
    free(s);
}
END_TEST

/* ---------------------------------------------------------- dry run */

START_TEST(test_dry_run_line)
{
    m2s_payload_in in = { .number = "+31612345678", .text = "line1\nline2 \"q\"" };
    char *body = m2s_payload_message(&in);
    const char *url = "https://api.bird.com/workspaces/W/channels/C/messages";
    char *line = m2s_payload_dry_run_line("POST", url, body);
    json_object *o = parse_ok(line);
    ck_assert_int_eq(json_object_object_length(o), 3);
    ASSERT_JSTR(o, "method", "POST");
    ASSERT_JSTR(o, "url", url);
    json_object *b = jget(o, "body");
    ck_assert_msg(b && json_object_is_type(b, json_type_object),
                  "body must be embedded as an object, not a string: %s", line);
    /* exactly the JSON that would be sent */
    json_object *sent = parse_ok(body);
    ck_assert(json_object_equal(b, sent));
    ASSERT_JSTR(o, "body.body.text.text", "line1\nline2 \"q\"");
    json_object_put(sent);
    json_object_put(o);
    free(line);
    free(body);

    /* without a body (an upload) there is no "body" */
    line = m2s_payload_dry_run_line("POST", "https://upload.example/x", NULL);
    o = parse_ok(line);
    ASSERT_JSTR(o, "method", "POST");
    ck_assert_ptr_null(jget(o, "body"));
    json_object_put(o);
    free(line);
}
END_TEST

/* ---------------------------------------------------------- replies */

/* A 202 reply shaped like Bird's ChannelMessage. */
static const char accepted_body[] =
    "{\"id\":\"0d3c5b2e-6f0a-4c21-9a3e-7b5d2f1e8c44\","
    "\"channelId\":\"8a1b2c3d-0000-4000-8000-000000000001\","
    "\"sender\":{\"connector\":{\"id\":\"c1\",\"identifierValue\":\"+3197010200300\"}},"
    "\"receiver\":{\"contacts\":[{\"id\":\"k1\",\"identifierKey\":\"phonenumber\","
    "\"identifierValue\":\"+31612345678\"}]},"
    "\"body\":{\"type\":\"text\",\"text\":{\"text\":\"DOWN: web01\"}},"
    "\"reference\":\"abc@mon.example.com\",\"status\":\"accepted\","
    "\"direction\":\"outgoing\",\"lastStatusAt\":\"2026-01-05T10:00:00.123Z\","
    "\"createdAt\":\"2026-01-05T10:00:00.100Z\",\"updatedAt\":\"2026-01-05T10:00:00.123Z\"}";

START_TEST(test_parse_accepted)
{
    char *id = NULL, *status = NULL;
    ck_assert_int_eq(m2s_payload_parse_accepted(accepted_body, strlen(accepted_body),
                                                &id, &status), 0);
    ck_assert_str_eq(id, "0d3c5b2e-6f0a-4c21-9a3e-7b5d2f1e8c44");
    ck_assert_str_eq(status, "accepted");
    free(id);
    free(status);

    /* a scheduled message reports its own status */
    const char *sched = "{\"id\":\"m2\",\"status\":\"scheduled\"}";
    ck_assert_int_eq(m2s_payload_parse_accepted(sched, strlen(sched), &id, &status), 0);
    ck_assert_str_eq(id, "m2");
    ck_assert_str_eq(status, "scheduled");
    free(id);
    free(status);

    /* only len bytes are read: the buffer need not end in NUL */
    char buf[128];
    const char *good = "{\"id\":\"m3\",\"status\":\"accepted\"}";
    memcpy(buf, good, strlen(good));
    memset(buf + strlen(good), 'Z', sizeof buf - strlen(good));
    ck_assert_int_eq(m2s_payload_parse_accepted(buf, strlen(good), &id, &status), 0);
    ck_assert_str_eq(id, "m3");
    free(id);
    free(status);
}
END_TEST

START_TEST(test_parse_accepted_garbage)
{
    static const char *const bad[] = {
        "", "garbage", "<html>502 Bad Gateway</html>", "[1,2,3]", "\"id\"", "42", "null",
        "{\"status\":\"accepted\"}", "{\"id\":17,\"status\":\"accepted\"}",
        "{\"id\":\"\",\"status\":\"accepted\"}", "{\"id\":\"x\"", "{\"code\":\"x\",\"message\":\"y\"}",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char *id = (char *)"untouched", *status = (char *)"untouched";
        int rc = m2s_payload_parse_accepted(bad[i], strlen(bad[i]), &id, &status);
        ck_assert_msg(rc == -1, "accepted \"%s\"", bad[i]);
        ck_assert_ptr_null(id);
        ck_assert_ptr_null(status);
    }
    char *id, *status;
    ck_assert_int_eq(m2s_payload_parse_accepted(NULL, 0, &id, &status), -1);
}
END_TEST

START_TEST(test_error_request_error)
{
    const char *body = "{\"code\":\"InvalidPayload\",\"message\":\"The receiver is invalid\"}";
    char *t = m2s_payload_error_text(body, strlen(body));
    ck_assert_ptr_nonnull(t);
    ck_assert_ptr_nonnull(strstr(t, "InvalidPayload"));
    ck_assert_ptr_nonnull(strstr(t, "The receiver is invalid"));
    ck_assert_ptr_null(strchr(t, '\n'));
    free(t);

    /* a line break inside the message does not break the line */
    body = "{\"code\":\"NotFound\",\"message\":\"channel\\nnot found\"}";
    t = m2s_payload_error_text(body, strlen(body));
    ck_assert_ptr_nonnull(t);
    ck_assert_ptr_null(strchr(t, '\n'));
    ck_assert_ptr_nonnull(strstr(t, "NotFound"));
    ck_assert_ptr_nonnull(strstr(t, "channel"));
    ck_assert_ptr_nonnull(strstr(t, "not found"));
    free(t);
}
END_TEST

START_TEST(test_error_validation_error)
{
    const char *body =
        "{\"code\":\"ValidationError\",\"message\":\"The request did not pass validation\","
        "\"details\":{\"receiver.contacts.0.identifierValue\":[\"must be E.164\"],"
        "\"body.text.text\":[\"is required\",\"must be a string\"]}}";
    char *t = m2s_payload_error_text(body, strlen(body));
    ck_assert_ptr_nonnull(t);
    static const char *const parts[] = {
        "ValidationError", "The request did not pass validation",
        "receiver.contacts.0.identifierValue", "must be E.164",
        "body.text.text", "is required", "must be a string",
    };
    for (size_t i = 0; i < sizeof parts / sizeof parts[0]; i++)
        ck_assert_msg(strstr(t, parts[i]) != NULL, "\"%s\" missing from \"%s\"", parts[i], t);
    ck_assert_ptr_null(strchr(t, '\n'));
    ck_assert_int_le(strlen(t), 200);
    free(t);
}
END_TEST

START_TEST(test_error_huge)
{
    m2s_buf b;
    m2s_buf_init(&b);
    m2s_buf_adds(&b, "{\"code\":\"ValidationError\",\"message\":\"Many problems\",\"details\":{");
    for (int i = 0; i < 300; i++)
        m2s_buf_printf(&b, "%s\"field%d\":[\"problem \xc3\xa9 number %d\\nwith a line break\"]",
                       i ? "," : "", i, i);
    m2s_buf_adds(&b, "}}");
    char *t = m2s_payload_error_text(b.data, b.len);
    ck_assert_ptr_nonnull(t);
    ck_assert_msg(strlen(t) <= 200, "error text is %zu bytes", strlen(t));
    ck_assert_ptr_null(strchr(t, '\n'));
    ck_assert(g_utf8_validate(t, -1, NULL));
    ck_assert_ptr_nonnull(strstr(t, "ValidationError"));
    free(t);
    m2s_buf_clear(&b);
}
END_TEST

START_TEST(test_error_not_bird)
{
    static const char *const bad[] = {
        "", "Bad Gateway", "<html><body>503</body></html>", "[\"code\"]", "{}",
        "{\"error\":\"something\"}", "{\"code\":",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char *t = m2s_payload_error_text(bad[i], strlen(bad[i]));
        ck_assert_msg(t == NULL, "\"%s\" gave \"%s\"", bad[i], t);
    }
    ck_assert_ptr_null(m2s_payload_error_text(NULL, 0));
}
END_TEST

/* The presigned-upload reply: the form fields go back in the order given
 * (S3 wants the policy fields before the file). */
START_TEST(test_parse_presign)
{
    const char *body =
        "{\"mediaUrl\":\"https://media.api.bird.com/workspaces/W/media/abc\","
        "\"uploadUrl\":\"https://bird-media.s3.amazonaws.com/\","
        "\"uploadMethod\":\"POST\","
        "\"uploadFormData\":{\"key\":\"W/abc\",\"x-amz-algorithm\":\"AWS4-HMAC-SHA256\","
        "\"Content-Type\":\"image/png\",\"policy\":\"eyJleHA=\",\"acl\":\"private\","
        "\"x-amz-signature\":\"0f1e\"}}";
    m2s_presign p;
    ck_assert_int_eq(m2s_payload_parse_presign(body, strlen(body), &p), 0);
    ck_assert_str_eq(p.media_url, "https://media.api.bird.com/workspaces/W/media/abc");
    ck_assert_str_eq(p.upload_url, "https://bird-media.s3.amazonaws.com/");
    ck_assert_str_eq(p.upload_method, "POST");
    static const char *const names[] = { "key", "x-amz-algorithm", "Content-Type", "policy",
                                         "acl", "x-amz-signature" };
    static const char *const values[] = { "W/abc", "AWS4-HMAC-SHA256", "image/png", "eyJleHA=",
                                          "private", "0f1e" };
    ck_assert_uint_eq(p.form_names.n, 6);
    ck_assert_uint_eq(p.form_values.n, 6);
    for (size_t i = 0; i < 6; i++) {
        ck_assert_str_eq(p.form_names.v[i], names[i]);
        ck_assert_str_eq(p.form_values.v[i], values[i]);
    }
    m2s_presign_clear(&p);
    ck_assert_ptr_null(p.media_url);
    ck_assert_uint_eq(p.form_names.n, 0);

    /* uploadMethod absent: POST */
    const char *nomethod = "{\"mediaUrl\":\"https://m/x\",\"uploadUrl\":\"https://u/x\"}";
    ck_assert_int_eq(m2s_payload_parse_presign(nomethod, strlen(nomethod), &p), 0);
    ck_assert_str_eq(p.upload_method, "POST");
    ck_assert_uint_eq(p.form_names.n, 0);
    m2s_presign_clear(&p);
}
END_TEST

START_TEST(test_parse_presign_bad)
{
    static const char *const bad[] = {
        "", "nonsense", "[]",
        "{\"uploadUrl\":\"https://u/x\",\"uploadFormData\":{\"k\":\"v\"}}",
        "{\"mediaUrl\":\"https://m/x\",\"uploadFormData\":{\"k\":\"v\"}}",
        "{\"mediaUrl\":5,\"uploadUrl\":\"https://u/x\"}",
        "{\"code\":\"NotFound\",\"message\":\"no such channel\"}",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        m2s_presign p;
        ck_assert_msg(m2s_payload_parse_presign(bad[i], strlen(bad[i]), &p) == -1,
                      "accepted \"%s\"", bad[i]);
        /* nothing left to free */
        ck_assert_ptr_null(p.media_url);
        ck_assert_ptr_null(p.upload_url);
        ck_assert_ptr_null(p.upload_method);
        ck_assert_uint_eq(p.form_names.n, 0);
    }
}
END_TEST

static Suite *make_suite(void)
{
    Suite *s = suite_create("payload");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_text_message);
    tcase_add_test(tc, test_options);
    tcase_add_test(tc, test_image_message);
    tcase_add_test(tc, test_file_message);
    tcase_add_test(tc, test_template_message);
    tcase_add_test(tc, test_escaping);
    tcase_add_test(tc, test_presign_body);
    tcase_add_test(tc, test_dry_run_line);
    tcase_add_test(tc, test_parse_accepted);
    tcase_add_test(tc, test_parse_accepted_garbage);
    tcase_add_test(tc, test_error_request_error);
    tcase_add_test(tc, test_error_validation_error);
    tcase_add_test(tc, test_error_huge);
    tcase_add_test(tc, test_error_not_bird);
    tcase_add_test(tc, test_parse_presign);
    tcase_add_test(tc, test_parse_presign_bad);
    suite_add_tcase(s, tc);
    return s;
}
