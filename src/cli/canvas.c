/* The plots' pixel buffer (canvas.h). */
#include "canvas.h"

#include <stdlib.h>
#include <string.h>

#include "bitmap_font.h"
#include "shiftnas/error.h"
#include "shiftnas/png.h"

int sn_canvas_init(sn_canvas *canvas, int width, int height)
{
    canvas->width = width;
    canvas->height = height;
    canvas->rgb = malloc((size_t)width * (size_t)height * 3);
    if (!canvas->rgb)
        return sn_error_set(SN_ERR_NOMEM, "out of memory for a %dx%d plot", width, height);
    memset(canvas->rgb, 255, (size_t)width * (size_t)height * 3);
    return SN_OK;
}

void sn_canvas_free(sn_canvas *canvas)
{
    free(canvas->rgb);
    canvas->rgb = NULL;
}

void sn_canvas_fill(sn_canvas *canvas, int x0, int y0, int x1, int y1, sn_color color)
{
    if (x0 < 0)
        x0 = 0;
    if (y0 < 0)
        y0 = 0;
    if (x1 > canvas->width)
        x1 = canvas->width;
    if (y1 > canvas->height)
        y1 = canvas->height;
    for (int y = y0; y < y1; y++)
        for (int x = x0; x < x1; x++) {
            uint8_t *p = canvas->rgb + ((size_t)y * (size_t)canvas->width + (size_t)x) * 3;
            p[0] = color.red, p[1] = color.green, p[2] = color.blue;
        }
}

/* Glyph pixel (row, column) of character i of the text lands at
 * origin + i * advance along the line, turned or not. */
static void draw_text(sn_canvas *canvas, int x, int y, const char *text, int scale,
                      sn_color color, int upwards)
{
    for (int i = 0; text[i]; i++)
        for (int row = 0; row < SN_FONT_HEIGHT; row++)
            for (int column = 0; column < SN_FONT_WIDTH; column++) {
                if (!sn_font_pixel(text[i], row, column))
                    continue;
                int along = (i * SN_FONT_ADVANCE + column) * scale, across = row * scale;
                if (upwards) /* the line runs up from (x, y); the glyph's top faces left */
                    sn_canvas_fill(canvas, x + across, y - along - scale, x + across + scale,
                                   y - along, color);
                else
                    sn_canvas_fill(canvas, x + along, y + across, x + along + scale,
                                   y + across + scale, color);
            }
}

void sn_canvas_text(sn_canvas *canvas, int x, int y, const char *text, int scale, sn_color color)
{
    draw_text(canvas, x, y, text, scale, color, 0);
}

void sn_canvas_text_up(sn_canvas *canvas, int x, int y, const char *text, int scale,
                       sn_color color)
{
    draw_text(canvas, x, y, text, scale, color, 1);
}

int sn_canvas_text_length(const char *text, int scale)
{
    int n = (int)strlen(text);
    return n == 0 ? 0 : (n * SN_FONT_ADVANCE - 1) * scale;
}

int sn_canvas_text_height(int scale)
{
    return SN_FONT_HEIGHT * scale;
}

int sn_canvas_write_png(const sn_canvas *canvas, const char *path)
{
    return sn_png_write(path, canvas->rgb, canvas->width, canvas->height, 3);
}
