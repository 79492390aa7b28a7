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
        {"[search]\nstrategy = shift\nshift_statistic = variance\n", "shift (variance)"},
        {"[search]\nstrategy = sandwich\nshift_statistic = variance\n", "sandwich"},
        {"[search]\nstrategy = flops-uniform\n", "flops-uniform"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        write_text(path, cases[i].ini);
        sn_config config;
        sn_config_defaults(&config);
        ck_assert_int_eq(sn_config_load_file(&config, path), SN_OK);
        char label[SN_REPORT_LABEL_MAX];
        sn_report_arm_label(config.search_strategy, config.shift_statistic, label, sizeof label);
        ck_assert_str_eq(label, cases[i].label);
    }
    /* strategy fixed (one subnet trained from scratch) */
    char label[SN_REPORT_LABEL_MAX];
    sn_report_arm_label("fixed", "loss-change", label, sizeof label);
    ck_assert_str_eq(label, "retrained");
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

    sn_report_options options = {"shiftnas report (test)", 0, NULL, 0};
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
     * of shift-2's evolution is not a note (it has no evolution rows) */
    ck_assert_msg(strstr(text, "| **shift (evolution)** | 1 | 1.900 | 6.0 | 60.00 ± — | **55.00 ± —** |"),
                  "%s", text);
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
    suite_add_tcase(suite, statistics);
    TCase *files = tcase_create("files");
    tcase_add_test(files, search_table_reads_quoted_arch_and_last_search_wins);
    tcase_add_test(files, search_table_refuses_malformed_rows_and_foreign_headers);
    tcase_add_test(files, search_table_append_then_read);
    tcase_add_test(files, targets_parse_like_search);
    tcase_add_test(files, arm_labels_come_from_the_configuration);
    tcase_add_test(files, unusable_run_directories_are_skipped_with_a_reason);
    tcase_add_test(files, retrained_runs_meet_their_inherited_subnets);
    suite_add_tcase(suite, files);
    SRunner *runner = srunner_create(suite);
    srunner_run_all(runner, CK_NORMAL);
    int failed = srunner_ntests_failed(runner);
    srunner_free(runner);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
