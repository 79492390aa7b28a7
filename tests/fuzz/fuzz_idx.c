/* libFuzzer target: the IDX decoder on arbitrary bytes, and the gzip reader
 * when the bytes start with the gzip magic (through a file, as in real use). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "shiftnas/data.h"
#include "shiftnas/error.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Decompressed output is bounded well below the fuzzer's malloc limit, as a
 * caller would bound it below its memory. */
#define FUZZ_MAX_BYTES ((size_t)64 << 20)

static void decode(const uint8_t *bytes, size_t size, const char *name)
{
    sn_idx_array array;
    int rc = sn_idx_decode(bytes, size, name, &array);
    if (rc == SN_OK) {
        /* Touch every element so that a wrong size shows under ASan. */
        int64_t count = 1;
        unsigned sum = 0;
        for (int i = 0; i < array.ndim; i++)
            count *= array.dims[i];
        for (int64_t i = 0; i < count; i++)
            sum += array.data[i];
        (void)sum;
    } else if (sn_error_message()[0] == '\0') {
        abort(); /* every failure must say why */
    }
    sn_idx_array_free(&array);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    sn_error_clear();
    decode(data, size, "fuzz.idx");
    if (size >= 2 && data[0] == 0x1f && data[1] == 0x8b) {
        char path[64];
        snprintf(path, sizeof path, "/tmp/shiftnas-iodata-fuzz-idx-%ld.gz", (long)getpid());
        FILE *f = fopen(path, "wb");
        if (!f)
            return 0;
        fwrite(data, 1, size, f);
        fclose(f);
        uint8_t *bytes;
        size_t bytes_size;
        sn_error_clear();
        if (sn_read_file_maybe_gzip(path, FUZZ_MAX_BYTES, &bytes, &bytes_size) == SN_OK) {
            decode(bytes, bytes_size, path);
            free(bytes);
        } else if (sn_error_message()[0] == '\0') {
            abort();
        }
        unlink(path);
    }
    return 0;
}
