/* One split of an HDF5 image set, read per request (internal to src/io; the
 * public face is the streamed sn_image_source of shiftnas/input.h). */
#ifndef SHIFTNAS_HDF5_STREAM_H
#define SHIFTNAS_HDF5_STREAM_H

#include <stddef.h>
#include <stdint.h>

typedef struct sn_h5_stream sn_h5_stream;

/* Opens /split of `path` (its first `limit` images, 0 = all) with room for
 * `staging` images per read: checks the images' metadata and reads and
 * checks every label. */
int sn_h5_stream_open(sn_h5_stream **stream, const char *path, const char *split, int64_t limit,
                      int64_t staging);
void sn_h5_stream_close(sn_h5_stream *stream);

int64_t sn_h5_stream_count(const sn_h5_stream *stream);
void sn_h5_stream_image_shape(const sn_h5_stream *stream, int *channels, int *height, int *width);
int sn_h5_stream_classes(const sn_h5_stream *stream);
const int32_t *sn_h5_stream_labels(const sn_h5_stream *stream);
int64_t sn_h5_stream_staging(const sn_h5_stream *stream);

/* Reads images indices[0..count), count <= staging, into the staging area
 * and points images[i] at image indices[i], stored [H, W, C]. Runs of
 * consecutive indices are read with one request each. The pointers stay
 * valid until the next read. */
int sn_h5_stream_read(sn_h5_stream *stream, const uint32_t *indices, int64_t count,
                      const uint8_t **images);

#endif
