/* HDF5 image sets: the checked opening shared by the whole-set reader
 * (hdf5_images.c) and the streamed source (hdf5_stream.c). Internal to
 * src/io. Callers hold the HDF5 lock (hdf5_lock.h). */
#ifndef SHIFTNAS_HDF5_IMAGES_INTERNAL_H
#define SHIFTNAS_HDF5_IMAGES_INTERNAL_H

#include <hdf5.h>
#include <stdint.h>

/* An open image-set file and what every check needs to know of it. */
typedef struct {
    const char *path;
    uint64_t file_size;
    hid_t file;
    unsigned plugin_state;  /* HDF5's filter-plugin loading, off while open */
    int restore_plugins;
} h5_reader;

typedef struct {
    int64_t count;
    int channels, height, width;
} sn_h5_image_shape;

/* Opens `path` read-only after checking it is a readable regular HDF5 file;
 * split must be "train" or "test". Close with sn_h5_reader_close (also
 * after a failure). */
int sn_h5_reader_open(h5_reader *reader, const char *path, const char *split);
void sn_h5_reader_close(h5_reader *reader);
/* Images larger than this a side are refused (a forged shape). */
#define SN_H5_MAX_SIDE 65536

/* Opens /split/images with the access list `access` after checking its
 * type (uint8), rank (3 or 4, channels last, 1-4 channels), chunking and
 * storage against the file; at most max_elements pixels in all. */
int sn_h5_open_images(const h5_reader *reader, const char *split, hid_t access,
                      uint64_t max_elements, hid_t *images, sn_h5_image_shape *shape);
/* The root attribute "classes" (checked: one integer, 1 to 2^24), or 0
 * when the file has none. */
int sn_h5_read_classes_attribute(const h5_reader *reader, int *classes);
/* Reads and checks /split/labels (`expected` entries, or any count if < 0;
 * each label at its true value, below `declared` when it is > 0, the
 * attribute's count). */
int sn_h5_read_labels(const h5_reader *reader, const char *split, int64_t expected, int declared,
                      int32_t **labels, int64_t *count, int32_t *largest);
/* The classifier size: `declared` (the attribute) when > 0, else the
 * largest label over both splits + 1. */
int sn_h5_resolve_classes(const h5_reader *reader, const char *split, int declared,
                          int32_t largest, int *classes);

#endif
