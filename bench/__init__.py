"""Benchmarks: throughput, memory and profile of `scipol ingest` against a plain fetch+trafilatura baseline.

`python -m bench.run` (or `make bench`) generates a seeded corpus, serves it from several loopback
hosts, and writes `bench/results.json` and `bench/RESULTS.md`. Generated files go to `bench/out/`.
"""
