/*
 * The end of an epoch (trainer_internal.h): the evaluations, their
 * metrics.csv rows and the epoch's line, and model.h5. A fixed network is
 * evaluated as it is; a supernet by its largest and smallest subnets (or
 * its one subnet, strategy fixed), each after batch-norm recalibration.
 * Every rank evaluates (the same bits everywhere); rank 0 writes.
 */
#include "trainer_internal.h"

#include <math.h>

#include "shiftnas/error.h"

#include "run_directory.h"

int sn_trainer_epoch_ends(const sn_trainer *t, int64_t step)
{
    return step % t->steps_per_epoch == t->steps_per_epoch - 1 || step == t->total_steps - 1;
}

/* ---- a fixed network ------------------------------------------------------------ */

/* Mean cross-entropy (no smoothing) and accuracy over the given images, in
 * evaluation mode, in chunks. */
static int evaluate(sn_trainer *t, sn_image_source *source, const uint32_t *indices,
                    int64_t count, double *loss, double *accuracy)
{
    sn_trainer_buffers *b = &t->buffers;
    return sn_evaluate_network(t->network, source, indices, count, t->chunk, 0, b->images,
                               b->probs, b->labels, loss, accuracy);
}

/* Validation and test figures (rows "val" and "test"), then model.h5. */
static int finish_fixed_epoch(sn_trainer *t, int64_t step, int epoch, double elapsed)
{
    sn_train_result *r = t->result;
    int status = SN_OK;
    if (t->split.validation_count > 0) {
        status = evaluate(t, t->data.train_main, t->split.validation, t->split.validation_count,
                          &r->validation_loss, &r->validation_accuracy);
        if (t->writer && status == SN_OK)
            status = sn_metrics_append(&t->metrics, step + 1, epoch + 1, "val", r->validation_loss,
                                       r->validation_accuracy, r->images, elapsed);
    }
    if (status == SN_OK)
        status = evaluate(t, t->data.test, t->buffers.test_indices, t->data.test_count,
                          &r->test_loss, &r->test_accuracy);
    if (t->writer && status == SN_OK)
        status = sn_metrics_append(&t->metrics, step + 1, epoch + 1, "test", r->test_loss,
                                   r->test_accuracy, r->images, elapsed);
    /* After the last step model.h5 follows the final checkpoint
     * (sn_trainer_finish), so that a failure to write it loses nothing. */
    if (t->writer && status == SN_OK && step < t->total_steps - 1)
        status = sn_run_directory_write_model(t->config, t->run_dir, step + 1, t->network, NULL);
    return status;
}

static void print_fixed_epoch(const sn_trainer *t, int epoch)
{
    const sn_train_result *r = t->result;
    fprintf(t->out, "epoch %d/%d done: train loss %.4f | val loss %.4f acc %.4f | test loss %.4f acc %.4f\n",
            epoch + 1, t->epochs, r->final_train_loss, r->validation_loss, r->validation_accuracy,
            r->test_loss, r->test_accuracy);
    fflush(t->out);
}

/* ---- a supernet ------------------------------------------------------------------ */

/* The figures of a supernet's largest and smallest subnets on `split`
 * ("val" or "test"), each after batch-norm recalibration, with their
 * metrics rows (rank 0). */
static int evaluate_supernet_ends(sn_trainer *t, sn_image_source *source,
                                  const uint32_t *indices, int64_t count, const char *split,
                                  int64_t step, int epoch, double elapsed, double loss[2],
                                  double accuracy[2])
{
    const sn_supernet_training *training = &t->training;
    sn_arch ends[2];
    sn_arch_largest(t->space, &ends[0]);
    sn_arch_smallest(t->space, &ends[1]);
    const char *names[2] = {"largest", "smallest"};
    int count_ends = 2;
    if (training->strategy == SN_STRATEGY_FIXED) {
        /* Only the trained subnet has trained weights: the ends would say
         * nothing. Its figures go in the "largest" slot of the result. */
        ends[0] = training->fixed_subnet;
        names[0] = "subnet";
        count_ends = 1;
        loss[1] = accuracy[1] = NAN;
    }
    for (int i = 0; i < count_ends; i++) {
        SN_TRY(sn_evaluate_subnet(&t->evaluator, &ends[i], source, indices, count, &loss[i],
                                  &accuracy[i]));
        char label[32];
        snprintf(label, sizeof label, "%s-%s", split, names[i]);
        if (t->metrics.file)
            SN_TRY(sn_metrics_append(&t->metrics, step, epoch, label, loss[i], accuracy[i],
                                     t->result->images, elapsed));
    }
    return SN_OK;
}

static void print_supernet_epoch(const sn_trainer *t, int epoch, const double accuracy[2])
{
    if (t->training.strategy == SN_STRATEGY_FIXED)
        fprintf(t->out, "epoch %d/%d done: train loss %.4f | val acc %.4f\n", epoch + 1,
                t->epochs, t->result->final_train_loss, accuracy[0]);
    else
        fprintf(t->out, "epoch %d/%d done: train loss %.4f | val acc largest %.4f smallest %.4f\n",
                epoch + 1, t->epochs, t->result->final_train_loss, accuracy[0], accuracy[1]);
    fflush(t->out);
}

static void print_supernet_test(const sn_trainer *t, const double accuracy[2])
{
    if (t->training.strategy == SN_STRATEGY_FIXED)
        fprintf(t->out, "test: subnet acc %.4f\n", accuracy[0]);
    else
        fprintf(t->out, "test: largest subnet acc %.4f, smallest %.4f\n", accuracy[0],
                accuracy[1]);
    fflush(t->out);
}

/* Validation figures, test figures after the last step, log.h5 flushed and
 * model.h5. */
static int finish_supernet_epoch(sn_trainer *t, int64_t step, int epoch, double elapsed)
{
    sn_train_result *r = t->result;
    double loss[2] = {0, 0}, accuracy[2] = {0, 0};
    if (t->split.validation_count > 0) {
        SN_TRY(evaluate_supernet_ends(t, t->data.train_main, t->split.validation,
                                      t->split.validation_count, "val", step + 1, epoch + 1,
                                      elapsed, loss, accuracy));
        r->validation_loss = loss[0];
        r->validation_accuracy = accuracy[0];
    }
    if (t->out)
        print_supernet_epoch(t, epoch, accuracy);
    if (step == t->total_steps - 1) {
        SN_TRY(evaluate_supernet_ends(t, t->data.test, t->buffers.test_indices,
                                      t->data.test_count, "test", step + 1, epoch + 1, elapsed,
                                      loss, accuracy));
        r->test_loss = loss[0];
        r->test_accuracy = accuracy[0];
        if (t->out)
            print_supernet_test(t, accuracy);
    }
    if (!t->writer)
        return SN_OK;
    if (t->training.log)
        SN_TRY(sn_run_log_flush(t->training.log));
    if (step == t->total_steps - 1)
        return SN_OK; /* model.h5 follows the final checkpoint (sn_trainer_finish) */
    return sn_run_directory_write_model(t->config, t->run_dir, step + 1, t->network,
                                        &t->training);
}

/* ---- either ---------------------------------------------------------------------- */

int sn_trainer_end_epoch(sn_trainer *t, int64_t step)
{
    int epoch = (int)(step / t->steps_per_epoch);
    sn_progress_break(&t->progress);
    double elapsed = sn_now() - t->start;
    t->result->final_train_loss = t->epoch_loss / (double)t->epoch_steps;
    if (t->space != NULL)
        return sn_dist_agree(t->dist, finish_supernet_epoch(t, step, epoch, elapsed));
    SN_TRY(sn_dist_agree(t->dist, finish_fixed_epoch(t, step, epoch, elapsed)));
    if (t->out)
        print_fixed_epoch(t, epoch);
    return SN_OK;
}
