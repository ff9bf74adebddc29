/* cli.h - the command line (mail2sms(8), SYNOPSIS and OPTIONS).
 *
 *   mail2sms [-c FILE] [-f SENDER] [-q QUEUE_ID] [-n] [-v] [--] RECIPIENT...
 *   mail2sms --lmtp [-c FILE] [-v]
 *   mail2sms --check-config [-c FILE]
 *   mail2sms --init-state [-c FILE]
 *   mail2sms --track [-c FILE] [-n] [-v]
 *   mail2sms --status QUERY [--json] [-c FILE]
 *   mail2sms --metrics [-c FILE]
 *   mail2sms --help | --version
 *
 * Strings in m2s_cli are borrowed from argv.
 */
#ifndef M2S_CLI_H
#define M2S_CLI_H

#include <stdbool.h>
#include <stdio.h>

typedef struct m2s_cli {
    const char *config_path;    /* NULL = default path */
    const char *sender;         /* NULL = not given; "" = null sender */
    const char *queue_id;       /* NULL = not given */
    bool dry_run;
    bool verbose;
    bool check_config;
    bool init_state;
    bool lmtp;                  /* the LMTP service (service.h) */
    bool track;                 /* --track: one tracking pass */
    const char *status_query;   /* --status QUERY, or NULL */
    bool json;                  /* --json, with --status */
    bool metrics;               /* --metrics */
    bool help;
    bool version;
    char **recipients;          /* points into argv */
    int n_recipients;
} m2s_cli;

/* Parse argv. Returns 0, or -1 with *why a new one-line reason (caller
 * frees). Recipients are required unless --check-config, --init-state,
 * --track, --status, --metrics, --help or --version is given. */
int m2s_cli_parse(int argc, char **argv, m2s_cli *out, char **why);

void m2s_cli_usage(FILE *out);

#endif
