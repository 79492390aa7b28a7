/* RUN_DIR/metrics.csv: one row per evaluation (and, with [run]
 * metrics_interval_steps, per interval of training steps), flushed at once
 * so that a killed run keeps every row it printed. */
#include "shiftnas/train.h"

#include <errno.h>
#include <string.h>

#include "shiftnas/error.h"

int sn_metrics_open(sn_metrics *metrics, const char *run_dir)
{
    snprintf(metrics->path, sizeof metrics->path, "%s/metrics.csv", run_dir);
    metrics->file = fopen(metrics->path, "w");
    if (!metrics->file)
        return sn_error_set(SN_ERR_IO, "%s: cannot create: %s", metrics->path, strerror(errno));
    fprintf(metrics->file, "step,epoch,split,loss,accuracy,images,seconds\n");
    fflush(metrics->file);
    return SN_OK;
}

int sn_metrics_open_append(sn_metrics *metrics, const char *run_dir)
{
    snprintf(metrics->path, sizeof metrics->path, "%s/metrics.csv", run_dir);
    metrics->file = fopen(metrics->path, "a");
    if (!metrics->file)
        return sn_error_set(SN_ERR_IO, "%s: cannot open for appending: %s", metrics->path,
                            strerror(errno));
    return SN_OK;
}

int sn_metrics_append(sn_metrics *metrics, int64_t step, int epoch, const char *split, double loss,
                      double accuracy, int64_t images, double seconds)
{
    if (fprintf(metrics->file, "%lld,%d,%s,%.6f,%.6f,%lld,%.3f\n", (long long)step, epoch, split,
                loss, accuracy, (long long)images, seconds) < 0 ||
        fflush(metrics->file) != 0)
        return sn_error_set(SN_ERR_IO, "%s: write failed: %s", metrics->path, strerror(errno));
    return SN_OK;
}

int sn_metrics_append_train(sn_metrics *metrics, int64_t step, int epoch, double loss,
                            int64_t images, double seconds)
{
    if (fprintf(metrics->file, "%lld,%d,train,%.6f,,%lld,%.3f\n", (long long)step, epoch, loss,
                (long long)images, seconds) < 0 ||
        fflush(metrics->file) != 0)
        return sn_error_set(SN_ERR_IO, "%s: write failed: %s", metrics->path, strerror(errno));
    return SN_OK;
}

int sn_metrics_close(sn_metrics *metrics)
{
    if (metrics->file && fclose(metrics->file) != 0) {
        metrics->file = NULL;
        return sn_error_set(SN_ERR_IO, "%s: close failed: %s", metrics->path, strerror(errno));
    }
    metrics->file = NULL;
    return SN_OK;
}
