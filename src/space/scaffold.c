/*
 * TEMPORARY SCAFFOLD while issue 3 is built in parallel branches: each
 * function below is deleted from this file by the branch that implements it,
 * and the file itself is deleted before anything lands on main. Every
 * function fails loudly; nothing here is a result.
 */
#include "shiftnas/error.h"
#include "shiftnas/network.h"
#include "shiftnas/space.h"

#include "nn/network_internal.h"

int sn_network_supernet_cnn_attach(sn_network *network, const sn_config *config)
{
    (void)network, (void)config;
    return sn_error_set(SN_ERR_INTERNAL, "scaffold: cnn supernet not built yet");
}
