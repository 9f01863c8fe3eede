# bench/: load generators; `make bench` runs them (never part of `make check`).
