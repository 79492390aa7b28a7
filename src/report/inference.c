/* The report's inference for a paired design: Student's t (through the
 * regularized incomplete beta function), the paired t test with its 95%
 * confidence interval, and Kendall's tau-b. Pure functions; the known values
 * they are tested against are in tests/unit/test_report.c. */
#include "shiftnas/report.h"

#include <math.h>

/* The continued fraction of I_x(a, b) (modified Lentz), converging fast for
 * x < (a + 1) / (a + b + 2); the caller uses the symmetry otherwise. */
static double beta_fraction(double x, double a, double b)
{
    const double tiny = 1e-300, epsilon = 1e-16;
    double c = 1.0, d = 1.0 - (a + b) * x / (a + 1.0);
    if (fabs(d) < tiny)
        d = tiny;
    d = 1.0 / d;
    double h = d;
    for (int m = 1; m <= 1000; m++) {
        double m2 = 2.0 * m;
        double term = m * (b - m) * x / ((a - 1.0 + m2) * (a + m2));
        d = 1.0 + term * d;
        c = 1.0 + term / c;
        d = 1.0 / (fabs(d) < tiny ? tiny : d);
        c = fabs(c) < tiny ? tiny : c;
        h *= d * c;
        term = -(a + m) * (a + b + m) * x / ((a + m2) * (a + 1.0 + m2));
        d = 1.0 + term * d;
        c = 1.0 + term / c;
        d = 1.0 / (fabs(d) < tiny ? tiny : d);
        c = fabs(c) < tiny ? tiny : c;
        double step = d * c;
        h *= step;
        if (fabs(step - 1.0) < epsilon)
            break;
    }
    return h;
}

double sn_incomplete_beta(double x, double a, double b)
{
    if (!(a > 0) || !(b > 0) || isnan(x))
        return NAN;
    if (x <= 0)
        return 0.0;
    if (x >= 1)
        return 1.0;
    double front = exp(lgamma(a + b) - lgamma(a) - lgamma(b) + a * log(x) + b * log1p(-x));
    if (x < (a + 1.0) / (a + b + 2.0))
        return front * beta_fraction(x, a, b) / a;
    return 1.0 - front * beta_fraction(1.0 - x, b, a) / b;
}

double sn_t_two_sided_p(double t, double df)
{
    if (!(df > 0) || isnan(t))
        return NAN;
    if (isinf(t))
        return 0.0;
    /* P(|T| >= |t|) = I_{df / (df + t^2)}(df / 2, 1 / 2) */
    return sn_incomplete_beta(df / (df + t * t), df / 2.0, 0.5);
}

double sn_t_cdf(double t, double df)
{
    double tail = sn_t_two_sided_p(t, df) / 2.0;
    if (isnan(tail))
        return NAN;
    return t >= 0 ? 1.0 - tail : tail;
}

double sn_t_quantile(double q, double df)
{
    if (!(df > 0) || !(q > 0) || !(q < 1))
        return NAN;
    if (q == 0.5)
        return 0.0;
    /* The x of I_x(df / 2, 1 / 2) = 2 (1 - q) for the upper tail, by
     * bisection on (0, 1) where I_x rises monotonically: slow against
     * Newton, but it cannot diverge, and a report asks for a handful. */
    double upper = q > 0.5 ? q : 1.0 - q;
    double target = 2.0 * (1.0 - upper);
    double low = 0.0, high = 1.0;
    for (int i = 0; i < 200 && high - low > 0; i++) {
        double mid = 0.5 * (low + high);
        if (mid <= low || mid >= high)
            break;
        if (sn_incomplete_beta(mid, df / 2.0, 0.5) < target)
            low = mid;
        else
            high = mid;
    }
    double x = 0.5 * (low + high);
    double t = sqrt(df * (1.0 - x) / x);
    return q > 0.5 ? t : -t;
}

sn_paired_summary sn_paired_summary_of(const double *a, const double *b, int n)
{
    sn_paired_summary s = {0, NAN, NAN, NAN, NAN, NAN, NAN};
    double sum = 0;
    for (int i = 0; i < n; i++)
        if (!isnan(a[i]) && !isnan(b[i])) {
            sum += a[i] - b[i];
            s.n++;
        }
    if (s.n == 0)
        return s;
    s.mean = sum / s.n;
    if (s.n < 2)
        return s;
    double squares = 0;
    for (int i = 0; i < n; i++)
        if (!isnan(a[i]) && !isnan(b[i])) {
            double d = a[i] - b[i] - s.mean;
            squares += d * d;
        }
    s.sd = sqrt(squares / (s.n - 1));
    double df = s.n - 1, error = s.sd / sqrt((double)s.n);
    if (error == 0) {
        /* every pair differs by the same amount: no spread to test against */
        s.ci_low = s.ci_high = s.mean;
        s.t = s.mean == 0 ? 0.0 : copysign(INFINITY, s.mean);
        s.p = s.mean == 0 ? 1.0 : 0.0;
        return s;
    }
    double half = sn_t_quantile(0.975, df) * error;
    s.ci_low = s.mean - half;
    s.ci_high = s.mean + half;
    s.t = s.mean / error;
    s.p = sn_t_two_sided_p(s.t, df);
    return s;
}

static int sign_of(double v)
{
    return (v > 0) - (v < 0);
}

double sn_kendall_tau_b(const double *x, const double *y, int n)
{
    /* O(n^2) over the pairs: a report ranks tens of probes */
    double concordant = 0, discordant = 0, tied_x = 0, tied_y = 0, pairs = 0;
    for (int i = 0; i < n; i++) {
        if (isnan(x[i]) || isnan(y[i]))
            continue;
        for (int j = i + 1; j < n; j++) {
            if (isnan(x[j]) || isnan(y[j]))
                continue;
            pairs++;
            int sx = sign_of(x[j] - x[i]), sy = sign_of(y[j] - y[i]);
            /* a pair tied in x counts in the x ties (n1) whatever y does,
             * and likewise for y; tied in both, it counts in both */
            tied_x += sx == 0;
            tied_y += sy == 0;
            if (sx != 0 && sy != 0) {
                if (sx == sy)
                    concordant++;
                else
                    discordant++;
            }
        }
    }
    double denominator = sqrt((pairs - tied_x) * (pairs - tied_y));
    if (pairs < 1 || !(denominator > 0))
        return NAN;
    return (concordant - discordant) / denominator;
}
