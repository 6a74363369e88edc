"""On-demand performance benchmarks for uploadcore (`python -m bench`, `make bench`).

Every target is a ratio against a yardstick measured in the same run, the
two interleaved round by round; see bench/README.md.
"""
