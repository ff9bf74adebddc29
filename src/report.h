/* report.h - what the journal knows, for people and programs:
 * mail2sms --status QUERY [--json] (each matching SMS: when, to whom,
 * Bird's id, status and reason) and mail2sms --metrics (the Prometheus
 * text exposition format, for node_exporter's textfile collector).
 */
#ifndef M2S_REPORT_H
#define M2S_REPORT_H

#include <stdbool.h>
#include <stdio.h>
#include "config.h"

/* --status: every SMS matching query (a queue id, a Message-ID, a number,
 * an alias, a Bird id), oldest first, one line each, or with json one
 * JSON object per line. Exit code: 0 something matched, 1 nothing did,
 * 75 the store cannot be read. */
int m2s_report_status(const m2s_config *cfg, const char *query, bool json, FILE *out);

/* --metrics: the counters and gauges. Exit code 0, or 75. */
int m2s_report_metrics(const m2s_config *cfg, FILE *out);

#endif
