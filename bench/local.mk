# bench/: load generators; `make bench` runs them (never part of `make check`). Figures are
# reported as ratios against a reference measured in the same run; see docs/PERFORMANCE.md.
EXTRA_DIST += bench/milter_bench.py bench/policy_bench.py bench/restart_bench.py

# The policy server bench: the load generator and the trivial server that is its ceiling.
# Built with the rest (so they keep compiling), run only by `make bench`.
noinst_PROGRAMS += bench/policy-load bench/trivial-policyd
bench_policy_load_SOURCES = bench/policy_load.cc
bench_policy_load_LDADD = $(PTHREAD_LIBS)
bench_trivial_policyd_SOURCES = bench/trivial_policy.cc

# The restart bench: state-fill writes a state-dir (greylist snapshot + journal, block list,
# thresholds) through the policy library, as mppd would leave it.
noinst_PROGRAMS += bench/state-fill
bench_state_fill_SOURCES = bench/state_fill.cc
bench_state_fill_CPPFLAGS = $(AM_CPPFLAGS) $(PCRE2_CFLAGS)
bench_state_fill_LDADD = $(POLICY_LIBS)

# BENCH_ARGS: arguments of the milter bench; POLICY_BENCH_ARGS: of the policy server bench;
# RESTART_BENCH_ARGS: of the restart bench.
bench: all
	MPP_TOP_SRCDIR='$(abs_top_srcdir)' MPP_TOP_BUILDDIR='$(abs_top_builddir)' \
	  $(PYTHON3) $(top_srcdir)/bench/milter_bench.py $(BENCH_ARGS)
	MPP_TOP_SRCDIR='$(abs_top_srcdir)' MPP_TOP_BUILDDIR='$(abs_top_builddir)' \
	  $(PYTHON3) $(top_srcdir)/bench/policy_bench.py $(POLICY_BENCH_ARGS)
	MPP_TOP_SRCDIR='$(abs_top_srcdir)' MPP_TOP_BUILDDIR='$(abs_top_builddir)' \
	  $(PYTHON3) $(top_srcdir)/bench/restart_bench.py $(RESTART_BENCH_ARGS)

# The policy server bench alone.
bench-policy: all
	MPP_TOP_SRCDIR='$(abs_top_srcdir)' MPP_TOP_BUILDDIR='$(abs_top_builddir)' \
	  $(PYTHON3) $(top_srcdir)/bench/policy_bench.py $(POLICY_BENCH_ARGS)

# The restart bench alone.
bench-restart: all
	MPP_TOP_SRCDIR='$(abs_top_srcdir)' MPP_TOP_BUILDDIR='$(abs_top_builddir)' \
	  $(PYTHON3) $(top_srcdir)/bench/restart_bench.py $(RESTART_BENCH_ARGS)
.PHONY: bench bench-policy bench-restart
