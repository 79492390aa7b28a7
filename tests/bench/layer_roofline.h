/* bench_shiftnas layers: one subnet's step layer by layer against a
 * roofline (layer_roofline.c). */
#ifndef SHIFTNAS_BENCH_LAYER_ROOFLINE_H
#define SHIFTNAS_BENCH_LAYER_ROOFLINE_H

/* Prints the tables; 0, or 1 after a message on stderr. */
int bench_layers(const char *space_config, const char *arch_text);

#endif
