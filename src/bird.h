/* bird.h - everything that knows Bird's Channels API: the endpoint URLs
 * (send a message, the presigned upload in its channel and workspace
 * forms, a message's status), the AccessKey credential, and the one table
 * from an answer (HTTP status, transport error, error body) to a status.
 * Requests travel through a transport (transport.h) that knows none of it.
 *
 * The access key is held in cfg->access_key and, while a m2s_bird lives,
 * in its Authorization header line, which is zeroed when it is freed. It
 * is never printed or logged.
 */
#ifndef M2S_BIRD_H
#define M2S_BIRD_H

#include "config.h"
#include "outcome.h"
#include "payload.h"
#include "transport.h"

/* Which call a request is (m2s_http_req.call). */
typedef enum m2s_bird_call {
    M2S_BIRD_SEND = 1,      /* POST .../channels/{channel}/messages */
    M2S_BIRD_PRESIGN,       /* POST ...presigned-upload: where to upload a medium */
    M2S_BIRD_UPLOAD,        /* the upload itself, to Bird's storage, without the key */
    M2S_BIRD_STATUS         /* GET .../messages/{id}: how a message went */
} m2s_bird_call;

typedef struct m2s_bird m2s_bird;

/* A client for cfg's workspace and channel over tr; both are borrowed and
 * must outlive it. Never NULL. */
m2s_bird *m2s_bird_new(const m2s_config *cfg, m2s_transport *tr);
void m2s_bird_free(m2s_bird *b);

/* "Send a message" URL for cfg. New string. */
char *m2s_bird_messages_url(const m2s_config *cfg);

/* The URL to read message id's status. New string. */
char *m2s_bird_status_url(const m2s_config *cfg, const char *id);

/* Make req a `call` (M2S_BIRD_SEND or M2S_BIRD_PRESIGN): method, URL and
 * headers, owned by b. The body, label, done and user stay the caller's. */
void m2s_bird_request(m2s_bird *b, m2s_bird_call call, m2s_http_req *req);

/* Make req the upload a presign answer asked for: its method and URL
 * (borrowed from p), its form fields, and no credential (the storage
 * service refuses a second one). The file stays the caller's to set. */
void m2s_bird_upload_request(const m2s_presign *p, m2s_http_req *req);

/* Send a batch by deadline_at through the transport; stats may be NULL. */
void m2s_bird_run(m2s_bird *b, m2s_http_req **reqs, size_t n, double deadline_at,
                  m2s_transport_stats *stats);

/* Make req the status read of Bird message id: GET, its URL (new string
 * in *url, the caller's to free after the run) and the credential. */
void m2s_bird_status_request(m2s_bird *b, const char *id, m2s_http_req *req, char **url);

/* ------------------------------------------------------------ answers
 * Each returns the class it sets in st (M2S_OK leaves st untouched). */

/* The answer to a send for number. On M2S_OK *id is Bird's message id
 * (new string; "unknown" when an accepted answer cannot be read). */
m2s_class m2s_bird_sent(const m2s_bird *b, const m2s_http_req *r, const char *number,
                        char **id, m2s_status *st);

/* The answer to a presign request for medium name of content type type.
 * On M2S_OK *p holds the upload (release with m2s_presign_clear). */
m2s_class m2s_bird_presigned(const m2s_bird *b, const m2s_http_req *r, const char *name,
                             const char *type, m2s_presign *p, m2s_status *st);

/* The storage service's answer to the upload of name (len bytes). A
 * medium it refuses as too large is M2S_E_CONTENT. */
m2s_class m2s_bird_uploaded(const m2s_http_req *r, const char *name, size_t len,
                            m2s_status *st);

/* What a status read said of a message (strings new, or NULL). */
typedef struct m2s_bird_msg_status {
    char *status;               /* Bird's word: accepted, sent, delivered, ... */
    char *reason;               /* reason, or the failure's description */
    char *source;               /* the failure's source: "sms-messagebird 15005" */
    bool unknown;               /* 404: Bird does not know the message */
} m2s_bird_msg_status;

void m2s_bird_msg_status_clear(m2s_bird_msg_status *ms);

/* The answer to a status read of message id. M2S_OK with *ms filled (or
 * ms->unknown for a 404); M2S_E_API_AUTH for 401/403 (the pass stops);
 * M2S_E_API_TEMP, M2S_E_NETWORK, or M2S_E_INTERNAL for an answer that is
 * not a message: try on a later pass. */
m2s_class m2s_bird_read_status(const m2s_bird *b, const m2s_http_req *r, const char *id,
                               m2s_bird_msg_status *ms, m2s_status *st);

/* The enhanced status code (5.x.x) of a message that failed for good
 * with Bird's status and reason, for its delivery status notification.
 * Static storage. */
const char *m2s_bird_failure_dsn(const char *status, const char *reason);

#endif
