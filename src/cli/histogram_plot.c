/* The space command's histogram plot (histogram_plot.h). */
#include "histogram_plot.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "canvas.h"

/* Margins around the plot area (pixels): the title above it, the y tick
 * labels and the turned y label left of it, the x tick labels and the x
 * label below it. Text is drawn at twice the font's size (10x14 capitals). */
enum { LEFT = 92, RIGHT = 24, TOP = 44, BOTTOM = 56, SCALE = 2, TICK = 6 };

static const sn_color black = {0, 0, 0}, grid = {221, 221, 221}, bar = {52, 101, 164},
                      count_color = {90, 90, 90};

typedef struct {
    sn_canvas canvas;
    double lo, span;    /* MACs at the left end of the x axis, and its length */
    double top_percent; /* the share at the top of the y axis */
    int width, height;  /* of the plot area */
    int base;           /* the row of the x axis */
} chart;

static int x_of(const chart *c, double macs)
{
    return LEFT + (int)lround((macs - c->lo) / c->span * c->width);
}

static int y_of(const chart *c, double percent)
{
    return c->base - (int)lround(percent / c->top_percent * c->height);
}

/* The smallest step of 1, 2, 2.5 or 5 times a power of ten that cuts
 * range into at most `intervals` pieces. */
static double nice_step(double range, int intervals)
{
    static const double factors[] = {1, 2, 2.5, 5, 10};
    double raw = range / intervals;
    double power = pow(10, floor(log10(raw)));
    for (size_t f = 0; f < sizeof factors / sizeof factors[0]; f++)
        if (factors[f] * power >= raw * (1 - 1e-9))
            return factors[f] * power;
    return 10 * power;
}

/* Text whose vertical middle (of the capitals) is at y. */
static int middle_to_top(int y)
{
    return y - 7 * SCALE / 2;
}

static void draw_y_axis(chart *c, double max_percent)
{
    double step = nice_step(max_percent > 0 ? max_percent : 1, 5);
    int intervals = (int)ceil(max_percent / step - 1e-9);
    if (intervals < 1)
        intervals = 1;
    c->top_percent = intervals * step;
    for (int k = 0; k <= intervals; k++) {
        double percent = k * step;
        int y = y_of(c, percent);
        if (k > 0)
            sn_canvas_fill(&c->canvas, LEFT, y, LEFT + c->width, y + 1, grid);
        sn_canvas_fill(&c->canvas, LEFT - 1 - TICK, y, LEFT - 1, y + 1, black);
        char label[32];
        snprintf(label, sizeof label, "%g%%", percent);
        sn_canvas_text(&c->canvas, LEFT - 4 - TICK - sn_canvas_text_length(label, SCALE),
                       middle_to_top(y), label, SCALE, black);
    }
    const char *name = "share of samples";
    sn_canvas_text_up(&c->canvas, 6, TOP + c->height / 2 + sn_canvas_text_length(name, SCALE) / 2,
                      name, SCALE, black);
}

/* Ticks at round MACs values, labelled with one k/M/G suffix for all
 * (chosen by the largest), skipping a label that would touch the last. */
static void draw_x_axis(chart *c)
{
    double hi = c->lo + c->span, step = nice_step(c->span, 8);
    double unit = hi >= 1e9 ? 1e9 : hi >= 1e6 ? 1e6 : hi >= 1e3 ? 1e3 : 1;
    const char *suffix = hi >= 1e9 ? "G" : hi >= 1e6 ? "M" : hi >= 1e3 ? "k" : "";
    int last_right = -1000;
    for (long long k = (long long)ceil(c->lo / step - 1e-9); k * step <= hi * (1 + 1e-12); k++) {
        double macs = (double)k * step;
        int x = x_of(c, macs);
        sn_canvas_fill(&c->canvas, x, c->base + 1, x + 1, c->base + 1 + TICK, black);
        char label[32];
        snprintf(label, sizeof label, "%g%s", macs / unit, suffix);
        int length = sn_canvas_text_length(label, SCALE), left = x - length / 2;
        if (left < last_right + 3 * SCALE || left + length > c->canvas.width)
            continue;
        sn_canvas_text(&c->canvas, left, c->base + TICK + 4, label, SCALE, black);
        last_right = left + length;
    }
    const char *name = "MACs per subnet";
    sn_canvas_text(&c->canvas, LEFT + (c->width - sn_canvas_text_length(name, SCALE)) / 2,
                   c->base + TICK + 4 + sn_canvas_text_height(SCALE) + 6, name, SCALE, black);
}

/* The bars, one pixel apart, each with its count above it where it fits. */
static void draw_bars(chart *c, const sn_histogram_plot *plot)
{
    for (int b = 0; b < plot->buckets; b++) {
        int x0 = x_of(c, plot->edges[b]) + 1, x1 = x_of(c, plot->edges[b + 1]) - 1;
        if (x1 <= x0)
            x1 = x0 + 1;
        double percent = 100.0 * (double)plot->counts[b] / (double)plot->samples;
        int top = y_of(c, percent);
        sn_canvas_fill(&c->canvas, x0, top, x1, c->base, bar);
        char label[32];
        snprintf(label, sizeof label, "%lld", (long long)plot->counts[b]);
        int length = sn_canvas_text_length(label, 1);
        if (plot->counts[b] > 0 && length <= x1 - x0)
            sn_canvas_text(&c->canvas, (x0 + x1 - length) / 2, top - 10, label, 1, count_color);
    }
}

/* The title centred above the plot: at the axes' size if it fits, else at
 * the font's own size, shortened with "..." if it still does not. */
static void draw_title(chart *c, const char *title)
{
    int room = c->canvas.width - 16, scale = SCALE;
    char text[256];
    snprintf(text, sizeof text, "%s", title);
    if (sn_canvas_text_length(text, scale) > room)
        scale = 1;
    size_t fits = (size_t)((room / scale + 1) / 6);
    if (strlen(text) > fits && fits > 3)
        snprintf(text + fits - 3, sizeof text - (fits - 3), "...");
    sn_canvas_text(&c->canvas, (c->canvas.width - sn_canvas_text_length(text, scale)) / 2, 12,
                   text, scale, black);
}

int sn_histogram_plot_write(const char *path, const sn_histogram_plot *plot)
{
    chart c;
    int status = sn_canvas_init(&c.canvas, SN_HISTOGRAM_PLOT_WIDTH, SN_HISTOGRAM_PLOT_HEIGHT);
    if (status != 0)
        return status;
    c.width = SN_HISTOGRAM_PLOT_WIDTH - LEFT - RIGHT;
    c.height = SN_HISTOGRAM_PLOT_HEIGHT - TOP - BOTTOM;
    c.base = SN_HISTOGRAM_PLOT_HEIGHT - BOTTOM;
    c.lo = plot->edges[0];
    c.span = plot->edges[plot->buckets] - plot->edges[0];
    if (!(c.span > 0))
        c.span = 1; /* a space of one MACs value */
    int64_t fullest = 0;
    for (int b = 0; b < plot->buckets; b++)
        if (plot->counts[b] > fullest)
            fullest = plot->counts[b];
    draw_y_axis(&c, 100.0 * (double)fullest / (double)plot->samples);
    draw_bars(&c, plot);
    sn_canvas_fill(&c.canvas, LEFT - 1, c.base, LEFT + c.width, c.base + 1, black); /* x axis */
    sn_canvas_fill(&c.canvas, LEFT - 1, TOP, LEFT, c.base + 1, black);              /* y axis */
    draw_x_axis(&c);
    draw_title(&c, plot->title);
    status = sn_canvas_write_png(&c.canvas, path);
    sn_canvas_free(&c.canvas);
    return status;
}
