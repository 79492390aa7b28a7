/*
 * The trainer's closing lines (trainer_internal.h), printed by rank 0: the
 * session's time and throughput, the probability shift's cost and final
 * probabilities, the checkpoints' cost, the phases per step over all ranks
 * and the largest peak memory.
 */
#include "trainer_internal.h"

#include <sys/resource.h>

#include "shiftnas/error.h"

/* Peak resident memory of this process in MB. */
static double peak_resident_mb(void)
{
    struct rusage usage;
    if (getrusage(RUSAGE_SELF, &usage) != 0)
        return 0;
    return (double)usage.ru_maxrss / 1024.0;
}

/* The run's phases per step (mean over ranks; waiting also as the largest
 * rank's) and the largest peak memory, printed by rank 0. Collective. */
static int report_phases(const sn_dist *dist, const sn_data_parallel *dp, FILE *out)
{
    enum { FIELDS = 8 };
    const sn_phase_times *t = &dp->times;
    double mine[FIELDS] = {t->compute, t->waiting, t->reduce, t->coordinator, t->other, t->bytes,
                           peak_resident_mb(), t->input};
    double all[FIELDS * 1024];
    if (dist->size > 1024)
        return SN_OK;
    int counts[1024];
    for (int r = 0; r < dist->size; r++)
        counts[r] = FIELDS;
    SN_TRY(sn_dist_gather_doubles(dist, mine, counts, all));
    if (!out || t->steps == 0)
        return SN_OK;
    double mean[FIELDS] = {0}, largest[FIELDS] = {0};
    for (int r = 0; r < dist->size; r++)
        for (int f = 0; f < FIELDS; f++) {
            mean[f] += all[r * FIELDS + f] / dist->size;
            if (all[r * FIELDS + f] > largest[f])
                largest[f] = all[r * FIELDS + f];
        }
    double per = 1000.0 / (double)t->steps;
    fprintf(out,
            "phases per step (mean of %d rank(s)): compute %.1f ms, waiting %.1f ms (largest "
            "%.1f), all-reduce %.1f ms (%.2f MB per rank), coordinator %.1f ms, other %.1f ms\n",
            dist->size, mean[0] * per, mean[1] * per, largest[1] * per, mean[2] * per,
            mean[5] / (double)t->steps / 1e6, mean[3] * per, mean[4] * per);
    double step_ms = (mean[0] + mean[1] + mean[2] + mean[3] + mean[4] + mean[7]) * per;
    fprintf(out, "input: %.2f ms per step waiting for the batch (largest rank %.2f), %.1f%% of the "
                 "step\n",
            mean[7] * per, largest[7] * per, step_ms > 0 ? 100.0 * mean[7] * per / step_ms : 0.0);
    fprintf(out, "memory: peak resident %.0f MB per rank (largest rank)\n", largest[6]);
    return SN_OK;
}

/* "done: N steps in T (R training img/s); test accuracy A" and, for
 * shift, the probability updates' cost and the final probabilities. */
static void print_result(const sn_trainer *t, FILE *out)
{
    const sn_train_result *result = t->result;
    const sn_supernet_training *training = &t->training;
    char elapsed[32];
    sn_format_duration(elapsed, sizeof elapsed, result->seconds);
    /* A stopped run may not have evaluated the test set yet: a supernet's
     * ends are tested after the last step, a fixed network's at each
     * epoch's end. Never print a figure for an evaluation that did not run. */
    int tested = !result->stopped || (t->space == NULL && result->steps >= t->steps_per_epoch);
    char test[96];
    if (tested)
        snprintf(test, sizeof test, "test accuracy %.4f%s", result->test_accuracy,
                 t->space == NULL                            ? ""
                 : training->strategy == SN_STRATEGY_FIXED ? " (the subnet)"
                                                             : " (largest subnet)");
    else
        snprintf(test, sizeof test, "test set not evaluated yet (%s)",
                 t->space == NULL ? "after the first epoch" : "after the last step");
    fprintf(out, "%s: %lld steps in %s (%.0f training img/s); %s\n", result->stopped ? "stopped" : "done",
            (long long)result->steps, elapsed,
            result->train_seconds > 0 ? (double)result->images / result->train_seconds : 0.0, test);
    if (training->have_shift) {
        fprintf(out, "probability updates: %lld in %.1f s, %.1f%% of the training time; "
                     "final p = [",
                (long long)training->updates, training->update_seconds,
                100.0 * training->update_seconds /
                    (result->train_seconds > 0 ? result->train_seconds : 1.0));
        for (int k = 0; k < training->shift.count; k++)
            fprintf(out, "%s%.3f", k ? " " : "", training->shift.probability[k]);
        fprintf(out, "]\n");
    }
    fflush(out);
}

/* The checkpoints this session wrote: their time against this session's
 * training time, their size. */
static void print_checkpoints(const sn_trainer *t, FILE *out)
{
    const sn_train_result *result = t->result;
    double session_seconds = result->train_seconds - t->session_train_seconds;
    fprintf(out, "checkpoints: %lld written in %.2f s, %.2f%% of the training time; "
                 "%.1f MB each; latest %s/checkpoints/latest\n",
            (long long)result->checkpoints, result->checkpoint_seconds,
            100.0 * result->checkpoint_seconds / (session_seconds > 0 ? session_seconds : 1.0),
            (double)result->checkpoint_bytes / (double)result->checkpoints / 1e6, t->run_dir);
    fflush(out);
}

int sn_trainer_summary(sn_trainer *t)
{
    sn_train_result *result = t->result;
    result->seconds = sn_now() - t->start;
    if (t->out)
        print_result(t, t->out);
    if (t->out && result->checkpoints > 0)
        print_checkpoints(t, t->out);
    int status = report_phases(t->dist, &t->dp, t->out);
    if (t->out && t->space != NULL && status == SN_OK && !result->stopped) {
        fprintf(t->out, "next: shiftnas search %s --targets <MACs,...>\n", t->run_dir);
        fflush(t->out);
    }
    return status;
}
