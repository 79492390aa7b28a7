/* RUN_DIR/metrics.csv: one row per evaluation (and, with [run]
 * metrics_interval_steps, per interval of training steps), flushed at once
 * so that a killed run keeps every row it printed. A failed write names the
 * file and the system's cause (io/write_failure.h). */
#include "shiftnas/train.h"

#include <errno.h>
#include <string.h>

#include "io/write_failure.h"
#include "shiftnas/error.h"

/* The row just printed reached the file, or the failure is reported. */
static int check_row(sn_metrics *metrics, int printed)
{
    int error = errno;
    if (printed >= 0 && fflush(metrics->file) == 0 && !ferror(metrics->file))
        return SN_OK;
    if (printed >= 0)
        error = errno;
    return sn_write_failed(metrics->path, "cannot write", error);
}

int sn_metrics_open(sn_metrics *metrics, const char *run_dir)
{
    snprintf(metrics->path, sizeof metrics->path, "%s/metrics.csv", run_dir);
    metrics->file = fopen(metrics->path, "w");
    if (!metrics->file)
        return sn_write_failed(metrics->path, "cannot create", errno);
    return check_row(metrics, fprintf(metrics->file, "step,epoch,split,loss,accuracy,images,seconds\n"));
}

int sn_metrics_open_append(sn_metrics *metrics, const char *run_dir)
{
    snprintf(metrics->path, sizeof metrics->path, "%s/metrics.csv", run_dir);
    metrics->file = fopen(metrics->path, "a");
    if (!metrics->file)
        return sn_write_failed(metrics->path, "cannot open for appending", errno);
    return SN_OK;
}

int sn_metrics_append(sn_metrics *metrics, int64_t step, int epoch, const char *split, double loss,
                      double accuracy, int64_t images, double seconds)
{
    return check_row(metrics, fprintf(metrics->file, "%lld,%d,%s,%.6f,%.6f,%lld,%.3f\n", (long long)step,
                                      epoch, split, loss, accuracy, (long long)images, seconds));
}

int sn_metrics_append_train(sn_metrics *metrics, int64_t step, int epoch, double loss,
                            int64_t images, double seconds)
{
    return check_row(metrics, fprintf(metrics->file, "%lld,%d,train,%.6f,,%lld,%.3f\n", (long long)step, epoch,
                                      loss, (long long)images, seconds));
}

int sn_metrics_close(sn_metrics *metrics)
{
    FILE *file = metrics->file;
    metrics->file = NULL;
    return file ? sn_stdio_finish(file, metrics->path, 0) : SN_OK;
}
