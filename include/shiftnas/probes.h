/*
 * shiftnas/probes.h — probe panels and probes.csv.
 *
 * A probe panel is a fixed list of subnets of one search space, evaluated
 * with inherited weights on every finished supernet (`shiftnas probe`), so
 * that strategies are compared on the same subnets at the same MACs instead
 * of on whatever each one's search returned (doc/probes.md).
 *
 * The panel file is text, one subnet per line in its canonical form (as
 * `shiftnas search` prints it); a line whose first non-blank character is
 * '#' is a comment, blank lines are ignored. Probe i is the i-th subnet line
 * of the file, counted from 0:
 *
 *     # shiftnas probe panel: ...
 *     cnn:d=1,1,1;w=12,20,32;k=3,3,3;e=2,2,2
 *     cnn:d=1,2,1;w=12,30,32;k=3,5,3,3;e=2,2,4,2
 *
 * sn_probe_panel_make draws a panel: per MACs bucket, `per_bucket` distinct
 * subnets by rejection sampling of uniform subnets. Draw i uses the stream
 * (seed, SN_RNG_PROBE_PANEL, 0, i), so a panel never coincides with the
 * subnets any training run samples, whatever its seed.
 *
 * probes.csv (RUN_DIR/probes.csv, written whole and atomically: a temporary
 * file, synced, renamed into place) holds a header and one row per probe:
 *
 *     probe,bucket,macs,params,subnet,test_loss,test_accuracy
 *     0,0,1163264,13210,"cnn:d=1,1,1;w=12,20,32;k=3,3,3;e=2,2,2",0.61234567,0.781200
 *
 * bucket is the run's bucket of the subnet's MACs ([search] buckets), -1
 * for none; probe is -1 for a row whose subnet is not on the panel (a
 * `strategy = fixed` run's own subnet).
 */
#ifndef SHIFTNAS_PROBES_H
#define SHIFTNAS_PROBES_H

#include <stdint.h>
#include <stdio.h>

#include "shiftnas/api.h"
#include "shiftnas/sampler.h"
#include "shiftnas/space.h"

#ifdef __cplusplus
extern "C" {
#endif

/* At most this many probes in one panel (a file of more is refused). */
enum { SN_PROBE_PANEL_MAX = 10000 };

typedef struct {
    int count;
    sn_arch *archs; /* [count], canonical */
    int *lines;     /* [count]: the file's line of each probe, from 1 (0 for a made panel) */
    int *buckets;   /* [count]: sn_probe_panel_make's bucket of each; NULL for a panel read */
} sn_probe_panel;

/* Reads the panel at `path` for `space`. Every line is checked: a subnet
 * line must be a canonical-form subnet of `space`, and no subnet may come
 * twice. Errors are one line naming PATH:LINE and the problem ("malformed",
 * "a vit subnet, but the space is cnn", "not in the space: ...", "duplicate of
 * line 3 (probe 0)"); a file without subnet lines is an error too. SN_ERR_IO
 * when the file cannot be read, SN_ERR_FORMAT for its content. */
SN_API int sn_probe_panel_read(sn_probe_panel *panel, const char *path, const sn_space *space);
SN_API void sn_probe_panel_free(sn_probe_panel *panel);

/* The probe number of `arch` in the panel (compared canonically), or -1. */
SN_API int sn_probe_panel_find(const sn_probe_panel *panel, const sn_space *space,
                               const sn_arch *arch);

/* What sn_probe_panel_make did, per bucket. */
typedef struct {
    int found[SN_BUCKETS_MAX]; /* distinct subnets kept (<= per_bucket) */
    int64_t draws;             /* uniform draws made in all */
} sn_probe_panel_report;

/* A panel of up to `per_bucket` distinct subnets per bucket of `buckets`,
 * ordered by bucket and, within one, by draw. Draws stop when every bucket
 * is full or after max_draws (a bucket that no subnet or too few distinct
 * subnets fall into keeps what it has; report->found says so). Draw i is
 * stream (seed, SN_RNG_PROBE_PANEL, 0, i); max_draws <= 2^32.
 * SN_ERR_ARGUMENT for per_bucket < 1 or a bad max_draws, SN_ERR_NOMEM. */
SN_API int sn_probe_panel_make(sn_probe_panel *panel, const sn_space *space,
                               const sn_buckets *buckets, int per_bucket, uint64_t seed,
                               int64_t max_draws, sn_probe_panel_report *report);

/* ---- probes.csv ----------------------------------------------------------- */

typedef struct {
    int probe;  /* the panel's number, or -1 */
    int bucket; /* or -1 */
    int64_t macs, params;
    char subnet[SN_ARCH_TEXT_MAX];
    double test_loss, test_accuracy;
} sn_probe_row;

/* The header line, without its newline. */
SN_API const char *sn_probe_table_header(void);

/* probes.csv is written whole: sn_probe_table_open creates "<path>.tmp" (so
 * that a directory which cannot take it fails before the evaluations, not
 * after them), sn_probe_table_commit writes the rows there, syncs and
 * renames it over path. */
typedef struct {
    FILE *file;
    char path[1100], temporary[1110];
} sn_probe_table;

/* Creates "<path>.tmp" for writing (an unwritable directory fails here). */
SN_API int sn_probe_table_open(sn_probe_table *table, const char *path);
/* Writes the rows, syncs, closes and renames the temporary over path. */
SN_API int sn_probe_table_commit(sn_probe_table *table, const sn_probe_row *rows, int count);
/* Closes and removes the temporary (nothing written to path). */
SN_API void sn_probe_table_discard(sn_probe_table *table);

#ifdef __cplusplus
}
#endif
#endif
