/* The one-writer lock of a directory as the commands take it (shiftnas/run_lock.h). */
#ifndef SHIFTNAS_CLI_DIRECTORY_LOCK_H
#define SHIFTNAS_CLI_DIRECTORY_LOCK_H

#include "shiftnas/run_lock.h"

/* Locks `directory` for `command` ("shiftnas train --resume") and prints the
 * one line there is to say on stderr as "shiftnas CONTEXT: ...": the holder
 * when another process writes there (SN_ERR_IO), or, on a file system
 * without locks, a warning and SN_OK — an error instead when the
 * environment sets SHIFTNAS_REQUIRE_LOCK=1. flags: SN_RUN_LOCK_CREATE. */
int sn_cli_lock_directory(sn_run_lock **lock, const char *context, const char *directory,
                          const char *command, unsigned flags);

/* `search` and `eval` append to a CSV: when the file goes into a run
 * directory (one holding config.ini), that directory is locked; a file
 * elsewhere needs no lock (*lock = NULL). */
int sn_cli_lock_csv_directory(sn_run_lock **lock, const char *context, const char *csv_path,
                              const char *command);

#endif
