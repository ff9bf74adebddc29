/* main.c - the pipe transport (and, with --lmtp, the start of the LMTP
 * service, service.h): reads the command line, the configuration
 * and the mail on standard input, sets up logging, the deadline and the
 * transport (libcurl, or the dry-run printer with -n), runs the job for
 * the mail (run.h) and exits with its status. Exactly one line goes to
 * standard output for Postfix when the mail is not sent (to standard
 * error in a dry run, whose standard output is JSON only). */
#include "build-config.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sysexits.h>
#include <unistd.h>

#include "cli.h"
#include "config.h"
#include "dryrun.h"
#include "http.h"
#include "log.h"
#include "mail.h"
#include "modes.h"
#include "outcome.h"
#include "run.h"
#include "service.h"
#include "util.h"

int main(int argc, char **argv)
{
    m2s_cli cli = { 0 };
    m2s_envelope envelope = { 0 };
    m2s_status st = M2S_STATUS_INIT;
    m2s_result res = { 0 };
    m2s_strv problems = { 0 };
    m2s_config *cfg = NULL;
    m2s_transport *tr = NULL;
    m2s_buf input;
    char *why = NULL;
    bool too_large = false, ran = false;
    int rc;

    m2s_buf_init(&input);
    m2s_outcome_init();
    /* Postfix may stop reading our output; that must not kill the run
     * half-way through a batch. */
    signal(SIGPIPE, SIG_IGN);
    if (m2s_cli_parse(argc, argv, &cli, &why) != 0) {
        cli.dry_run = false;
        m2s_log_open(NULL, false);
        m2s_status_take(&st, M2S_E_USAGE, NULL, why);
        goto report;
    }
    if (m2s_run_admin(&cli, stdout, &rc))
        goto out;
    if (cli.track || cli.status_query || cli.metrics) {
        rc = m2s_modes_journal(&cli);
        goto out;
    }
    m2s_log_open(cli.queue_id, cli.verbose);
    if (cli.dry_run)
        m2s_log_quiet();
    envelope = (m2s_envelope){ cli.sender, cli.queue_id, cli.recipients,
                               (size_t)cli.n_recipients };
    const char *path = cli.config_path ? cli.config_path : m2s_config_default_path();
    if (!(cfg = m2s_config_load(path, &problems))) {
        m2s_config_failed(path, &problems, &st);
        if (cli.lmtp) {
            /* no mail to answer: the reasons are logged */
            rc = EX_CONFIG;
            goto out;
        }
        goto report;
    }
    /* A dry run writes nothing, not even a log file it might create. */
    if (cfg->log_file && !cli.dry_run &&
        m2s_log_to_file(cfg->log_file, cfg->log_time == M2S_LOG_TIME_ISO8601, &why) != 0) {
        m2s_log(LOG_WARNING, "%s; logging to syslog", why);
        free(why);
    }
    if (cli.lmtp) {
        /* the service: each transaction has its own deadline, no alarm */
        rc = m2s_service_run(path, cfg);
        cfg = NULL;
        goto out;
    }
    double deadline_at = m2s_now() + (double)cfg->deadline - 1.0;
    signal(SIGALRM, m2s_outcome_on_alarm);
    alarm((unsigned)cfg->deadline);

    if (m2s_read_all(STDIN_FILENO, (size_t)cfg->max_message_bytes, &input, &too_large) != 0)
        m2s_status_set(&st, M2S_E_INTERNAL, NULL, "cannot read the mail from standard input");
    else if (too_large)
        m2s_status_set(&st, M2S_E_CONTENT, NULL, "message too large for SMS: more than %lld "
                       "bytes (limits.max_message_bytes)", (long long)cfg->max_message_bytes);
    else if (!(tr = cli.dry_run ? m2s_dryrun_new(stdout) : m2s_http_new(cfg)))
        m2s_status_set(&st, M2S_E_INTERNAL, NULL, "cannot initialise libcurl");
    if (st.cls != M2S_OK)
        goto report;

    m2s_run_env env = {
        .transport = tr,
        .media = cli.dry_run ? m2s_dryrun_media(cfg) : NULL,
        .state_dir = cli.dry_run ? NULL : cfg->state_dir,
        .deadline_at = deadline_at,
    };
    m2s_mail_init();
    ran = true;
    m2s_run(cfg, &env, &envelope, input.data, input.len, &res);
    m2s_status_move(&st, &res.mail);
    goto print;
report:
    m2s_run_report(&envelope, &st);
print:
    if (st.cls != M2S_OK && st.cls != M2S_DROPPED) {
        char *line = m2s_status_line(&st);
        fprintf(cli.dry_run ? stderr : stdout, "%s\n", line);
        free(line);
    }
    rc = m2s_outcome(st.cls)->exit_code;
    /* pipe(8) logs a successful command's output: "delivered via sms
     * service (warning: log_file ...)". A failure's line stays alone. */
    if (rc == EX_OK)
        m2s_log_report_trouble(stdout);
    fflush(stdout);
out:
    m2s_transport_free(tr);
    if (ran)
        m2s_mail_shutdown();
    m2s_buf_clear(&input);
    m2s_strv_clear(&problems);
    m2s_status_clear(&st);
    m2s_result_clear(&res);
    m2s_config_free(cfg);
    m2s_log_close();
    return rc;
}
