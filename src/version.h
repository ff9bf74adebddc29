/* version.h - the --version text: mail2sms's version and the versions of
 * the libraries it was built with and runs with. */
#ifndef M2S_VERSION_H
#define M2S_VERSION_H

#include <stdio.h>

void m2s_version_print(FILE *out);

#endif
