/* version.c - names every library mail2sms uses, with its version: the one
 * place that looks at all of them, so --version can tell an administrator
 * what is really linked. */
#include "build-config.h"

#include <curl/curl.h>
#include <gmime/gmime.h>
#include <json-c/json.h>
#include <libconfig.h>
#include <libpq-fe.h>
#include <libxml/xmlversion.h>
#include <sqlite3.h>

#include "version.h"

void m2s_version_print(FILE *out)
{
    const curl_version_info_data *cv = curl_version_info(CURLVERSION_NOW);
    fprintf(out, "mail2sms %s (%s License)\n", PACKAGE_VERSION, PACKAGE_LICENSE);
    fprintf(out, "GMime %u.%u.%u, libcurl %s (%s), json-c %s, libconfig %d.%d.%d, "
            "libxml2 %s, SQLite %s, libpq %d.%d\n",
            gmime_major_version, gmime_minor_version, gmime_micro_version,
            cv->version, cv->ssl_version ? cv->ssl_version : "no TLS",
            json_c_version(), LIBCONFIG_VER_MAJOR, LIBCONFIG_VER_MINOR,
            LIBCONFIG_VER_REVISION, LIBXML_DOTTED_VERSION, sqlite3_libversion(),
            PQlibVersion() / 10000, PQlibVersion() % 10000);
}
