/*
 * The trainer's checkpoints and stops (trainer_internal.h): after a step, a
 * checkpoint when the interval has come or a stop is asked for, and the
 * end of the session on a stop request; the complete checkpoint after the
 * last step. What a checkpoint holds is checkpointing.h's.
 */
#include "trainer_internal.h"

#include "shiftnas/checkpoint.h"
#include "shiftnas/error.h"

#include "run_directory.h"
#include "stop_request.h"

/* A checkpoint after `steps_done` steps, collective: rank 0 writes the
 * temporary file, the ranks agree, rank 0 publishes it (rename, then
 * `latest`), the ranks agree again. A failure anywhere fails every rank and
 * leaves `latest` naming the previous checkpoint. */
static int take_checkpoint(sn_trainer *t, int64_t steps_done, int complete)
{
    const sn_dist *dist = t->dist;
    sn_train_result *result = t->result;
    sn_training_state *state = &t->state;
    double begin = sn_now();
    state->steps_done = steps_done;
    state->epoch_loss = t->epoch_loss;
    state->epoch_steps = t->epoch_steps;
    state->interval_loss = t->interval_loss;
    state->interval_steps = t->interval_steps;
    state->images = result->images;
    state->train_seconds = result->train_seconds;
    state->run_seconds = sn_trainer_run_seconds(t);
    state->validation_loss = result->validation_loss;
    state->validation_accuracy = result->validation_accuracy;
    state->test_loss = result->test_loss;
    state->test_accuracy = result->test_accuracy;
    int64_t bytes = 0;
    int status = SN_OK;
    if (dist->rank == 0)
        status = sn_training_checkpoint_write(state, t->run_dir, dist->size, complete, t->run_log,
                                              t->metrics.file ? t->metrics.path : NULL, &bytes);
    SN_TRY(sn_dist_agree(dist, status));
    if (dist->rank == 0)
        status = sn_checkpoint_publish(t->run_dir, steps_done, (int)t->config->checkpoint_keep);
    SN_TRY(sn_dist_agree(dist, status));
    double seconds = sn_now() - begin;
    result->checkpoints++;
    result->checkpoint_seconds += seconds;
    result->checkpoint_bytes += bytes;
    if (t->out) {
        char path[1100];
        sn_checkpoint_path(path, sizeof path, t->run_dir, steps_done);
        fprintf(t->out, "checkpoint: step %lld%s -> %s (%.1f MB in %.2f s)\n",
                (long long)steps_done, complete ? " (training complete)" : "", path,
                (double)bytes / 1e6, seconds);
        fflush(t->out);
    }
    return SN_OK;
}

/* This rank's view of {a stop signal, a checkpoint due, the time budget
 * spent}: the step interval is a function of the step; rank 0's clock
 * decides the time interval and the budget. */
static void local_requests(const sn_trainer *t, int64_t step, int8_t requests[3])
{
    const sn_config *config = t->config;
    double now = sn_now();
    requests[0] = (int8_t)(sn_stop_request_signal() != 0);
    requests[1] = requests[2] = 0;
    if (config->checkpoint_interval_steps > 0 &&
        (step + 1) % config->checkpoint_interval_steps == 0)
        requests[1] = 1;
    if (t->writer && config->checkpoint_interval_seconds > 0 &&
        now - t->last_checkpoint >= config->checkpoint_interval_seconds)
        requests[1] = 1;
    if (t->writer && config->checkpoint_stop_after_seconds > 0 &&
        now - t->session_start >= config->checkpoint_stop_after_seconds)
        requests[2] = 1;
}

static void print_stop(const sn_trainer *t, int64_t step, int by_signal)
{
    char elapsed[32];
    sn_format_duration(elapsed, sizeof elapsed, sn_now() - t->session_start);
    if (by_signal)
        fprintf(t->out, "stopped after step %lld of %lld: stop requested by a signal "
                        "(SIGUSR1/SIGTERM); resume with: shiftnas train --resume %s\n",
                (long long)step + 1, (long long)t->total_steps, t->run_dir);
    else
        fprintf(t->out, "stopped after step %lld of %lld: [checkpoint] "
                        "stop_after_seconds = %g reached (%s); resume with: shiftnas "
                        "train --resume %s\n",
                (long long)step + 1, (long long)t->total_steps,
                t->config->checkpoint_stop_after_seconds, elapsed, t->run_dir);
    fflush(t->out);
}

int sn_trainer_checkpoint_or_stop(sn_trainer *t, int64_t step, int *stop)
{
    *stop = 0;
    /* The requests are decided the same on every rank: a signal on any
     * rank stops every rank. The last step's checkpoint is
     * sn_trainer_finish's. */
    if (step == t->total_steps - 1)
        return SN_OK;
    int8_t requests[3];
    local_requests(t, step, requests);
    if (t->dist->size > 1)
        SN_TRY(sn_dist_max_int8(t->dist, requests, 3));
    if (requests[0] || requests[1] || requests[2]) {
        sn_progress_break(&t->progress);
        SN_TRY(take_checkpoint(t, step + 1, 0));
        t->last_checkpoint = sn_now();
    }
    if (requests[0] || requests[2]) {
        t->result->stopped = 1;
        t->result->stop_signal = requests[0] ? sn_stop_request_signal() : 0;
        if (t->out)
            print_stop(t, step, requests[0]);
        *stop = 1;
    }
    return SN_OK;
}

int sn_trainer_write_final_model(sn_trainer *t)
{
    int status = SN_OK;
    if (t->writer)
        status = sn_run_directory_write_model(t->config, t->run_dir, t->total_steps, t->network,
                                              t->space != NULL ? &t->training : NULL);
    return sn_dist_agree(t->dist, status);
}

/* The complete checkpoint first, then model.h5: when model.h5 cannot be
 * written (a full disk), the trained run is safe in the checkpoint and
 * `train --resume` writes model.h5 from it (sn_trainer_start). */
int sn_trainer_finish(sn_trainer *t)
{
    if (t->result->stopped)
        return SN_OK;
    SN_TRY(take_checkpoint(t, t->total_steps, 1));
    return sn_trainer_write_final_model(t);
}
