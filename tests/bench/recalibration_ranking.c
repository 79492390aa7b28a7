/* How much batch-norm recalibration the search's fitness needs: on a trained
 * CNN supernet run, the fitness of CANDIDATES subnets (accuracy on the first
 * FITNESS_IMAGES held-out images, as `shiftnas search` computes it) with
 * other recalibrations (fewer batches, other images, none, fewer fitness
 * images) against the full one ([search] recalibration_batches batches of
 * min(batch_size, eval_batch_size) images) and against four times as many:
 * Kendall's tau-b, whether the best candidate is the same, the fitness lost
 * by taking the variant's best, and CPU seconds per candidate. Candidates:
 * uniform draws whose MACs fall in [LOW, HIGH] (all of the space by
 * default), as near a search target. RANKING_VARIANTS=1,2,6 runs a subset
 * (positions in the table of variants below). Not a test: the figures
 * depend on the run (doc/algorithm.md has a table).
 *   make tests/bench/recalibration_ranking
 *   ./tests/bench/recalibration_ranking RUN_DIR [CANDIDATES [LOW HIGH [FITNESS_IMAGES]]] */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "shiftnas/error.h"
#include "shiftnas/format.h"
#include "shiftnas/network.h"
#include "shiftnas/rng.h"
#include "shiftnas/train.h"

static double cpu_seconds(void)
{
    struct timespec t;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static void check(int status, const char *what)
{
    if (status != SN_OK) {
        fprintf(stderr, "recalibration_ranking: %s: %s\n", what, sn_error_message());
        exit(1);
    }
}

/* Kendall's tau-b of x against y (ties in either are neither concordant
 * nor discordant, and scale the denominator). */
static double kendall_tau_b(const double *x, const double *y, int n)
{
    double concordant = 0, discordant = 0, ties_x = 0, ties_y = 0, pairs = 0;
    for (int i = 0; i < n; i++)
        for (int j = i + 1; j < n; j++) {
            double dx = x[i] - x[j], dy = y[i] - y[j];
            pairs++;
            if (dx == 0 && dy == 0)
                continue;
            if (dx == 0)
                ties_x++;
            else if (dy == 0)
                ties_y++;
            else if ((dx > 0) == (dy > 0))
                concordant++;
            else
                discordant++;
        }
    double both = 0; /* pairs tied in both count in each tie total */
    for (int i = 0; i < n; i++)
        for (int j = i + 1; j < n; j++)
            both += x[i] == x[j] && y[i] == y[j];
    double n1 = ties_x + both, n2 = ties_y + both;
    double denominator = sqrt((pairs - n1) * (pairs - n2));
    return denominator > 0 ? (concordant - discordant) / denominator : NAN;
}

static int argmax(const double *x, int n)
{
    int best = 0;
    for (int i = 1; i < n; i++)
        if (x[i] > x[best])
            best = i;
    return best;
}

/* Variants: batches x batch size; batches 0 = the training's own running
 * statistics (no recalibration), -1 = the fitness chunks' own batch
 * statistics (no recalibration pass, training-mode evaluation). */
typedef struct {
    int64_t batches, batch_size;
    int64_t offset; /* recalibration images from this position of the training split */
    int64_t images; /* fitness images (0: FITNESS_IMAGES) */
} variant;

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: recalibration_ranking RUN_DIR [CANDIDATES [LOW HIGH [FITNESS_IMAGES]]]\n");
        return 2;
    }
    int candidates = argc > 2 ? atoi(argv[2]) : 64;
    double low = 0, high = 1e18;
    if (argc > 4) {
        check(sn_macs_parse(argv[3], &low), "LOW");
        check(sn_macs_parse(argv[4], &high), "HIGH");
    }
    sn_trained_run run;
    check(sn_trained_run_open(&run, argv[1], NULL, 0), argv[1]);
    if (run.space->type != SN_SPACE_CNN) {
        fprintf(stderr, "recalibration_ranking: %s: not a CNN space (no batch norm)\n", argv[1]);
        return 1;
    }
    int64_t fitness_images = argc > 5 ? atoll(argv[5]) : run.config.evolution_validation_images;
    if (fitness_images <= 0 || fitness_images > run.split.validation_count)
        fitness_images = run.split.validation_count;
    sn_arch *archs = malloc((size_t)candidates * sizeof *archs);
    sn_rng_stream stream;
    sn_rng_stream_init(&stream, 7, SN_RNG_TEST, 0, 0);
    int64_t macs_sum = 0;
    for (int i = 0; i < candidates; i++) {
        int64_t macs;
        do {
            sn_arch_sample_uniform(run.space, &stream, &archs[i]);
            sn_arch_canonicalize(run.space, &archs[i]);
            macs = sn_space_cost(run.space, &archs[i]).macs;
        } while ((double)macs < low || (double)macs > high);
        macs_sum += macs;
    }
    int64_t full_batches = run.evaluator.recalibration_batches;
    int64_t full_size = run.evaluator.recalibration_batch_size;
    /* 0: today's; 1: today's on the next images (its own noise); 2: four
     * times today's (a finer reference) */
    variant variants[] = {{full_batches, full_size, 0, 0},
                          {full_batches, full_size, full_batches * full_size, 0},
                          {4 * full_batches, full_size, 0, 0},
                          {0, 0, 0, 0}, {1, 64, 0, 0}, {1, full_size, 0, 0}, {2, full_size, 0, 0},
                          {4, full_size, 0, 0},
                          {2, full_size, 0, fitness_images / 2}, {2, full_size, 0, fitness_images / 4},
                          {full_batches, full_size, 0, fitness_images / 2}};
    /* RANKING_VARIANTS=1,2,8: a subset (by position above; 0 always runs) */
    int wanted[16] = {1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1};
    const char *only = getenv("RANKING_VARIANTS");
    if (only) {
        for (int v = 1; v < 16; v++)
            wanted[v] = 0;
        for (const char *p = only; *p;) {
            int v = atoi(p);
            if (v >= 0 && v < 16)
                wanted[v] = 1;
            p = strchr(p, ',');
            if (!p)
                break;
            p++;
        }
    }
    int variant_count = (int)(sizeof variants / sizeof *variants);
    double *fitness = malloc((size_t)(variant_count * candidates) * sizeof *fitness);
    double *seconds = calloc((size_t)variant_count, sizeof *seconds);
    printf("run %s: %d candidates of %.3g M MACs on average (%s..%s), fitness on %lld images; "
           "reference: %lld batches of %lld images\n",
           argv[1], candidates, (double)macs_sum / candidates / 1e6, argc > 4 ? argv[3] : "all",
           argc > 4 ? argv[4] : "all", (long long)fitness_images, (long long)full_batches,
           (long long)full_size);
    /* the training's running statistics are lost at the first recalibration: first */
    int order[] = {3, 0, 1, 2, 4, 5, 6, 7, 8, 9, 10};
    for (int k = 0; k < variant_count; k++) {
        int v = order[k];
        if (!wanted[v]) {
            variants[v].batches = -2; /* not run */
            continue;
        }
        int64_t images = variants[v].images ? variants[v].images : fitness_images;
        sn_subnet_evaluator e = run.evaluator;
        e.recalibration_batches = variants[v].batches;
        e.recalibration_batch_size = variants[v].batch_size;
        e.train_indices += variants[v].offset;
        e.train_count -= variants[v].offset;
        double start = cpu_seconds();
        for (int i = 0; i < candidates; i++) {
            double loss, *value = &fitness[v * candidates + i];
            if (variants[v].batches <= 0) {
                check(sn_network_set_architecture(e.network, &archs[i]), "set");
                check(sn_evaluate_network(e.network, run.data.train_main, run.split.validation,
                                          images, e.chunk, variants[v].batches < 0,
                                          e.images, e.probs, e.labels, &loss, value),
                      "evaluate");
            } else {
                check(sn_evaluate_subnet(&e, &archs[i], run.data.train_main, run.split.validation,
                                         images, &loss, value),
                      "evaluate");
            }
        }
        seconds[v] = (cpu_seconds() - start) / candidates;
    }
    const double *reference = fitness, *finer = &fitness[2 * candidates];
    int best = argmax(reference, candidates);
    printf("| recalibration | images | tau-b vs today's | tau-b vs 4x today's | same best | "
           "today's fitness lost | CPU s per candidate |\n");
    printf("|---|---|---|---|---|---|---|\n");
    for (int v = 0; v < variant_count; v++) {
        const double *f = &fitness[v * candidates];
        char name[96];
        if (variants[v].batches == -2)
            continue;
        if (variants[v].batches == 0)
            snprintf(name, sizeof name, "none (training's statistics)");
        else if (variants[v].batches < 0)
            snprintf(name, sizeof name, "fitness chunks' own statistics");
        else
            snprintf(name, sizeof name, "%lld x %lld%s%s", (long long)variants[v].batches,
                     (long long)variants[v].batch_size,
                     variants[v].offset ? " (the next images)" : "",
                     variants[v].images == fitness_images / 2   ? ", half the fitness images"
                     : variants[v].images == fitness_images / 4 ? ", a quarter of the fitness images"
                                                                : "");
        int pick = argmax(f, candidates);
        printf("| %s | %lld | %.3f | %.3f | %s | %.4f | %.3f |\n", name,
               (long long)(variants[v].batches > 0 ? variants[v].batches * variants[v].batch_size : 0),
               kendall_tau_b(f, reference, candidates), kendall_tau_b(f, finer, candidates),
               pick == best ? "yes" : "no",
               reference[best] - reference[pick], seconds[v]);
    }
    free(archs);
    free(fitness);
    free(seconds);
    sn_trained_run_close(&run);
    return 0;
}
