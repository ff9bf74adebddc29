/* payload.c - Bird's JSON with json-c. Children of a json object are
 * borrowed from it; every string returned here is a new copy. */
#include "build-config.h"

#include <json-c/json.h>
#include <stdlib.h>
#include <string.h>

#include "payload.h"

static void add_str(json_object *o, const char *k, const char *v)
{
    json_object_object_add(o, k, json_object_new_string(v));
}

static char *to_string(json_object *o)
{
    char *s = xstrdup(json_object_to_json_string_ext(
        o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
    json_object_put(o);
    return s;
}

static json_object *media_body(const m2s_payload_in *in)
{
    json_object *body = json_object_new_object();
    json_object *inner = json_object_new_object();
    json_object *list = json_object_new_array();
    for (size_t i = 0; i < in->n_media; i++) {
        json_object *m = json_object_new_object();
        add_str(m, "mediaUrl", in->media[i].url);
        if (!in->all_images) {
            add_str(m, "contentType", in->media[i].content_type);
            if (in->media[i].filename)
                add_str(m, "filename", in->media[i].filename);
        }
        json_object_array_add(list, m);
    }
    const char *type = in->all_images ? "image" : "file";
    if (in->text && *in->text)
        add_str(inner, "text", in->text);
    json_object_object_add(inner, in->all_images ? "images" : "files", list);
    if (in->subject && *in->subject) {
        json_object *meta = json_object_new_object();
        add_str(meta, "subject", in->subject);
        json_object_object_add(inner, "metadata", meta);
    }
    add_str(body, "type", type);
    json_object_object_add(body, type, inner);
    return body;
}

static json_object *text_body(const m2s_payload_in *in)
{
    json_object *body = json_object_new_object();
    json_object *inner = json_object_new_object();
    add_str(body, "type", "text");
    add_str(inner, "text", in->text ? in->text : "");
    json_object_object_add(body, "text", inner);
    return body;
}

static json_object *template_obj(const m2s_payload_in *in)
{
    json_object *t = json_object_new_object();
    add_str(t, "projectId", in->tmpl->project_id);
    add_str(t, "version", in->tmpl->version);
    add_str(t, "locale", in->tmpl->locale);
    json_object *params = json_object_new_array();
    for (size_t i = 0; i < in->tmpl->param_keys.n; i++) {
        json_object *p = json_object_new_object();
        add_str(p, "type", "string");
        add_str(p, "key", in->tmpl->param_keys.v[i]);
        const char *v = in->tmpl_values && i < in->tmpl_values->n
                            ? in->tmpl_values->v[i] : in->tmpl->param_values.v[i];
        add_str(p, "value", v);
        json_object_array_add(params, p);
    }
    json_object_object_add(t, "parameters", params);
    return t;
}

char *m2s_payload_message(const m2s_payload_in *in)
{
    json_object *root = json_object_new_object();
    json_object *receiver = json_object_new_object();
    json_object *contacts = json_object_new_array();
    json_object *contact = json_object_new_object();
    add_str(contact, "identifierKey", "phonenumber");
    add_str(contact, "identifierValue", in->number);
    json_object_array_add(contacts, contact);
    json_object_object_add(receiver, "contacts", contacts);
    json_object_object_add(root, "receiver", receiver);

    if (in->tmpl)
        json_object_object_add(root, "template", template_obj(in));
    else if (in->n_media)
        json_object_object_add(root, "body", media_body(in));
    else
        json_object_object_add(root, "body", text_body(in));

    if (in->reference && *in->reference)
        add_str(root, "reference", in->reference);
    if (in->tags && in->tags->n) {
        json_object *tags = json_object_new_array();
        for (size_t i = 0; i < in->tags->n; i++)
            json_object_array_add(tags, json_object_new_string(in->tags->v[i]));
        json_object_object_add(root, "tags", tags);
    }
    if (in->validity > 0)
        json_object_object_add(root, "validity", json_object_new_int64(in->validity));
    if (in->scheduled_for && *in->scheduled_for)
        add_str(root, "scheduledFor", in->scheduled_for);
    return to_string(root);
}

char *m2s_payload_presign(const char *content_type)
{
    json_object *root = json_object_new_object();
    add_str(root, "contentType", content_type);
    return to_string(root);
}

char *m2s_payload_dry_run_line(const char *method, const char *url, const char *body_json)
{
    json_object *root = json_object_new_object();
    add_str(root, "method", method);
    add_str(root, "url", url);
    if (body_json) {
        json_object *body = json_tokener_parse(body_json);
        json_object_object_add(root, "body", body ? body : json_object_new_string(body_json));
    }
    return to_string(root);
}

static json_object *parse(const char *body, size_t len)
{
    if (!body || !len)
        return NULL;
    json_tokener *tok = json_tokener_new();
    json_object *o = json_tokener_parse_ex(tok, body, (int)len);
    if (json_tokener_get_error(tok) != json_tokener_success) {
        json_object_put(o);
        o = NULL;
    }
    json_tokener_free(tok);
    if (o && !json_object_is_type(o, json_type_object)) {
        json_object_put(o);
        o = NULL;
    }
    return o;
}

static const char *get_str(json_object *o, const char *k)
{
    json_object *v;
    if (!json_object_object_get_ex(o, k, &v) || !json_object_is_type(v, json_type_string))
        return NULL;
    return json_object_get_string(v);
}

int m2s_payload_parse_accepted(const char *body, size_t len, char **id, char **status)
{
    *id = NULL;
    *status = NULL;
    json_object *o = parse(body, len);
    if (!o)
        return -1;
    const char *i = get_str(o, "id"), *s = get_str(o, "status");
    int rc = -1;
    if (i && *i) {
        *id = xstrdup(i);
        *status = xstrdup(s ? s : "accepted");
        rc = 0;
    }
    json_object_put(o);
    return rc;
}

int m2s_payload_parse_status(const char *body, size_t len, char **status, char **reason,
                             char **source)
{
    *status = *reason = *source = NULL;
    json_object *o = parse(body, len);
    if (!o)
        return -1;
    const char *s = get_str(o, "status"), *r = get_str(o, "reason");
    int rc = -1;
    if (!s || !*s || !get_str(o, "id"))
        goto out;
    *status = xstrdup(s);
    json_object *f, *src;
    const char *desc = NULL, *name = NULL, *code = NULL;
    if (json_object_object_get_ex(o, "failure", &f) && json_object_is_type(f, json_type_object)) {
        desc = get_str(f, "description");
        if (json_object_object_get_ex(f, "source", &src) &&
            json_object_is_type(src, json_type_object)) {
            name = get_str(src, "name");
            code = get_str(src, "code");
        }
    }
    if (r && *r)
        *reason = xstrdup(r);
    else if (desc && *desc)
        *reason = xstrdup(desc);
    if (name || code)
        *source = xasprintf("%s%s%s", name ? name : "", name && code ? " " : "",
                            code ? code : "");
    rc = 0;
out:
    json_object_put(o);
    return rc;
}

char *m2s_payload_error_text(const char *body, size_t len)
{
    json_object *o = parse(body, len);
    if (!o)
        return NULL;
    const char *code = get_str(o, "code"), *msg = get_str(o, "message");
    char *out = NULL;
    if (!code && !msg)
        goto out;
    m2s_buf b;
    m2s_buf_init(&b);
    if (code)
        m2s_buf_adds(&b, code);
    if (msg)
        m2s_buf_printf(&b, "%s%s", code ? ": " : "", msg);
    json_object *details;
    if (json_object_object_get_ex(o, "details", &details) &&
        json_object_is_type(details, json_type_object)) {
        bool first = true;
        json_object_object_foreach(details, field, problems) {
            m2s_buf_adds(&b, first ? " (" : "; ");
            first = false;
            m2s_buf_adds(&b, field);
            if (json_object_is_type(problems, json_type_array)) {
                for (size_t i = 0; i < json_object_array_length(problems); i++) {
                    json_object *p = json_object_array_get_idx(problems, i);
                    m2s_buf_printf(&b, "%s%s", i ? ", " : ": ", json_object_get_string(p));
                }
            } else {
                m2s_buf_printf(&b, ": %s", json_object_get_string(problems));
            }
        }
        if (!first)
            m2s_buf_addc(&b, ')');
    }
    char *raw = m2s_buf_steal(&b);
    out = m2s_oneline(raw, 200);
    free(raw);
out:
    json_object_put(o);
    return out;
}

int m2s_payload_parse_presign(const char *body, size_t len, m2s_presign *out)
{
    memset(out, 0, sizeof *out);
    json_object *o = parse(body, len);
    if (!o)
        return -1;
    int rc = -1;
    const char *media = get_str(o, "mediaUrl"), *upload = get_str(o, "uploadUrl");
    const char *method = get_str(o, "uploadMethod");
    if (!media || !upload)
        goto out;
    out->media_url = xstrdup(media);
    out->upload_url = xstrdup(upload);
    out->upload_method = xstrdup(method ? method : "POST");
    json_object *form;
    if (json_object_object_get_ex(o, "uploadFormData", &form) &&
        json_object_is_type(form, json_type_object)) {
        json_object_object_foreach(form, k, v) {
            m2s_strv_add(&out->form_names, k);
            m2s_strv_add(&out->form_values, json_object_get_string(v));
        }
    }
    rc = 0;
out:
    json_object_put(o);
    if (rc)
        m2s_presign_clear(out);
    return rc;
}

void m2s_presign_clear(m2s_presign *p)
{
    free(p->media_url);
    free(p->upload_url);
    free(p->upload_method);
    m2s_strv_clear(&p->form_names);
    m2s_strv_clear(&p->form_values);
    memset(p, 0, sizeof *p);
}
