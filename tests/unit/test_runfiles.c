/* Run files: the model file (round trip, atomic write, every rejection) and
 * the run log (rows read back with the HDF5 C API and with sn_run_log_read,
 * exclusive creation, a flushed log read by a second process while the
 * writer holds it). */
#define _XOPEN_SOURCE 700 /* nftw */
#include <check.h>
#include <errno.h>
#include <ftw.h>
#include <hdf5.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "shiftnas/checkpoint.h"
#include "shiftnas/error.h"
#include "shiftnas/runfiles.h"
#include "shiftnas/tensor.h"

/* ---- helpers ------------------------------------------------------------ */

static char temp_dir[256];

static void make_temp_dir(void)
{
    const char *base = getenv("TMPDIR");
    snprintf(temp_dir, sizeof temp_dir, "%s/shiftnas-runfiles-XXXXXX", base && *base ? base : "/tmp");
    ck_assert_ptr_nonnull(mkdtemp(temp_dir));
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    sn_error_clear();
}

static int remove_entry(const char *path, const struct stat *info, int flag, struct FTW *ftw)
{
    (void)info;
    (void)flag;
    (void)ftw;
    return remove(path);
}

static void remove_temp_dir(void)
{
    if (temp_dir[0])
        nftw(temp_dir, remove_entry, 8, FTW_DEPTH | FTW_PHYS);
    temp_dir[0] = '\0';
}

static const char *temp_path(char *out, size_t size, const char *name)
{
    snprintf(out, size, "%s/%s", temp_dir, name);
    return out;
}

static int file_exists(const char *path)
{
    struct stat info;
    return stat(path, &info) == 0;
}

/* Expects `code` and a message that names `path` and holds `fragment`. */
static void expect_error(int status, int code, const char *path, const char *fragment)
{
    ck_assert_int_eq(status, code);
    const char *message = sn_error_message();
    ck_assert_msg(strstr(message, path) != NULL, "message \"%s\" does not name %s", message, path);
    ck_assert_msg(strstr(message, fragment) != NULL, "message \"%s\" lacks \"%s\"", message, fragment);
}

/* A test model: a "supernet" part of four entries and a "generator" part of
 * two; expand_rows sets the first dimension of the expand weight so that a
 * test can build a differently shaped table, and skip names an entry left out. */
typedef struct {
    sn_parameter_table supernet, generator;
    float *supernet_values, *generator_values;
    sn_model_part parts[2];
} test_model;

static void add_entry(sn_parameter_table *table, const char *name, const char *skip, int ndim,
                      int64_t d0, int64_t d1, int64_t d2, int64_t d3)
{
    if (skip && strcmp(name, skip) == 0)
        return;
    const int64_t shape[4] = {d0, d1, d2, d3};
    ck_assert_int_ge(sn_parameter_table_add(table, name, ndim, shape, 1), 0);
}

/* Finite floats with every kind of bit pattern (signs, subnormals, large
 * exponents): xorshift bits whose exponent is kept off all-ones. */
static void fill_bits(float *values, size_t count, uint32_t seed)
{
    uint32_t x = seed * 2654435761u + 1;
    for (size_t i = 0; i < count; i++) {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        uint32_t bits = x;
        if (((bits >> 23) & 0xff) == 0xff)
            bits ^= 1u << 23;
        memcpy(&values[i], &bits, sizeof bits);
    }
}

static void make_model(test_model *m, int64_t expand_rows, const char *skip, int fill)
{
    sn_parameter_table_init(&m->supernet);
    sn_parameter_table_init(&m->generator);
    add_entry(&m->supernet, "stem.conv.weight", skip, 4, 16, 3, 3, 3);
    add_entry(&m->supernet, "stage1.block0.expand.weight", skip, 2, expand_rows, 16, 0, 0);
    add_entry(&m->supernet, "stage1.block0.norm.bias", skip, 1, 16, 0, 0, 0);
    add_entry(&m->supernet, "head.weight", skip, 2, 10, 16, 0, 0);
    add_entry(&m->generator, "lstm.weight_ih", skip, 2, 32, 8, 0, 0);
    add_entry(&m->generator, "lstm.bias", skip, 1, 32, 0, 0, 0);
    m->supernet_values = sn_alloc_floats(m->supernet.total);
    m->generator_values = sn_alloc_floats(m->generator.total);
    ck_assert_ptr_nonnull(m->supernet_values);
    ck_assert_ptr_nonnull(m->generator_values);
    if (fill) {
        fill_bits(m->supernet_values, m->supernet.total, 1);
        fill_bits(m->generator_values, m->generator.total, 2);
    }
    m->parts[0] = (sn_model_part){"supernet", &m->supernet, m->supernet_values};
    m->parts[1] = (sn_model_part){"generator", &m->generator, m->generator_values};
}

static void free_model(test_model *m)
{
    sn_free(m->supernet_values);
    sn_free(m->generator_values);
    sn_parameter_table_free(&m->supernet);
    sn_parameter_table_free(&m->generator);
}

static const char config_text[] = "[run]\nseed = 7\n\n[space]\nname = mbv2 ; comment\nwidths = 8,16\n";

/* A valid model file at path (the standard model, step 1234). */
static void write_standard_model(const char *path)
{
    test_model m;
    make_model(&m, 16, NULL, 1);
    ck_assert_int_eq(sn_model_file_write(path, config_text, 1234, m.parts, 2), SN_OK);
    free_model(&m);
}

/* Reads path into the standard model's shape. */
static int read_standard_model(const char *path)
{
    test_model m;
    make_model(&m, 16, NULL, 0);
    int64_t step = 0;
    int status = sn_model_file_read(path, m.parts, 2, &step);
    free_model(&m);
    return status;
}

static void copy_prefix(const char *from, const char *to, long bytes)
{
    FILE *in = fopen(from, "rb"), *out = fopen(to, "wb");
    ck_assert_ptr_nonnull(in);
    ck_assert_ptr_nonnull(out);
    for (long i = 0; i < bytes; i++) {
        int c = fgetc(in);
        ck_assert_int_ne(c, EOF);
        fputc(c, out);
    }
    fclose(in);
    ck_assert_int_eq(fclose(out), 0);
}

static long file_size(const char *path)
{
    struct stat info;
    ck_assert_int_eq(stat(path, &info), 0);
    return (long)info.st_size;
}

/* ---- model file ----------------------------------------------------------- */

/* Two parts written and read back into fresh slabs: every float's bits, the
 * step and the config text are the ones written. */
START_TEST(model_round_trip_two_parts)
{
    make_temp_dir();
    char path[512];
    temp_path(path, sizeof path, "model.h5");
    test_model written, read;
    make_model(&written, 16, NULL, 1);
    /* the extremes of float32 too */
    written.supernet_values[0] = -0.0f;
    written.supernet_values[1] = 1.17549435e-38f / 4; /* subnormal */
    written.supernet_values[2] = 3.40282347e38f;
    ck_assert_int_eq(sn_model_file_write(path, config_text, 9876543210LL, written.parts, 2), SN_OK);

    make_model(&read, 16, NULL, 0);
    int64_t step = 0;
    ck_assert_int_eq(sn_model_file_read(path, read.parts, 2, &step), SN_OK);
    ck_assert_int_eq(step, 9876543210LL);
    for (int p = 0; p < 2; p++) {
        const sn_parameter_table *table = written.parts[p].table;
        for (int i = 0; i < table->count; i++) {
            const sn_parameter_entry *e = &table->entries[i];
            ck_assert_mem_eq(read.parts[p].values + e->offset, written.parts[p].values + e->offset,
                             e->count * sizeof(float));
        }
    }
    char *config = NULL;
    ck_assert_int_eq(sn_model_file_read_config(path, &config), SN_OK);
    ck_assert_str_eq(config, config_text);
    free(config);

    /* Reading one part alone is allowed: the other group is not foreign. */
    sn_model_part generator_only = read.parts[1];
    memset(read.generator_values, 0, read.generator.total * sizeof(float));
    ck_assert_int_eq(sn_model_file_read(path, &generator_only, 1, NULL), SN_OK);
    ck_assert_mem_eq(read.generator_values, written.generator_values,
                     written.generator.total * sizeof(float));
    free_model(&written);
    free_model(&read);
    remove_temp_dir();
}
END_TEST

/* The stored file is HDF5 as documented: float32 datasets named as the
 * entries, with the entries' shapes, and the root attributes. */
START_TEST(model_layout_as_documented)
{
    make_temp_dir();
    char path[512];
    temp_path(path, sizeof path, "model.h5");
    write_standard_model(path);
    hid_t file = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    ck_assert_int_ge(file, 0);
    hid_t dataset = H5Dopen2(file, "/supernet/stem.conv.weight", H5P_DEFAULT);
    ck_assert_int_ge(dataset, 0);
    hid_t type = H5Dget_type(dataset), space = H5Dget_space(dataset);
    ck_assert_int_gt(H5Tequal(type, H5T_IEEE_F32LE), 0);
    hsize_t dims[4];
    ck_assert_int_eq(H5Sget_simple_extent_dims(space, dims, NULL), 4);
    ck_assert_int_eq(dims[0], 16);
    ck_assert_int_eq(dims[1], 3);
    ck_assert_int_eq(dims[3], 3);
    H5Sclose(space);
    H5Tclose(type);
    H5Dclose(dataset);
    int64_t step = 0;
    int version = 0;
    hid_t attribute = H5Aopen(file, "step", H5P_DEFAULT);
    ck_assert_int_ge(H5Aread(attribute, H5T_NATIVE_INT64, &step), 0);
    H5Aclose(attribute);
    attribute = H5Aopen(file, "version", H5P_DEFAULT);
    ck_assert_int_ge(H5Aread(attribute, H5T_NATIVE_INT, &version), 0);
    H5Aclose(attribute);
    ck_assert_int_eq(step, 1234);
    ck_assert_int_eq(version, 1);
    H5Fclose(file);
    remove_temp_dir();
}
END_TEST

/* The file appears whole under its name and nothing is left beside it; a
 * rewrite replaces it; a write whose rename fails leaves no .tmp behind. */
START_TEST(model_write_is_atomic)
{
    make_temp_dir();
    char path[512], temporary[512];
    temp_path(path, sizeof path, "model.h5");
    temp_path(temporary, sizeof temporary, "model.h5.tmp");
    write_standard_model(path);
    ck_assert(file_exists(path));
    ck_assert(!file_exists(temporary));

    test_model m;
    make_model(&m, 16, NULL, 1);
    ck_assert_int_eq(sn_model_file_write(path, "[run]\n", 5678, m.parts, 2), SN_OK);
    ck_assert(!file_exists(temporary));
    int64_t step = 0;
    ck_assert_int_eq(sn_model_file_read(path, m.parts, 2, &step), SN_OK);
    ck_assert_int_eq(step, 5678);

    /* rename() of a file over a directory fails: the write reports it and
     * removes its temporary file. */
    char directory[512], directory_temporary[512];
    temp_path(directory, sizeof directory, "a-directory");
    temp_path(directory_temporary, sizeof directory_temporary, "a-directory.tmp");
    ck_assert_int_eq(mkdir(directory, 0700), 0);
    expect_error(sn_model_file_write(directory, "", 1, m.parts, 2), SN_ERR_IO, directory, "rename");
    ck_assert(!file_exists(directory_temporary));
    free_model(&m);
    remove_temp_dir();
}
END_TEST

START_TEST(model_read_rejects_missing_entry)
{
    make_temp_dir();
    char path[512];
    temp_path(path, sizeof path, "model.h5");
    test_model m;
    make_model(&m, 16, "stage1.block0.norm.bias", 1);
    ck_assert_int_eq(sn_model_file_write(path, config_text, 1, m.parts, 2), SN_OK);
    free_model(&m);
    expect_error(read_standard_model(path), SN_ERR_FORMAT, path, "supernet/stage1.block0.norm.bias: missing");
    remove_temp_dir();
}
END_TEST

/* A file with an entry the table lacks belongs to another model. */
START_TEST(model_read_rejects_extra_entry)
{
    make_temp_dir();
    char path[512];
    temp_path(path, sizeof path, "model.h5");
    write_standard_model(path);
    test_model m;
    make_model(&m, 16, "lstm.bias", 0);
    int status = sn_model_file_read(path, m.parts, 2, NULL);
    free_model(&m);
    expect_error(status, SN_ERR_FORMAT, path, "generator/lstm.bias is not an entry of this model");
    remove_temp_dir();
}
END_TEST

START_TEST(model_read_rejects_wrong_shape)
{
    make_temp_dir();
    char path[512], expected[700];
    temp_path(path, sizeof path, "model.h5");
    test_model m;
    make_model(&m, 8, NULL, 1);
    ck_assert_int_eq(sn_model_file_write(path, config_text, 1, m.parts, 2), SN_OK);
    free_model(&m);
    snprintf(expected, sizeof expected,
             "%s: supernet/stage1.block0.expand.weight has shape [8, 16], expected [16, 16]", path);
    int status = read_standard_model(path);
    ck_assert_int_eq(status, SN_ERR_FORMAT);
    ck_assert_str_eq(sn_error_message(), expected);
    remove_temp_dir();
}
END_TEST

/* The same entry stored as float64 instead of float32. */
START_TEST(model_read_rejects_wrong_type)
{
    make_temp_dir();
    char path[512];
    temp_path(path, sizeof path, "model.h5");
    write_standard_model(path);
    hid_t file = H5Fopen(path, H5F_ACC_RDWR, H5P_DEFAULT);
    ck_assert_int_ge(file, 0);
    ck_assert_int_ge(H5Ldelete(file, "/generator/lstm.bias", H5P_DEFAULT), 0);
    const hsize_t dims[1] = {32};
    double values[32] = {0};
    hid_t space = H5Screate_simple(1, dims, NULL);
    hid_t dataset = H5Dcreate2(file, "/generator/lstm.bias", H5T_IEEE_F64LE, space, H5P_DEFAULT,
                               H5P_DEFAULT, H5P_DEFAULT);
    ck_assert_int_ge(H5Dwrite(dataset, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, values), 0);
    H5Dclose(dataset);
    H5Sclose(space);
    H5Fclose(file);
    expect_error(read_standard_model(path), SN_ERR_FORMAT, path,
                 "generator/lstm.bias has type float64, expected float32");
    remove_temp_dir();
}
END_TEST

START_TEST(model_read_rejects_nan_value)
{
    make_temp_dir();
    char path[512];
    temp_path(path, sizeof path, "model.h5");
    test_model m;
    make_model(&m, 16, NULL, 1);
    const sn_parameter_entry *e = &m.supernet.entries[sn_parameter_table_find(&m.supernet, "head.weight")];
    m.supernet_values[e->offset + 17] = NAN;
    ck_assert_int_eq(sn_model_file_write(path, config_text, 1, m.parts, 2), SN_OK);
    free_model(&m);
    expect_error(read_standard_model(path), SN_ERR_FORMAT, path, "supernet/head.weight: element 17 is NaN");
    remove_temp_dir();
}
END_TEST

START_TEST(model_read_rejects_text_file)
{
    make_temp_dir();
    char path[512];
    temp_path(path, sizeof path, "model.h5");
    FILE *f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    fputs(config_text, f);
    ck_assert_int_eq(fclose(f), 0);
    expect_error(read_standard_model(path), SN_ERR_FORMAT, path, "not an HDF5 file");
    char *config = NULL;
    expect_error(sn_model_file_read_config(path, &config), SN_ERR_FORMAT, path, "not an HDF5 file");
    ck_assert_ptr_null(config);
    remove_temp_dir();
}
END_TEST

START_TEST(model_read_rejects_truncated_file)
{
    make_temp_dir();
    char path[512], half[512];
    temp_path(path, sizeof path, "model.h5");
    temp_path(half, sizeof half, "half.h5");
    write_standard_model(path);
    copy_prefix(path, half, file_size(path) / 2);
    expect_error(read_standard_model(half), SN_ERR_FORMAT, half, "corrupt or truncated");
    remove_temp_dir();
}
END_TEST

/* A foreign HDF5 file: the format attribute names something else. */
START_TEST(model_read_rejects_wrong_format)
{
    make_temp_dir();
    char path[512];
    temp_path(path, sizeof path, "model.h5");
    write_standard_model(path);
    hid_t file = H5Fopen(path, H5F_ACC_RDWR, H5P_DEFAULT);
    ck_assert_int_ge(file, 0);
    ck_assert_int_ge(H5Adelete(file, "format"), 0);
    hid_t type = H5Tcopy(H5T_C_S1);
    H5Tset_size(type, 12);
    hid_t space = H5Screate(H5S_SCALAR);
    hid_t attribute = H5Acreate2(file, "format", type, space, H5P_DEFAULT, H5P_DEFAULT);
    ck_assert_int_ge(H5Awrite(attribute, type, "shiftnas-log"), 0);
    H5Aclose(attribute);
    H5Sclose(space);
    H5Tclose(type);
    H5Fclose(file);
    expect_error(read_standard_model(path), SN_ERR_FORMAT, path,
                 "attribute format is \"shiftnas-log\", expected \"shiftnas-model\"");
    char *config = NULL;
    expect_error(sn_model_file_read_config(path, &config), SN_ERR_FORMAT, path, "attribute format");
    remove_temp_dir();
}
END_TEST

START_TEST(model_read_missing_file_is_io)
{
    make_temp_dir();
    char path[512];
    temp_path(path, sizeof path, "absent.h5");
    expect_error(read_standard_model(path), SN_ERR_IO, path, "cannot open");
    remove_temp_dir();
}
END_TEST

/* ---- run log ------------------------------------------------------------- */

enum { LOG_BUCKETS = 3 };
static const int64_t log_edges[LOG_BUCKETS + 1] = {1000000, 2000000, 4000000, 8000000};

/* The values of subnet row i. */
static int64_t row_step(int64_t i) { return i / 2; }
static int row_slot(int64_t i) { return (int)(i % 2); }
static int row_bucket(int64_t i) { return i % 7 == 6 ? -1 : (int)(i % LOG_BUCKETS); }
static int row_drawn(int64_t i) { return i % 3 == 2 ? -1 : (int)((i / 3) % LOG_BUCKETS); }
static double row_target(int64_t i) { return i % 5 == 0 ? NAN : 1.5e6 + (double)i; }
static int64_t row_macs(int64_t i) { return 1000000 + 37 * i; }
static double row_loss(int64_t i) { return 2.5 / (double)(i + 1); }

static void log_rows(sn_run_log *log, int64_t first, int64_t count)
{
    for (int64_t i = first; i < first + count; i++)
        ck_assert_int_eq(sn_run_log_subnet(log, row_step(i), row_slot(i), row_bucket(i), row_drawn(i),
                                           row_target(i), row_macs(i), row_loss(i)),
                         SN_OK);
}

/* The values of update u, bucket k. */
static double update_value(int u, int column, int k) { return 0.25 * u + 0.01 * column + 0.001 * k; }

static void log_update(sn_run_log *log, int u, int with_validation)
{
    double columns[4][LOG_BUCKETS];
    for (int c = 0; c < 4; c++)
        for (int k = 0; k < LOG_BUCKETS; k++)
            columns[c][k] = update_value(u, c, k);
    ck_assert_int_eq(sn_run_log_update(log, 100 * (u + 1), columns[0], columns[1], columns[2],
                                       with_validation ? columns[3] : NULL),
                     SN_OK);
}

/* Reads a whole 1-D or 2-D dataset as `memory_type`; returns its dims. */
static void *read_dataset(hid_t file, const char *name, hid_t memory_type, size_t element, hsize_t *dims)
{
    hid_t dataset = H5Dopen2(file, name, H5P_DEFAULT);
    ck_assert_msg(dataset >= 0, "cannot open %s", name);
    hid_t space = H5Dget_space(dataset);
    dims[1] = 1;
    int rank = H5Sget_simple_extent_dims(space, dims, NULL);
    ck_assert(rank == 1 || rank == 2);
    size_t count = (size_t)dims[0] * (rank == 2 ? (size_t)dims[1] : 1);
    void *data = malloc(count * element + 1);
    ck_assert_ptr_nonnull(data);
    if (count > 0)
        ck_assert_int_ge(H5Dread(dataset, memory_type, H5S_ALL, H5S_ALL, H5P_DEFAULT, data), 0);
    if (rank == 1)
        dims[1] = 0;
    H5Sclose(space);
    H5Dclose(dataset);
    return data;
}

/* Checks that /subnets holds rows 0..rows-1 exactly; 0 on success, for use
 * both in the test and in a forked reader (which cannot use ck_assert). */
static int subnets_match(hid_t file, int64_t rows)
{
    const char *names[7] = {"/subnets/step",        "/subnets/slot", "/subnets/bucket",
                            "/subnets/target_macs", "/subnets/macs", "/subnets/loss",
                            "/subnets/drawn_bucket"};
    for (int c = 0; c < 7; c++) {
        hid_t dataset = H5Dopen2(file, names[c], H5P_DEFAULT);
        if (dataset < 0)
            return 1;
        hid_t space = H5Dget_space(dataset);
        hssize_t points = H5Sget_simple_extent_npoints(space);
        H5Sclose(space);
        H5Dclose(dataset);
        if (points != rows)
            return 2;
    }
    hsize_t dims[2];
    int64_t *step = read_dataset(file, names[0], H5T_NATIVE_INT64, 8, dims);
    int32_t *slot = read_dataset(file, names[1], H5T_NATIVE_INT32, 4, dims);
    int32_t *bucket = read_dataset(file, names[2], H5T_NATIVE_INT32, 4, dims);
    double *target = read_dataset(file, names[3], H5T_NATIVE_DOUBLE, 8, dims);
    int64_t *macs = read_dataset(file, names[4], H5T_NATIVE_INT64, 8, dims);
    double *loss = read_dataset(file, names[5], H5T_NATIVE_DOUBLE, 8, dims);
    int32_t *drawn = read_dataset(file, names[6], H5T_NATIVE_INT32, 4, dims);
    int bad = 0;
    for (int64_t i = 0; i < rows && !bad; i++) {
        double t = row_target(i);
        bad = step[i] != row_step(i) || slot[i] != row_slot(i) || bucket[i] != row_bucket(i) ||
              (isnan(t) ? !isnan(target[i]) : target[i] != t) || macs[i] != row_macs(i) ||
              loss[i] != row_loss(i) /* exact: float64 stored as float64 */ ||
              drawn[i] != row_drawn(i);
    }
    free(drawn);
    free(step);
    free(slot);
    free(bucket);
    free(target);
    free(macs);
    free(loss);
    return bad ? 3 : 0;
}

/* 10000 subnet rows (two full buffers and a partial one) and 3 updates,
 * read back through the HDF5 C API: attributes, lengths, every value. */
START_TEST(log_rows_round_trip)
{
    make_temp_dir();
    char path[512];
    temp_path(path, sizeof path, "log.h5");
    sn_run_log *log = NULL;
    ck_assert_int_eq(sn_run_log_create(&log, path, "shift", LOG_BUCKETS, log_edges), SN_OK);
    log_rows(log, 0, 10000);
    log_update(log, 0, 1);
    log_update(log, 1, 0);
    log_update(log, 2, 1);
    ck_assert_int_eq(sn_run_log_close(log), SN_OK);

    hid_t file = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    ck_assert_int_ge(file, 0);
    ck_assert_int_eq(subnets_match(file, 10000), 0);

    hsize_t dims[2];
    int64_t *steps = read_dataset(file, "/updates/step", H5T_NATIVE_INT64, 8, dims);
    ck_assert_int_eq(dims[0], 3);
    for (int u = 0; u < 3; u++)
        ck_assert_int_eq(steps[u], 100 * (u + 1));
    free(steps);
    const char *names[4] = {"/updates/beta", "/updates/probability", "/updates/statistic",
                            "/updates/validation_loss"};
    for (int c = 0; c < 4; c++) {
        double *values = read_dataset(file, names[c], H5T_NATIVE_DOUBLE, 8, dims);
        ck_assert_int_eq(dims[0], 3);
        ck_assert_int_eq(dims[1], LOG_BUCKETS);
        for (int u = 0; u < 3; u++)
            for (int k = 0; k < LOG_BUCKETS; k++) {
                double v = values[u * LOG_BUCKETS + k];
                if (c == 3 && u == 1)
                    ck_assert(isnan(v)); /* no validation loss given */
                else
                    ck_assert(v == update_value(u, c, k));
            }
        free(values);
    }

    /* root attributes */
    int64_t edges[LOG_BUCKETS + 1] = {0};
    hid_t attribute = H5Aopen(file, "bucket_edges", H5P_DEFAULT);
    hid_t space = H5Aget_space(attribute);
    ck_assert_int_eq(H5Sget_simple_extent_npoints(space), LOG_BUCKETS + 1);
    ck_assert_int_ge(H5Aread(attribute, H5T_NATIVE_INT64, edges), 0);
    ck_assert_mem_eq(edges, log_edges, sizeof edges);
    H5Sclose(space);
    H5Aclose(attribute);
    const char *texts[2][2] = {{"format", "shiftnas-log"}, {"strategy", "shift"}};
    for (int a = 0; a < 2; a++) {
        attribute = H5Aopen(file, texts[a][0], H5P_DEFAULT);
        hid_t type = H5Aget_type(attribute);
        char *text = NULL;
        ck_assert_int_gt(H5Tis_variable_str(type), 0);
        ck_assert_int_ge(H5Aread(attribute, type, &text), 0);
        ck_assert_str_eq(text, texts[a][1]);
        H5free_memory(text);
        H5Tclose(type);
        H5Aclose(attribute);
    }
    int version = 0;
    attribute = H5Aopen(file, "version", H5P_DEFAULT);
    ck_assert_int_ge(H5Aread(attribute, H5T_NATIVE_INT, &version), 0);
    ck_assert_int_eq(version, 1);
    H5Aclose(attribute);
    H5Fclose(file);
    remove_temp_dir();
}
END_TEST

/* A resumed run reopens its log and appends: the rows continue where the
 * file ended, as if the log had never been closed. Another strategy or
 * bucket count, or a missing file, is refused. */
START_TEST(log_open_append_continues)
{
    make_temp_dir();
    char path[512];
    temp_path(path, sizeof path, "log.h5");
    sn_run_log *log = NULL;
    ck_assert_int_eq(sn_run_log_create(&log, path, "shift", LOG_BUCKETS, log_edges), SN_OK);
    log_rows(log, 0, 5000);
    log_update(log, 0, 1);
    ck_assert_int_eq(sn_run_log_close(log), SN_OK);

    ck_assert_int_eq(sn_run_log_open_append(&log, path, "uniform", LOG_BUCKETS), SN_ERR_FORMAT);
    ck_assert_ptr_nonnull(strstr(sn_error_message(), "strategy shift"));
    ck_assert_int_eq(sn_run_log_open_append(&log, path, "shift", LOG_BUCKETS + 1), SN_ERR_FORMAT);
    char missing[512];
    temp_path(missing, sizeof missing, "missing.h5");
    ck_assert_int_eq(sn_run_log_open_append(&log, missing, "shift", LOG_BUCKETS), SN_ERR_IO);
    ck_assert_ptr_nonnull(strstr(sn_error_message(), "missing.h5"));

    ck_assert_int_eq(sn_run_log_open_append(&log, path, "shift", LOG_BUCKETS), SN_OK);
    ck_assert_str_eq(sn_run_log_path(log), path);
    log_rows(log, 5000, 5000);
    log_update(log, 1, 0);
    log_update(log, 2, 1);
    ck_assert_int_eq(sn_run_log_close(log), SN_OK);

    hid_t file = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    ck_assert_int_ge(file, 0);
    ck_assert_int_eq(subnets_match(file, 10000), 0);
    hsize_t dims[2];
    int64_t *steps = read_dataset(file, "/updates/step", H5T_NATIVE_INT64, 8, dims);
    ck_assert_int_eq(dims[0], 3);
    for (int u = 0; u < 3; u++)
        ck_assert_int_eq(steps[u], 100 * (u + 1));
    free(steps);
    H5Fclose(file);
    remove_temp_dir();
}
END_TEST

/* A log never overwrites: an existing path is refused and left as it was. */
START_TEST(log_create_refuses_existing_path)
{
    make_temp_dir();
    char path[512];
    temp_path(path, sizeof path, "log.h5");
    FILE *f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    fputs("an earlier run", f);
    ck_assert_int_eq(fclose(f), 0);
    sn_run_log *log = NULL;
    expect_error(sn_run_log_create(&log, path, "shift", LOG_BUCKETS, log_edges), SN_ERR_ARGUMENT, path,
                 "already exists");
    ck_assert_ptr_null(log);
    ck_assert_int_eq(file_size(path), (long)strlen("an earlier run"));
    ck_assert_int_eq(sn_run_log_close(NULL), SN_OK);
    remove_temp_dir();
}
END_TEST

/* After a flush, another process opening the file read-only (while the
 * writer still holds it open) sees exactly the rows logged so far; the
 * writer then goes on and closes normally. The reader is forked before the
 * log exists so that it shares no HDF5 state with the writer. */
START_TEST(log_flushed_rows_visible_to_second_reader)
{
    make_temp_dir();
    char path[512];
    temp_path(path, sizeof path, "log.h5");
    int go[2];
    ck_assert_int_eq(pipe(go), 0);
    pid_t reader = fork();
    ck_assert_int_ge(reader, 0);
    if (reader == 0) {
        close(go[1]);
        char byte;
        if (read(go[0], &byte, 1) != 1)
            _exit(10);
        hid_t file = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
        if (file < 0)
            _exit(11);
        int result = subnets_match(file, 5000);
        hid_t dataset = H5Dopen2(file, "/updates/beta", H5P_DEFAULT);
        hid_t space = dataset >= 0 ? H5Dget_space(dataset) : -1;
        hsize_t dims[2] = {0, 0};
        if (space < 0 || H5Sget_simple_extent_dims(space, dims, NULL) != 2 || dims[0] != 1 ||
            dims[1] != LOG_BUCKETS)
            result = result ? result : 12;
        H5Sclose(space);
        H5Dclose(dataset);
        H5Fclose(file);
        _exit(result);
    }
    close(go[0]);
    sn_run_log *log = NULL;
    ck_assert_int_eq(sn_run_log_create(&log, path, "shift", LOG_BUCKETS, log_edges), SN_OK);
    log_rows(log, 0, 5000); /* one full buffer written, 904 rows buffered */
    log_update(log, 0, 1);
    ck_assert_int_eq(sn_run_log_flush(log), SN_OK);
    ck_assert_int_eq(write(go[1], "g", 1), 1);
    close(go[1]);
    int status = 0;
    ck_assert_int_eq(waitpid(reader, &status, 0), reader);
    ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "reader failed with status %d",
                  WIFEXITED(status) ? WEXITSTATUS(status) : -1);
    log_rows(log, 5000, 100);
    ck_assert_int_eq(sn_run_log_close(log), SN_OK);
    hid_t file = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    ck_assert_int_ge(file, 0);
    ck_assert_int_eq(subnets_match(file, 5100), 0);
    H5Fclose(file);
    remove_temp_dir();
}
END_TEST

/* Strategies without buckets: K = 0, no edges, bucket must be -1, updates
 * have zero columns. */
START_TEST(log_without_buckets)
{
    make_temp_dir();
    char path[512];
    temp_path(path, sizeof path, "log.h5");
    sn_run_log *log = NULL;
    ck_assert_int_eq(sn_run_log_create(&log, path, "uniform", 0, NULL), SN_OK);
    ck_assert_int_eq(sn_run_log_subnet(log, 1, 0, -1, -1, NAN, 12345, 0.5), SN_OK);
    expect_error(sn_run_log_subnet(log, 2, 0, 0, -1, NAN, 12345, 0.5), SN_ERR_ARGUMENT, path, "bucket 0");
    expect_error(sn_run_log_subnet(log, 2, 0, -1, 0, NAN, 12345, 0.5), SN_ERR_ARGUMENT, path,
                 "drawn bucket 0");
    ck_assert_int_eq(sn_run_log_update(log, 7, NULL, NULL, NULL, NULL), SN_OK);
    ck_assert_int_eq(sn_run_log_close(log), SN_OK);
    hid_t file = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    ck_assert_int_ge(file, 0);
    hsize_t dims[2];
    int32_t *bucket = read_dataset(file, "/subnets/bucket", H5T_NATIVE_INT32, 4, dims);
    ck_assert_int_eq(dims[0], 1);
    ck_assert_int_eq(bucket[0], -1);
    free(bucket);
    free(read_dataset(file, "/updates/beta", H5T_NATIVE_DOUBLE, 8, dims));
    ck_assert_int_eq(dims[0], 1);
    ck_assert_int_eq(dims[1], 0);
    hid_t attribute = H5Aopen(file, "bucket_edges", H5P_DEFAULT);
    hid_t space = H5Aget_space(attribute);
    ck_assert_int_eq(H5Sget_simple_extent_npoints(space), 0);
    H5Sclose(space);
    H5Aclose(attribute);
    H5Fclose(file);
    remove_temp_dir();
}
END_TEST

/* sn_run_log_read gives back every column the writer took, bit for bit. */
static void expect_same_double(double got, double want)
{
    ck_assert(isnan(want) ? isnan(got) : memcmp(&got, &want, sizeof got) == 0);
}

START_TEST(log_read_round_trip_with_writer)
{
    make_temp_dir();
    char path[512];
    temp_path(path, sizeof path, "log.h5");
    sn_run_log *log = NULL;
    ck_assert_int_eq(sn_run_log_create(&log, path, "shift", LOG_BUCKETS, log_edges), SN_OK);
    log_rows(log, 0, SN_RUN_LOG_BUFFER_ROWS + 123); /* more than one buffer */
    log_update(log, 0, 1);
    log_update(log, 1, 0);
    ck_assert_int_eq(sn_run_log_flush(log), SN_OK);

    /* read while the writer holds the file: what the flush wrote */
    sn_run_log_data data;
    ck_assert_msg(sn_run_log_read(path, &data) == SN_OK, "%s", sn_error_message());
    ck_assert_str_eq(data.strategy, "shift");
    ck_assert_int_eq(data.buckets, LOG_BUCKETS);
    for (int k = 0; k <= LOG_BUCKETS; k++)
        ck_assert_int_eq(data.bucket_edges[k], log_edges[k]);
    const int64_t rows = SN_RUN_LOG_BUFFER_ROWS + 123;
    ck_assert_int_eq(data.subnet_count, rows);
    for (int64_t i = 0; i < rows; i++) {
        ck_assert_int_eq(data.subnet_step[i], row_step(i));
        ck_assert_int_eq(data.subnet_slot[i], row_slot(i));
        ck_assert_int_eq(data.subnet_bucket[i], row_bucket(i));
        expect_same_double(data.subnet_target_macs[i], row_target(i));
        ck_assert_int_eq(data.subnet_macs[i], row_macs(i));
        expect_same_double(data.subnet_loss[i], row_loss(i));
        ck_assert_int_eq(data.subnet_drawn_bucket[i], row_drawn(i));
    }
    ck_assert_int_eq(data.update_count, 2);
    double *columns[4] = {data.update_beta, data.update_probability, data.update_statistic,
                          data.update_validation_loss};
    for (int u = 0; u < 2; u++) {
        ck_assert_int_eq(data.update_step[u], 100 * (u + 1));
        for (int c = 0; c < 4; c++)
            for (int k = 0; k < LOG_BUCKETS; k++)
                expect_same_double(columns[c][u * LOG_BUCKETS + k],
                                   c == 3 && u == 1 ? NAN : update_value(u, c, k));
    }
    sn_run_log_data_free(&data);
    ck_assert_ptr_null(data.subnet_step);
    ck_assert_int_eq(sn_run_log_close(log), SN_OK);

    /* a log without buckets reads back with none */
    temp_path(path, sizeof path, "uniform.h5");
    ck_assert_int_eq(sn_run_log_create(&log, path, "uniform", 0, NULL), SN_OK);
    ck_assert_int_eq(sn_run_log_subnet(log, 1, 0, -1, -1, NAN, 12345, 0.5), SN_OK);
    ck_assert_int_eq(sn_run_log_close(log), SN_OK);
    ck_assert_int_eq(sn_run_log_read(path, &data), SN_OK);
    ck_assert_int_eq(data.buckets, 0);
    ck_assert_ptr_null(data.bucket_edges);
    ck_assert_int_eq(data.subnet_count, 1);
    ck_assert_int_eq(data.subnet_macs[0], 12345);
    ck_assert_int_eq(data.update_count, 0);
    sn_run_log_data_free(&data);
    remove_temp_dir();
}
END_TEST

/* A log from before /subnets/drawn_bucket: read with every drawn bucket -1
 * (its bucket column as it is), not extended (its bucket column meant the
 * drawn bucket). */
START_TEST(log_without_drawn_bucket_reads_as_none)
{
    make_temp_dir();
    char path[512];
    temp_path(path, sizeof path, "old.h5");
    sn_run_log *log = NULL;
    ck_assert_int_eq(sn_run_log_create(&log, path, "shift", LOG_BUCKETS, log_edges), SN_OK);
    log_rows(log, 0, 40);
    ck_assert_int_eq(sn_run_log_close(log), SN_OK);
    hid_t file = H5Fopen(path, H5F_ACC_RDWR, H5P_DEFAULT);
    ck_assert_int_ge(file, 0);
    ck_assert_int_ge(H5Ldelete(file, "/subnets/drawn_bucket", H5P_DEFAULT), 0);
    H5Fclose(file);

    sn_run_log_data data;
    ck_assert_msg(sn_run_log_read(path, &data) == SN_OK, "%s", sn_error_message());
    ck_assert_int_eq(data.subnet_count, 40);
    for (int64_t i = 0; i < 40; i++) {
        ck_assert_int_eq(data.subnet_bucket[i], row_bucket(i));
        ck_assert_int_eq(data.subnet_drawn_bucket[i], -1);
    }
    sn_run_log_data_free(&data);
    expect_error(sn_run_log_open_append(&log, path, "shift", LOG_BUCKETS), SN_ERR_FORMAT, path,
                 "subnets/drawn_bucket is missing");
    ck_assert_ptr_null(log);
    ck_assert_int_eq(H5Fget_obj_count(H5F_OBJ_ALL, H5F_OBJ_ALL), 0);
    remove_temp_dir();
}
END_TEST

START_TEST(log_read_refuses_foreign_files)
{
    make_temp_dir();
    char path[512];
    sn_run_log_data data;
    /* a model file is HDF5, but not a log */
    temp_path(path, sizeof path, "model.h5");
    write_standard_model(path);
    expect_error(sn_run_log_read(path, &data), SN_ERR_FORMAT, path, "not a shiftnas run log");
    ck_assert_ptr_null(data.subnet_step);
    /* a text file */
    temp_path(path, sizeof path, "text.h5");
    FILE *f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    fputs(config_text, f);
    fclose(f);
    expect_error(sn_run_log_read(path, &data), SN_ERR_FORMAT, path, "not an HDF5 file");
    temp_path(path, sizeof path, "missing.h5");
    expect_error(sn_run_log_read(path, &data), SN_ERR_IO, path, "cannot open");
    /* a log whose columns disagree in length */
    temp_path(path, sizeof path, "log.h5");
    sn_run_log *log = NULL;
    ck_assert_int_eq(sn_run_log_create(&log, path, "shift", LOG_BUCKETS, log_edges), SN_OK);
    log_rows(log, 0, 5);
    ck_assert_int_eq(sn_run_log_close(log), SN_OK);
    hid_t file = H5Fopen(path, H5F_ACC_RDWR, H5P_DEFAULT);
    hid_t set = H5Dopen2(file, "/subnets/loss", H5P_DEFAULT);
    hsize_t shorter[1] = {3};
    ck_assert_int_ge(H5Dset_extent(set, shorter), 0);
    H5Dclose(set);
    H5Fclose(file);
    expect_error(sn_run_log_read(path, &data), SN_ERR_FORMAT, path, "differ in length");
    ck_assert_ptr_null(data.subnet_step);
    remove_temp_dir();
}
END_TEST

/* ---- failed writes --------------------------------------------------------- */

/* Files may grow to `bytes` at most: a write beyond fails with EFBIG ("File
 * too large"), as a full disk fails with ENOSPC; 0 lifts the limit. Check
 * writes its own records to a file too, so no ck_assert runs while it is
 * set: the calls under the limit only keep their status. */
static int limit_file_size(rlim_t bytes)
{
    struct rlimit limit;
    if (getrlimit(RLIMIT_FSIZE, &limit) != 0)
        return -1;
    limit.rlim_cur = bytes ? bytes : limit.rlim_max;
    return setrlimit(RLIMIT_FSIZE, &limit);
}

/* The failure is one line naming the file and the system's cause, the
 * half-written file is gone, and no HDF5 id stays open (a half-closed file
 * used to crash HDF5's exit handler). */
static void expect_write_failure(int status, const char *message, const char *path)
{
    ck_assert_int_eq(status, SN_ERR_IO);
    ck_assert_msg(strstr(message, path) && strstr(message, strerror(EFBIG)) && !strchr(message, '\n'),
                  "message: %s", message);
    ck_assert(!file_exists(path));
}

START_TEST(failed_writes_close_every_hdf5_id)
{
    make_temp_dir();
    signal(SIGXFSZ, SIG_IGN);
    char path[512], temporary[520], message[3][1024];
    int status[3];
    static float values[4096];
    sn_parameter_table table;
    sn_parameter_table_init(&table);
    const int64_t shape[1] = {4096};
    ck_assert_int_eq(sn_parameter_table_add(&table, "w", 1, shape, 0), SN_OK);

    /* a checkpoint: its writer fails at the finish, nothing published */
    char checkpoint[512];
    temp_path(checkpoint, sizeof checkpoint, ".step-000000001.h5.tmp");
    sn_checkpoint_writer *w = NULL;
    ck_assert_int_eq(sn_checkpoint_writer_create(&w, checkpoint), SN_OK);
    ck_assert_int_eq(sn_checkpoint_write_array(w, "w", SN_CHECKPOINT_FLOAT32, 1, shape, values), SN_OK);
    ck_assert_int_eq(limit_file_size(4096), 0);
    status[0] = sn_checkpoint_writer_finish(w);
    snprintf(message[0], sizeof message[0], "%s", sn_error_message());

    /* model.h5: the temporary is named and removed */
    const sn_model_part part = {"network", &table, values};
    temp_path(path, sizeof path, "model.h5");
    status[1] = sn_model_file_write(path, "[train]\n", 1, &part, 1);
    snprintf(message[1], sizeof message[1], "%s", sn_error_message());
    limit_file_size(0);
    expect_write_failure(status[0], message[0], checkpoint);
    snprintf(temporary, sizeof temporary, "%s.tmp", path);
    expect_write_failure(status[1], message[1], temporary);
    ck_assert(!file_exists(path));
    ck_assert_int_eq(H5Fget_obj_count(H5F_OBJ_ALL, H5F_OBJ_ALL), 0);

    /* log.h5: a flush that fails keeps the previous file and closes */
    temp_path(path, sizeof path, "log.h5");
    sn_run_log *log = NULL;
    ck_assert_int_eq(sn_run_log_create(&log, path, "uniform", 0, NULL), SN_OK);
    for (int row = 0; row < 4 * SN_RUN_LOG_BUFFER_ROWS; row++)
        ck_assert_int_eq(sn_run_log_subnet(log, row, 0, -1, -1, 0, 1000, 1.0), SN_OK);
    struct stat before;
    ck_assert_int_eq(stat(path, &before), 0);
    ck_assert_int_eq(limit_file_size((rlim_t)before.st_size), 0);
    status[2] = sn_run_log_flush(log);
    snprintf(message[2], sizeof message[2], "%s", sn_error_message());
    limit_file_size(0);
    snprintf(temporary, sizeof temporary, "%s.tmp", path);
    expect_write_failure(status[2], message[2], temporary);
    ck_assert(file_exists(path));
    sn_run_log_close(log);
    ck_assert_int_eq(H5Fget_obj_count(H5F_OBJ_ALL, H5F_OBJ_ALL), 0);

    signal(SIGXFSZ, SIG_DFL);
    sn_parameter_table_free(&table);
    remove_temp_dir();
}
END_TEST

int main(void)
{
    Suite *suite = suite_create("runfiles");
    TCase *model = tcase_create("model");
    tcase_set_timeout(model, 20);
    tcase_add_test(model, model_round_trip_two_parts);
    tcase_add_test(model, model_layout_as_documented);
    tcase_add_test(model, model_write_is_atomic);
    tcase_add_test(model, model_read_rejects_missing_entry);
    tcase_add_test(model, model_read_rejects_extra_entry);
    tcase_add_test(model, model_read_rejects_wrong_shape);
    tcase_add_test(model, model_read_rejects_wrong_type);
    tcase_add_test(model, model_read_rejects_nan_value);
    tcase_add_test(model, model_read_rejects_text_file);
    tcase_add_test(model, model_read_rejects_truncated_file);
    tcase_add_test(model, model_read_rejects_wrong_format);
    tcase_add_test(model, model_read_missing_file_is_io);
    suite_add_tcase(suite, model);
    TCase *log = tcase_create("log");
    tcase_set_timeout(log, 20);
    tcase_add_test(log, log_rows_round_trip);
    tcase_add_test(log, log_create_refuses_existing_path);
    tcase_add_test(log, log_flushed_rows_visible_to_second_reader);
    tcase_add_test(log, log_without_buckets);
    tcase_add_test(log, log_open_append_continues);
    tcase_add_test(log, log_read_round_trip_with_writer);
    tcase_add_test(log, log_without_drawn_bucket_reads_as_none);
    tcase_add_test(log, log_read_refuses_foreign_files);
    suite_add_tcase(suite, log);
    TCase *failures = tcase_create("failures");
    tcase_set_timeout(failures, 20);
    tcase_add_test(failures, failed_writes_close_every_hdf5_id);
    suite_add_tcase(suite, failures);
    SRunner *runner = srunner_create(suite);
    srunner_run_all(runner, CK_NORMAL);
    int failed = srunner_ntests_failed(runner);
    srunner_free(runner);
    return failed == 0 ? 0 : 1;
}
