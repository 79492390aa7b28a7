/* Configuration from --config/--resume and --set (config_resolve.h). */
#include "config_resolve.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "shiftnas/error.h"
#include "shiftnas/format.h"

/* Command-line text shown in a message: this many bytes of it, escaped. */
enum { SHOWN_BYTES = 60, PATH_SHOWN_BYTES = 300 };

/* --set on --resume: only keys that cannot change a trained bit. */
static int check_resume_override(const char *assignment)
{
    const char *dot = strchr(assignment, '.'), *equals = strchr(assignment, '=');
    if (!dot || !equals || dot > equals)
        return SN_OK; /* malformed: sn_config_set reports it */
    int count;
    const sn_config_key *keys = sn_config_keys(&count);
    for (int k = 0; k < count; k++) {
        size_t section = strlen(keys[k].section), name = strlen(keys[k].name);
        const char *s = assignment, *n = dot + 1;
        while (*s == ' ')
            s++;
        while (*n == ' ')
            n++;
        if (strncmp(s, keys[k].section, section) == 0 && s + section == dot &&
            strncmp(n, keys[k].name, name) == 0 &&
            (n[name] == '=' || n[name] == ' ') && !sn_config_key_result_neutral(&keys[k])) {
            char shown[4 * SHOWN_BYTES + 8];
            return sn_error_set(SN_ERR_CONFIG,
                                "--set '%s': [%s] %s cannot change on --resume (it would change "
                                "the trained bits; start a new run with --config instead)",
                                sn_format_user_text(shown, sizeof shown, assignment, SHOWN_BYTES),
                                keys[k].section, keys[k].name);
        }
    }
    return SN_OK;
}

int sn_cli_config_resolve(sn_config *config, const char *config_path, const char *resume_dir,
                          const char **overrides, int override_count)
{
    sn_config_defaults(config);
    /* every count and size is capped before anything is read */
    if (override_count > SN_CONFIG_SET_MAX)
        return sn_error_set(SN_ERR_CONFIG, "--set given %d times (at most %d)", override_count,
                            SN_CONFIG_SET_MAX);
    char resume_config[4200];
    if (resume_dir) {
        char shown[4 * PATH_SHOWN_BYTES + 8];
        sn_format_user_text(shown, sizeof shown, resume_dir, PATH_SHOWN_BYTES);
        if ((size_t)snprintf(resume_config, sizeof resume_config, "%s/config.ini", resume_dir) >=
            sizeof resume_config)
            return sn_error_set(SN_ERR_IO, "%s: path too long", shown);
        config_path = resume_config;
        struct stat st;
        if (stat(resume_config, &st) != 0)
            return sn_error_set(SN_ERR_IO, "%s: not a run directory (no config.ini): %s", shown,
                                strerror(errno));
    }
    SN_TRY(sn_config_load_file(config, config_path));
    for (int i = 0; i < override_count; i++) {
        if (resume_dir)
            SN_TRY(check_resume_override(overrides[i]));
        SN_TRY(sn_config_set(config, overrides[i]));
    }
    return SN_OK;
}
