/*
 * make bench, checkpoint part: how should a data-parallel run write its
 * checkpoints? Every rank holds the same whole state, so there are two ways:
 *
 *   serial    the coordinator (rank 0) alone writes the file with HDF5's
 *             default (sec2) driver; the other ranks wait at an agreement
 *             (an MPI_Allreduce of the status, as the trainer agrees).
 *   parallel  every rank opens the file with H5Pset_fapl_mpio and each
 *             dataset is written by one collective H5Dwrite in which rank r
 *             writes its contiguous share of rows, [r*rows/P, (r+1)*rows/P).
 *
 * Usage (under mpirun, any number of ranks):
 *   checkpoint_bench [--dir DIR] [--reps N] [--flat] CONFIG...
 * DIR (default /tmp/shiftnas-checkpoint-bench, created if needed) receives
 * one file per repetition and mode, removed after it is measured. N
 * repetitions (7) of both modes, alternating which goes first. --flat writes
 * each parameter table as one flat dataset (7 datasets instead of ~100): the
 * same bytes with far fewer collective calls.
 *
 * What a file holds: the supernet of each CONFIG (its parameter table, one
 * float32 dataset per entry, named and shaped as the entry), the AdamW first
 * and second moments as two flat slabs of table->total floats, the batch-norm
 * running statistics, the architecture generator's parameters and its Adam
 * moments (search.strategy = shift trains it), and the resolved
 * configuration as a text attribute; in a 512-byte user block, as
 * shiftnas/checkpoint.h lays it out.
 *
 * Both modes end with the same file, durable on disk (the time is taken on
 * every rank from a barrier to the end of the last step, the largest over
 * ranks):
 *   serial:   create .. H5Fclose; CRC-32 read back from the file; header
 *             written into the user block; fsync(fd).
 *   parallel: create .. collective writes; H5Fflush(H5F_SCOPE_GLOBAL), which
 *             in the MPI-IO driver writes the metadata and calls
 *             MPI_File_sync (fsync of each rank's descriptor under Open MPI's
 *             ompio/ufs and ROMIO); H5Fclose (collective; may set the file's
 *             size); then rank 0 reads the file back for the CRC-32, writes
 *             the header and fsyncs, since the header needs the checksum of
 *             the whole file whoever wrote its parts.
 * The CRC step is also reported alone, and once more with the file's pages
 * dropped from the page cache (posix_fadvise DONTNEED after the fsync), the
 * cost of a read that really goes to the disk.
 *
 * The first repetition of each mode is checked: rank 0 reopens the file with
 * the default driver and compares every dataset with the state in memory, so
 * a wrong row split cannot pass for a fast one.
 *
 * Output (rank 0): one line per repetition and mode,
 *   rep LABEL MODE total_ms hdf5_write_ms flush_close_ms crc_ms header_fsync_ms
 *       crc_cold_ms mb_per_s bytes
 * (tests/bench/checkpoint-bench.sh reads these), then "LABEL MODE key value"
 * lines, and "LABEL MODE key median min max" for the times over the
 * repetitions.
 */
#include <errno.h>
#include <fcntl.h>
#include <hdf5.h>
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "shiftnas/config.h"
#include "shiftnas/error.h"
#include "shiftnas/generator.h"
#include "shiftnas/network.h"
#include "shiftnas/settings.h"
#include "shiftnas/space.h"
#include "shiftnas/tensor.h"

enum { HEADER_BYTES = 512, MAX_DATASETS = 512, MAX_REPS = 64 };

typedef enum { MODE_SERIAL = 0, MODE_PARALLEL = 1, MODE_COUNT = 2 } write_mode;
static const char *const mode_names[MODE_COUNT] = {"serial", "parallel"};

/* One dataset of the file: a float32 array in memory. */
typedef struct {
    char name[128];
    int ndim;
    hsize_t dims[SN_MAX_DIMS];
    const float *data;
} dataset;

typedef struct {
    dataset sets[MAX_DATASETS];
    int count;
    size_t floats;
    char *config_text;
} checkpoint_state;

/* Seconds of each phase of one write (the largest over ranks). */
typedef struct {
    double write;   /* create .. last H5Dwrite (serial: .. H5Fclose) */
    double flush;   /* parallel: H5Fflush + H5Fclose; serial: 0 */
    double crc;     /* read back + crc32 */
    double sync;    /* header pwrite + fsync */
    double total;
    double crc_cold; /* the CRC read from the disk, after the write */
    long long bytes;
    uint32_t crc_value;
} write_times;

static int rank_g, ranks_g;

static double now(void) { return MPI_Wtime(); }

static int fail(const char *what)
{
    fprintf(stderr, "checkpoint_bench (rank %d): %s: %s\n", rank_g, what, sn_error_message());
    return 1;
}

/* ---- the state -------------------------------------------------------------- */

static int add_set(checkpoint_state *s, const char *group, const char *name, int ndim,
                   const int64_t *shape, const float *data)
{
    if (s->count == MAX_DATASETS)
        return sn_error_set(SN_ERR_INTERNAL, "more than %d datasets", MAX_DATASETS);
    dataset *d = &s->sets[s->count++];
    snprintf(d->name, sizeof d->name, "%s/%s", group, name);
    d->ndim = ndim;
    size_t n = 1;
    for (int i = 0; i < ndim; i++) {
        d->dims[i] = (hsize_t)shape[i];
        n *= (size_t)shape[i];
    }
    d->data = data;
    s->floats += n;
    return SN_OK;
}

/* --flat: the parameters as one slab dataset per family instead of one per
 * entry, to tell the cost of a collective call per dataset from the cost of
 * the bytes. */
static int flat_g;

static int add_table(checkpoint_state *s, const char *group, const sn_parameter_table *table,
                     const float *params)
{
    if (flat_g) {
        int64_t total = (int64_t)table->total;
        return add_set(s, group, "parameters", 1, &total, params);
    }
    for (int i = 0; i < table->count; i++) {
        const sn_parameter_entry *e = &table->entries[i];
        SN_TRY(add_set(s, group, e->name, e->ndim, e->shape, params + e->offset));
    }
    return SN_OK;
}

/* Moments that look like a run's (so nothing is all zeros). */
static float *make_moments(const float *params, size_t n, int second)
{
    float *m = sn_alloc_floats(n);
    if (m)
        for (size_t i = 0; i < n; i++)
            m[i] = second ? params[i] * params[i] + 1e-8f : 0.1f * params[i];
    return m;
}

typedef struct {
    sn_network *network;
    sn_generator generator;
    int have_generator;
    float *moments[4];
} owned_state;

static void owned_free(owned_state *o)
{
    for (int i = 0; i < 4; i++)
        sn_free(o->moments[i]);
    if (o->have_generator)
        sn_generator_free(&o->generator);
    sn_network_free(o->network);
}

static int build_state(const char *config_path, checkpoint_state *s, owned_state *o, char *label,
                       size_t label_size)
{
    sn_config config;
    sn_config_defaults(&config);
    SN_TRY(sn_config_load_file(&config, config_path));
    SN_TRY(sn_config_validate(&config));
    /* Fashion-MNIST, as every shipped configuration; the batch only sizes
     * the activation slab, which a checkpoint does not hold. */
    sn_input_shape shape = {1, 28, 28, 10};
    sn_network_settings network_settings;
    SN_TRY(sn_network_settings_from_config(&network_settings, &config, &shape));
    SN_TRY(sn_network_create(&o->network, &network_settings, &shape, 1));
    sn_network_initialize(o->network, (uint64_t)config.seed);
    const sn_parameter_table *table = sn_network_parameter_table(o->network);
    float *params = sn_network_parameters(o->network);
    snprintf(label, label_size, "%.24s-%.24s%s", config.model_type,
             strcmp(config.model_type, "supernet") == 0 ? config.space_type : "fixed",
             flat_g ? "-flat" : "");

    SN_TRY(add_table(s, "supernet", table, params));
    int64_t total = (int64_t)table->total;
    if (!(o->moments[0] = make_moments(params, table->total, 0)) ||
        !(o->moments[1] = make_moments(params, table->total, 1)))
        return SN_ERR_NOMEM;
    SN_TRY(add_set(s, "optimizer", "moment1", 1, &total, o->moments[0]));
    SN_TRY(add_set(s, "optimizer", "moment2", 1, &total, o->moments[1]));
    int64_t statistics = 0;
    float *running = sn_network_running_statistics(o->network, &statistics);
    if (running && statistics > 0)
        SN_TRY(add_set(s, "supernet_state", "running_statistics", 1, &statistics, running));

    const sn_space *space = sn_network_space(o->network);
    if (space) {
        sn_generator_settings settings;
        sn_generator_settings_from_config(&settings, &config);
        SN_TRY(sn_generator_create(&o->generator, space, &settings, (uint64_t)config.seed));
        o->have_generator = 1;
        SN_TRY(add_table(s, "generator", &o->generator.table, o->generator.params));
        int64_t gtotal = (int64_t)o->generator.table.total;
        if (!(o->moments[2] = make_moments(o->generator.params, o->generator.table.total, 0)) ||
            !(o->moments[3] = make_moments(o->generator.params, o->generator.table.total, 1)))
            return SN_ERR_NOMEM;
        SN_TRY(add_set(s, "generator_optimizer", "moment1", 1, &gtotal, o->moments[2]));
        SN_TRY(add_set(s, "generator_optimizer", "moment2", 1, &gtotal, o->moments[3]));
    }

    size_t text_size = 0;
    FILE *text = open_memstream(&s->config_text, &text_size);
    if (!text)
        return sn_error_set(SN_ERR_NOMEM, "configuration text: %s", strerror(errno));
    int status = sn_config_write(&config, text);
    fclose(text);
    return status;
}

/* ---- HDF5 writing (both modes) ------------------------------------------- */

static int create_groups(hid_t file, const checkpoint_state *s)
{
    /* Groups are the prefixes before '/', created once each in order. */
    char made[16][64];
    int made_count = 0;
    for (int i = 0; i < s->count; i++) {
        char group[64];
        const char *slash = strchr(s->sets[i].name, '/');
        size_t len = (size_t)(slash - s->sets[i].name);
        if (len >= sizeof group)
            return -1;
        memcpy(group, s->sets[i].name, len);
        group[len] = '\0';
        int seen = 0;
        for (int j = 0; j < made_count; j++)
            seen |= strcmp(made[j], group) == 0;
        if (seen)
            continue;
        if (made_count == 16)
            return -1;
        hid_t g = H5Gcreate2(file, group, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
        if (g < 0 || H5Gclose(g) < 0)
            return -1;
        strcpy(made[made_count++], group);
    }
    return 0;
}

static int write_text_attribute(hid_t file, const char *name, const char *value)
{
    hid_t type = H5Tcopy(H5T_C_S1);
    int ok = type >= 0 && H5Tset_size(type, H5T_VARIABLE) >= 0 &&
             H5Tset_cset(type, H5T_CSET_UTF8) >= 0;
    hid_t space = ok ? H5Screate(H5S_SCALAR) : -1;
    hid_t attribute = space >= 0 ? H5Acreate2(file, name, type, space, H5P_DEFAULT, H5P_DEFAULT) : -1;
    ok = attribute >= 0 && H5Awrite(attribute, type, &value) >= 0;
    if (attribute >= 0 && H5Aclose(attribute) < 0)
        ok = 0;
    if (space >= 0)
        H5Sclose(space);
    if (type >= 0)
        H5Tclose(type);
    return ok ? 0 : -1;
}

/* Writes one dataset: every row (serial, ranks == 1 view) or this rank's
 * contiguous share of rows (parallel, collective transfer). */
static int write_dataset(hid_t file, const dataset *d, hid_t transfer, int rank, int ranks)
{
    hid_t file_space = H5Screate_simple(d->ndim, d->dims, NULL);
    if (file_space < 0)
        return -1;
    hid_t set = H5Dcreate2(file, d->name, H5T_IEEE_F32LE, file_space, H5P_DEFAULT, H5P_DEFAULT,
                           H5P_DEFAULT);
    int ok = set >= 0;
    hsize_t rows = d->dims[0];
    hsize_t first = rows * (hsize_t)rank / (hsize_t)ranks;
    hsize_t last = rows * (hsize_t)(rank + 1) / (hsize_t)ranks;
    hsize_t row_floats = 1;
    for (int i = 1; i < d->ndim; i++)
        row_floats *= d->dims[i];
    hsize_t start[SN_MAX_DIMS] = {0}, count[SN_MAX_DIMS];
    for (int i = 0; i < d->ndim; i++)
        count[i] = d->dims[i];
    start[0] = first;
    count[0] = last - first;
    hsize_t memory_count = count[0] * row_floats;
    /* A zero-size memory space is not allowed; a rank with no rows still
     * joins the collective call with empty selections. */
    hsize_t memory_dims = memory_count > 0 ? memory_count : 1;
    hid_t memory_space = ok ? H5Screate_simple(1, &memory_dims, NULL) : -1;
    ok = memory_space >= 0;
    if (ok && memory_count > 0)
        ok = H5Sselect_hyperslab(file_space, H5S_SELECT_SET, start, NULL, count, NULL) >= 0;
    else if (ok)
        ok = H5Sselect_none(file_space) >= 0 && H5Sselect_none(memory_space) >= 0;
    if (ok)
        ok = H5Dwrite(set, H5T_NATIVE_FLOAT, memory_space, file_space, transfer,
                      d->data + first * row_floats) >= 0;
    if (memory_space >= 0)
        H5Sclose(memory_space);
    if (set >= 0 && H5Dclose(set) < 0)
        ok = 0;
    H5Sclose(file_space);
    return ok ? 0 : -1;
}

static int write_all(hid_t file, const checkpoint_state *s, hid_t transfer, int rank, int ranks)
{
    if (create_groups(file, s) < 0 || write_text_attribute(file, "config", s->config_text) < 0)
        return -1;
    for (int i = 0; i < s->count; i++)
        if (write_dataset(file, &s->sets[i], transfer, rank, ranks) < 0)
            return -1;
    return 0;
}

static hid_t file_creation(void)
{
    hid_t creation = H5Pcreate(H5P_FILE_CREATE);
    if (creation >= 0 && H5Pset_userblock(creation, HEADER_BYTES) < 0) {
        H5Pclose(creation);
        return -1;
    }
    return creation;
}

static hid_t file_access(int parallel)
{
    hid_t access = H5Pcreate(H5P_FILE_ACCESS);
    if (access < 0)
        return -1;
    int ok = H5Pset_fclose_degree(access, H5F_CLOSE_STRONG) >= 0;
#if H5_VERSION_GE(1, 12, 1) || (H5_VERS_MAJOR == 1 && H5_VERS_MINOR == 10 && H5_VERS_RELEASE >= 7)
    ok = ok && H5Pset_file_locking(access, 0, 1) >= 0;
#endif
    if (ok && parallel)
        ok = H5Pset_fapl_mpio(access, MPI_COMM_WORLD, MPI_INFO_NULL) >= 0;
    if (!ok) {
        H5Pclose(access);
        return -1;
    }
    return access;
}

/* ---- the checksum header (rank 0) ------------------------------------------ */

static int crc_of_file(const char *path, int drop_cache, uint32_t *crc, long long *bytes)
{
    int fd = open(path, O_RDONLY);
    if (fd < 0)
        return sn_error_set(SN_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    if (drop_cache)
        posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
    static unsigned char buffer[1 << 20];
    uLong c = crc32(0L, Z_NULL, 0);
    off_t offset = HEADER_BYTES;
    for (;;) {
        ssize_t got = pread(fd, buffer, sizeof buffer, offset);
        if (got < 0) {
            close(fd);
            return sn_error_set(SN_ERR_IO, "%s: cannot read: %s", path, strerror(errno));
        }
        if (got == 0)
            break;
        c = crc32(c, buffer, (uInt)got);
        offset += got;
    }
    close(fd);
    *crc = (uint32_t)c;
    *bytes = (long long)offset;
    return SN_OK;
}

static int write_header_and_sync(const char *path, uint32_t crc, long long bytes)
{
    char header[HEADER_BYTES];
    memset(header, 0, sizeof header);
    snprintf(header, sizeof header, "shiftnas-checkpoint 1\nsize %lld\ncrc32 0x%08x\n", bytes,
             (unsigned)crc);
    int fd = open(path, O_WRONLY);
    if (fd < 0)
        return sn_error_set(SN_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    int ok = pwrite(fd, header, sizeof header, 0) == (ssize_t)sizeof header && fsync(fd) == 0;
    int saved = errno;
    if (close(fd) != 0)
        ok = 0;
    return ok ? SN_OK : sn_error_set(SN_ERR_IO, "%s: header or fsync: %s", path, strerror(saved));
}

/* Rank 0 after the HDF5 file is closed: CRC, header, fsync. */
static int finish_file(const char *path, write_times *t)
{
    uint32_t crc = 0;
    long long bytes = 0;
    double t0 = now();
    SN_TRY(crc_of_file(path, 0, &crc, &bytes));
    double t1 = now();
    SN_TRY(write_header_and_sync(path, crc, bytes));
    double t2 = now();
    t->crc = t1 - t0;
    t->sync = t2 - t1;
    t->bytes = bytes;
    t->crc_value = crc;
    return SN_OK;
}

/* Rank 0, after the timed write: the same CRC read again from the disk
 * (the pages are clean after the fsync, so DONTNEED drops them). */
static int cold_crc(const char *path, write_times *t)
{
    uint32_t again = 0;
    long long bytes = 0;
    double t0 = now();
    SN_TRY(crc_of_file(path, 1, &again, &bytes));
    t->crc_cold = now() - t0;
    if (again != t->crc_value)
        return sn_error_set(SN_ERR_INTERNAL, "%s: CRC-32 differs between two reads", path);
    return SN_OK;
}

/* ---- the two modes ---------------------------------------------------------- */

static int agree(int status)
{
    int worst = status;
    MPI_Allreduce(&status, &worst, 1, MPI_INT, MPI_MIN, MPI_COMM_WORLD);
    return worst;
}

static int write_serial(const char *path, const checkpoint_state *s, write_times *t)
{
    int status = SN_OK;
    memset(t, 0, sizeof *t);
    if (rank_g == 0) {
        double t0 = now();
        hid_t creation = file_creation(), access = file_access(0);
        hid_t file = creation >= 0 && access >= 0
                         ? H5Fcreate(path, H5F_ACC_TRUNC, creation, access)
                         : -1;
        int ok = file >= 0 && write_all(file, s, H5P_DEFAULT, 0, 1) == 0;
        if (file >= 0 && H5Fclose(file) < 0)
            ok = 0;
        if (creation >= 0)
            H5Pclose(creation);
        if (access >= 0)
            H5Pclose(access);
        t->write = now() - t0;
        status = ok ? finish_file(path, t)
                    : sn_error_set(SN_ERR_IO, "%s: serial HDF5 write failed", path);
    }
    return agree(status);
}

static int write_parallel(const char *path, const checkpoint_state *s, write_times *t)
{
    memset(t, 0, sizeof *t);
    double t0 = now();
    hid_t creation = file_creation(), access = file_access(1);
    hid_t transfer = H5Pcreate(H5P_DATASET_XFER);
    int ok = creation >= 0 && access >= 0 && transfer >= 0 &&
             H5Pset_dxpl_mpio(transfer, H5FD_MPIO_COLLECTIVE) >= 0;
    hid_t file = ok ? H5Fcreate(path, H5F_ACC_TRUNC, creation, access) : -1;
    ok = file >= 0 && write_all(file, s, transfer, rank_g, ranks_g) == 0;
    double t1 = now();
    if (file >= 0 && ok && H5Fflush(file, H5F_SCOPE_GLOBAL) < 0)
        ok = 0;
    if (file >= 0 && H5Fclose(file) < 0)
        ok = 0;
    if (transfer >= 0)
        H5Pclose(transfer);
    if (creation >= 0)
        H5Pclose(creation);
    if (access >= 0)
        H5Pclose(access);
    t->write = t1 - t0;
    t->flush = now() - t1;
    int status = agree(ok ? SN_OK : sn_error_set(SN_ERR_IO, "%s: parallel HDF5 write failed", path));
    if (status != SN_OK)
        return status;
    if (rank_g == 0)
        status = finish_file(path, t);
    return agree(status);
}

/* Rank 0 reopens the file with the default driver and compares every dataset
 * with memory, bit for bit. */
static int check_file(const char *path, const checkpoint_state *s)
{
    int status = SN_OK;
    if (rank_g == 0) {
        hid_t access = file_access(0);
        hid_t file = access >= 0 ? H5Fopen(path, H5F_ACC_RDONLY, access) : -1;
        if (file < 0)
            status = sn_error_set(SN_ERR_FORMAT, "%s: cannot reopen", path);
        float *buffer = status == SN_OK ? sn_alloc_floats(s->floats) : NULL;
        for (int i = 0; i < s->count && status == SN_OK && buffer; i++) {
            const dataset *d = &s->sets[i];
            size_t n = 1;
            for (int k = 0; k < d->ndim; k++)
                n *= (size_t)d->dims[k];
            hid_t set = H5Dopen2(file, d->name, H5P_DEFAULT);
            int ok = set >= 0 &&
                     H5Dread(set, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, buffer) >= 0;
            if (set >= 0)
                H5Dclose(set);
            if (!ok || memcmp(buffer, d->data, n * sizeof(float)) != 0)
                status = sn_error_set(SN_ERR_FORMAT, "%s: dataset %s differs from memory", path,
                                      d->name);
        }
        if (status == SN_OK && !buffer)
            status = SN_ERR_NOMEM;
        sn_free(buffer);
        if (file >= 0)
            H5Fclose(file);
        if (access >= 0)
            H5Pclose(access);
    }
    return agree(status);
}

/* ---- statistics and output ------------------------------------------------- */

static int compare_doubles(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static void print_stat(const char *label, const char *mode, const char *key, double *values, int n,
                       double scale)
{
    qsort(values, (size_t)n, sizeof *values, compare_doubles);
    double median = n % 2 ? values[n / 2] : (values[n / 2 - 1] + values[n / 2]) / 2;
    printf("%s %s %s %.4g %.4g %.4g\n", label, mode, key, median * scale, values[0] * scale,
           values[n - 1] * scale);
}

/* The largest of each phase over ranks (a rank's phase ends when its calls
 * return; the checkpoint is done when the slowest rank's is). */
static void reduce_times(write_times *t)
{
    double v[6] = {t->write, t->flush, t->crc, t->sync, t->total, t->crc_cold}, w[6];
    MPI_Allreduce(v, w, 6, MPI_DOUBLE, MPI_MAX, MPI_COMM_WORLD);
    t->write = w[0], t->flush = w[1], t->crc = w[2], t->sync = w[3], t->total = w[4];
    t->crc_cold = w[5];
    MPI_Bcast(&t->bytes, 1, MPI_LONG_LONG, 0, MPI_COMM_WORLD);
}

static int bench_config(const char *config_path, const char *dir, int reps)
{
    checkpoint_state s;
    owned_state o;
    memset(&s, 0, sizeof s);
    memset(&o, 0, sizeof o);
    char label[64];
    int status = build_state(config_path, &s, &o, label, sizeof label);
    if (agree(status) != SN_OK) {
        owned_free(&o);
        free(s.config_text);
        return status != SN_OK ? fail(config_path) : 1;
    }
    double times[MODE_COUNT][7][MAX_REPS];
    long long bytes[MODE_COUNT] = {0, 0};
    for (int rep = 0; rep < reps && status == SN_OK; rep++) {
        /* Alternate which mode goes first, so that a slow spell of the
         * shared machine does not always land on the same mode. */
        for (int k = 0; k < MODE_COUNT && status == SN_OK; k++) {
            write_mode mode = (write_mode)((k + rep) % MODE_COUNT);
            char path[1024];
            snprintf(path, sizeof path, "%s/ckb-%s-%s-np%d-rep%d.h5", dir, label, mode_names[mode],
                     ranks_g, rep);
            write_times t;
            MPI_Barrier(MPI_COMM_WORLD);
            double t0 = now();
            status = mode == MODE_SERIAL ? write_serial(path, &s, &t) : write_parallel(path, &s, &t);
            t.total = now() - t0;
            if (status == SN_OK && rank_g == 0)
                status = cold_crc(path, &t);
            status = agree(status);
            if (status == SN_OK)
                reduce_times(&t);
            if (status == SN_OK && rep == 0)
                status = check_file(path, &s);
            if (rank_g == 0)
                unlink(path);
            if (status != SN_OK)
                break;
            double mb_per_s = (double)t.bytes / t.total / 1e6;
            double values[7] = {t.total, t.write, t.flush, t.crc, t.sync, t.crc_cold, mb_per_s};
            for (int v = 0; v < 7; v++)
                times[mode][v][rep] = values[v];
            bytes[mode] = t.bytes;
            if (rank_g == 0)
                printf("rep %s %s %.3f %.3f %.3f %.3f %.3f %.3f %.2f %lld\n", label,
                       mode_names[mode], t.total * 1e3, t.write * 1e3, t.flush * 1e3, t.crc * 1e3,
                       t.sync * 1e3, t.crc_cold * 1e3, mb_per_s, t.bytes);
        }
    }
    if (status != SN_OK) {
        if (sn_error_message()[0])
            fail(config_path);
    } else if (rank_g == 0) {
        for (int m = 0; m < MODE_COUNT; m++) {
            const char *mode = mode_names[m];
            printf("%s %s ranks %d\n", label, mode, ranks_g);
            printf("%s %s reps %d\n", label, mode, reps);
            printf("%s %s datasets %d\n", label, mode, s.count);
            printf("%s %s floats %zu\n", label, mode, s.floats);
            printf("%s %s bytes %lld\n", label, mode, bytes[m]);
            /* "key median min max" */
            print_stat(label, mode, "total_ms", times[m][0], reps, 1e3);
            print_stat(label, mode, "hdf5_write_ms", times[m][1], reps, 1e3);
            print_stat(label, mode, "flush_close_ms", times[m][2], reps, 1e3);
            print_stat(label, mode, "crc_ms", times[m][3], reps, 1e3);
            print_stat(label, mode, "header_fsync_ms", times[m][4], reps, 1e3);
            print_stat(label, mode, "crc_cold_ms", times[m][5], reps, 1e3);
            print_stat(label, mode, "mb_per_s", times[m][6], reps, 1);
        }
        fflush(stdout);
    }
    owned_free(&o);
    free(s.config_text);
    return status == SN_OK ? 0 : 1;
}

int main(int argc, char **argv)
{
    MPI_Init(&argc, &argv);
    MPI_Comm_rank(MPI_COMM_WORLD, &rank_g);
    MPI_Comm_size(MPI_COMM_WORLD, &ranks_g);
    const char *dir = "/tmp/shiftnas-checkpoint-bench";
    int reps = 7, first = 1;
    for (; first < argc && strncmp(argv[first], "--", 2) == 0; first++) {
        if (strcmp(argv[first], "--dir") == 0 && first + 1 < argc)
            dir = argv[++first];
        else if (strcmp(argv[first], "--flat") == 0)
            flat_g = 1;
        else if (strcmp(argv[first], "--reps") == 0 && first + 1 < argc)
            reps = atoi(argv[++first]);
        else
            break;
    }
    if (first >= argc || reps < 1 || reps > MAX_REPS) {
        if (rank_g == 0)
            fprintf(stderr, "usage: checkpoint_bench [--dir DIR] [--reps 1..%d] [--flat] CONFIG...\n",
                    MAX_REPS);
        MPI_Finalize();
        return 2;
    }
    if (rank_g == 0 && mkdir(dir, 0777) != 0 && errno != EEXIST) {
        fprintf(stderr, "checkpoint_bench: %s: cannot create: %s\n", dir, strerror(errno));
        MPI_Abort(MPI_COMM_WORLD, 1);
    }
    if (rank_g == 0) {
        unsigned major = 0, minor = 0, release = 0;
        H5get_libversion(&major, &minor, &release);
        printf("hdf5_version %u.%u.%u\n", major, minor, release);
        printf("directory %s\n", dir);
    }
    int failed = 0;
    for (int i = first; i < argc && !failed; i++)
        failed = bench_config(argv[i], dir, reps);
    MPI_Finalize();
    return failed;
}
