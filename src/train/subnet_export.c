/*
 * A subnet of a trained supernet run, exported alone (shiftnas/export.h,
 * doc/export.md): the subnet as `shiftnas eval` measures it — the same
 * architecture, batch norms recalibrated by the same code — walked by the
 * network (sn_network_visit_subnet) into an HDF5 file, with what a reader
 * needs besides the weights: the input shape, the evaluation pipeline and
 * where the run's test set is.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>

#include "shiftnas/error.h"
#include "shiftnas/export.h"
#include "shiftnas/network.h"

/* The visitor's callbacks write straight into the file; its handle keeps
 * the first failure, so they return its status. */
static int put_tensor(void *context, const char *name, int ndim, const int64_t *shape,
                      const float *values)
{
    return sn_export_file_tensor(context, name, ndim, shape, values);
}

static int put_integer(void *context, const char *group, const char *name, int64_t value)
{
    return sn_export_file_integer(context, group, name, value);
}

static int put_real(void *context, const char *group, const char *name, double value)
{
    return sn_export_file_real(context, group, name, value);
}

static int put_text(void *context, const char *group, const char *name, const char *value)
{
    return sn_export_file_text(context, group, name, value);
}

/* What the weights alone do not say: the subnet, the input and its
 * pipeline, the run and its test set. */
static void describe(sn_export_file *f, const sn_trained_run *run, const char *arch_text,
                     sn_cost cost, const char *config)
{
    const sn_run_data *data = &run->data;
    const sn_input_pipeline *pipeline = &data->pipeline;
    sn_export_file_text(f, "", "arch", arch_text);
    sn_export_file_integer(f, "", "macs", cost.macs);
    sn_export_file_integer(f, "", "parameters", cost.parameters);
    sn_export_file_integer(f, "", "input_channels", data->shape.channels);
    sn_export_file_integer(f, "", "input_height", data->shape.height);
    sn_export_file_integer(f, "", "input_width", data->shape.width);
    sn_export_file_integer(f, "", "classes", data->shape.classes);
    sn_export_file_floats(f, "", "mean", pipeline->normalization.mean,
                          pipeline->normalization.channels);
    sn_export_file_floats(f, "", "std", pipeline->normalization.std,
                          pipeline->normalization.channels);
    sn_export_file_integer(f, "", "input_size", pipeline->input_size);
    sn_export_file_real(f, "", "eval_crop_fraction", pipeline->eval_crop_fraction);
    sn_export_file_text(f, "", "dataset", run->config.dataset);
    sn_export_file_text(f, "", "data_path", run->config.path);
    sn_export_file_integer(f, "", "test_limit", run->config.test_limit);
    sn_export_file_integer(f, "", "test_images", data->test_count);
    sn_export_file_integer(f, "", "step", run->steps);
    sn_export_file_text(f, "", "strategy", sn_strategy_name(run->strategy));
    sn_export_file_text(f, "", "shiftnas_version", PACKAGE_VERSION);
    sn_export_file_text(f, "", "config", config);
}

int sn_trained_run_export_subnet(sn_trained_run *run, const sn_arch *arch, const char *path)
{
    sn_arch subnet = *arch;
    sn_arch_canonicalize(run->space, &subnet);
    char text[SN_ARCH_TEXT_MAX];
    SN_TRY(sn_arch_format(run->space, &subnet, text, sizeof text));
    char *config = NULL;
    SN_TRY(sn_config_text(&run->config, &config));
    /* The file first: an unwritable path fails before the recalibration's work. */
    sn_export_file *f = NULL;
    int status = sn_export_file_create(&f, path, SN_SUBNET_FORMAT, SN_SUBNET_VERSION);
    if (status == SN_OK)
        status = sn_subnet_evaluator_prepare(&run->evaluator, &subnet);
    if (status == SN_OK) {
        describe(f, run, text, sn_space_cost(run->space, &subnet), config);
        sn_subnet_visitor visitor = {f, put_tensor, put_integer, put_real, put_text};
        status = sn_network_visit_subnet(run->network, &visitor);
    }
    /* the file's own first failure, if any, comes back from close */
    int closed = sn_export_file_close(f, status == SN_OK);
    if (status == SN_OK)
        status = closed;
    free(config);
    return status;
}
