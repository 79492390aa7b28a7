/* shiftnas space --config FILE probes [--per-bucket N] [--seed S] [--max-draws D]
 *
 * Prints a probe panel (shiftnas/probes.h) of the configured space: N
 * distinct subnets per [search] bucket, drawn uniformly with the seed, under
 * a comment header that says how it was made and which buckets came short.
 * The output is a function of the configuration and the options alone, so
 * a committed panel (jobs/probes/) can be made again byte for byte. */
#include "space_probes.h"

#include <stdio.h>
#include <string.h>

#include "commands.h"
#include "shiftnas/error.h"
#include "shiftnas/format.h"
#include "shiftnas/probes.h"
#include "shiftnas/settings.h"

/* "made with" names the configuration by its file name: the panel must not
 * depend on where the checkout is. */
static void print_made_with(const space_probes_request *r)
{
    const char *name = strrchr(r->config_path, '/');
    name = name ? name + 1 : r->config_path;
    char shown[4 * 80 + 4];
    printf("# made with: shiftnas space --config %s",
           sn_format_user_text(shown, sizeof shown, name, 80));
    for (int i = 0; i < r->override_count; i++)
        printf(" --set %s", sn_format_user_text(shown, sizeof shown, r->overrides[i], 80));
    printf(" probes --per-bucket %lld --seed %lld --max-draws %lld\n", r->per_bucket, r->seed,
           r->max_draws);
}

static void print_header(const space_probes_request *r, const sn_space *space,
                         const sn_buckets *buckets, const sn_probe_panel_report *report)
{
    const sn_config *c = r->config;
    char how[96];
    if (c->search_bucket_step > 0)
        snprintf(how, sizeof how, "[search] bucket_step = %lld", (long long)c->search_bucket_step);
    else
        snprintf(how, sizeof how, "[search] buckets = %lld", (long long)c->search_buckets);
    printf("# shiftnas probe panel: %lld distinct subnets per MACs bucket of the %s space, %d "
           "buckets (%s) over [%lld, %lld] MACs\n",
           r->per_bucket, space->type == SN_SPACE_CNN ? "cnn" : "vit", buckets->count, how,
           (long long)buckets->edge[0], (long long)buckets->edge[buckets->count]);
    print_made_with(r);
    printf("# uniform subnets (draw i: stream (seed, SN_RNG_PROBE_PANEL, 0, i)), each kept when "
           "its bucket holds fewer than %lld and not the same subnet: %lld draws\n",
           r->per_bucket, (long long)report->draws);
    int short_buckets = 0;
    for (int k = 0; k < buckets->count; k++)
        if (report->found[k] < r->per_bucket) {
            printf("# short: bucket %d has %d of %lld (no more distinct subnets in %lld draws)\n",
                   k, report->found[k], r->per_bucket, r->max_draws);
            short_buckets++;
        }
    if (!short_buckets)
        printf("# every bucket has its %lld subnets\n", r->per_bucket);
    printf("# probe i is the i-th subnet line, from 0: shiftnas probe RUN_DIR --probes FILE "
           "(doc/probes.md)\n");
}

static int print_panel(const space_probes_request *r, const sn_space *space,
                       const sn_buckets *buckets, const sn_probe_panel *panel,
                       const sn_probe_panel_report *report)
{
    print_header(r, space, buckets, report);
    int at = 0;
    for (int k = 0; k < buckets->count; k++) {
        char from[32], to[32];
        sn_format_macs(from, sizeof from, (double)buckets->edge[k]);
        sn_format_macs(to, sizeof to, (double)buckets->edge[k + 1]);
        printf("\n# bucket %d: [%s, %s%s MACs, ", k, from, to, k + 1 == buckets->count ? "]" : ")");
        if (report->found[k] == 0)
            printf("no probes\n");
        else
            printf("probes %d-%d\n", at, at + report->found[k] - 1);
        for (int j = 0; j < report->found[k]; j++, at++) {
            char text[SN_ARCH_TEXT_MAX];
            SN_TRY(sn_arch_format(space, &panel->archs[at], text, sizeof text));
            printf("%s\n", text);
        }
    }
    if (fflush(stdout) != 0 || ferror(stdout))
        return sn_error_set(SN_ERR_IO, "standard output: cannot write the panel");
    return SN_OK;
}

int sn_cli_space_probes(const space_probes_request *r, const sn_space *space)
{
    sn_buckets buckets;
    sn_probe_panel panel;
    sn_probe_panel_report report;
    int status = sn_buckets_from_config(&buckets, space, r->config);
    if (status == SN_OK)
        status = sn_probe_panel_make(&panel, space, &buckets, (int)r->per_bucket,
                                     (uint64_t)r->seed, r->max_draws, &report);
    if (status != SN_OK) {
        sn_cli_report_error("space");
        return SN_EXIT_FAILURE;
    }
    status = print_panel(r, space, &buckets, &panel, &report);
    sn_probe_panel_free(&panel);
    if (status != SN_OK) {
        sn_cli_report_error("space");
        return SN_EXIT_FAILURE;
    }
    return SN_EXIT_OK;
}
