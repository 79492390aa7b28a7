/* The CLI's own output helpers: the --json writer (escaping, numbers at
 * full precision, nesting, buffering) and the plots' bitmap font and
 * canvas. */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/bitmap_font.h"
#include "cli/canvas.h"
#include "cli/json_writer.h"
#include "shiftnas/error.h"

/* What a writer put into memory, as a string the caller frees. */
typedef struct {
    FILE *file;
    char *text;
    size_t size;
} capture;

static void capture_open(capture *c)
{
    c->text = NULL;
    c->file = open_memstream(&c->text, &c->size);
    ck_assert_ptr_nonnull(c->file);
}

static char *capture_close(capture *c)
{
    fclose(c->file);
    return c->text;
}

START_TEST(json_nests_objects_and_arrays_with_indentation)
{
    capture c;
    capture_open(&c);
    sn_json_writer j;
    sn_json_begin(&j, c.file);
    sn_json_object_begin(&j);
    sn_json_key_int(&j, "steps", 12);
    sn_json_key(&j, "shares");
    sn_json_array_begin_inline(&j);
    sn_json_number(&j, 0.5);
    sn_json_number(&j, 0.25);
    sn_json_array_end(&j);
    sn_json_key(&j, "rows");
    sn_json_array_begin(&j);
    sn_json_object_begin(&j);
    sn_json_key_bool(&j, "ok", 1);
    sn_json_key_string(&j, "error", NULL);
    sn_json_object_end(&j);
    sn_json_array_end(&j);
    sn_json_key(&j, "empty");
    sn_json_object_begin(&j);
    sn_json_object_end(&j);
    sn_json_object_end(&j);
    ck_assert_int_eq(sn_json_end(&j), SN_OK);
    char *text = capture_close(&c);
    ck_assert_str_eq(text, "{\n"
                           "  \"steps\": 12,\n"
                           "  \"shares\": [0.5, 0.25],\n"
                           "  \"rows\": [\n"
                           "    {\n"
                           "      \"ok\": true,\n"
                           "      \"error\": null\n"
                           "    }\n"
                           "  ],\n"
                           "  \"empty\": {}\n"
                           "}\n");
    free(text);
}
END_TEST

START_TEST(json_escapes_strings_and_replaces_bytes_that_are_not_utf8)
{
    capture c;
    capture_open(&c);
    sn_json_writer j;
    sn_json_begin(&j, c.file);
    sn_json_string(&j, "a\"b\\c\n\t\x01 \xc3\xa9 \xff \xe2\x82");
    ck_assert_int_eq(sn_json_end(&j), SN_OK);
    char *text = capture_close(&c);
    ck_assert_str_eq(text, "\"a\\\"b\\\\c\\n\\t\\u0001 \xc3\xa9 \\ufffd \\ufffd\\ufffd\"\n");
    free(text);
}
END_TEST

/* Every double comes back exactly; whole numbers print as integers, the
 * values JSON cannot hold as null. */
START_TEST(json_numbers_keep_full_precision)
{
    const double values[] = {0.1, 1.0 / 3.0, 2.0 / 3.0, 1e-300, 1.7976931348623157e308, -0.75,
                             0.21333333333333335, 5e-324, 123456789.125};
    char text[40];
    for (size_t i = 0; i < sizeof values / sizeof values[0]; i++) {
        sn_json_format_number(text, sizeof text, values[i]);
        ck_assert_msg(strtod(text, NULL) == values[i], "%s != %.17g", text, values[i]);
    }
    sn_json_format_number(text, sizeof text, 0.1);
    ck_assert_str_eq(text, "0.1");
    sn_json_format_number(text, sizeof text, 8476704.0);
    ck_assert_str_eq(text, "8476704");
    sn_json_format_number(text, sizeof text, NAN);
    ck_assert_str_eq(text, "null");
    sn_json_format_number(text, sizeof text, -INFINITY);
    ck_assert_str_eq(text, "null");
}
END_TEST

/* A buffered document appears at once on success and not at all when
 * discarded; containers left open are an error. */
START_TEST(json_buffered_documents_are_all_or_nothing)
{
    capture c;
    capture_open(&c);
    sn_json_writer j;
    ck_assert_int_eq(sn_json_begin_buffered(&j, c.file), SN_OK);
    sn_json_object_begin(&j);
    sn_json_key_int(&j, "a", 1);
    fflush(c.file);
    ck_assert_uint_eq(c.size, 0);
    sn_json_discard(&j);
    ck_assert_int_eq(sn_json_begin_buffered(&j, c.file), SN_OK);
    sn_json_array_begin_inline(&j);
    sn_json_int(&j, -3);
    sn_json_array_end(&j);
    ck_assert_int_eq(sn_json_end(&j), SN_OK);
    ck_assert_int_eq(sn_json_begin_buffered(&j, c.file), SN_OK);
    sn_json_object_begin(&j);
    ck_assert_int_eq(sn_json_end(&j), SN_ERR_ARGUMENT);
    char *text = capture_close(&c);
    ck_assert_str_eq(text, "[-3]\n");
    free(text);
}
END_TEST

/* Each glyph stays in its 5x8 box, has ink unless it is the blank, and
 * characters outside printable ASCII are drawn as '?'. */
START_TEST(font_glyphs_are_well_formed)
{
    for (int ch = SN_FONT_FIRST; ch <= SN_FONT_LAST; ch++) {
        int ink = 0;
        for (int row = 0; row < SN_FONT_HEIGHT; row++)
            for (int column = 0; column < SN_FONT_WIDTH; column++)
                ink += sn_font_pixel((char)ch, row, column);
        ck_assert_msg(ch == ' ' ? ink == 0 : ink > 0, "glyph '%c'", ch);
        ck_assert_int_eq(sn_font_pixel((char)ch, SN_FONT_HEIGHT, 0), 0);
        ck_assert_int_eq(sn_font_pixel((char)ch, 0, SN_FONT_WIDTH), 0);
    }
    for (int row = 0; row < SN_FONT_HEIGHT; row++)
        for (int column = 0; column < SN_FONT_WIDTH; column++) {
            ck_assert_int_eq(sn_font_pixel('\t', row, column), sn_font_pixel('?', row, column));
            ck_assert_int_eq(sn_font_pixel((char)0xe9, row, column),
                             sn_font_pixel('?', row, column));
        }
}
END_TEST

/* Text lands where its length says, upright and turned, clipped at the
 * canvas edge. */
START_TEST(canvas_text_fills_its_box)
{
    sn_canvas canvas;
    ck_assert_int_eq(sn_canvas_init(&canvas, 40, 40), SN_OK);
    const sn_color black = {0, 0, 0};
    ck_assert_int_eq(sn_canvas_text_length("MM", 2), 22);
    ck_assert_int_eq(sn_canvas_text_length("", 2), 0);
    sn_canvas_text(&canvas, 2, 3, "MM", 2, black);
    int left = 40, right = -1, top = 40, bottom = -1;
    for (int y = 0; y < 40; y++)
        for (int x = 0; x < 40; x++)
            if (canvas.rgb[(y * 40 + x) * 3] == 0) {
                left = x < left ? x : left, right = x > right ? x : right;
                top = y < top ? y : top, bottom = y > bottom ? y : bottom;
            }
    /* M: full height of the capitals (7 rows), both outer columns set */
    ck_assert_int_eq(left, 2);
    ck_assert_int_eq(right, 2 + 22 - 1);
    ck_assert_int_eq(top, 3);
    ck_assert_int_eq(bottom, 3 + 7 * 2 - 1);
    memset(canvas.rgb, 255, 40 * 40 * 3);
    sn_canvas_text_up(&canvas, 0, 39, "M", 1, black);
    /* turned: the M's first column (7 pixels) is the row just above y = 39,
     * its top row "#...#" the left column */
    for (int i = 0; i < 7; i++)
        ck_assert_int_eq(canvas.rgb[(38 * 40 + i) * 3], 0);
    ck_assert_int_eq(canvas.rgb[(38 * 40 + 7) * 3], 255);
    ck_assert_int_eq(canvas.rgb[(34 * 40 + 0) * 3], 0);
    ck_assert_int_eq(canvas.rgb[(35 * 40 + 0) * 3], 255);
    sn_canvas_text(&canvas, 36, 36, "WWW", 3, black); /* clipped, no crash */
    sn_canvas_free(&canvas);
}
END_TEST

int main(void)
{
    Suite *suite = suite_create("cli_output");
    TCase *json = tcase_create("json");
    tcase_add_test(json, json_nests_objects_and_arrays_with_indentation);
    tcase_add_test(json, json_escapes_strings_and_replaces_bytes_that_are_not_utf8);
    tcase_add_test(json, json_numbers_keep_full_precision);
    tcase_add_test(json, json_buffered_documents_are_all_or_nothing);
    suite_add_tcase(suite, json);
    TCase *plot = tcase_create("plot");
    tcase_add_test(plot, font_glyphs_are_well_formed);
    tcase_add_test(plot, canvas_text_fills_its_box);
    suite_add_tcase(suite, plot);
    SRunner *runner = srunner_create(suite);
    srunner_run_all(runner, CK_NORMAL);
    int failed = srunner_ntests_failed(runner);
    srunner_free(runner);
    return failed == 0 ? 0 : 1;
}
