/* main.c - wires the stages together; each lives in its own module:
 *   cli -> config -> read stdin -> mail (parse) -> senders -> route ->
 *   compose -> media -> deliver (state, http, payload) -> outcome.
 * Exactly one line goes to standard output for Postfix when the mail is
 * not sent; the exit status is the outcome table's. */
#include "build-config.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <unistd.h>

#include "cli.h"
#include "compose.h"
#include "config.h"
#include "deliver.h"
#include "http.h"
#include "log.h"
#include "mail.h"
#include "media.h"
#include "outcome.h"
#include "route.h"
#include "senders.h"
#include "state.h"
#include "util.h"
#include "version.h"

/* The last resort behind `deadline`: whatever is still running then (a
 * pathological mail, a stuck library call) ends with EX_TEMPFAIL, before
 * Postfix's own time limit would kill the run and bounce the mail.
 * Numbers accepted so far are in the journal already. */
static void on_deadline(int sig)
{
    static const char line[] = "4.4.7 mail2sms: deadline reached, will try again later\n";
    ssize_t r = write(STDOUT_FILENO, line, sizeof line - 1);
    (void)r;
    (void)sig;
    _exit(EX_TEMPFAIL);
}

/* Print the line Postfix shows (to stderr in a dry run, whose stdout is
 * JSON only), log it, and return the exit code. */
static int report_line(m2s_class cls, const char *line, bool dry_run)
{
    if (line && *line)
        fprintf(dry_run ? stderr : stdout, "%s\n", line);
    fflush(stdout);
    return m2s_outcome(cls)->exit_code;
}

/* The recipients of this run, for the log lines of a failure that ends it
 * before the per-number lines of deliver. */
static char *const *log_rcpts;
static int log_n_rcpts;

static int report(m2s_class cls, const char *dsn, const char *text, bool dry_run)
{
    char *line = NULL;
    if (cls != M2S_OK && cls != M2S_DROPPED) {
        line = m2s_outcome_line(cls, dsn, text);
        const char *status = m2s_outcome(cls)->status;
        int prio = m2s_outcome_is_temporary(cls) ? LOG_WARNING : LOG_NOTICE;
        for (int i = 0; i < log_n_rcpts; i++)
            m2s_log(prio, "to=<%s>, status=%s (%s)", log_rcpts[i], status, line);
        if (log_n_rcpts == 0)
            m2s_log(prio, "status=%s (%s)", status, line);
    }
    int rc = report_line(cls, line, dry_run);
    free(line);
    return rc;
}

static int check_config(const char *path)
{
    m2s_strv problems = { 0 };
    m2s_config *cfg = m2s_config_load(path, &problems);
    int rc = EX_OK;
    char *why = NULL;
    if (cfg && cfg->log_file && m2s_log_check_file(cfg->log_file, &why) != 0) {
        m2s_strv_take(&problems, why);
        m2s_config_free(cfg);
        cfg = NULL;
    }
    if (cfg) {
        m2s_config_summary(cfg, stdout);
        printf("configuration OK\n");
    } else {
        for (size_t i = 0; i < problems.n; i++)
            printf("%s\n", problems.v[i]);
        printf("configuration NOT usable: %zu problem%s\n", problems.n,
               problems.n == 1 ? "" : "s");
        rc = EX_CONFIG;
    }
    m2s_config_free(cfg);
    m2s_strv_free(&problems);
    return rc;
}

int main(int argc, char **argv)
{
    m2s_cli cli;
    char *why = NULL;
    int rc = EX_TEMPFAIL;
    m2s_config *cfg = NULL;
    m2s_strv problems = { 0 };
    m2s_buf input;
    m2s_mail *mail = NULL;
    m2s_message *msg = NULL;
    m2s_routes routes = { 0 };
    m2s_media_set media = { 0 };
    m2s_state *state = NULL;
    m2s_http *http = NULL;
    m2s_result res = { 0 };
    bool mail_ready = false;
    m2s_class cls;

    m2s_buf_init(&input);
    /* Postfix may stop reading our output; that must not kill the run
     * half-way through a batch. */
    signal(SIGPIPE, SIG_IGN);
    if (m2s_cli_parse(argc, argv, &cli, &why) != 0) {
        m2s_log_open(NULL, false);
        rc = report(M2S_E_USAGE, NULL, why, false);
        goto out;
    }
    if (cli.help) {
        m2s_cli_usage(stdout);
        rc = EX_OK;
        goto out;
    }
    if (cli.version) {
        m2s_version_print(stdout);
        rc = EX_OK;
        goto out;
    }
    const char *path = cli.config_path ? cli.config_path : m2s_config_default_path();
    if (cli.check_config) {
        rc = check_config(path);
        goto out;
    }
    m2s_log_open(cli.queue_id, cli.verbose);
    log_rcpts = cli.recipients;
    log_n_rcpts = cli.n_recipients;

    cfg = m2s_config_load(path, &problems);
    if (!cfg) {
        for (size_t i = 0; i < problems.n; i++)
            m2s_log(LOG_ERR, "configuration: %s", problems.v[i]);
        char *text = xasprintf("mail2sms configuration error: %s%s",
                               problems.n ? problems.v[0] : path,
                               problems.n > 1 ? " (and more: run mail2sms --check-config)" : "");
        rc = report(M2S_E_CONFIG, NULL, text, cli.dry_run);
        free(text);
        goto out;
    }
    /* A dry run writes nothing, not even a log file it might create. */
    if (cfg->log_file && !cli.dry_run &&
        m2s_log_to_file(cfg->log_file, cfg->log_time == M2S_LOG_TIME_ISO8601, &why) != 0) {
        m2s_log(LOG_WARNING, "%s; logging to syslog", why);
        free(why);
        why = NULL;
    }
    double deadline_at = m2s_now() + (double)cfg->deadline - 1.0;
    signal(SIGALRM, on_deadline);
    alarm((unsigned)cfg->deadline);

    bool too_large = false;
    if (m2s_read_all(STDIN_FILENO, (size_t)cfg->max_message_bytes, &input, &too_large) != 0) {
        rc = report(M2S_E_INTERNAL, NULL, "cannot read the mail from standard input", cli.dry_run);
        goto out;
    }
    if (too_large) {
        char *text = xasprintf("message too large for SMS: more than %lld bytes "
                               "(limits.max_message_bytes)", (long long)cfg->max_message_bytes);
        rc = report(M2S_E_CONTENT, NULL, text, cli.dry_run);
        free(text);
        goto out;
    }

    m2s_mail_init();
    mail_ready = true;
    m2s_mail_limits limits = { cfg->max_mime_depth, cfg->max_mime_parts };
    m2s_mail_status ms = m2s_mail_parse(input.data ? input.data : "", input.len, &limits,
                                        &mail, &why);
    if (ms != M2S_MAIL_OK) {
        rc = report(M2S_E_CONTENT, NULL, why, cli.dry_run);
        goto out;
    }

    cls = m2s_senders_authorize(cfg, cli.sender, mail, &why);
    if (cls != M2S_OK) {
        rc = report(cls, NULL, why, cli.dry_run);
        goto out;
    }

    m2s_route(cfg, cli.recipients, (size_t)cli.n_recipients, &routes);
    bool trusted = m2s_senders_trusted(cfg, cli.sender, mail);
    cls = m2s_compose(cfg, mail, input.data ? input.data : "", input.len, cli.queue_id,
                      trusted, &msg, &why);
    if (cls != M2S_OK) {
        rc = report(cls, NULL, why, cli.dry_run);
        goto out;
    }

    if (routes.n > 0) {
        cls = m2s_media_select(cfg, mail, &media, &why);
        if (cls != M2S_OK) {
            rc = report(cls, NULL, why, cli.dry_run);
            goto out;
        }
        if (!cli.dry_run) {
            state = m2s_state_open(cfg->state_dir, &why);
            if (!state) {
                rc = report(M2S_E_STATE, NULL, why, false);
                goto out;
            }
            http = m2s_http_new(cfg, deadline_at);
            if (!http) {
                rc = report(M2S_E_INTERNAL, NULL, "cannot initialise libcurl", false);
                goto out;
            }
        }
        /* On a retry, only the numbers not yet sent can need the media;
         * a mail without any asks the journal nothing here. */
        bool media_needed = false;
        if (media.n > 0) {
            size_t n_pending = 0;
            const char **pending = m2s_deliver_pending(msg, &routes, state, &n_pending);
            media_needed = m2s_media_needed(cfg, &media, pending, n_pending);
            free(pending);
        }
        if (media_needed && !cli.dry_run) {
            /* Only now, and only the chosen items, are decoded. */
            for (size_t i = 0; i < media.n; i++)
                m2s_mail_load_attachment(mail, (m2s_attachment *)media.items[i].att);
        }
        if (media_needed) {
            cls = m2s_media_store(cfg, http, cli.dry_run, stdout, &media, &why);
            if (cls != M2S_OK) {
                rc = report(cls, media.dsn, why, cli.dry_run);
                goto out;
            }
        }
    }

    m2s_deliver_opts dopts = {
        .dry_run = cli.dry_run,
        .dry_out = stdout,
        .sender = cli.sender,
        .deadline_at = deadline_at,
    };
    m2s_deliver(cfg, &dopts, msg, &routes, &media, state, http, &res);
    if (state)
        m2s_state_purge(state, cfg->retention_days);
    rc = report_line(res.cls, res.line, cli.dry_run);

out:
    m2s_result_clear(&res);
    m2s_http_free(http);
    m2s_state_close(state);
    m2s_media_set_clear(&media);
    m2s_message_free(msg);
    m2s_routes_free(&routes);
    m2s_mail_free(mail);
    if (mail_ready)
        m2s_mail_shutdown();
    m2s_buf_free(&input);
    m2s_strv_free(&problems);
    free(why);
    m2s_config_free(cfg);
    /* pipe(8) logs a successful command's output: "delivered via sms
     * service (warning: log_file ...)". A failure's line stays alone. */
    if (rc == EX_OK)
        m2s_log_report_trouble(stdout);
    m2s_log_close();
    return rc;
}
