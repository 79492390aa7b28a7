/* Probe panels (shiftnas/probes.h): drawing one (distinct subnets in their
 * buckets, keyed by the seed alone, short buckets reported), reading one
 * back (comments, blanks, every refusal naming FILE:LINE), probes.csv. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "shiftnas/config.h"
#include "shiftnas/error.h"
#include "shiftnas/probes.h"
#include "shiftnas/settings.h"
#include "shiftnas/space.h"

static void load_space(const char *name, sn_space *space, sn_buckets *buckets)
{
    const char *source = getenv("SHIFTNAS_SOURCE_DIR");
    ck_assert_msg(source != NULL, "SHIFTNAS_SOURCE_DIR is not set (run through make check)");
    char path[1024];
    snprintf(path, sizeof path, "%s/jobs/configs/%s", source, name);
    sn_config config;
    sn_config_defaults(&config);
    ck_assert_msg(sn_config_load_file(&config, path) == SN_OK, "%s: %s", path, sn_error_message());
    ck_assert_msg(sn_space_from_config(space, &config, 1, 28, 10) == SN_OK, "%s: %s", name,
                  sn_error_message());
    ck_assert_int_eq(sn_buckets_from_config(buckets, space, &config), SN_OK);
}

/* A temporary file holding text; its path in path (size 64). */
static void write_file(char *path, const char *text)
{
    snprintf(path, 64, "/tmp/shiftnas-panel-XXXXXX");
    int fd = mkstemp(path);
    ck_assert(fd >= 0);
    FILE *f = fdopen(fd, "w");
    ck_assert(f != NULL);
    fputs(text, f);
    fclose(f);
}

START_TEST(made_panel_is_distinct_in_bucket_and_keyed)
{
    const char *names[] = {"cnn-space.ini", "vit-space.ini"};
    sn_space space;
    sn_buckets buckets;
    load_space(names[_i], &space, &buckets);
    sn_probe_panel a, b, c;
    sn_probe_panel_report ra, rb, rc;
    ck_assert_int_eq(sn_probe_panel_make(&a, &space, &buckets, 10, 1, 10000000, &ra), SN_OK);
    ck_assert_int_eq(a.count, 10 * buckets.count);
    for (int i = 0; i < a.count; i++) {
        /* ordered by bucket, each subnet in its bucket, none twice */
        ck_assert_int_eq(a.buckets[i], i / 10);
        ck_assert_int_eq(sn_buckets_index(&buckets, sn_space_cost(&space, &a.archs[i]).macs),
                         a.buckets[i]);
        ck_assert_int_eq(sn_probe_panel_find(&a, &space, &a.archs[i]), i);
    }
    for (int k = 0; k < buckets.count; k++)
        ck_assert_int_eq(ra.found[k], 10);
    /* the same seed, the same panel; another seed, another one */
    ck_assert_int_eq(sn_probe_panel_make(&b, &space, &buckets, 10, 1, 10000000, &rb), SN_OK);
    ck_assert_int_eq(memcmp(a.archs, b.archs, (size_t)a.count * sizeof *a.archs), 0);
    ck_assert_int_eq(ra.draws, rb.draws);
    ck_assert_int_eq(sn_probe_panel_make(&c, &space, &buckets, 10, 2, 10000000, &rc), SN_OK);
    ck_assert_int_ne(memcmp(a.archs, c.archs, (size_t)a.count * sizeof *a.archs), 0);
    sn_probe_panel_free(&a);
    sn_probe_panel_free(&b);
    sn_probe_panel_free(&c);
}
END_TEST

START_TEST(few_draws_leave_buckets_short)
{
    sn_space space;
    sn_buckets buckets;
    load_space("cnn-space.ini", &space, &buckets);
    sn_probe_panel p;
    sn_probe_panel_report r;
    ck_assert_int_eq(sn_probe_panel_make(&p, &space, &buckets, 5, 1, 30, &r), SN_OK);
    ck_assert_int_eq(r.draws, 30);
    int total = 0, short_buckets = 0;
    for (int k = 0; k < buckets.count; k++) {
        total += r.found[k];
        short_buckets += r.found[k] < 5;
    }
    ck_assert_int_eq(total, p.count);
    ck_assert_int_gt(short_buckets, 0); /* the extreme buckets take thousands of draws */
    sn_probe_panel_free(&p);
    ck_assert_int_eq(sn_probe_panel_make(&p, &space, &buckets, 0, 1, 30, &r), SN_ERR_ARGUMENT);
    ck_assert_int_eq(sn_probe_panel_make(&p, &space, &buckets, 5, 1, 0, &r), SN_ERR_ARGUMENT);
}
END_TEST

START_TEST(read_skips_comments_and_blanks)
{
    sn_space space;
    sn_buckets buckets;
    load_space("cnn-space.ini", &space, &buckets);
    char path[64];
    write_file(path, "# a panel\n\n  cnn:d=1,1,1;w=12,20,32;k=3,3,3;e=2,2,2  \r\n"
                     "   # indented comment\n"
                     "cnn:d=2,1,1;w=12,20,32;k=3,5,3,3;e=2,2,2,2"); /* no final newline */
    sn_probe_panel p;
    ck_assert_msg(sn_probe_panel_read(&p, path, &space) == SN_OK, "%s", sn_error_message());
    ck_assert_int_eq(p.count, 2);
    ck_assert_int_eq(p.lines[0], 3);
    ck_assert_int_eq(p.lines[1], 5);
    sn_arch arch;
    ck_assert_int_eq(sn_arch_parse(&space, "cnn:d=2,1,1;w=12,20,32;k=3,5,3,3;e=2,2,2,2", &arch),
                     SN_OK);
    ck_assert_int_eq(sn_probe_panel_find(&p, &space, &arch), 1);
    sn_arch_largest(&space, &arch);
    ck_assert_int_eq(sn_probe_panel_find(&p, &space, &arch), -1);
    sn_probe_panel_free(&p);
    unlink(path);
}
END_TEST

/* Each bad panel: the code and a fragment of the one-line message. */
START_TEST(read_refuses_bad_panels)
{
    static const struct {
        const char *text, *fragment;
    } cases[] = {
        {"# nothing\n\n", ": no subnets"},
        {"cnn:d=1,1,1;w=12,20,32;k=3,3,3;e=2,2,2\nvit:e=48;d=3;h=2,2,2;m=2,2,2\n",
         ":2: wrong space: a vit subnet, but the space is cnn"},
        {"\ncnn d=1\n", ":2: malformed: 'cnn d=1' is not a subnet"},
        {"cnn:d=1,1,1;w=12,20\n", ":1: not a subnet of the cnn space: section 'k'"},
        {"cnn:d=1,1,1;w=12,20,99;k=3,3,3;e=2,2,2\n", ":1: not a subnet of the cnn space: stage 3 "
                                                    "width 99 is not a choice"},
        {"cnn:d=1,1,1;w=12,20,32;k=3,3,3;e=2,2,2\n#\ncnn:d=1,1,1; w=12,20,32;k=3,3,3;e=2,2,2\n",
         ":3: duplicate: the same subnet as line 1 (probe 0)"},
    };
    sn_space space;
    sn_buckets buckets;
    load_space("cnn-space.ini", &space, &buckets);
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        char path[64];
        write_file(path, cases[c].text);
        sn_probe_panel p;
        ck_assert_int_eq(sn_probe_panel_read(&p, path, &space), SN_ERR_FORMAT);
        ck_assert_msg(strstr(sn_error_message(), cases[c].fragment) != NULL &&
                          strncmp(sn_error_message(), path, strlen(path)) == 0,
                      "case %zu: %s", c, sn_error_message());
        ck_assert_ptr_null(p.archs);
        unlink(path);
    }
    sn_probe_panel p;
    ck_assert_int_eq(sn_probe_panel_read(&p, "/nonexistent/panel.txt", &space), SN_ERR_IO);
}
END_TEST

START_TEST(probe_table_is_written_whole)
{
    char dir[] = "/tmp/shiftnas-probes-XXXXXX", path[128], temporary[140];
    ck_assert_ptr_nonnull(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/probes.csv", dir);
    snprintf(temporary, sizeof temporary, "%s.tmp", path);
    sn_probe_row rows[2] = {{0, 1, 1234, 56, "cnn:d=1,1,1;w=12,20,32;k=3,3,3;e=2,2,2", 0.5, 0.75},
                            {-1, -1, 7, 8, "cnn:x", 1.25, 0.125}};
    sn_probe_table t;
    ck_assert_int_eq(sn_probe_table_open(&t, path), SN_OK);
    ck_assert_int_eq(access(temporary, F_OK), 0); /* created before any row */
    ck_assert_int_ne(access(path, F_OK), 0);
    ck_assert_int_eq(sn_probe_table_commit(&t, rows, 2), SN_OK);
    ck_assert_int_ne(access(temporary, F_OK), 0);
    FILE *f = fopen(path, "r");
    ck_assert_ptr_nonnull(f);
    char text[512] = "";
    size_t n = fread(text, 1, sizeof text - 1, f);
    text[n] = '\0';
    fclose(f);
    ck_assert_str_eq(text, "probe,bucket,macs,params,subnet,test_loss,test_accuracy\n"
                           "0,1,1234,56,\"cnn:d=1,1,1;w=12,20,32;k=3,3,3;e=2,2,2\",0.50000000,"
                           "0.750000\n"
                           "-1,-1,7,8,\"cnn:x\",1.25000000,0.125000\n");
    /* a discarded table leaves the previous file and no temporary */
    ck_assert_int_eq(sn_probe_table_open(&t, path), SN_OK);
    sn_probe_table_discard(&t);
    ck_assert_int_ne(access(temporary, F_OK), 0);
    ck_assert_int_eq(access(path, F_OK), 0);
    unlink(path);
    rmdir(dir);
    snprintf(path, sizeof path, "/nonexistent/probes.csv");
    ck_assert_int_ne(sn_probe_table_open(&t, path), SN_OK);
    ck_assert_ptr_nonnull(strstr(sn_error_message(), "/nonexistent/probes.csv.tmp: cannot create"));
}
END_TEST

int main(void)
{
    Suite *suite = suite_create("probe_panel");
    TCase *tc = tcase_create("panel");
    tcase_set_timeout(tc, 120);
    tcase_add_loop_test(tc, made_panel_is_distinct_in_bucket_and_keyed, 0, 2);
    tcase_add_test(tc, few_draws_leave_buckets_short);
    tcase_add_test(tc, read_skips_comments_and_blanks);
    tcase_add_test(tc, read_refuses_bad_panels);
    tcase_add_test(tc, probe_table_is_written_whole);
    suite_add_tcase(suite, tc);
    SRunner *runner = srunner_create(suite);
    srunner_run_all(runner, CK_NORMAL);
    int failed = srunner_ntests_failed(runner);
    srunner_free(runner);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
