/* cli.c - the command line of mail2sms(8). A mistake here defers the
 * mail as a usage error: a typo in master.cf must never bounce. */
#include "build-config.h"

#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "util.h"

enum { OPT_CHECK_CONFIG = 256, OPT_HELP, OPT_VERSION, OPT_INIT_STATE, OPT_LMTP, OPT_TRACK,
       OPT_STATUS, OPT_JSON, OPT_METRICS };

static const struct option long_opts[] = {
    { "config",       required_argument, NULL, 'c' },
    { "sender",       required_argument, NULL, 'f' },
    { "queue-id",     required_argument, NULL, 'q' },
    { "dry-run",      no_argument,       NULL, 'n' },
    { "verbose",      no_argument,       NULL, 'v' },
    { "check-config", no_argument,       NULL, OPT_CHECK_CONFIG },
    { "init-state",   no_argument,       NULL, OPT_INIT_STATE },
    { "lmtp",         no_argument,       NULL, OPT_LMTP },
    { "track",        no_argument,       NULL, OPT_TRACK },
    { "status",       required_argument, NULL, OPT_STATUS },
    { "json",         no_argument,       NULL, OPT_JSON },
    { "metrics",      no_argument,       NULL, OPT_METRICS },
    { "help",         no_argument,       NULL, OPT_HELP },
    { "version",      no_argument,       NULL, OPT_VERSION },
    { NULL, 0, NULL, 0 }
};

int m2s_cli_parse(int argc, char **argv, m2s_cli *out, char **why)
{
    memset(out, 0, sizeof *out);
    *why = NULL;
    opterr = 0;         /* we word the error ourselves */
    optind = 0;         /* 0, not 1: glibc then also forgets a half-read cluster */
    int c;
    while ((c = getopt_long(argc, argv, ":c:f:q:nv", long_opts, NULL)) != -1) {
        switch (c) {
        case 'c': out->config_path = optarg; break;
        case 'f': out->sender = optarg; break;
        case 'q': out->queue_id = optarg; break;
        case 'n': out->dry_run = true; break;
        case 'v': out->verbose = true; break;
        case OPT_CHECK_CONFIG: out->check_config = true; break;
        case OPT_INIT_STATE: out->init_state = true; break;
        case OPT_LMTP: out->lmtp = true; break;
        case OPT_TRACK: out->track = true; break;
        case OPT_STATUS: out->status_query = optarg; break;
        case OPT_JSON: out->json = true; break;
        case OPT_METRICS: out->metrics = true; break;
        case OPT_HELP: out->help = true; break;
        case OPT_VERSION: out->version = true; break;
        case ':':
            *why = xasprintf("option %s needs a value", argv[optind - 1]);
            return -1;
        default:
            if (optopt)
                *why = xasprintf("unknown option -%c", optopt);
            else
                *why = m2s_oneline(argv[optind - 1], 80);
            if (!optopt) {
                char *w = xasprintf("unknown option %s", *why);
                free(*why);
                *why = w;
            }
            return -1;
        }
    }
    out->recipients = argv + optind;
    out->n_recipients = argc - optind;
    if (out->help || out->version)
        return 0;
    int modes = out->init_state + out->check_config + out->track + !!out->status_query +
                out->metrics;
    if (modes > 1) {
        *why = xstrdup("give only one of --check-config, --init-state, --track, --status "
                       "and --metrics");
        return -1;
    }
    if (out->json && !out->status_query) {
        *why = xstrdup("--json goes with --status");
        return -1;
    }
    if (out->status_query && !*out->status_query) {
        *why = xstrdup("--status needs a queue id, Message-ID, number or alias");
        return -1;
    }
    if (out->track || out->status_query || out->metrics) {
        if (out->n_recipients > 0) {
            *why = xasprintf("%s takes no recipients", out->track ? "--track"
                             : out->metrics ? "--metrics" : "--status");
            return -1;
        }
        return 0;
    }
    if (out->init_state) {
        if (out->n_recipients > 0 || out->check_config) {
            *why = xstrdup("--init-state takes no recipients");
            return -1;
        }
        return 0;
    }
    if (out->check_config) {
        if (out->n_recipients > 0) {
            *why = xstrdup("--check-config takes no recipients");
            return -1;
        }
        return 0;
    }
    if (out->lmtp) {
        if (out->n_recipients > 0 || out->sender || out->queue_id || out->dry_run) {
            *why = xstrdup("--lmtp takes no recipients and none of -f, -q, -n: "
                           "each transaction brings its own");
            return -1;
        }
        return 0;
    }
    if (out->n_recipients == 0) {
        *why = xstrdup("no recipient given (usage: mail2sms [options] -- RECIPIENT...)");
        return -1;
    }
    for (int i = 0; i < out->n_recipients; i++) {
        if (!*out->recipients[i]) {
            *why = xstrdup("empty recipient argument");
            return -1;
        }
    }
    return 0;
}

void m2s_cli_usage(FILE *out)
{
    fputs("Usage: mail2sms [-c FILE] [-f SENDER] [-q QUEUE_ID] [-n] [-v] [--] RECIPIENT...\n"
          "       mail2sms --lmtp [-c FILE] [-v]\n"
          "       mail2sms --check-config [-c FILE]\n"
          "       mail2sms --init-state [-c FILE]\n"
          "       mail2sms --track [-c FILE] [-n] [-v]\n"
          "       mail2sms --status QUERY [--json] [-c FILE]\n"
          "       mail2sms --metrics [-c FILE]\n"
          "       mail2sms --help | --version\n"
          "\n"
          "Reads one mail on standard input and sends it as SMS/MMS through Bird.\n"
          "\n"
          "  -c, --config=FILE     configuration file (default ", out);
    fputs(SYSCONFDIR "/mail2sms/mail2sms.conf)\n", out);
    fputs("  -f, --sender=SENDER   envelope sender (empty = null sender)\n"
          "  -q, --queue-id=ID     Postfix queue id, for logs and as a message key\n"
          "  -n, --dry-run         print the requests as JSON lines; no network, no writes\n"
          "  -v, --verbose         also log to standard error, with detail\n"
          "      --lmtp            run the LMTP service on service.listen (or the\n"
          "                        sockets systemd hands over) until SIGTERM\n"
          "      --check-config    validate the configuration, print a summary\n"
          "      --init-state      create or migrate the state store's schema\n"
          "      --track           one tracking pass: read due SMS statuses from Bird\n"
          "      --status=QUERY    the SMS of a queue id, Message-ID, number or alias\n"
          "      --json            with --status: one JSON object per SMS\n"
          "      --metrics         counters in the Prometheus text format\n"
          "      --help            this text\n"
          "      --version         version and libraries\n"
          "\n"
          "Exit status: 0 sent; 75 try again later; 67 unknown recipient;\n"
          "77 not allowed; 65 cannot be sent as SMS; 78 (--check-config) unusable.\n", out);
}
