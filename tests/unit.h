/* unit.h - shared main() for the Check unit tests: each test file defines
 * make_suite() and includes this once. */
#ifndef M2S_UNIT_H
#define M2S_UNIT_H

#include <check.h>
#include <stdlib.h>

static Suite *make_suite(void);

int main(void)
{
    SRunner *sr = srunner_create(make_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

/* The directory of the source tree (set by make check), for fixtures. */
static inline const char *unit_srcdir(void)
{
    const char *d = getenv("M2S_SRCDIR");
    return d ? d : ".";
}

#endif
