/* check_media.c - which attachments become media, the notes, who gets
 * MMS, the dry-run stand-in URLs and the directory store. (The presigned
 * upload is driven end to end in tests/test_media.py.) */
#include "build-config.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "unit.h"
#include "dryrun.h"
#include "media.h"
#include "util.h"

/* ------------------------------------------------------------ helpers */

static void cfg_init(m2s_config *c)
{
    memset(c, 0, sizeof *c);
    c->api_url = "https://api.example.com";
    c->workspace_id = "ws";
    c->channel_id = "ch";
    c->media_store = M2S_STORE_BIRD;
    c->mms = M2S_MMS_AUTO;
    c->non_mms = M2S_NON_MMS_LINKS;
    c->media_max_bytes = 5 * 1024 * 1024;
    c->media_max_total_bytes = 10 * 1024 * 1024;
    c->on_too_large = M2S_TOO_LARGE_NOTE;
}

/* A mail with n attachments; sizes[i] bytes of (i + 1), types[i]. */
static void mail_init(m2s_mail *m, size_t n, const size_t *sizes, const char *const *types,
                      const char *const *names)
{
    memset(m, 0, sizeof *m);
    m->att = xcalloc(n, sizeof *m->att);
    m->n_att = n;
    for (size_t i = 0; i < n; i++) {
        m->att[i].filename = xstrdup(names ? names[i] : "a.png");
        m->att[i].content_type = xstrdup(types[i]);
        m->att[i].len = sizes[i];
        m->att[i].data = xmalloc(sizes[i] + 1);
        memset(m->att[i].data, (int)(i + 1), sizes[i]);
    }
}

static void mail_clear(m2s_mail *m)
{
    for (size_t i = 0; i < m->n_att; i++) {
        free(m->att[i].filename);
        free(m->att[i].content_type);
        free(m->att[i].data);
    }
    free(m->att);
}

/* ---------------------------------------------------------- selection */

START_TEST(select_images_and_files)
{
    m2s_config c;
    m2s_mail m;
    m2s_media_set s;
    m2s_status st = M2S_STATUS_INIT;
    cfg_init(&c);
    size_t sizes[] = { 10, 20, 30 };
    const char *types[] = { "image/png", "image/jpg", "image/gif" };
    mail_init(&m, 3, sizes, types, NULL);
    ck_assert_int_eq(m2s_media_select(&c, &m, &s, &st), M2S_OK);
    ck_assert_uint_eq(s.n, 3);
    ck_assert(s.all_images);            /* image/jpg read as image/jpeg */
    for (size_t i = 0; i < 3; i++) {
        ck_assert_ptr_eq(s.items[i].att, &m.att[i]);
        ck_assert_ptr_null(s.items[i].url);
    }
    m2s_media_set_clear(&s);
    ck_assert_uint_eq(s.n, 0);
    ck_assert_ptr_null(s.items);

    free(m.att[1].content_type);
    m.att[1].content_type = xstrdup("application/pdf");
    ck_assert_int_eq(m2s_media_select(&c, &m, &s, &st), M2S_OK);
    ck_assert(!s.all_images);
    ck_assert(s.items[0].is_image);
    ck_assert(!s.items[1].is_image);
    m2s_media_set_clear(&s);

    free(m.att[1].content_type);
    m.att[1].content_type = xstrdup("image/webp");   /* not an MMS image */
    ck_assert_int_eq(m2s_media_select(&c, &m, &s, &st), M2S_OK);
    ck_assert(!s.all_images);
    m2s_media_set_clear(&s);
    mail_clear(&m);
}
END_TEST

START_TEST(select_no_attachments)
{
    m2s_config c;
    m2s_mail m;
    m2s_media_set s;
    m2s_status st = M2S_STATUS_INIT;
    cfg_init(&c);
    memset(&m, 0, sizeof m);
    ck_assert_int_eq(m2s_media_select(&c, &m, &s, &st), M2S_OK);
    ck_assert_uint_eq(s.n, 0);
    ck_assert(!s.all_images);
    ck_assert_ptr_null(m2s_media_note(&c, &s, true));
    ck_assert_ptr_null(m2s_media_note(&c, &s, false));
    m2s_media_set_clear(&s);
}
END_TEST

START_TEST(select_empty_part_skipped)
{
    m2s_config c;
    m2s_mail m;
    m2s_media_set s;
    m2s_status st = M2S_STATUS_INIT;
    cfg_init(&c);
    size_t sizes[] = { 0, 5 };
    const char *types[] = { "image/png", "image/png" };
    mail_init(&m, 2, sizes, types, NULL);
    ck_assert_int_eq(m2s_media_select(&c, &m, &s, &st), M2S_OK);
    ck_assert_uint_eq(s.n, 1);
    ck_assert_ptr_eq(s.items[0].att, &m.att[1]);
    m2s_media_set_clear(&s);
    mail_clear(&m);
}
END_TEST

START_TEST(select_count_limit)
{
    m2s_config c;
    m2s_mail m;
    m2s_media_set s;
    m2s_status st = M2S_STATUS_INIT;
    cfg_init(&c);
    size_t sizes[13];
    const char *types[13];
    for (size_t i = 0; i < 13; i++) {
        sizes[i] = 4;
        types[i] = "image/png";
    }
    mail_init(&m, 13, sizes, types, NULL);
    ck_assert_int_eq(m2s_media_select(&c, &m, &s, &st), M2S_OK);
    ck_assert_uint_eq(s.n, M2S_MEDIA_MAX_ITEMS);
    ck_assert_uint_eq(s.n_over_count, 3);
    ck_assert_uint_eq(s.n_too_large, 0);
    ck_assert_ptr_eq(s.items[9].att, &m.att[9]);   /* the first ten, in order */
    char *note = m2s_media_note(&c, &s, true);
    ck_assert_str_eq(note, "[3 more attachments not sent]");
    free(note);
    m2s_media_set_clear(&s);
    mail_clear(&m);
}
END_TEST

START_TEST(select_size_limits)
{
    m2s_config c;
    m2s_mail m;
    m2s_media_set s;
    m2s_status st = M2S_STATUS_INIT;
    cfg_init(&c);
    c.media_max_bytes = 100;
    c.media_max_total_bytes = 150;
    size_t sizes[] = { 101, 100, 60, 50 };
    const char *types[] = { "image/png", "image/png", "image/png", "application/pdf" };
    mail_init(&m, 4, sizes, types, NULL);
    ck_assert_int_eq(m2s_media_select(&c, &m, &s, &st), M2S_OK);
    /* 101 over max_bytes; 100 fits; 60 would make 160 > 150; 50 makes 150. */
    ck_assert_uint_eq(s.n, 2);
    ck_assert_ptr_eq(s.items[0].att, &m.att[1]);
    ck_assert_ptr_eq(s.items[1].att, &m.att[3]);
    ck_assert_uint_eq(s.n_too_large, 2);
    ck_assert(!s.all_images);
    char *note = m2s_media_note(&c, &s, true);
    ck_assert_str_eq(note, "[2 attachments too large, not sent]");
    free(note);
    m2s_media_set_clear(&s);

    c.on_too_large = M2S_TOO_LARGE_REJECT;
    ck_assert_int_eq(m2s_media_select(&c, &m, &s, &st), M2S_E_CONTENT);
    ck_assert_ptr_nonnull(st.why);
    ck_assert_ptr_nonnull(strstr(st.why, "media.max_bytes"));
    ck_assert_uint_eq(s.n, 0);
    ck_assert_ptr_null(s.items);
    m2s_status_clear(&st);

    m.att[0].len = 10;      /* now only the total is exceeded */
    ck_assert_int_eq(m2s_media_select(&c, &m, &s, &st), M2S_E_CONTENT);
    ck_assert_ptr_nonnull(strstr(st.why, "media.max_total_bytes"));
    m2s_status_clear(&st);
    mail_clear(&m);
}
END_TEST

/* ---------------------------------------------------------------- notes */

START_TEST(notes)
{
    m2s_config c;
    cfg_init(&c);
    m2s_media_set s = { .n = 2, .n_over_count = 1, .n_too_large = 1 };
    char *n1 = m2s_media_note(&c, &s, true);
    ck_assert_str_eq(n1, "[1 more attachment not sent] [1 attachment too large, not sent]");
    char *n2 = m2s_media_note(&c, &s, false);           /* links: same notes */
    ck_assert_str_eq(n2, n1);
    c.non_mms = M2S_NON_MMS_DROP;
    char *n3 = m2s_media_note(&c, &s, false);
    ck_assert_str_eq(n3, "[4 attachments not sent]");
    s = (m2s_media_set){ .n = 1 };
    char *n4 = m2s_media_note(&c, &s, false);
    ck_assert_str_eq(n4, "[1 attachment not sent]");
    ck_assert_ptr_null(m2s_media_note(&c, &s, true));
    s = (m2s_media_set){ .n = 0, .n_too_large = 1 };  /* nothing left to drop */
    char *n5 = m2s_media_note(&c, &s, false);
    ck_assert_str_eq(n5, "[1 attachment too large, not sent]");
    s = (m2s_media_set){ .n = 1, .n_refused = 2 };     /* drop counts refused ones too */
    char *n6 = m2s_media_note(&c, &s, false);
    ck_assert_str_eq(n6, "[3 attachments not sent]");
    c.non_mms = M2S_NON_MMS_LINKS;
    s = (m2s_media_set){ .n = 0, .n_too_large = 1, .n_refused = 2 };
    char *n7 = m2s_media_note(&c, &s, true);
    ck_assert_str_eq(n7, "[1 attachment too large, not sent] [2 attachments refused, not sent]");
    free(n6);
    free(n7);
    free(n1);
    free(n2);
    free(n3);
    free(n4);
    free(n5);
}
END_TEST

/* ------------------------------------------------------ who gets MMS */

START_TEST(mms_for_and_needed)
{
    m2s_config c;
    cfg_init(&c);
    ck_assert(m2s_media_mms_for(&c, "+15550100123"));
    ck_assert(!m2s_media_mms_for(&c, "+31612345678"));
    ck_assert(!m2s_media_mms_for(&c, "+4412345678"));
    c.mms = M2S_MMS_ON;
    ck_assert(m2s_media_mms_for(&c, "+31612345678"));
    c.mms = M2S_MMS_OFF;
    ck_assert(!m2s_media_mms_for(&c, "+15550100123"));

    const char *nl[] = { "+31612345678", "+32470123456" };
    const char *mixed[] = { "+31612345678", "+15550100123" };
    m2s_media_set s = { .n = 1 };
    m2s_media_set none = { .n = 0, .n_too_large = 2 };
    c.mms = M2S_MMS_AUTO;
    c.non_mms = M2S_NON_MMS_LINKS;
    ck_assert(m2s_media_needed(&c, &s, nl, 2));
    ck_assert(!m2s_media_needed(&c, &none, nl, 2));
    c.non_mms = M2S_NON_MMS_DROP;
    ck_assert(!m2s_media_needed(&c, &s, nl, 2));
    ck_assert(m2s_media_needed(&c, &s, mixed, 2));
    ck_assert(!m2s_media_needed(&c, &s, mixed, 0));
    c.mms = M2S_MMS_OFF;
    ck_assert(!m2s_media_needed(&c, &s, mixed, 2));
}
END_TEST

/* ------------------------------------------------------------ dry run */

/* The media of a dry run: through the dry-run transport, printing to f. */
static m2s_class dry_store(const m2s_config *c, FILE *f, m2s_media_set *s, m2s_status *st)
{
    m2s_transport *tr = m2s_dryrun_new(f);
    m2s_bird *b = m2s_bird_new(c, tr);
    m2s_class cls = m2s_media_store(m2s_dryrun_media(c), c, b, m2s_now() + 60, s, st);
    m2s_bird_free(b);
    m2s_transport_free(tr);
    return cls;
}

START_TEST(dry_run_urls_and_lines)
{
    m2s_config c;
    m2s_mail m;
    m2s_media_set s;
    m2s_status st = M2S_STATUS_INIT;
    cfg_init(&c);
    size_t sizes[] = { 3, 3 };
    const char *types[] = { "image/png", "application/pdf" };
    const char *names[] = { "graph.png", "Bericht M\xc3\xa4rz #1/2?.pdf" };
    mail_init(&m, 2, sizes, types, names);
    ck_assert_int_eq(m2s_media_select(&c, &m, &s, &st), M2S_OK);

    char *out = NULL;
    size_t out_len = 0;
    FILE *f = open_memstream(&out, &out_len);
    ck_assert_int_eq(dry_store(&c, f, &s, &st), M2S_OK);
    fclose(f);
    ck_assert_str_eq(s.items[0].url, "https://dry-run.invalid/1/graph.png");
    ck_assert_str_eq(s.items[1].url,
                     "https://dry-run.invalid/2/Bericht%20M%C3%A4rz%20%231%2F2%3F.pdf");
    const char *want =
        "{\"method\":\"POST\",\"url\":\"https://api.example.com/workspaces/ws/channels/ch/"
        "presigned-upload\",\"body\":{\"contentType\":\"image/png\"}}\n"
        "{\"method\":\"POST\",\"url\":\"https://api.example.com/workspaces/ws/channels/ch/"
        "presigned-upload\",\"body\":{\"contentType\":\"application/pdf\"}}\n";
    ck_assert_str_eq(out, want);
    free(out);

    /* Workspace path; the directory store prints nothing. */
    c.presign_path = M2S_PRESIGN_WORKSPACE;
    f = open_memstream(&out, &out_len);
    ck_assert_int_eq(dry_store(&c, f, &s, &st), M2S_OK);
    fclose(f);
    ck_assert_ptr_nonnull(strstr(out, "/workspaces/ws/channel-media/presigned-upload\""));
    free(out);
    c.media_store = M2S_STORE_DIRECTORY;
    f = open_memstream(&out, &out_len);
    ck_assert_int_eq(dry_store(&c, f, &s, &st), M2S_OK);
    fclose(f);
    ck_assert_uint_eq(out_len, 0);
    free(out);
    ck_assert_str_eq(s.items[0].url, "https://dry-run.invalid/1/graph.png");

    m2s_media_set_clear(&s);
    mail_clear(&m);
}
END_TEST

/* ---------------------------------------------------- directory store */

static size_t count_entries(const char *dir)
{
    size_t n = 0;
    DIR *d = opendir(dir);
    struct dirent *e;
    while ((e = readdir(d)) != NULL)
        if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
            n++;
    closedir(d);
    return n;
}

static bool is_hex32(const char *s)
{
    for (int i = 0; i < 32; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
            return false;
    return true;
}

START_TEST(directory_store)
{
    m2s_config c;
    m2s_mail m;
    m2s_media_set s;
    m2s_status st = M2S_STATUS_INIT;
    char tmpl[] = "/tmp/check_media-XXXXXX";
    char *dir = mkdtemp(tmpl);
    ck_assert_ptr_nonnull(dir);
    cfg_init(&c);
    c.media_store = M2S_STORE_DIRECTORY;
    c.media_directory = dir;
    c.media_base_url = "https://media.example.com/m//";
    size_t sizes[] = { 7, 9, 4, 5 };
    const char *types[] = { "image/JPEG", "application/pdf", "image/png", "text/x-odd" };
    const char *names[] = { "Photo.JPG", "report", "x.p/ng", "notes.tar.gz-very-long-ext" };
    mail_init(&m, 4, sizes, types, names);
    free(m.att[0].content_type);
    m.att[0].content_type = xstrdup("image/jpeg");
    ck_assert_int_eq(m2s_media_select(&c, &m, &s, &st), M2S_OK);
    mode_t old = umask(077);            /* the files are 0644 whatever the umask */
    ck_assert_int_eq(m2s_media_store(&m2s_media_directory, &c, NULL, 0, &s, &st), M2S_OK);
    umask(old);

    const char *exts[] = { ".jpg", ".pdf", ".png", "" };
    const char *prefix = "https://media.example.com/m/";
    for (size_t i = 0; i < 4; i++) {
        const char *url = s.items[i].url;
        ck_assert_ptr_nonnull(url);
        ck_assert_msg(strncmp(url, prefix, strlen(prefix)) == 0, "url %s", url);
        const char *name = url + strlen(prefix);
        ck_assert_msg(is_hex32(name), "name %s", name);
        ck_assert_str_eq(name + 32, exts[i]);
        char *path = xasprintf("%s/%s", dir, name);
        struct stat sb;
        ck_assert_int_eq(stat(path, &sb), 0);
        ck_assert_int_eq(sb.st_mode & 0777, 0644);
        ck_assert_int_eq((long)sb.st_size, (long)m.att[i].len);
        FILE *f = fopen(path, "rb");
        unsigned char buf[16];
        ck_assert_uint_eq(fread(buf, 1, sizeof buf, f), m.att[i].len);
        fclose(f);
        ck_assert_int_eq(memcmp(buf, m.att[i].data, m.att[i].len), 0);
        unlink(path);
        free(path);
    }
    ck_assert_str_ne(s.items[0].url, s.items[2].url);
    ck_assert_uint_eq(count_entries(dir), 0);       /* no temporary files left */
    m2s_media_set_clear(&s);

    /* A directory that is gone: an internal (temporary) failure. */
    char *gone = xasprintf("%s/gone", dir);
    c.media_directory = gone;
    ck_assert_int_eq(m2s_media_select(&c, &m, &s, &st), M2S_OK);
    ck_assert_int_eq(m2s_media_store(&m2s_media_directory, &c, NULL, 0, &s, &st), M2S_E_INTERNAL);
    ck_assert_ptr_nonnull(strstr(st.why, gone));
    ck_assert_ptr_null(s.items[0].url);
    m2s_status_clear(&st);
    free(gone);
    m2s_media_set_clear(&s);
    mail_clear(&m);
    rmdir(dir);
}
END_TEST

static Suite *make_suite(void)
{
    Suite *s = suite_create("media");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, select_images_and_files);
    tcase_add_test(tc, select_no_attachments);
    tcase_add_test(tc, select_empty_part_skipped);
    tcase_add_test(tc, select_count_limit);
    tcase_add_test(tc, select_size_limits);
    tcase_add_test(tc, notes);
    tcase_add_test(tc, mms_for_and_needed);
    tcase_add_test(tc, dry_run_urls_and_lines);
    tcase_add_test(tc, directory_store);
    suite_add_tcase(s, tc);
    return s;
}
