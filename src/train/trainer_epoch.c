/*
 * The end of an epoch (trainer_internal.h): the evaluations, their
 * metrics.csv rows and the epoch's line, and model.h5. A fixed network is
 * evaluated as it is; a supernet by its largest and smallest subnets (or
 * its one subnet, strategy fixed), each after batch-norm recalibration.
 * The evaluations' images are split over the ranks, which add the chunks'
 * figures in one order (subnet_evaluation.h): the same bits at any rank
 * count, on every rank; rank 0 writes.
 */
#include "trainer_internal.h"

#include <math.h>
#include <string.h>

#include "shiftnas/error.h"

#include "run_directory.h"
#include "subnet_evaluation.h"

int sn_trainer_epoch_ends(const sn_trainer *t, int64_t step)
{
    return step % t->steps_per_epoch == t->steps_per_epoch - 1 || step == t->total_steps - 1;
}

/* ---- a fixed network ------------------------------------------------------------ */

/* Mean cross-entropy (no smoothing) and accuracy over the given images, in
 * evaluation mode, in chunks split over the ranks. Collective. */
static int evaluate(sn_trainer *t, sn_image_source *source, const uint32_t *indices,
                    int64_t count, double *loss, double *accuracy)
{
    sn_trainer_buffers *b = &t->buffers;
    return sn_evaluate_network_split(&t->evaluation, t->network, source, indices, count, t->chunk,
                                     0, b->images, b->probs, b->labels, loss, accuracy);
}

/* Validation and test figures (rows "val" and "test"), then model.h5. The
 * evaluations are collective: every rank runs both before rank 0 writes. */
static int finish_fixed_epoch(sn_trainer *t, int64_t step, int epoch, double elapsed)
{
    sn_train_result *r = t->result;
    if (t->split.validation_count > 0)
        SN_TRY(evaluate(t, t->data.train_main, t->split.validation, t->split.validation_count,
                        &r->validation_loss, &r->validation_accuracy));
    SN_TRY(evaluate(t, t->data.test, t->buffers.test_indices, t->data.test_count, &r->test_loss,
                    &r->test_accuracy));
    if (!t->writer)
        return SN_OK;
    if (t->split.validation_count > 0)
        SN_TRY(sn_metrics_append(&t->metrics, step + 1, epoch + 1, "val", r->validation_loss,
                                 r->validation_accuracy, r->images, elapsed));
    SN_TRY(sn_metrics_append(&t->metrics, step + 1, epoch + 1, "test", r->test_loss,
                             r->test_accuracy, r->images, elapsed));
    /* After the last step model.h5 follows the final checkpoint
     * (sn_trainer_finish), so that a failure to write it loses nothing. */
    if (step < t->total_steps - 1)
        return sn_run_directory_write_model(t->config, t->run_dir, step + 1, t->network, NULL);
    return SN_OK;
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

/* What a supernet's epoch end evaluates: its largest and smallest subnets
 * (or its one subnet, strategy fixed), on validation and, after the last
 * step, test images. figures[split][end], split 0 "val", 1 "test". */
typedef struct {
    sn_arch ends[2];
    const char *names[2];
    int count;
    int splits[2];                  /* 1: evaluated */
    double loss[2][2], accuracy[2][2];
} sn_epoch_figures;

static void plan_figures(const sn_trainer *t, int64_t step, sn_epoch_figures *f)
{
    const sn_supernet_training *training = &t->training;
    memset(f, 0, sizeof *f);
    sn_arch_largest(t->space, &f->ends[0]);
    sn_arch_smallest(t->space, &f->ends[1]);
    f->names[0] = "largest";
    f->names[1] = "smallest";
    f->count = 2;
    if (training->strategy == SN_STRATEGY_FIXED) {
        /* Only the trained subnet has trained weights: the ends would say
         * nothing. Its figures go in the "largest" slot of the result. */
        f->ends[0] = training->fixed_subnet;
        f->names[0] = "subnet";
        f->count = 1;
        for (int split = 0; split < 2; split++)
            f->loss[split][1] = f->accuracy[split][1] = NAN;
    }
    f->splits[0] = t->split.validation_count > 0;
    f->splits[1] = step == t->total_steps - 1;
}

/* Every figure of the plan, end by end: one batch-norm recalibration per
 * subnet serves its validation and test evaluations (the same statistics
 * as recalibrating again: the same weights and images), and the images are
 * split over the ranks. Collective; the state it leaves (the last end's
 * subnet and statistics) is the one evaluating split by split left. */
static int evaluate_figures(sn_trainer *t, sn_epoch_figures *f)
{
    sn_image_source *sources[2] = {t->data.train_main, t->data.test};
    const uint32_t *indices[2] = {t->split.validation, t->buffers.test_indices};
    int64_t counts[2] = {t->split.validation_count, t->data.test_count};
    for (int i = 0; i < f->count; i++) {
        if (!f->splits[0] && !f->splits[1])
            break;
        SN_TRY(sn_dist_agree(t->dist, sn_subnet_evaluator_prepare(&t->evaluator, &f->ends[i])));
        for (int split = 0; split < 2; split++)
            if (f->splits[split])
                SN_TRY(sn_evaluate_prepared_subnet_split(&t->evaluation, &t->evaluator,
                                                         sources[split], indices[split],
                                                         counts[split], &f->loss[split][i],
                                                         &f->accuracy[split][i]));
    }
    return SN_OK;
}

/* Rank 0's metrics rows of one split, "val-largest", ... */
static int append_figures(sn_trainer *t, const sn_epoch_figures *f, int split, int64_t step,
                          int epoch, double elapsed)
{
    for (int i = 0; i < f->count; i++) {
        char label[32];
        snprintf(label, sizeof label, "%s-%s", split == 0 ? "val" : "test", f->names[i]);
        SN_TRY(sn_metrics_append(&t->metrics, step, epoch, label, f->loss[split][i],
                                 f->accuracy[split][i], t->result->images, elapsed));
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
    sn_epoch_figures f;
    plan_figures(t, step, &f);
    SN_TRY(evaluate_figures(t, &f));
    if (f.splits[0]) {
        r->validation_loss = f.loss[0][0];
        r->validation_accuracy = f.accuracy[0][0];
        if (t->metrics.file)
            SN_TRY(append_figures(t, &f, 0, step + 1, epoch + 1, elapsed));
    }
    if (t->out)
        print_supernet_epoch(t, epoch, f.accuracy[0]);
    if (f.splits[1]) {
        r->test_loss = f.loss[1][0];
        r->test_accuracy = f.accuracy[1][0];
        if (t->metrics.file)
            SN_TRY(append_figures(t, &f, 1, step + 1, epoch + 1, elapsed));
        if (t->out)
            print_supernet_test(t, f.accuracy[1]);
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
    double elapsed = sn_trainer_run_seconds(t);
    t->result->final_train_loss = t->epoch_loss / (double)t->epoch_steps;
    if (t->space != NULL)
        return sn_dist_agree(t->dist, finish_supernet_epoch(t, step, epoch, elapsed));
    SN_TRY(sn_dist_agree(t->dist, finish_fixed_epoch(t, step, epoch, elapsed)));
    if (t->out)
        print_fixed_epoch(t, epoch);
    return SN_OK;
}
