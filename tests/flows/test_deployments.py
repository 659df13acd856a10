"""The operator's path, for real: a Prefect server on 127.0.0.1, `prefect deploy --all` from the
repository's prefect.yaml, a process worker, `prefect deployment run ... --watch` over the demo site."""

from __future__ import annotations

import json
import time
import urllib.request
from datetime import datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from flows.demo import DemoSite
from tests.support.prefect_server import PrefectServer, stop_process

ROOT = Path(__file__).resolve().parents[2]


def _api(server: PrefectServer, path: str, body: dict[str, Any]) -> Any:
    req = urllib.request.Request(f"{server.api_url}{path}", data=json.dumps(body).encode(),
                                 headers={"Content-Type": "application/json"}, method="POST")
    with urllib.request.urlopen(req, timeout=30) as resp:
        return json.loads(resp.read())


def _runs(server: PrefectServer, deployment: str) -> list[dict[str, Any]]:
    runs = _api(server, "/flow_runs/filter", {"sort": "EXPECTED_START_TIME_ASC"})
    deps = {d["id"]: d["name"] for d in _api(server, "/deployments/filter", {})}
    return [r for r in runs if deps.get(r["deployment_id"]) == deployment]


def _wait_final(server: PrefectServer, deployment: str, count: int, timeout: float = 300) -> list[dict[str, Any]]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        runs = _runs(server, deployment)
        if len(runs) >= count and all(r["state_type"] in ("COMPLETED", "FAILED", "CRASHED", "CANCELLED")
                                      for r in runs):
            return runs
        time.sleep(2)
    raise AssertionError(f"runs did not finish: {[(r['name'], r['state_type']) for r in _runs(server, deployment)]}")


def test_operator_deploys_from_prefect_yaml_and_runs_a_one_off_ingest(prefect_server: PrefectServer,
                                                                      tmp_path: Path) -> None:
    server = prefect_server
    db = tmp_path / "archive.db"
    worker_env = {"SCIPOL_DATABASE_URL": f"sqlite:///{db}", "SCIPOL_SPOOL_DIR": str(tmp_path / "spool")}

    created = server.cli("work-pool", "create", "scipol", "--type", "process", "--overwrite")
    assert created.returncode == 0, created.stdout + created.stderr
    deployed = server.cli("--no-prompt", "deploy", "--all")
    assert deployed.returncode == 0, deployed.stdout[-3000:] + deployed.stderr[-3000:]
    names = {d["name"] for d in _api(server, "/deployments/filter", {})}
    assert {"hourly", "oneoff"} <= names

    # A bad parameter is refused before a run is created, with the field named.
    bad = server.cli("deployment", "run", "ingest/oneoff", "-p", "lookback_days=0")
    assert bad.returncode != 0
    assert "lookback_days" in bad.stdout + bad.stderr
    assert _runs(server, "oneoff") == []

    worker = server.start_worker("scipol", worker_env, tmp_path / "worker.log")
    try:
        with DemoSite() as site:
            sources_file = tmp_path / "demo-sources.yaml"
            text = (ROOT / "flows" / "demo" / "sources.yaml").read_text().replace("__BASE_URL__", site.base_url)
            sources_file.write_text(text)
            run = server.cli("deployment", "run", "ingest/oneoff", "-p", f"sources_file={sources_file}",
                             "--watch", timeout=400)
            assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:] + \
                (tmp_path / "worker.log").read_text()[-3000:]

            # Two runs triggered back to back never overlap (concurrency limit 1, ENQUEUE).
            for _ in range(2):
                r = server.cli("deployment", "run", "ingest/oneoff", "-p", f"sources_file={sources_file}")
                assert r.returncode == 0, r.stdout + r.stderr
            runs = _wait_final(server, "oneoff", 3)
    finally:
        stop_process(worker)

    assert [r["state_type"] for r in runs] == ["COMPLETED"] * 3
    spans = sorted((datetime.fromisoformat(r["start_time"]), datetime.fromisoformat(r["end_time"])) for r in runs)
    for (_, end_a), (start_b, _) in zip(spans, spans[1:], strict=False):
        assert start_b >= end_a

    engine = sa.create_engine(f"sqlite:///{db}")
    with engine.connect() as conn:
        articles = conn.execute(sa.text("select count(*) from latest_articles")).scalar_one()
        versions = conn.execute(sa.text("select count(*) from article_history")).scalar_one()
        runs_rows = conn.execute(sa.text("select count(*) from runs")).scalar_one()
    engine.dispose()
    assert articles >= 30
    assert versions == articles  # the later runs saw an unchanged site
    assert runs_rows == 3

    # Crawler and storage lines reach the run log, naming the source and the URL.
    logs = _api(server, "/logs/filter", {"logs": {"flow_run_id": {"any_": [runs[0]["id"]]}}, "limit": 200})
    names = {entry["name"] for entry in logs}
    assert any(n.startswith("flows.") for n in names), names
    assert any(n.startswith("crawlers.") for n in names), names
    assert any("source=demo_news" in e["message"] and "url=http://127.0.0.1" in e["message"] for e in logs)

    artifacts = _api(server, "/artifacts/filter", {"artifacts": {"key": {"any_": ["ingest-report"]}}})
    assert artifacts, "the run report artifact is missing"
    table = artifacts[0]["data"]
    rows = json.loads(table) if isinstance(table, str) else table
    assert rows[0]["source"] == "demo_news"


def test_two_workers_run_two_deployments_over_different_sources_side_by_side_into_postgresql(
        prefect_server: PrefectServer, pg_url: str, tmp_path: Path) -> None:
    server = prefect_server
    assert server.cli("work-pool", "create", "scipol", "--type", "process", "--overwrite").returncode == 0
    deployed = server.cli("--no-prompt", "deploy", "--all")
    assert deployed.returncode == 0, deployed.stdout[-2000:]
    env = {"SCIPOL_DATABASE_URL": pg_url, "SCIPOL_SPOOL_DIR": str(tmp_path / "spool")}
    workers = [server.start_worker("scipol", env, tmp_path / f"worker{i}.log") for i in (1, 2)]
    try:
        with DemoSite() as site_a, DemoSite() as site_b:
            sources_file = tmp_path / "two-sources.yaml"
            template = (ROOT / "flows" / "demo" / "sources.yaml").read_text()
            part_a = template.replace("__BASE_URL__", site_a.base_url)
            part_b = template.replace("__BASE_URL__", site_b.base_url).replace("id: demo_news", "id: demo_mirror")
            entries_b = part_b.split("sources:", 1)[1]
            sources_file.write_text(part_a + entries_b)
            before = {r["id"] for r in _api(server, "/flow_runs/filter", {})}
            for deployment, source in (("ingest/hourly", "demo_news"), ("ingest/oneoff", "demo_mirror")):
                r = server.cli("deployment", "run", deployment, "-p", f"sources_file={sources_file}",
                               "-p", f'sources=["{source}"]')
                assert r.returncode == 0, r.stdout + r.stderr
            deadline = time.monotonic() + 300
            while time.monotonic() < deadline:
                # Runs the scheduler creates for the scheduled deployments are not ours.
                runs = [r for r in _api(server, "/flow_runs/filter", {})
                        if r["id"] not in before and not r["auto_scheduled"]]
                if len(runs) == 2 and all(r["state_type"] in ("COMPLETED", "FAILED", "CRASHED") for r in runs):
                    break
                time.sleep(2)
    finally:
        for w in workers:
            stop_process(w)
    assert sorted(r["state_type"] for r in runs) == ["COMPLETED", "COMPLETED"], \
        [(r["name"], r["state_type"]) for r in runs]
    engine = sa.create_engine(pg_url)
    with engine.connect() as conn:
        per_source = dict(conn.execute(sa.text(
            "select source_id, count(*) from latest_articles group by source_id")).all())
        gaps = conn.execute(sa.text(
            "select count(*) from (select article_id, max(version_no) m, count(*) n from article_versions "
            "group by article_id) t where m != n")).scalar_one()
    engine.dispose()
    assert per_source.get("demo_news", 0) >= 30 and per_source.get("demo_mirror", 0) >= 30
    assert gaps == 0


def test_scipol_ingest_runs_as_a_prefect_flow_when_a_server_is_configured(prefect_server: PrefectServer,
                                                                          tmp_path: Path) -> None:
    import subprocess
    import sys

    server = prefect_server
    db = tmp_path / "archive.db"
    with DemoSite() as site:
        sources_file = tmp_path / "demo-sources.yaml"
        sources_file.write_text((ROOT / "flows" / "demo" / "sources.yaml").read_text()
                                .replace("__BASE_URL__", site.base_url))
        before = {r["id"] for r in _api(server, "/flow_runs/filter", {})}
        done = subprocess.run([sys.executable, "-m", "flows.cli", "ingest", "--sources", str(sources_file),
                               "--db", f"sqlite:///{db}"], cwd=ROOT, env={**server.env, "PYTHONPATH": str(ROOT)},
                              capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    runs = [r for r in _api(server, "/flow_runs/filter", {}) if r["id"] not in before and not r["auto_scheduled"]]
    assert len(runs) == 1 and runs[0]["state_type"] == "COMPLETED"
    flows = {f["id"]: f["name"] for f in _api(server, "/flows/filter", {})}
    assert flows[runs[0]["flow_id"]] == "ingest"
    engine = sa.create_engine(f"sqlite:///{db}")
    with engine.connect() as conn:
        assert conn.execute(sa.text("select count(*) from latest_articles")).scalar_one() >= 30
    engine.dispose()
