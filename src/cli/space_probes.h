/* `shiftnas space ... probes`: a probe panel of the configured space on
 * standard output (src/cli/space_probes.c). */
#ifndef SHIFTNAS_CLI_SPACE_PROBES_H
#define SHIFTNAS_CLI_SPACE_PROBES_H

#include "shiftnas/config.h"
#include "shiftnas/space.h"

typedef struct {
    const sn_config *config;      /* resolved: the file, then the overrides */
    const char *config_path;      /* as given; the header names its file name */
    const char *const *overrides; /* the --set assignments, in order */
    int override_count;
    long long per_bucket, seed, max_draws;
} space_probes_request;

/* Draws and prints the panel; returns an exit code (the failure said). */
int sn_cli_space_probes(const space_probes_request *request, const sn_space *space);

#endif
