# tests/unit: one Check program per part of the library.
# Add a suite: name it tests/unit/test_PART.c and add three lines below.
gradcheck_sources = tests/unit/gradcheck.c tests/unit/gradcheck.h
# batches through the library's input pipeline from a set in memory
image_batch_sources = tests/unit/image_batches.c tests/unit/image_batches.h

check_PROGRAMS += tests/unit/test_core
TESTS += tests/unit/test_core
tests_unit_test_core_SOURCES = tests/unit/test_core.c
tests_unit_test_core_CFLAGS = $(TEST_CFLAGS)
tests_unit_test_core_LDADD = $(TEST_LIBS)

check_PROGRAMS += tests/unit/test_network
TESTS += tests/unit/test_network
tests_unit_test_network_SOURCES = tests/unit/test_network.c $(gradcheck_sources)
tests_unit_test_network_CFLAGS = $(TEST_CFLAGS)
tests_unit_test_network_LDADD = $(TEST_LIBS)

# The program end to end (needs Fashion-MNIST from dataset-fashion-mnist).
TESTS += tests/cli/test_cli.sh
EXTRA_DIST += tests/cli/test_cli.sh
# the revision --version names is the one the binary was built from
TESTS += tests/cli/test_revision.sh
EXTRA_DIST += tests/cli/test_revision.sh
TESTS += tests/cli/test_search.sh
EXTRA_DIST += tests/cli/test_search.sh tests/cli/common.sh
# jobs/study.sh resumable: a smoke study killed, resumed, re-run (skips
# until `shiftnas probe`, `report --summarize` and shift_frozen exist).
TESTS += tests/cli/test_study.sh
EXTRA_DIST += tests/cli/test_study.sh
# --json of search, eval, inspect, space; config show; space --plot's axes.
TESTS += tests/cli/test_json.sh
EXTRA_DIST += tests/cli/test_json.sh
# Every message of the command line one clear line (options' values, --targets,
# architecture texts, a file for a run directory, inspect of model.h5).
TESTS += tests/cli/test_messages.sh
EXTRA_DIST += tests/cli/test_messages.sh
check_PROGRAMS += tests/unit/test_nn_transformer
TESTS += tests/unit/test_nn_transformer
tests_unit_test_nn_transformer_SOURCES = tests/unit/test_nn_transformer.c $(gradcheck_sources)
tests_unit_test_nn_transformer_CFLAGS = $(TEST_CFLAGS)
tests_unit_test_nn_transformer_LDADD = $(TEST_LIBS)
# Optimisers, schedule, clipping.
check_PROGRAMS += tests/unit/test_optim
TESTS += tests/unit/test_optim
tests_unit_test_optim_SOURCES = tests/unit/test_optim.c
tests_unit_test_optim_CFLAGS = $(TEST_CFLAGS)
tests_unit_test_optim_LDADD = $(TEST_LIBS)

# The run configuration.
check_PROGRAMS += tests/unit/test_config
TESTS += tests/unit/test_config
tests_unit_test_config_SOURCES = tests/unit/test_config.c
tests_unit_test_config_CFLAGS = $(TEST_CFLAGS)
tests_unit_test_config_LDADD = $(TEST_LIBS)
# left by test_config when doc/configuration.md is out of date
CLEANFILES += configuration-reference.md
check_PROGRAMS += tests/unit/test_nn_conv
TESTS += tests/unit/test_nn_conv
tests_unit_test_nn_conv_SOURCES = tests/unit/test_nn_conv.c $(gradcheck_sources)
tests_unit_test_nn_conv_CFLAGS = $(TEST_CFLAGS)
tests_unit_test_nn_conv_LDADD = $(TEST_LIBS)
# tests/unit/test_data: IDX/HDF5 readers, split, batches, fuzz regression replay.
check_PROGRAMS += tests/unit/test_data
TESTS += tests/unit/test_data
tests_unit_test_data_SOURCES = tests/unit/test_data.c $(image_batch_sources)
tests_unit_test_data_CPPFLAGS = $(AM_CPPFLAGS) -DTEST_SOURCE_DIR='"$(abs_top_srcdir)"'
tests_unit_test_data_CFLAGS = $(TEST_CFLAGS)
tests_unit_test_data_LDADD = $(TEST_LIBS)

# Image sources, streaming, the input pipeline, the prefetcher.
check_PROGRAMS += tests/unit/test_input
TESTS += tests/unit/test_input
tests_unit_test_input_SOURCES = tests/unit/test_input.c $(image_batch_sources)
tests_unit_test_input_CFLAGS = $(TEST_CFLAGS)
tests_unit_test_input_LDADD = $(TEST_LIBS)

# `make check-valgrind`: the unit test programs under valgrind memcheck, which
# must stay quiet (tests/valgrind.supp lists the library faults it tolerates).
# Test cases tagged "long" (long training loops) are left out.
VALGRIND_TESTS = tests/unit/test_input tests/unit/test_core tests/unit/test_network tests/unit/test_nn_conv \
	tests/unit/test_nn_transformer tests/unit/test_optim tests/unit/test_config tests/unit/test_data
EXTRA_DIST += tests/valgrind.supp
check-valgrind: $(check_PROGRAMS)
	@status=0; for t in $(VALGRIND_TESTS); do \
	  echo "== valgrind $$t"; \
	  CK_FORK=no CK_EXCLUDE_TAGS=long SHIFTNAS_SOURCE_DIR='$(abs_top_srcdir)' $(LIBTOOL) --mode=execute valgrind \
	    --error-exitcode=9 --leak-check=full --suppressions=$(top_srcdir)/tests/valgrind.supp -q \
	    ./$$t || status=1; \
	done; exit $$status

# The CNN supernet: sliced vs standalone subnets, masked mode, recalibration.
check_PROGRAMS += tests/unit/test_supernet_cnn
TESTS += tests/unit/test_supernet_cnn
tests_unit_test_supernet_cnn_SOURCES = tests/unit/test_supernet_cnn.c $(gradcheck_sources) $(image_batch_sources) \
	tests/unit/supernet_slices.c tests/unit/supernet_slices.h
tests_unit_test_supernet_cnn_CFLAGS = $(TEST_CFLAGS)
tests_unit_test_supernet_cnn_LDADD = $(TEST_LIBS)

# The ViT supernet: sliced and masked modes, the masked layer norm.
check_PROGRAMS += tests/unit/test_supernet_vit
TESTS += tests/unit/test_supernet_vit
tests_unit_test_supernet_vit_SOURCES = tests/unit/test_supernet_vit.c $(gradcheck_sources) \
	tests/unit/supernet_slices.c tests/unit/supernet_slices.h
tests_unit_test_supernet_vit_CFLAGS = $(TEST_CFLAGS)
tests_unit_test_supernet_vit_LDADD = $(TEST_LIBS)
# search-space core (src/space/space.c)
check_PROGRAMS += tests/unit/test_space_core
TESTS += tests/unit/test_space_core
tests_unit_test_space_core_SOURCES = tests/unit/test_space_core.c
tests_unit_test_space_core_CFLAGS = $(TEST_CFLAGS)
tests_unit_test_space_core_LDADD = $(TEST_LIBS)
VALGRIND_TESTS += tests/unit/test_supernet_vit

# The FLOPs counter, the architecture text, the [space] configuration, PNG.
check_PROGRAMS += tests/unit/test_space
TESTS += tests/unit/test_space
tests_unit_test_space_SOURCES = tests/unit/test_space.c
tests_unit_test_space_CFLAGS = $(TEST_CFLAGS)
tests_unit_test_space_LDADD = $(TEST_LIBS)
VALGRIND_TESTS += tests/unit/test_space

# every shipped search space: sliced subnets against subnets built on their own
check_PROGRAMS += tests/unit/test_shipped_spaces
TESTS += tests/unit/test_shipped_spaces
tests_unit_test_shipped_spaces_SOURCES = tests/unit/test_shipped_spaces.c \
	tests/unit/supernet_slices.c tests/unit/supernet_slices.h
tests_unit_test_shipped_spaces_CFLAGS = $(TEST_CFLAGS)
tests_unit_test_shipped_spaces_LDADD = $(TEST_LIBS)

# tests/unit/test_sampler: FLOPs buckets, samplers, probability shift.
check_PROGRAMS += tests/unit/test_sampler
TESTS += tests/unit/test_sampler
tests_unit_test_sampler_SOURCES = tests/unit/test_sampler.c
tests_unit_test_sampler_CFLAGS = $(TEST_CFLAGS)
tests_unit_test_sampler_LDADD = $(TEST_LIBS)
VALGRIND_TESTS += tests/unit/test_sampler
# tests/unit/test_probe_panel: probe panels drawn and read back, probes.csv.
check_PROGRAMS += tests/unit/test_probe_panel
TESTS += tests/unit/test_probe_panel
tests_unit_test_probe_panel_SOURCES = tests/unit/test_probe_panel.c
tests_unit_test_probe_panel_CFLAGS = $(TEST_CFLAGS)
tests_unit_test_probe_panel_LDADD = $(TEST_LIBS)
# The architecture generator (src/search/generator.c).
check_PROGRAMS += tests/unit/test_generator
TESTS += tests/unit/test_generator
tests_unit_test_generator_SOURCES = tests/unit/test_generator.c $(gradcheck_sources)
tests_unit_test_generator_CFLAGS = $(TEST_CFLAGS)
tests_unit_test_generator_LDADD = $(TEST_LIBS)
VALGRIND_TESTS += tests/unit/test_generator
# The evolutionary search (src/search/evolution.c).
check_PROGRAMS += tests/unit/test_evolution
TESTS += tests/unit/test_evolution
tests_unit_test_evolution_SOURCES = tests/unit/test_evolution.c
tests_unit_test_evolution_CFLAGS = $(TEST_CFLAGS)
tests_unit_test_evolution_LDADD = $(TEST_LIBS)
VALGRIND_TESTS += tests/unit/test_evolution
# The run files: model.h5 (weights) and log.h5 (subnet and update rows).
check_PROGRAMS += tests/unit/test_runfiles
TESTS += tests/unit/test_runfiles
tests_unit_test_runfiles_SOURCES = tests/unit/test_runfiles.c
tests_unit_test_runfiles_CFLAGS = $(TEST_CFLAGS)
tests_unit_test_runfiles_LDADD = $(TEST_LIBS)
VALGRIND_TESTS += tests/unit/test_runfiles
# One writer per directory: the lock, its record, a killed holder, odd lock files.
check_PROGRAMS += tests/unit/test_run_lock
TESTS += tests/unit/test_run_lock
tests_unit_test_run_lock_SOURCES = tests/unit/test_run_lock.c
tests_unit_test_run_lock_CFLAGS = $(TEST_CFLAGS)
tests_unit_test_run_lock_LDADD = $(TEST_LIBS)
VALGRIND_TESTS += tests/unit/test_run_lock

# The supernet training step of every sampling strategy (internal functions:
# it links the convenience library).
check_PROGRAMS += tests/unit/test_strategies
TESTS += tests/unit/test_strategies
tests_unit_test_strategies_SOURCES = tests/unit/test_strategies.c $(image_batch_sources)
tests_unit_test_strategies_CFLAGS = $(TEST_CFLAGS) -I$(top_srcdir)/src/train
tests_unit_test_strategies_LDADD = $(TEST_INTERNAL_LIBS)
VALGRIND_TESTS += tests/unit/test_strategies

# Ranks, failure agreement and data-parallel steps: an MPI program, run with
# 1, 2 and 4 ranks by tests/run-mpi.sh (the .mpi test extension). It starts
# MPI itself and calls internal functions: it links the convenience library.
check_PROGRAMS += tests/unit/test_data_parallel.mpi
TESTS += tests/unit/test_data_parallel.mpi
tests_unit_test_data_parallel_mpi_SOURCES = tests/unit/test_data_parallel.c $(image_batch_sources)
tests_unit_test_data_parallel_mpi_CFLAGS = $(TEST_CFLAGS) -I$(top_srcdir)/src/train
tests_unit_test_data_parallel_mpi_LDADD = $(TEST_INTERNAL_LIBS)
VALGRIND_TESTS += tests/unit/test_exact_sum

# Data-parallel training end to end under mpirun (needs Fashion-MNIST):
# the same bits at any rank count, the failures.
TESTS += tests/cli/test_distributed.sh
EXTRA_DIST += tests/cli/test_distributed.sh
# search under mpirun: the same table and search.csv on 1, 2 and 3 ranks (CNN
# and ViT spaces), a failure on one rank (needs Fashion-MNIST).
TESTS += tests/cli/test_search_ranks.sh
EXTRA_DIST += tests/cli/test_search_ranks.sh
# Probe panels and `shiftnas probe`: the committed panels made again byte for
# byte, probes.csv the same at 1, 2 and 3 ranks, eval's accuracy, a fixed
# run's one row, every bad panel or run one line (needs Fashion-MNIST).
TESTS += tests/cli/test_probe.sh
EXTRA_DIST += tests/cli/test_probe.sh
# shift_estimator = target-input: the same bits on 1, 2 and 3 ranks and after
# a resume, its log rows, the refusal with the variance statistic (needs
# Fashion-MNIST).
TESTS += tests/cli/test_target_input.sh
EXTRA_DIST += tests/cli/test_target_input.sh
# Checkpoints and resume: the same bits after SIGKILL/SIGUSR1/SIGTERM at
# random moments, a torn checkpoint write, a change of rank count; refusals.
TESTS += tests/cli/test_resume.sh
EXTRA_DIST += tests/cli/test_resume.sh
# Its long form: chains of at least 24 SIGKILLs across 1, 2 and 3 ranks, each
# chain ending with the uninterrupted run's bits (~5 minutes; not in check).
check-resume-long: shiftnas$(EXEEXT)
	@SHIFTNAS_SOURCE_DIR='$(abs_top_srcdir)' SHIFTNAS_BUILD_DIR='$(abs_top_builddir)' \
	  SHIFTNAS_TEST_LONG=1 sh '$(top_srcdir)/tests/cli/test_resume.sh'
.PHONY: check-resume-long
# One writer per run directory: two resumes at once, two new runs on one
# --out, search/eval --csv/report while a writer holds the directory, kill -9
# of the holder; on 1 and 2 ranks, the run's bits checked afterwards.
TESTS += tests/cli/test_writers.sh
EXTRA_DIST += tests/cli/test_writers.sh

# Checkpoint files: round trips, the header's refusals, mutations (truncation,
# flipped bytes, wrong layouts, HDF5 damage behind a forged header), atomic
# publication and `latest`.
check_PROGRAMS += tests/unit/test_checkpoint
TESTS += tests/unit/test_checkpoint
tests_unit_test_checkpoint_SOURCES = tests/unit/test_checkpoint.c
tests_unit_test_checkpoint_CFLAGS = $(TEST_CFLAGS) -I$(top_srcdir)/src/train
tests_unit_test_checkpoint_LDADD = $(TEST_INTERNAL_LIBS)  # the shift state's checkpoint functions (src/train/checkpointing.h)
VALGRIND_TESTS += tests/unit/test_checkpoint

# shiftnas report: statistics, search.csv, arms, skips, inherited vs retrained.
# the line walk every table reader shares (src/io/text_table)
check_PROGRAMS += tests/unit/test_text_table
TESTS += tests/unit/test_text_table
tests_unit_test_text_table_SOURCES = tests/unit/test_text_table.c
tests_unit_test_text_table_CFLAGS = $(TEST_CFLAGS)
tests_unit_test_text_table_LDADD = $(TEST_INTERNAL_LIBS)
VALGRIND_TESTS += tests/unit/test_text_table

check_PROGRAMS += tests/unit/test_report
TESTS += tests/unit/test_report
tests_unit_test_report_SOURCES = tests/unit/test_report.c
tests_unit_test_report_CFLAGS = $(TEST_CFLAGS)
tests_unit_test_report_LDADD = $(TEST_LIBS)
VALGRIND_TESTS += tests/unit/test_report
# The report end to end (tiny runs of two strategies, searches, gnuplot).
TESTS += tests/cli/test_report.sh
EXTRA_DIST += tests/cli/test_report.sh

# Per-image transforms: crops, bilinear resampling against a naive reference.
check_PROGRAMS += tests/unit/test_image_transform
TESTS += tests/unit/test_image_transform
tests_unit_test_image_transform_SOURCES = tests/unit/test_image_transform.c
tests_unit_test_image_transform_CFLAGS = $(TEST_CFLAGS)
tests_unit_test_image_transform_LDADD = $(TEST_LIBS)
VALGRIND_TESTS += tests/unit/test_image_transform
# Image folders: the resampler, JPEG/PNG decoding of images the test writes,
# damaged files, listing, conversion on one process.
check_PROGRAMS += tests/unit/test_image_folder
TESTS += tests/unit/test_image_folder
tests_unit_test_image_folder_SOURCES = tests/unit/test_image_folder.c tests/unit/image_writer.c \
	tests/unit/image_writer.h
tests_unit_test_image_folder_CFLAGS = $(TEST_CFLAGS)
tests_unit_test_image_folder_LDADD = $(TEST_LIBS)
VALGRIND_TESTS += tests/unit/test_image_folder
# `shiftnas data convert FOLDER` end to end, on 1 and 2 ranks; its fixtures
# come from image_fixtures (libjpeg/libpng, no Python or ImageMagick).
check_PROGRAMS += tests/cli/image_fixtures
tests_cli_image_fixtures_SOURCES = tests/cli/image_fixtures.c tests/unit/image_writer.c \
	tests/unit/image_writer.h
tests_cli_image_fixtures_LDADD = $(JPEG_LIBS) $(PNG_LIBS)
TESTS += tests/cli/test_convert.sh
EXTRA_DIST += tests/cli/test_convert.sh

# The CLI's output helpers: the --json writer, the plots' font and canvas
# (CLI sources, compiled in: they are not part of the library).
check_PROGRAMS += tests/unit/test_cli_output
TESTS += tests/unit/test_cli_output
tests_unit_test_cli_output_SOURCES = tests/unit/test_cli_output.c src/cli/json_writer.c \
	src/cli/bitmap_font.c src/cli/canvas.c
tests_unit_test_cli_output_CFLAGS = $(TEST_CFLAGS)
tests_unit_test_cli_output_LDADD = $(TEST_LIBS)
VALGRIND_TESTS += tests/unit/test_cli_output
# The library's boundary. test_exports.sh: the shared library exports exactly
# the functions the public headers declare with SN_API. test_public_api: a
# program that uses the library from outside, its public headers compiled
# without the MPI and HDF5 include paths, linked to the shared library alone.
TESTS += tests/unit/test_exports.sh
EXTRA_DIST += tests/unit/test_exports.sh
check_PROGRAMS += tests/unit/test_public_api
TESTS += tests/unit/test_public_api
tests_unit_test_public_api_SOURCES = tests/unit/test_public_api.c
tests_unit_test_public_api_CPPFLAGS = -D_POSIX_C_SOURCE=200809L -I$(top_srcdir)/include
tests_unit_test_public_api_CFLAGS = -std=c11 $(SHIFTNAS_WARN_CFLAGS) $(SANITIZER_CFLAGS) $(CHECK_CFLAGS)
tests_unit_test_public_api_LDADD = libshiftnas.la $(CHECK_LIBS)
