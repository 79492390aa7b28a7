/* Running gnuplot on a report's plots.gp (shiftnas report): finding the
 * program, running it without a shell in the report's directory, and
 * turning its failure into one line. Here in the program, not in the
 * library: the library writes the script and its data and starts no
 * processes. */
#include "gnuplot.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "shiftnas/error.h"
#include "shiftnas/report.h"

int sn_cli_find_gnuplot(char *path, size_t size)
{
    const char *chosen = getenv("SHIFTNAS_GNUPLOT");
    if (chosen && *chosen) {
        if (access(chosen, X_OK) == 0 && snprintf(path, size, "%s", chosen) < (int)size)
            return SN_OK;
    } else {
        const char *search = getenv("PATH");
        char *copy = strdup(search && *search ? search : "/usr/bin:/bin");
        if (!copy)
            return sn_error_set(SN_ERR_NOMEM, "report: out of memory");
        for (char *save = NULL, *dir = strtok_r(copy, ":", &save); dir;
             dir = strtok_r(NULL, ":", &save)) {
            struct stat st;
            if (snprintf(path, size, "%s/gnuplot", dir) < (int)size && stat(path, &st) == 0 &&
                S_ISREG(st.st_mode) && access(path, X_OK) == 0) {
                free(copy);
                return SN_OK;
            }
        }
        free(copy);
    }
    return sn_error_set(SN_ERR_IO, "report: gnuplot not found (install gnuplot-nox, or use "
                                   "--no-plots)");
}

/* gnuplot's error line: the last `"plots.gp" line N: ...` that is not a
 * warning, else the first line that says anything. */
static void first_error_line(const char *log, char *line, size_t size)
{
    snprintf(line, size, "(no message)");
    FILE *f = fopen(log, "r");
    if (!f)
        return;
    char buffer[512];
    int found = 0, any = 0;
    while (fgets(buffer, sizeof buffer, f)) {
        buffer[strcspn(buffer, "\r\n")] = '\0';
        const char *text = buffer;
        while (*text == ' ' || *text == '\t' || *text == '^')
            text++;
        if (!*text)
            continue;
        if (strncmp(text, "\"plots.gp\" line", 15) == 0 && !strstr(text, "warning:")) {
            snprintf(line, size, "%s", text);
            found = 1;
        } else if (!found && !any) {
            snprintf(line, size, "%s", text);
            any = 1;
        }
    }
    fclose(f);
}

int sn_cli_run_gnuplot(const char *out_dir, const char *gnuplot)
{
    char log[SN_REPORT_PATH_MAX + 64];
    snprintf(log, sizeof log, "%s/data/gnuplot.log", out_dir);
    fflush(stdout);
    fflush(stderr);
    pid_t child = fork();
    if (child < 0)
        return sn_error_set(SN_ERR_IO, "report: cannot start %s: %s", gnuplot, strerror(errno));
    if (child == 0) {
        /* the script's paths are relative to the output directory */
        int fd = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0666);
        int null = open("/dev/null", O_WRONLY);
        if (fd < 0 || null < 0 || dup2(fd, 2) < 0 || dup2(null, 1) < 0 || chdir(out_dir) != 0)
            _exit(126);
        char *const arguments[] = {(char *)"gnuplot", (char *)"plots.gp", NULL};
        execv(gnuplot, arguments);
        dprintf(2, "cannot run %s: %s\n", gnuplot, strerror(errno));
        _exit(127);
    }
    int wait_status = 0;
    while (waitpid(child, &wait_status, 0) < 0)
        if (errno != EINTR)
            return sn_error_set(SN_ERR_IO, "report: waiting for gnuplot: %s", strerror(errno));
    char line[512];
    if (!WIFEXITED(wait_status) || WEXITSTATUS(wait_status) != 0) {
        first_error_line(log, line, sizeof line);
        if (WIFEXITED(wait_status))
            return sn_error_set(SN_ERR_IO, "report: gnuplot failed (exit %d; %s): %s",
                                WEXITSTATUS(wait_status), log, line);
        return sn_error_set(SN_ERR_IO, "report: gnuplot killed by signal %d (%s)",
                            WTERMSIG(wait_status), log);
    }
    for (int i = 0; i < SN_REPORT_PLOT_COUNT; i++) {
        char png[SN_REPORT_PATH_MAX + 64];
        snprintf(png, sizeof png, "%s/%s", out_dir, sn_report_plot_files[i]);
        struct stat st;
        if (stat(png, &st) != 0 || st.st_size == 0) {
            first_error_line(log, line, sizeof line);
            return sn_error_set(SN_ERR_IO, "report: gnuplot did not draw %s (%s): %s", png, log,
                                line);
        }
    }
    /* warnings only: keep the log if it says anything */
    struct stat st;
    if (stat(log, &st) == 0 && st.st_size == 0)
        unlink(log);
    return SN_OK;
}
