/* An RGB pixel buffer with the few drawing operations the CLI's own PNG
 * plots need: filled rectangles and text in the built-in bitmap font
 * (bitmap_font.h), upright or turned to read upwards. Drawing is clipped
 * to the canvas. */
#ifndef SHIFTNAS_CLI_CANVAS_H
#define SHIFTNAS_CLI_CANVAS_H

#include <stdint.h>

typedef struct {
    uint8_t red, green, blue;
} sn_color;

typedef struct {
    uint8_t *rgb; /* height rows of width x 3 bytes */
    int width, height;
} sn_canvas;

/* A white canvas; SN_ERR_NOMEM. */
int sn_canvas_init(sn_canvas *canvas, int width, int height);
void sn_canvas_free(sn_canvas *canvas);

/* Pixels x0 <= x < x1, y0 <= y < y1. */
void sn_canvas_fill(sn_canvas *canvas, int x0, int y0, int x1, int y1, sn_color color);

/* Text with each font pixel a scale x scale square; (x, y) is the top left
 * corner of the first glyph. */
void sn_canvas_text(sn_canvas *canvas, int x, int y, const char *text, int scale, sn_color color);
/* The same turned a quarter counter-clockwise, reading upwards; (x, y) is
 * the bottom left corner of the first glyph as drawn. */
void sn_canvas_text_up(sn_canvas *canvas, int x, int y, const char *text, int scale,
                       sn_color color);
/* The length of text along its line, in pixels (no trailing blank column). */
int sn_canvas_text_length(const char *text, int scale);
/* The height of a line of text at this scale, descenders included. */
int sn_canvas_text_height(int scale);

/* SN_ERR_IO naming the path, SN_ERR_NOMEM. */
int sn_canvas_write_png(const sn_canvas *canvas, const char *path);

#endif
