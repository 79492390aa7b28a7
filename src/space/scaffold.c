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

int sn_space_from_config(sn_space *space, const sn_config *config, int image_channels,
                         int image_size, int classes)
{
    (void)space, (void)config, (void)image_channels, (void)image_size, (void)classes;
    return sn_error_set(SN_ERR_INTERNAL, "scaffold: [space] configuration not built yet");
}

sn_cost sn_space_cost(const sn_space *space, const sn_arch *arch)
{
    (void)space, (void)arch;
    sn_cost none = {-1, -1};
    return none;
}
