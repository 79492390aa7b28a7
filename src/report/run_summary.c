/* What the report keeps of a run's log.h5 (aggregates, sn_report_log) and
 * the summary files that hold it as text: summary.txt (`key value` lines:
 * the checkpoint's progress and the log's counts, ranges and histogram),
 * log-updates.csv (every probability update) and log-bucket-loss.csv (the
 * training loss per window of steps and bucket). Numbers are printed with
 * 17 significant digits, so they read back bit for bit and a report of
 * summaries equals the report of the runs. doc/report.md gives the format. */
#include "report_internal.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "io/text_table.h"
#include "io/write_failure.h"
#include "shiftnas/error.h"

enum { W = SN_REPORT_LOSS_WINDOWS, BINS = SN_REPORT_HISTOGRAM_BINS };

/* ---- from log.h5 -------------------------------------------------------- */

void sn_report_log_free(sn_report_log *log)
{
    free(log->update_step);
    free(log->update_beta);
    free(log->update_probability);
    free(log->update_statistic);
    free(log->update_validation_loss);
    log->update_step = NULL;
    log->update_beta = log->update_probability = NULL;
    log->update_statistic = log->update_validation_loss = NULL;
    log->update_count = 0;
}

void sn_report_log_range(sn_report_log *log, const sn_run_log_data *data)
{
    log->macs_low = INFINITY;
    log->macs_high = -INFINITY;
    for (int64_t i = 0; i < data->subnet_count; i++) {
        log->macs_low = fmin(log->macs_low, (double)data->subnet_macs[i]);
        log->macs_high = fmax(log->macs_high, (double)data->subnet_macs[i]);
    }
}

/* bucket_loss.png's buckets: the log's, else equal ones over the space. */
static void loss_edges(sn_report_run *run)
{
    sn_report_log *log = &run->log;
    if (log->buckets > 0) {
        log->loss_buckets = log->buckets;
        memcpy(log->loss_edges, log->bucket_edges, sizeof(double) * (size_t)(log->buckets + 1));
        return;
    }
    log->loss_buckets = SN_REPORT_LOSS_BUCKETS;
    for (int k = 0; k <= log->loss_buckets; k++)
        log->loss_edges[k] = run->space_low + (run->space_high - run->space_low) * k /
                                                  log->loss_buckets;
}

static int allocate_updates(sn_report_log *log, int64_t count, int buckets)
{
    size_t n = (size_t)(count > 0 ? count : 1), cells = n * (size_t)(buckets > 0 ? buckets : 1);
    log->update_step = malloc(sizeof *log->update_step * n);
    log->update_beta = malloc(sizeof(double) * cells);
    log->update_probability = malloc(sizeof(double) * cells);
    log->update_statistic = malloc(sizeof(double) * cells);
    log->update_validation_loss = malloc(sizeof(double) * cells);
    log->update_count = count;
    if (!log->update_step || !log->update_beta || !log->update_probability ||
        !log->update_statistic || !log->update_validation_loss) {
        sn_report_log_free(log);
        return sn_error_set(SN_ERR_NOMEM, "report: out of memory");
    }
    return SN_OK;
}

int sn_report_log_from_data(sn_report_run *run, const sn_run_log_data *data)
{
    sn_report_log *log = &run->log;
    log->subnet_count = data->subnet_count;
    log->trained_steps = 1;
    for (int64_t i = 0; i < data->subnet_count; i++)
        if (data->subnet_step[i] + 1 > log->trained_steps)
            log->trained_steps = data->subnet_step[i] + 1;
    for (int64_t i = 0; i < data->subnet_count; i++) {
        int b = sn_bin_index((double)data->subnet_macs[i], run->space_low, run->space_high, BINS);
        if (b >= 0)
            log->histogram[b]++;
    }
    loss_edges(run);
    int K = log->loss_buckets;
    double sum[W][SN_REPORT_BUCKETS_MAX]; /* 10 kB */
    memset(sum, 0, sizeof sum);
    for (int64_t i = 0; i < data->subnet_count; i++) {
        int k = sn_bin_index_edges((double)data->subnet_macs[i], log->loss_edges, K);
        int64_t window = data->subnet_step[i] * W / log->trained_steps;
        if (k < 0 || window < 0 || window >= W || !isfinite(data->subnet_loss[i]))
            continue;
        sum[window][k] += data->subnet_loss[i];
        log->loss_count[window][k]++;
    }
    for (int v = 0; v < W; v++)
        for (int k = 0; k < SN_REPORT_BUCKETS_MAX; k++)
            log->loss_mean[v][k] = k < K && log->loss_count[v][k] > 0
                                       ? sum[v][k] / (double)log->loss_count[v][k]
                                       : NAN;
    int64_t m = data->update_count;
    SN_TRY(allocate_updates(log, m, data->buckets));
    size_t cells = (size_t)m * (size_t)data->buckets;
    if (m > 0) {
        memcpy(log->update_step, data->update_step, sizeof(int64_t) * (size_t)m);
        memcpy(log->update_beta, data->update_beta, sizeof(double) * cells);
        memcpy(log->update_probability, data->update_probability, sizeof(double) * cells);
        memcpy(log->update_statistic, data->update_statistic, sizeof(double) * cells);
        memcpy(log->update_validation_loss, data->update_validation_loss, sizeof(double) * cells);
    }
    return SN_OK;
}

/* ---- writing the summary ----------------------------------------------- */

/* A file of the summary: written to PATH.tmp, renamed over PATH when whole. */
typedef struct {
    char path[SN_REPORT_PATH_MAX + 64], temporary[SN_REPORT_PATH_MAX + 80];
    FILE *f;
} summary_file;

static int file_open(summary_file *file, const char *dir, const char *name)
{
    snprintf(file->path, sizeof file->path, "%s/%s", dir, name);
    snprintf(file->temporary, sizeof file->temporary, "%s.tmp", file->path);
    file->f = fopen(file->temporary, "w");
    if (!file->f)
        return sn_write_failed(file->temporary, "cannot create", errno);
    return SN_OK;
}

/* Closes (synced) and renames; on failure the .tmp file is removed. */
static int file_close(summary_file *file, int status)
{
    if (!file->f)
        return status;
    int finished = sn_stdio_finish(file->f, file->temporary, 1);
    file->f = NULL;
    if (status == SN_OK)
        status = finished;
    if (status == SN_OK && rename(file->temporary, file->path) != 0)
        status = sn_write_failed(file->path, "cannot rename into place", errno);
    if (status != SN_OK)
        remove(file->temporary);
    return status;
}

static void write_numbers(FILE *f, const char *key, const double *values, int count)
{
    fprintf(f, "%s", key);
    for (int i = 0; i < count; i++)
        fprintf(f, " %.17g", values[i]);
    fprintf(f, "\n");
}

static int write_summary_text(const sn_report_run *run, const char *dest)
{
    const sn_report_log *log = &run->log;
    summary_file file;
    SN_TRY(file_open(&file, dest, "summary.txt"));
    FILE *f = file.f;
    fprintf(f, "# shiftnas run summary: what `shiftnas report` reads of the run's checkpoint and\n"
               "# log.h5, written by `shiftnas report --summarize` (doc/report.md)\n"
               "format shiftnas-run-summary\nversion 1\ncomplete 1\n");
    fprintf(f, "steps %lld\ntotal_steps %lld\nimages %lld\nranks %lld\n", (long long)run->steps,
            (long long)run->total_steps, (long long)run->images, (long long)run->ranks);
    fprintf(f, "buckets %d\n", log->buckets);
    if (log->buckets > 0)
        write_numbers(f, "bucket_edges", log->bucket_edges, log->buckets + 1);
    fprintf(f, "subnets %lld\ntrained_steps %lld\n", (long long)log->subnet_count,
            (long long)log->trained_steps);
    double range[2] = {log->macs_low, log->macs_high};
    write_numbers(f, "macs_range", range, 2);
    fprintf(f, "macs_histogram");
    for (int b = 0; b < BINS; b++)
        fprintf(f, " %lld", (long long)log->histogram[b]);
    fprintf(f, "\nloss_buckets %d\n", log->loss_buckets);
    write_numbers(f, "loss_edges", log->loss_edges, log->loss_buckets + 1);
    fprintf(f, "updates %lld\n", (long long)log->update_count);
    return file_close(&file, SN_OK);
}

static int write_updates(const sn_report_run *run, const char *dest)
{
    const sn_report_log *log = &run->log;
    summary_file file;
    SN_TRY(file_open(&file, dest, "log-updates.csv"));
    fprintf(file.f, "update,step,bucket,beta,probability,statistic,validation_loss\n");
    int K = log->buckets;
    for (int64_t u = 0; u < log->update_count; u++)
        for (int k = 0; k < K; k++) {
            size_t i = (size_t)u * (size_t)K + (size_t)k;
            fprintf(file.f, "%lld,%lld,%d,%.17g,%.17g,%.17g,%.17g\n", (long long)u,
                    (long long)log->update_step[u], k, log->update_beta[i],
                    log->update_probability[i], log->update_statistic[i],
                    log->update_validation_loss[i]);
        }
    return file_close(&file, SN_OK);
}

static int write_bucket_loss(const sn_report_run *run, const char *dest)
{
    const sn_report_log *log = &run->log;
    summary_file file;
    SN_TRY(file_open(&file, dest, "log-bucket-loss.csv"));
    fprintf(file.f, "window,bucket,subnets,mean_loss\n");
    for (int v = 0; v < W; v++)
        for (int k = 0; k < log->loss_buckets; k++)
            if (log->loss_count[v][k] > 0)
                fprintf(file.f, "%d,%d,%lld,%.17g\n", v, k, (long long)log->loss_count[v][k],
                        log->loss_mean[v][k]);
    return file_close(&file, SN_OK);
}

/* A small file copied as it is. A file the run lacks is left alone in dest
 * (timing.txt is the study script's, written there). */
static int copy_file(const char *run_dir, const char *dest, const char *name)
{
    char from[SN_REPORT_PATH_MAX + 64];
    snprintf(from, sizeof from, "%s/%s", run_dir, name);
    FILE *in = fopen(from, "rb");
    if (!in)
        return errno == ENOENT ? SN_OK
                               : sn_error_set(SN_ERR_IO, "%s: cannot open: %s", from, strerror(errno));
    summary_file file;
    int status = file_open(&file, dest, name);
    char buffer[8192];
    size_t n;
    while (status == SN_OK && (n = fread(buffer, 1, sizeof buffer, in)) > 0)
        if (fwrite(buffer, 1, n, file.f) != n)
            status = sn_write_failed(file.temporary, "cannot write", errno);
    if (status == SN_OK && ferror(in))
        status = sn_error_set(SN_ERR_IO, "%s: read failed: %s", from, strerror(errno));
    fclose(in);
    return file_close(&file, status);
}

int sn_report_summarize(const char *run_dir, const char *dest_dir)
{
    struct stat a, b;
    if (stat(dest_dir, &b) != 0 || !S_ISDIR(b.st_mode))
        return sn_error_set(SN_ERR_IO, "%s: not a directory", dest_dir);
    if (stat(run_dir, &a) == 0 && a.st_dev == b.st_dev && a.st_ino == b.st_ino)
        return sn_error_set(SN_ERR_ARGUMENT, "%s: the summary's directory is the run's", dest_dir);
    sn_report_run *run = calloc(1, sizeof *run);
    if (!run)
        return sn_error_set(SN_ERR_NOMEM, "report: out of memory");
    /* the same load as the report's: an unfinished run is refused here */
    int status = sn_report_run_load_for(run, run_dir, 0);
    if (status != SN_OK) {
        free(run);
        return status;
    }
    static const char *const copied[] = {"config.ini", "metrics.csv", "search.csv", "probes.csv",
                                         "timing.txt"};
    for (size_t i = 0; status == SN_OK && i < sizeof copied / sizeof copied[0]; i++)
        status = copy_file(run->dir, dest_dir, copied[i]);
    if (status == SN_OK)
        status = write_updates(run, dest_dir);
    if (status == SN_OK)
        status = write_bucket_loss(run, dest_dir);
    /* last: summary.txt makes the directory a summary run */
    if (status == SN_OK)
        status = write_summary_text(run, dest_dir);
    sn_report_run_free(run);
    free(run);
    return status;
}

/* ---- reading a summary --------------------------------------------------- */

int sn_report_is_summary(const char *dir)
{
    char path[SN_REPORT_PATH_MAX + 32];
    snprintf(path, sizeof path, "%s/summary.txt", dir);
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

/* count numbers of a `key v1 v2 ...` value into values; 0 if exactly count. */
static int parse_numbers(char *text, double *values, int count)
{
    char *cursor = text;
    for (int i = 0; i < count; i++) {
        char *field = sn_report_next_field(&cursor, ' ');
        if (!field || sn_report_parse_double(field, &values[i]) != 0)
            return -1;
    }
    return cursor ? -1 : 0;
}

static int parse_count(const char *text, int64_t *value, int64_t max)
{
    return sn_report_parse_int(text, value) == 0 && *value >= 0 && *value <= max ? 0 : -1;
}

/* One `key value` line of summary.txt; a static description of what is
 * wrong, or NULL. seen collects the keys read (bits). */
static const char *summary_line(sn_report_run *run, char *key, char *value, int64_t *complete,
                                unsigned *seen)
{
    sn_report_log *log = &run->log;
    int64_t v = 0;
    double histogram[BINS];
    static const char *const keys[] = {"format",        "version",        "complete",
                                       "steps",         "total_steps",    "images",
                                       "ranks",         "buckets",        "bucket_edges",
                                       "subnets",       "trained_steps",  "macs_range",
                                       "macs_histogram", "loss_buckets", "loss_edges",
                                       "updates"};
    int which = -1;
    for (int i = 0; i < (int)(sizeof keys / sizeof keys[0]); i++)
        if (strcmp(key, keys[i]) == 0)
            which = i;
    if (which >= 0)
        *seen |= 1u << which;
    switch (which) {
    case 0: return strcmp(value, "shiftnas-run-summary") == 0 ? NULL : "not a shiftnas run summary";
    case 1: return strcmp(value, "1") == 0 ? NULL : "version is not 1";
    case 2: return parse_count(value, complete, 1) ? "complete is not 0 or 1" : NULL;
    case 3: return parse_count(value, &run->steps, INT64_MAX) ? "steps is not a count" : NULL;
    case 4: return parse_count(value, &run->total_steps, INT64_MAX) ? "total_steps is not a count" : NULL;
    case 5: return parse_count(value, &run->images, INT64_MAX) ? "images is not a count" : NULL;
    case 6: return parse_count(value, &run->ranks, INT64_MAX) ? "ranks is not a count" : NULL;
    case 7:
        if (parse_count(value, &v, SN_REPORT_BUCKETS_MAX))
            return "buckets is not a bucket count";
        log->buckets = (int)v;
        return NULL;
    case 8:
        return log->buckets > 0 && parse_numbers(value, log->bucket_edges, log->buckets + 1) == 0
                   ? NULL
                   : "bucket_edges are not buckets + 1 numbers (after buckets)";
    case 9: return parse_count(value, &log->subnet_count, INT64_MAX) ? "subnets is not a count" : NULL;
    case 10:
        return parse_count(value, &log->trained_steps, INT64_MAX) ? "trained_steps is not a count"
                                                                   : NULL;
    case 11: {
        double range[2];
        if (parse_numbers(value, range, 2) != 0)
            return "macs_range is not two numbers";
        log->macs_low = range[0];
        log->macs_high = range[1];
        return NULL;
    }
    case 12:
        if (parse_numbers(value, histogram, BINS) != 0)
            return "macs_histogram is not 16 counts";
        for (int b = 0; b < BINS; b++) {
            if (!(histogram[b] >= 0) || histogram[b] != floor(histogram[b]))
                return "macs_histogram is not 16 counts";
            log->histogram[b] = (int64_t)histogram[b];
        }
        return NULL;
    case 13:
        if (parse_count(value, &v, SN_REPORT_BUCKETS_MAX) || v < 1)
            return "loss_buckets is not a bucket count";
        log->loss_buckets = (int)v;
        return NULL;
    case 14:
        return log->loss_buckets > 0 &&
                       parse_numbers(value, log->loss_edges, log->loss_buckets + 1) == 0
                   ? NULL
                   : "loss_edges are not loss_buckets + 1 numbers (after loss_buckets)";
    case 15: return parse_count(value, &log->update_count, INT64_MAX / SN_REPORT_BUCKETS_MAX)
                 ? "updates is not a count" : NULL;
    default: return NULL; /* a later version's key */
    }
}

static int read_summary_text(sn_report_run *run)
{
    char path[SN_REPORT_PATH_MAX + 32];
    snprintf(path, sizeof path, "%s/summary.txt", run->dir);
    FILE *f = fopen(path, "r");
    if (!f)
        return sn_error_set(SN_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    char *line = NULL;
    size_t size = 0;
    int number = 0, status = SN_OK;
    int64_t complete = 0;
    unsigned seen = 0;
    while (status == SN_OK && getline(&line, &size, f) >= 0) {
        number++;
        sn_report_trim_line(line);
        if (!line[0] || line[0] == '#')
            continue;
        char *value = strchr(line, ' ');
        const char *problem = value ? NULL : "not a `key value` line";
        if (value) {
            *value++ = '\0';
            problem = summary_line(run, line, value, &complete, &seen);
        }
        if (problem)
            status = sn_error_set(SN_ERR_FORMAT, "%s:%d: %s", path, number, problem);
    }
    free(line);
    fclose(f);
    /* every key but bucket_edges (none without buckets) */
    unsigned needed = 0xffffu & ~(1u << 8);
    if (status == SN_OK && (seen & needed) != needed)
        status = sn_error_set(SN_ERR_FORMAT, "%s: incomplete summary (a key is missing)", path);
    if (status == SN_OK && run->log.buckets > 0 && !(seen & (1u << 8)))
        status = sn_error_set(SN_ERR_FORMAT, "%s: bucket_edges missing for %d buckets", path,
                              run->log.buckets);
    if (status == SN_OK && run->log.buckets == 0 && run->log.update_count > 0)
        status = sn_error_set(SN_ERR_FORMAT, "%s: probability updates without buckets", path);
    if (status == SN_OK && complete != 1)
        status = sn_error_set(SN_ERR_FORMAT, "%s: unfinished (step %lld of %lld)", run->dir,
                              (long long)run->steps, (long long)run->total_steps);
    return status;
}

/* Reads a summary CSV with the given header, one call of row() per data
 * line (fields cut at commas, count of them given); row returns a static
 * description of what is wrong, or NULL. */
typedef const char *(*row_reader)(sn_report_run *run, char **fields, int count, int64_t index);

struct summary_reading {
    sn_report_run *run;
    int columns;
    row_reader row;
    int64_t index;
};

static int read_summary_row(void *context, char *line, int line_number, const char **problem)
{
    (void)line_number;
    struct summary_reading *reading = context;
    char *fields[8], *cursor = line;
    int count = 0;
    while (count < 8 && (fields[count] = sn_report_next_field(&cursor, ',')) != NULL)
        count++;
    *problem = count != reading->columns || cursor
                   ? "wrong number of fields"
                   : reading->row(reading->run, fields, count, reading->index++);
    return SN_OK;
}

static int read_csv(sn_report_run *run, const char *name, const char *header, int columns,
                    row_reader row, int64_t *rows)
{
    char path[SN_REPORT_PATH_MAX + 32], what[64];
    snprintf(path, sizeof path, "%s/%s", run->dir, name);
    snprintf(what, sizeof what, "the summary's %s", name);
    struct summary_reading reading = {run, columns, row, 0};
    int status = sn_text_table_read(path, header, what, read_summary_row, &reading);
    *rows = reading.index;
    return status;
}

/* update,step,bucket,beta,probability,statistic,validation_loss: row
 * u K + k holds update u, bucket k, in that order. */
static const char *update_row(sn_report_run *run, char **fields, int count, int64_t index)
{
    (void)count;
    sn_report_log *log = &run->log;
    int K = log->buckets;
    int64_t u = 0, step = 0, k = 0;
    if (K == 0 || index >= log->update_count * K)
        return "more rows than updates x buckets of summary.txt";
    if (sn_report_parse_int(fields[0], &u) != 0 || u != index / K ||
        sn_report_parse_int(fields[2], &k) != 0 || k != index % K)
        return "update and bucket out of order";
    if (sn_report_parse_int(fields[1], &step) != 0)
        return "step is not a count";
    double values[4];
    for (int i = 0; i < 4; i++)
        if (sn_report_parse_double(fields[3 + i], &values[i]) != 0)
            return "a value is not a number";
    log->update_step[u] = step;
    log->update_beta[index] = values[0];
    log->update_probability[index] = values[1];
    log->update_statistic[index] = values[2];
    log->update_validation_loss[index] = values[3];
    return NULL;
}

/* window,bucket,subnets,mean_loss: the cells with subnets. */
static const char *loss_row(sn_report_run *run, char **fields, int count, int64_t index)
{
    (void)count;
    (void)index;
    sn_report_log *log = &run->log;
    int64_t v = 0, k = 0, n = 0;
    double mean = 0;
    if (sn_report_parse_int(fields[0], &v) != 0 || v < 0 || v >= W)
        return "window out of range";
    if (sn_report_parse_int(fields[1], &k) != 0 || k < 0 || k >= log->loss_buckets)
        return "bucket out of range";
    if (sn_report_parse_int(fields[2], &n) != 0 || n < 1)
        return "subnets is not a positive count";
    if (sn_report_parse_double(fields[3], &mean) != 0)
        return "mean_loss is not a number";
    log->loss_count[v][k] = n;
    log->loss_mean[v][k] = mean;
    return NULL;
}

int sn_report_read_summary(sn_report_run *run)
{
    SN_TRY(read_summary_text(run));
    sn_report_log *log = &run->log;
    for (int v = 0; v < W; v++)
        for (int k = 0; k < SN_REPORT_BUCKETS_MAX; k++)
            log->loss_mean[v][k] = NAN;
    SN_TRY(allocate_updates(log, log->update_count, log->buckets));
    int64_t rows = 0;
    SN_TRY(read_csv(run, "log-updates.csv",
                    "update,step,bucket,beta,probability,statistic,validation_loss", 7, update_row,
                    &rows));
    /* every update whole: as many rows as summary.txt says */
    if (rows != log->update_count * log->buckets)
        return sn_error_set(SN_ERR_FORMAT, "%s/log-updates.csv: %lld rows, summary.txt says %lld "
                                           "updates of %d buckets",
                            run->dir, (long long)rows, (long long)log->update_count, log->buckets);
    return read_csv(run, "log-bucket-loss.csv", "window,bucket,subnets,mean_loss", 4, loss_row,
                    &rows);
}
