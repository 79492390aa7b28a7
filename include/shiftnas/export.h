/*
 * shiftnas/export.h — a searched subnet leaves shiftnas: one HDF5 file with
 * its weights alone, named per layer, and attributes that say how to rebuild
 * it (doc/export.md gives the layout; doc/export_torch.py rebuilds it in
 * PyTorch).
 *
 * Two layers:
 *   sn_export_file     an HDF5 file of float32 tensors at '/'-separated paths
 *                      ("stage0/block1/expand/weight") with scalar and array
 *                      attributes on any group; written to "<path>.tmp" and
 *                      renamed over path on commit, so a failure never
 *                      leaves half a file under the name. Also used for
 *                      `shiftnas eval --logits`.
 *   sn_trained_run_export_subnet
 *                      a subnet of a trained supernet run, with its batch-norm
 *                      statistics recalibrated exactly as `shiftnas eval`
 *                      recalibrates them, so both compute the same logits.
 *
 *     sn_trained_run run;
 *     SN_TRY(sn_trained_run_open(&run, "runs/shift", NULL, 0));
 *     sn_arch arch;
 *     SN_TRY(sn_arch_parse(run.space, "cnn:d=1,2,2;w=12,30,48;k=...;e=...", &arch));
 *     SN_TRY(sn_trained_run_export_subnet(&run, &arch, "subnet.h5"));
 */
#ifndef SHIFTNAS_EXPORT_H
#define SHIFTNAS_EXPORT_H

#include "shiftnas/api.h"

#include <stdint.h>

#include "shiftnas/space.h"
#include "shiftnas/train.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The root attributes "format" and "version" of a subnet file. */
#define SN_SUBNET_FORMAT "shiftnas-subnet"
#define SN_SUBNET_VERSION 1
/* ... and of a logits file. */
#define SN_LOGITS_FORMAT "shiftnas-logits"
#define SN_LOGITS_VERSION 1

/* ---- an HDF5 file of named tensors ----------------------------------------- */

typedef struct sn_export_file sn_export_file;

/* Whether a file can be created at path (its directory exists and is
 * writable; path is not a directory): a command checks its output this way
 * before the long work. SN_ERR_IO naming path and the reason. */
SN_API int sn_export_path_check(const char *path);
/* Creates "<path>.tmp" (truncating a stale one) with root attributes format
 * and version. SN_ERR_IO naming path if it cannot be created (a missing or
 * read-only directory). */
SN_API int sn_export_file_create(sn_export_file **file, const char *path, const char *format,
                                 int version);
/* A float32 dataset (1 to 4 dims, C order); the groups on its path are made
 * as needed. A name given twice is SN_ERR_ARGUMENT. */
SN_API int sn_export_file_tensor(sn_export_file *file, const char *name, int ndim,
                                 const int64_t *shape,
                                 const float *values);
/* A 1-D int32 dataset (labels). */
SN_API int sn_export_file_int32s(sn_export_file *file, const char *name, int64_t count,
                                 const int32_t *values);
/* Attributes of `group` ("" = the root; made as needed): int64, float64,
 * a variable-length UTF-8 string, and 1-D float32 / int64 arrays. */
SN_API int sn_export_file_integer(sn_export_file *file, const char *group, const char *name,
                                  int64_t value);
SN_API int sn_export_file_real(sn_export_file *file, const char *group, const char *name,
                               double value);
SN_API int sn_export_file_text(sn_export_file *file, const char *group, const char *name,
                               const char *value);
SN_API int sn_export_file_floats(sn_export_file *file, const char *group, const char *name,
                                 const float *values, int count);
SN_API int sn_export_file_integers(sn_export_file *file, const char *group, const char *name,
                                   const int64_t *values, int count);
/* Closes the file; commit = 1 syncs it and renames it over path (returns
 * the first failure of the file's life, naming path), commit = 0 removes it
 * (after an error elsewhere). Frees the handle either way; NULL is fine. */
SN_API int sn_export_file_close(sn_export_file *file, int commit);

/* ---- a subnet of a trained run ------------------------------------------- */

/* Sets `arch` on the run's supernet, recalibrates its batch norms as
 * sn_evaluate_subnet does (CNN spaces), and writes the subnet alone to path:
 * its tensors (sn_network_visit_subnet), the architecture text, MACs and
 * parameters, the input (channels, height, width, classes), the evaluation
 * pipeline (per-channel mean and std, input_size, eval_crop_fraction) and
 * where the run's test set is (dataset, path, test_limit). */
SN_API int sn_trained_run_export_subnet(sn_trained_run *run, const sn_arch *arch, const char *path);

/* Writes the logits [count, classes] and labels [count] of `count` images
 * (datasets "logits" and "labels"; `shiftnas eval --logits`) with the
 * subnet's text as attribute "arch". */
SN_API int sn_logits_file_write(const char *path, const char *arch_text, const float *logits,
                                const int32_t *labels, int64_t count, int classes);

#ifdef __cplusplus
}
#endif
#endif
