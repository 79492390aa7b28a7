/*
 * shiftnas/settings.h — the settings of each part of the library, made from
 * the run configuration.
 *
 * The networks, search spaces, buckets, the generator and the evolution take
 * small settings structs of their own (shiftnas/network.h, space.h,
 * sampler.h, generator.h, evolution.h) and know nothing of the INI
 * configuration (shiftnas/config.h). These functions, all in
 * src/train/settings.c, are the one place where its sections become those
 * structs; the trainer, the command-line program and the tests all call them.
 * Checks that need only the configuration are sn_config_validate's; the ones
 * here name the configuration's keys in their messages, as it does.
 */
#ifndef SHIFTNAS_SETTINGS_H
#define SHIFTNAS_SETTINGS_H

#include "shiftnas/api.h"

#include "shiftnas/config.h"
#include "shiftnas/evolution.h"
#include "shiftnas/generator.h"
#include "shiftnas/network.h"
#include "shiftnas/sampler.h"
#include "shiftnas/space.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The network [model] type names for inputs of this shape: [cnn], [vit], or
 * the supernet of [space] (whose zero image shape and classes are the
 * input's), with the layer settings of [train] and [vit]. SN_ERR_CONFIG for
 * lists that do not agree or do not fit. */
SN_API int sn_network_settings_from_config(sn_network_settings *settings, const sn_config *config,
                                           const sn_input_shape *input);
/* [train] bn_momentum, [vit] dropout and drop_path (for
 * sn_network_create_supernet). */
SN_API void sn_layer_settings_from_config(sn_layer_settings *settings, const sn_config *config);

/* The description of the [space] section. image_channels, image_size and
 * classes come from the data set and are used where [space] leaves them 0;
 * SN_ERR_CONFIG if they stay unknown or a list does not fit. */
SN_API int sn_space_description_from_config(sn_space_description *description,
                                            const sn_config *config,
                                            int image_channels, int image_size, int classes);
/* The space of that description (sn_space_build). */
SN_API int sn_space_from_config(sn_space *space, const sn_config *config, int image_channels,
                                int image_size, int classes);

/* The buckets [search] describes (buckets, or bucket_step when nonzero). */
SN_API int sn_buckets_from_config(sn_buckets *buckets, const sn_space *space,
                                  const sn_config *config);
/* The generator settings [search] describes (the others keep their defaults). */
SN_API void sn_generator_settings_from_config(sn_generator_settings *settings,
                                              const sn_config *config);
/* The evolution settings [search] describes (max_tries keeps its default). */
SN_API void sn_evolution_settings_from_config(sn_evolution_settings *settings,
                                              const sn_config *config);

#ifdef __cplusplus
}
#endif
#endif
