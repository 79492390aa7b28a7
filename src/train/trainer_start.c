/*
 * Where a run starts (trainer_internal.h): step 0, or the checkpoint
 * `latest` names for a resumed run; the run's files for the steps to come;
 * the opening lines; the loop's counters and the first batch.
 */
#include "trainer_internal.h"

#include <string.h>

#include "shiftnas/error.h"

#include "run_directory.h"

/* What a checkpoint holds, by pointer into the trainer. */
static void bind_state(sn_trainer *t)
{
    sn_training_state *state = &t->state;
    state->config = t->config;
    state->network = t->network;
    state->optimizer = &t->optimizer;
    state->training = t->space != NULL ? &t->training : NULL;
    state->normalization = &t->data.pipeline.normalization;
    state->train_count = t->split.train_count;
    state->validation_count = t->split.validation_count;
    state->test_count = t->data.test_count;
    state->steps_per_epoch = t->steps_per_epoch;
    state->total_steps = t->total_steps;
}

/* A resumed run: rank 0 finds the checkpoint, every rank restores it.
 * *complete says whether its training had finished. */
static int restore_checkpoint(sn_trainer *t, int *complete)
{
    const sn_dist *dist = t->dist;
    int status = SN_OK, found = 0;
    char note[1536] = "";
    if (t->writer)
        status = sn_run_directory_find_checkpoint(t->run_dir, t->resume_strict, t->checkpoint_path,
                                                  sizeof t->checkpoint_path, &found, note,
                                                  sizeof note);
    SN_TRY(sn_dist_agree(dist, status));
    if (t->out && note[0] != '\0') {
        fprintf(t->out, "shiftnas train: warning: %s\n", note);
        fflush(t->out);
    }
    /* rank 0's choice is every rank's: all read the same file */
    SN_TRY(sn_dist_broadcast(dist, t->checkpoint_path, sizeof t->checkpoint_path, 0));
    if (t->checkpoint_path[0] != '\0')
        status = sn_training_checkpoint_read(&t->state, t->checkpoint_path, complete);
    return sn_dist_agree(dist, status);
}

static int64_t count_parameters(const sn_parameter_table *table)
{
    int64_t n = 0;
    for (int i = 0; i < table->count; i++)
        n += (int64_t)table->entries[i].count;
    return n;
}

static void print_checkpoint_plan(FILE *out, const sn_config *config, const char *run_dir)
{
    fprintf(out, "checkpoints: %s/checkpoints, every ", run_dir);
    if (config->checkpoint_interval_steps > 0)
        fprintf(out, "%lld steps%s", (long long)config->checkpoint_interval_steps,
                config->checkpoint_interval_seconds > 0 ? " or " : "");
    if (config->checkpoint_interval_seconds > 0)
        fprintf(out, "%g s", config->checkpoint_interval_seconds);
    if (config->checkpoint_interval_steps <= 0 && config->checkpoint_interval_seconds <= 0)
        fprintf(out, "... never (only at the end and on a stop request)");
    fprintf(out, ", keeping %lld", (long long)config->checkpoint_keep);
    if (config->checkpoint_stop_after_seconds > 0)
        fprintf(out, "; stops with a checkpoint after %g s", config->checkpoint_stop_after_seconds);
    fprintf(out, "; SIGUSR1/SIGTERM: checkpoint and exit 75\n");
}

/* The network, the ranks and shards, the supernet's strategy. */
static void print_model_lines(const sn_trainer *t, FILE *out)
{
    const sn_config *config = t->config;
    const sn_shard_plan *plan = &t->dp.plan;
    fprintf(out, "shiftnas train: %s network, %lld parameters, %.2f MMACs/image; BLIS kernels %s, %lld thread(s)\n",
            config->model_type, (long long)count_parameters(t->table),
            (double)sn_network_macs(t->network) / 1e6, sn_blas_kernel_name(),
            (long long)config->threads);
    fprintf(out, "ranks: %d, each with %lld BLIS thread(s); %d shards of %lld-%lld images "
                 "(the same bits at any rank count up to %d)\n",
            t->dist->size, (long long)config->threads, plan->shards,
            (long long)sn_shard_size(plan, plan->shards - 1), (long long)sn_shard_size(plan, 0),
            plan->shards);
    if (t->space == NULL)
        return;
    const sn_supernet_training *training = &t->training;
    const sn_buckets *buckets = &training->sampler.buckets;
    fprintf(out, "supernet: strategy %s; %d buckets over %.3gM..%.3gM MACs",
            config->search_strategy, buckets->count, (double)buckets->edge[0] / 1e6,
            (double)buckets->edge[buckets->count] / 1e6);
    if (training->have_shift)
        fprintf(out, "; probability updates every %d steps after step %lld (%s%s%s)",
                training->shift.options.interval, (long long)training->shift.options.warmup,
                config->shift_statistic,
                training->shift.options.statistic == SN_SHIFT_LOSS_CHANGE ? ", " : "",
                training->shift.options.statistic == SN_SHIFT_LOSS_CHANGE ? config->shift_estimator
                                                                           : "");
    fprintf(out, "\n");
}

/* The data, the schedule, the checkpoints, where the run starts. */
static void print_run_lines(const sn_trainer *t, FILE *out)
{
    const sn_config *config = t->config;
    const sn_input_shape *shape = &t->shape;
    fprintf(out, "data: %s (%lld train, %lld validation, %lld test images of %dx%dx%d, %d classes)\n",
            config->path, (long long)t->split.train_count, (long long)t->split.validation_count,
            (long long)t->data.test_count, shape->channels, shape->height, shape->width,
            shape->classes);
    fprintf(out, "schedule: %d epoch(s) of %lld steps, batch %lld, %s lr %.3g, run directory %s\n",
            t->epochs, (long long)t->steps_per_epoch, (long long)t->batch, config->optimizer,
            config->learning_rate, t->run_dir);
    print_checkpoint_plan(out, config, t->run_dir);
    if (t->checkpoint_path[0] != '\0')
        fprintf(out, "resumed: step %lld of %lld from %s\n", (long long)t->state.steps_done,
                (long long)t->total_steps, t->checkpoint_path);
    else if (t->resume)
        fprintf(out, "resumed: no checkpoint in %s/checkpoints yet; starting from step 0\n",
                t->run_dir);
}

/* The loop's counters and the result, from step 0 or the checkpoint. */
static void start_counters(sn_trainer *t)
{
    const sn_training_state *state = &t->state;
    sn_train_result *result = t->result;
    t->first_step = state->steps_done;
    sn_progress_init(&t->progress, t->out, t->config->progress_seconds, t->first_step,
                     t->total_steps, t->epochs);
    /* mpirun hands rank 0 a pseudo-terminal whatever its own output is (a
     * log file, most often): under a launcher, plain lines. */
    if (t->dist->mpi) {
        t->progress.terminal = 0;
        t->progress.interval = t->config->progress_seconds;
    }
    t->start = sn_now();
    t->last_checkpoint = t->start;
    t->epoch_loss = state->epoch_loss;
    t->epoch_steps = state->epoch_steps;
    t->interval_loss = state->interval_loss;
    t->interval_steps = state->interval_steps;
    result->images = state->images;
    result->train_seconds = state->train_seconds;
    result->validation_loss = state->validation_loss;
    result->validation_accuracy = state->validation_accuracy;
    result->test_loss = state->test_loss;
    result->test_accuracy = state->test_accuracy;
    result->first_step = t->first_step;
    t->session_train_seconds = result->train_seconds;
    t->session_run_seconds = state->run_seconds;
    result->steps = t->first_step;
}

int sn_trainer_start(sn_trainer *t)
{
    bind_state(t);
    int complete = 0;
    if (t->resume)
        SN_TRY(restore_checkpoint(t, &complete));
    int status = SN_OK;
    if (t->writer && !complete)
        status = sn_run_directory_open_files(t->run_dir, t->checkpoint_path,
                                             t->checkpoint_path[0] != '\0', t->resume, t->config,
                                             t->space != NULL ? &t->training : NULL, &t->metrics,
                                             &t->run_log);
    SN_TRY(sn_dist_agree(t->dist, status));
    t->training.log = t->run_log;
    if (complete) {
        /* Finished, but model.h5 may have failed after the complete
         * checkpoint (sn_trainer_finish): write it from the checkpoint. */
        int current = t->writer ? sn_run_directory_model_is_current(t->run_dir, t->total_steps) : 1;
        SN_TRY(sn_dist_broadcast(t->dist, &current, sizeof current, 0)); /* rank 0's answer */
        if (!current)
            SN_TRY(sn_trainer_write_final_model(t));
        if (t->out) {
            fprintf(t->out, "shiftnas train: %s already finished (step %lld of %lld, %s); %s\n",
                    t->run_dir, (long long)t->state.steps_done, (long long)t->total_steps,
                    t->checkpoint_path, current ? "nothing to do" : "model.h5 written from it");
            fflush(t->out);
        }
        t->result->steps = t->state.steps_done;
        t->result->already_complete = 1;
        return SN_OK;
    }
    if (t->out) {
        print_model_lines(t, t->out);
        print_run_lines(t, t->out);
        fflush(t->out);
    }
    start_counters(t);
    /* Step t trains on buffer t % 2 while the prefetcher (if any) fills
     * step t + 1's batch into the other; without one, each batch is filled
     * in its step. */
    t->feed.source = t->data.train;
    if (t->config->prefetch)
        status = sn_prefetcher_start(&t->feed.prefetcher, t->data.train);
    SN_TRY(sn_dist_agree(t->dist, status));
    if (t->first_step < t->total_steps)
        sn_trainer_request_batch(t, t->first_step);
    return SN_OK;
}
