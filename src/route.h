/* route.h - recipient addresses to E.164 phone numbers
 * (mail2sms(8), "RECIPIENTS").
 *
 * The local part decides: an alias (case-insensitive) gives its numbers;
 * else a phone number ("+CC...", "00CC...", national "0..." with
 * recipients.default_country, other bare digits international; separators
 * . - ( ) and spaces ignored; result "+" and 8..15 digits: m2s_rules_number
 * in rules.h); else unknown.
 * Numbers outside recipients.allowed_prefixes are refused. One target per
 * number per mail.
 */
#ifndef M2S_ROUTE_H
#define M2S_ROUTE_H

#include <stddef.h>
#include "config.h"
#include "outcome.h"

typedef struct m2s_target {
    char *number;               /* E.164, owned */
    char *recipient;            /* the (first) address it came from, owned */
    const m2s_alias *alias;     /* borrowed from the config; NULL for a number */
    size_t *rcpts;              /* owned: the places in the recipient list of */
    size_t n_rcpts;             /* every address that reaches it, the first first */
} m2s_target;

typedef struct m2s_route_fail {
    char *recipient;            /* owned */
    char *number;               /* owned, NULL when the recipient gave none */
    size_t rcpt;                /* its place in the recipient list */
    m2s_status st;              /* M2S_E_UNKNOWN_RCPT or M2S_E_PREFIX, and why
                                 * (one line, e.g. unknown recipient "x") */
} m2s_route_fail;

typedef struct m2s_routes {
    m2s_target *t;
    size_t n;
    m2s_route_fail *fail;
    size_t n_fail;
} m2s_routes;

/* True when number starts with one of cfg->allowed_prefixes (or the list
 * is empty). */
int m2s_prefix_allowed(const m2s_config *cfg, const char *number);

/* Resolve recipients into out (zeroed by the caller, freed with
 * m2s_routes_clear). */
void m2s_route(const m2s_config *cfg, char *const *recipients, size_t n,
               m2s_routes *out);

void m2s_routes_clear(m2s_routes *r);

#endif
