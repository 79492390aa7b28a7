/*
 * Opening a trained supernet run for `shiftnas search` and `shiftnas eval`:
 * the run's own configuration, the same data split and normalisation as in
 * training (both are functions of the seed and the data), the supernet's
 * weights and, for shift, the generator's.
 */
#include "shiftnas/train.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "shiftnas/error.h"
#include "shiftnas/format.h"
#include "shiftnas/network.h"
#include "shiftnas/runfiles.h"

void sn_trained_run_close(sn_trained_run *run)
{
    sn_free(run->evaluator.images);
    sn_free(run->evaluator.probs);
    sn_free(run->evaluator.labels);
    sn_free(run->test_indices);
    if (run->have_generator)
        sn_generator_free(&run->generator);
    sn_network_free(run->network);
    sn_split_free(&run->split);
    sn_run_data_close(&run->data);
    memset(run, 0, sizeof *run);
}

/* RUN_DIR must be the directory `shiftnas train` wrote; a file given in its
 * place (its model.h5, a checkpoint) is named as such, not as missing. */
static int check_run_directory(const char *run_dir)
{
    struct stat st;
    if (stat(run_dir, &st) != 0)
        return sn_error_set(SN_ERR_IO, "%s: not a run directory (%s)", run_dir, strerror(errno));
    if (!S_ISDIR(st.st_mode))
        return sn_error_set(SN_ERR_IO,
                            "%s: is a file, not a run directory: give the directory that "
                            "`shiftnas train --out` wrote (it holds config.ini and model.h5)",
                            run_dir);
    return SN_OK;
}

/* The keys that make the trained files what they are: the network's family
 * and search space (the shapes in model.h5), the strategy and the
 * generator's size (whether and how the generator is stored). */
static int defines_trained_model(const sn_config_key *key)
{
    return strcmp(key->section, "model") == 0 || strcmp(key->section, "space") == 0 ||
           (strcmp(key->section, "search") == 0 &&
            (strcmp(key->name, "strategy") == 0 || strcmp(key->name, "generator_hidden") == 0 ||
             strcmp(key->name, "generator_embedding") == 0));
}

/* An override may change how the trained supernet is searched or evaluated,
 * never what was trained: model.h5 would not fit, and its error would blame
 * the file instead of the override. */
static int check_override(const sn_config *trained, const sn_config *now, const char *assignment,
                          const char *config_path)
{
    int count;
    const sn_config_key *keys = sn_config_keys(&count);
    for (int k = 0; k < count; k++) {
        char was[1024], is[1024];
        if (!defines_trained_model(&keys[k]) ||
            sn_config_format_value(trained, &keys[k], was, sizeof was) != SN_OK ||
            sn_config_format_value(now, &keys[k], is, sizeof is) != SN_OK || strcmp(was, is) == 0)
            continue;
        char shown_assignment[4 * 60 + 4], shown_was[4 * 60 + 4];
        return sn_error_set(SN_ERR_CONFIG,
                            "--set '%s': [%s] %s is fixed by training (%s has %s = %s, the "
                            "supernet in model.h5 was trained with it); search, eval and "
                            "export cannot change it",
                            sn_format_user_text(shown_assignment, sizeof shown_assignment,
                                                assignment, 60),
                            keys[k].section, keys[k].name, config_path, keys[k].name,
                            sn_format_user_text(shown_was, sizeof shown_was, was, 60));
    }
    return SN_OK;
}

static int open_files(sn_trained_run *run, const char *run_dir, const char *const *overrides,
                      int override_count, char *model_path, size_t model_size)
{
    char config_path[1100];
    struct stat st;
    snprintf(config_path, sizeof config_path, "%s/config.ini", run_dir);
    snprintf(model_path, model_size, "%s/model.h5", run_dir);
    SN_TRY(check_run_directory(run_dir));
    if (stat(model_path, &st) != 0)
        return sn_error_set(SN_ERR_IO, "%s: no trained model (%s); train a supernet into %s first",
                            model_path, strerror(errno), run_dir);
    sn_config_defaults(&run->config);
    SN_TRY(sn_config_load_file(&run->config, config_path));
    sn_config trained = run->config;
    for (int i = 0; i < override_count; i++) {
        SN_TRY(sn_config_set(&run->config, overrides[i]));
        SN_TRY(check_override(&trained, &run->config, overrides[i], config_path));
    }
    SN_TRY(sn_config_validate(&run->config));
    if (strcmp(run->config.model_type, "supernet") != 0)
        return sn_error_set(SN_ERR_CONFIG,
                            "%s: [model] type = %s; search, eval and export need a supernet run",
                            config_path, run->config.model_type);
    return sn_strategy_parse(run->config.search_strategy, &run->strategy);
}

int sn_trained_run_open(sn_trained_run *run, const char *run_dir, const char *const *overrides,
                        int override_count)
{
    memset(run, 0, sizeof *run);
    char model_path[1100];
    int status = open_files(run, run_dir, overrides, override_count, model_path,
                            sizeof model_path);
    if (status != SN_OK)
        return status;
    const sn_config *config = &run->config;
    if ((status = sn_blas_setup_for((int)config->threads, sn_train_blas_products(config))) != SN_OK ||
        (status = sn_run_data_open(&run->data, config)) != SN_OK)
        goto fail;
    sn_run_data *data = &run->data;
    if (config->validation_size >= data->train_count) {
        status = sn_error_set(SN_ERR_CONFIG, "[data] validation_size = %lld leaves no training images",
                              (long long)config->validation_size);
        goto fail;
    }
    if ((status = sn_split_make(data->train_count, config->validation_size,
                                (uint64_t)config->seed, &run->split)) != SN_OK ||
        (status = sn_run_data_normalize(data, config, run->split.train,
                                        run->split.train_count)) != SN_OK)
        goto fail;
    int64_t chunk = config->eval_batch_size;
    int64_t recalibration = config->batch_size < chunk ? config->batch_size : chunk;
    sn_network_settings network_settings;
    if ((status = sn_network_settings_from_config(&network_settings, config, &data->shape)) !=
            SN_OK ||
        (status = sn_network_create(&run->network, &network_settings, &data->shape, chunk)) != SN_OK)
        goto fail;
    run->space = sn_network_space(run->network);
    if (run->strategy == SN_STRATEGY_SHIFT) {
        sn_generator_settings settings;
        sn_generator_settings_from_config(&settings, config);
        if ((status = sn_generator_create(&run->generator, run->space, &settings,
                                          (uint64_t)config->seed)) != SN_OK)
            goto fail;
        run->have_generator = 1;
    }
    sn_model_part parts[2] = {
        {"supernet", sn_network_parameter_table(run->network), sn_network_parameters(run->network)},
        {"generator", &run->generator.table, run->generator.params},
    };
    if ((status = sn_model_file_read(model_path, parts, run->have_generator ? 2 : 1,
                                     &run->steps)) != SN_OK)
        goto fail;

    int64_t image_floats = (int64_t)data->shape.channels * data->shape.height * data->shape.width;
    sn_subnet_evaluator *e = &run->evaluator;
    *e = (sn_subnet_evaluator){run->network, data->train_main, run->split.train,
                               run->split.train_count, chunk, config->recalibration_batches,
                               recalibration, NULL, NULL, NULL};
    e->images = sn_alloc_floats((size_t)(chunk * image_floats));
    e->probs = sn_alloc_floats((size_t)(chunk * data->shape.classes));
    e->labels = sn_alloc_bytes((size_t)chunk * sizeof(int32_t));
    run->test_indices =
        sn_alloc_bytes((size_t)(data->test_count > 0 ? data->test_count : 1) * sizeof(uint32_t));
    if (!e->images || !e->probs || !e->labels || !run->test_indices) {
        status = sn_error_set(SN_ERR_NOMEM, "%s: out of memory for evaluation buffers", run_dir);
        goto fail;
    }
    for (int64_t i = 0; i < data->test_count; i++)
        run->test_indices[i] = (uint32_t)i;
    return SN_OK;
fail:
    sn_trained_run_close(run);
    return status;
}
