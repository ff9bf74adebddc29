/* check_condense.c - unit tests for condense.c and the tables of
 * profiles.c: each rule (administrator's rules, said once, boilerplate,
 * the Date rule, profiles and their headline, room, recovery,
 * pictographs), profile recognition, message.condense per alias, the
 * configuration keys; a property test (never longer, the output line
 * never lost) and bad input (a field missing, a huge apcaccess dump, a
 * mail that looks like two profiles). */
#include "build-config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "unit.h"
#include "compose.h"
#include "condense.h"
#include "config.h"
#include "mail.h"
#include "text.h"
#include "util.h"

/* ------------------------------------------------------------ helpers */

#define MINIMAL \
    "bird = { workspace_id = \"ws\"; channel_id = \"ch\"; access_key = \"k\"; };\n"

static m2s_config *cfg_load(const char *extra)
{
    char *text = xasprintf(MINIMAL "%s", extra ? extra : "");
    m2s_strv p = { 0 };
    m2s_config *c = m2s_config_load_string(text, "condense.conf", &p);
    ck_assert_msg(c != NULL, "test configuration refused: %s", p.n ? p.v[0] : "?");
    m2s_strv_clear(&p);
    free(text);
    return c;
}

static bool cfg_refused(const char *extra, const char *needle)
{
    char *text = xasprintf(MINIMAL "%s", extra);
    m2s_strv p = { 0 };
    m2s_config *c = m2s_config_load_string(text, "condense.conf", &p);
    bool found = false;
    for (size_t i = 0; i < p.n; i++)
        if (strstr(p.v[i], needle))
            found = true;
    bool refused = c == NULL && found;
    m2s_config_free(c);
    m2s_strv_clear(&p);
    free(text);
    return refused;
}

typedef struct fake_mail {
    m2s_mail m;
} fake_mail;

static void fake_init(fake_mail *f, const char *from_name, const char *from_addr,
                      const char *date)
{
    memset(f, 0, sizeof *f);
    f->m.from_name = xstrdup(from_name ? from_name : "");
    f->m.from_addr = xstrdup(from_addr ? from_addr : "");
    if (date) {
        m2s_strv_add(&f->m.hdr_names, "Date");
        m2s_strv_add(&f->m.hdr_values, date);
    }
}

static void fake_header(fake_mail *f, const char *name, const char *value)
{
    m2s_strv_add(&f->m.hdr_names, name);
    m2s_strv_add(&f->m.hdr_values, value);
}

static void fake_free(fake_mail *f)
{
    free(f->m.from_name);
    free(f->m.from_addr);
    m2s_strv_clear(&f->m.hdr_names);
    m2s_strv_clear(&f->m.hdr_values);
}

typedef struct result {
    char *subject;
    char *body;
    m2s_condense_info info;
} result;

static void condense(const m2s_config *c, const m2s_mail *m, const char *subject,
                     const char *body, result *r)
{
    memset(r, 0, sizeof *r);
    char *s = m2s_text_tidy_lines(subject);
    char *b = m2s_text_tidy_lines(body);
    m2s_condense_text(c, m, &s, &b, &r->info);
    r->subject = s;
    r->body = b;
}

static void result_free(result *r)
{
    free(r->subject);
    free(r->body);
    m2s_condense_info_clear(&r->info);
}

static bool logged(const result *r, const char *needle)
{
    for (size_t i = 0; i < r->info.log.n; i++)
        if (strstr(r->info.log.v[i], needle))
            return true;
    return false;
}

static const char nagios_body[] =
    "***** Nagios *****\n\nNotification Type: PROBLEM\n\nService: PostgreSQL connections\n"
    "Host: db02.example.com\nAddress: 10.20.4.12\nState: CRITICAL\n\n"
    "Date/Time: Mon Nov 24 03:14:22 CET 2025\n\nAdditional Info:\n\n"
    "POSTGRES_CONNECTION CRITICAL: DB \"postgres\" (host:10.20.4.12) 196 of 200 connections (98%)\n";
static const char nagios_subject[] =
    "** PROBLEM Service Alert: db02.example.com/PostgreSQL connections is CRITICAL **";

/* ------------------------------------------------------------ profiles */

START_TEST(nagios_facts_first)
{
    m2s_config *c = cfg_load(NULL);
    fake_mail f;
    fake_init(&f, "Nagios", "nagios@mon.example.com", "Mon, 24 Nov 2025 03:14:22 +0100");
    result r;
    condense(c, &f.m, nagios_subject, nagios_body, &r);
    ck_assert_str_eq(r.info.profile, "nagios");
    ck_assert_str_eq(r.subject, "CRITICAL db02.example.com/PostgreSQL connections");
    /* the output first and verbatim; Address is the one line left */
    ck_assert_str_eq(r.body, "POSTGRES_CONNECTION CRITICAL: DB \"postgres\" (host:10.20.4.12) "
                             "196 of 200 connections (98%)\nAddress: 10.20.4.12");
    ck_assert(logged(&r, "boiler: nagios boilerplate \"Nagios\""));
    ck_assert(logged(&r, "restates the Date header \"Date/Time:"));
    ck_assert(logged(&r, "once: its value is in the subject \"State: CRITICAL\""));
    ck_assert(logged(&r, "once: its value is in the subject \"Notification Type: PROBLEM\""));
    result_free(&r);
    fake_free(&f);
    m2s_config_free(c);
}
END_TEST

START_TEST(nagios_recovery_shorter)
{
    m2s_config *c = cfg_load(NULL);
    fake_mail f;
    fake_init(&f, "Nagios", "nagios@mon.example.com", NULL);
    result r;
    condense(c, &f.m, "** RECOVERY Service Alert: db02/PostgreSQL connections is OK **",
             "***** Nagios *****\nNotification Type: RECOVERY\nService: PostgreSQL connections\n"
             "Host: db02\nAddress: 10.20.4.12\nState: OK\nAdditional Info:\n"
             "POSTGRES_CONNECTION OK: DB \"postgres\" 41 of 200 connections (20%)\n", &r);
    ck_assert(r.info.recovery);
    ck_assert_str_eq(r.subject, "OK db02/PostgreSQL connections");
    ck_assert_str_eq(r.body, "POSTGRES_CONNECTION OK: DB \"postgres\" 41 of 200 connections (20%)");
    ck_assert(logged(&r, "room: a recovery says only the facts \"Address: 10.20.4.12\""));
    result_free(&r);
    fake_free(&f);
    m2s_config_free(c);
}
END_TEST

START_TEST(zabbix_headline)
{
    m2s_config *c = cfg_load(NULL);
    fake_mail f;
    fake_init(&f, "Zabbix", "zabbix@mon.example.com", "Mon, 24 Nov 2025 03:41:09 +0100");
    result r;
    condense(c, &f.m, "Problem: High CPU utilization (over 90% for 5m)",
             "Problem started at 03:41:09 on 2025.11.24\nProblem name: High CPU utilization "
             "(over 90% for 5m)\nHost: app-web07\nSeverity: High\nOperational data: Current "
             "utilization: 97.43 %\nOriginal problem ID: 48211937\n", &r);
    ck_assert_str_eq(r.info.profile, "zabbix");
    ck_assert_str_eq(r.subject, "[High] app-web07: High CPU utilization (over 90% for 5m)");
    ck_assert_str_eq(r.body, "Operational data: Current utilization: 97.43 %\n"
                             "Original problem ID: 48211937");
    result_free(&r);
    fake_free(&f);
    m2s_config_free(c);
}
END_TEST

START_TEST(apcupsd_said_once)
{
    m2s_config *c = cfg_load(NULL);
    result r;
    condense(c, NULL, "gw01 UPS ups-rack2 Power Failure !!!",
             "Subject: gw01 UPS ups-rack2 Power Failure !!!\n \ngw01 UPS ups-rack2 Power Failure !!!\n"
             " \nAPC      : 001,036,0874\nHOSTNAME : gw01\nUPSNAME  : ups-rack2\n"
             "STATUS   : ONBATT\nBCHARGE  : 97.0 Percent\nTIMELEFT : 38.5 Minutes\n", &r);
    ck_assert_str_eq(r.info.profile, "apcupsd");
    ck_assert_str_eq(r.subject, "Power Failure gw01/ups-rack2");
    ck_assert_str_eq(r.body, "STATUS : ONBATT\nBCHARGE : 97.0 Percent\nTIMELEFT : 38.5 Minutes");
    ck_assert(logged(&r, "boiler: apcupsd boilerplate \"APC : 001,036,0874\""));
    ck_assert(logged(&r, "once: the subject says \"Subject: gw01 UPS"));
    ck_assert(logged(&r, "once: its value is in the subject \"HOSTNAME : gw01\""));
    result_free(&r);
    m2s_config_free(c);
}
END_TEST

START_TEST(two_profiles_one_mail)
{
    /* An Alertmanager-shaped subject with a Grafana body and sender: the
     * better score wins, and the text is sane either way. */
    m2s_config *c = cfg_load(NULL);
    fake_mail f;
    fake_init(&f, "Grafana", "grafana@example.com", NULL);
    result r;
    condense(c, &f.m, "[FIRING:1] DiskFull (web01)",
             "Firing: 1 alert for DiskFull\nView in AlertManager\nSummary: /srv is 97% full\n"
             "grafana_folder = Production\n", &r);
    ck_assert_str_eq(r.info.profile, "grafana");
    ck_assert_str_eq(r.subject, "FIRING DiskFull");
    ck_assert_ptr_nonnull(strstr(r.body, "Summary: /srv is 97% full"));
    ck_assert_ptr_null(strstr(r.body, "AlertManager"));
    result_free(&r);
    m2s_config_free(c);
    fake_free(&f);
}
END_TEST

START_TEST(profile_field_missing)
{
    /* A Nagios subject without "Additional Info:" nor a state: the
     * headline says what it has, nothing is invented, nothing lost. */
    m2s_config *c = cfg_load(NULL);
    result r;
    condense(c, NULL, "** PROBLEM Host Alert: fw01 is DOWN **",
             "Notification Type: PROBLEM\nAdditional Info:\n", &r);
    ck_assert_str_eq(r.info.profile, "nagios");
    ck_assert_str_eq(r.subject, "DOWN fw01");
    ck_assert_str_eq(r.body, "Additional Info:");
    result_free(&r);
    condense(c, NULL, "** PROBLEM Service Alert: / is **", "Notification Type: PROBLEM\n", &r);
    ck_assert(strlen(r.subject) > 0);
    result_free(&r);
    m2s_config_free(c);
}
END_TEST

START_TEST(huge_apcaccess_dump)
{
    m2s_config *c = cfg_load(NULL);
    m2s_buf b;
    m2s_buf_init(&b);
    m2s_buf_adds(&b, "STATUS   : ONBATT\n");
    for (int i = 0; i < 5000; i++)
        m2s_buf_printf(&b, "KEY%04d  : value %d Percent\n", i, i);
    char *body = m2s_buf_steal(&b);
    result r;
    condense(c, NULL, "gw01 UPS ups-rack2 Power Failure !!!", body, &r);
    ck_assert_str_eq(r.info.profile, "apcupsd");
    ck_assert(strncmp(r.body, "STATUS : ONBATT\n", 16) == 0);
    m2s_sms_count cnt;
    char *all = xasprintf("%s: %s", r.subject, r.body);
    m2s_sms_count_text(all, &cnt);
    ck_assert_int_eq(cnt.parts, 1);     /* the room rule: the facts' one part */
    free(all);
    result_free(&r);
    free(body);
    m2s_config_free(c);
}
END_TEST

/* ------------------------------------------------------------ generic rules */

START_TEST(unknown_mail_keeps_order)
{
    m2s_config *c = cfg_load(NULL);
    fake_mail f;
    fake_init(&f, "Backup", "backup@example.com", "Tue, 25 Nov 2025 01:47:00 +0100");
    result r;
    condense(c, &f.m, "Backup of fs01 failed",
             "Backup of fs01 failed\nJob fs01-nightly: tape drive not responding\n"
             "Host: fs01\nJob fs01-nightly: tape drive not responding\n"
             "Date: 25 Nov 2025 01:47\nThis is an automatically generated message.\n"
             "Please do not reply to this e-mail.\nRetry at 06:00.\n", &r);
    ck_assert_ptr_null(r.info.profile);
    ck_assert_str_eq(r.subject, "Backup of fs01 failed");
    ck_assert_str_eq(r.body, "Job fs01-nightly: tape drive not responding\nRetry at 06:00.");
    ck_assert(logged(&r, "once: repeated line"));
    ck_assert(logged(&r, "boiler: generic boilerplate \"Please do not reply"));
    result_free(&r);
    fake_free(&f);
    m2s_config_free(c);
}
END_TEST

START_TEST(value_not_in_subject_stays)
{
    m2s_config *c = cfg_load(NULL);
    result r;
    condense(c, NULL, "Disk alert on web05", "Host: web06\nState: WARNING\nType: disk\n", &r);
    ck_assert_str_eq(r.body, "Host: web06\nState: WARNING");     /* "disk" is in the subject */
    result_free(&r);
    m2s_config_free(c);
}
END_TEST

START_TEST(no_subject_in_format)
{
    /* The subject is not sent: lines are not dropped for saying it. */
    m2s_config *c = cfg_load("message = { format = \"{body}\"; };\n");
    result r;
    condense(c, NULL, "Backup of fs01 failed", "Backup of fs01 failed\nHost: fs01\n", &r);
    ck_assert_str_eq(r.body, "Backup of fs01 failed\nHost: fs01");
    result_free(&r);
    m2s_config_free(c);
}
END_TEST

START_TEST(date_other_time_stays)
{
    m2s_config *c = cfg_load(NULL);
    fake_mail f;
    fake_init(&f, "", "x@example.com", "Mon, 24 Nov 2025 03:14:22 +0100");
    result r;
    condense(c, &f.m, "Job late", "Date: 2025-11-23 22:10\nWhen: 2025-11-24 03:14 Ran too long\n", &r);
    ck_assert_str_eq(r.body, "Date: 2025-11-23 22:10\nWhen: 2025-11-24 03:14 Ran too long");
    result_free(&r);
    fake_free(&f);
    m2s_config_free(c);
}
END_TEST

START_TEST(admin_rules)
{
    m2s_config *c = cfg_load(
        "message = { rules = { erp = { from = \"@erp\\\\.example\\\\.com>?$\";\n"
        "  header = \"X-Mailer: ^OldERP\";\n"
        "  first = [ \"^Fehler: \" ]; drop = [ \"^Seite [0-9]+$\", \"^Mandant: \" ]; }; }; };\n");
    ck_assert_uint_eq(c->n_rules, 1);
    fake_mail f;
    fake_init(&f, "ERP", "batch@erp.example.com", NULL);
    fake_header(&f, "X-Mailer", "OldERP 4.2");
    const char *body = "Seite 1\nMandant: 100\nLauf: Tagesabschluss\nFehler: Buchung 4711 gesperrt\n";
    result r;
    condense(c, &f.m, "Batch-Lauf beendet", body, &r);
    ck_assert_str_eq(r.body, "Fehler: Buchung 4711 gesperrt\nLauf: Tagesabschluss");
    ck_assert(logged(&r, "rule erp: dropped \"Seite 1\""));
    ck_assert(logged(&r, "rule erp: moved first \"Fehler: Buchung 4711 gesperrt\""));
    result_free(&r);
    /* another sender: the rule does not apply */
    free(f.m.from_addr);
    f.m.from_addr = xstrdup("batch@other.example.com");
    condense(c, &f.m, "Batch-Lauf beendet", body, &r);
    ck_assert_str_eq(r.body, "Seite 1\nMandant: 100\nLauf: Tagesabschluss\nFehler: Buchung 4711 gesperrt");
    result_free(&r);
    fake_free(&f);
    m2s_config_free(c);
}
END_TEST

/* ------------------------------------------------------------ pictographs */

START_TEST(pictographs)
{
    m2s_config *c = cfg_load(NULL);
    result r;
    /* the words say the state: the icon goes */
    condense(c, NULL, "[web01] [\xf0\x9f\x94\xb4 Down] timeout", "\xe2\x9c\x85 nothing else", &r);
    ck_assert_str_eq(r.subject, "[web01] [Down] timeout");
    ck_assert_str_eq(r.body, "[OK] nothing else");      /* alone: the word */
    result_free(&r);
    /* with a variation selector, as Grafana templates write it */
    condense(c, NULL, "\xe2\x9a\xa0\xef\xb8\x8f disk /srv", "\xf0\x9f\x93\x81 /srv/data", &r);
    ck_assert_str_eq(r.subject, "[WARNING] disk /srv");
    ck_assert_str_eq(r.body, "/srv/data");
    m2s_sms_count cnt;
    m2s_sms_count_text(r.subject, &cnt);
    ck_assert_int_eq(cnt.encoding, M2S_ENC_GSM7);
    result_free(&r);
    /* UCS-2 anyway (Cyrillic): kept */
    condense(c, NULL, "\xf0\x9f\x94\xb4 \xd0\xa1\xd0\xb5\xd1\x80\xd0\xb2\xd0\xb5\xd1\x80", "x", &r);
    ck_assert_str_eq(r.subject, "\xf0\x9f\x94\xb4 \xd0\xa1\xd0\xb5\xd1\x80\xd0\xb2\xd0\xb5\xd1\x80");
    result_free(&r);
    m2s_config_free(c);
    c = cfg_load("message = { keep_emoji = true; };\n");
    condense(c, NULL, "\xf0\x9f\x94\xb4 web01", "x", &r);
    ck_assert_str_eq(r.subject, "\xf0\x9f\x94\xb4 web01");
    result_free(&r);
    m2s_config_free(c);
}
END_TEST

/* ------------------------------------------------------------ message and aliases */

START_TEST(message_condense_off_and_alias)
{
    m2s_config *c = cfg_load(
        "message = { condense = false; };\n"
        "recipients = { aliases = { raw = [ \"+31612345678\" ];\n"
        "  short = { numbers = [ \"+31612345679\" ]; condense = true; }; }; };\n");
    ck_assert(!c->condense);
    const m2s_alias *raw = m2s_config_alias(c, "raw"), *sh = m2s_config_alias(c, "short");
    ck_assert_int_eq(raw->condense, -1);
    ck_assert_int_eq(sh->condense, 1);
    m2s_message msg;
    memset(&msg, 0, sizeof msg);
    msg.subject = m2s_text_tidy_lines(nagios_subject);
    msg.body = m2s_text_tidy_lines(nagios_body);
    char *before = xstrdup(msg.body);
    m2s_compose_condense(c, NULL, &msg);
    ck_assert_str_eq(msg.body, before);             /* condense = false: as it came */
    ck_assert_ptr_nonnull(msg.alt_body);
    m2s_message view;
    ck_assert_ptr_eq(m2s_compose_for_alias(c, &msg, raw, &view), &msg);
    ck_assert_ptr_eq(m2s_compose_for_alias(c, &msg, NULL, &view), &msg);
    const m2s_message *v = m2s_compose_for_alias(c, &msg, sh, &view);
    ck_assert_ptr_eq(v, &view);
    ck_assert_str_eq(v->subject, "CRITICAL db02.example.com/PostgreSQL connections");
    free(before);
    free(msg.subject);
    free(msg.body);
    free(msg.alt_subject);
    free(msg.alt_body);
    m2s_config_free(c);
}
END_TEST

START_TEST(config_refusals)
{
    ck_assert(cfg_refused("message = { rules = { a = { drop = [ \"(\" ]; }; }; };\n",
                          "bad pattern"));
    ck_assert(cfg_refused("message = { rules = { a = { from = \"x\"; }; }; };\n",
                          "neither first nor drop"));
    ck_assert(cfg_refused("message = { rules = { a = { header = \"nocolon\"; drop = \"x\"; }; }; };\n",
                          "Header-Name: pattern"));
    ck_assert(cfg_refused("message = { rules = { a = { drop = \"x\"; colour = 1; }; }; };\n",
                          "unknown key 'message.rules.a.colour'"));
    ck_assert(cfg_refused("recipients = { aliases = { a = { numbers = [ \"+31612345678\" ]; "
                          "condense = 1; }; }; };\n", "condense' must be true or false"));
}
END_TEST

/* ------------------------------------------------------------ property */

/* Lines the samples are made of; every mix of them is condensed. */
static const char *const pieces[] = {
    "Notification Type: PROBLEM", "Host: db02.example.com", "State: CRITICAL",
    "Date/Time: Mon Nov 24 03:14:22 CET 2025", "Additional Info:", "***** Nagios *****",
    "This is an automatically generated mail message from mdadm", "Faithfully yours, etc.",
    "STATUS : ONBATT", "BCHARGE : 97.0 Percent", "APC : 001,036,0874",
    "\xf0\x9f\x94\xa5 burning", "Labels", "severity = critical", "description = disk full",
    "a line that is long enough to take room in a part of a text message, more or less",
    "Info: CRITICAL - Host Unreachable (203.0.113.2)", "Output: CRIT - 96% used",
};
static const char *const subjects[] = {
    "** PROBLEM Service Alert: db02.example.com/PostgreSQL connections is CRITICAL **",
    "gw01 UPS ups-rack2 Power Failure !!!", "[FIRING:2] DiskFull (web01 critical)",
    "Problem: Disk full", "Check_MK: db02/Filesystem /srv OK -> CRIT", "Something else",
    "\xd0\xa1\xd0\xb5\xd1\x80\xd0\xb2\xd0\xb5\xd1\x80 \xf0\x9f\x94\xb4",
};

START_TEST(property_never_longer_never_loses_output)
{
    m2s_config *c = cfg_load(NULL);
    fake_mail f;
    fake_init(&f, "Monitor", "mon@example.com", "Mon, 24 Nov 2025 03:14:22 +0100");
    const char *output = "OUTPUT-LINE CRITICAL - 196 of 200 connections (98%)";
    unsigned seed = 12345;
    size_t np = sizeof pieces / sizeof pieces[0];
    for (int round = 0; round < 400; round++) {
        m2s_buf b;
        m2s_buf_init(&b);
        int n = 1 + (int)((seed = seed * 1103515245 + 12345) >> 16) % 12;
        int out_at = (int)((seed = seed * 1103515245 + 12345) >> 16) % n;
        for (int i = 0; i < n; i++) {
            if (i == out_at) {
                m2s_buf_adds(&b, "Additional Info:\n");
                m2s_buf_printf(&b, "%s\n", output);
            }
            m2s_buf_printf(&b, "%s\n", pieces[((seed = seed * 1103515245 + 12345) >> 16) % np]);
        }
        char *body = m2s_buf_steal(&b);
        const char *subj = subjects[round % (sizeof subjects / sizeof subjects[0])];
        char *ts = m2s_text_tidy_lines(subj), *tb = m2s_text_tidy_lines(body);
        char *before = xasprintf("%s: %s", ts, tb);
        result r;
        condense(c, &f.m, subj, body, &r);
        char *after = xasprintf("%s: %s", r.subject, r.body);
        char *tb2 = m2s_transliterate(before), *ta2 = m2s_transliterate(after);
        m2s_sms_count cb, ca;
        m2s_sms_count_text(tb2, &cb);
        m2s_sms_count_text(ta2, &ca);
        ck_assert_msg(ca.parts <= cb.parts, "round %d longer: %d > %d parts\n%s\n---\n%s",
                      round, ca.parts, cb.parts, before, after);
        if (ca.parts == cb.parts && ca.encoding == cb.encoding)
            ck_assert_msg(ca.units <= cb.units, "round %d longer: %zu > %zu\n%s\n---\n%s",
                          round, ca.units, cb.units, before, after);
        /* the output line survives, verbatim, whatever the mix: for a
         * mail no profile knows (no rule drops it) and for Nagios (whose
         * output it is); and so does every line a profile took as one */
        if (!r.info.profile || strcmp(r.info.profile, "nagios") == 0)
            ck_assert_msg(strstr(r.body, output) != NULL, "round %d lost the output:\n%s\n---\n%s",
                          round, before, after);
        for (size_t i = 0; i < r.info.log.n; i++) {
            const char *q = strstr(r.info.log.v[i], "output first \"");
            if (!q)
                continue;
            char *line = xstrdup(q + 14);
            line[strcspn(line, "\"")] = '\0';
            size_t ll = strlen(line);
            if (ll > 3 && strcmp(line + ll - 3, "...") == 0)
                line[ll - 3] = '\0';           /* the log quotes long lines cut */
            ck_assert_msg(strstr(r.body, line) != NULL, "round %d lost \"%s\"", round, line);
            free(line);
        }
        free(tb2);
        free(ta2);
        free(after);
        free(before);
        free(ts);
        free(tb);
        result_free(&r);
        free(body);
    }
    fake_free(&f);
    m2s_config_free(c);
}
END_TEST

static Suite *make_suite(void)
{
    Suite *s = suite_create("condense");
    TCase *tp = tcase_create("profiles");
    tcase_add_test(tp, nagios_facts_first);
    tcase_add_test(tp, nagios_recovery_shorter);
    tcase_add_test(tp, zabbix_headline);
    tcase_add_test(tp, apcupsd_said_once);
    tcase_add_test(tp, two_profiles_one_mail);
    tcase_add_test(tp, profile_field_missing);
    tcase_add_test(tp, huge_apcaccess_dump);
    suite_add_tcase(s, tp);
    TCase *tg = tcase_create("rules");
    tcase_add_test(tg, unknown_mail_keeps_order);
    tcase_add_test(tg, value_not_in_subject_stays);
    tcase_add_test(tg, no_subject_in_format);
    tcase_add_test(tg, date_other_time_stays);
    tcase_add_test(tg, admin_rules);
    tcase_add_test(tg, pictographs);
    suite_add_tcase(s, tg);
    TCase *tc = tcase_create("configuration");
    tcase_add_test(tc, message_condense_off_and_alias);
    tcase_add_test(tc, config_refusals);
    suite_add_tcase(s, tc);
    TCase *tq = tcase_create("property");
    tcase_set_timeout(tq, 60);
    tcase_add_test(tq, property_never_longer_never_loses_output);
    suite_add_tcase(s, tq);
    return s;
}
