/* src/io/text_table: the line walk every table reader shares (search.csv,
 * probes.csv, metrics.csv, a summary's log-*.csv). */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "io/text_table.h"
#include "shiftnas/error.h"

static char path[512];

static void write_table(const char *text)
{
    snprintf(path, sizeof path, "%s/shiftnas-table-XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    int fd = mkstemp(path);
    ck_assert_int_ge(fd, 0);
    FILE *f = fdopen(fd, "w");
    ck_assert_ptr_nonnull(f);
    fputs(text, f);
    ck_assert_int_eq(fclose(f), 0);
}

/* Records every row it is given (a-b pairs of two numbers); "bad" is a
 * malformed row, "stop" an error that ends the reading. */
struct rows_seen {
    int count, capacity;
    int *lines;
    char text[8][16];
};

static int remember(void *context, char *line, int line_number, const char **problem)
{
    struct rows_seen *seen = context;
    if (strcmp(line, "stop") == 0)
        return sn_error_set(SN_ERR_NOMEM, "stopped at %d", line_number);
    if (strcmp(line, "bad") == 0) {
        *problem = "it says bad";
        return SN_OK;
    }
    SN_TRY(sn_text_table_reserve((void **)&seen->lines, &seen->capacity, seen->count,
                                 sizeof *seen->lines, 2, path));
    if (seen->count < 8)
        snprintf(seen->text[seen->count], sizeof seen->text[0], "%s", line);
    seen->lines[seen->count++] = line_number;
    return SN_OK;
}

static int read_table(const char *text, struct rows_seen *seen)
{
    memset(seen, 0, sizeof *seen);
    write_table(text);
    int status = sn_text_table_read(path, "a,b", "a test table", remember, seen);
    unlink(path);
    return status;
}

START_TEST(rows_come_with_their_line_numbers_blank_lines_skipped)
{
    struct rows_seen seen;
    ck_assert_int_eq(read_table("a,b\r\n1,2\r\n\n3,4\n\n\n5,6\n7,8", &seen), SN_OK);
    ck_assert_int_eq(seen.count, 4);
    int expected_lines[] = {2, 4, 7, 8};
    const char *expected_text[] = {"1,2", "3,4", "5,6", "7,8"};
    for (int i = 0; i < 4; i++) {
        ck_assert_int_eq(seen.lines[i], expected_lines[i]);
        ck_assert_str_eq(seen.text[i], expected_text[i]);
    }
    ck_assert_int_ge(seen.capacity, 4); /* grown from 2 */
    free(seen.lines);
}
END_TEST

START_TEST(a_header_alone_is_a_table_of_no_rows)
{
    struct rows_seen seen;
    ck_assert_int_eq(read_table("a,b\n", &seen), SN_OK);
    ck_assert_int_eq(seen.count, 0);
}
END_TEST

START_TEST(foreign_header_empty_file_and_missing_file_are_named)
{
    struct rows_seen seen;
    char expected[600];
    ck_assert_int_eq(read_table("x,y\n1,2\n", &seen), SN_ERR_FORMAT);
    snprintf(expected, sizeof expected, "%s:1: not a test table (header 'x,y')", path);
    ck_assert_str_eq(sn_error_message(), expected);
    ck_assert_int_eq(seen.count, 0);

    ck_assert_int_eq(read_table("", &seen), SN_ERR_FORMAT);
    snprintf(expected, sizeof expected, "%s: empty (no header)", path);
    ck_assert_str_eq(sn_error_message(), expected);

    ck_assert_int_eq(sn_text_table_read("/nonexistent/t.csv", "a,b", "a test table", remember, &seen),
                     SN_ERR_IO);
    ck_assert_ptr_nonnull(strstr(sn_error_message(), "/nonexistent/t.csv: cannot open"));
}
END_TEST

START_TEST(a_malformed_row_stops_with_its_line_and_problem)
{
    struct rows_seen seen;
    char expected[600];
    ck_assert_int_eq(read_table("a,b\n1,2\n\nbad\n3,4\n", &seen), SN_ERR_FORMAT);
    snprintf(expected, sizeof expected, "%s:4: malformed row: it says bad", path);
    ck_assert_str_eq(sn_error_message(), expected);
    ck_assert_int_eq(seen.count, 1); /* nothing after it is read */
    free(seen.lines);
}
END_TEST

START_TEST(an_error_of_the_row_parser_is_returned_as_it_is)
{
    struct rows_seen seen;
    ck_assert_int_eq(read_table("a,b\n1,2\nstop\n3,4\n", &seen), SN_ERR_NOMEM);
    ck_assert_str_eq(sn_error_message(), "stopped at 3");
    ck_assert_int_eq(seen.count, 1);
    free(seen.lines);
}
END_TEST

START_TEST(reserve_doubles_and_refuses_an_impossible_size)
{
    int *items = NULL, capacity = 0;
    ck_assert_int_eq(sn_text_table_reserve((void **)&items, &capacity, 0, sizeof *items, 3, "t"), SN_OK);
    ck_assert_int_eq(capacity, 3);
    ck_assert_int_eq(sn_text_table_reserve((void **)&items, &capacity, 2, sizeof *items, 3, "t"), SN_OK);
    ck_assert_int_eq(capacity, 3); /* room left: unchanged */
    ck_assert_int_eq(sn_text_table_reserve((void **)&items, &capacity, 3, sizeof *items, 3, "t"), SN_OK);
    ck_assert_int_eq(capacity, 6);
    free(items);
    void *huge = NULL;
    int huge_capacity = 0;
    ck_assert_int_eq(sn_text_table_reserve(&huge, &huge_capacity, 0, (size_t)-1 / 2, 4, "t.csv"),
                     SN_ERR_NOMEM);
    ck_assert_ptr_null(huge);
    ck_assert_ptr_nonnull(strstr(sn_error_message(), "t.csv"));
}
END_TEST

int main(void)
{
    Suite *suite = suite_create("text_table");
    TCase *reading = tcase_create("reading");
    tcase_add_test(reading, rows_come_with_their_line_numbers_blank_lines_skipped);
    tcase_add_test(reading, a_header_alone_is_a_table_of_no_rows);
    tcase_add_test(reading, foreign_header_empty_file_and_missing_file_are_named);
    tcase_add_test(reading, a_malformed_row_stops_with_its_line_and_problem);
    tcase_add_test(reading, an_error_of_the_row_parser_is_returned_as_it_is);
    tcase_add_test(reading, reserve_doubles_and_refuses_an_impossible_size);
    suite_add_tcase(suite, reading);
    SRunner *runner = srunner_create(suite);
    srunner_run_all(runner, CK_NORMAL);
    int failed = srunner_ntests_failed(runner);
    srunner_free(runner);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
