/* The source revision a binary was built from.
 *
 * It is read when the binary is built, not when the tree is configured: a
 * tree configured once and rebuilt after every commit must still name the
 * commit each binary came from, because run directories, checkpoints and
 * reports quote it.  The text is generated into src/core/revision.c by the
 * rule in src/core/local.mk (git describe in a git checkout, the tarball's
 * .tarball-revision otherwise, or SHIFTNAS_REVISION given to configure). */
#ifndef SHIFTNAS_VERSION_H
#define SHIFTNAS_VERSION_H

#include "shiftnas/api.h"

/* "0a1b2c3", "0a1b2c3-dirty", a tag, or "unknown"; never NULL. */
SN_API const char *sn_source_revision(void);

#endif
