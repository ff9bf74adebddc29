/* floor.c - the cost of starting a program that uses mail2sms's libraries.
 *
 * Links the same libraries as mail2sms (GMime 3, libcurl, json-c, libconfig,
 * libxml2, SQLite), initialises each the way mail2sms does, and exits.
 * Loading and relocating the shared libraries is most of what a small mail
 * costs, so this is the floor that bench/run.py compares mail2sms against.
 * It reads standard input to the end, as a pipe(8) command must.
 *
 * Built by bench/run.py:
 *   cc -O2 floor.c $(pkg-config --cflags --libs gmime-3.0 libcurl json-c \
 *                    libconfig libxml-2.0 sqlite3) -o floor
 */
#include <curl/curl.h>
#include <gmime/gmime.h>
#include <json-c/json.h>
#include <libconfig.h>
#include <libxml/parser.h>
#include <sqlite3.h>
#include <stdio.h>
#include <unistd.h>

int main(void)
{
    char buf[65536];
    while (read(STDIN_FILENO, buf, sizeof buf) > 0)
        ;

    g_mime_init();
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
        return 75;
    xmlInitParser();
    if (sqlite3_initialize() != SQLITE_OK)
        return 75;

    config_t cfg;
    config_init(&cfg);
    config_destroy(&cfg);

    json_object *o = json_object_new_object();
    json_object_object_add(o, "floor", json_object_new_int(1));
    const char *s = json_object_to_json_string(o);
    int rc = s && *s ? 0 : 75;
    json_object_put(o);

    sqlite3_shutdown();
    xmlCleanupParser();
    curl_global_cleanup();
    g_mime_shutdown();
    return rc;
}
