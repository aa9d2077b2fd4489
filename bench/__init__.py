"""TrinhKy benchmarks: ``.venv/bin/python -m bench`` (see ``bench/README.md``).

Every benchmark measures its baseline in the same run and reports ratios: the
machines are shared and noisy, so absolute times matter less than the ratios.
"""
