/* The report (shiftnas/report.h): statistics with known values, the Pareto
 * front, bin edges, search.csv written and read back, its refusals, arm labels from
 * configurations, skips of unusable run directories, and the inherited vs
 * retrained table from hand-written search tables. */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "shiftnas/config.h"
#include "shiftnas/error.h"
#include "shiftnas/report.h"

static char work[256];

static void make_work(void)
{
    snprintf(work, sizeof work, "%s/shiftnas-report-XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    ck_assert_ptr_nonnull(mkdtemp(work));
}

static void remove_tree(const char *path)
{
    char command[512];
    snprintf(command, sizeof command, "rm -rf '%s'", path);
    ck_assert_int_eq(system(command), 0);
}

static void write_text(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    fputs(text, f);
    ck_assert_int_eq(fclose(f), 0);
}

/* The whole of a small file (a static buffer: valid until the next call). */
static char *read_all(const char *path)
{
    FILE *f = fopen(path, "r");
    ck_assert_ptr_nonnull(f);
    static char text[65536];
    size_t n = fread(text, 1, sizeof text - 1, f);
    text[n] = '\0';
    fclose(f);
    return text;
}

static const char header[] =
    "method,strategy,target_flops,arch,flops,params,val_accuracy,test_accuracy,evaluations,"
    "seconds\n";

/* ---- statistics ---------------------------------------------------------- */

START_TEST(summary_known_values)
{
    /* 2, 4, 4, 4, 5, 5, 7, 9: mean 5, sum of squares 32, sample variance
     * 32 / 7. Tolerance 1e-12: a few roundings of values of size 10. */
    const double values[8] = {2, 4, 4, 4, 5, 5, 7, 9};
    sn_summary s = sn_summary_of(values, 8);
    ck_assert_int_eq(s.n, 8);
    ck_assert_double_eq_tol(s.mean, 5.0, 1e-12);
    ck_assert_double_eq_tol(s.std, sqrt(32.0 / 7.0), 1e-12);
    /* two values: std = |a - b| / sqrt(2) */
    const double two[2] = {80.5, 82.5};
    s = sn_summary_of(two, 2);
    ck_assert_double_eq_tol(s.mean, 81.5, 1e-12);
    ck_assert_double_eq_tol(s.std, 2.0 / sqrt(2.0), 1e-12);
}
END_TEST

START_TEST(summary_of_one_and_none)
{
    const double one = 42.25;
    sn_summary s = sn_summary_of(&one, 1);
    ck_assert_int_eq(s.n, 1);
    ck_assert_double_eq(s.mean, 42.25);
    ck_assert(isnan(s.std));
    s = sn_summary_of(NULL, 0);
    ck_assert_int_eq(s.n, 0);
    ck_assert(isnan(s.mean) && isnan(s.std));
}
END_TEST

START_TEST(pareto_front_keeps_the_best_at_or_below_each_cost)
{
    /*        0    1    2    3    4    5    6 */
    double x[] = {3.0, 1.0, 2.0, 2.0, 4.0, 5.0, NAN};
    double y[] = {0.7, 0.5, 0.4, 0.6, 0.65, 0.9, 1.0};
    int front[7];
    int count = sn_pareto_front(x, y, 7, front);
    /* 1 (1.0, 0.5); 3 (2.0, 0.6) beats 2 at the same cost; 0 (3.0, 0.7);
     * 4 is dominated by 0; 5 (5.0, 0.9); 6 has no cost */
    ck_assert_int_eq(count, 4);
    ck_assert_int_eq(front[0], 1);
    ck_assert_int_eq(front[1], 3);
    ck_assert_int_eq(front[2], 0);
    ck_assert_int_eq(front[3], 5);
    ck_assert_int_eq(sn_pareto_front(x, y, 0, front), 0);
}
END_TEST

START_TEST(bins_are_closed_below_open_above_last_closed)
{
    /* [0, 16] in 16 bins of width 1 */
    ck_assert_int_eq(sn_bin_index(0.0, 0, 16, 16), 0);
    ck_assert_int_eq(sn_bin_index(0.999, 0, 16, 16), 0);
    ck_assert_int_eq(sn_bin_index(1.0, 0, 16, 16), 1);
    ck_assert_int_eq(sn_bin_index(15.5, 0, 16, 16), 15);
    ck_assert_int_eq(sn_bin_index(16.0, 0, 16, 16), 15); /* the largest subnet counts */
    ck_assert_int_eq(sn_bin_index(-0.001, 0, 16, 16), -1);
    ck_assert_int_eq(sn_bin_index(16.001, 0, 16, 16), -1);
    ck_assert_int_eq(sn_bin_index(NAN, 0, 16, 16), -1);
    ck_assert_int_eq(sn_bin_index(1.0, 2, 2, 16), -1);
    const double edges[4] = {10, 20, 30, 40};
    ck_assert_int_eq(sn_bin_index_edges(10, edges, 3), 0);
    ck_assert_int_eq(sn_bin_index_edges(20, edges, 3), 1);
    ck_assert_int_eq(sn_bin_index_edges(29.99, edges, 3), 1);
    ck_assert_int_eq(sn_bin_index_edges(40, edges, 3), 2);
    ck_assert_int_eq(sn_bin_index_edges(9.99, edges, 3), -1);
    ck_assert_int_eq(sn_bin_index_edges(40.01, edges, 3), -1);
    /* shares: 5 values, one outside; fractions of all 5 */
    const double values[5] = {0, 0.5, 3, 4, 5};
    double share[4];
    sn_histogram_shares(values, 5, 0, 4, 4, share);
    ck_assert_double_eq_tol(share[0], 0.4, 1e-15);
    ck_assert_double_eq_tol(share[1], 0.0, 1e-15);
    ck_assert_double_eq_tol(share[2], 0.0, 1e-15);
    ck_assert_double_eq_tol(share[3], 0.4, 1e-15); /* 3 and 4 (the top edge) */
}
END_TEST

/* ---- search.csv ------------------------------------------------------------ */

START_TEST(search_table_reads_quoted_arch_and_last_search_wins)
{
    make_work();
    char path[512];
    snprintf(path, sizeof path, "%s/search.csv", work);
    char text[2048];
    snprintf(text, sizeof text,
             "%s"
             "generator,shift,2000000,\"cnn:d=1,1;w=8,16;k=3,3;e=2,2\",1500000,5000,0.500000,0.400000,0,0.20\n"
             "evolution,shift,2000000,\"cnn:d=2,1;w=8,16;k=3,3,5;e=2,2,4\",1900000,6000,0.600000,0.550000,6,1.00\n"
             /* a second search appended: rows only, as `shiftnas search` appends */
             "evolution,shift,2000000,\"cnn:d=2,2;w=8,16;k=3,3,5,5;e=2,2,4,4\",1950000,6500,0.610000,0.570000,6,1.10\n"
             "evolution,shift,4000000,\"cnn:d=3,3;w=8,16;k=3,3,5,5,3,3;e=2,2,4,4,2,2\",3900000,9000,0.700000,0.650000,6,1.20\n",
             header);
    write_text(path, text);
    sn_search_table table;
    ck_assert_int_eq(sn_search_table_read(path, &table), SN_OK);
    ck_assert_int_eq(table.count, 3);
    ck_assert_int_eq(table.replaced, 1);
    const sn_search_row *row = sn_search_table_find(&table, "evolution", 2000000);
    ck_assert_ptr_nonnull(row);
    ck_assert_str_eq(row->arch, "cnn:d=2,2;w=8,16;k=3,3,5,5;e=2,2,4,4");
    ck_assert_int_eq(row->macs, 1950000);
    ck_assert_int_eq(row->params, 6500);
    ck_assert_double_eq_tol(row->test_accuracy, 0.57, 1e-12);
    ck_assert_int_eq(row->line, 4);
    row = sn_search_table_find(&table, "generator", 2000000);
    ck_assert_ptr_nonnull(row);
    ck_assert_str_eq(row->arch, "cnn:d=1,1;w=8,16;k=3,3;e=2,2");
    ck_assert_ptr_null(sn_search_table_find(&table, "generator", 4000000));
    sn_search_table_free(&table);
    remove_tree(work);
}
END_TEST

START_TEST(search_table_refuses_malformed_rows_and_foreign_headers)
{
    make_work();
    char path[512], text[1024];
    snprintf(path, sizeof path, "%s/search.csv", work);
    sn_search_table table;
    /* a row with a field missing on line 3 */
    snprintf(text, sizeof text,
             "%sevolution,uniform,2000000,\"cnn:d=1\",1500000,5000,0.5,0.4,6,0.2\n"
             "evolution,uniform,4000000,\"cnn:d=2\",3500000,7000,0.5,0.4,6\n", header);
    write_text(path, text);
    ck_assert_int_eq(sn_search_table_read(path, &table), SN_ERR_FORMAT);
    char expected[600];
    snprintf(expected, sizeof expected, "%s:3: malformed row", path);
    ck_assert_msg(strstr(sn_error_message(), expected), "message: %s", sn_error_message());
    ck_assert_int_eq(table.count, 0);
    /* an unquoted arch */
    snprintf(text, sizeof text, "%sevolution,uniform,2000000,cnn:d=1,1500000,5000,0.5,0.4,6,0.2\n",
             header);
    write_text(path, text);
    ck_assert_int_eq(sn_search_table_read(path, &table), SN_ERR_FORMAT);
    ck_assert_msg(strstr(sn_error_message(), ":2: malformed row: arch is not double-quoted"),
                  "message: %s", sn_error_message());
    /* a number that is not one */
    snprintf(text, sizeof text, "%sevolution,uniform,2000000,\"a\",15x,5000,0.5,0.4,6,0.2\n", header);
    write_text(path, text);
    ck_assert_int_eq(sn_search_table_read(path, &table), SN_ERR_FORMAT);
    ck_assert_msg(strstr(sn_error_message(), ":2: malformed row: flops"), "message: %s",
                  sn_error_message());
    /* another table's header */
    write_text(path, "method,target,accuracy\nevolution,2000000,0.5\n");
    ck_assert_int_eq(sn_search_table_read(path, &table), SN_ERR_FORMAT);
    snprintf(expected, sizeof expected, "%s:1: not a shiftnas search table", path);
    ck_assert_msg(strstr(sn_error_message(), expected), "message: %s", sn_error_message());
    /* no file */
    snprintf(path, sizeof path, "%s/none.csv", work);
    ck_assert_int_eq(sn_search_table_read(path, &table), SN_ERR_IO);
    ck_assert(strstr(sn_error_message(), "none.csv") != NULL);
    remove_tree(work);
}
END_TEST

/* The writer beside the reader: what sn_search_table_append writes reads
 * back as given, in the bytes `shiftnas search` has always written. */
START_TEST(search_table_append_then_read)
{
    make_work();
    char path[512];
    snprintf(path, sizeof path, "%s/search.csv", work);
    /* no rows: a new file gets its header */
    ck_assert_int_eq(sn_search_table_append(path, NULL, 0), SN_OK);
    char *text = read_all(path);
    ck_assert_str_eq(text, header);
    sn_search_row rows[3] = {
        {"generator", "shift", 2500000, "cnn:d=1,1,1;w=12,20,32", 802368, 5632, 0.328125,
         0.404297, 0, 1.234, 0},
        {"evolution", "shift", 2500000, "cnn:d=1,2,1;w=24,30,64", 2384000, 33900, 0.51171875,
         0.546875, 16, 12.3456, 0},
        {"eval", "shift", 0, "cnn:d=1,1,1;w=12,20,32", 802368, 5632, NAN, 0.404297, 1, 0.5, 0},
    };
    ck_assert_int_eq(sn_search_table_append(path, rows, 2), SN_OK);
    ck_assert_int_eq(sn_search_table_append(path, rows + 2, 1), SN_OK);
    text = read_all(path);
    char expected[1024];
    snprintf(expected, sizeof expected,
             "%s"
             "generator,shift,2500000,\"cnn:d=1,1,1;w=12,20,32\",802368,5632,0.328125,0.404297,0,1.23\n"
             "evolution,shift,2500000,\"cnn:d=1,2,1;w=24,30,64\",2384000,33900,0.511719,0.546875,16,12.35\n"
             "eval,shift,,\"cnn:d=1,1,1;w=12,20,32\",802368,5632,nan,0.404297,1,0.50\n",
             header);
    ck_assert_str_eq(text, expected);
    sn_search_table table;
    ck_assert_int_eq(sn_search_table_read(path, &table), SN_OK);
    ck_assert_int_eq(table.count, 3);
    for (int i = 0; i < 3; i++) {
        const sn_search_row *got = &table.rows[i], *want = &rows[i];
        ck_assert_str_eq(got->method, want->method);
        ck_assert_str_eq(got->strategy, want->strategy);
        ck_assert_double_eq(got->target, want->target);
        ck_assert_str_eq(got->arch, want->arch);
        ck_assert_int_eq(got->macs, want->macs);
        ck_assert_int_eq(got->params, want->params);
        ck_assert(isnan(want->val_accuracy) ? isnan(got->val_accuracy)
                                            : fabs(got->val_accuracy - want->val_accuracy) < 1e-6);
        ck_assert_double_eq_tol(got->test_accuracy, want->test_accuracy, 1e-6);
        ck_assert_int_eq(got->evaluations, want->evaluations);
        ck_assert_double_eq_tol(got->seconds, want->seconds, 0.006);
        ck_assert_int_eq(got->line, i + 2);
    }
    sn_search_table_free(&table);
    /* what the table cannot hold, and a file that is not one */
    snprintf(rows[0].arch, sizeof rows[0].arch, "a \"quoted\" arch");
    ck_assert_int_eq(sn_search_table_append(path, rows, 1), SN_ERR_ARGUMENT);
    ck_assert(strstr(sn_error_message(), path) != NULL);
    snprintf(path, sizeof path, "%s/other.csv", work);
    write_text(path, "step,epoch,split,loss,accuracy,images,seconds\n");
    ck_assert_int_eq(sn_search_table_append(path, rows + 1, 1), SN_ERR_FORMAT);
    ck_assert(strstr(sn_error_message(), "not a shiftnas search table") != NULL);
    text = read_all(path);
    ck_assert_str_eq(text, "step,epoch,split,loss,accuracy,images,seconds\n"); /* untouched */
    remove_tree(work);
}
END_TEST

START_TEST(targets_parse_like_search)
{
    double t[4];
    int n = 0;
    ck_assert_int_eq(sn_report_parse_targets("2M,2.5M,800k", t, 4, &n), SN_OK);
    ck_assert_int_eq(n, 3);
    ck_assert_double_eq(t[0], 2000000);
    ck_assert_double_eq(t[1], 2500000);
    ck_assert_double_eq(t[2], 800000);
    ck_assert_int_eq(sn_report_parse_targets("2X", t, 4, &n), SN_ERR_ARGUMENT);
    ck_assert(strstr(sn_error_message(), "'2X'") != NULL);
    ck_assert_int_eq(sn_report_parse_targets("1M,2M,3M,4M,5M", t, 4, &n), SN_ERR_ARGUMENT);
}
END_TEST

/* ---- arms and runs ----------------------------------------------------------- */

START_TEST(arm_labels_come_from_the_configuration)
{
    make_work();
    char path[512];
    snprintf(path, sizeof path, "%s/config.ini", work);
    struct {
        const char *ini, *label;
    } cases[] = {
        {"[search]\nstrategy = shift\n", "shift"},
        {"[search]\nstrategy = shift\nshift_statistic = variance\n", "shift-variance"},
        {"[search]\nstrategy = shift\nshift_frozen = true\n", "shift-frozen"},
        /* frozen, beta follows no statistic: one arm whichever is named */
        {"[search]\nstrategy = shift\nshift_frozen = true\nshift_statistic = variance\n",
         "shift-frozen"},
        {"[search]\nstrategy = sandwich\nshift_statistic = variance\n", "sandwich"},
        {"[search]\nstrategy = flops-uniform\n", "flops-uniform"},
        /* strategy fixed (one subnet trained from scratch) */
        {"[search]\nstrategy = fixed\n", "retrained"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        write_text(path, cases[i].ini);
        sn_config config;
        sn_config_defaults(&config);
        ck_assert_int_eq(sn_config_load_file(&config, path), SN_OK);
        char label[SN_REPORT_LABEL_MAX];
        sn_report_arm_label(&config, label, sizeof label);
        ck_assert_str_eq(label, cases[i].label);
    }
    remove_tree(work);
}
END_TEST

START_TEST(unusable_run_directories_are_skipped_with_a_reason)
{
    make_work();
    char dir[512], path[600];
    sn_report_runs runs;
    sn_report_runs_init(&runs);
    int skipped = 0;
    /* not a run directory */
    snprintf(dir, sizeof dir, "%s/empty", work);
    ck_assert_int_eq(mkdir(dir, 0777), 0);
    ck_assert_int_eq(sn_report_runs_add(&runs, dir, &skipped), SN_OK);
    ck_assert_int_eq(skipped, 1);
    ck_assert_msg(strstr(runs.skips[0].reason, "no config.ini"), "%s", runs.skips[0].reason);
    ck_assert_int_eq(strncmp(runs.skips[0].reason, dir, strlen(dir)), 0);
    /* a plain network */
    snprintf(dir, sizeof dir, "%s/plain", work);
    ck_assert_int_eq(mkdir(dir, 0777), 0);
    snprintf(path, sizeof path, "%s/config.ini", dir);
    write_text(path, "[model]\ntype = cnn\n");
    ck_assert_int_eq(sn_report_runs_add(&runs, dir, &skipped), SN_OK);
    ck_assert_int_eq(skipped, 1);
    ck_assert_msg(strstr(runs.skips[1].reason, "not a supernet run"), "%s", runs.skips[1].reason);
    /* a supernet run without checkpoints */
    snprintf(dir, sizeof dir, "%s/started", work);
    ck_assert_int_eq(mkdir(dir, 0777), 0);
    snprintf(path, sizeof path, "%s/config.ini", dir);
    write_text(path, "[model]\ntype = supernet\n");
    ck_assert_int_eq(sn_report_runs_add(&runs, dir, &skipped), SN_OK);
    ck_assert_int_eq(skipped, 1);
    ck_assert_msg(strstr(runs.skips[2].reason, "unfinished (no checkpoint)"), "%s",
                  runs.skips[2].reason);
    /* a config.ini that does not parse */
    write_text(path, "[model]\ntype = supernet\n[search]\nno_such_key = 1\n");
    ck_assert_int_eq(sn_report_runs_add(&runs, dir, &skipped), SN_OK);
    ck_assert_int_eq(skipped, 1);
    ck_assert_msg(strstr(runs.skips[3].reason, "no_such_key"), "%s", runs.skips[3].reason);
    ck_assert_int_eq(runs.count, 0);
    ck_assert_int_eq(runs.skip_count, 4);
    sn_report_runs_free(&runs);
    /* the argument expansion: runs in name order, a missing directory */
    char **dirs = NULL;
    int count = 0;
    ck_assert_int_eq(sn_report_expand_argument(work, &dirs, &count), SN_OK);
    ck_assert_int_eq(count, 2); /* plain, started (empty has no config.ini) */
    ck_assert(strstr(dirs[0], "/plain") != NULL);
    ck_assert(strstr(dirs[1], "/started") != NULL);
    for (int i = 0; i < count; i++)
        free(dirs[i]);
    free(dirs);
    snprintf(dir, sizeof dir, "%s/none", work);
    ck_assert_int_eq(sn_report_expand_argument(dir, &dirs, &count), SN_ERR_IO);
    ck_assert(strstr(sn_error_message(), "none") != NULL);
    remove_tree(work);
}
END_TEST

/* A run made in memory: label, seed and search.csv text. */
static sn_report_run *fake_run(const char *name, const char *label, int64_t seed, const char *rows)
{
    sn_report_run *run = calloc(1, sizeof *run);
    ck_assert_ptr_nonnull(run);
    sn_config_defaults(&run->config);
    snprintf(run->dir, sizeof run->dir, "%s/%s", work, name);
    snprintf(run->label, sizeof run->label, "%s", label);
    run->seed = seed;
    run->config.seed = seed;
    run->train_seconds = 1;
    char path[1200], text[4096];
    snprintf(path, sizeof path, "%s/%s.csv", work, name);
    snprintf(text, sizeof text, "%s%s", header, rows);
    write_text(path, text);
    ck_assert_int_eq(sn_search_table_read(path, &run->search), SN_OK);
    run->has_search = 1;
    run->timing_wall_seconds = NAN;
    return run;
}

START_TEST(retrained_runs_meet_their_inherited_subnets)
{
    make_work();
    sn_report_runs runs;
    sn_report_runs_init(&runs);
    runs.capacity = 4;
    runs.runs = calloc(4, sizeof *runs.runs);
    ck_assert_ptr_nonnull(runs.runs);
    const char *a = "cnn:d=1,1;w=8,16;k=3,3;e=2,2", *b = "cnn:d=2,1;w=8,16;k=3,3,5;e=2,2,4";
    char rows[1024];
    snprintf(rows, sizeof rows,
             "generator,shift,2000000,\"%s\",1500000,5000,0.5,0.400000,0,0.2\n"
             "evolution,shift,2000000,\"%s\",1900000,6000,0.6,0.550000,6,1.0\n", a, b);
    runs.runs[runs.count++] = fake_run("shift-1", "shift", 1, rows);
    snprintf(rows, sizeof rows,
             "generator,shift,2000000,\"%s\",1900000,6000,0.5,0.420000,0,0.2\n", b);
    runs.runs[runs.count++] = fake_run("shift-2", "shift", 2, rows);
    /* eval rows: empty target (seed 1) and 0 (seed 2) */
    snprintf(rows, sizeof rows, "eval,fixed,,\"%s\",1500000,5000,0.5,0.460000,0,3.0\n", a);
    runs.runs[runs.count++] = fake_run("retrained-1", "retrained", 1, rows);
    snprintf(rows, sizeof rows, "eval,fixed,0,\"%s\",1900000,6000,0.5,0.500000,0,3.0\n", b);
    runs.runs[runs.count++] = fake_run("retrained-2", "retrained", 2, rows);

    const sn_report_run *match;
    const sn_search_row *row;
    sn_report_match_retrained(&runs, runs.runs[2], &match, &row);
    ck_assert_ptr_eq(match, runs.runs[0]);
    ck_assert_str_eq(row->method, "generator"); /* not the seed-1 evolution row of b */
    sn_report_match_retrained(&runs, runs.runs[3], &match, &row);
    ck_assert_ptr_eq(match, runs.runs[1]);
    ck_assert_double_eq_tol(row->test_accuracy, 0.42, 1e-12);

    sn_report_options options = {"shiftnas report (test)", 0, NULL, 0, 0, NULL};
    char path[512];
    snprintf(path, sizeof path, "%s/report.md", work);
    ck_assert_int_eq(sn_report_write_tables(&runs, &options, path), SN_OK);
    const char *text = read_all(path);
    ck_assert(strstr(text, "## Inherited vs retrained") != NULL);
    /* seed 1: 46.00 - 40.00 = +6.00; seed 2: 50.00 - 42.00 = +8.00;
     * mean 7.00, sample std sqrt(2) = 1.41 */
    ck_assert_msg(strstr(text, "| 2M | 1 | 1.500 | 40.00 | 46.00 | +6.00 |"), "%s", text);
    ck_assert_msg(strstr(text, "| 2M | 2 | 1.900 | 42.00 | 50.00 | +8.00 |"), "%s", text);
    ck_assert_msg(strstr(text, "- target 2M: gap 7.00 ± 1.41 points over 2 seed(s)"), "%s", text);
    /* the per-target table: shift (generator) over two seeds, 40 and 42 */
    ck_assert_msg(strstr(text, "| shift (generator) | 2 | 1.700 | 5.5 | 50.00 ± 0.00 | 41.00 ± 1.41 |"),
                  "%s", text);
    /* shift (evolution) has one seed: no deviation; and the missing target
     * of shift-2's evolution is not a note (it has no evolution rows); no
     * arm is bolded as best (that needs a test) */
    ck_assert_msg(strstr(text, "| shift (evolution) | 1 | 1.900 | 6.0 | 60.00 ± — | 55.00 ± — |"),
                  "%s", text);
    ck_assert_msg(!strstr(text, "**shift ("), "%s", text);
    sn_report_runs_free(&runs);
    remove_tree(work);
}
END_TEST


/* ---- inference ------------------------------------------------------------- */

START_TEST(incomplete_beta_known_values)
{
    /* I_x(a, b) for whole a, b is a binomial tail: I_0.5(2, 3) = 11/16 */
    ck_assert_double_eq_tol(sn_incomplete_beta(0.5, 2, 3), 11.0 / 16.0, 1e-13);
    /* I_x(1, 1) = x; I_x(a, 1) = x^a */
    ck_assert_double_eq_tol(sn_incomplete_beta(0.3, 1, 1), 0.3, 1e-14);
    ck_assert_double_eq_tol(sn_incomplete_beta(0.9, 3, 1), 0.729, 1e-13);
    /* the symmetry I_x(a, b) = 1 - I_{1-x}(b, a), on both sides of the switch */
    ck_assert_double_eq_tol(sn_incomplete_beta(0.8, 2.5, 0.5), 1 - sn_incomplete_beta(0.2, 0.5, 2.5),
                            1e-13);
    ck_assert_double_eq(sn_incomplete_beta(0, 2, 3), 0);
    ck_assert_double_eq(sn_incomplete_beta(1, 2, 3), 1);
    ck_assert(isnan(sn_incomplete_beta(0.5, 0, 3)));
}
END_TEST

START_TEST(t_distribution_known_values)
{
    /* the quantiles of every t table */
    ck_assert_double_eq_tol(sn_t_quantile(0.975, 1), 12.706205, 1e-5);
    ck_assert_double_eq_tol(sn_t_quantile(0.975, 2), 4.302653, 1e-5);
    ck_assert_double_eq_tol(sn_t_quantile(0.975, 4), 2.776445, 1e-5);
    ck_assert_double_eq_tol(sn_t_quantile(0.975, 30), 2.042272, 1e-5);
    ck_assert_double_eq_tol(sn_t_quantile(0.95, 10), 1.812461, 1e-5);
    ck_assert_double_eq_tol(sn_t_quantile(0.025, 4), -2.776445, 1e-5);
    ck_assert_double_eq(sn_t_quantile(0.5, 7), 0);
    /* closed forms: df = 1 is Cauchy, F(t) = 1/2 + atan(t) / pi; df = 2:
     * F(t) = 1/2 + t / (2 sqrt(2 + t^2)) */
    ck_assert_double_eq_tol(sn_t_cdf(1, 1), 0.75, 1e-13);
    ck_assert_double_eq_tol(sn_t_cdf(-3, 1), 0.5 + atan(-3.0) / acos(-1.0), 1e-13);
    ck_assert_double_eq_tol(sn_t_cdf(2, 2), 0.5 + 2 / (2 * sqrt(6.0)), 1e-13);
    ck_assert_double_eq_tol(sn_t_two_sided_p(2, 2), 1 - 2 / sqrt(6.0), 1e-13);
    /* a t at the 0.975 quantile has p = 0.05; the CDF inverts the quantile */
    ck_assert_double_eq_tol(sn_t_two_sided_p(2.776445, 4), 0.05, 1e-6);
    for (int df = 1; df <= 40; df += 13)
        ck_assert_double_eq_tol(sn_t_cdf(sn_t_quantile(0.9, df), df), 0.9, 1e-12);
    ck_assert(isnan(sn_t_quantile(1, 3)) && isnan(sn_t_cdf(1, 0)));
}
END_TEST

START_TEST(paired_summary_known_values)
{
    /* differences 1..5: mean 3, sd sqrt(2.5), se sqrt(0.5), t = 3 / sqrt(0.5),
     * df 4: CI 3 -+ 2.776445 sqrt(0.5) */
    const double a[5] = {11, 12, 13, 14, 15}, b[5] = {10, 10, 10, 10, 10};
    sn_paired_summary s = sn_paired_summary_of(a, b, 5);
    ck_assert_int_eq(s.n, 5);
    ck_assert_double_eq_tol(s.mean, 3, 1e-12);
    ck_assert_double_eq_tol(s.sd, sqrt(2.5), 1e-12);
    ck_assert_double_eq_tol(s.ci_low, 3 - 2.776445 * sqrt(0.5), 1e-5);
    ck_assert_double_eq_tol(s.ci_high, 3 + 2.776445 * sqrt(0.5), 1e-5);
    ck_assert_double_eq_tol(s.t, 3 / sqrt(0.5), 1e-12);
    ck_assert_double_eq_tol(s.p, sn_t_two_sided_p(3 / sqrt(0.5), 4), 1e-15);
    ck_assert(s.p > 0.013 && s.p < 0.0134); /* 0.01324 */
    /* df 2, closed form: d = 1, 2, 3: t = 2 sqrt 3, p = 1 - t / sqrt(2 + t^2) */
    const double c[3] = {1, 2, 3}, zero[3] = {0, 0, 0};
    s = sn_paired_summary_of(c, zero, 3);
    ck_assert_double_eq_tol(s.p, 1 - 2 * sqrt(3.0) / sqrt(14.0), 1e-12);
    /* a NaN pair is left out; one pair: no interval, no test */
    const double d[2] = {1, NAN}, e[2] = {0, 0};
    s = sn_paired_summary_of(d, e, 2);
    ck_assert_int_eq(s.n, 1);
    ck_assert_double_eq(s.mean, 1);
    ck_assert(isnan(s.ci_low) && isnan(s.p));
    /* equal differences: a zero-width interval */
    s = sn_paired_summary_of(zero, zero, 3);
    ck_assert(s.ci_low == 0 && s.ci_high == 0 && s.p == 1);
}
END_TEST

START_TEST(kendall_tau_b_with_ties)
{
    /* by hand: no ties */
    const double x[5] = {1, 2, 3, 4, 5}, up[5] = {2, 4, 6, 8, 10}, down[5] = {5, 4, 3, 2, 1};
    ck_assert_double_eq_tol(sn_kendall_tau_b(x, up, 5), 1, 1e-15);
    ck_assert_double_eq_tol(sn_kendall_tau_b(x, down, 5), -1, 1e-15);
    /* (1,1) (2,3) (2,2) (3,3): 4 concordant, 0 discordant, one pair tied
     * in x, one in y: 4 / sqrt(5 * 5) = 0.8 */
    const double x1[4] = {1, 2, 2, 3}, y1[4] = {1, 3, 2, 3};
    ck_assert_double_eq_tol(sn_kendall_tau_b(x1, y1, 4), 0.8, 1e-15);
    /* (1,2) (2,1) (3,3) (3,3): 4 concordant, 1 discordant, one pair tied in
     * both (it counts in both tie sums): 3 / sqrt(5 * 5) = 0.6 */
    const double x2[4] = {1, 2, 3, 3}, y2[4] = {2, 1, 3, 3};
    ck_assert_double_eq_tol(sn_kendall_tau_b(x2, y2, 4), 0.6, 1e-15);
    /* scipy.stats.kendalltau's documented example: 2 concordant, 6
     * discordant, 2 pairs tied in x, 1 in y: -4 / sqrt(8 * 9) */
    const double x3[5] = {12, 2, 1, 12, 2}, y3[5] = {1, 4, 7, 1, 0};
    ck_assert_double_eq_tol(sn_kendall_tau_b(x3, y3, 5), -4 / sqrt(72.0), 1e-15);
    ck_assert_double_eq_tol(sn_kendall_tau_b(x3, y3, 5), -0.47140452079103173, 1e-15);
    /* a constant side, too few pairs, NaN left out */
    const double c[3] = {1, 1, 1}, y4[3] = {1, 2, NAN};
    ck_assert(isnan(sn_kendall_tau_b(c, x, 3)));
    ck_assert(isnan(sn_kendall_tau_b(x, up, 1)));
    ck_assert_double_eq_tol(sn_kendall_tau_b(x, y4, 3), 1, 1e-15);
}
END_TEST

/* ---- probes.csv ---------------------------------------------------------------- */

static const char probes_header[] = "probe,bucket,macs,params,subnet,test_loss,test_accuracy\n";

START_TEST(probe_table_reads_and_refuses)
{
    make_work();
    char path[512], text[1024];
    snprintf(path, sizeof path, "%s/probes.csv", work);
    snprintf(text, sizeof text,
             "%s0,0,1500000,5000,\"cnn:d=1,1;w=8,16\",1.234,0.512500\n"
             "-1,7,7900000,9000,\"cnn:d=3,3;w=8,16\",0.5,0.871000\n", probes_header);
    write_text(path, text);
    sn_probe_rows table;
    ck_assert_int_eq(sn_probe_rows_read(path, &table), SN_OK);
    ck_assert_int_eq(table.count, 2);
    ck_assert_int_eq(table.rows[0].probe, 0);
    ck_assert_int_eq(table.rows[0].bucket, 0);
    ck_assert_int_eq(table.rows[0].macs, 1500000);
    ck_assert_str_eq(table.rows[0].subnet, "cnn:d=1,1;w=8,16");
    ck_assert_double_eq_tol(table.rows[0].test_loss, 1.234, 1e-12);
    ck_assert_int_eq(table.rows[1].probe, -1);
    ck_assert_double_eq_tol(table.rows[1].test_accuracy, 0.871, 1e-12);
    sn_probe_rows_free(&table);
    snprintf(text, sizeof text, "%s0,0,1500000,5000,cnn:d=1,1.2,0.5\n", probes_header);
    write_text(path, text);
    ck_assert_int_eq(sn_probe_rows_read(path, &table), SN_ERR_FORMAT);
    ck_assert_msg(strstr(sn_error_message(), ":2: malformed row: subnet is not double-quoted"), "%s",
                  sn_error_message());
    snprintf(text, sizeof text, "%s0,0,1500000,5000,\"a\",1.2,1.5\n", probes_header);
    write_text(path, text);
    ck_assert_int_eq(sn_probe_rows_read(path, &table), SN_ERR_FORMAT);
    ck_assert(strstr(sn_error_message(), "test_accuracy is not a fraction") != NULL);
    write_text(path, "method,target\n");
    ck_assert_int_eq(sn_probe_rows_read(path, &table), SN_ERR_FORMAT);
    ck_assert(strstr(sn_error_message(), ":1: not a shiftnas probes table") != NULL);
    remove_tree(work);
}
END_TEST

/* ---- a paired study made of summary runs -------------------------------------- */

/* A summary run DIR/NAME: config.ini, metrics.csv, the summary's three
 * files, and (when given) probes.csv, search.csv and timing.txt. */
static void summary_run(const char *name, const char *ini, const char *probes, const char *search,
                        const char *timing, int updates)
{
    char dir[600], path[700], text[8192];
    snprintf(dir, sizeof dir, "%s/%s", work, name);
    ck_assert_int_eq(mkdir(dir, 0777), 0);
    snprintf(path, sizeof path, "%s/config.ini", dir);
    write_text(path, ini);
    snprintf(path, sizeof path, "%s/metrics.csv", dir);
    write_text(path, "step,epoch,split,loss,accuracy,images,seconds\n"
                     "10,1,val-largest,1.0,0.5,640,3.0\n10,1,val-smallest,1.2,0.4,640,3.0\n"
                     "20,2,val-largest,0.9,0.6,1280,6.0\n20,2,val-smallest,1.1,0.5,1280,6.0\n");
    snprintf(path, sizeof path, "%s/summary.txt", dir);
    snprintf(text, sizeof text,
             "# test\nformat shiftnas-run-summary\nversion 1\ncomplete 1\nsteps 20\n"
             "total_steps 20\nimages 1280\nranks 2\nbuckets %d\n%ssubnets 20\ntrained_steps 20\n"
             "macs_range 1000000 8000000\nmacs_histogram 5 0 0 0 0 0 0 0 0 0 0 0 0 0 0 15\n"
             "loss_buckets 2\nloss_edges 1000000 4500000 8000000\nupdates %d\n",
             updates ? 2 : 0, updates ? "bucket_edges 1000000 4500000 8000000\n" : "", updates);
    write_text(path, text);
    snprintf(path, sizeof path, "%s/log-updates.csv", dir);
    snprintf(text, sizeof text, "update,step,bucket,beta,probability,statistic,validation_loss\n%s",
             updates ? "0,10,0,0,0.5,0.1,1.5\n0,10,1,0,0.5,0.2,1.4\n"
                       "1,20,0,-0.2,0.40000000000000002,0.1,nan\n1,20,1,0.2,0.59999999999999998,0.2,nan\n"
                     : "");
    write_text(path, text);
    snprintf(path, sizeof path, "%s/log-bucket-loss.csv", dir);
    write_text(path, "window,bucket,subnets,mean_loss\n0,0,3,2.25\n19,1,2,1.125\n");
    const char *names[3] = {"probes.csv", "search.csv", "timing.txt"};
    const char *texts[3] = {probes, search, timing};
    for (int i = 0; i < 3; i++)
        if (texts[i]) {
            snprintf(path, sizeof path, "%s/%s", dir, names[i]);
            write_text(path, texts[i]);
        }
}

/* The panel: one probe in bucket 0, two in each of buckets 6 and 7 at
 * accuracies base + the offsets (fractions, 6 decimals as probe writes). */
static const char *const panel[5] = {"cnn:p0", "cnn:p1", "cnn:p2", "cnn:p3", "cnn:p4"};

static void panel_text(char *text, size_t size, double base)
{
    const int buckets[5] = {0, 6, 6, 7, 7};
    const double offsets[5] = {-0.30, 0.01, 0.0, -0.01, 0.0};
    int used = snprintf(text, size, "%s", probes_header);
    for (int i = 0; i < 5; i++)
        used += snprintf(text + used, size - (size_t)used, "%d,%d,%d,1000,\"%s\",0.5,%.6f\n", i,
                         buckets[i], 1000000 * (i + 1), panel[i],
                         i == 0 ? 0.5 : base + offsets[i]);
}

static void add_all(sn_report_runs *runs, const char *const *names, int count)
{
    for (int i = 0; i < count; i++) {
        char dir[600];
        int skipped = 0;
        snprintf(dir, sizeof dir, "%s/%s", work, names[i]);
        ck_assert_int_eq(sn_report_runs_add(runs, dir, &skipped), SN_OK);
        ck_assert_msg(!skipped, "%s skipped: %s", names[i],
                      runs->skip_count ? runs->skips[runs->skip_count - 1].reason : "");
    }
}

START_TEST(paired_design_from_summary_runs)
{
    make_work();
    char ini[512], probes[2048], search[1024], name[64];
    const int64_t seeds[3] = {1, 2, 3};
    for (int i = 0; i < 3; i++) {
        /* shift is ahead of the control by 1, 2, 3 points in the top two
         * buckets and at the 2M target; equal in bucket 0 */
        double d = (double)(i + 1) / 100;
        snprintf(ini, sizeof ini, "[model]\ntype = supernet\n[run]\nseed = %lld\n"
                                  "[search]\nstrategy = shift\nshift_frozen = true\n",
                 (long long)seeds[i]);
        panel_text(probes, sizeof probes, 0.80);
        snprintf(search, sizeof search, "%sevolution,shift,2000000,\"cnn:a\",1900000,5000,0.5,0.700000,8,1.0\n",
                 header);
        snprintf(name, sizeof name, "shift-frozen-seed%lld", (long long)seeds[i]);
        summary_run(name, ini, probes, search, NULL, 2);
        snprintf(ini, sizeof ini, "[model]\ntype = supernet\n[run]\nseed = %lld\n"
                                  "[search]\nstrategy = shift\n",
                 (long long)seeds[i]);
        panel_text(probes, sizeof probes, 0.80 + d);
        snprintf(search, sizeof search, "%sevolution,shift,2000000,\"cnn:b\",1950000,5000,0.5,%.6f,8,1.0\n",
                 header, 0.70 + d);
        snprintf(name, sizeof name, "shift-seed%lld", (long long)seeds[i]);
        summary_run(name, ini, probes, search,
                    i == 0 ? "wall_seconds 7200\nranks 2\ncpu test\ntrain_seconds 5400\n" : NULL, 2);
    }
    /* the top four probes retrained from scratch: stand-alone 90, 88, 86, 84 */
    for (int j = 1; j <= 4; j++) {
        snprintf(ini, sizeof ini, "[model]\ntype = supernet\n[run]\nseed = 1\n[search]\n"
                                  "strategy = fixed\nsubnet = %s\n", panel[j]);
        snprintf(probes, sizeof probes, "%s%d,%d,%d,1000,\"%s\",0.4,%.6f\n", probes_header, j,
                 j <= 2 ? 6 : 7, 1000000 * (j + 1), panel[j], 0.92 - 0.02 * j);
        snprintf(name, sizeof name, "retrained-probe%d", j);
        summary_run(name, ini, probes, NULL, NULL, 0);
    }
    sn_report_runs runs;
    sn_report_runs_init(&runs);
    const char *names[10] = {"shift-seed1",        "shift-seed2",        "shift-seed3",
                             "shift-frozen-seed1", "shift-frozen-seed2", "shift-frozen-seed3",
                             "retrained-probe1",   "retrained-probe2",   "retrained-probe3",
                             "retrained-probe4"};
    add_all(&runs, names, 10);
    ck_assert_int_eq(runs.count, 10);
    ck_assert_int_eq(runs.runs[0]->summary, 1);
    ck_assert_int_eq(runs.runs[0]->steps, 20);
    ck_assert_int_eq(runs.runs[0]->log.update_count, 2);
    /* 17 digits: the probability reads back as the double that was written */
    ck_assert(runs.runs[0]->log.update_probability[3] == 0.59999999999999998);
    ck_assert_int_eq(runs.runs[0]->log.loss_count[19][1], 2);
    ck_assert_str_eq(runs.runs[3]->label, "shift-frozen");

    /* the endpoint: differences 1, 2, 3 points, df 2 */
    sn_report_endpoint e;
    sn_report_primary_endpoint(&runs, &e);
    ck_assert_int_eq(e.computable, 1);
    ck_assert_int_eq(e.difference.n, 3);
    ck_assert_int_eq(e.bucket_low, 6);
    ck_assert_int_eq(e.bucket_high, 7);
    ck_assert_double_eq_tol(e.difference.mean, 2, 1e-9);
    ck_assert_double_eq_tol(e.difference.ci_low, 2 - 4.302653 / sqrt(3.0), 1e-5);
    ck_assert_double_eq_tol(e.difference.p, 1 - 2 * sqrt(3.0) / sqrt(14.0), 1e-9);

    sn_report_options options = {"shiftnas report (test)", 0, NULL, 0, 0, NULL};
    char path[512];
    snprintf(path, sizeof path, "%s/report.md", work);
    ck_assert_int_eq(sn_report_write_tables(&runs, &options, path), SN_OK);
    const char *text = read_all(path);
    /* the endpoint first, with n */
    const char *endpoint = strstr(text, "## Primary endpoint");
    ck_assert_ptr_nonnull(endpoint);
    ck_assert_msg(strstr(text, "+2.00 points, 95% CI [-0.48, +4.48], paired t = 3.46, df = 2, "
                               "p = 0.074; n = 3 seed pairs"),
                  "%s", text);
    ck_assert(endpoint < strstr(text, "## Paired comparisons"));
    ck_assert(endpoint < strstr(text, "## Accuracy per MACs target"));
    /* the default comparison, per target and per bucket */
    ck_assert_msg(strstr(text, "### shift − shift-frozen"), "%s", text);
    ck_assert_msg(strstr(text, "Seeds with a run of both arms: 1, 2, 3 (3)."), "%s", text);
    ck_assert_msg(strstr(text, "| 2M | evolution | 3 | +2.00 | [-0.48, +4.48] | 0.074 |"), "%s", text);
    ck_assert_msg(strstr(text, "| 0 | "), "%s", text);
    ck_assert_msg(strstr(text, "| 3 | +0.00 | [+0.00, +0.00] | 1.000 |"), "%s", text);
    /* the probe panel's arm means: bucket 6 of shift: 81.5, 82.5, 83.5 */
    ck_assert_msg(strstr(text, "82.50 ± 1.00 (n = 3)"), "%s", text);
    /* the stand-alone spread tau has to rank: 90, 88, 86, 84, sd sqrt(20/3) */
    ck_assert_msg(strstr(text, "Stand-alone accuracies: 84.00–90.00 % (sample standard deviation "
                               "2.58 points over the 4 probes)"),
                  "%s", text);
    /* tau-b: inherited 81, 80, 79, 80 (+ d) against 90, 88, 86, 84:
     * 4 concordant, 1 discordant, 1 tie in x: 3 / sqrt(30) */
    ck_assert_msg(strstr(text, "| shift | 1 | 4 | +0.548 |"), "%s", text);
    ck_assert_msg(strstr(text, "| **shift-frozen: mean over seeds** | n = 3 | | +0.548 ± 0.000 |"),
                  "%s", text);
    /* the gap in bucket 6 of shift-frozen: 81 - 90 and 80 - 88 per seed */
    ck_assert_msg(strstr(text, "| shift-frozen | 6 | "), "%s", text);
    ck_assert_msg(strstr(text, "| 6 | 3 | -8.50 ± 0.55 |"), "%s", text);
    /* final probabilities with the paper's reading; the cost */
    ck_assert_msg(strstr(text, "learns to sample more subnets with large computational complexity"),
                  "%s", text);
    ck_assert_msg(strstr(text, "| shift | 1 | 2 | 0.400 | 0.600 | 0.600 |"), "%s", text);
    ck_assert_msg(strstr(text, "| shift | 3 | 0.668 ± 1.154 | 4.007 | both |"), "%s", text);
    ck_assert_msg(strstr(text, "| retrained | 4 | 0.002 ± 0.000 | 0.013 | metrics.csv |"), "%s", text);
    /* timing.txt's train_seconds (summed over sessions) over metrics.csv's */
    ck_assert_msg(strstr(text, "/shift-seed1` | shift | 1 | 20 | "), "%s", text);
    ck_assert_msg(strstr(strstr(text, "/shift-seed1` | shift | 1 | 20 | "), "| 5400.0 s |"), "%s", text);
    /* probes-only retrained runs: no search.csv table of eval rows */
    ck_assert_msg(!strstr(text, "## Inherited vs retrained"), "%s", text);

    /* --compare names its own pair; a missing arm is said plainly */
    sn_report_comparison compare[2];
    ck_assert_int_eq(sn_report_parse_comparison("shift-frozen,shift", &compare[0]), SN_OK);
    ck_assert_int_eq(sn_report_parse_comparison("uniform,shift", &compare[1]), SN_OK);
    ck_assert_int_eq(sn_report_parse_comparison("shift", &compare[1]), SN_ERR_ARGUMENT);
    ck_assert_int_eq(sn_report_parse_comparison("shift,shift", &compare[1]), SN_ERR_ARGUMENT);
    ck_assert_int_eq(sn_report_parse_comparison("a,b,c", &compare[1]), SN_ERR_ARGUMENT);
    ck_assert_int_eq(sn_report_parse_comparison("uniform,shift", &compare[1]), SN_OK);
    options.comparison_count = 2;
    options.comparisons = compare;
    ck_assert_int_eq(sn_report_write_tables(&runs, &options, path), SN_OK);
    text = read_all(path);
    ck_assert_msg(strstr(text, "| 2M | evolution | 3 | -2.00 | [-4.48, +0.48] | 0.074 |"), "%s", text);
    ck_assert_msg(strstr(text, "### uniform − shift\n\nCannot be computed: no uniform runs"), "%s", text);
    sn_report_runs_free(&runs);
    remove_tree(work);
}
END_TEST

/* The signal-and-noise table: centered statistics per update, their
 * between-bucket spread against their update-to-update spread. */
static const char *report_of_one_shift_run(const char *updates_csv)
{
    summary_run("shift-seed1", "[model]\ntype = supernet\n[run]\nseed = 1\n[search]\nstrategy = shift\n",
                NULL, "method,strategy,target_flops,arch,flops,params,val_accuracy,test_accuracy,"
                      "evaluations,seconds\nevolution,shift,2000000,\"cnn:a\",1900000,5000,0.5,0.7,8,1.0\n",
                NULL, 2);
    char path[700];
    snprintf(path, sizeof path, "%s/shift-seed1/log-updates.csv", work);
    write_text(path, updates_csv);
    sn_report_runs runs;
    sn_report_runs_init(&runs);
    const char *names[1] = {"shift-seed1"};
    add_all(&runs, names, 1);
    sn_report_options options = {"shiftnas report (test)", 0, NULL, 0, 0, NULL};
    snprintf(path, sizeof path, "%s/report.md", work);
    ck_assert_int_eq(sn_report_write_tables(&runs, &options, path), SN_OK);
    sn_report_runs_free(&runs);
    return read_all(path);
}

START_TEST(shift_signal_against_noise)
{
    make_work();
    /* centered: update 0 (-0.1, +0.1), update 1 (0, 0); bucket means -0.05,
     * +0.05 (sd 0.0707), within-bucket sd 0.0707: noise / signal 1.0 (not
     * centered, the noise would be 0.158: update 1 moves both buckets) */
    const char *text = report_of_one_shift_run(
        "update,step,bucket,beta,probability,statistic,validation_loss\n"
        "0,10,0,0,0.5,0.1,1.5\n0,10,1,0,0.5,0.3,1.4\n"
        "1,20,0,-0.2,0.4,0.4,1.3\n1,20,1,0.2,0.6,0.4,1.2\n");
    ck_assert_msg(strstr(text, "## Signal and noise in β's statistic"), "%s", text);
    ck_assert_msg(strstr(text, "| shift | 1 | validation-loss change δ | 2 | +0.2500 … +0.3500 | "
                               "0.0707 | 0.0707 | 1.0 |"),
                  "%s", text);
    remove_tree(work);

    /* a first update of zeros (no earlier loss) is left out: one update
     * left is too few, and the section is not written */
    make_work();
    text = report_of_one_shift_run("update,step,bucket,beta,probability,statistic,validation_loss\n"
                                   "0,10,0,0,0.5,0,1.5\n0,10,1,0,0.5,0,1.4\n"
                                   "1,20,0,-0.2,0.4,0.1,1.3\n1,20,1,0.2,0.6,0.3,1.2\n");
    ck_assert_msg(strstr(text, "## Learned probabilities"), "%s", text);
    ck_assert_msg(!strstr(text, "## Signal and noise"), "%s", text);
    remove_tree(work);
}
END_TEST

/* A sensitivity study: shift with other β settings, one seed. Each setting
 * is an arm of its own (not a duplicate of seed 1), compared with shift;
 * a run of another K has its probes placed in the first run's buckets. */
START_TEST(sensitivity_runs_are_arms_of_their_own)
{
    make_work();
    const char *settings[5] = {"", "shift_learning_rate = 0.001\n", "buckets = 4\n",
                               "shift_interval = 50\nshift_learning_rate = 0.001\n",
                               "shift_frozen = true\nshift_learning_rate = 0.001\n"};
    const char *names[5] = {"shift-seed1", "shift-lr0.001-seed1", "shift-k4-seed1",
                            "shift-both-seed1", "shift-frozen-seed1"};
    for (int i = 0; i < 5; i++) {
        char ini[512], probes[2048];
        snprintf(ini, sizeof ini, "[model]\ntype = supernet\n[run]\nseed = 1\n[search]\n"
                                  "strategy = shift\n%s", settings[i]);
        panel_text(probes, sizeof probes, 0.80);
        summary_run(names[i], ini, probes, NULL, NULL, 2);
    }
    sn_report_runs runs;
    sn_report_runs_init(&runs);
    add_all(&runs, names, 4); /* the frozen run later: without it, shift is the reference */
    ck_assert_str_eq(runs.runs[0]->label, "shift");
    ck_assert_str_eq(runs.runs[1]->label, "shift-lr0.001");
    ck_assert_str_eq(runs.runs[2]->label, "shift-k4");
    ck_assert_str_eq(runs.runs[3]->label, "shift-lr0.001-interval50");
    sn_report_comparison *list = NULL;
    int count = 0;
    ck_assert_int_eq(sn_report_default_comparisons(&runs, &list, &count), SN_OK);
    ck_assert_int_eq(count, 3);
    for (int c = 0; c < 3; c++) {
        ck_assert_str_eq(list[c].a, runs.runs[c + 1]->label);
        ck_assert_str_eq(list[c].b, "shift");
    }
    free(list);
    /* K = 4: the probes (1M ... 5M MACs) in the first run's 8 buckets of
     * the space (0.80 ... 8.48 M), not as probes.csv numbered them */
    const int expected[5] = {0, 1, 2, 3, 4};
    for (int i = 0; i < 5; i++) {
        ck_assert_int_eq(runs.runs[2]->probes.rows[i].bucket, expected[i]);
        ck_assert_int_eq(runs.runs[1]->probes.rows[i].bucket, i == 0 ? 0 : i <= 2 ? 6 : 7);
    }
    /* β's rate does nothing when frozen: shift-frozen, no suffix */
    add_all(&runs, names + 4, 1);
    ck_assert_str_eq(runs.runs[4]->label, "shift-frozen");
    sn_report_runs_free(&runs);
    /* a frozen run first and one shift run: the frozen run's rate, which
     * does not apply, does not make shift a variant */
    sn_report_runs_init(&runs);
    const char *pair[2] = {"shift-frozen-seed1", "shift-seed1"};
    add_all(&runs, pair, 2);
    ck_assert_str_eq(runs.runs[0]->label, "shift-frozen");
    ck_assert_str_eq(runs.runs[1]->label, "shift");
    sn_report_runs_free(&runs);
    sn_report_runs_init(&runs);
    add_all(&runs, names, 2);
    /* a second run of one setting and seed is still a duplicate */
    int skipped = 0;
    char dir[600];
    snprintf(dir, sizeof dir, "%s/%s", work, names[1]);
    ck_assert_int_eq(sn_report_runs_add(&runs, dir, &skipped), SN_OK);
    ck_assert_int_eq(skipped, 1);
    ck_assert_msg(strstr(runs.skips[0].reason, "duplicate: shift-lr0.001 already has seed 1"), "%s",
                  runs.skips[0].reason);
    sn_report_runs_free(&runs);
    remove_tree(work);
}
END_TEST

START_TEST(endpoint_says_what_is_missing)
{
    make_work();
    char ini[512], probes[2048], name[64];
    for (int i = 1; i <= 2; i++) {
        snprintf(ini, sizeof ini, "[model]\ntype = supernet\n[run]\nseed = %d\n[search]\n"
                                  "strategy = shift\n", i);
        panel_text(probes, sizeof probes, 0.8);
        snprintf(name, sizeof name, "shift-seed%d", i);
        summary_run(name, ini, probes, NULL, NULL, 2);
    }
    sn_report_runs runs;
    sn_report_runs_init(&runs);
    const char *names[3] = {"shift-seed1", "shift-seed2", "shift-frozen-seed2"};
    add_all(&runs, names, 2);
    sn_report_endpoint e;
    sn_report_primary_endpoint(&runs, &e);
    ck_assert_int_eq(e.computable, 0);
    ck_assert_msg(strstr(e.why, "no shift-frozen runs"), "%s", e.why);
    /* one pair: a difference, but no interval or test */
    snprintf(ini, sizeof ini, "[model]\ntype = supernet\n[run]\nseed = 2\n[search]\n"
                              "strategy = shift\nshift_frozen = true\n");
    panel_text(probes, sizeof probes, 0.79);
    summary_run("shift-frozen-seed2", ini, probes, NULL, NULL, 2);
    add_all(&runs, names + 2, 1);
    sn_report_primary_endpoint(&runs, &e);
    ck_assert_int_eq(e.computable, 0);
    ck_assert_int_eq(e.difference.n, 1);
    ck_assert_msg(strstr(e.why, "only one seed pair (seed 2)"), "%s", e.why);
    ck_assert_msg(strstr(e.why, "shift runs with probes.csv: seeds 1, 2; shift-frozen runs with "
                                "probes.csv: seeds 2"), "%s", e.why);
    char path[512];
    snprintf(path, sizeof path, "%s/report.md", work);
    sn_report_options options = {"shiftnas report (test)", 0, NULL, 0, 0, NULL};
    ck_assert_int_eq(sn_report_write_tables(&runs, &options, path), SN_OK);
    const char *text = read_all(path);
    ck_assert_msg(strstr(text, "**Cannot be computed:** only one seed pair (seed 2)"), "%s", text);
    ck_assert_msg(strstr(text, "- unpaired: shift seed 1 has no shift-frozen run (left out)"), "%s", text);
    sn_report_runs_free(&runs);
    /* a summary that is not complete, or misses a file, is skipped */
    snprintf(path, sizeof path, "%s/shift-seed1/summary.txt", work);
    char *summary = strdup(read_all(path));
    char *complete = strstr(summary, "complete 1");
    complete[9] = '0';
    write_text(path, summary);
    free(summary);
    snprintf(path, sizeof path, "%s/shift-seed2/log-updates.csv", work);
    ck_assert_int_eq(unlink(path), 0);
    sn_report_runs_init(&runs);
    int skipped = 0;
    snprintf(path, sizeof path, "%s/shift-seed1", work);
    ck_assert_int_eq(sn_report_runs_add(&runs, path, &skipped), SN_OK);
    ck_assert_int_eq(skipped, 1);
    ck_assert_msg(strstr(runs.skips[0].reason, "shift-seed1: unfinished (step 20 of 20)"), "%s",
                  runs.skips[0].reason);
    snprintf(path, sizeof path, "%s/shift-seed2", work);
    ck_assert_int_eq(sn_report_runs_add(&runs, path, &skipped), SN_OK);
    ck_assert_int_eq(skipped, 1);
    ck_assert_msg(strstr(runs.skips[1].reason, "log-updates.csv: cannot open"), "%s",
                  runs.skips[1].reason);
    sn_report_runs_free(&runs);
    remove_tree(work);
}
END_TEST

int main(void)
{
    Suite *suite = suite_create("report");
    TCase *statistics = tcase_create("statistics");
    tcase_add_test(statistics, summary_known_values);
    tcase_add_test(statistics, summary_of_one_and_none);
    tcase_add_test(statistics, pareto_front_keeps_the_best_at_or_below_each_cost);
    tcase_add_test(statistics, bins_are_closed_below_open_above_last_closed);
    tcase_add_test(statistics, incomplete_beta_known_values);
    tcase_add_test(statistics, t_distribution_known_values);
    tcase_add_test(statistics, paired_summary_known_values);
    tcase_add_test(statistics, kendall_tau_b_with_ties);
    suite_add_tcase(suite, statistics);
    TCase *files = tcase_create("files");
    tcase_add_test(files, search_table_reads_quoted_arch_and_last_search_wins);
    tcase_add_test(files, search_table_refuses_malformed_rows_and_foreign_headers);
    tcase_add_test(files, search_table_append_then_read);
    tcase_add_test(files, targets_parse_like_search);
    tcase_add_test(files, arm_labels_come_from_the_configuration);
    tcase_add_test(files, unusable_run_directories_are_skipped_with_a_reason);
    tcase_add_test(files, retrained_runs_meet_their_inherited_subnets);
    tcase_add_test(files, probe_table_reads_and_refuses);
    tcase_add_test(files, paired_design_from_summary_runs);
    tcase_add_test(files, endpoint_says_what_is_missing);
    tcase_add_test(files, shift_signal_against_noise);
    tcase_add_test(files, sensitivity_runs_are_arms_of_their_own);
    suite_add_tcase(suite, files);
    SRunner *runner = srunner_create(suite);
    srunner_run_all(runner, CK_NORMAL);
    int failed = srunner_ntests_failed(runner);
    srunner_free(runner);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
