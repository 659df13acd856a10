"""Same-run comparison of two checkouts: the baseline, then each checkout's ingest, alternating.

This machine's speed drifts by 20-30 % within an hour, so a change is measured against the code before
it in one run, round after round, on the same corpus and site (bench.run's), each ingest into a fresh
SQLite archive and followed by a second run over the unchanged site:

    git worktree add /tmp/scipol-old <rev>
    python -m bench.ab --old /tmp/scipol-old --rounds 3     # from this checkout, with its venv

Both checkouts run with this interpreter and its packages; each its own code (PYTHONPATH and working
directory). Prints the medians and writes every round to --out/ab.json.
"""

from __future__ import annotations

import argparse
import json
import logging
import statistics
import sys
from pathlib import Path
from typing import Any

from bench.corpus import generate_corpus
from bench.measure import run_timed
from bench.run import ROOT, SiteProcess, _child_env, baseline_cmd, ingest_cmd, write_sources

log = logging.getLogger(__name__)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.ab", description=__doc__.split("\n\n")[0])
    parser.add_argument("--old", type=Path, required=True, help="A checkout of the code to compare with.")
    parser.add_argument("--new", type=Path, default=ROOT, help="Default: this checkout.")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--pages", type=int, default=2000)
    parser.add_argument("--hosts", type=int, default=8)
    parser.add_argument("--out", type=Path, default=Path("/tmp/scipol-bench-ab"))
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s", stream=sys.stderr)
    args.out.mkdir(parents=True, exist_ok=True)
    hosts = generate_corpus(args.out / "corpus", args.pages, args.hosts, 2025)
    env = _child_env(args.out / "spool", args.out / "prefect-home")
    checkouts = {"old": args.old.resolve(), "new": args.new.resolve()}
    rounds: list[dict[str, Any]] = []
    site = SiteProcess(args.out / "corpus", env)
    try:
        sources = args.out / "sources.yaml"
        write_sources(sources, hosts, site.hosts)
        for r in range(args.rounds):
            found: dict[str, Any] = {}
            base = run_timed(baseline_cmd(site.hosts, 16), env=env, timeout_s=900, cwd=ROOT)
            found["baseline"] = {"wall_s": base.wall_s, "cpu_s": base.cpu_s}
            # The order alternates: neither checkout always runs on the warmer machine.
            for name in (("old", "new") if r % 2 == 0 else ("new", "old")):
                root = checkouts[name]
                db = args.out / f"{name}-{r}.db"
                db.unlink(missing_ok=True)
                code_env = dict(env, PYTHONPATH=str(root))
                first = run_timed(ingest_cmd(sources, f"sqlite:///{db}"), env=code_env, timeout_s=1800, cwd=root)
                second = run_timed(ingest_cmd(sources, f"sqlite:///{db}"), env=code_env, timeout_s=900, cwd=root)
                if first.returncode or second.returncode:
                    raise RuntimeError(f"{name} ingest failed: {first.stderr_tail or second.stderr_tail}")
                found[name] = {"wall_s": first.wall_s, "cpu_s": first.cpu_s, "second_run_s": second.wall_s}
            log.info("round %d: %s", r, found)
            rounds.append(found)
    finally:
        site.stop()
    (args.out / "ab.json").write_text(json.dumps({"checkouts": {k: str(v) for k, v in checkouts.items()},
                                                  "rounds": rounds}, indent=1), encoding="utf-8")
    for name in ("baseline", "old", "new"):
        keys = ("wall_s", "cpu_s", "second_run_s") if name != "baseline" else ("wall_s", "cpu_s")
        medians = {k: round(statistics.median(r[name][k] for r in rounds), 2) for k in keys}
        print(name, medians)
    return 0


if __name__ == "__main__":
    sys.exit(main())
