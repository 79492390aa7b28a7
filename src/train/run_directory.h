/*
 * A training run's directory (RUN_DIR): creating it, its config.ini, the
 * checkpoint a resume starts from, metrics.csv and log.h5 for the steps to
 * come, and model.h5. Rank 0 only; internal to src/train. The layout is in
 * shiftnas/train.h and doc/run-files.md.
 */
#ifndef SHIFTNAS_TRAIN_RUN_DIRECTORY_H
#define SHIFTNAS_TRAIN_RUN_DIRECTORY_H

#include <stddef.h>
#include <stdint.h>

#include "shiftnas/config.h"
#include "shiftnas/network.h"
#include "shiftnas/runfiles.h"
#include "shiftnas/train.h"

#include "supernet_training.h"

/* Creates the run directory (and its parents); refuses one that already
 * holds a run, so that nothing a user has is overwritten. The caller holds
 * the directory's lock (shiftnas/run_lock.h): no second writer can slip in
 * between this check and the run's first file. */
int sn_run_directory_prepare(const char *run_dir);

/* RUN_DIR/config.ini through a temporary and a rename: a resume reads it,
 * so a kill must never leave half of it. */
int sn_run_directory_write_config(const sn_config *config, const char *run_dir);

/* A resumed run: removes what a killed writer left and finds the
 * checkpoint to start from (path empty and *found = 0 when there is none
 * yet): the one `latest` names, checked (header, size, CRC). When `latest`
 * is malformed or names a missing or damaged file, the newest intact
 * checkpoint instead, and `note` says so in one line ("" otherwise);
 * strict refuses with the damage instead, as does a run with no intact
 * checkpoint left. */
int sn_run_directory_find_checkpoint(const char *run_dir, int strict, char *path, size_t size,
                                     int *found, char *note, size_t note_size);

/* metrics.csv and, for a supernet (training not NULL), log.h5 for the
 * steps to come. A resumed run gets them back as they were at its
 * checkpoint (rows written after it are dropped: they will be written
 * again, the same); a run without a checkpoint starts them afresh. */
int sn_run_directory_open_files(const char *run_dir, const char *checkpoint_path, int found,
                                int resume, const sn_config *config,
                                const sn_supernet_training *training, sn_metrics *metrics,
                                sn_run_log **run_log);

/* RUN_DIR/model.h5 after `steps` steps, with the resolved configuration (so
 * search and eval need nothing else): a supernet's weights (part
 * "supernet") and, for shift, the generator's; a fixed network's weights
 * (part "network", as in its checkpoints) when training is NULL. */
int sn_run_directory_write_model(const sn_config *config, const char *run_dir, int64_t steps,
                                 sn_network *network, const sn_supernet_training *training);

/* 1 when RUN_DIR/model.h5 exists and holds the weights after `steps`
 * steps (its step attribute): a finished run whose model.h5 failed to be
 * written is not current. Sets no message. */
int sn_run_directory_model_is_current(const char *run_dir, int64_t steps);

#endif
