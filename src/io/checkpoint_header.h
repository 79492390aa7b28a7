/* Internal: the text header in a checkpoint's HDF5 user block
 * (src/io/checkpoint_header.c). The format is in shiftnas/checkpoint.h. */
#ifndef SHIFTNAS_IO_CHECKPOINT_HEADER_H
#define SHIFTNAS_IO_CHECKPOINT_HEADER_H

/* After HDF5 has closed the file at path: computes the CRC-32 of its bytes
 * after the user block, writes the header into the user block and fsyncs.
 * The caller removes the file on failure. */
int sn_checkpoint_header_write(const char *path);

#endif
