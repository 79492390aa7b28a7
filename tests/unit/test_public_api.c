/*
 * The library as a program outside shiftnas uses it: every public header,
 * compiled with nothing but include/ on the include path (no MPI, no HDF5:
 * a header that reached <mpi.h> would stop this file compiling), and linked
 * to the shared libshiftnas, which exports only the SN_API functions.
 */
#include <check.h>
#include <signal.h>
#include <stddef.h>

#include "shiftnas/api.h"
#include "shiftnas/checkpoint.h"
#include "shiftnas/config.h"
#include "shiftnas/data.h"
#include "shiftnas/dist.h"
#include "shiftnas/error.h"
#include "shiftnas/evolution.h"
#include "shiftnas/exact_sum.h"
#include "shiftnas/generator.h"
#include "shiftnas/image_folder.h"
#include "shiftnas/image_transform.h"
#include "shiftnas/input.h"
#include "shiftnas/network.h"
#include "shiftnas/nn.h"
#include "shiftnas/optim.h"
#include "shiftnas/png.h"
#include "shiftnas/probes.h"
#include "shiftnas/report.h"
#include "shiftnas/rng.h"
#include "shiftnas/run_lock.h"
#include "shiftnas/runfiles.h"
#include "shiftnas/sampler.h"
#include "shiftnas/space.h"
#include "shiftnas/tensor.h"
#include "shiftnas/train.h"

/* The opaque handle of a process on its own, and a public function that
 * takes it. */
START_TEST(a_process_alone_is_rank_0_of_1)
{
    sn_dist *dist = NULL;
    ck_assert_int_eq(sn_dist_local(&dist), SN_OK);
    ck_assert_ptr_nonnull(dist);
    ck_assert_int_eq(sn_dist_rank(dist), 0);
    ck_assert_int_eq(sn_dist_size(dist), 1);
    ck_assert_int_eq(sn_dist_uses_mpi(dist), 0);
    ck_assert_int_eq(sn_dist_agree(dist, SN_OK), SN_OK);
    sn_shard_plan plan;
    ck_assert_int_eq(sn_shard_plan_init(&plan, 10, 3, dist), SN_OK);
    ck_assert_int_eq(plan.first, 0);
    ck_assert_int_eq(plan.last, 3);
    sn_shard_plan_free(&plan);
    sn_dist_free(dist);
    sn_dist_free(NULL);
}
END_TEST

typedef void (*signal_handler)(int);

static signal_handler term_handler(void)
{
    struct sigaction now;
    sigaction(SIGTERM, NULL, &now);
    return now.sa_handler;
}

/* What shiftnas train does before MPI starts, and the way back. */
START_TEST(stop_request_handlers_install_and_restore)
{
    signal_handler before = term_handler();
    ck_assert_int_eq(sn_stop_request_install(), SN_OK);
    ck_assert(term_handler() != before);
    ck_assert_int_eq(sn_stop_request_install(), SN_OK);
    sn_stop_request_restore();
    ck_assert(term_handler() == before);
}
END_TEST

int main(void)
{
    Suite *suite = suite_create("public_api");
    TCase *tc = tcase_create("public_api");
    tcase_add_test(tc, a_process_alone_is_rank_0_of_1);
    tcase_add_test(tc, stop_request_handlers_install_and_restore);
    suite_add_tcase(suite, tc);
    SRunner *runner = srunner_create(suite);
    srunner_run_all(runner, CK_NORMAL);
    int failed = srunner_ntests_failed(runner);
    srunner_free(runner);
    return failed == 0 ? 0 : 1;
}
