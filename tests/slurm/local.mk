# tests/slurm: the job scripts of jobs/ against a real one-node Slurm cluster
# started on this machine (tests/slurm/cluster.sh). Not part of `make check`:
# it needs root (slurmd), installs Debian's slurm-wlm, slurmctld, slurmd,
# slurm-client and munge with apt-get when they are missing, and takes a few
# minutes. `make check-slurm` runs it from this build; a test that cannot run
# (not root and no Slurm) is reported as skipped.
EXTRA_DIST += tests/slurm/cluster.sh tests/slurm/test_jobs.sh

check-slurm: shiftnas$(EXEEXT)
	@SHIFTNAS_SOURCE_DIR='$(abs_top_srcdir)' SHIFTNAS_BUILD_DIR='$(abs_top_builddir)' \
	  SHIFTNAS='$(abs_top_builddir)/shiftnas$(EXEEXT)' \
	  bash '$(top_srcdir)/tests/slurm/test_jobs.sh'; status=$$?; \
	if test $$status = 77; then echo "check-slurm: SKIPPED (see the message above)"; exit 0; fi; \
	exit $$status

.PHONY: check-slurm
