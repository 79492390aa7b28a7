/* A training run's directory (run_directory.h). */
#include "run_directory.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "shiftnas/checkpoint.h"
#include "shiftnas/error.h"

#include "checkpointing.h"
#include "io/hdf5_file.h"
#include "io/hdf5_lock.h"
#include "io/write_failure.h"

int sn_run_directory_prepare(const char *run_dir)
{
    char path[1024];
    if (snprintf(path, sizeof path, "%s", run_dir) >= (int)sizeof path)
        return sn_error_set(SN_ERR_ARGUMENT, "%s: run directory path too long", run_dir);
    for (char *p = path + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(path, 0777) != 0 && errno != EEXIST)
            return sn_error_set(SN_ERR_IO, "%s: cannot create directory: %s", path, strerror(errno));
        *p = '/';
    }
    if (mkdir(path, 0777) != 0 && errno != EEXIST)
        return sn_error_set(SN_ERR_IO, "%s: cannot create directory: %s", path, strerror(errno));
    char metrics[1100];
    snprintf(metrics, sizeof metrics, "%s/metrics.csv", run_dir);
    struct stat st;
    if (stat(metrics, &st) == 0)
        return sn_error_set(SN_ERR_ARGUMENT, "%s: already holds a run (metrics.csv exists); choose another --out",
                            run_dir);
    return SN_OK;
}

int sn_run_directory_write_config(const sn_config *config, const char *run_dir)
{
    char path[1100], temporary[1110];
    snprintf(path, sizeof path, "%s/config.ini", run_dir);
    snprintf(temporary, sizeof temporary, "%s.tmp", path);
    FILE *f = fopen(temporary, "w");
    if (!f)
        return sn_write_failed(temporary, "cannot create", errno);
    int status = sn_config_write(config, f);
    /* A failed write is the stream's to say, with the file and the cause. */
    int finished = sn_stdio_finish(f, temporary, 1);
    if (finished != SN_OK)
        status = finished;
    if (status == SN_OK && rename(temporary, path) != 0)
        status = sn_write_failed(path, "cannot rename the new file into place", errno);
    if (status != SN_OK)
        remove(temporary);
    return status;
}

int sn_run_directory_find_checkpoint(const char *run_dir, int strict, char *path, size_t size,
                                     int *found, char *note, size_t note_size)
{
    path[0] = '\0';
    note[0] = '\0';
    SN_TRY(sn_checkpoint_remove_temporaries(run_dir));
    int status = sn_checkpoint_latest(run_dir, path, size, found);
    if (status == SN_OK && *found)
        status = sn_checkpoint_verify(path, NULL);
    if (status == SN_OK) {
        if (!*found)
            path[0] = '\0';
        return SN_OK;
    }
    /* Damage (a malformed `latest`, a missing, unreadable, truncated or
     * corrupted checkpoint) falls back to the newest intact checkpoint: its
     * state is as good as any, the steps after it are trained again with
     * the same bits. Other failures are not the file's. */
    *found = 0;
    path[0] = '\0';
    if (strict || (status != SN_ERR_FORMAT && status != SN_ERR_IO))
        return status;
    char reason[1024];
    snprintf(reason, sizeof reason, "%s", sn_error_message());
    SN_TRY(sn_checkpoint_newest_intact(run_dir, path, size, found));
    if (!*found)
        return sn_error_set(SN_ERR_FORMAT, "%s, and no other checkpoint in %s/checkpoints is intact "
                                           "(remove that directory to start over from step 0)",
                            reason, run_dir);
    const char *name = strrchr(path, '/');
    snprintf(note, note_size, "%s: resuming from %s instead", reason, name ? name + 1 : path);
    return SN_OK;
}

int sn_run_directory_open_files(const char *run_dir, const char *checkpoint_path, int found,
                                int resume, const sn_config *config,
                                const sn_supernet_training *training, sn_metrics *metrics,
                                sn_run_log **run_log)
{
    char log_path[1100];
    snprintf(log_path, sizeof log_path, "%s/log.h5", run_dir);
    if (found) {
        SN_TRY(sn_training_checkpoint_restore_run_files(checkpoint_path, run_dir));
        SN_TRY(sn_metrics_open_append(metrics, run_dir));
        if (training)
            SN_TRY(sn_run_log_open_append(run_log, log_path, config->search_strategy,
                                          training->sampler.buckets.count));
        return SN_OK;
    }
    if (resume && remove(log_path) != 0 && errno != ENOENT)
        return sn_error_set(SN_ERR_IO, "%s: cannot remove the log of the stopped run: %s",
                            log_path, strerror(errno));
    SN_TRY(sn_metrics_open(metrics, run_dir));
    if (training) {
        const sn_buckets *buckets = &training->sampler.buckets;
        SN_TRY(sn_run_log_create(run_log, log_path, config->search_strategy, buckets->count,
                                 buckets->edge));
    }
    return SN_OK;
}

int sn_run_directory_write_model(const sn_config *config, const char *run_dir, int64_t steps,
                                 sn_network *network, const sn_supernet_training *training)
{
    char *text = NULL;
    int status = sn_config_text(config, &text);
    if (status == SN_OK) {
        sn_model_part parts[2] = {
            {training ? "supernet" : "network", sn_network_parameter_table(network),
             sn_network_parameters(network)},
            {"generator", NULL, NULL},
        };
        int count = 1;
        if (training && training->have_generator) {
            parts[1].table = &training->generator.table;
            parts[1].values = training->generator.params;
            count = 2;
        }
        char path[1100];
        snprintf(path, sizeof path, "%s/model.h5", run_dir);
        status = sn_model_file_write(path, text, steps, parts, count);
    }
    free(text);
    return status;
}

int sn_run_directory_model_is_current(const char *run_dir, int64_t steps)
{
    char path[1100];
    snprintf(path, sizeof path, "%s/model.h5", run_dir);
    struct stat st;
    if (stat(path, &st) != 0)
        return 0;
    char saved[1024]; /* a model that does not open is not current: no message */
    snprintf(saved, sizeof saved, "%s", sn_error_message());
    int64_t stored = -1;
    hid_t file = -1;
    sn_hdf5_lock();
    if (sn_hdf5_file_open(path, H5F_ACC_RDONLY, &file) == SN_OK) {
        hid_t attribute = H5Aexists(file, "step") > 0 ? H5Aopen(file, "step", H5P_DEFAULT) : -1;
        if (attribute >= 0) {
            if (H5Aread(attribute, H5T_NATIVE_INT64, &stored) < 0)
                stored = -1;
            H5Aclose(attribute);
        }
        H5Fclose(file);
    }
    sn_hdf5_unlock();
    sn_error_set(SN_OK, "%s", saved);
    return stored == steps;
}
