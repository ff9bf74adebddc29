#include "build-config.h"
#include "cli.h"
int m2s_cli_parse(int argc, char **argv, m2s_cli *out, char **why) { return -1; }
void m2s_cli_usage(FILE *out) {}
