/* fuzz_parse_compose.c - libFuzzer target: one input is one mail as Postfix
 * would pipe it. It goes through everything mail2sms does before the
 * network: MIME parsing with the configured limits, composing (X-SMS-*
 * options honoured for every other input), media selection, the SMS text
 * for two numbers (one with a storm prefix and the media note) and the
 * request JSON. Everything is freed, so LeakSanitizer sees per-input leaks.
 *
 * Built and run by fuzz/run.sh (clang -fsanitize=fuzzer,address,undefined).
 */
#include "build-config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "compose.h"
#include "config.h"
#include "mail.h"
#include "media.h"
#include "payload.h"

static const char config_text[] =
    "bird = {\n"
    "  api_url = \"https://api.bird.com\";\n"
    "  workspace_id = \"ws-fuzz\";\n"
    "  channel_id = \"ch-fuzz\";\n"
    "  access_key = \"fuzz-access-key-0123456789\";\n"
    "};\n"
    "recipients = {\n"
    "  default_country = \"31\";\n"
    "  aliases = { oncall = [ \"+31612345678\", \"+15550100123\" ]; };\n"
    "};\n"
    "message = { max_parts = 3; tags = [ \"fuzz\" ]; };\n"
    "media = { mms = \"auto\"; non_mms = \"links\"; };\n"
    "state_dir = \"/nonexistent/mail2sms-fuzz\";\n";

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    m2s_mail_init();
    return 0;
}

/* The text and request for one number, as deliver.c builds them. */
static void one_number(const m2s_config *cfg, const m2s_message *msg,
                       const m2s_media_set *media, const char *number, long suppressed)
{
    m2s_status st = M2S_STATUS_INIT;
    m2s_sms sms;
    char *body = NULL, *line = NULL;
    m2s_media_ref *refs = NULL;

    if (m2s_compose_sms(cfg, msg, NULL, number, suppressed, media, &sms, &st) != M2S_OK)
        goto out;
    m2s_payload_in in = {
        .number = number,
        .text = sms.text,
        .subject = msg->subject,
        .reference = msg->reference,
        .tags = &msg->tags,
        .validity = msg->validity,
        .scheduled_for = msg->scheduled_for,
    };
    if (sms.mms) {
        refs = calloc(media->n, sizeof *refs);
        if (!refs)
            goto out;
        for (size_t i = 0; i < media->n; i++) {
            refs[i].url = "https://dry-run.invalid/1/file";
            refs[i].content_type = media->items[i].att->content_type;
            refs[i].filename = media->items[i].att->filename;
        }
        in.media = refs;
        in.n_media = media->n;
        in.all_images = media->all_images;
    }
    body = m2s_payload_message(&in);
    line = m2s_payload_dry_run_line("POST", "https://api.bird.com/x", body);
out:
    free(line);
    free(body);
    free(refs);
    m2s_sms_clear(&sms);
    m2s_status_clear(&st);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    m2s_mail_limits limits = { 20, 500 };
    m2s_mail *mail = NULL;
    m2s_config *cfg = NULL;
    m2s_message *msg = NULL;
    m2s_media_set media = { 0 };
    m2s_strv problems = { 0 };
    m2s_status st = M2S_STATUS_INIT;
    char *why = NULL;

    if (m2s_mail_parse((const char *)data, size, &limits, &mail, &why) != M2S_MAIL_OK)
        goto out;
    (void)m2s_mail_header(mail, "X-SMS-Token");

    cfg = m2s_config_load_string(config_text, "fuzz.conf", &problems);
    if (!cfg)
        abort();                /* the fixed configuration must load */

    bool trusted = size % 2 == 1;
    if (m2s_compose(cfg, mail, (const char *)data, size, "FUZZQID", trusted, &msg,
                    &st) != M2S_OK)
        goto out;
    if (m2s_media_select(cfg, mail, &media, &st) != M2S_OK)
        goto out;
    one_number(cfg, msg, &media, "+31612345678", 0);
    one_number(cfg, msg, &media, "+15550100123", 3);
out:
    m2s_media_set_clear(&media);
    m2s_message_free(msg);
    m2s_config_free(cfg);
    m2s_strv_clear(&problems);
    m2s_mail_free(mail);
    m2s_status_clear(&st);
    free(why);
    return 0;
}
