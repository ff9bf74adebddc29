/* check_outcome.c - the failure-class table against mail2sms(8) (EXIT
 * STATUS, and the line Postfix shows): exit codes, enhanced status codes,
 * which outcome wins for a mail, and the one line Postfix shows. */
#include "build-config.h"

#include <glib.h>
#include <stdlib.h>
#include <string.h>

#include "unit.h"
#include "outcome.h"
#include "util.h"

/* The table as mail2sms(8) writes it. A "4.4.x" entry is given as its
 * prefix "4.4."; every other code must match exactly. */
static const struct {
    m2s_class cls;
    int exit_code;
    const char *dsn;
    bool dsn_prefix;
    const char *status;
} contract[] = {
    { M2S_OK,             0,  "",      false, "sent" },
    { M2S_DROPPED,        0,  "",      false, "dropped" },
    { M2S_E_USAGE,        75, "4.3.5", false, "deferred" },
    { M2S_E_CONFIG,       75, "4.3.5", false, "deferred" },
    { M2S_E_API_AUTH,     75, "4.3.5", false, "deferred" },
    { M2S_E_API_TEMP,     75, "4.4.",  true,  "deferred" },
    { M2S_E_NETWORK,      75, "4.4.",  true,  "deferred" },
    { M2S_E_INTERNAL,     75, "4.3.0", false, "deferred" },
    { M2S_E_STATE,        75, "4.3.0", false, "deferred" },
    { M2S_E_RATE_DEFER,   75, "4.7.0", false, "deferred" },
    { M2S_E_UNKNOWN_RCPT, 67, "5.1.1", false, "bounced" },
    { M2S_E_PREFIX,       77, "5.7.1", false, "bounced" },
    { M2S_E_SENDER,       77, "5.7.1", false, "bounced" },
    { M2S_E_CONTENT,      65, "5.6.0", false, "bounced" },
};
#define N_CONTRACT (sizeof contract / sizeof contract[0])

/* The contract covers every class there is. */
START_TEST(test_table_complete)
{
    ck_assert_int_eq(N_CONTRACT, M2S_CLASS_COUNT);
    for (int c = 0; c < M2S_CLASS_COUNT; c++) {
        bool seen = false;
        for (size_t i = 0; i < N_CONTRACT; i++)
            if ((int)contract[i].cls == c)
                seen = true;
        ck_assert_msg(seen, "class %d missing from the contract table", c);
    }
}
END_TEST

START_TEST(test_table_row)
{
    const typeof(contract[0]) *want = &contract[_i];
    const m2s_outcome_row *row = m2s_outcome(want->cls);
    ck_assert_ptr_nonnull(row);
    ck_assert_int_eq(row->cls, want->cls);
    ck_assert_msg(row->exit_code == want->exit_code, "class %d: exit %d, want %d",
                  want->cls, row->exit_code, want->exit_code);
    ck_assert_ptr_nonnull(row->dsn);
    if (want->dsn_prefix) {
        ck_assert_msg(strncmp(row->dsn, want->dsn, strlen(want->dsn)) == 0 &&
                      strlen(row->dsn) == 5 && g_ascii_isdigit(row->dsn[4]),
                      "class %d: dsn %s, want %sx", want->cls, row->dsn, want->dsn);
    } else {
        ck_assert_str_eq(row->dsn, want->dsn);
    }
    ck_assert_str_eq(row->status, want->status);
    ck_assert_int_eq(m2s_outcome_is_temporary(want->cls), want->exit_code == 75);
}
END_TEST

/* Postfix defers only on 75 and 71: a 4.x.x class must exit 75, a 5.x.x
 * class must not (it would be retried forever), success has no code. */
START_TEST(test_only_75_defers)
{
    for (int c = 0; c < M2S_CLASS_COUNT; c++) {
        const m2s_outcome_row *row = m2s_outcome((m2s_class)c);
        if (row->dsn[0] == '4') {
            ck_assert_msg(row->exit_code == 75, "class %d has %s but exit %d", c,
                          row->dsn, row->exit_code);
            ck_assert(m2s_outcome_is_temporary((m2s_class)c));
        } else if (row->dsn[0] == '5') {
            ck_assert_msg(row->exit_code != 75 && row->exit_code != 71 && row->exit_code != 0,
                          "class %d has %s but exit %d", c, row->dsn, row->exit_code);
            ck_assert(!m2s_outcome_is_temporary((m2s_class)c));
        } else {
            ck_assert_str_eq(row->dsn, "");
            ck_assert_int_eq(row->exit_code, 0);
        }
    }
}
END_TEST

/* Our own mistakes defer: a class out of range is treated as temporary. */
START_TEST(test_unknown_class_defers)
{
    const m2s_outcome_row *row = m2s_outcome(M2S_CLASS_COUNT);
    ck_assert_ptr_nonnull(row);
    ck_assert_int_eq(row->exit_code, 75);
    row = m2s_outcome((m2s_class)-1);
    ck_assert_ptr_nonnull(row);
    ck_assert_int_eq(row->exit_code, 75);
}
END_TEST

static int rank(m2s_class c)
{
    const m2s_outcome_row *row = m2s_outcome(c);
    if (row->exit_code == 75)
        return 2;
    if (row->exit_code != 0)
        return 1;
    return 0;
}

/* Every pair: the temporary one wins over any permanent one, a permanent
 * one over success; the winner is always one of the two. */
START_TEST(test_worse_all_pairs)
{
    for (int a = 0; a < M2S_CLASS_COUNT; a++) {
        for (int b = 0; b < M2S_CLASS_COUNT; b++) {
            m2s_class w = m2s_outcome_worse((m2s_class)a, (m2s_class)b);
            ck_assert_msg((int)w == a || (int)w == b, "worse(%d,%d) = %d", a, b, w);
            int ra = rank((m2s_class)a), rb = rank((m2s_class)b);
            int want = ra > rb ? ra : rb;
            ck_assert_msg(rank(w) == want, "worse(%d,%d) = %d (rank %d, want %d)",
                          a, b, w, rank(w), want);
            /* the order of the numbers does not change the exit code */
            m2s_class w2 = m2s_outcome_worse((m2s_class)b, (m2s_class)a);
            ck_assert_int_eq(m2s_outcome(w)->exit_code, m2s_outcome(w2)->exit_code);
        }
    }
}
END_TEST

START_TEST(test_worse_examples)
{
    ck_assert_int_eq(m2s_outcome_worse(M2S_OK, M2S_E_UNKNOWN_RCPT), M2S_E_UNKNOWN_RCPT);
    ck_assert_int_eq(m2s_outcome_worse(M2S_E_CONTENT, M2S_OK), M2S_E_CONTENT);
    ck_assert_int_eq(m2s_outcome_worse(M2S_E_CONTENT, M2S_E_NETWORK), M2S_E_NETWORK);
    ck_assert_int_eq(m2s_outcome_worse(M2S_E_RATE_DEFER, M2S_E_SENDER), M2S_E_RATE_DEFER);
    ck_assert_int_eq(m2s_outcome_worse(M2S_DROPPED, M2S_E_PREFIX), M2S_E_PREFIX);
    /* folding a whole mail: one deferral among bounces and successes */
    m2s_class acc = M2S_OK;
    const m2s_class seq[] = { M2S_OK, M2S_E_PREFIX, M2S_E_API_TEMP, M2S_E_UNKNOWN_RCPT, M2S_OK };
    for (size_t i = 0; i < sizeof seq / sizeof seq[0]; i++)
        acc = m2s_outcome_worse(acc, seq[i]);
    ck_assert_int_eq(m2s_outcome(acc)->exit_code, 75);
}
END_TEST

START_TEST(test_line_starts_with_dsn)
{
    for (size_t i = 0; i < N_CONTRACT; i++) {
        char *line = m2s_outcome_line(contract[i].cls, NULL, "some reason");
        const char *dsn = m2s_outcome(contract[i].cls)->dsn;
        if (*dsn) {
            ck_assert_msg(strncmp(line, dsn, strlen(dsn)) == 0 && line[strlen(dsn)] == ' ',
                          "line \"%s\" does not begin with \"%s \"", line, dsn);
            /* Postfix reads the class from the first digit */
            ck_assert_int_eq(line[0], contract[i].exit_code == 75 ? '4' : '5');
        }
        ck_assert_ptr_nonnull(strstr(line, "some reason"));
        free(line);
    }
}
END_TEST

START_TEST(test_line_override)
{
    char *line = m2s_outcome_line(M2S_E_NETWORK, "4.4.2", "timeout after 20s");
    ck_assert_str_eq(line, "4.4.2 timeout after 20s");
    free(line);
    /* an empty override keeps the row's code */
    line = m2s_outcome_line(M2S_E_CONTENT, "", "nothing to send");
    ck_assert_str_eq(line, "5.6.0 nothing to send");
    free(line);
    line = m2s_outcome_line(M2S_E_UNKNOWN_RCPT, NULL, NULL);
    ck_assert(strncmp(line, "5.1.1", 5) == 0);
    ck_assert_ptr_null(strchr(line, '\n'));
    free(line);
}
END_TEST

START_TEST(test_line_one_line)
{
    char *line = m2s_outcome_line(M2S_E_CONTENT, NULL,
                                  "first line\nsecond\r\nthird\ttab\x01 ctl\x7f end");
    ck_assert(strncmp(line, "5.6.0 ", 6) == 0);
    for (const char *p = line; *p; p++)
        ck_assert_msg((unsigned char)*p >= 0x20 && *p != 0x7f, "control char in \"%s\"", line);
    ck_assert_ptr_nonnull(strstr(line, "first line"));
    ck_assert_ptr_nonnull(strstr(line, "second"));
    ck_assert_ptr_nonnull(strstr(line, "end"));
    free(line);
}
END_TEST

/* A long text is cut to 400 bytes, never inside a UTF-8 sequence, at any
 * alignment of the multi-byte characters. */
START_TEST(test_line_long_utf8)
{
    for (int shift = 0; shift < 4; shift++) {
        m2s_buf b;
        m2s_buf_init(&b);
        for (int i = 0; i < shift; i++)
            m2s_buf_addc(&b, 'x');
        for (int i = 0; i < 400; i++)
            m2s_buf_adds(&b, i % 2 ? "\xc3\xa9" : "\xe2\x82\xac");   /* é € */
        char *text = m2s_buf_steal(&b);
        char *line = m2s_outcome_line(M2S_E_CONTENT, NULL, text);
        ck_assert_msg(strlen(line) <= 400, "line is %zu bytes", strlen(line));
        ck_assert_msg(strlen(line) > 300, "line cut too short: %zu bytes", strlen(line));
        ck_assert(strncmp(line, "5.6.0 ", 6) == 0);
        ck_assert_msg(g_utf8_validate(line, -1, NULL), "broken UTF-8 at the cut (shift %d)", shift);
        free(line);
        free(text);
    }
}
END_TEST

static Suite *make_suite(void)
{
    Suite *s = suite_create("outcome");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_table_complete);
    tcase_add_loop_test(tc, test_table_row, 0, (int)N_CONTRACT);
    tcase_add_test(tc, test_only_75_defers);
    tcase_add_test(tc, test_unknown_class_defers);
    tcase_add_test(tc, test_worse_all_pairs);
    tcase_add_test(tc, test_worse_examples);
    tcase_add_test(tc, test_line_starts_with_dsn);
    tcase_add_test(tc, test_line_override);
    tcase_add_test(tc, test_line_one_line);
    tcase_add_test(tc, test_line_long_utf8);
    suite_add_tcase(s, tc);
    return s;
}
