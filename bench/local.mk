# bench/: load generators; `make bench` runs them (never part of `make check`). Figures are
# reported as ratios against a reference measured in the same run; see docs/PERFORMANCE.md.
EXTRA_DIST += bench/milter_bench.py

bench: all
	MPP_TOP_SRCDIR='$(abs_top_srcdir)' MPP_TOP_BUILDDIR='$(abs_top_builddir)' \
	  $(PYTHON3) $(top_srcdir)/bench/milter_bench.py $(BENCH_ARGS)
.PHONY: bench
