/* config.c - load and validate the configuration file with libconfig.
 *
 * Pass 1 is libconfig's own parse (syntax errors carry a line number).
 * Pass 2 walks every setting in the file and checks it against the key
 * table below: unknown keys, wrong types and bad values each become one
 * problem line "FILE:LINE: ...". Values are copied into struct m2s_config,
 * so the libconfig tree is released before this module returns.
 */
#include "build-config.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <libconfig.h>
#include <regex.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config.h"
#include "log.h"
#include "rules.h"

typedef enum {
    K_GROUP,        /* a group of further keys */
    K_STR,
    K_INT,          /* long */
    K_INT64,        /* int64_t */
    K_NUM,          /* double; integers accepted */
    K_BOOL,
    K_ENUM,         /* string from choices, stored as int index */
    K_LIST,         /* list or array of strings -> m2s_strv */
    K_MMS,          /* "auto" or a boolean */
    K_ALIASES,      /* recipients.aliases */
    K_TEMPLATE,     /* message.template */
    K_RULES         /* message.rules */
} key_kind;

typedef struct key_def {
    const char *name;
    key_kind kind;
    size_t off;
    const char *choices;    /* K_ENUM: "a|b|c" */
    double min, max;        /* numeric range */
    const char *type_doc;
} key_def;

#define OFF(f) offsetof(m2s_config, f)
#define NOFF ((size_t)-1)

static const key_def keys[] = {
    { "bird",                       K_GROUP, NOFF, NULL, 0, 0, "group" },
    { "bird.api_url",               K_STR,   OFF(api_url), NULL, 0, 0, "string" },
    { "bird.workspace_id",          K_STR,   OFF(workspace_id), NULL, 0, 0, "string" },
    { "bird.channel_id",            K_STR,   OFF(channel_id), NULL, 0, 0, "string" },
    { "bird.access_key_file",       K_STR,   OFF(access_key_file), NULL, 0, 0, "string" },
    { "bird.access_key",            K_STR,   OFF(access_key), NULL, 0, 0, "string" },
    { "bird.ca_file",               K_STR,   OFF(ca_file), NULL, 0, 0, "string" },
    { "bird.timeout",               K_INT,   OFF(timeout), NULL, 1, 600, "integer" },
    { "bird.connect_timeout",       K_INT,   OFF(connect_timeout), NULL, 1, 600, "integer" },
    { "bird.concurrency",           K_INT,   OFF(concurrency), NULL, 1, 64, "integer" },
    { "bird.max_rate",              K_NUM,   OFF(max_rate), NULL, 0.1, 500, "number" },
    { "bird.outage_probe",          K_INT,   OFF(outage_probe), NULL, 0, 3600, "integer" },
    { "recipients",                 K_GROUP, NOFF, NULL, 0, 0, "group" },
    { "recipients.default_country", K_STR,   OFF(default_country), NULL, 0, 0, "string" },
    { "recipients.allowed_prefixes", K_LIST, OFF(allowed_prefixes), NULL, 0, 0, "list" },
    { "recipients.aliases",         K_ALIASES, NOFF, NULL, 0, 0, "group" },
    { "senders",                    K_GROUP, NOFF, NULL, 0, 0, "group" },
    { "senders.allowed",            K_LIST,  OFF(senders_allowed), NULL, 0, 0, "list" },
    { "senders.check",              K_ENUM,  OFF(sender_check), "both|envelope|header", 0, 0, "string" },
    { "senders.allow_null",         K_BOOL,  OFF(allow_null_sender), NULL, 0, 0, "boolean" },
    { "senders.token",              K_STR,   OFF(sender_token), NULL, 0, 0, "string" },
    { "senders.trusted",            K_LIST,  OFF(senders_trusted), NULL, 0, 0, "list" },
    { "message",                    K_GROUP, NOFF, NULL, 0, 0, "group" },
    { "message.format",             K_STR,   OFF(format), NULL, 0, 0, "string" },
    { "message.max_parts",          K_INT,   OFF(max_parts), NULL, 1, 10, "integer" },
    { "message.on_too_long",        K_ENUM,  OFF(on_too_long), "truncate|reject", 0, 0, "string" },
    { "message.prefer",             K_ENUM,  OFF(prefer), "auto|plain|html", 0, 0, "string" },
    { "message.strip_signature",    K_BOOL,  OFF(strip_signature), NULL, 0, 0, "boolean" },
    { "message.strip_quotes",       K_BOOL,  OFF(strip_quotes), NULL, 0, 0, "boolean" },
    { "message.collapse_blank",     K_BOOL,  OFF(collapse_blank), NULL, 0, 0, "boolean" },
    { "message.transliterate",      K_BOOL,  OFF(transliterate), NULL, 0, 0, "boolean" },
    { "message.strip",              K_LIST,  OFF(strip_patterns), NULL, 0, 0, "list" },
    { "message.tags",               K_LIST,  OFF(tags), NULL, 0, 0, "list" },
    { "message.validity",           K_INT,   OFF(validity), NULL, 0, M2S_RULES_VALIDITY_MAX, "integer" },
    { "message.template",           K_TEMPLATE, NOFF, NULL, 0, 0, "group" },
    { "message.condense",           K_BOOL,  OFF(condense), NULL, 0, 0, "boolean" },
    { "message.keep_emoji",         K_BOOL,  OFF(keep_emoji), NULL, 0, 0, "boolean" },
    { "message.rules",              K_RULES, NOFF, NULL, 0, 0, "group" },
    { "media",                      K_GROUP, NOFF, NULL, 0, 0, "group" },
    { "media.store",                K_ENUM,  OFF(media_store), "bird|directory", 0, 0, "string" },
    { "media.mms",                  K_MMS,   OFF(mms), NULL, 0, 0, "string|boolean" },
    { "media.non_mms",              K_ENUM,  OFF(non_mms), "links|drop", 0, 0, "string" },
    { "media.directory",            K_STR,   OFF(media_directory), NULL, 0, 0, "string" },
    { "media.base_url",             K_STR,   OFF(media_base_url), NULL, 0, 0, "string" },
    { "media.max_bytes",            K_INT64, OFF(media_max_bytes), NULL, 1, 1e11, "integer" },
    { "media.max_total_bytes",      K_INT64, OFF(media_max_total_bytes), NULL, 1, 1e11, "integer" },
    { "media.on_too_large",         K_ENUM,  OFF(on_too_large), "note|reject", 0, 0, "string" },
    { "media.presign_path",         K_ENUM,  OFF(presign_path), "channel|workspace", 0, 0, "string" },
    { "limits",                     K_GROUP, NOFF, NULL, 0, 0, "group" },
    { "limits.per_number_per_hour", K_INT,   OFF(per_number_per_hour), NULL, 0, 1e9, "integer" },
    { "limits.per_sender_per_hour", K_INT,   OFF(per_sender_per_hour), NULL, 0, 1e9, "integer" },
    { "limits.duplicate_window",    K_INT,   OFF(duplicate_window), NULL, 0, 86400, "integer" },
    { "limits.on_exceed",           K_ENUM,  OFF(on_exceed), "defer|drop", 0, 0, "string" },
    { "limits.max_message_bytes",   K_INT64, OFF(max_message_bytes), NULL, 1024, 1e10, "integer" },
    { "limits.max_mime_depth",      K_INT,   OFF(max_mime_depth), NULL, 1, 1000, "integer" },
    { "limits.max_mime_parts",      K_INT,   OFF(max_mime_parts), NULL, 1, 100000, "integer" },
    { "state",                      K_GROUP, NOFF, NULL, 0, 0, "group" },
    { "state.retention_days",       K_INT,   OFF(retention_days), NULL, 1, 3650, "integer" },
    { "state.backend",              K_ENUM,  OFF(state_backend), "sqlite|postgresql", 0, 0, "string" },
    { "state.postgresql",           K_STR,   OFF(state_postgresql), NULL, 0, 0, "string" },
    { "state.password_file",        K_STR,   OFF(state_password_file), NULL, 0, 0, "string" },
    { "state.claim_ttl",            K_INT,   OFF(claim_ttl), NULL, 10, 86400, "integer" },
    { "tracking",                   K_GROUP, NOFF, NULL, 0, 0, "group" },
    { "tracking.on_failure",        K_LIST,  OFF(track_on_failure), NULL, 0, 0, "list" },
    { "tracking.notify_to",         K_STR,   OFF(track_notify_to), NULL, 0, 0, "string" },
    { "tracking.fallback",          K_STR,   OFF(track_fallback), NULL, 0, 0, "string" },
    { "tracking.sendmail",          K_STR,   OFF(track_sendmail), NULL, 0, 0, "string" },
    { "tracking.max_age",           K_INT,   OFF(track_max_age), NULL, 60, 30 * 86400, "integer" },
    { "tracking.max_rate",          K_NUM,   OFF(track_max_rate), NULL, 0.1, 50, "number" },
    { "state_dir",                  K_STR,   OFF(state_dir), NULL, 0, 0, "string" },
    { "log_file",                   K_STR,   OFF(log_file), NULL, 0, 0, "string" },
    { "log_time",                   K_ENUM,  OFF(log_time), "postfix|iso8601", 0, 0, "string" },
    { "deadline",                   K_INT,   OFF(deadline), NULL, 5, 3600, "integer" },
    { "service",                    K_GROUP, NOFF, NULL, 0, 0, "group" },
    { "service.listen",             K_LIST,  OFF(listen), NULL, 0, 0, "list" },
    { "service.max_connections",    K_INT,   OFF(max_connections), NULL, 1, 10000, "integer" },
    { "service.workers",            K_INT,   OFF(workers), NULL, 1, 64, "integer" },
    { "service.timeout",            K_INT,   OFF(client_timeout), NULL, 5, 3600, "integer" },
};
#define N_KEYS (sizeof keys / sizeof keys[0])

/* Free-named keys below aliases and templates, for the documentation check. */
static const m2s_key_info key_infos_extra[] = {
    { "recipients.aliases.*", "list" },
    { "recipients.aliases.*.numbers", "list" },
    { "recipients.aliases.*.format", "string" },
    { "recipients.aliases.*.template", "group" },
    { "recipients.aliases.*.condense", "boolean" },
    { "message.rules.*", "group" },
    { "message.rules.*.from", "string" },
    { "message.rules.*.subject", "string" },
    { "message.rules.*.header", "string" },
    { "message.rules.*.first", "list" },
    { "message.rules.*.drop", "list" },
    { "message.template.project_id", "string" },
    { "message.template.version", "string" },
    { "message.template.locale", "string" },
    { "message.template.parameters", "group" },
    { "message.template.parameters.*", "string" },
};

const m2s_key_info *m2s_config_keys(size_t *n)
{
    static m2s_key_info all[N_KEYS + sizeof key_infos_extra / sizeof key_infos_extra[0]];
    static size_t count;
    if (!count) {
        for (size_t i = 0; i < N_KEYS; i++) {
            all[count].name = keys[i].name;
            all[count].type = keys[i].type_doc;
            count++;
        }
        for (size_t i = 0; i < sizeof key_infos_extra / sizeof key_infos_extra[0]; i++)
            all[count++] = key_infos_extra[i];
    }
    *n = count;
    return all;
}

const char *m2s_config_default_path(void)
{
    return SYSCONFDIR "/mail2sms/mail2sms.conf";
}

/* ------------------------------------------------------------ helpers */

typedef struct loader {
    const char *file;
    m2s_strv *problems;
    int n_problems;
} loader;

__attribute__((format(printf, 3, 4)))
static void problem(loader *ld, const config_setting_t *s, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *msg = xvasprintf(fmt, ap);
    va_end(ap);
    int line = s ? (int)config_setting_source_line(s) : 0;
    char *full = line > 0 ? xasprintf("%s:%d: %s", ld->file, line, msg)
                          : xasprintf("%s: %s", ld->file, msg);
    free(msg);
    ld->n_problems++;
    if (ld->problems)
        m2s_strv_take(ld->problems, full);
    else
        free(full);
}

/* "a.b.c" of a setting. New string. */
static char *setting_path(const config_setting_t *s)
{
    const char *names[32];
    int n = 0;
    for (const config_setting_t *p = s; p && n < 32; p = config_setting_parent(p)) {
        if (config_setting_is_root(p))
            break;
        names[n++] = config_setting_name(p) ? config_setting_name(p) : "[]";
    }
    m2s_buf b;
    m2s_buf_init(&b);
    for (int i = n - 1; i >= 0; i--) {
        m2s_buf_adds(&b, names[i]);
        if (i)
            m2s_buf_addc(&b, '.');
    }
    return m2s_buf_steal(&b);
}

static const key_def *find_key(const char *path)
{
    for (size_t i = 0; i < N_KEYS; i++)
        if (strcmp(keys[i].name, path) == 0)
            return &keys[i];
    return NULL;
}

static const char *type_name(int t)
{
    switch (t) {
    case CONFIG_TYPE_GROUP: return "a group";
    case CONFIG_TYPE_INT: case CONFIG_TYPE_INT64: return "an integer";
    case CONFIG_TYPE_FLOAT: return "a number";
    case CONFIG_TYPE_STRING: return "a string";
    case CONFIG_TYPE_BOOL: return "a boolean";
    case CONFIG_TYPE_ARRAY: return "an array";
    case CONFIG_TYPE_LIST: return "a list";
    default: return "something else";
    }
}

static bool is_int(const config_setting_t *s)
{
    int t = config_setting_type(s);
    return t == CONFIG_TYPE_INT || t == CONFIG_TYPE_INT64;
}

/* A list or array whose members are all strings: copy into out. */
static bool get_strv(loader *ld, const config_setting_t *s, const char *path,
                     m2s_strv *out)
{
    int t = config_setting_type(s);
    if (t == CONFIG_TYPE_STRING) {          /* a lone string is a list of one */
        m2s_strv_add(out, config_setting_get_string(s));
        return true;
    }
    if (t != CONFIG_TYPE_ARRAY && t != CONFIG_TYPE_LIST) {
        problem(ld, s, "'%s' must be a list of strings, not %s", path, type_name(t));
        return false;
    }
    bool ok = true;
    for (int i = 0; i < config_setting_length(s); i++) {
        const config_setting_t *e = config_setting_get_elem(s, (unsigned)i);
        if (config_setting_type(e) != CONFIG_TYPE_STRING) {
            problem(ld, e, "'%s' must hold only strings", path);
            ok = false;
            continue;
        }
        m2s_strv_add(out, config_setting_get_string(e));
    }
    return ok;
}

static void set_str(char **dst, const char *v)
{
    free(*dst);
    *dst = xstrdup(v);
}

/* ------------------------------------------------------- templates */

static m2s_template *load_template(loader *ld, const config_setting_t *s,
                                   const char *path)
{
    if (config_setting_type(s) != CONFIG_TYPE_GROUP) {
        problem(ld, s, "'%s' must be a group", path);
        return NULL;
    }
    m2s_template *t = xcalloc(1, sizeof *t);
    t->version = xstrdup("latest");
    t->locale = xstrdup("en");
    for (int i = 0; i < config_setting_length(s); i++) {
        const config_setting_t *e = config_setting_get_elem(s, (unsigned)i);
        const char *name = config_setting_name(e);
        char **dst = NULL;
        if (strcmp(name, "project_id") == 0)
            dst = &t->project_id;
        else if (strcmp(name, "version") == 0)
            dst = &t->version;
        else if (strcmp(name, "locale") == 0)
            dst = &t->locale;
        if (dst) {
            if (config_setting_type(e) != CONFIG_TYPE_STRING || !*config_setting_get_string(e))
                problem(ld, e, "'%s.%s' must be a non-empty string", path, name);
            else
                set_str(dst, config_setting_get_string(e));
        } else if (strcmp(name, "parameters") == 0) {
            if (config_setting_type(e) != CONFIG_TYPE_GROUP) {
                problem(ld, e, "'%s.parameters' must be a group of name = \"value\"", path);
                continue;
            }
            for (int j = 0; j < config_setting_length(e); j++) {
                const config_setting_t *p = config_setting_get_elem(e, (unsigned)j);
                if (config_setting_type(p) != CONFIG_TYPE_STRING) {
                    problem(ld, p, "'%s.parameters.%s' must be a string", path,
                            config_setting_name(p));
                    continue;
                }
                m2s_strv_add(&t->param_keys, config_setting_name(p));
                m2s_strv_add(&t->param_values, config_setting_get_string(p));
            }
        } else {
            problem(ld, e, "unknown key '%s.%s'", path, name);
        }
    }
    if (!t->project_id)
        problem(ld, s, "'%s' needs project_id", path);
    return t;
}

static void free_template(m2s_template *t)
{
    if (!t)
        return;
    free(t->project_id);
    free(t->version);
    free(t->locale);
    m2s_strv_clear(&t->param_keys);
    m2s_strv_clear(&t->param_values);
    free(t);
}

/* --------------------------------------------------------- aliases */

static void check_alias_numbers(loader *ld, const m2s_config *cfg,
                                 const config_setting_t *s, const m2s_alias *a)
{
    for (size_t i = 0; i < a->numbers.n; i++) {
        const char *why = NULL;
        char *num = m2s_rules_number(a->numbers.v[i], cfg->default_country, &why);
        if (!num)
            problem(ld, s, "alias '%s': \"%s\" is not a phone number (%s)", a->name,
                    a->numbers.v[i], why ? why : "invalid");
        free(num);
    }
    if (a->numbers.n == 0)
        problem(ld, s, "alias '%s' has no numbers", a->name);
}

static bool valid_alias_name(const char *name)
{
    if (!*name || strlen(name) > 64)
        return false;
    for (const char *p = name; *p; p++)
        if (!isalnum((unsigned char)*p) && !strchr("._-+", *p))
            return false;
    return true;
}

static void add_alias(loader *ld, m2s_config *cfg, const config_setting_t *s,
                      const char *name, const config_setting_t *body, bool list_form)
{
    if (!valid_alias_name(name)) {
        problem(ld, s, "alias name \"%s\" must be letters, digits, '.', '_', '-' or '+'", name);
        return;
    }
    for (size_t i = 0; i < cfg->n_aliases; i++)
        if (strcasecmp(cfg->aliases[i].name, name) == 0) {
            problem(ld, s, "alias '%s' is defined twice", name);
            return;
        }
    cfg->aliases = xrealloc(cfg->aliases, (cfg->n_aliases + 1) * sizeof *cfg->aliases);
    m2s_alias *a = &cfg->aliases[cfg->n_aliases++];
    memset(a, 0, sizeof *a);
    a->condense = -1;
    a->name = xstrdup(name);
    char *path = xasprintf("recipients.aliases.%s", name);
    if (config_setting_type(body) == CONFIG_TYPE_GROUP) {
        for (int i = 0; i < config_setting_length(body); i++) {
            const config_setting_t *e = config_setting_get_elem(body, (unsigned)i);
            const char *k = config_setting_name(e);
            if (strcmp(k, "numbers") == 0) {
                get_strv(ld, e, path, &a->numbers);
            } else if (strcmp(k, "format") == 0) {
                if (config_setting_type(e) != CONFIG_TYPE_STRING)
                    problem(ld, e, "'%s.format' must be a string", path);
                else
                    set_str(&a->format, config_setting_get_string(e));
            } else if (strcmp(k, "template") == 0) {
                char *tp = xasprintf("%s.template", path);
                a->tmpl = load_template(ld, e, tp);
                free(tp);
            } else if (strcmp(k, "condense") == 0) {
                if (config_setting_type(e) != CONFIG_TYPE_BOOL)
                    problem(ld, e, "'%s.condense' must be true or false", path);
                else
                    a->condense = config_setting_get_bool(e) != 0;
            } else if (strcmp(k, "name") == 0 && list_form) {
                /* list form: the name was read by the caller */
            } else {
                problem(ld, e, "unknown key '%s.%s'", path, k);
            }
        }
    } else {
        get_strv(ld, body, path, &a->numbers);
    }
    free(path);
}

static void load_aliases(loader *ld, m2s_config *cfg, const config_setting_t *s)
{
    int t = config_setting_type(s);
    if (t == CONFIG_TYPE_GROUP) {
        /* aliases = { oncall = [ "+31..." ]; ops = { numbers = [...]; format = "..."; }; } */
        for (int i = 0; i < config_setting_length(s); i++) {
            const config_setting_t *e = config_setting_get_elem(s, (unsigned)i);
            add_alias(ld, cfg, e, config_setting_name(e), e, false);
        }
    } else if (t == CONFIG_TYPE_LIST) {
        /* aliases = ( { name = "on.call"; numbers = [ ... ]; } ) */
        for (int i = 0; i < config_setting_length(s); i++) {
            const config_setting_t *e = config_setting_get_elem(s, (unsigned)i);
            const char *name = NULL;
            if (config_setting_type(e) != CONFIG_TYPE_GROUP ||
                !config_setting_lookup_string(e, "name", &name)) {
                problem(ld, e, "each entry of recipients.aliases must be a group with a name");
                continue;
            }
            add_alias(ld, cfg, e, name, e, true);
        }
    } else {
        problem(ld, s, "'recipients.aliases' must be a group, not %s", type_name(t));
    }
}

/* ----------------------------------------------------------- rules */

/* A pattern of message.rules: a problem when it does not compile. */
static void check_pattern(loader *ld, const config_setting_t *s, const char *path,
                          const char *pattern)
{
    regex_t re;
    int rc = regcomp(&re, pattern, REG_EXTENDED | REG_ICASE | REG_NOSUB);
    if (rc != 0) {
        char err[128];
        regerror(rc, &re, err, sizeof err);
        problem(ld, s, "%s: bad pattern \"%s\": %s", path, pattern, err);
        return;
    }
    regfree(&re);
}

/* message.rules = { NAME = { from = ...; subject = ...; header = ...;
 * first = [ ... ]; drop = [ ... ]; }; ... } */
static void load_rules(loader *ld, m2s_config *cfg, const config_setting_t *s)
{
    if (config_setting_type(s) != CONFIG_TYPE_GROUP) {
        problem(ld, s, "'message.rules' must be a group of named rules");
        return;
    }
    for (int i = 0; i < config_setting_length(s); i++) {
        const config_setting_t *e = config_setting_get_elem(s, (unsigned)i);
        char *path = xasprintf("message.rules.%s", config_setting_name(e));
        if (config_setting_type(e) != CONFIG_TYPE_GROUP) {
            problem(ld, e, "'%s' must be a group", path);
            free(path);
            continue;
        }
        cfg->rules = xrealloc(cfg->rules, (cfg->n_rules + 1) * sizeof *cfg->rules);
        m2s_msg_rule *r = &cfg->rules[cfg->n_rules++];
        memset(r, 0, sizeof *r);
        r->name = xstrdup(config_setting_name(e));
        for (int j = 0; j < config_setting_length(e); j++) {
            const config_setting_t *f = config_setting_get_elem(e, (unsigned)j);
            const char *k = config_setting_name(f);
            char *fp = xasprintf("%s.%s", path, k);
            char **dst = strcmp(k, "from") == 0 ? &r->from
                       : strcmp(k, "subject") == 0 ? &r->subject
                       : strcmp(k, "header") == 0 ? &r->header : NULL;
            m2s_strv *list = strcmp(k, "first") == 0 ? &r->first
                           : strcmp(k, "drop") == 0 ? &r->drop : NULL;
            if (dst) {
                if (config_setting_type(f) != CONFIG_TYPE_STRING) {
                    problem(ld, f, "'%s' must be a string", fp);
                } else {
                    set_str(dst, config_setting_get_string(f));
                    const char *pat = *dst;
                    if (dst == &r->header) {
                        const char *colon = strchr(pat, ':');
                        if (!colon || colon == pat)
                            problem(ld, f, "'%s' must be \"Header-Name: pattern\"", fp);
                        pat = colon ? colon + 1 : "";
                        while (*pat == ' ')
                            pat++;
                    }
                    check_pattern(ld, f, fp, pat);
                }
            } else if (list) {
                if (get_strv(ld, f, fp, list))
                    for (size_t p = 0; p < list->n; p++)
                        check_pattern(ld, f, fp, list->v[p]);
            } else {
                problem(ld, f, "unknown key '%s'", fp);
            }
            free(fp);
        }
        if (!r->first.n && !r->drop.n)
            problem(ld, e, "'%s' has neither first nor drop", path);
        free(path);
    }
}

static void free_rules(m2s_config *cfg)
{
    for (size_t i = 0; i < cfg->n_rules; i++) {
        free(cfg->rules[i].name);
        free(cfg->rules[i].from);
        free(cfg->rules[i].subject);
        free(cfg->rules[i].header);
        m2s_strv_clear(&cfg->rules[i].first);
        m2s_strv_clear(&cfg->rules[i].drop);
    }
    free(cfg->rules);
    cfg->rules = NULL;
    cfg->n_rules = 0;
}

/* ---------------------------------------------------------- values */

static void load_value(loader *ld, m2s_config *cfg, const key_def *k,
                       const config_setting_t *s)
{
    char *base = (char *)cfg;
    int t = config_setting_type(s);
    switch (k->kind) {
    case K_GROUP:
        if (t != CONFIG_TYPE_GROUP)
            problem(ld, s, "'%s' must be a group, not %s", k->name, type_name(t));
        break;
    case K_STR:
        if (t != CONFIG_TYPE_STRING)
            problem(ld, s, "'%s' must be a string, not %s", k->name, type_name(t));
        else
            set_str((char **)(base + k->off), config_setting_get_string(s));
        break;
    case K_INT:
    case K_INT64: {
        if (!is_int(s)) {
            problem(ld, s, "'%s' must be an integer, not %s", k->name, type_name(t));
            break;
        }
        long long v = config_setting_get_int64(s);
        if ((double)v < k->min || (double)v > k->max) {
            problem(ld, s, "'%s' must be between %.0f and %.0f", k->name, k->min, k->max);
            break;
        }
        if (k->kind == K_INT)
            *(long *)(base + k->off) = (long)v;
        else
            *(int64_t *)(base + k->off) = (int64_t)v;
        break;
    }
    case K_NUM: {
        double v;
        if (is_int(s))
            v = (double)config_setting_get_int64(s);
        else if (t == CONFIG_TYPE_FLOAT)
            v = config_setting_get_float(s);
        else {
            problem(ld, s, "'%s' must be a number, not %s", k->name, type_name(t));
            break;
        }
        if (v < k->min || v > k->max) {
            problem(ld, s, "'%s' must be between %g and %g", k->name, k->min, k->max);
            break;
        }
        *(double *)(base + k->off) = v;
        break;
    }
    case K_BOOL:
        if (t != CONFIG_TYPE_BOOL)
            problem(ld, s, "'%s' must be true or false, not %s", k->name, type_name(t));
        else
            *(bool *)(base + k->off) = config_setting_get_bool(s) != 0;
        break;
    case K_ENUM: {
        if (t != CONFIG_TYPE_STRING) {
            problem(ld, s, "'%s' must be one of \"%s\"", k->name, k->choices);
            break;
        }
        const char *v = config_setting_get_string(s);
        int idx = 0;
        bool found = false;
        for (const char *c = k->choices; c && *c; idx++) {
            size_t len = strcspn(c, "|");
            if (strlen(v) == len && strncmp(c, v, len) == 0) {
                found = true;
                break;
            }
            c += len;
            if (*c == '|')
                c++;
        }
        if (!found)
            problem(ld, s, "'%s' must be one of \"%s\", not \"%s\"", k->name, k->choices, v);
        else
            *(int *)(base + k->off) = idx;
        break;
    }
    case K_LIST: {
        m2s_strv *l = (m2s_strv *)(base + k->off);
        m2s_strv_clear(l);
        get_strv(ld, s, k->name, l);
        break;
    }
    case K_MMS:
        if (t == CONFIG_TYPE_BOOL)
            cfg->mms = config_setting_get_bool(s) ? M2S_MMS_ON : M2S_MMS_OFF;
        else if (t == CONFIG_TYPE_STRING && strcmp(config_setting_get_string(s), "auto") == 0)
            cfg->mms = M2S_MMS_AUTO;
        else
            problem(ld, s, "'media.mms' must be \"auto\", true or false");
        break;
    case K_ALIASES:
        load_aliases(ld, cfg, s);
        break;
    case K_TEMPLATE:
        free_template(cfg->tmpl);
        cfg->tmpl = load_template(ld, s, "message.template");
        break;
    case K_RULES:
        free_rules(cfg);
        load_rules(ld, cfg, s);
        break;
    }
}

/* Walk the whole tree: every setting must be a known key. */
static void walk(loader *ld, m2s_config *cfg, const config_setting_t *group)
{
    for (int i = 0; i < config_setting_length(group); i++) {
        const config_setting_t *s = config_setting_get_elem(group, (unsigned)i);
        char *path = setting_path(s);
        const key_def *k = find_key(path);
        if (!k)
            problem(ld, s, "unknown key '%s'", path);
        else {
            load_value(ld, cfg, k, s);
            if (k->kind == K_GROUP && config_setting_type(s) == CONFIG_TYPE_GROUP)
                walk(ld, cfg, s);
        }
        free(path);
    }
}

/* ------------------------------------------------------- semantics */

/* The host of an http(s) URL: after "://", up to '/', '?' or '#'. A URL
 * with user information ('@') has no host we accept. New string or NULL. */
static char *url_host(const char *url)
{
    const char *h = strstr(url, "://");
    if (!h)
        return NULL;
    h += 3;
    size_t n = strcspn(h, "/?#");
    if (n == 0 || memchr(h, '@', n))
        return NULL;
    return xstrndup(h, n);
}

static bool is_loopback_host(const char *hostport)
{
    char *host = xstrdup(hostport);
    char *colon = host[0] == '[' ? strstr(host, "]:") : strrchr(host, ':');
    if (colon)
        colon[host[0] == '[' ? 1 : 0] = '\0';
    bool ok = strcmp(host, "localhost") == 0 || strcmp(host, "[::1]") == 0;
    unsigned a, b, c, d;
    char tail;
    if (!ok && sscanf(host, "%u.%u.%u.%u%c", &a, &b, &c, &d, &tail) == 4)
        ok = a == 127 && b < 256 && c < 256 && d < 256;
    free(host);
    return ok;
}

static bool url_ok(const char *url, bool *plain_http)
{
    *plain_http = false;
    char *host = url_host(url);
    bool ok = false;
    if (!host)
        ok = false;
    else if (strncmp(url, "https://", 8) == 0)
        ok = true;
    else if (strncmp(url, "http://", 7) == 0) {
        /* Plain HTTP only to this machine (tests, a local proxy): the
         * access key must never cross a network in the clear. */
        *plain_http = true;
        ok = is_loopback_host(host);
    }
    free(host);
    return ok;
}

static bool id_ok(const char *s)
{
    if (!s || !*s || strlen(s) > 128)
        return false;
    for (; *s; s++)
        if (!isalnum((unsigned char)*s) && *s != '-' && *s != '_')
            return false;
    return true;
}

/* All zeros (and dashes), like "00000000-0000-0000-0000-000000000000". */
static bool id_placeholder(const char *s)
{
    return s && strchr(s, '0') && strspn(s, "0-") == strlen(s);
}

/* The one line of an owner-only secret file, named by key (new string),
 * or NULL with a problem. */
static char *read_key_file(loader *ld, const config_setting_t *s, const char *key_name,
                           const char *path)
{
    char *key = NULL;
    int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) {
        problem(ld, s, "cannot read %s %s: %s", key_name, path, strerror(errno));
        goto out;
    }
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        problem(ld, s, "%s %s is not a regular file", key_name, path);
        goto out;
    }
    if (st.st_mode & 077) {
        problem(ld, s, "%s %s can be read by others (mode %04o); "
                "make it owner-only: chmod 600", key_name, path, (unsigned)(st.st_mode & 07777));
        goto out;
    }
    m2s_buf b;
    m2s_buf_init(&b);
    bool big = false;
    if (m2s_read_all(fd, 4096, &b, &big) != 0 || big) {
        problem(ld, s, "%s %s could not be read", key_name, path);
        m2s_buf_clear(&b);
        goto out;
    }
    /* One line; surrounding white space ignored. */
    char *k = b.data ? b.data : "";
    while (isspace((unsigned char)*k))
        k++;
    size_t len = strcspn(k, "\r\n");
    while (len && isspace((unsigned char)k[len - 1]))
        len--;
    key = xstrndup(k, len);
    m2s_buf_clear(&b);
out:
    if (fd >= 0)
        close(fd);
    return key;
}

/* "unix:/absolute/path" (at most 107 bytes, sun_path's room) or
 * "inet:HOST:PORT" (an IPv6 address in brackets), port 1..65535. */
static bool listen_ok(const char *v)
{
    if (strncmp(v, "unix:", 5) == 0)
        return v[5] == '/' && strlen(v + 5) < 108;
    if (strncmp(v, "inet:", 5) != 0)
        return false;
    const char *colon = strrchr(v + 5, ':');
    if (!colon || colon == v + 5)
        return false;
    char *end;
    errno = 0;
    long port = strtol(colon + 1, &end, 10);
    return colon[1] && !*end && errno == 0 && port >= 1 && port <= 65535;
}

static void check_meaning(loader *ld, m2s_config *cfg, const config_t *lc,
                          const char *file, bool file_shared)
{
    const config_setting_t *root = config_root_setting(lc);
    const config_setting_t *bird = config_setting_get_member(root, "bird");
    bool plain = false;

    if (!url_ok(cfg->api_url, &plain))
        problem(ld, config_lookup(lc, "bird.api_url"),
                "bird.api_url must be an https:// URL (http:// only to localhost)");
    size_t ul = strlen(cfg->api_url);
    while (ul > 0 && cfg->api_url[ul - 1] == '/')
        cfg->api_url[--ul] = '\0';
    if (!id_ok(cfg->workspace_id))
        problem(ld, config_lookup(lc, "bird.workspace_id") ? config_lookup(lc, "bird.workspace_id") : bird,
                cfg->workspace_id ? "bird.workspace_id must be letters, digits, '-' or '_'"
                                  : "bird.workspace_id is required");
    if (!id_ok(cfg->channel_id))
        problem(ld, config_lookup(lc, "bird.channel_id") ? config_lookup(lc, "bird.channel_id") : bird,
                cfg->channel_id ? "bird.channel_id must be letters, digits, '-' or '_'"
                                : "bird.channel_id is required");

    /* The all-zero ids of the example configuration pass the syntax check
     * but no workspace or channel has them. */
    if (id_placeholder(cfg->workspace_id))
        problem(ld, config_lookup(lc, "bird.workspace_id"),
                "bird.workspace_id is the example's placeholder %s: put in your "
                "workspace's id from Bird's dashboard", cfg->workspace_id);
    if (id_placeholder(cfg->channel_id))
        problem(ld, config_lookup(lc, "bird.channel_id"),
                "bird.channel_id is the example's placeholder %s: put in your "
                "SMS channel's id from Bird's dashboard", cfg->channel_id);

    /* The access key: from a file that only its owner can read, or inline
     * in a configuration file that only its owner can read. */
    const config_setting_t *ks = config_lookup(lc, "bird.access_key");
    const config_setting_t *kfs = config_lookup(lc, "bird.access_key_file");
    if (cfg->access_key && cfg->access_key_file) {
        problem(ld, ks, "set only one of bird.access_key and bird.access_key_file");
    } else if (cfg->access_key_file) {
        cfg->access_key = read_key_file(ld, kfs, "bird.access_key_file", cfg->access_key_file);
    } else if (cfg->access_key) {
        if (file_shared)
            problem(ld, ks, "bird.access_key is set but %s can be read by others; "
                    "chmod 600 it or use bird.access_key_file", file);
    } else {
        problem(ld, bird, "no access key: set bird.access_key_file (or bird.access_key)");
    }
    if (cfg->access_key && (!*cfg->access_key || strpbrk(cfg->access_key, "\r\n\t ")))
        problem(ld, ks ? ks : kfs, "the access key is empty or contains white space");
    if (cfg->ca_file && access(cfg->ca_file, R_OK) != 0)
        problem(ld, config_lookup(lc, "bird.ca_file"), "cannot read bird.ca_file %s", cfg->ca_file);

    if (cfg->default_country) {
        size_t n = strlen(cfg->default_country);
        bool digits = n >= 1 && n <= M2S_RULES_CC_MAX_DIGITS && strspn(cfg->default_country, "0123456789") == n &&
                      cfg->default_country[0] != '0';
        if (!digits)
            problem(ld, config_lookup(lc, "recipients.default_country"),
                    "recipients.default_country must be a country calling code such as \"31\"");
    }
    for (size_t i = 0; i < cfg->allowed_prefixes.n; i++) {
        const char *p = cfg->allowed_prefixes.v[i];
        const char *d = p[0] == '+' ? p + 1 : p;
        if (!*d || strspn(d, "0123456789") != strlen(d))
            problem(ld, config_lookup(lc, "recipients.allowed_prefixes"),
                    "recipients.allowed_prefixes: \"%s\" is not a prefix such as \"+31\"", p);
    }
    const config_setting_t *as = config_lookup(lc, "recipients.aliases");
    for (size_t i = 0; i < cfg->n_aliases; i++)
        check_alias_numbers(ld, cfg, as, &cfg->aliases[i]);

    for (size_t i = 0; i < cfg->strip_patterns.n; i++) {
        regex_t re;
        int rc = regcomp(&re, cfg->strip_patterns.v[i], REG_EXTENDED | REG_NOSUB);
        if (rc != 0) {
            char err[128];
            regerror(rc, &re, err, sizeof err);
            problem(ld, config_lookup(lc, "message.strip"),
                    "message.strip: bad pattern \"%s\": %s", cfg->strip_patterns.v[i], err);
        } else {
            regfree(&re);
        }
    }
    if (cfg->tags.n > M2S_RULES_MAX_TAGS)
        problem(ld, config_lookup(lc, "message.tags"), "message.tags: at most %d tags",
                M2S_RULES_MAX_TAGS);
    for (size_t i = 0; i < cfg->tags.n; i++) {
        if (!m2s_rules_tag_valid(cfg->tags.v[i]))
            problem(ld, config_lookup(lc, "message.tags"),
                    "message.tags: \"%s\" must be 1-%d letters, digits, '-', '_' or spaces",
                    cfg->tags.v[i], M2S_RULES_TAG_MAX_LEN);
        for (char *c = cfg->tags.v[i]; *c; c++)
            *c = (char)tolower((unsigned char)*c);
    }
    if (!*cfg->format && !cfg->tmpl)
        problem(ld, config_lookup(lc, "message.format"), "message.format is empty");

    if (cfg->media_store == M2S_STORE_DIRECTORY) {
        if (!cfg->media_directory || cfg->media_directory[0] != '/')
            problem(ld, config_lookup(lc, "media.store"),
                    "media.store = \"directory\" needs media.directory (an absolute path)");
        if (!cfg->media_base_url || !url_ok(cfg->media_base_url, &plain))
            problem(ld, config_lookup(lc, "media.store"),
                    "media.store = \"directory\" needs media.base_url (https://...)");
    }
    if (cfg->media_max_total_bytes < cfg->media_max_bytes)
        problem(ld, config_lookup(lc, "media.max_total_bytes"),
                "media.max_total_bytes must not be smaller than media.max_bytes");
    if (!cfg->state_dir || cfg->state_dir[0] != '/')
        problem(ld, config_lookup(lc, "state_dir"), "state_dir must be an absolute path");
    if (cfg->state_backend == M2S_BACKEND_POSTGRESQL && !cfg->state_postgresql)
        problem(ld, config_lookup(lc, "state.backend"),
                "state.backend = \"postgresql\" needs state.postgresql (a connection string)");
    if (cfg->state_password_file) {
        const config_setting_t *ps = config_lookup(lc, "state.password_file");
        if (cfg->state_password_file[0] != '/')
            problem(ld, ps, "state.password_file must be an absolute path");
        else if ((cfg->state_password = read_key_file(ld, ps, "state.password_file",
                                                      cfg->state_password_file)) &&
                 !*cfg->state_password)
            problem(ld, ps, "state.password_file %s is empty", cfg->state_password_file);
    }
    /* A living run never loses its claims to another: it ends by its
     * deadline, before its claims run out. */
    if (!config_lookup(lc, "state.claim_ttl") && cfg->claim_ttl < cfg->deadline + 60)
        cfg->claim_ttl = cfg->deadline + 60;    /* the default follows a long deadline */
    else if (cfg->claim_ttl < cfg->deadline)
        problem(ld, config_lookup(lc, "state.claim_ttl"),
                "state.claim_ttl (%lds) must be at least deadline (%lds)",
                cfg->claim_ttl, cfg->deadline);
    const config_setting_t *ofs = config_lookup(lc, "tracking.on_failure");
    bool wants_fallback = false;
    for (size_t i = 0; i < cfg->track_on_failure.n; i++) {
        const char *a = cfg->track_on_failure.v[i];
        if (strcmp(a, "fallback") == 0)
            wants_fallback = true;
        else if (strcmp(a, "notify") != 0)
            problem(ld, ofs, "tracking.on_failure: \"%s\" is neither \"notify\" nor "
                    "\"fallback\"", a);
    }
    if (wants_fallback && !cfg->track_fallback)
        problem(ld, ofs, "tracking.on_failure has \"fallback\" but tracking.fallback "
                "(an alias or a number) is not set");
    if (cfg->track_sendmail && cfg->track_sendmail[0] != '/')
        problem(ld, config_lookup(lc, "tracking.sendmail"),
                "tracking.sendmail must be an absolute path");
    if (cfg->track_notify_to && (!strchr(cfg->track_notify_to, '@') ||
                                 strpbrk(cfg->track_notify_to, " \t\r\n<>,")))
        problem(ld, config_lookup(lc, "tracking.notify_to"),
                "tracking.notify_to must be one bare address such as noc@example.com");
    if (cfg->log_file && cfg->log_file[0] != '/')
        problem(ld, config_lookup(lc, "log_file"), "log_file must be an absolute path");
    if (cfg->deadline < cfg->timeout + cfg->connect_timeout)
        problem(ld, config_lookup(lc, "deadline"),
                "deadline (%lds) must be at least bird.timeout + bird.connect_timeout (%lds)",
                cfg->deadline, cfg->timeout + cfg->connect_timeout);
    for (size_t i = 0; i < cfg->listen.n; i++)
        if (!listen_ok(cfg->listen.v[i]))
            problem(ld, config_lookup(lc, "service.listen"),
                    "service.listen: \"%s\" must be unix:/PATH or inet:HOST:PORT",
                    cfg->listen.v[i]);
}

static void set_defaults(m2s_config *cfg)
{
    cfg->api_url = xstrdup("https://api.bird.com");
    cfg->timeout = 20;
    cfg->connect_timeout = 10;
    cfg->concurrency = 8;
    cfg->max_rate = 50;
    cfg->sender_check = M2S_SENDER_CHECK_BOTH;
    cfg->format = xstrdup("{subject}: {body}");
    cfg->max_parts = 3;
    cfg->strip_signature = true;
    cfg->strip_quotes = true;
    cfg->collapse_blank = true;
    cfg->transliterate = true;
    cfg->condense = true;
    cfg->media_store = M2S_STORE_BIRD;
    cfg->mms = M2S_MMS_AUTO;
    cfg->non_mms = M2S_NON_MMS_LINKS;
    cfg->media_max_bytes = 5 * 1024 * 1024;
    cfg->media_max_total_bytes = 10 * 1024 * 1024;
    cfg->on_too_large = M2S_TOO_LARGE_NOTE;
    cfg->presign_path = M2S_PRESIGN_CHANNEL;
    cfg->on_exceed = M2S_EXCEED_DEFER;
    cfg->max_message_bytes = 30 * 1024 * 1024;
    cfg->max_mime_depth = 20;
    cfg->max_mime_parts = 500;
    cfg->state_dir = xstrdup(LOCALSTATEDIR "/lib/mail2sms");
    cfg->retention_days = 30;
    cfg->state_backend = M2S_BACKEND_SQLITE;
    cfg->claim_ttl = 300;
    cfg->outage_probe = 60;
    cfg->track_sendmail = xstrdup("/usr/sbin/sendmail");
    cfg->track_max_age = 172800;
    cfg->track_max_rate = 10;
    cfg->deadline = 120;
    cfg->max_connections = 100;
    cfg->workers = 4;
    cfg->client_timeout = 300;
}

static m2s_config *load(config_t *lc, const char *name, bool file_shared,
                        m2s_strv *problems)
{
    loader ld = { name, problems, 0 };
    m2s_config *cfg = xcalloc(1, sizeof *cfg);
    set_defaults(cfg);
    cfg->path = xstrdup(name);
    /* Both passes always run, so one --check-config lists every problem. */
    walk(&ld, cfg, config_root_setting(lc));
    check_meaning(&ld, cfg, lc, name, file_shared);
    if (ld.n_problems) {
        m2s_config_free(cfg);
        cfg = NULL;
    }
    return cfg;
}

static void syntax_problem(const config_t *lc, const char *name, m2s_strv *problems)
{
    if (!problems)
        return;
    const char *text = config_error_text(lc);
    if (config_error_type(lc) == CONFIG_ERR_FILE_IO)
        m2s_strv_take(problems, xasprintf("%s: cannot read the configuration file: %s",
                                          name, strerror(errno)));
    else
        m2s_strv_take(problems, xasprintf("%s:%d: %s", name, config_error_line(lc),
                                          text ? text : "syntax error"));
}

static void init_lc(config_t *lc)
{
    config_init(lc);
    /* Keep settings in file order and refuse @include of other files:
     * one file, one place to look. */
    config_set_options(lc, 0);
}

m2s_config *m2s_config_load(const char *path, m2s_strv *problems)
{
    config_t lc;
    m2s_config *cfg = NULL;
    init_lc(&lc);
    struct stat st;
    if (stat(path, &st) != 0) {
        if (problems)
            m2s_strv_take(problems, xasprintf("%s: cannot read the configuration file: %s",
                                              path, strerror(errno)));
        goto out;
    }
    if (!config_read_file(&lc, path)) {
        syntax_problem(&lc, path, problems);
        goto out;
    }
    cfg = load(&lc, path, (st.st_mode & 077) != 0, problems);
out:
    config_destroy(&lc);
    return cfg;
}

m2s_config *m2s_config_load_string(const char *text, const char *name,
                                   m2s_strv *problems)
{
    config_t lc;
    m2s_config *cfg = NULL;
    init_lc(&lc);
    if (!config_read_string(&lc, text)) {
        syntax_problem(&lc, name, problems);
        goto out;
    }
    cfg = load(&lc, name, false, problems);
out:
    config_destroy(&lc);
    return cfg;
}

void m2s_config_free(m2s_config *cfg)
{
    if (!cfg)
        return;
    free(cfg->path);
    free(cfg->api_url);
    free(cfg->workspace_id);
    free(cfg->channel_id);
    free(cfg->access_key_file);
    if (cfg->access_key) {
        explicit_bzero(cfg->access_key, strlen(cfg->access_key));
        free(cfg->access_key);
    }
    free(cfg->ca_file);
    free(cfg->default_country);
    m2s_strv_clear(&cfg->allowed_prefixes);
    for (size_t i = 0; i < cfg->n_aliases; i++) {
        free(cfg->aliases[i].name);
        m2s_strv_clear(&cfg->aliases[i].numbers);
        free(cfg->aliases[i].format);
        free_template(cfg->aliases[i].tmpl);
    }
    free(cfg->aliases);
    m2s_strv_clear(&cfg->senders_allowed);
    free(cfg->sender_token);
    m2s_strv_clear(&cfg->senders_trusted);
    free(cfg->format);
    m2s_strv_clear(&cfg->strip_patterns);
    m2s_strv_clear(&cfg->tags);
    free_template(cfg->tmpl);
    free_rules(cfg);
    free(cfg->media_directory);
    free(cfg->media_base_url);
    free(cfg->state_dir);
    free(cfg->state_postgresql);
    free(cfg->state_password_file);
    if (cfg->state_password) {
        explicit_bzero(cfg->state_password, strlen(cfg->state_password));
        free(cfg->state_password);
    }
    free(cfg->log_file);
    m2s_strv_clear(&cfg->listen);
    m2s_strv_clear(&cfg->track_on_failure);
    free(cfg->track_notify_to);
    free(cfg->track_fallback);
    free(cfg->track_sendmail);
    free(cfg);
}

const m2s_alias *m2s_config_alias(const m2s_config *cfg, const char *name)
{
    for (size_t i = 0; i < cfg->n_aliases; i++)
        if (strcasecmp(cfg->aliases[i].name, name) == 0)
            return &cfg->aliases[i];
    return NULL;
}

/* The word for an enum value, from the key table's choices. */
static const char *choice(const char *const *words, size_t n, int idx)
{
    return idx >= 0 && (size_t)idx < n ? words[idx] : "?";
}
#define CHOICE(words, idx) choice(words, sizeof words / sizeof words[0], (int)(idx))

static const char *const w_check[] = { "both", "envelope", "header" };
static const char *const w_long[] = { "truncate", "reject" };
static const char *const w_store[] = { "bird", "directory" };
static const char *const w_non_mms[] = { "links", "drop" };
static const char *const w_exceed[] = { "defer", "drop" };

void m2s_config_failed(const char *path, const m2s_strv *problems, m2s_status *st)
{
    for (size_t i = 0; i < problems->n; i++)
        m2s_log(LOG_ERR, "configuration: %s", problems->v[i]);
    m2s_status_set(st, M2S_E_CONFIG, NULL, "mail2sms configuration error: %s%s",
                   problems->n ? problems->v[0] : path,
                   problems->n > 1 ? " (and more: run mail2sms --check-config)" : "");
}

void m2s_config_summary(const m2s_config *cfg, const char *endpoint, FILE *out)
{
    fprintf(out, "configuration: %s\n", cfg->path);
    fprintf(out, "endpoint: %s\n", endpoint);
    fprintf(out, "access key: %s (%zu characters, not shown)\n",
            cfg->access_key_file ? cfg->access_key_file : "inline", strlen(cfg->access_key));
    fprintf(out, "timeouts: connect %lds, request %lds, deadline %lds\n",
            cfg->connect_timeout, cfg->timeout, cfg->deadline);
    fprintf(out, "sending: %ld at once, at most %g requests/s\n", cfg->concurrency, cfg->max_rate);
    fprintf(out, "default country: %s\n", cfg->default_country ? cfg->default_country : "(none)");
    fprintf(out, "allowed prefixes: ");
    if (!cfg->allowed_prefixes.n)
        fprintf(out, "(any)");
    for (size_t i = 0; i < cfg->allowed_prefixes.n; i++)
        fprintf(out, "%s%s", i ? " " : "", cfg->allowed_prefixes.v[i]);
    fprintf(out, "\naliases: %zu\n", cfg->n_aliases);
    for (size_t i = 0; i < cfg->n_aliases; i++)
        fprintf(out, "  %s: %zu number%s\n", cfg->aliases[i].name, cfg->aliases[i].numbers.n,
                cfg->aliases[i].numbers.n == 1 ? "" : "s");
    fprintf(out, "senders: %s", cfg->senders_allowed.n ? "" : "(anyone)");
    for (size_t i = 0; i < cfg->senders_allowed.n; i++)
        fprintf(out, "%s%s", i ? " " : "", cfg->senders_allowed.v[i]);
    fprintf(out, "\nsender check: %s, null sender %s, token %s\n",
            CHOICE(w_check, cfg->sender_check),
            cfg->allow_null_sender || !cfg->senders_allowed.n ? "allowed" : "refused",
            cfg->sender_token ? "required (not shown)" : "not required");
    fprintf(out, "message: format \"%s\", at most %ld parts (%s)%s\n", cfg->format,
            cfg->max_parts, CHOICE(w_long, cfg->on_too_long),
            cfg->tmpl ? ", Bird template" : "");
    fprintf(out, "media: store %s, mms %s, non-MMS numbers get %s\n",
            CHOICE(w_store, cfg->media_store),
            cfg->mms == M2S_MMS_AUTO ? "auto (+1 only)" : cfg->mms == M2S_MMS_ON ? "on" : "off",
            CHOICE(w_non_mms, cfg->non_mms));
    fprintf(out, "limits: %ld per number per hour, %ld per sender per hour (%s), "
            "mail up to %lld bytes\n", cfg->per_number_per_hour, cfg->per_sender_per_hour,
            CHOICE(w_exceed, cfg->on_exceed), (long long)cfg->max_message_bytes);
    fprintf(out, "state: %s (journal kept %ld days, claims held %lds by a dead run, "
            "duplicate window %lds)\n",
            cfg->state_backend == M2S_BACKEND_POSTGRESQL ? "postgresql" : cfg->state_dir,
            cfg->retention_days, cfg->claim_ttl, cfg->duplicate_window);
    if (cfg->outage_probe > 0)
        fprintf(out, "outage: after a run's retries fail, defer at once; probe every %lds\n",
                cfg->outage_probe);
    else
        fprintf(out, "outage: every run tries the API (bird.outage_probe = 0)\n");
    fprintf(out, "log: %s\n", cfg->log_file ? cfg->log_file : "syslog (facility mail)");
}
