/* The one-writer lock of a directory as the commands take it (directory_lock.h). */
#include "directory_lock.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "commands.h"
#include "shiftnas/error.h"

/* Where locks are missing the default is to go on with a warning: Lustre is
 * often mounted without `flock`, and refusing every run there would leave
 * its users nothing but an option to turn the check off. */
static int lock_required(void)
{
    const char *value = getenv("SHIFTNAS_REQUIRE_LOCK");
    return value && strcmp(value, "1") == 0;
}

int sn_cli_lock_directory(sn_run_lock **lock, const char *context, const char *directory,
                          const char *command, unsigned flags)
{
    int status = sn_run_lock_acquire(lock, directory, command, flags);
    if (status != SN_OK) {
        sn_cli_report_error(context);
        return status;
    }
    const char *unsupported = sn_run_lock_unsupported(*lock);
    if (!unsupported)
        return SN_OK;
    if (lock_required()) {
        fprintf(stderr, "shiftnas %s: %s, and SHIFTNAS_REQUIRE_LOCK=1 refuses to write without "
                        "one\n",
                context, unsupported);
        sn_run_lock_release(*lock);
        *lock = NULL;
        return SN_ERR_IO;
    }
    fprintf(stderr, "shiftnas %s: warning: %s: nothing keeps a second writer out of %s "
                    "(SHIFTNAS_REQUIRE_LOCK=1 refuses instead)\n",
            context, unsupported, directory);
    return SN_OK;
}

int sn_cli_lock_csv_directory(sn_run_lock **lock, const char *context, const char *csv_path,
                              const char *command)
{
    *lock = NULL;
    char directory[4096], config[4200];
    if (snprintf(directory, sizeof directory, "%s", csv_path) >= (int)sizeof directory)
        return SN_OK; /* the CSV's own open names the path */
    char *slash = strrchr(directory, '/');
    if (!slash)
        snprintf(directory, sizeof directory, ".");
    else if (slash == directory)
        slash[1] = '\0';
    else
        *slash = '\0';
    snprintf(config, sizeof config, "%s/config.ini", directory);
    struct stat info;
    if (stat(config, &info) != 0)
        return SN_OK;
    return sn_cli_lock_directory(lock, context, directory, command, 0);
}
