/* config.h - the configuration file (libconfig), loaded and validated once.
 *
 * Validation has two passes: libconfig's syntax check (with the line
 * number), then meaning: every setting is looked up in one key table
 * (m2s_config_keys), unknown keys, wrong types and bad values are problems
 * "line N: ...". Only this module knows libconfig; the struct below holds
 * plain copies, owned by the m2s_config and released by m2s_config_free.
 *
 * The access key is read from bird.access_key_file (refused when group- or
 * world-readable) or bird.access_key. It is held only in cfg->access_key and
 * never printed, logged or put on a command line. The same holds for the
 * PostgreSQL password of state.password_file, in cfg->state_password.
 */
#ifndef M2S_CONFIG_H
#define M2S_CONFIG_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include "outcome.h"
#include "util.h"

typedef enum { M2S_TOO_LONG_TRUNCATE, M2S_TOO_LONG_REJECT } m2s_on_too_long;
typedef enum { M2S_PREFER_AUTO, M2S_PREFER_PLAIN, M2S_PREFER_HTML } m2s_prefer;
typedef enum { M2S_STORE_BIRD, M2S_STORE_DIRECTORY } m2s_store_kind;
typedef enum { M2S_MMS_AUTO, M2S_MMS_ON, M2S_MMS_OFF } m2s_mms_mode;
typedef enum { M2S_NON_MMS_LINKS, M2S_NON_MMS_DROP } m2s_non_mms;
typedef enum { M2S_TOO_LARGE_NOTE, M2S_TOO_LARGE_REJECT } m2s_on_too_large;
typedef enum { M2S_PRESIGN_CHANNEL, M2S_PRESIGN_WORKSPACE } m2s_presign_path;
typedef enum { M2S_EXCEED_DEFER, M2S_EXCEED_DROP } m2s_on_exceed;
typedef enum { M2S_LOG_TIME_POSTFIX, M2S_LOG_TIME_ISO8601 } m2s_log_time;
typedef enum { M2S_BACKEND_SQLITE, M2S_BACKEND_POSTGRESQL } m2s_state_backend_kind;
typedef enum { M2S_SENDER_CHECK_BOTH, M2S_SENDER_CHECK_ENVELOPE, M2S_SENDER_CHECK_HEADER } m2s_sender_check;

/* A Bird template: sent as "template" instead of a "body". parameters are
 * key/value pairs whose values may hold {subject}, {body}, {from}, {from_name}. */
typedef struct m2s_template {
    char *project_id;
    char *version;          /* default "latest" */
    char *locale;           /* default "en" */
    m2s_strv param_keys;
    m2s_strv param_values;  /* same length as param_keys */
} m2s_template;

typedef struct m2s_alias {
    char *name;             /* as written; matched case-insensitively */
    m2s_strv numbers;       /* as written; normalised by route */
    char *format;           /* NULL = message.format */
    m2s_template *tmpl;     /* NULL = message.template */
    int condense;           /* -1 = message.condense, else 0 or 1 */
} m2s_alias;

/* One of the administrator's message.rules: for mails that match all of
 * from, subject and header (each NULL = any), lines matching drop go and
 * lines matching first are put first. Patterns are POSIX EREs, matched
 * case-insensitively, validated at load. */
typedef struct m2s_msg_rule {
    char *name;
    char *from;             /* on "Name <address>" of From: */
    char *subject;
    char *header;           /* "Header-Name: ERE" */
    m2s_strv first;
    m2s_strv drop;
} m2s_msg_rule;

typedef struct m2s_config {
    char *path;                     /* the file that was loaded */

    /* bird */
    char *api_url;                  /* no trailing '/' */
    char *workspace_id;
    char *channel_id;
    char *access_key_file;
    char *access_key;               /* SECRET: never print */
    char *ca_file;                  /* NULL = system CA store */
    long timeout;                   /* seconds per HTTP request, default 20 */
    long connect_timeout;           /* default 10 */
    long concurrency;               /* parallel requests, default 8 */
    double max_rate;                /* requests per second, default 50; with a
                                     * shared store, for every relay together */
    long outage_probe;              /* seconds between probes of a down API, default 60; 0 = off */

    /* recipients */
    char *default_country;          /* digits, NULL = none */
    m2s_strv allowed_prefixes;      /* "+31"...; empty = all */
    m2s_alias *aliases;
    size_t n_aliases;

    /* senders */
    m2s_strv senders_allowed;       /* glob patterns; empty = anyone */
    m2s_sender_check sender_check;
    bool allow_null_sender;         /* default false when senders.allowed is set */
    char *sender_token;             /* SECRET-ish: never logged */
    m2s_strv senders_trusted;       /* may set X-SMS-* options */

    /* message */
    char *format;                   /* default "{subject}: {body}" */
    long max_parts;                 /* default 3, 1..10 */
    m2s_on_too_long on_too_long;
    m2s_prefer prefer;
    bool strip_signature;           /* default true */
    bool strip_quotes;              /* default true */
    bool collapse_blank;            /* default true */
    bool transliterate;             /* default true */
    m2s_strv strip_patterns;        /* POSIX EREs, validated at load */
    m2s_strv tags;                  /* validated by Bird's tag rules */
    long validity;                  /* seconds, 0 = unset */
    m2s_template *tmpl;             /* NULL = send a body */
    bool condense;                  /* default true: facts first, said once (condense.h) */
    bool keep_emoji;                /* default false */
    m2s_msg_rule *rules;            /* message.rules, in file order */
    size_t n_rules;

    /* media */
    m2s_store_kind media_store;
    m2s_mms_mode mms;
    m2s_non_mms non_mms;
    char *media_directory;
    char *media_base_url;
    int64_t media_max_bytes;        /* per item */
    int64_t media_max_total_bytes;  /* per message */
    m2s_on_too_large on_too_large;
    m2s_presign_path presign_path;

    /* limits */
    long per_number_per_hour;       /* 0 = unlimited */
    long per_sender_per_hour;       /* 0 = unlimited */
    long duplicate_window;          /* seconds; 0 = off */
    m2s_on_exceed on_exceed;
    int64_t max_message_bytes;      /* default 30 MiB */
    long max_mime_depth;            /* default 20 */
    long max_mime_parts;            /* default 500 */

    /* state */
    char *state_dir;                /* default LOCALSTATEDIR "/lib/mail2sms" */
    char *log_file;                 /* NULL: syslog */
    m2s_log_time log_time;          /* log_file's time stamps, default Postfix's */
    long retention_days;            /* default 30 */
    m2s_state_backend_kind state_backend;   /* default sqlite */
    char *state_postgresql;         /* libpq connection string or URI */
    char *state_password_file;
    char *state_password;           /* SECRET: never print; from state.password_file */
    long claim_ttl;                 /* seconds a dead process's claim holds, default 300 */

    /* tracking (mail2sms --track) */
    m2s_strv track_on_failure;      /* "notify", "fallback"; empty = nothing */
    char *track_notify_to;          /* NULL: the mail's envelope sender */
    char *track_fallback;           /* an alias or a number; NULL = none */
    char *track_sendmail;           /* default /usr/sbin/sendmail */
    long track_max_age;             /* seconds an SMS is followed, default 172800 */
    double track_max_rate;          /* status reads per second, default 10 */

    long deadline;                  /* seconds for the whole run, default 120 */

    /* service: mail2sms --lmtp */
    m2s_strv listen;                /* "unix:/path" or "inet:HOST:PORT";
                                     * empty: M2S_SERVICE_LISTEN */
    long max_connections;           /* clients at once, default 100 */
    long workers;                   /* mails run at once, default 4 */
    long client_timeout;            /* service.timeout: seconds, default 300 */
} m2s_config;

/* Where the LMTP service listens when service.listen is empty. */
#define M2S_SERVICE_LISTEN "unix:/run/mail2sms/lmtp"

/* The default configuration file: SYSCONFDIR "/mail2sms/mail2sms.conf". */
const char *m2s_config_default_path(void);

/* Load and validate path. Returns a config (caller frees) when it is usable;
 * otherwise NULL, with one line per problem added to *problems (each line
 * "FILE:LINE: text" where the line is known). problems may be NULL. */
m2s_config *m2s_config_load(const char *path, m2s_strv *problems);

/* Load from a string (for tests); name is used in problem lines. */
m2s_config *m2s_config_load_string(const char *text, const char *name,
                                   m2s_strv *problems);

void m2s_config_free(m2s_config *cfg);

/* A configuration that did not load: each problem logged, and the status
 * it gives a mail (deferred, naming the first problem) set in st. */
void m2s_config_failed(const char *path, const m2s_strv *problems, m2s_status *st);

/* Print the --check-config summary (endpoint, as the caller names it;
 * channel, aliases, limits). Never prints the access key or the sender
 * token. */
void m2s_config_summary(const m2s_config *cfg, const char *endpoint, FILE *out);

/* Find an alias by name, case-insensitively; NULL if none. Borrowed. */
const m2s_alias *m2s_config_alias(const m2s_config *cfg, const char *name);

/* Every key the program accepts, for documentation checks. Names use '*'
 * for a free name: "recipients.aliases.*". Static storage. */
typedef struct m2s_key_info {
    const char *name;
    const char *type;       /* "string", "integer", "number", "boolean", "list", "group", "alias", "string|boolean" */
} m2s_key_info;
const m2s_key_info *m2s_config_keys(size_t *n);

#endif
