/* Stop requests by signal (stop_request.h). */
#include "stop_request.h"

#include <errno.h>
#include <signal.h>
#include <string.h>

#include "shiftnas/error.h"

static volatile sig_atomic_t requested_signal;
static struct sigaction previous_usr1, previous_term;
static int installed;

static void on_stop_signal(int signal_number)
{
    /* only the first request counts; the run stops once */
    if (requested_signal == 0)
        requested_signal = signal_number;
}

int sn_stop_request_install(void)
{
    struct sigaction action;
    memset(&action, 0, sizeof action);
    action.sa_handler = on_stop_signal;
    sigemptyset(&action.sa_mask);
    /* SA_RESTART: a read or write interrupted by the signal goes on, so no
     * I/O path sees EINTR because a stop was asked for. */
    action.sa_flags = SA_RESTART;
    requested_signal = 0;
    if (sigaction(SIGUSR1, &action, &previous_usr1) != 0)
        return sn_error_set(SN_ERR_INTERNAL, "cannot install the SIGUSR1 handler: %s",
                            strerror(errno));
    if (sigaction(SIGTERM, &action, &previous_term) != 0) {
        sigaction(SIGUSR1, &previous_usr1, NULL);
        return sn_error_set(SN_ERR_INTERNAL, "cannot install the SIGTERM handler: %s",
                            strerror(errno));
    }
    installed = 1;
    return SN_OK;
}

void sn_stop_request_restore(void)
{
    if (!installed)
        return;
    sigaction(SIGUSR1, &previous_usr1, NULL);
    sigaction(SIGTERM, &previous_term, NULL);
    installed = 0;
}

int sn_stop_request_signal(void)
{
    return (int)requested_signal;
}
