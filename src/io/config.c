/* The run configuration: one key table drives INI parsing (libinih), --set
 * overrides, range checks, validation, writing and the Markdown reference.
 *
 * Rules worth knowing (also in doc/configuration.md):
 *  - An unknown section or key is an error, so that a typo never silently
 *    leaves a default in place. A key outside any section is an error too.
 *  - A key given twice in one file takes its last value, as a later --set
 *    does over the file.
 *  - Leading whitespace on a line is ignored (indented keys are plain keys),
 *    so libinih's multi-line continuation values are not used.
 *  - A failed load or --set leaves the configuration as it was.
 */
#include "shiftnas/config.h"
#include "shiftnas/error.h"
#include "shiftnas/format.h"

#include <assert.h>
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <ini.h>
#include <math.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/types.h>

#define FIELD(name) offsetof(sn_config, name)

/* Every key, in the order it is documented and written. Ranges are
 * inclusive; for lists they bound each element. */
static const sn_config_key config_keys[] = {
    {"run", "seed", SN_CONFIG_INT, FIELD(seed), "1", 0, 281474976710655.0, NULL,
     "Root of every random stream (data order, augmentation, initialisation, sampling)."},
    {"run", "threads", SN_CONFIG_INT, FIELD(threads), "1", 1, 256, NULL,
     "BLIS threads per process."},
    {"run", "progress_seconds", SN_CONFIG_FLOAT, FIELD(progress_seconds), "10", 0.1, 3600, NULL,
     "Seconds between progress lines when the log is not a terminal."},
    {"run", "metrics_interval_steps", SN_CONFIG_INT, FIELD(metrics_interval_steps), "0", 0, 1e9,
     NULL,
     "Append a training row to metrics.csv every N steps (split train: the mean training loss "
     "over the steps since the last such row), for live curves; 0 = none."},

    {"data", "dataset", SN_CONFIG_CHOICE, FIELD(dataset), "fashion-mnist", 0, 0,
     "fashion-mnist|hdf5",
     "Data set format: an IDX directory (Fashion-MNIST layout) or one HDF5 file."},
    {"data", "path", SN_CONFIG_TEXT, FIELD(path), "/usr/share/datasets/fashion-mnist", 0, 0, NULL,
     "The IDX directory or the HDF5 file."},
    {"data", "classes", SN_CONFIG_INT, FIELD(data_classes), "0", 0, 16777216, NULL,
     "Classes of the classifier; every label must be below it (0 = the data set's: 10 for an "
     "IDX directory, an HDF5 set's classes attribute, else its largest label + 1)."},
    {"data", "validation_size", SN_CONFIG_INT, FIELD(validation_size), "5000", 0, 1e7, NULL,
     "Training images held out as the validation set."},
    {"data", "train_limit", SN_CONFIG_INT, FIELD(train_limit), "0", 0, 1e9, NULL,
     "Use only the first N training images (0 = all)."},
    {"data", "test_limit", SN_CONFIG_INT, FIELD(test_limit), "0", 0, 1e9, NULL,
     "Evaluate only the first N test images (0 = all)."},
    {"data", "crop_padding", SN_CONFIG_INT, FIELD(crop_padding), "0", 0, 16, NULL,
     "Random crop after zero padding by this many pixels per side (0 = off)."},
    {"data", "horizontal_flip", SN_CONFIG_BOOL, FIELD(horizontal_flip), "false", 0, 0, NULL,
     "Flip training images left-right at random."},
    {"data", "stream", SN_CONFIG_CHOICE, FIELD(stream), "auto", 0, 0, "auto|on|off",
     "hdf5: read each batch's images from the file instead of loading the set (auto: when "
     "the training images exceed 1 GiB). The same bits either way."},
    {"data", "prefetch", SN_CONFIG_BOOL, FIELD(prefetch), "true", 0, 0, NULL,
     "Read and transform the next training batch on a thread while this one trains. The "
     "same bits either way."},
    {"data", "input_size", SN_CONFIG_INT, FIELD(input_size), "0", 0, 4096, NULL,
     "The model's input side in pixels; 0 = the stored size. Another size needs train_crop = "
     "random-resized; evaluation resamples the centre crop."},
    {"data", "train_crop", SN_CONFIG_CHOICE, FIELD(train_crop), "pad", 0, 0, "pad|random-resized",
     "Training crop: pad (crop_padding, at the stored size) or random-resized (torchvision's "
     "RandomResizedCrop to input_size; doc/data.md)."},
    {"data", "crop_scale", SN_CONFIG_FLOAT_LIST, FIELD(crop_scale), "0.08,1", 0.001, 1, NULL,
     "random-resized: the range of the crop's area as a fraction of the image's (two values)."},
    {"data", "crop_ratio", SN_CONFIG_FLOAT_LIST, FIELD(crop_ratio), "0.75,1.333333", 0.01, 100,
     NULL, "random-resized: the range of the crop's width/height (two values, log-uniform)."},
    {"data", "eval_crop_fraction", SN_CONFIG_FLOAT, FIELD(eval_crop_fraction), "1", 0.01, 1, NULL,
     "Evaluation: the centre crop Resize(input_size / f) + CenterCrop(input_size) keeps "
     "(DeiT: 0.875); 1 = the whole image."},
    {"data", "normalization", SN_CONFIG_CHOICE, FIELD(normalization), "computed", 0, 0,
     "computed|fixed",
     "Per-channel mean and std: computed over the training split (one pass over it), or "
     "fixed ([data] mean and std)."},
    {"data", "mean", SN_CONFIG_FLOAT_LIST, FIELD(mean), "0.485,0.456,0.406", 0, 1, NULL,
     "normalization = fixed: per-channel mean of pixel / 255 (one value per channel)."},
    {"data", "std", SN_CONFIG_FLOAT_LIST, FIELD(std), "0.229,0.224,0.225", 0.001, 10, NULL,
     "normalization = fixed: per-channel standard deviation of pixel / 255."},

    {"model", "type", SN_CONFIG_CHOICE, FIELD(model_type), "cnn", 0, 0, "cnn|vit|supernet",
     "Network family: a plain CNN ([cnn]), a vision transformer ([vit]) or the supernet of "
     "a search space ([space])."},

    {"cnn", "channels", SN_CONFIG_INT_LIST, FIELD(cnn_channels), "32,64,128", 1, 4096, NULL,
     "Output channels of each conv-bn-activation block."},
    {"cnn", "strides", SN_CONFIG_INT_LIST, FIELD(cnn_strides), "1,2,2", 1, 4, NULL,
     "Stride of each block; as many entries as channels."},
    {"cnn", "kernel", SN_CONFIG_INT, FIELD(cnn_kernel), "3", 1, 11, NULL,
     "Convolution kernel size; must be odd."},
    {"cnn", "activation", SN_CONFIG_CHOICE, FIELD(cnn_activation), "relu", 0, 0, "relu|hardswish",
     "Activation after each batch norm."},

    {"vit", "patch", SN_CONFIG_INT, FIELD(vit_patch), "7", 1, 64, NULL,
     "Patch size in pixels; must divide the image size."},
    {"vit", "embed_dim", SN_CONFIG_INT, FIELD(vit_embed_dim), "64", 1, 4096, NULL,
     "Token width; must be divisible by heads."},
    {"vit", "depth", SN_CONFIG_INT, FIELD(vit_depth), "4", 1, 64, NULL,
     "Transformer blocks."},
    {"vit", "heads", SN_CONFIG_INT, FIELD(vit_heads), "4", 1, 64, NULL,
     "Attention heads per block."},
    {"vit", "mlp_hidden", SN_CONFIG_INT, FIELD(vit_mlp_hidden), "128", 1, 16384, NULL,
     "Hidden width of each block's MLP."},
    {"vit", "dropout", SN_CONFIG_FLOAT, FIELD(vit_dropout), "0", 0, 0.9, NULL,
     "Dropout probability during training (0 = off)."},
    {"vit", "drop_path", SN_CONFIG_FLOAT, FIELD(vit_drop_path), "0", 0, 0.9, NULL,
     "Probability of skipping a block's residual branch during training (0 = off)."},

    {"space", "type", SN_CONFIG_CHOICE, FIELD(space_type), "cnn", 0, 0, "cnn|vit",
     "Search space family: inverted-residual CNN stages or a vision transformer "
     "(doc/search-spaces.md)."},
    {"space", "image_size", SN_CONFIG_INT, FIELD(space_image_size), "0", 0, 4096, NULL,
     "Side of the square input images in pixels (0 = the data set's)."},
    {"space", "image_channels", SN_CONFIG_INT, FIELD(space_image_channels), "0", 0, 4, NULL,
     "Channels of the input images (0 = the data set's)."},
    {"space", "classes", SN_CONFIG_INT, FIELD(space_classes), "0", 0, 100000, NULL,
     "Classes of the classifier (0 = the data set's)."},
    {"space", "stem_channels", SN_CONFIG_INT, FIELD(space_stem_channels), "16", 1, 4096, NULL,
     "cnn: output channels of the stem convolution."},
    {"space", "stem_stride", SN_CONFIG_INT, FIELD(space_stem_stride), "1", 1, 4, NULL,
     "cnn: stride of the stem convolution."},
    {"space", "stem_kernel", SN_CONFIG_INT, FIELD(space_stem_kernel), "3", 1, 11, NULL,
     "cnn: kernel size of the stem convolution; must be odd."},
    {"space", "stage_channels", SN_CONFIG_INT_LIST, FIELD(space_stage_channels), "24,40,64", 1,
     4096, NULL, "cnn: largest output channels of each stage (at most 8 stages)."},
    {"space", "stage_strides", SN_CONFIG_INT_LIST, FIELD(space_stage_strides), "2,2,2", 1, 4,
     NULL, "cnn: stride of each stage's first block; as many entries as stage_channels."},
    {"space", "width_ratios", SN_CONFIG_FLOAT_LIST, FIELD(space_width_ratios), "0.5,0.75,1",
     0.01, 1, NULL,
     "cnn: width choices of every stage, as fractions of its stage_channels (rounded)."},
    {"space", "depths", SN_CONFIG_INT_LIST, FIELD(space_depths), "1,2,3", 1, 24, NULL,
     "Depth choices: blocks per stage (cnn, at most 8) or transformer layers (vit)."},
    {"space", "kernels", SN_CONFIG_INT_LIST, FIELD(space_kernels), "3,5", 1, 11, NULL,
     "cnn: depthwise kernel choices of every block; odd."},
    {"space", "expand_ratios", SN_CONFIG_FLOAT_LIST, FIELD(space_expand_ratios), "2,3,4", 0.1,
     16, NULL, "cnn: expansion ratio choices of every block (mid = ratio x input channels)."},
    {"space", "patch", SN_CONFIG_INT, FIELD(space_patch), "7", 1, 64, NULL,
     "vit: patch size in pixels; must divide the image size."},
    {"space", "head_dim", SN_CONFIG_INT, FIELD(space_head_dim), "16", 1, 1024, NULL,
     "vit: width of each attention head."},
    {"space", "embeds", SN_CONFIG_INT_LIST, FIELD(space_embeds), "48,64,80", 1, 8192, NULL,
     "vit: embedding width choices (one for all layers)."},
    {"space", "heads", SN_CONFIG_INT_LIST, FIELD(space_heads), "2,3,4", 1, 64, NULL,
     "vit: attention head choices of every layer."},
    {"space", "mlp_ratios", SN_CONFIG_FLOAT_LIST, FIELD(space_mlp_ratios), "2,3,4", 0.1, 16,
     NULL, "vit: MLP ratio choices of every layer (hidden units = ratio x embed, rounded)."},

    {"train", "epochs", SN_CONFIG_INT, FIELD(epochs), "5", 1, 10000, NULL,
     "Passes over the training set."},
    {"train", "max_steps", SN_CONFIG_INT, FIELD(max_steps), "0", 0, 1e12, NULL,
     "Stop after this many optimiser steps (0 = epochs decide)."},
    {"train", "batch_size", SN_CONFIG_INT, FIELD(batch_size), "128", 1, 65536, NULL,
     "Training images per optimiser step."},
    {"train", "eval_batch_size", SN_CONFIG_INT, FIELD(eval_batch_size), "500", 1, 65536, NULL,
     "Images per forward pass during evaluation."},
    {"train", "optimizer", SN_CONFIG_CHOICE, FIELD(optimizer), "adamw", 0, 0, "sgd|adamw",
     "SGD with momentum, or AdamW with decoupled weight decay."},
    {"train", "learning_rate", SN_CONFIG_FLOAT, FIELD(learning_rate), "0.002", 1e-9, 10, NULL,
     "Peak learning rate, reached at the end of warm-up (must be > 0)."},
    {"train", "min_learning_rate", SN_CONFIG_FLOAT, FIELD(min_learning_rate), "0", 0, 10, NULL,
     "Learning rate at the end of the cosine decay; at most learning_rate."},
    {"train", "warmup_epochs", SN_CONFIG_FLOAT, FIELD(warmup_epochs), "0.5", 0, 1000, NULL,
     "Length of the linear warm-up in epochs (fractions allowed); at most epochs."},
    {"train", "momentum", SN_CONFIG_FLOAT, FIELD(momentum), "0.9", 0, 0.999, NULL,
     "SGD momentum."},
    {"train", "nesterov", SN_CONFIG_BOOL, FIELD(nesterov), "true", 0, 0, NULL,
     "SGD: use Nesterov momentum (needs momentum > 0)."},
    {"train", "beta1", SN_CONFIG_FLOAT, FIELD(beta1), "0.9", 0, 0.9999, NULL,
     "AdamW: decay rate of the first-moment average."},
    {"train", "beta2", SN_CONFIG_FLOAT, FIELD(beta2), "0.999", 0, 0.99999, NULL,
     "AdamW: decay rate of the second-moment average."},
    {"train", "epsilon", SN_CONFIG_FLOAT, FIELD(epsilon), "1e-8", 1e-12, 1e-2, NULL,
     "AdamW: added to the root of the second moment."},
    {"train", "weight_decay", SN_CONFIG_FLOAT, FIELD(weight_decay), "0.05", 0, 10, NULL,
     "Weight decay (SGD: L2 in the gradient; AdamW: decoupled); never on norms and biases."},
    {"train", "label_smoothing", SN_CONFIG_FLOAT, FIELD(label_smoothing), "0.1", 0, 0.5, NULL,
     "Label smoothing of the cross-entropy targets."},
    {"train", "clip_norm", SN_CONFIG_FLOAT, FIELD(clip_norm), "0", 0, 1e6, NULL,
     "Rescale gradients whose global L2 norm exceeds this (0 = off)."},
    {"train", "clip_value", SN_CONFIG_FLOAT, FIELD(clip_value), "0", 0, 1e6, NULL,
     "Clamp each gradient element to [-clip_value, clip_value] (0 = off)."},
    {"train", "bn_momentum", SN_CONFIG_FLOAT, FIELD(bn_momentum), "0.1", 0, 1, NULL,
     "Batch-norm running statistics: weight of each new batch (PyTorch convention)."},
    {"search", "strategy", SN_CONFIG_CHOICE, FIELD(search_strategy), "shift", 0, 0,
     "uniform|flops-uniform|sandwich|attentive|shift|fixed",
     "How each step picks the subnets it trains (doc/algorithm.md); [model] type = supernet. "
     "attentive is AttentiveNAS's best/worst-of-candidates sampling of one subnet per step, "
     "without its sandwich rule or distillation. fixed trains [search] subnet alone, from "
     "scratch."},
    {"search", "subnet", SN_CONFIG_TEXT, FIELD(search_subnet), "", 0, 0, NULL,
     "fixed: the subnet every step trains, as `shiftnas search` prints it "
     "(e.g. cnn:d=1,1,1;w=12,20,32;k=3,3,3;e=2,2,2); empty for the other strategies."},
    {"search", "buckets", SN_CONFIG_INT, FIELD(search_buckets), "8", 1, 64, NULL,
     "Equal-width MACs buckets over the space's range (flops-uniform, attentive, shift)."},
    {"search", "bucket_step", SN_CONFIG_INT, FIELD(search_bucket_step), "0", 0, 1e15, NULL,
     "MACs per bucket instead of an equal split (0 = use buckets)."},
    {"search", "max_tries", SN_CONFIG_INT, FIELD(search_max_tries), "200", 1, 100000, NULL,
     "Uniform draws before an in-bucket sample falls back to a guided search."},
    {"search", "sandwich_random", SN_CONFIG_INT, FIELD(search_sandwich_random), "2", 0, 16, NULL,
     "sandwich: random subnets per step besides the largest and the smallest."},
    {"search", "attentive_candidates", SN_CONFIG_INT, FIELD(search_attentive_candidates), "3", 1,
     16, NULL, "attentive: candidates scored by the mini-batch loss per step."},
    {"search", "attentive_mode", SN_CONFIG_CHOICE, FIELD(search_attentive_mode), "best", 0, 0,
     "best|worst", "attentive: train the candidate of lowest (best) or highest (worst) loss."},
    {"search", "shift_statistic", SN_CONFIG_CHOICE, FIELD(shift_statistic), "loss-change", 0, 0,
     "loss-change|variance",
     "shift: per-bucket validation-loss change (Eq. 8) or training-loss variance."},
    {"search", "shift_estimator", SN_CONFIG_CHOICE, FIELD(shift_estimator), "expectation", 0, 0,
     "expectation|gumbel|target-input",
     "shift: expectation = the exact gradient of the expected change sum_k p_k delta_k over all "
     "K buckets; gumbel = one Gumbel-softmax relaxation that still weighs all K buckets' losses; "
     "target-input = the paper's route through the generator's target input (one sampled "
     "bucket, dL/dC under this and the previous update's weights; loss-change only)."},
    {"search", "shift_interval", SN_CONFIG_INT, FIELD(shift_interval), "100", 1, 1000000, NULL,
     "shift: steps between probability updates (U)."},
    {"search", "shift_warmup", SN_CONFIG_FLOAT, FIELD(shift_warmup), "0.15", 0, 1, NULL,
     "shift: share of the steps with fixed uniform probabilities before the first update."},
    {"search", "shift_learning_rate", SN_CONFIG_FLOAT, FIELD(shift_learning_rate), "0.1", 1e-9, 100,
     NULL, "shift: Adam step size on the bucket logits. Not the paper's 1e-3: 0.1 moves p within "
     "our far shorter runs; doc/results.md reports how the result depends on it."},
    {"search", "shift_validation_images", SN_CONFIG_INT, FIELD(shift_validation_images), "384", 1,
     1e9, NULL, "shift: held-out images each bucket's subnet is evaluated on per update: the "
     "last ones of the validation split, disjoint from the search's fitness images."},
    {"search", "shift_gumbel_temperature", SN_CONFIG_FLOAT, FIELD(shift_gumbel_temperature), "1",
     1e-6, 1e6, NULL, "shift: temperature of the gumbel and target-input estimators' sample."},
    {"search", "shift_variance_temperature", SN_CONFIG_FLOAT, FIELD(shift_variance_temperature),
     "0.01", 1e-9, 1e9, NULL, "shift: tau of softmax(variance / tau)."},
    {"search", "shift_frozen", SN_CONFIG_BOOL, FIELD(shift_frozen), "false", 0, 0, NULL,
     "shift: the control arm: every probability update runs (held-out passes, statistic, log.h5 "
     "rows) but beta and p stay uniform, so only the generator and bucketed sampling remain."},
    {"search", "generator_lambda", SN_CONFIG_FLOAT, FIELD(generator_lambda), "10", 0, 1e6, NULL,
     "Weight of the resource loss L_RC = ((MACs - target) / MACs range)^2."},
    {"search", "generator_learning_rate", SN_CONFIG_FLOAT, FIELD(generator_learning_rate), "0.01",
     1e-9, 10, NULL, "Adam step size of the architecture generator (cosine schedule)."},
    {"search", "generator_hidden", SN_CONFIG_INT, FIELD(generator_hidden), "64", 1, 4096, NULL,
     "LSTM hidden units of the architecture generator."},
    {"search", "generator_embedding", SN_CONFIG_INT, FIELD(generator_embedding), "16", 1, 4096,
     NULL, "Width of the embedding of the previous decision."},
    {"search", "generator_temperature_start", SN_CONFIG_FLOAT, FIELD(generator_temperature_start),
     "5", 1e-3, 1e3, NULL, "Gumbel-softmax temperature at the first step."},
    {"search", "generator_temperature_end", SN_CONFIG_FLOAT, FIELD(generator_temperature_end),
     "0.5", 1e-3, 1e3, NULL, "Gumbel-softmax temperature at the last step (exponential anneal)."},
    {"search", "generator_extra_targets", SN_CONFIG_INT, FIELD(generator_extra_targets), "8", 0,
     1024, NULL, "More targets per step (buckets drawn from p) trained on L_RC alone."},
    {"search", "generator_task_interval", SN_CONFIG_INT, FIELD(generator_task_interval), "4", 1,
     1000000, NULL,
     "Every n-th step runs the masked supernet so L_task reaches the generator (others: sliced)."},
    {"search", "evolution_population", SN_CONFIG_INT, FIELD(evolution_population), "16", 2, 100000,
     NULL, "Evolutionary search: population per generation."},
    {"search", "evolution_evaluations", SN_CONFIG_INT, FIELD(evolution_evaluations), "64", 1, 1e7,
     NULL, "Evolutionary search: distinct subnets evaluated per target (the fixed budget)."},
    {"search", "evolution_parents", SN_CONFIG_INT, FIELD(evolution_parents), "4", 1, 100000, NULL,
     "Evolutionary search: best subnets kept as parents each generation."},
    {"search", "evolution_mutation_probability", SN_CONFIG_FLOAT,
     FIELD(evolution_mutation_probability), "0.2", 0, 1, NULL,
     "Evolutionary search: chance that a mutation redraws each active dimension."},
    {"search", "evolution_crossover_share", SN_CONFIG_FLOAT, FIELD(evolution_crossover_share),
     "0.5", 0, 1, NULL, "Evolutionary search: share of each generation made by crossover."},
    {"search", "evolution_validation_images", SN_CONFIG_INT, FIELD(evolution_validation_images),
     "2000", 0, 1e9, NULL,
     "Validation images the search's fitness uses, the first ones of the split (0 = all of them; "
     "for a loss-change shift run at most those the shift leaves: the two never overlap)."},
    {"search", "recalibration_batches", SN_CONFIG_INT, FIELD(recalibration_batches), "8", 1, 100000,
     NULL, "Training batches that re-estimate a CNN subnet's batch-norm statistics before evaluation."},
    {"search", "evolution_recalibration_batches", SN_CONFIG_INT,
     FIELD(evolution_recalibration_batches), "2", 1, 100000, NULL,
     "Evolutionary search: recalibration batches before a CNN candidate's fitness (the answers, "
     "like eval, get recalibration_batches)."},
    {"distributed", "shards", SN_CONFIG_INT, FIELD(distributed_shards), "8", 1, 4096, NULL,
     "Logical shards of every batch (a shard has its own batch-norm statistics and is computed "
     "the same way on any rank); the result is the same for any rank count up to this many ranks."},
    {"distributed", "reduce", SN_CONFIG_CHOICE, FIELD(distributed_reduce), "active", 0, 0,
     "active|slab",
     "What the gradient all-reduce sends: only entries some rank's shards touched (active), or "
     "the whole parameter slab (slab). Same result either way."},
    {"distributed", "bucket_entries", SN_CONFIG_INT, FIELD(distributed_bucket_entries), "1048576",
     1024, 1e9, NULL, "Gradient entries per all-reduce message (fixed-order buckets)."},
    {"distributed", "check_interval", SN_CONFIG_INT, FIELD(distributed_check_interval), "0", 0,
     1e12, NULL,
     "Debugging: every this many steps, compare a hash of the trained state across ranks and stop "
     "on a mismatch (0 = off)."},
    {"checkpoint", "interval_steps", SN_CONFIG_INT, FIELD(checkpoint_interval_steps), "0", 0, 1e12,
     NULL, "Write a checkpoint every this many steps (0 = off; interval_seconds may still apply)."},
    {"checkpoint", "interval_seconds", SN_CONFIG_FLOAT, FIELD(checkpoint_interval_seconds), "600",
     0, 1e9, NULL,
     "Write a checkpoint when this many seconds have passed since the last one (0 = off); rank "
     "0's clock decides for every rank."},
    {"checkpoint", "keep", SN_CONFIG_INT, FIELD(checkpoint_keep), "3", 1, 1000000, NULL,
     "Complete checkpoints kept in RUN_DIR/checkpoints (the oldest are removed)."},
    {"checkpoint", "stop_after_seconds", SN_CONFIG_FLOAT, FIELD(checkpoint_stop_after_seconds),
     "0", 0, 1e9, NULL,
     "Wall-clock budget of this process: after this many seconds, finish the step, write a "
     "checkpoint and exit with status 75 (resume with --resume); 0 = off."},
};

enum { KEY_COUNT = (int)(sizeof config_keys / sizeof config_keys[0]) };

/* One line of introduction per section in the reference. */
static const struct {
    const char *name, *description;
} config_sections[] = {
    {"run", "The run as a whole."},
    {"data", "Where the images come from and how training images are augmented."},
    {"model", "Which network family is trained."},
    {"cnn", "A plain network: conv-bn-activation blocks, global average pooling, a linear "
            "classifier. Used when [model] type = cnn."},
    {"vit", "A vision transformer. Used when [model] type = vit."},
    {"space", "The search space: its fixed parts and every dimension's choices (all sizes "
              "ascending). Used when [model] type = supernet and by `shiftnas space`."},
    {"train", "Optimisation: epochs, batches, optimiser, schedule, regularisation, clipping."},
    {"search", "Supernet training (sampling strategy, probability shift, architecture generator) "
               "and the evolutionary search of `shiftnas search`. Used when [model] type = supernet."},
    {"distributed", "Data-parallel training over MPI ranks (mpirun -np N, srun --mpi=pmix); "
                    "doc/distributed.md."},
    {"checkpoint", "Checkpoints of a training run (RUN_DIR/checkpoints), resume and stopping "
                   "before a time limit; doc/checkpoint.md. These keys may change on resume."},
};

enum { SECTION_COUNT = (int)(sizeof config_sections / sizeof config_sections[0]) };

/* Lines in a configuration file may be this long (a text value of
 * SN_CONFIG_TEXT_MAX - 1 characters plus its key fits). */
enum { LINE_MAX_CHARS = SN_CONFIG_LINE_MAX };
/* User text shown in a message: this many bytes of it, escaped. */
enum { SHOWN_BYTES = 60, VALUE_SHOWN_BYTES = 100, PATH_SHOWN_BYTES = 300 };

const sn_config_key *sn_config_keys(int *count)
{
    if (count)
        *count = KEY_COUNT;
    return config_keys;
}

static int section_known(const char *section)
{
    for (int s = 0; s < SECTION_COUNT; s++)
        if (strcmp(config_sections[s].name, section) == 0)
            return 1;
    return 0;
}

static const sn_config_key *find_key(const char *section, const char *name)
{
    for (int k = 0; k < KEY_COUNT; k++)
        if (strcmp(config_keys[k].section, section) == 0 && strcmp(config_keys[k].name, name) == 0)
            return &config_keys[k];
    return NULL;
}

/* ---- formatting ------------------------------------------------------- */

/* What a key accepts, for messages and the reference. */
static void format_allowed(char *out, size_t size, const sn_config_key *key)
{
    char lo[32], hi[32];
    if (key->type == SN_CONFIG_INT || key->type == SN_CONFIG_INT_LIST) {
        snprintf(lo, sizeof lo, "%" PRId64, (int64_t)key->minimum);
        snprintf(hi, sizeof hi, "%" PRId64, (int64_t)key->maximum);
    } else {
        sn_format_number(lo, sizeof lo, key->minimum);
        sn_format_number(hi, sizeof hi, key->maximum);
    }
    switch (key->type) {
    case SN_CONFIG_INT: snprintf(out, size, "integer %s..%s", lo, hi); break;
    case SN_CONFIG_FLOAT: snprintf(out, size, "number %s..%s", lo, hi); break;
    case SN_CONFIG_BOOL: snprintf(out, size, "true|false, yes|no, on|off, 1|0"); break;
    case SN_CONFIG_TEXT:
        snprintf(out, size, "text of at most %d characters", SN_CONFIG_TEXT_MAX - 1);
        break;
    case SN_CONFIG_CHOICE: snprintf(out, size, "one of %s", key->choices); break;
    case SN_CONFIG_INT_LIST:
        snprintf(out, size, "1..%d comma-separated integers, each %s..%s", SN_CONFIG_LIST_MAX, lo,
                 hi);
        break;
    case SN_CONFIG_FLOAT_LIST:
        snprintf(out, size, "1..%d comma-separated numbers, each %s..%s", SN_CONFIG_LIST_MAX, lo,
                 hi);
        break;
    }
}

/* A field's value as it is written in an INI file. */
static void format_value(char *out, size_t size, const sn_config_key *key, const sn_config *config)
{
    const char *field = (const char *)config + key->offset;
    switch (key->type) {
    case SN_CONFIG_INT: snprintf(out, size, "%" PRId64, *(const int64_t *)field); break;
    case SN_CONFIG_FLOAT: sn_format_number(out, size, *(const double *)field); break;
    case SN_CONFIG_BOOL: snprintf(out, size, "%s", *(const int *)field ? "true" : "false"); break;
    case SN_CONFIG_TEXT:
    case SN_CONFIG_CHOICE: snprintf(out, size, "%s", field); break;
    case SN_CONFIG_INT_LIST: {
        const sn_int_list *list = (const sn_int_list *)field;
        size_t used = 0;
        out[0] = '\0';
        for (int i = 0; i < list->count && used < size; i++)
            used += (size_t)snprintf(out + used, size - used, "%s%" PRId64, i ? "," : "",
                                     list->values[i]);
        break;
    }
    case SN_CONFIG_FLOAT_LIST: {
        const sn_float_list *list = (const sn_float_list *)field;
        size_t used = 0;
        out[0] = '\0';
        for (int i = 0; i < list->count && used + 1 < size; i++) {
            char number[32];
            sn_format_number(number, sizeof number, list->values[i]);
            used += (size_t)snprintf(out + used, size - used, "%s%s", i ? "," : "", number);
        }
        break;
    }
    }
}

/* ---- parsing and range checks ---------------------------------------- */

static int in_range(const sn_config_key *key, double x)
{
    return x >= key->minimum && x <= key->maximum;
}

static int choice_allowed(const char *choices, const char *value)
{
    size_t n = strlen(value);
    for (const char *c = choices; *c;) {
        size_t len = strcspn(c, "|");
        if (len == n && strncmp(c, value, n) == 0)
            return 1;
        c += len;
        if (*c == '|')
            c++;
    }
    return 0;
}

/* Parses a decimal integer that may be surrounded by blanks; *end is left
 * after the trailing blanks. Returns NULL or why the text is not one. */
static const char *parse_int(const char *text, int64_t *value, const char **end)
{
    char *stop;
    while (*text == ' ' || *text == '\t')
        text++;
    if (*text == '\0' || *text == ',')
        return "empty value";
    errno = 0;
    long long v = strtoll(text, &stop, 10);
    if (stop == text)
        return "not an integer";
    if (errno == ERANGE)
        return "integer overflow";
    while (*stop == ' ' || *stop == '\t')
        stop++;
    *value = (int64_t)v;
    *end = stop;
    return NULL;
}

/* Stores `value` into key's field of `config`, or returns why it cannot
 * (the field is then unchanged). */
static const char *parse_value(const sn_config_key *key, const char *value, sn_config *config)
{
    char *field = (char *)config + key->offset;
    switch (key->type) {
    case SN_CONFIG_INT: {
        int64_t v;
        const char *end;
        const char *why = parse_int(value, &v, &end);
        if (why)
            return why;
        if (*end != '\0')
            return "not an integer";
        if (!in_range(key, (double)v))
            return "out of range";
        *(int64_t *)field = v;
        return NULL;
    }
    case SN_CONFIG_FLOAT: {
        char *end;
        if (*value == '\0')
            return "empty value";
        double v = strtod(value, &end);
        if (end == value || *end != '\0')
            return "not a number";
        if (!isfinite(v))
            return "not a finite number";
        if (!in_range(key, v))
            return "out of range";
        *(double *)field = v;
        return NULL;
    }
    case SN_CONFIG_BOOL: {
        static const char *const truths[] = {"true", "yes", "on", "1"};
        static const char *const falsehoods[] = {"false", "no", "off", "0"};
        for (int i = 0; i < 4; i++) {
            if (strcasecmp(value, truths[i]) == 0) {
                *(int *)field = 1;
                return NULL;
            }
            if (strcasecmp(value, falsehoods[i]) == 0) {
                *(int *)field = 0;
                return NULL;
            }
        }
        return "not a boolean";
    }
    case SN_CONFIG_TEXT:
    case SN_CONFIG_CHOICE: {
        size_t n = strlen(value);
        if (n >= SN_CONFIG_TEXT_MAX)
            return "text too long";
        for (size_t i = 0; i < n; i++) {
            if (iscntrl((unsigned char)value[i]))
                return "contains a control character";
            /* libinih would cut the value there when the file is read back */
            if (value[i] == ';' && i > 0 && isspace((unsigned char)value[i - 1]))
                return "contains ' ;', which starts a comment in an INI file";
        }
        if (key->type == SN_CONFIG_CHOICE && !choice_allowed(key->choices, value))
            return "not one of the choices";
        /* Zero the whole field: the struct stays comparable with memcmp. */
        memset(field, 0, SN_CONFIG_TEXT_MAX);
        memcpy(field, value, n);
        return NULL;
    }
    case SN_CONFIG_INT_LIST: {
        sn_int_list list;
        memset(&list, 0, sizeof list);
        const char *p = value;
        while (*p == ' ' || *p == '\t')
            p++;
        if (*p == '\0')
            return "empty list";
        for (;;) {
            int64_t v;
            const char *end;
            const char *why = parse_int(p, &v, &end);
            if (why)
                return strcmp(why, "empty value") == 0 ? "empty list element" : why;
            if (*end != ',' && *end != '\0')
                return "not a comma-separated list of integers";
            if (list.count == SN_CONFIG_LIST_MAX)
                return "too many entries";
            if (!in_range(key, (double)v))
                return "element out of range";
            list.values[list.count++] = v;
            if (*end == '\0')
                break;
            p = end + 1;
        }
        memcpy(field, &list, sizeof list);
        return NULL;
    }
    case SN_CONFIG_FLOAT_LIST: {
        sn_float_list list;
        memset(&list, 0, sizeof list);
        const char *p = value;
        while (*p == ' ' || *p == '\t')
            p++;
        if (*p == '\0')
            return "empty list";
        for (;;) {
            while (*p == ' ' || *p == '\t')
                p++;
            if (*p == '\0' || *p == ',')
                return "empty list element";
            char *end;
            double v = strtod(p, &end);
            if (end == p)
                return "not a comma-separated list of numbers";
            while (*end == ' ' || *end == '\t')
                end++;
            if (*end != ',' && *end != '\0')
                return "not a comma-separated list of numbers";
            if (!isfinite(v))
                return "not a finite number";
            if (list.count == SN_CONFIG_LIST_MAX)
                return "too many entries";
            if (!in_range(key, v))
                return "element out of range";
            list.values[list.count++] = v;
            if (*end == '\0')
                break;
            p = end + 1;
        }
        memcpy(field, &list, sizeof list);
        return NULL;
    }
    }
    return "unknown key type";
}

/* Sets one key, or records "WHERE: [section] key = 'value': why (allowed:
 * ...)" and returns SN_ERR_CONFIG. */
static int set_key(const sn_config_key *key, const char *value, sn_config *config,
                   const char *where)
{
    const char *why = parse_value(key, value, config);
    if (!why)
        return SN_OK;
    char allowed[160], value_shown[4 * VALUE_SHOWN_BYTES + 8];
    format_allowed(allowed, sizeof allowed, key);
    /* a long bad value is shown by its start, escaped: the message stays one line */
    sn_format_user_text(value_shown, sizeof value_shown, value, VALUE_SHOWN_BYTES);
    return sn_error_set(SN_ERR_CONFIG, "%s: [%s] %s = '%s': %s (allowed: %s)", where,
                        key->section, key->name, value_shown, why, allowed);
}

void sn_config_defaults(sn_config *config)
{
    /* Zero the padding too, so configurations compare with memcmp. */
    memset(config, 0, sizeof *config);
    for (int k = 0; k < KEY_COUNT; k++) {
        const char *why = parse_value(&config_keys[k], config_keys[k].default_value, config);
        assert(why == NULL && "a default in the key table is outside its own range");
        (void)why;
    }
}

/* ---- reading files ---------------------------------------------------- */

/* Debian's libinih turns its compile-time line buffer settings into
 * variables; upstream's has only the macros (lines of 200 bytes). Weak
 * references let us lengthen lines where we can and still link elsewhere. */
#pragma weak ini_use_stack
#pragma weak ini_allow_realloc
#pragma weak ini_initial_alloc
#pragma weak ini_max_line

typedef struct {
    sn_config *config;  /* the working copy */
    char path[4 * PATH_SHOWN_BYTES + 8]; /* the file's name as messages show it */
    FILE *file;
    int line;           /* number of the line libinih is parsing */
    int status;         /* first failure, stops the parse */
    size_t bytes;       /* read so far */
    char buffer[LINE_MAX_CHARS + 3]; /* the line, its "\r\n" and a NUL */
} load_context;

/* Reads the next line, with its end, into c->buffer: at most LINE_MAX_CHARS
 * characters besides "\r\n", and SN_CONFIG_FILE_MAX bytes in all, are read
 * before giving up, so that /dev/zero or a binary file fails at once.
 * Returns its length (0 at the end of the file), or -1 with c->status set. */
static long next_line(load_context *c)
{
    size_t n = 0;
    int ch = 0;
    c->line++;
    while (n < LINE_MAX_CHARS + 2 && (ch = getc(c->file)) != EOF) {
        if (++c->bytes > SN_CONFIG_FILE_MAX) {
            c->status = sn_error_set(SN_ERR_CONFIG,
                                     "%s: more than %d bytes: too large for a configuration file",
                                     c->path, SN_CONFIG_FILE_MAX);
            return -1;
        }
        if (ch == '\0') {
            c->status = sn_error_set(SN_ERR_CONFIG,
                                     "%s:%d: a NUL byte at column %zu (binary data is not a "
                                     "configuration file)",
                                     c->path, c->line, n + 1);
            return -1;
        }
        c->buffer[n++] = (char)ch;
        if (ch == '\n')
            break;
    }
    if (ch == EOF && ferror(c->file)) {
        c->status = sn_error_set(SN_ERR_IO, "%s:%d: cannot read it: %s", c->path, c->line,
                                 strerror(errno ? errno : EIO));
        return -1;
    }
    c->buffer[n] = '\0';
    size_t content = n;
    while (content > 0 && (c->buffer[content - 1] == '\n' || c->buffer[content - 1] == '\r'))
        content--;
    int cut = n == LINE_MAX_CHARS + 2 && c->buffer[n - 1] != '\n' && ch != EOF;
    if (content > LINE_MAX_CHARS || (cut && getc(c->file) != EOF)) {
        c->status = sn_error_set(SN_ERR_CONFIG, "%s:%d: line longer than %d characters",
                                 c->path, c->line, LINE_MAX_CHARS);
        return -1;
    }
    return (long)n;
}

/* What libinih would misread on a line it is about to see (leading blanks
 * removed), or SN_OK: a section header without its ']' (libinih would
 * blame the next key), an unknown section (a section with no keys never
 * reaches the handler), a line that is no key = value. */
static int check_line(load_context *c, const char *start)
{
    char shown[4 * SHOWN_BYTES + 8];
    size_t content = strcspn(start, "\r\n");
    if (content == 0 || *start == ';' || *start == '#')
        return SN_OK;
    if (*start == '[') {
        const char *close = memchr(start, ']', content);
        if (!close) {
            char header[LINE_MAX_CHARS + 1];
            memcpy(header, start, content);
            header[content] = '\0';
            return sn_error_set(SN_ERR_CONFIG, "%s:%d: section header '%s' has no closing ']'",
                                c->path, c->line,
                                sn_format_user_text(shown, sizeof shown, header, SHOWN_BYTES));
        }
        char name[LINE_MAX_CHARS + 1];
        size_t name_len = (size_t)(close - start - 1);
        memcpy(name, start + 1, name_len);
        name[name_len] = '\0';
        if (!section_known(name))
            return sn_error_set(SN_ERR_CONFIG,
                                "%s:%d: unknown section [%s] (sections: run, data, model, cnn, "
                                "vit, space, train, search, distributed, checkpoint)",
                                c->path, c->line,
                                sn_format_user_text(shown, sizeof shown, name, SHOWN_BYTES));
        return SN_OK;
    }
    if (strcspn(start, "=:") >= content) {
        char text[LINE_MAX_CHARS + 1];
        memcpy(text, start, content);
        text[content] = '\0';
        return sn_error_set(SN_ERR_CONFIG,
                            "%s:%d: '%s' is not a [section], a key = value or a comment",
                            c->path, c->line,
                            sn_format_user_text(shown, sizeof shown, text, SHOWN_BYTES));
    }
    return SN_OK;
}

/* libinih's reader: hands over one line at a time, so we know its number,
 * and rejects what libinih would silently truncate or misread. */
static char *read_line(char *out, int size, void *user)
{
    load_context *c = user;
    if (c->status < 0)
        return NULL;
    long n = next_line(c);
    if (n <= 0)
        return NULL;
    char *start = c->buffer;
    if (c->line == 1 && strncmp(start, "\xEF\xBB\xBF", 3) == 0)
        start += 3; /* UTF-8 byte order mark */
    while (*start == ' ' || *start == '\t')
        start++;
    if ((c->status = check_line(c, start)) != SN_OK)
        return NULL;
    /* libinih needs room for the text, "\r\n" and the terminating NUL */
    size_t len = strlen(start), content = len;
    while (content > 0 && (start[content - 1] == '\n' || start[content - 1] == '\r'))
        content--;
    if (content > (size_t)size - 3 || len > (size_t)size - 1) {
        c->status = sn_error_set(SN_ERR_CONFIG, "%s:%d: line longer than %d characters", c->path,
                                 c->line, size - 3);
        return NULL;
    }
    memcpy(out, start, len + 1);
    return out;
}

static int handle_pair(void *user, const char *section, const char *name, const char *value)
{
    load_context *c = user;
    char where[sizeof c->path + 16], section_shown[4 * SHOWN_BYTES + 8],
        name_shown[4 * SHOWN_BYTES + 8];
    snprintf(where, sizeof where, "%s:%d", c->path, c->line);
    sn_format_user_text(section_shown, sizeof section_shown, section, SHOWN_BYTES);
    sn_format_user_text(name_shown, sizeof name_shown, name, SHOWN_BYTES);
    if (section[0] == '\0') {
        c->status = sn_error_set(SN_ERR_CONFIG, "%s: key '%s' is outside any [section]", where,
                                 name_shown);
        return 0;
    }
    if (!section_known(section)) {
        c->status = sn_error_set(SN_ERR_CONFIG, "%s: unknown section [%s] (key '%s')", where,
                                 section_shown, name_shown);
        return 0;
    }
    const sn_config_key *key = find_key(section, name);
    if (!key) {
        c->status = sn_error_set(SN_ERR_CONFIG, "%s: unknown key '%s' in [%s]", where,
                                 name_shown, section_shown);
        return 0;
    }
    c->status = set_key(key, value, c->config, where);
    return c->status == SN_OK;
}

/* Parses an open stream (closed here) named `path` in messages. */
static int load_stream(sn_config *config, FILE *file, const char *path)
{
    sn_config work;
    memcpy(&work, config, sizeof work);
    load_context *c = calloc(1, sizeof *c);
    if (!c) {
        fclose(file);
        return sn_error_set(SN_ERR_NOMEM, "out of memory reading a configuration");
    }
    c->config = &work;
    c->file = file;
    c->status = SN_OK;
    sn_format_user_text(c->path, sizeof c->path, path, PATH_SHOWN_BYTES);

    int have_knobs = &ini_use_stack && &ini_allow_realloc && &ini_initial_alloc && &ini_max_line;
    bool saved_stack = false, saved_realloc = false;
    int saved_initial = 0, saved_max = 0;
    if (have_knobs) {
        saved_stack = ini_use_stack;
        saved_realloc = ini_allow_realloc;
        saved_initial = ini_initial_alloc;
        saved_max = ini_max_line;
        /* one heap buffer of a fixed size: one reader call per line */
        ini_use_stack = false;
        ini_allow_realloc = false;
        ini_initial_alloc = ini_max_line = LINE_MAX_CHARS + 3;
    }
    int result = ini_parse_stream(read_line, c, handle_pair, c);
    if (have_knobs) {
        ini_use_stack = saved_stack;
        ini_allow_realloc = saved_realloc;
        ini_initial_alloc = saved_initial;
        ini_max_line = saved_max;
    }
    fclose(c->file);
    int status = c->status;
    char shown_path[sizeof c->path];
    memcpy(shown_path, c->path, sizeof shown_path);
    free(c);

    if (status < 0)
        return status;
    if (result == -2)
        return sn_error_set(SN_ERR_NOMEM, "%s: out of memory while parsing", shown_path);
    if (result != 0)
        return sn_error_set(SN_ERR_CONFIG,
                            "%s:%d: syntax error (expected [section], key = value or a comment)",
                            shown_path, result);
    memcpy(config, &work, sizeof work);
    return SN_OK;
}

int sn_config_load_file(sn_config *config, const char *path)
{
    char shown[4 * PATH_SHOWN_BYTES + 8];
    sn_format_user_text(shown, sizeof shown, path, PATH_SHOWN_BYTES);
    FILE *file = fopen(path, "r");
    if (!file)
        return sn_error_set(SN_ERR_IO, "%s: cannot open the configuration: %s", shown,
                            strerror(errno));
    /* What a path names is checked before a byte is read: a directory
     * reads as an error, a huge file would be read to its end. Other
     * kinds (a pipe, /dev/stdin) are capped while reading. */
    struct stat info;
    if (fstat(fileno(file), &info) == 0) {
        const char *why = NULL;
        if (S_ISDIR(info.st_mode))
            why = "is a directory, not a configuration file";
        else if (S_ISREG(info.st_mode) && info.st_size > SN_CONFIG_FILE_MAX)
            why = "too large for a configuration file";
        if (why) {
            fclose(file);
            if (S_ISDIR(info.st_mode))
                return sn_error_set(SN_ERR_CONFIG, "%s: %s", shown, why);
            return sn_error_set(SN_ERR_CONFIG, "%s: %lld bytes: %s (at most %d)", shown,
                                (long long)info.st_size, why, SN_CONFIG_FILE_MAX);
        }
    }
    return load_stream(config, file, path);
}

int sn_config_load_text(sn_config *config, const char *text, const char *name)
{
    size_t length = strlen(text);
    /* fmemopen of a zero-length buffer fails; an empty text is an empty file */
    FILE *file = length > 0 ? fmemopen((void *)text, length, "r") : fopen("/dev/null", "r");
    if (!file)
        return sn_error_set(SN_ERR_NOMEM, "%s: cannot read the configuration text: %s", name,
                            strerror(errno));
    return load_stream(config, file, name);
}

/* ---- --set ------------------------------------------------------------ */

/* Blanks around a part of "section.key=value" are not part of it. */
static char *trim(char *text)
{
    while (isspace((unsigned char)*text))
        text++;
    size_t n = strlen(text);
    while (n > 0 && isspace((unsigned char)text[n - 1]))
        text[--n] = '\0';
    return text;
}

int sn_config_set(sn_config *config, const char *assignment)
{
    char shown[4 * SHOWN_BYTES + 8], where[sizeof shown + 16];
    snprintf(where, sizeof where, "--set '%s'",
             sn_format_user_text(shown, sizeof shown, assignment, SHOWN_BYTES));
    /* measured no further than the cap: the text is not copied before */
    if (strnlen(assignment, LINE_MAX_CHARS + 1) > LINE_MAX_CHARS)
        return sn_error_set(SN_ERR_CONFIG, "%s: longer than %d characters", where,
                            LINE_MAX_CHARS);
    char *copy = strdup(assignment);
    if (!copy)
        return sn_error_set(SN_ERR_NOMEM, "%s: out of memory", where);
    int status = SN_OK;
    char *equals = strchr(copy, '=');
    char *dot = equals ? memchr(copy, '.', (size_t)(equals - copy)) : NULL;
    if (!equals || !dot) {
        status = sn_error_set(SN_ERR_CONFIG, "%s: expected section.key=value", where);
    } else {
        *dot = *equals = '\0';
        const char *section = trim(copy), *name = trim(dot + 1), *value = trim(equals + 1);
        const sn_config_key *key = find_key(section, name);
        char section_shown[4 * SHOWN_BYTES + 8], name_shown[4 * SHOWN_BYTES + 8];
        sn_format_user_text(section_shown, sizeof section_shown, section, SHOWN_BYTES);
        sn_format_user_text(name_shown, sizeof name_shown, name, SHOWN_BYTES);
        if (!section_known(section))
            status = sn_error_set(SN_ERR_CONFIG,
                                  "%s: unknown section [%s] (sections: run, data, model, cnn, "
                                  "vit, space, train, search, distributed, checkpoint)",
                                  where, section_shown);
        else if (!key)
            status = sn_error_set(SN_ERR_CONFIG, "%s: unknown key '%s' in [%s]", where,
                                  name_shown, section_shown);
        else
            status = set_key(key, value, config, where);
    }
    free(copy);
    return status;
}

/* ---- validation ------------------------------------------------------- */

static int invalid(const char *section, const char *name, const char *value, const char *why)
{
    return sn_error_set(SN_ERR_CONFIG, "configuration: [%s] %s = %s: %s", section, name, value,
                        why);
}

int sn_config_validate(const sn_config *config)
{
    char value[SN_CONFIG_TEXT_MAX + 32], other[64], why[256];

    /* Every field within its key's range: a program may have set fields
     * directly rather than through a file or --set. */
    for (int k = 0; k < KEY_COUNT; k++) {
        const sn_config_key *key = &config_keys[k];
        sn_config scratch;
        format_value(value, sizeof value, key, config);
        const char *field = (const char *)config + key->offset;
        const char *bad = NULL;
        if (key->type == SN_CONFIG_INT_LIST) {
            const sn_int_list *list = (const sn_int_list *)field;
            if (list->count < 1 || list->count > SN_CONFIG_LIST_MAX)
                bad = "wrong number of entries";
        } else if (key->type == SN_CONFIG_FLOAT_LIST) {
            const sn_float_list *list = (const sn_float_list *)field;
            if (list->count < 1 || list->count > SN_CONFIG_LIST_MAX)
                bad = "wrong number of entries";
            for (int i = 0; !bad && i < list->count; i++)
                if (!isfinite(list->values[i]))
                    bad = "not a finite number";
        } else if (key->type == SN_CONFIG_TEXT || key->type == SN_CONFIG_CHOICE) {
            if (memchr(field, '\0', SN_CONFIG_TEXT_MAX) == NULL)
                bad = "text not terminated";
        } else if (key->type == SN_CONFIG_FLOAT && !isfinite(*(const double *)field)) {
            bad = "not a finite number";
        }
        if (!bad)
            bad = parse_value(key, value, &scratch);
        if (bad) {
            char allowed[160];
            format_allowed(allowed, sizeof allowed, key);
            snprintf(why, sizeof why, "%s (allowed: %s)", bad, allowed);
            return invalid(key->section, key->name, value, why);
        }
    }

    if (config->path[0] == '\0')
        return invalid("data", "path", "''", "a data set path is required");
    const char *ranges[2] = {"crop_scale", "crop_ratio"};
    const sn_float_list *range_lists[2] = {&config->crop_scale, &config->crop_ratio};
    for (int i = 0; i < 2; i++)
        if (range_lists[i]->count != 2 || range_lists[i]->values[0] > range_lists[i]->values[1]) {
            format_value(value, sizeof value, find_key("data", ranges[i]), config);
            return invalid("data", ranges[i], value, "needs two values, low then high");
        }
    if (config->std.count != config->mean.count) {
        format_value(value, sizeof value, find_key("data", "std"), config);
        snprintf(why, sizeof why, "%d values but [data] mean has %d (one per channel)",
                 config->std.count, config->mean.count);
        return invalid("data", "std", value, why);
    }
    if (strcmp(config->dataset, "fashion-mnist") == 0 && strcmp(config->stream, "on") == 0)
        return invalid("data", "stream", "on", "only an hdf5 data set can be streamed");

    if (strcmp(config->model_type, "cnn") == 0) {
        if (config->cnn_strides.count != config->cnn_channels.count) {
            format_value(value, sizeof value, find_key("cnn", "strides"), config);
            snprintf(why, sizeof why,
                     "%d entries but [cnn] channels has %d (one stride per block)",
                     config->cnn_strides.count, config->cnn_channels.count);
            return invalid("cnn", "strides", value, why);
        }
        if (config->cnn_kernel % 2 == 0) {
            snprintf(value, sizeof value, "%" PRId64, config->cnn_kernel);
            return invalid("cnn", "kernel", value, "must be odd (allowed: 1, 3, 5, 7, 9, 11)");
        }
    } else if (strcmp(config->model_type, "vit") == 0) {
        if (config->vit_embed_dim % config->vit_heads != 0) {
            snprintf(value, sizeof value, "%" PRId64, config->vit_embed_dim);
            snprintf(why, sizeof why, "not divisible by [vit] heads = %" PRId64,
                     config->vit_heads);
            return invalid("vit", "embed_dim", value, why);
        }
    } else if (strcmp(config->space_type, "cnn") == 0) {
        /* [model] type = supernet; the rest of the space is checked when it is
         * built (sn_space_build), with the data set's shape */
        if (config->space_stage_strides.count != config->space_stage_channels.count) {
            format_value(value, sizeof value, find_key("space", "stage_strides"), config);
            snprintf(why, sizeof why,
                     "%d entries but [space] stage_channels has %d (one stride per stage)",
                     config->space_stage_strides.count, config->space_stage_channels.count);
            return invalid("space", "stage_strides", value, why);
        }
        if (config->space_stem_kernel % 2 == 0) {
            snprintf(value, sizeof value, "%" PRId64, config->space_stem_kernel);
            return invalid("space", "stem_kernel", value, "must be odd");
        }
        for (int i = 0; i < config->space_kernels.count; i++)
            if (config->space_kernels.values[i] % 2 == 0) {
                format_value(value, sizeof value, find_key("space", "kernels"), config);
                return invalid("space", "kernels", value, "every kernel must be odd");
            }
    }

    if (config->min_learning_rate > config->learning_rate) {
        sn_format_number(value, sizeof value, config->min_learning_rate);
        sn_format_number(other, sizeof other, config->learning_rate);
        snprintf(why, sizeof why, "exceeds [train] learning_rate = %s", other);
        return invalid("train", "min_learning_rate", value, why);
    }
    if (config->warmup_epochs > (double)config->epochs) {
        sn_format_number(value, sizeof value, config->warmup_epochs);
        snprintf(why, sizeof why, "exceeds [train] epochs = %" PRId64, config->epochs);
        return invalid("train", "warmup_epochs", value, why);
    }
    if (strcmp(config->optimizer, "sgd") == 0 && config->nesterov && config->momentum == 0.0)
        return invalid("train", "nesterov", "true",
                       "Nesterov needs [train] momentum > 0 (set nesterov = false)");
    if (config->evolution_parents > config->evolution_population) {
        snprintf(value, sizeof value, "%" PRId64, config->evolution_parents);
        snprintf(why, sizeof why, "exceeds [search] evolution_population = %" PRId64,
                 config->evolution_population);
        return invalid("search", "evolution_parents", value, why);
    }
    return SN_OK;
}

/* ---- writing ---------------------------------------------------------- */

int sn_config_write(const sn_config *config, FILE *out)
{
    char value[SN_CONFIG_TEXT_MAX + 32];
    fprintf(out, "# shiftnas configuration: every key with its resolved value.\n"
                 "# Keys, types and ranges: doc/configuration.md.\n");
    const char *section = "";
    for (int k = 0; k < KEY_COUNT; k++) {
        const sn_config_key *key = &config_keys[k];
        if (strcmp(key->section, section) != 0) {
            section = key->section;
            fprintf(out, "\n[%s]\n", section);
        }
        format_value(value, sizeof value, key, config);
        fprintf(out, "%s = %s\n", key->name, value);
    }
    if (fflush(out) != 0 || ferror(out))
        return sn_error_set(SN_ERR_IO, "cannot write the configuration: %s", strerror(errno));
    return SN_OK;
}

int sn_config_text(const sn_config *config, char **text)
{
    size_t size = 0;
    *text = NULL;
    FILE *memory = open_memstream(text, &size);
    if (!memory)
        return sn_error_set(SN_ERR_NOMEM, "out of memory for the configuration text");
    int status = sn_config_write(config, memory);
    if (fclose(memory) != 0 && status == SN_OK)
        status = sn_error_set(SN_ERR_NOMEM, "out of memory for the configuration text");
    if (status != SN_OK) {
        free(*text);
        *text = NULL;
    }
    return status;
}

int sn_config_key_result_neutral(const sn_config_key *key)
{
    static const char *const neutral[][2] = {
        {"data", "path"},                  /* the same images may move */
        {"data", "stream"},                /* same bits streamed or held (doc/data.md) */
        {"data", "prefetch"},
        {"run", "progress_seconds"},
        {"run", "metrics_interval_steps"}, /* what is reported, not what is trained */
        {"distributed", "reduce"},         /* same bits either way (doc/distributed.md) */
        {"distributed", "bucket_entries"},
        {"distributed", "check_interval"},
    };
    if (strcmp(key->section, "checkpoint") == 0)
        return 1;
    for (size_t i = 0; i < sizeof neutral / sizeof neutral[0]; i++)
        if (strcmp(key->section, neutral[i][0]) == 0 && strcmp(key->name, neutral[i][1]) == 0)
            return 1;
    return 0;
}

int sn_config_format_value(const sn_config *config, const sn_config_key *key, char *buffer,
                           size_t size)
{
    if (size < SN_CONFIG_TEXT_MAX + 32)
        return sn_error_set(SN_ERR_ARGUMENT, "configuration value buffer too small");
    format_value(buffer, size, key, config);
    return SN_OK;
}

const sn_config_key *sn_config_first_difference(const sn_config *a, const sn_config *b,
                                                int skip_neutral)
{
    char value_a[SN_CONFIG_TEXT_MAX + 32], value_b[SN_CONFIG_TEXT_MAX + 32];
    for (int k = 0; k < KEY_COUNT; k++) {
        const sn_config_key *key = &config_keys[k];
        if (skip_neutral && sn_config_key_result_neutral(key))
            continue;
        /* compared as written: the text a run directory's config.ini holds */
        format_value(value_a, sizeof value_a, key, a);
        format_value(value_b, sizeof value_b, key, b);
        if (strcmp(value_a, value_b) != 0)
            return key;
    }
    return NULL;
}

static const char *type_name(sn_config_type type)
{
    switch (type) {
    case SN_CONFIG_INT: return "integer";
    case SN_CONFIG_FLOAT: return "number";
    case SN_CONFIG_BOOL: return "boolean";
    case SN_CONFIG_TEXT: return "text";
    case SN_CONFIG_CHOICE: return "choice";
    case SN_CONFIG_INT_LIST: return "integer list";
    case SN_CONFIG_FLOAT_LIST: return "number list";
    }
    return "?";
}

/* Markdown table cells: a '|' would end the cell. */
static void put_cell(FILE *out, const char *text)
{
    for (; *text; text++) {
        if (*text == '|')
            fputc('\\', out);
        fputc(*text, out);
    }
}

int sn_config_write_reference(FILE *out)
{
    for (int s = 0; s < SECTION_COUNT; s++) {
        fprintf(out, "### [%s]\n\n%s\n\n", config_sections[s].name,
                config_sections[s].description);
        fprintf(out, "| Key | Type | Default | Allowed | Description |\n"
                     "|-----|------|---------|---------|-------------|\n");
        for (int k = 0; k < KEY_COUNT; k++) {
            const sn_config_key *key = &config_keys[k];
            if (strcmp(key->section, config_sections[s].name) != 0)
                continue;
            char allowed[160];
            format_allowed(allowed, sizeof allowed, key);
            fprintf(out, "| `%s` | %s | `", key->name, type_name(key->type));
            put_cell(out, key->default_value);
            fprintf(out, "` | ");
            put_cell(out, allowed);
            fprintf(out, " | ");
            put_cell(out, key->description);
            fprintf(out, " |\n");
        }
        if (s + 1 < SECTION_COUNT)
            fprintf(out, "\n");
    }
    if (fflush(out) != 0 || ferror(out))
        return sn_error_set(SN_ERR_IO, "cannot write the configuration reference: %s",
                            strerror(errno));
    return SN_OK;
}
