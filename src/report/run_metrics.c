/* A run's metrics.csv (every evaluation row: the convergence curves and the
 * wall time) and the study script's timing.txt (wall time, ranks, CPU). */
#include "report_internal.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "io/text_table.h"
#include "shiftnas/error.h"

static sn_metric_split split_of(const char *name)
{
    static const struct {
        const char *name;
        sn_metric_split split;
    } splits[] = {{"train", SN_METRIC_TRAIN},
                  {"val-largest", SN_METRIC_VAL_LARGEST},
                  {"val-smallest", SN_METRIC_VAL_SMALLEST},
                  {"test-largest", SN_METRIC_TEST_LARGEST},
                  {"test-smallest", SN_METRIC_TEST_SMALLEST},
                  {"val-subnet", SN_METRIC_VAL_SUBNET},
                  {"test-subnet", SN_METRIC_TEST_SUBNET}};
    for (size_t i = 0; i < sizeof splits / sizeof splits[0]; i++)
        if (strcmp(name, splits[i].name) == 0)
            return splits[i].split;
    return SN_METRIC_OTHER; /* a fixed network's val and test: not read */
}

/* step,epoch,split,loss,accuracy,images,seconds; accuracy may be empty. */
static int parse_metric(char *line, sn_metric_row *row)
{
    char *cursor = line, *fields[7];
    for (int i = 0; i < 7; i++)
        if (!(fields[i] = sn_report_next_field(&cursor, ',')))
            return -1;
    if (cursor)
        return -1;
    row->split = split_of(fields[2]);
    row->accuracy = NAN;
    if (sn_report_parse_int(fields[0], &row->step) != 0 ||
        sn_report_parse_int(fields[1], &row->epoch) != 0 ||
        sn_report_parse_double(fields[3], &row->loss) != 0 ||
        (fields[4][0] && sn_report_parse_double(fields[4], &row->accuracy) != 0) ||
        sn_report_parse_int(fields[5], &row->images) != 0 ||
        sn_report_parse_double(fields[6], &row->seconds) != 0)
        return -1;
    return 0;
}

struct metric_reading {
    const char *path;
    sn_report_run *run;
    int capacity;
};

static int read_metric(void *context, char *line, int line_number, const char **problem)
{
    (void)line_number;
    struct metric_reading *reading = context;
    sn_report_run *run = reading->run;
    SN_TRY(sn_text_table_reserve((void **)&run->metrics, &reading->capacity, run->metric_count,
                                 sizeof *run->metrics, 64, reading->path));
    if (parse_metric(line, &run->metrics[run->metric_count]) != 0)
        *problem = "not step,epoch,split,loss,accuracy,images,seconds";
    else
        run->metric_count++;
    return SN_OK;
}

int sn_report_read_metrics(sn_report_run *run)
{
    char path[SN_REPORT_PATH_MAX + 32];
    snprintf(path, sizeof path, "%s/metrics.csv", run->dir);
    struct metric_reading reading = {path, run, 0};
    int status = sn_text_table_read(path, "step,epoch,split,loss,accuracy,images,seconds",
                                    "a shiftnas metrics table", read_metric, &reading);
    if (status == SN_OK && run->metric_count == 0)
        status = sn_error_set(SN_ERR_FORMAT, "%s: no rows", path);
    /* the training wall time: the seconds of the last row (of the last
     * session: a resumed run counts from its resume) */
    run->train_seconds = status == SN_OK ? run->metrics[run->metric_count - 1].seconds : NAN;
    return status;
}

int sn_report_read_timing(sn_report_run *run)
{
    char path[SN_REPORT_PATH_MAX + 32];
    snprintf(path, sizeof path, "%s/timing.txt", run->dir);
    run->timing_wall_seconds = NAN;
    run->timing_ranks = 0;
    run->timing_cpu[0] = '\0';
    FILE *f = fopen(path, "r");
    if (!f)
        return errno == ENOENT ? SN_OK : sn_error_set(SN_ERR_IO, "%s: cannot open: %s", path,
                                                      strerror(errno));
    char line[512];
    int number = 0, status = SN_OK;
    while (fgets(line, sizeof line, f)) {
        number++;
        sn_report_trim_line(line);
        char *value = strchr(line, ' ');
        if (!line[0] || line[0] == '#')
            continue;
        if (!value) {
            status = sn_error_set(SN_ERR_FORMAT, "%s:%d: not a `key value` line", path, number);
            break;
        }
        *value++ = '\0';
        if (strcmp(line, "wall_seconds") == 0 &&
            (sn_report_parse_double(value, &run->timing_wall_seconds) != 0 ||
             !(run->timing_wall_seconds >= 0))) {
            status = sn_error_set(SN_ERR_FORMAT, "%s:%d: wall_seconds is not a time", path, number);
            break;
        }
        if (strcmp(line, "ranks") == 0 &&
            (sn_report_parse_int(value, &run->timing_ranks) != 0 || run->timing_ranks < 1)) {
            status = sn_error_set(SN_ERR_FORMAT, "%s:%d: ranks is not a count", path, number);
            break;
        }
        /* the study script's training time, summed over the run's sessions:
         * it replaces metrics.csv's, which older binaries counted from the
         * last resume */
        if (strcmp(line, "train_seconds") == 0 &&
            (sn_report_parse_double(value, &run->train_seconds) != 0 ||
             !(run->train_seconds >= 0))) {
            status = sn_error_set(SN_ERR_FORMAT, "%s:%d: train_seconds is not a time", path, number);
            break;
        }
        if (strcmp(line, "cpu") == 0)
            snprintf(run->timing_cpu, sizeof run->timing_cpu, "%s", value);
        /* blis_kernels, date and keys of later scripts: not read */
    }
    fclose(f);
    return status;
}
