/*
 * shiftnas/config.h — the run configuration (INI, parsed with libinih).
 *
 * The configuration is data: one table of keys (section, name, type, default,
 * range, description) drives parsing, `--set section.key=value` overrides,
 * validation, the fully resolved file written into every run directory, and
 * the key reference in doc/configuration.md. An unknown section or key, a
 * malformed value or a value outside its range is an error whose message
 * names the file, the line and the key.
 *
 * Sections: [run] [data] [model] [cnn] [vit] [space] [train] [search]
 * [distributed] [checkpoint]. Adding a key is one field below plus one row
 * of the table in src/io/config.c, and, for a key a network, space or search
 * part reads, one line in src/train/settings.c: those parts take settings
 * structs of their own and never see this one (shiftnas/settings.h).
 */
#ifndef SHIFTNAS_CONFIG_H
#define SHIFTNAS_CONFIG_H

#include "shiftnas/api.h"

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#ifdef __cplusplus
extern "C" {
#endif

enum { SN_CONFIG_LIST_MAX = 16, SN_CONFIG_TEXT_MAX = 512 };

/* Input caps, checked before anything is read or copied: a configuration
 * file of at most SN_CONFIG_FILE_MAX bytes (checked on its size when it is
 * a regular file, while reading otherwise, e.g. a pipe), lines and --set
 * items of at most SN_CONFIG_LINE_MAX characters, at most SN_CONFIG_SET_MAX
 * --set items on one command line. */
enum {
    SN_CONFIG_FILE_MAX = 1 << 20,
    SN_CONFIG_LINE_MAX = 2 * SN_CONFIG_TEXT_MAX,
    SN_CONFIG_SET_MAX = 256
};

typedef struct {
    int count;
    int64_t values[SN_CONFIG_LIST_MAX];
} sn_int_list;

typedef struct {
    int count;
    double values[SN_CONFIG_LIST_MAX];
} sn_float_list;

typedef struct {
    /* [run] */
    int64_t seed;
    int64_t threads;              /* BLIS threads per process */
    double progress_seconds;      /* seconds between progress lines in a log (not a terminal) */
    int64_t metrics_interval_steps; /* a training row in metrics.csv every N steps (0 = none) */

    /* [data] */
    char dataset[SN_CONFIG_TEXT_MAX];   /* "fashion-mnist" (IDX directory) or "hdf5" */
    char path[SN_CONFIG_TEXT_MAX];      /* IDX directory or HDF5 file */
    int64_t data_classes;         /* classes the labels are checked against (0 = the set's) */
    int64_t validation_size;      /* held out from the training set */
    int64_t train_limit;          /* use only the first N training images (0 = all) */
    int64_t test_limit;           /* evaluate only the first N test images (0 = all) */
    int64_t crop_padding;         /* random crop after zero padding (0 = off) */
    int horizontal_flip;
    char stream[SN_CONFIG_TEXT_MAX];     /* "auto", "on", "off": HDF5 images read per batch */
    int prefetch;                 /* assemble batch t+1 on a thread while t trains */
    int64_t input_size;           /* the model's input side (0 = the stored size) */
    char train_crop[SN_CONFIG_TEXT_MAX]; /* "pad" or "random-resized" */
    sn_float_list crop_scale;     /* random-resized: area fraction range (2 values) */
    sn_float_list crop_ratio;     /* random-resized: aspect ratio range (2 values) */
    double eval_crop_fraction;    /* evaluation: centre crop fraction (1 = whole image) */
    char normalization[SN_CONFIG_TEXT_MAX]; /* "computed" or "fixed" */
    sn_float_list mean, std;      /* fixed normalisation per channel, in [0,1] pixel units */

    /* [model] */
    char model_type[SN_CONFIG_TEXT_MAX]; /* "cnn", "vit" or "supernet" (of [space]) */

    /* [cnn] a plain network: conv-bn-activation blocks, global pooling, linear */
    sn_int_list cnn_channels;     /* output channels of each block */
    sn_int_list cnn_strides;      /* stride of each block (same length) */
    int64_t cnn_kernel;
    char cnn_activation[SN_CONFIG_TEXT_MAX]; /* "relu" or "hardswish" */

    /* [vit] */
    int64_t vit_patch;
    int64_t vit_embed_dim;
    int64_t vit_depth;
    int64_t vit_heads;
    int64_t vit_mlp_hidden;
    double vit_dropout;
    double vit_drop_path;

    /* [space] the search space (shiftnas/space.h); image size, channels and
     * classes 0 = from the data set */
    char space_type[SN_CONFIG_TEXT_MAX]; /* "cnn" or "vit" */
    int64_t space_image_size, space_image_channels, space_classes;
    int64_t space_stem_channels, space_stem_stride, space_stem_kernel;
    sn_int_list space_stage_channels;  /* largest width of each stage */
    sn_int_list space_stage_strides;
    sn_float_list space_width_ratios;
    sn_int_list space_depths;          /* cnn: blocks per stage; vit: layers */
    sn_int_list space_kernels;
    sn_float_list space_expand_ratios;
    int64_t space_patch, space_head_dim;
    sn_int_list space_embeds;
    sn_int_list space_heads;
    sn_float_list space_mlp_ratios;

    /* [train] */
    int64_t epochs;
    int64_t max_steps;            /* stop after this many steps (0 = epochs decide) */
    int64_t batch_size;
    int64_t eval_batch_size;
    char optimizer[SN_CONFIG_TEXT_MAX];  /* "sgd" or "adamw" */
    double learning_rate;
    double min_learning_rate;
    double warmup_epochs;
    double momentum;
    int nesterov;
    double beta1, beta2, epsilon;
    double weight_decay;
    double label_smoothing;
    double clip_norm;             /* 0 = off */
    double clip_value;            /* 0 = off */
    double bn_momentum;

    /* [search] how the supernet is trained (sampling strategy, probability
     * shift, architecture generator) and how subnets are searched */
    char search_strategy[SN_CONFIG_TEXT_MAX]; /* uniform|flops-uniform|sandwich|attentive|shift|fixed */
    char search_subnet[SN_CONFIG_TEXT_MAX];   /* fixed: the one subnet trained (architecture text) */
    int64_t search_buckets;          /* K equal-width MACs buckets */
    int64_t search_bucket_step;      /* MACs per bucket instead (0 = use buckets) */
    int64_t search_max_tries;        /* rejection draws of an in-bucket sample */
    int64_t search_sandwich_random;  /* sandwich: random subnets besides largest and smallest */
    int64_t search_attentive_candidates;
    char search_attentive_mode[SN_CONFIG_TEXT_MAX]; /* best|worst */
    char shift_statistic[SN_CONFIG_TEXT_MAX];       /* loss-change|variance */
    char shift_estimator[SN_CONFIG_TEXT_MAX];       /* expectation|gumbel|target-input */
    int64_t shift_interval;          /* U */
    double shift_warmup;             /* share of the steps before the first update */
    double shift_learning_rate;
    int64_t shift_validation_images; /* held-out images per bucket evaluation */
    double shift_gumbel_temperature;
    double shift_variance_temperature;
    int shift_frozen;                /* the control arm: updates run, beta stays uniform */
    double generator_lambda;         /* weight of L_RC */
    double generator_learning_rate;
    int64_t generator_hidden, generator_embedding;
    double generator_temperature_start, generator_temperature_end;
    int64_t generator_extra_targets; /* L_RC-only targets per step */
    int64_t generator_task_interval; /* masked (task-gradient) step every n steps */
    int64_t evolution_population, evolution_evaluations, evolution_parents;
    double evolution_mutation_probability, evolution_crossover_share;
    int64_t evolution_validation_images; /* fitness images (0 = the whole validation split) */
    int64_t recalibration_batches;       /* BN recalibration batches before a CNN subnet's evaluation */
    int64_t evolution_recalibration_batches; /* ... before a candidate's fitness */

    /* [distributed] */
    int64_t distributed_shards;          /* logical shards of a batch */
    char distributed_reduce[SN_CONFIG_TEXT_MAX]; /* active|slab */
    int64_t distributed_bucket_entries;  /* gradient entries per all-reduce message */
    int64_t distributed_check_interval;  /* steps between cross-rank state checks (0 = off) */

    /* [checkpoint] */
    int64_t checkpoint_interval_steps;   /* steps between checkpoints (0 = off) */
    double checkpoint_interval_seconds;  /* seconds between checkpoints (0 = off) */
    int64_t checkpoint_keep;             /* complete checkpoints kept */
    double checkpoint_stop_after_seconds; /* wall-clock budget: checkpoint and stop (0 = off) */
} sn_config;

typedef enum {
    SN_CONFIG_INT,
    SN_CONFIG_FLOAT,
    SN_CONFIG_BOOL,
    SN_CONFIG_TEXT,
    SN_CONFIG_CHOICE,   /* text restricted to `choices` ("sgd|adamw") */
    SN_CONFIG_INT_LIST,   /* comma-separated integers */
    SN_CONFIG_FLOAT_LIST  /* comma-separated numbers */
} sn_config_type;

typedef struct {
    const char *section;
    const char *name;
    sn_config_type type;
    size_t offset;              /* of the field in sn_config */
    const char *default_value;  /* as written in an INI file */
    double minimum, maximum;    /* numbers and list elements */
    const char *choices;        /* SN_CONFIG_CHOICE only */
    const char *description;
} sn_config_key;

/* The key table, in the order keys are documented and written. */
SN_API const sn_config_key *sn_config_keys(int *count);

SN_API void sn_config_defaults(sn_config *config);
/* Reads an INI file over the current values (defaults first, then the file).
 * A key given twice takes its last value. On failure (SN_ERR_IO: cannot
 * open or read; SN_ERR_CONFIG: a directory, a file over SN_CONFIG_FILE_MAX
 * bytes, a line over SN_CONFIG_LINE_MAX characters, a NUL byte, anything
 * else in the file) the configuration is unchanged. Messages show the
 * file's text escaped (sn_format_user_text): one line each. */
SN_API int sn_config_load_file(sn_config *config, const char *path);
/* Applies one "section.key=value" override (blanks around each part are
 * ignored; at most SN_CONFIG_LINE_MAX characters); on failure the
 * configuration is unchanged. */
SN_API int sn_config_set(sn_config *config, const char *assignment);
/* Checks every field against its key's range, then relations between keys
 * (list lengths agree, min_learning_rate <= learning_rate, ...; [cnn],
 * [vit] and [space] relations only for the selected model type). Checks that need the
 * data set's shape are made when src/train makes the network's settings and
 * builds it (sn_network_settings_from_config, sn_network_create). */
SN_API int sn_config_validate(const sn_config *config);
/* The same from text held in memory; `name` stands for the file in messages
 * ("RUN/checkpoints/step-000000500.h5 (config)"). */
SN_API int sn_config_load_text(sn_config *config, const char *text, const char *name);
/* 1 if the key can change between a run and its resume without changing a
 * trained bit (where the data is, how often progress and checkpoints are
 * written, how the all-reduce is packed); see doc/checkpoint.md. */
SN_API int sn_config_key_result_neutral(const sn_config_key *key);
/* The first key (in table order) whose value differs between a and b,
 * ignoring result-neutral keys when skip_neutral; NULL if none. */
SN_API const sn_config_key *sn_config_first_difference(const sn_config *a, const sn_config *b,
                                                       int skip_neutral);
/* The value of `key` in `config` as an INI file would hold it. */
SN_API int sn_config_format_value(const sn_config *config, const sn_config_key *key, char *buffer,
                                  size_t size);
/* Writes every key with its resolved value, as a loadable INI file. */
SN_API int sn_config_write(const sn_config *config, FILE *out);
/* The same text in memory (*text malloc'd, NUL-terminated; the caller frees
 * it): what model files, checkpoints, exports and report.md store. *text is
 * NULL on failure. */
SN_API int sn_config_text(const sn_config *config, char **text);
/* Writes the key reference (Markdown table per section) for doc/. */
SN_API int sn_config_write_reference(FILE *out);

#ifdef __cplusplus
}
#endif
#endif
