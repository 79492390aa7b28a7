/*
 * Progress lines that read well both on a terminal (one live line, redrawn)
 * and in a Slurm log (a full line every few seconds, nothing else):
 *   epoch 2/5 step 612/2145 (28.5%) loss 0.4123 lr 1.84e-03 1504 img/s eta 1m42s
 */
#include "shiftnas/train.h"

#include <stdio.h>
#include <time.h>
#include <unistd.h>

double sn_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

void sn_format_duration(char *buffer, size_t size, double seconds)
{
    if (seconds < 0 || seconds != seconds)
        seconds = 0;
    long s = (long)(seconds + 0.5);
    if (s >= 3600)
        snprintf(buffer, size, "%ldh%02ldm", s / 3600, (s % 3600) / 60);
    else if (s >= 60)
        snprintf(buffer, size, "%ldm%02lds", s / 60, s % 60);
    else
        snprintf(buffer, size, "%lds", s);
}

void sn_progress_init(sn_progress *progress, FILE *out, double log_interval_seconds,
                      int64_t first_step, int64_t total_steps, int epochs)
{
    progress->out = out;
    progress->terminal = out && isatty(fileno(out));
    progress->interval = progress->terminal ? 0.25 : log_interval_seconds;
    progress->start = progress->last_print = sn_now();
    progress->first_step = first_step;
    progress->total_steps = total_steps;
    progress->window_images = progress->window_steps = 0;
    progress->window_loss = 0;
    progress->epochs = epochs;
}

void sn_progress_step(sn_progress *progress, int64_t step, int epoch, double loss, double lr,
                      int64_t images)
{
    progress->window_images += images;
    progress->window_steps++;
    progress->window_loss += loss;
    double now = sn_now();
    int last = step + 1 >= progress->total_steps;
    if (!progress->out || (now - progress->last_print < progress->interval && !last))
        return;
    double window = now - progress->last_print;
    double rate = window > 0 ? (double)progress->window_images / window : 0.0;
    int64_t done = step + 1 - progress->first_step;
    double per_step = done > 0 ? (now - progress->start) / (double)done : 0.0;
    char eta[32], elapsed[32];
    sn_format_duration(eta, sizeof eta, per_step * (double)(progress->total_steps - step - 1));
    sn_format_duration(elapsed, sizeof elapsed, now - progress->start);
    fprintf(progress->out,
            "%sepoch %d/%d step %lld/%lld (%.1f%%) loss %.4f lr %.2e %.0f img/s elapsed %s eta %s%s",
            progress->terminal ? "\r\033[K" : "", epoch + 1, progress->epochs,
            (long long)(step + 1), (long long)progress->total_steps,
            100.0 * (double)(step + 1) / (double)progress->total_steps,
            progress->window_loss / (double)progress->window_steps, lr, rate, elapsed, eta,
            progress->terminal ? "" : "\n");
    fflush(progress->out);
    progress->last_print = now;
    progress->window_images = progress->window_steps = 0;
    progress->window_loss = 0;
}

void sn_progress_break(sn_progress *progress)
{
    if (progress->out && progress->terminal) {
        fputc('\n', progress->out);
        fflush(progress->out);
    }
}
