#ifndef SHIFTNAS_SHIFT_INTERNAL_H
#define SHIFTNAS_SHIFT_INTERNAL_H

#include "shiftnas/sampler.h"

/* One Adam step of descent on shift->beta along `gradient` (count floats). */
void sn_shift_adam_step(sn_shift *shift, const double *gradient);

#endif
