/* modes.c - the command-line modes that read or follow the journal:
 * --track (one tracking pass, with its transports and the deadline's
 * last resort), --status QUERY [--json] and --metrics. */
#include "build-config.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sysexits.h>
#include <unistd.h>

#include "dryrun.h"
#include "http.h"
#include "log.h"
#include "mail.h"
#include "modes.h"
#include "outcome.h"
#include "report.h"
#include "track.h"
#include "util.h"

int m2s_modes_journal(const m2s_cli *cli)
{
    m2s_strv problems = { 0 };
    m2s_transport *reads = NULL, *sends = NULL;
    char *why = NULL;
    int rc = EX_CONFIG;
    const char *path = cli->config_path ? cli->config_path : m2s_config_default_path();
    m2s_config *cfg = m2s_config_load(path, &problems);
    m2s_log_open(cli->track ? "tracking" : NULL, cli->verbose);
    if (!cfg) {
        for (size_t i = 0; i < problems.n; i++)
            fprintf(stderr, "%s\n", problems.v[i]);
        goto out;
    }
    if (cfg->log_file && !cli->dry_run && cli->track &&
        m2s_log_to_file(cfg->log_file, cfg->log_time == M2S_LOG_TIME_ISO8601, &why) != 0) {
        m2s_log(LOG_WARNING, "%s; logging to syslog", why);
        free(why);
    }
    if (cli->status_query) {
        rc = m2s_report_status(cfg, cli->status_query, cli->json, stdout);
    } else if (cli->metrics) {
        rc = m2s_report_metrics(cfg, stdout);
    } else {
        /* The last resort, as for a mail: the pass keeps its own deadline. */
        signal(SIGALRM, m2s_outcome_on_alarm);
        alarm((unsigned)cfg->deadline + 30);
        reads = cli->dry_run ? m2s_dryrun_new(stdout)
                             : m2s_http_new_rate(cfg, cfg->track_max_rate);
        sends = cli->dry_run ? m2s_dryrun_new(stdout) : m2s_http_new(cfg);
        if (!reads || !sends) {
            m2s_log(LOG_ERR, "cannot initialise libcurl");
            rc = EX_TEMPFAIL;
            goto out;
        }
        m2s_track_opts o = { reads, sends, cli->dry_run, stdout,
                             m2s_now() + (double)cfg->deadline - 1.0 };
        m2s_mail_init();
        rc = m2s_track_pass(cfg, &o);
        m2s_mail_shutdown();
    }
out:
    fflush(stdout);
    m2s_transport_free(reads);
    m2s_transport_free(sends);
    m2s_config_free(cfg);
    m2s_strv_clear(&problems);
    return rc;
}
