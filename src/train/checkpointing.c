/*
 * Writing and restoring a training run's checkpoint (checkpointing.h says
 * what is in it and why that suffices; doc/checkpoint.md gives the layout).
 *
 * Every value is stored exactly (float32 weights and moments as float32,
 * doubles as float64), so a restored run computes the same bits as one that
 * never stopped. Restoring checks before it copies: the configuration (up to
 * result-neutral keys), the shapes of every array, the data's fingerprint,
 * the loop's counters; any mismatch is one message naming the file.
 */
#include "config.h"

#include "checkpointing.h"
#include "fault_injection.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "shiftnas/checkpoint.h"
#include "io/hdf5_lock.h"
#include "shiftnas/error.h"
#include "shiftnas/train.h"
#include "shiftnas/version.h"

#define CHECKPOINT_KIND "shiftnas-training-checkpoint"

/* ---- small helpers ------------------------------------------------------ */

static int write_vector(sn_checkpoint_writer *w, const char *name, sn_checkpoint_type type,
                        int64_t count, const void *data)
{
    return sn_checkpoint_write_array(w, name, type, 1, &count, data);
}

static int write_scalar_int64(sn_checkpoint_writer *w, const char *name, int64_t value)
{
    return sn_checkpoint_write_array(w, name, SN_CHECKPOINT_INT64, 0, NULL, &value);
}

static int write_scalar_double(sn_checkpoint_writer *w, const char *name, double value)
{
    return sn_checkpoint_write_array(w, name, SN_CHECKPOINT_FLOAT64, 0, NULL, &value);
}

/* One dataset per parameter-table entry, named and shaped as the entry:
 * h5py users slice a subnet's weights straight out of these. */
static int write_table(sn_checkpoint_writer *w, const char *group,
                       const sn_parameter_table *table, const float *values)
{
    char name[SN_MAX_NAME + 64];
    for (int i = 0; i < table->count; i++) {
        const sn_parameter_entry *e = &table->entries[i];
        snprintf(name, sizeof name, "%s/%s", group, e->name);
        SN_TRY(sn_checkpoint_write_array(w, name, SN_CHECKPOINT_FLOAT32, e->ndim, e->shape,
                                         values + e->offset));
    }
    return SN_OK;
}

static int write_optimizer(sn_checkpoint_writer *w, const char *group, const sn_optimizer *o)
{
    char name[96];
    snprintf(name, sizeof name, "%s/moment1", group);
    SN_TRY(write_vector(w, name, SN_CHECKPOINT_FLOAT32, (int64_t)o->size, o->moment1));
    if (o->moment2) {
        snprintf(name, sizeof name, "%s/moment2", group);
        SN_TRY(write_vector(w, name, SN_CHECKPOINT_FLOAT32, (int64_t)o->size, o->moment2));
    }
    snprintf(name, sizeof name, "%s/updates", group);
    return write_scalar_int64(w, name, o->updates);
}

/* The whole of a file, malloc'd; *size its length. A missing file is an
 * empty one only when allow_missing. */
static int read_whole_file(const char *path, int allow_missing, unsigned char **data, int64_t *size)
{
    *data = NULL;
    *size = 0;
    FILE *f = fopen(path, "rb");
    if (!f) {
        if (allow_missing && errno == ENOENT)
            return SN_OK;
        return sn_error_set(SN_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    }
    struct stat st;
    if (fstat(fileno(f), &st) != 0) {
        fclose(f);
        return sn_error_set(SN_ERR_IO, "%s: cannot stat: %s", path, strerror(errno));
    }
    unsigned char *buffer = malloc((size_t)st.st_size + 1);
    if (!buffer) {
        fclose(f);
        return sn_error_set(SN_ERR_NOMEM, "%s: cannot hold %lld bytes", path,
                            (long long)st.st_size);
    }
    size_t got = fread(buffer, 1, (size_t)st.st_size, f);
    int failed = ferror(f);
    fclose(f);
    if (failed || got != (size_t)st.st_size) {
        free(buffer);
        return sn_error_set(SN_ERR_IO, "%s: read failed", path);
    }
    *data = buffer;
    *size = (int64_t)got;
    return SN_OK;
}

/* ---- writing -------------------------------------------------------------- */

/* The shift's state (sn_shift_visit_state) as datasets "shift/NAME": a
 * scalar as a 0-d int64 (ints widened), a vector of doubles as float64, of
 * ints as int32. */
static sn_checkpoint_type shift_dataset_type(const sn_shift_field *field)
{
    if (field->scalar && field->type != SN_SHIFT_FIELD_DOUBLE)
        return SN_CHECKPOINT_INT64;
    switch (field->type) {
    case SN_SHIFT_FIELD_DOUBLE: return SN_CHECKPOINT_FLOAT64;
    case SN_SHIFT_FIELD_INT64: return SN_CHECKPOINT_INT64;
    default: return SN_CHECKPOINT_INT32;
    }
}

static int write_shift_field(const sn_shift_field *field, void *context)
{
    _Static_assert(sizeof(int) == 4, "shift vectors of int are stored as int32");
    sn_checkpoint_writer *w = context;
    char name[64];
    snprintf(name, sizeof name, "shift/%s", field->name);
    if (!field->scalar)
        return write_vector(w, name, shift_dataset_type(field), field->count, field->data);
    if (field->type == SN_SHIFT_FIELD_INT)
        return write_scalar_int64(w, name, *(const int *)field->data);
    return sn_checkpoint_write_array(w, name, shift_dataset_type(field), 0, NULL, field->data);
}

int sn_training_checkpoint_write_shift(sn_checkpoint_writer *w, const sn_shift *shift)
{
    /* write_shift_field only reads the shift */
    return sn_shift_visit_state((sn_shift *)shift, write_shift_field, w);
}

static int write_contents(sn_checkpoint_writer *w, const sn_training_state *s, int ranks,
                          int complete, sn_run_log *log, const char *metrics_path)
{
    const sn_config *config = s->config;
    char *text = NULL;
    SN_TRY(sn_config_text(config, &text));
    int status = sn_checkpoint_write_text(w, "format", CHECKPOINT_KIND);
    if (status == SN_OK)
        status = sn_checkpoint_write_int64(w, "format_version", SN_CHECKPOINT_FORMAT_VERSION);
    if (status == SN_OK)
        status = sn_checkpoint_write_text(w, "shiftnas_version", PACKAGE_VERSION);
    if (status == SN_OK)
        status = sn_checkpoint_write_text(w, "source_revision", sn_source_revision());
    if (status == SN_OK)
        status = sn_checkpoint_write_text(w, "config", text);
    free(text);
    SN_TRY(status);
    const char *strategy = s->training ? sn_strategy_name(s->training->strategy) : "none";
    SN_TRY(sn_checkpoint_write_text(w, "strategy", strategy));
    SN_TRY(sn_checkpoint_write_text(w, "model_type", config->model_type));
    SN_TRY(sn_checkpoint_write_int64(w, "step", s->steps_done));
    SN_TRY(sn_checkpoint_write_int64(w, "total_steps", s->total_steps));
    SN_TRY(sn_checkpoint_write_int64(w, "steps_per_epoch", s->steps_per_epoch));
    SN_TRY(sn_checkpoint_write_int64(w, "epoch", s->steps_done / s->steps_per_epoch));
    SN_TRY(sn_checkpoint_write_int64(w, "data_position", s->steps_done % s->steps_per_epoch));
    SN_TRY(sn_checkpoint_write_int64(w, "seed", config->seed));
    SN_TRY(sn_checkpoint_write_int64(w, "ranks", ranks));
    SN_TRY(sn_checkpoint_write_int64(w, "complete", complete));
    SN_TRY(sn_checkpoint_write_int64(w, "images", s->images));

    /* the network, its optimiser, its running statistics */
    const char *group = s->training ? "supernet" : "network";
    SN_TRY(write_table(w, group, sn_network_parameter_table(s->network),
                       sn_network_parameters(s->network)));
#ifdef SHIFTNAS_FAULT_INJECTION
    /* the failure tests: a writer killed with the file half written (only
     * rank 0 writes) */
    sn_fault_injection_at(SN_FAULT_POINT_CHECKPOINT, 0, s->steps_done);
#endif
    SN_TRY(write_optimizer(w, "optimizer", s->optimizer));
    int64_t statistics = 0;
    const float *running = sn_network_running_statistics(s->network, &statistics);
    if (statistics > 0)
        SN_TRY(write_vector(w, "batchnorm/running_statistics", SN_CHECKPOINT_FLOAT32, statistics,
                            running));

    /* the strategy's state */
    const sn_supernet_training *t = s->training;
    if (t && t->have_generator) {
        SN_TRY(write_table(w, "generator", &t->generator.table, t->generator.params));
        SN_TRY(write_optimizer(w, "generator_optimizer", &t->generator_optimizer));
    }
    if (t && t->have_shift)
        SN_TRY(sn_training_checkpoint_write_shift(w, &t->shift));
    if (t && t->snapshot)
        /* the target-input estimator's w_{t-1}; no other run has (or reads) it */
        SN_TRY(write_table(w, "shift_snapshot", sn_network_parameter_table(s->network),
                           t->snapshot));
    if (t) {
        SN_TRY(write_scalar_int64(w, "training/updates", t->updates));
        SN_TRY(write_scalar_double(w, "training/update_seconds", t->update_seconds));
        SN_TRY(write_vector(w, "training/validation_loss", SN_CHECKPOINT_FLOAT64, SN_BUCKETS_MAX,
                            t->validation_loss));
    }

    /* the loop */
    SN_TRY(write_scalar_double(w, "progress/epoch_loss", s->epoch_loss));
    SN_TRY(write_scalar_int64(w, "progress/epoch_steps", s->epoch_steps));
    if (config->metrics_interval_steps > 0) {
        /* only with training rows: the checkpoints of other runs stay as they were */
        SN_TRY(write_scalar_double(w, "progress/interval_loss", s->interval_loss));
        SN_TRY(write_scalar_int64(w, "progress/interval_steps", s->interval_steps));
    }
    SN_TRY(write_scalar_double(w, "progress/train_seconds", s->train_seconds));
    SN_TRY(write_scalar_double(w, "progress/run_seconds", s->run_seconds));
    const double evaluation[4] = {s->validation_loss, s->validation_accuracy, s->test_loss,
                                  s->test_accuracy};
    SN_TRY(write_vector(w, "progress/evaluation", SN_CHECKPOINT_FLOAT64, 4, evaluation));

    /* the data's fingerprint: a resumed run must see the same images */
    const int64_t counts[3] = {s->train_count, s->validation_count, s->test_count};
    SN_TRY(write_vector(w, "data/counts", SN_CHECKPOINT_INT64, 3, counts));
    SN_TRY(write_vector(w, "data/normalization_mean", SN_CHECKPOINT_FLOAT32,
                        s->normalization->channels, s->normalization->mean));
    SN_TRY(write_vector(w, "data/normalization_std", SN_CHECKPOINT_FLOAT32,
                        s->normalization->channels, s->normalization->std));

    /* the run's files as they are now */
    unsigned char *bytes = NULL;
    int64_t size = 0;
    if (log) {
        SN_TRY(sn_run_log_flush(log));
        char path[1100];
        snprintf(path, sizeof path, "%s", sn_run_log_path(log));
        SN_TRY(read_whole_file(path, 0, &bytes, &size));
        status = write_vector(w, "run_files/log.h5", SN_CHECKPOINT_UINT8, size, bytes);
        free(bytes);
        SN_TRY(status);
    }
    if (metrics_path) {
        SN_TRY(read_whole_file(metrics_path, 0, &bytes, &size));
        status = write_vector(w, "run_files/metrics.csv", SN_CHECKPOINT_UINT8, size, bytes);
        free(bytes);
        SN_TRY(status);
    }
    return SN_OK;
}

static int sn_training_checkpoint_write_unlocked(const sn_training_state *state, const char *run_dir, int ranks,
                                 int complete, sn_run_log *log, const char *metrics_path,
                                 int64_t *bytes)
{
    char temporary[1100];
    SN_TRY(sn_checkpoint_directory_create(run_dir));
    SN_TRY(sn_checkpoint_temporary_path(temporary, sizeof temporary, run_dir, state->steps_done));
    sn_checkpoint_writer *w = NULL;
    SN_TRY(sn_checkpoint_writer_create(&w, temporary));
    int status = write_contents(w, state, ranks, complete, log, metrics_path);
    if (status != SN_OK) {
        sn_checkpoint_writer_abandon(w);
        return status;
    }
    SN_TRY(sn_checkpoint_writer_finish(w));
    struct stat st;
    *bytes = stat(temporary, &st) == 0 ? (int64_t)st.st_size : 0;
    return SN_OK;
}

/* ---- reading -------------------------------------------------------------- */

static int read_vector(sn_checkpoint_reader *r, const char *name, sn_checkpoint_type type,
                       int64_t count, void *data)
{
    return sn_checkpoint_read_array(r, name, type, 1, &count, data);
}

static int read_scalar_int64(sn_checkpoint_reader *r, const char *name, int64_t *value)
{
    return sn_checkpoint_read_array(r, name, SN_CHECKPOINT_INT64, 0, NULL, value);
}

static int read_scalar_double(sn_checkpoint_reader *r, const char *name, double *value)
{
    return sn_checkpoint_read_array(r, name, SN_CHECKPOINT_FLOAT64, 0, NULL, value);
}

static int check_finite(sn_checkpoint_reader *r, const char *name, const float *values, size_t n)
{
    int64_t bad = sn_first_non_finite(values, n);
    if (bad >= 0)
        return sn_error_set(SN_ERR_FORMAT, "%s: dataset '%s' holds a non-finite value (element %lld)",
                            sn_checkpoint_reader_path(r), name, (long long)bad);
    return SN_OK;
}

static int read_table(sn_checkpoint_reader *r, const char *group, const sn_parameter_table *table,
                      float *values)
{
    char name[SN_MAX_NAME + 64];
    for (int i = 0; i < table->count; i++) {
        const sn_parameter_entry *e = &table->entries[i];
        snprintf(name, sizeof name, "%s/%s", group, e->name);
        SN_TRY(sn_checkpoint_read_array(r, name, SN_CHECKPOINT_FLOAT32, e->ndim, e->shape,
                                        values + e->offset));
        SN_TRY(check_finite(r, name, values + e->offset, e->count));
    }
    return SN_OK;
}

static int read_optimizer(sn_checkpoint_reader *r, const char *group, sn_optimizer *o)
{
    char name[96];
    snprintf(name, sizeof name, "%s/moment1", group);
    SN_TRY(read_vector(r, name, SN_CHECKPOINT_FLOAT32, (int64_t)o->size, o->moment1));
    SN_TRY(check_finite(r, name, o->moment1, o->size));
    if (o->moment2) {
        snprintf(name, sizeof name, "%s/moment2", group);
        SN_TRY(read_vector(r, name, SN_CHECKPOINT_FLOAT32, (int64_t)o->size, o->moment2));
        SN_TRY(check_finite(r, name, o->moment2, o->size));
    }
    snprintf(name, sizeof name, "%s/updates", group);
    SN_TRY(read_scalar_int64(r, name, &o->updates));
    if (o->updates < 0)
        return sn_error_set(SN_ERR_FORMAT, "%s: dataset '%s' is negative",
                            sn_checkpoint_reader_path(r), name);
    return SN_OK;
}

static int read_shift_field(const sn_shift_field *field, void *context)
{
    sn_checkpoint_reader *r = context;
    char name[64];
    snprintf(name, sizeof name, "shift/%s", field->name);
    if (!field->scalar)
        return read_vector(r, name, shift_dataset_type(field), field->count, field->data);
    if (field->type != SN_SHIFT_FIELD_INT)
        return sn_checkpoint_read_array(r, name, shift_dataset_type(field), 0, NULL, field->data);
    int64_t value;
    SN_TRY(read_scalar_int64(r, name, &value));
    if (value < INT_MIN || value > INT_MAX)
        return sn_error_set(SN_ERR_FORMAT, "%s: dataset '%s' = %lld is out of range",
                            sn_checkpoint_reader_path(r), name, (long long)value);
    *(int *)field->data = (int)value;
    return SN_OK;
}

int sn_training_checkpoint_read_shift(sn_checkpoint_reader *r, sn_shift *shift)
{
    SN_TRY(sn_shift_visit_state(shift, read_shift_field, r));
    int status = sn_shift_check_state(shift);
    if (status != SN_OK)
        return sn_error_set(status, "%s: %s", sn_checkpoint_reader_path(r), sn_error_message());
    return SN_OK;
}

/* The stored configuration must describe this run, up to the keys that do
 * not change a trained bit. */
static int check_config(sn_checkpoint_reader *r, const sn_config *config)
{
    const char *path = sn_checkpoint_reader_path(r);
    char *text = NULL;
    SN_TRY(sn_checkpoint_read_text(r, "config", &text));
    char name[1200];
    snprintf(name, sizeof name, "%s (stored configuration)", path);
    sn_config stored;
    sn_config_defaults(&stored);
    int status = sn_config_load_text(&stored, text, name);
    free(text);
    SN_TRY(status);
    const sn_config_key *key = sn_config_first_difference(&stored, config, 1);
    if (key) {
        char theirs[SN_CONFIG_TEXT_MAX + 32], ours[SN_CONFIG_TEXT_MAX + 32];
        sn_config_format_value(&stored, key, theirs, sizeof theirs);
        sn_config_format_value(config, key, ours, sizeof ours);
        return sn_error_set(SN_ERR_FORMAT,
                            "%s: written with [%s] %s = %s, but this run has %s (a resumed run "
                            "keeps its configuration; only result-neutral keys may change)",
                            path, key->section, key->name, theirs, ours);
    }
    return SN_OK;
}

static int check_counter(sn_checkpoint_reader *r, const char *name, int64_t expected)
{
    int64_t value;
    SN_TRY(sn_checkpoint_read_int64(r, name, &value));
    if (value != expected)
        return sn_error_set(SN_ERR_FORMAT, "%s: attribute %s = %lld, expected %lld",
                            sn_checkpoint_reader_path(r), name, (long long)value,
                            (long long)expected);
    return SN_OK;
}

static int check_data(sn_checkpoint_reader *r, const sn_training_state *s)
{
    const char *path = sn_checkpoint_reader_path(r);
    int64_t counts[3];
    SN_TRY(read_vector(r, "data/counts", SN_CHECKPOINT_INT64, 3, counts));
    float mean[SN_MAX_CHANNELS], std[SN_MAX_CHANNELS];
    const int c = s->normalization->channels;
    SN_TRY(read_vector(r, "data/normalization_mean", SN_CHECKPOINT_FLOAT32, c, mean));
    SN_TRY(read_vector(r, "data/normalization_std", SN_CHECKPOINT_FLOAT32, c, std));
    if (counts[0] != s->train_count || counts[1] != s->validation_count ||
        counts[2] != s->test_count)
        return sn_error_set(SN_ERR_FORMAT,
                            "%s: written on %lld training / %lld validation / %lld test images; "
                            "this run has %lld / %lld / %lld ([data] path changed?)",
                            path, (long long)counts[0], (long long)counts[1], (long long)counts[2],
                            (long long)s->train_count, (long long)s->validation_count,
                            (long long)s->test_count);
    /* The normalisation is a mean over every training pixel: other images
     * with the same counts give other bits. */
    if (memcmp(mean, s->normalization->mean, sizeof(float) * (size_t)c) != 0 ||
        memcmp(std, s->normalization->std, sizeof(float) * (size_t)c) != 0)
        return sn_error_set(SN_ERR_FORMAT,
                            "%s: written on other training images (pixel mean %.6f, this run's "
                            "%.6f): [data] path must name the same data",
                            path, mean[0], s->normalization->mean[0]);
    return SN_OK;
}

static int read_contents(sn_checkpoint_reader *r, sn_training_state *s, int *complete)
{
    const char *path = sn_checkpoint_reader_path(r);
    char *kind = NULL;
    SN_TRY(sn_checkpoint_read_text(r, "format", &kind));
    int foreign = strcmp(kind, CHECKPOINT_KIND) != 0;
    free(kind);
    if (foreign)
        return sn_error_set(SN_ERR_FORMAT, "%s: not a shiftnas training checkpoint", path);
    int64_t version;
    SN_TRY(sn_checkpoint_read_int64(r, "format_version", &version));
    if (version > SN_CHECKPOINT_FORMAT_VERSION || version < 1)
        return sn_error_set(SN_ERR_FORMAT,
                            "%s: checkpoint format version %lld; this shiftnas reads version %d",
                            path, (long long)version, SN_CHECKPOINT_FORMAT_VERSION);
    SN_TRY(check_config(r, s->config));
    char *strategy = NULL;
    SN_TRY(sn_checkpoint_read_text(r, "strategy", &strategy));
    const char *ours = s->training ? sn_strategy_name(s->training->strategy) : "none";
    int other = strcmp(strategy, ours) != 0;
    if (other)
        sn_error_set(SN_ERR_FORMAT, "%s: a checkpoint of strategy %s, this run trains %s", path,
                     strategy, ours);
    free(strategy);
    if (other)
        return SN_ERR_FORMAT;
    SN_TRY(check_counter(r, "total_steps", s->total_steps));
    SN_TRY(check_counter(r, "steps_per_epoch", s->steps_per_epoch));
    int64_t step, epoch, position, value;
    SN_TRY(sn_checkpoint_read_int64(r, "step", &step));
    SN_TRY(sn_checkpoint_read_int64(r, "epoch", &epoch));
    SN_TRY(sn_checkpoint_read_int64(r, "data_position", &position));
    if (step < 1 || step > s->total_steps || epoch != step / s->steps_per_epoch ||
        position != step % s->steps_per_epoch)
        return sn_error_set(SN_ERR_FORMAT,
                            "%s: inconsistent position: step %lld, epoch %lld, position %lld "
                            "(%lld steps of %lld per epoch)",
                            path, (long long)step, (long long)epoch, (long long)position,
                            (long long)s->total_steps, (long long)s->steps_per_epoch);
    SN_TRY(sn_checkpoint_read_int64(r, "complete", &value));
    *complete = value != 0;
    SN_TRY(sn_checkpoint_read_int64(r, "images", &s->images));
    SN_TRY(check_data(r, s));

    const char *group = s->training ? "supernet" : "network";
    SN_TRY(read_table(r, group, sn_network_parameter_table(s->network),
                      sn_network_parameters(s->network)));
    SN_TRY(read_optimizer(r, "optimizer", s->optimizer));
    int64_t statistics = 0;
    float *running = sn_network_running_statistics(s->network, &statistics);
    if (statistics > 0) {
        SN_TRY(read_vector(r, "batchnorm/running_statistics", SN_CHECKPOINT_FLOAT32, statistics,
                           running));
        SN_TRY(check_finite(r, "batchnorm/running_statistics", running, (size_t)statistics));
    }
    sn_supernet_training *t = s->training;
    if (t && t->have_generator) {
        SN_TRY(read_table(r, "generator", &t->generator.table, t->generator.params));
        SN_TRY(read_optimizer(r, "generator_optimizer", &t->generator_optimizer));
    }
    if (t && t->have_shift)
        SN_TRY(sn_training_checkpoint_read_shift(r, &t->shift));
    if (t && t->snapshot)
        SN_TRY(read_table(r, "shift_snapshot", sn_network_parameter_table(s->network),
                          t->snapshot));
    if (t) {
        SN_TRY(read_scalar_int64(r, "training/updates", &t->updates));
        SN_TRY(read_scalar_double(r, "training/update_seconds", &t->update_seconds));
        SN_TRY(read_vector(r, "training/validation_loss", SN_CHECKPOINT_FLOAT64, SN_BUCKETS_MAX,
                           t->validation_loss));
    }
    SN_TRY(read_scalar_double(r, "progress/epoch_loss", &s->epoch_loss));
    SN_TRY(read_scalar_int64(r, "progress/epoch_steps", &s->epoch_steps));
    /* absent when the run wrote no training rows before ([run]
     * metrics_interval_steps may change on resume): the next row's mean
     * then starts here */
    s->interval_loss = 0;
    s->interval_steps = 0;
    if (sn_checkpoint_has(r, "progress/interval_steps")) {
        SN_TRY(read_scalar_double(r, "progress/interval_loss", &s->interval_loss));
        SN_TRY(read_scalar_int64(r, "progress/interval_steps", &s->interval_steps));
    }
    SN_TRY(read_scalar_double(r, "progress/train_seconds", &s->train_seconds));
    /* absent from checkpoints written before it: their step time is the
     * closest figure they hold */
    s->run_seconds = s->train_seconds;
    if (sn_checkpoint_has(r, "progress/run_seconds"))
        SN_TRY(read_scalar_double(r, "progress/run_seconds", &s->run_seconds));
    double evaluation[4];
    SN_TRY(read_vector(r, "progress/evaluation", SN_CHECKPOINT_FLOAT64, 4, evaluation));
    s->validation_loss = evaluation[0];
    s->validation_accuracy = evaluation[1];
    s->test_loss = evaluation[2];
    s->test_accuracy = evaluation[3];
    if (s->epoch_steps < 0 || s->epoch_steps > s->steps_per_epoch || s->images < 0 ||
        s->interval_steps < 0 || s->interval_steps > step)
        return sn_error_set(SN_ERR_FORMAT, "%s: progress counters out of range", path);
    s->steps_done = step;
    return SN_OK;
}

static int sn_training_checkpoint_read_unlocked(sn_training_state *state, const char *path, int *complete)
{
    sn_checkpoint_reader *r = NULL;
    SN_TRY(sn_checkpoint_open(&r, path));
    int status = read_contents(r, state, complete);
    sn_checkpoint_close(r);
    return status;
}

/* Writes bytes to path through path.tmp and a rename: a kill leaves the
 * old file or the new one, never half of one. */
static int replace_file(const char *path, const unsigned char *bytes, int64_t size)
{
    char temporary[1200];
    snprintf(temporary, sizeof temporary, "%s.tmp", path);
    FILE *f = fopen(temporary, "wb");
    if (!f)
        return sn_error_set(SN_ERR_IO, "%s: cannot create: %s", temporary, strerror(errno));
    int ok = (size == 0 || fwrite(bytes, 1, (size_t)size, f) == (size_t)size) && fflush(f) == 0 &&
             fsync(fileno(f)) == 0;
    int error = errno;
    if (fclose(f) != 0)
        ok = 0;
    if (!ok || rename(temporary, path) != 0) {
        if (ok)
            error = errno;
        remove(temporary);
        return sn_error_set(SN_ERR_IO, "%s: cannot write: %s", path, strerror(error));
    }
    return SN_OK;
}

static int restore_file(sn_checkpoint_reader *r, const char *name, const char *destination)
{
    sn_checkpoint_type type;
    int rank;
    int64_t dims[SN_CHECKPOINT_RANK_MAX];
    SN_TRY(sn_checkpoint_array_shape(r, name, &type, &rank, dims));
    if (type != SN_CHECKPOINT_UINT8 || rank != 1)
        return sn_error_set(SN_ERR_FORMAT, "%s: dataset '%s' is not a byte array",
                            sn_checkpoint_reader_path(r), name);
    unsigned char *bytes = malloc((size_t)dims[0] + 1);
    if (!bytes)
        return sn_error_set(SN_ERR_NOMEM, "%s: cannot hold '%s'", sn_checkpoint_reader_path(r),
                            name);
    int status = sn_checkpoint_read_array(r, name, SN_CHECKPOINT_UINT8, 1, dims, bytes);
    if (status == SN_OK)
        status = replace_file(destination, bytes, dims[0]);
    free(bytes);
    return status;
}

static int sn_training_checkpoint_restore_run_files_unlocked(const char *path, const char *run_dir)
{
    sn_checkpoint_reader *r = NULL;
    SN_TRY(sn_checkpoint_open(&r, path));
    char destination[1100];
    int status = SN_OK;
    if (sn_checkpoint_has(r, "run_files/log.h5")) {
        snprintf(destination, sizeof destination, "%s/log.h5", run_dir);
        status = restore_file(r, "run_files/log.h5", destination);
    }
    if (status == SN_OK) {
        snprintf(destination, sizeof destination, "%s/metrics.csv", run_dir);
        status = restore_file(r, "run_files/metrics.csv", destination);
    }
    sn_checkpoint_close(r);
    return status;
}

/* ---- the public entries hold the HDF5 lock (src/io/hdf5_lock.h) ---- */

int sn_training_checkpoint_write(const sn_training_state *state, const char *run_dir, int ranks,
                                 int complete, sn_run_log *log, const char *metrics_path,
                                 int64_t *bytes)
{
    sn_hdf5_lock();
    int status = sn_training_checkpoint_write_unlocked(state, run_dir, ranks, complete, log, metrics_path, bytes);
    sn_hdf5_unlock();
    return status;
}

int sn_training_checkpoint_read(sn_training_state *state, const char *path, int *complete)
{
    sn_hdf5_lock();
    int status = sn_training_checkpoint_read_unlocked(state, path, complete);
    sn_hdf5_unlock();
    return status;
}

int sn_training_checkpoint_restore_run_files(const char *path, const char *run_dir)
{
    sn_hdf5_lock();
    int status = sn_training_checkpoint_restore_run_files_unlocked(path, run_dir);
    sn_hdf5_unlock();
    return status;
}
