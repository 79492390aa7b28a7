/* A built-in 5x8 bitmap font, so that the CLI can label the PNG plots it
 * draws itself (space --plot) without a font library or a font file. */
#ifndef SHIFTNAS_CLI_BITMAP_FONT_H
#define SHIFTNAS_CLI_BITMAP_FONT_H

enum {
    SN_FONT_WIDTH = 5,   /* pixels of a glyph */
    SN_FONT_HEIGHT = 8,  /* 7 above the baseline, 1 for descenders */
    SN_FONT_ADVANCE = 6, /* from one glyph to the next: one blank column */
    SN_FONT_FIRST = ' ',
    SN_FONT_LAST = '~'
};

/* 1 if the pixel (row from the top, column from the left) of character c is
 * set. Characters outside ' '..'~' are drawn as '?'. */
int sn_font_pixel(char c, int row, int column);

#endif
