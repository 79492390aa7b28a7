/* The configuration a command line describes, shared by `train` and
 * `config show` so that both resolve it, and refuse it, the same way. */
#ifndef SHIFTNAS_CLI_CONFIG_RESOLVE_H
#define SHIFTNAS_CLI_CONFIG_RESOLVE_H

#include "shiftnas/config.h"

/* The defaults, then the file (with resume_dir: RUN_DIR/config.ini, the
 * run's resolved configuration, and config_path is ignored), then each
 * "section.key=value" override in order; on resume only result-neutral keys
 * may change (sn_config_key_result_neutral). Not validated: the caller
 * calls sn_config_validate (train does it in sn_train_on_ranks). Errors:
 * SN_ERR_IO (no such file or run directory), SN_ERR_CONFIG, with the
 * message recorded. */
int sn_cli_config_resolve(sn_config *config, const char *config_path, const char *resume_dir,
                          const char **overrides, int override_count);

#endif
