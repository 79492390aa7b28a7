/*
 * Which BLIS configuration shiftnas runs on, and whether it is the fastest
 * here (bench_shiftnas blis-arch, kernels; issue 18, "right kernels on every
 * CPU").
 *
 * BLIS picks its configuration (kernels, blocking) once, at its first call,
 * from BLIS_ARCH_TYPE or its own CPU detection; shiftnas sets BLIS_ARCH_TYPE
 * for its process before that (sn_blas_setup_for, src/core/tensor.c). So
 * `kernels` runs itself once per configuration this BLIS was built with, as
 * a child process with that BLIS_ARCH_TYPE (`kernels-one`), and tabulates
 * the children's sgemm GFLOP/s at shapes the supernets multiply at the
 * trainer's shard of 16 images. A configuration whose instructions the CPU
 * lacks dies of SIGILL in its child; the table says so.
 */
#include "kernel_choice.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <blis.h>

#include "measure.h"
#include "shiftnas/error.h"
#include "shiftnas/tensor.h"

/* ---- the CPU's features and shiftnas's choice ----------------------------- */

typedef struct {
    const char *name;
    int present;
} cpu_flag;

enum { FLAG_COUNT = 12 };

static void cpu_flags(cpu_flag flags[FLAG_COUNT])
{
    static const char *names[FLAG_COUNT] = {"sse3",     "ssse3",    "avx",      "fma",
                                            "fma4",     "avx2",     "avx512f",  "avx512dq",
                                            "avx512cd", "avx512bw", "avx512vl", "avx512er"};
#if defined(__x86_64__) && defined(__GNUC__)
    __builtin_cpu_init();
    /* __builtin_cpu_supports needs string literals */
    int present[FLAG_COUNT] = {
        __builtin_cpu_supports("sse3"),     __builtin_cpu_supports("ssse3"),
        __builtin_cpu_supports("avx"),      __builtin_cpu_supports("fma"),
        __builtin_cpu_supports("fma4"),     __builtin_cpu_supports("avx2"),
        __builtin_cpu_supports("avx512f"),  __builtin_cpu_supports("avx512dq"),
        __builtin_cpu_supports("avx512cd"), __builtin_cpu_supports("avx512bw"),
        __builtin_cpu_supports("avx512vl"), __builtin_cpu_supports("avx512er")};
#else
    int present[FLAG_COUNT] = {0};
#endif
    for (int i = 0; i < FLAG_COUNT; i++)
        flags[i] = (cpu_flag){names[i], present[i] != 0};
}

static int has(const cpu_flag flags[FLAG_COUNT], const char *name)
{
    for (int i = 0; i < FLAG_COUNT; i++)
        if (strcmp(flags[i].name, name) == 0)
            return flags[i].present;
    return 0;
}

void bench_print_blis_choice(const char *arch_before, sn_blas_products products)
{
    cpu_flag flags[FLAG_COUNT];
    cpu_flags(flags);
    printf("cpu_flags");
    for (int i = 0; i < FLAG_COUNT; i++)
        printf(" %s=%d", flags[i].name, flags[i].present);
    printf("\n");
    const char *arch = getenv("BLIS_ARCH_TYPE");
    int skx_able = has(flags, "avx512f") && has(flags, "avx512dq") && has(flags, "avx512cd") &&
                   has(flags, "avx512bw") && has(flags, "avx512vl");
    printf("blis_products %s\n", products == SN_BLAS_SMALL_PRODUCTS ? "small" : "large");
    printf("blis_arch_type %s\n", arch ? arch : "none");
    printf("blis_kernels %s\n", sn_blas_kernel_name());
    if (arch_before)
        printf("blis_choice_reason BLIS_ARCH_TYPE=%s was in the environment already (the user's "
               "choice wins)\n", arch_before);
    else if (arch)
        printf("blis_choice_reason set by shiftnas (sn_blas_setup_for): the CPU has AVX-512 F, "
               "DQ, CD, BW and VL, and this network makes %s products -> %s\n",
               products == SN_BLAS_SMALL_PRODUCTS ? "small (many narrow)" : "large",
               sn_blas_kernel_name());
    else
        printf("blis_choice_reason not set: %s, so BLIS detects the CPU itself -> %s\n",
               skx_able ? "shiftnas left it to BLIS" : "the CPU lacks AVX-512 F/DQ/CD/BW/VL",
               sn_blas_kernel_name());
}

/* ---- the configurations and the shapes ------------------------------------ */

typedef struct {
    arch_t id;
    const char *needs; /* CPU flags its kernels use, comma-separated */
} blis_configuration;

/* Those this BLIS was built with (blis.h's BLIS_CONFIG_* macros), with the
 * instruction sets their sgemm kernels need. */
static const blis_configuration configurations[] = {
#ifdef BLIS_CONFIG_SKX
    {BLIS_ARCH_SKX, "avx512f,avx512dq,avx512cd,avx512bw,avx512vl"},
#endif
#ifdef BLIS_CONFIG_KNL
    {BLIS_ARCH_KNL, "avx512f,avx512er"},
#endif
#ifdef BLIS_CONFIG_HASWELL
    {BLIS_ARCH_HASWELL, "avx2,fma"},
#endif
#ifdef BLIS_CONFIG_ZEN3
    {BLIS_ARCH_ZEN3, "avx2,fma"},
#endif
#ifdef BLIS_CONFIG_ZEN2
    {BLIS_ARCH_ZEN2, "avx2,fma"},
#endif
#ifdef BLIS_CONFIG_ZEN
    {BLIS_ARCH_ZEN, "avx2,fma"},
#endif
#ifdef BLIS_CONFIG_SANDYBRIDGE
    {BLIS_ARCH_SANDYBRIDGE, "avx"},
#endif
#ifdef BLIS_CONFIG_EXCAVATOR
    {BLIS_ARCH_EXCAVATOR, "avx,fma4"},
#endif
#ifdef BLIS_CONFIG_STEAMROLLER
    {BLIS_ARCH_STEAMROLLER, "avx,fma4"},
#endif
#ifdef BLIS_CONFIG_PILEDRIVER
    {BLIS_ARCH_PILEDRIVER, "avx,fma4"},
#endif
#ifdef BLIS_CONFIG_BULLDOZER
    {BLIS_ARCH_BULLDOZER, "avx,fma4"},
#endif
#ifdef BLIS_CONFIG_PENRYN
    {BLIS_ARCH_PENRYN, "ssse3"},
#endif
#ifdef BLIS_CONFIG_GENERIC
    {BLIS_ARCH_GENERIC, ""},
#endif
};
enum { CONFIGURATIONS = sizeof configurations / sizeof configurations[0] };

typedef struct {
    const char *label;
    int64_t m, n, k;
    int ta, tb; /* the operand is stored transposed, as the layer's product has it */
} kernel_shape;

/* Products of the supernets at a shard of 16 images (channel-major CNN
 * activations [C, N*HW]; ViT rows = 16 x 17 tokens). */
static const kernel_shape shapes[] = {
    {"cnn stage-1 1x1 expand fwd", 96, 16 * 196, 24, 0, 0},
    {"cnn stage-1 1x1 expand dW", 96, 24, 16 * 196, 0, 1},
    {"cnn stage-3 1x1 project fwd", 64, 16 * 16, 256, 0, 0},
    {"cnn stage-3 1x1 project dX", 256, 16 * 16, 64, 1, 0},
    {"cnn stem 3x3 im2col fwd", 16, 16 * 784, 9, 0, 0},
    {"vit fc1 (e=80, 4x) fwd", 16 * 17, 320, 80, 0, 1},
    {"vit q/k/v (4 heads) fwd", 16 * 17, 64, 80, 0, 1},
    {"vit attention q k^T, one head", 17, 17, 16, 0, 1},
    {"1024^3", 1024, 1024, 1024, 0, 0},
};
enum { SHAPES = sizeof shapes / sizeof shapes[0] };

/* ---- child: one configuration --------------------------------------------- */

int bench_kernels_one(void)
{
    if (sn_blas_setup_for(1, SN_BLAS_LARGE_PRODUCTS) != SN_OK)
        return bench_fail("blas");
    printf("kernels %s\n", sn_blas_kernel_name());
    for (int s = 0; s < SHAPES; s++) {
        const kernel_shape *p = &shapes[s];
        printf("shape%d %.1f\n", s, bench_sgemm_gflops(p->m, p->n, p->k, p->ta, p->tb));
        fflush(stdout);
    }
    return 0;
}

/* ---- parent: every configuration in its own process ----------------------- */

typedef struct {
    char kernels[32];
    double gflops[SHAPES];
    int measured;     /* shapes read back */
    char failure[96]; /* why the child did not finish, or "" */
} configuration_result;

static void run_child(const char *self, const blis_configuration *c, configuration_result *r)
{
    memset(r, 0, sizeof *r);
    char command[4200];
    snprintf(command, sizeof command, "BLIS_ARCH_TYPE=%d exec '%s' kernels-one 2>&1", (int)c->id,
             self);
    FILE *child = popen(command, "r");
    if (!child) {
        snprintf(r->failure, sizeof r->failure, "could not start");
        return;
    }
    char line[256];
    while (fgets(line, sizeof line, child)) {
        int s;
        double g;
        if (sscanf(line, "kernels %31s", r->kernels) == 1)
            continue;
        if (sscanf(line, "shape%d %lf", &s, &g) == 2 && s >= 0 && s < SHAPES) {
            r->gflops[s] = g;
            r->measured = s + 1;
        }
    }
    int status = pclose(child);
    if (status == -1)
        snprintf(r->failure, sizeof r->failure, "lost the child");
    else if (WIFSIGNALED(status))
        snprintf(r->failure, sizeof r->failure, "cannot run: %s (signal %d)",
                 WTERMSIG(status) == SIGILL ? "illegal instruction" : "killed",
                 WTERMSIG(status));
    else if (WEXITSTATUS(status) != 0)
        snprintf(r->failure, sizeof r->failure, "BLIS refused it (exit status %d)",
                 WEXITSTATUS(status));
}

/* "yes", or the flags of `needs` this CPU lacks. */
static void missing_flags(const cpu_flag flags[FLAG_COUNT], const char *needs, char *out,
                          size_t size)
{
    char list[128];
    snprintf(list, sizeof list, "%s", needs);
    out[0] = '\0';
    for (char *flag = strtok(list, ","); flag; flag = strtok(NULL, ","))
        if (!has(flags, flag))
            snprintf(out + strlen(out), size - strlen(out), "%sno %s", out[0] ? ", " : "", flag);
    if (!out[0])
        snprintf(out, size, "yes");
}

int bench_kernels(const char *chosen)
{
    char self[4096];
    ssize_t length = readlink("/proc/self/exe", self, sizeof self - 1);
    if (length <= 0) {
        fprintf(stderr, "bench_shiftnas kernels: /proc/self/exe: cannot find this program\n");
        return 1;
    }
    self[length] = '\0';
    cpu_flag flags[FLAG_COUNT];
    cpu_flags(flags);
    configuration_result results[CONFIGURATIONS];
    for (int c = 0; c < CONFIGURATIONS; c++)
        run_child(self, &configurations[c], &results[c]);

    /* The fastest configuration per shape, among those that ran. */
    int best[SHAPES];
    for (int s = 0; s < SHAPES; s++) {
        best[s] = -1;
        for (int c = 0; c < CONFIGURATIONS; c++)
            if (!results[c].failure[0] && results[c].measured > s &&
                (best[s] < 0 || results[c].gflops[s] > results[best[s]].gflops[s]))
                best[s] = c;
    }
    printf("\n| BLIS_ARCH_TYPE | configuration | CPU has what it needs |");
    for (int s = 0; s < SHAPES; s++)
        printf(" %s %lldx%lldx%lld |", shapes[s].label, (long long)shapes[s].m,
               (long long)shapes[s].n, (long long)shapes[s].k);
    printf("\n|---|---|---|");
    for (int s = 0; s < SHAPES; s++)
        printf("---|");
    printf("\n");
    for (int c = 0; c < CONFIGURATIONS; c++) {
        const configuration_result *r = &results[c];
        const char *name = bli_arch_string(configurations[c].id);
        char needs[128];
        missing_flags(flags, configurations[c].needs, needs, sizeof needs);
        int is_chosen = chosen && strcmp(chosen, name) == 0;
        printf("| %d | %s%s%s |", (int)configurations[c].id, is_chosen ? "**" : "", name,
               is_chosen ? "** (shiftnas)" : "");
        if (!r->failure[0] && r->kernels[0] && strcmp(r->kernels, name) != 0)
            printf(" %s; BLIS ran %s instead |", needs, r->kernels);
        else
            printf(" %s |", needs);
        if (r->failure[0]) {
            printf(" %s |", r->failure);
            for (int s = 1; s < SHAPES; s++)
                printf(" |");
        } else {
            for (int s = 0; s < SHAPES; s++)
                printf(best[s] == c ? " **%.1f** |" : " %.1f |", r->gflops[s]);
        }
        printf("\n");
    }
    printf("\nGFLOP/s, one thread, best of 5 rounds in CPU time (bold: the fastest configuration for the shape).\n");
    for (int s = 0; s < SHAPES; s++)
        if (best[s] >= 0)
            printf("kernels_best_%d %s %.1f\n", s, bli_arch_string(configurations[best[s]].id),
                   results[best[s]].gflops[s]);
    return 0;
}
