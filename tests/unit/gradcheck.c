/* Finite-difference gradient checks shared by the unit tests. */
#include "gradcheck.h"

#include <math.h>
#include <stdio.h>

#include "shiftnas/rng.h"

void gradcheck_fill_normal(float *x, int64_t n, float scale, uint32_t item)
{
    sn_rng_stream stream;
    sn_rng_stream_init(&stream, 12345, SN_RNG_TEST, 0, item);
    for (int64_t i = 0; i < n; i++)
        x[i] = scale * sn_rng_normal(&stream);
}

double gradcheck_probe(const float *out, const float *r, int64_t n)
{
    double sum = 0.0;
    for (int64_t i = 0; i < n; i++)
        sum += (double)out[i] * (double)r[i];
    return sum;
}

int gradcheck_compare(const char *what, float *x, const float *analytic, int64_t n,
                      int64_t max_checked, double h, double rel_tol, double abs_tol,
                      gradcheck_loss_fn loss, void *context)
{
    int failures = 0;
    int64_t checks = n <= max_checked ? n : max_checked;
    for (int64_t c = 0; c < checks; c++) {
        int64_t j = checks == n ? c : (c * n) / checks + (n / checks) / 2;
        float saved = x[j];
        x[j] = (float)(saved + h);
        double plus = loss(context);
        x[j] = (float)(saved - h);
        double minus = loss(context);
        x[j] = saved;
        /* Divide by the step actually taken after rounding to float. */
        double step = (double)(float)(saved + h) - (double)(float)(saved - h);
        double numeric = (plus - minus) / step;
        double a = analytic[j];
        double bound = abs_tol + rel_tol * fmax(fabs(a), fabs(numeric));
        if (!(fabs(a - numeric) <= bound)) {
            if (failures < 5)
                fprintf(stderr, "%s[%lld]: analytic %.6g, numeric %.6g\n", what, (long long)j,
                        a, numeric);
            failures++;
        }
    }
    return failures;
}
