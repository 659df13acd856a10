"""Measuring tools for the bench: process-tree memory, timed subprocesses, a throwaway PostgreSQL,
and a summary of a py-spy profile. Linux only (reads /proc).
"""

from __future__ import annotations

import logging
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path

log = logging.getLogger(__name__)

_PAGE = os.sysconf("SC_PAGE_SIZE")


def _stat_fields(pid: int | str) -> list[bytes] | None:
    """/proc/<pid>/stat from field 3 (state) on, or None when the process is gone. The command name
    before it may hold spaces and parentheses: the fields start after the last ')'."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            stat = fh.read()
    except OSError:
        return None
    return stat[stat.rfind(b")") + 2 :].split()


def _children_map() -> dict[int, list[int]]:
    children: dict[int, list[int]] = defaultdict(list)
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        fields = _stat_fields(entry.name)
        if fields is None:
            continue  # the process ended while we looked
        children[int(fields[1])].append(int(entry.name))
    return children


def process_tree(root: int) -> list[int]:
    """`root` and every process below it (children, grandchildren, ...)."""
    children = _children_map()
    out, todo = [], [root]
    while todo:
        pid = todo.pop()
        out.append(pid)
        todo.extend(children.get(pid, ()))
    return out


_TICK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int, *, reaped: bool = False) -> float:
    """User + system CPU of a live process (0 once it is gone); `reaped`: plus that of its children
    it has waited for, which leave the process table when they exit."""
    fields = _stat_fields(pid)
    if fields is None:
        return 0.0
    ticks = int(fields[11]) + int(fields[12])  # utime, stime
    if reaped:
        ticks += int(fields[13]) + int(fields[14])  # cutime, cstime
    return ticks / _TICK


def _rss_bytes(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/statm", "rb") as fh:
            return int(fh.read().split()[1]) * _PAGE
    except (OSError, IndexError, ValueError):
        return 0


def _pss_bytes(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/smaps_rollup", "rb") as fh:
            for line in fh:
                if line.startswith(b"Pss:"):
                    return int(line.split()[1]) * 1024
    except (OSError, IndexError, ValueError):
        pass
    return 0


@dataclass
class TreeMemory:
    """Samples the summed RSS (and PSS) of a process tree every `interval_s` until stopped.

    The sampler shares the machine with what it measures, so it is kept cheap: the tree is listed again
    every `tree_every` samples (a scan of /proc, ~1.7 ms) and PSS read every `pss_every` (smaps_rollup
    walks every mapping: ~9 ms for an ingest's tree). Listing the tree and reading PSS at every
    and every 5th sample cost ~4 % of a core, load the baseline (not sampled then) did not carry.
    """

    root: int
    interval_s: float = 0.1
    tree_every: int = 5
    pss_every: int = 20
    peak_rss: int = 0
    peak_pss: int = 0
    peak_processes: int = 0
    samples: int = 0
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def start(self) -> TreeMemory:
        self._thread = threading.Thread(target=self._run, name="tree-memory", daemon=True)
        self._thread.start()
        return self

    def _run(self) -> None:
        pids: list[int] = []
        while not self._stop.is_set():
            if self.samples % self.tree_every == 0:
                pids = process_tree(self.root)
            rss = sum(_rss_bytes(p) for p in pids)  # a process gone since the listing counts 0
            self.peak_rss = max(self.peak_rss, rss)
            self.peak_processes = max(self.peak_processes, len(pids))
            if self.samples % self.pss_every == 0:
                self.peak_pss = max(self.peak_pss, sum(_pss_bytes(p) for p in pids))
            self.samples += 1
            self._stop.wait(self.interval_s)

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)


def kill_tree(root: int, grace_s: float = 3.0) -> None:
    """SIGTERM `root` and its descendants (found by pid, deepest first), then SIGKILL what is left."""
    pids = process_tree(root)
    for sig in (signal.SIGTERM, signal.SIGKILL):
        alive = []
        for pid in reversed(pids):
            try:
                os.kill(pid, sig)
                alive.append(pid)
            except ProcessLookupError:
                continue
        if not alive or sig == signal.SIGKILL:
            return
        deadline = time.monotonic() + grace_s
        while time.monotonic() < deadline and any(_alive(p) for p in alive):
            time.sleep(0.1)


def _alive(pid: int) -> bool:
    fields = _stat_fields(pid)
    return fields is not None and fields[0] != b"Z"  # a zombie has ended, only not been waited for


@dataclass
class Timed:
    returncode: int
    wall_s: float
    cpu_s: float
    """User + system CPU of the process and every descendant it waited for."""
    peak_rss_mb: float | None
    peak_pss_mb: float | None
    peak_processes: int | None
    stdout: str
    stderr_tail: str


def run_timed(
    cmd: list[str],
    *,
    env: dict[str, str] | None = None,
    timeout_s: float,
    sample_memory: bool = False,
    log_path: Path | None = None,
    cwd: Path | None = None,
) -> Timed:
    """Run `cmd` to the end (killing its whole tree at the timeout); wall, CPU and peak tree memory.

    CPU comes from wait4() of this one child, so two timed runs at once do not count each other.
    """
    err_path = log_path or Path(tempfile.mkstemp(prefix="bench-", suffix=".log")[1])
    chunks: list[bytes] = []
    with open(err_path, "wb") as err:
        started = time.perf_counter()
        proc = subprocess.Popen(
            cmd,
            env=env,
            cwd=cwd,
            stdout=subprocess.PIPE,
            stderr=err,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        assert proc.stdout is not None
        reader = threading.Thread(
            target=lambda: chunks.extend(iter(lambda: proc.stdout.read(65536), b"")),  # type: ignore[union-attr]
            name="timed-stdout",
            daemon=True,
        )
        reader.start()
        sampler = TreeMemory(proc.pid).start() if sample_memory else None
        expired = threading.Event()

        def expire() -> None:
            expired.set()
            kill_tree(proc.pid)

        timer = threading.Timer(timeout_s, expire)
        timer.daemon = True
        timer.start()
        try:
            # Blocks until the child ends, so its end is read at once: a 50 ms polling loop here added
            # ~25 ms to every figure, 3 % of a run over an unchanged site. A hung run is killed by the timer.
            _, status, usage = os.wait4(proc.pid, 0)
        except BaseException:
            kill_tree(proc.pid)
            proc.wait()
            raise
        finally:
            timer.cancel()
            if sampler is not None:
                sampler.stop()
        wall = time.perf_counter() - started
        if expired.is_set():
            raise TimeoutError(f"{cmd[:4]} still running after {timeout_s:.0f} s")
        proc.returncode = os.waitstatus_to_exitcode(status)
        reader.join(timeout=10)
        proc.stdout.close()
    cpu = usage.ru_utime + usage.ru_stime
    tail = err_path.read_text(errors="replace")[-3000:]
    if log_path is None:
        err_path.unlink(missing_ok=True)
    mb = 1024 * 1024
    return Timed(
        proc.returncode,
        round(wall, 3),
        round(cpu, 3),
        round(sampler.peak_rss / mb, 1) if sampler else None,
        round(sampler.peak_pss / mb, 1) if sampler else None,
        sampler.peak_processes if sampler else None,
        b"".join(chunks).decode("utf-8", "replace"),
        tail,
    )


# --- a throwaway PostgreSQL ----------------------------------------------------------------------

PG_VERSION = "15"


def find_pg_bindir() -> Path | None:
    candidates = [Path(os.environ["PG_BIN"])] if os.environ.get("PG_BIN") else []
    candidates.append(Path(f"/usr/lib/postgresql/{PG_VERSION}/bin"))
    pg_config = shutil.which("pg_config")
    if pg_config:
        try:
            out = subprocess.run(
                [pg_config, "--bindir"], capture_output=True, text=True, timeout=10, check=True
            )
            candidates.append(Path(out.stdout.strip()))
        except (OSError, subprocess.SubprocessError):
            pass
    return next((p for p in candidates if (p / "initdb").exists() and (p / "pg_ctl").exists()), None)


class ThrowawayPostgres:
    """A private PostgreSQL server on 127.0.0.1 in a temp directory (as tests/support/postgres.py
    starts one: as root the binaries run as `postgres` through runuser). Durability is kept ON
    (fsync, synchronous_commit) unlike the tests', so commit costs are what production pays."""

    def __init__(self, bindir: Path) -> None:
        self.bindir = bindir
        self.root = Path(tempfile.mkdtemp(prefix="scipol-bench-pg-"))
        self.data = self.root / "data"
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            self.port = int(sock.getsockname()[1])
        self.as_root = os.geteuid() == 0
        if self.as_root:
            pw = pwd.getpwnam("postgres")
            os.chown(self.root, pw.pw_uid, pw.pw_gid)
            self.root.chmod(0o700)
        self.started = False

    def _run(self, *args: str, timeout: float = 120) -> str:
        cmd = [str(self.bindir / args[0]), *args[1:]]
        if self.as_root:
            cmd = ["runuser", "-u", "postgres", "--", *cmd]
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
        if proc.returncode != 0:
            raise RuntimeError(
                f"{' '.join(args[:2])} failed ({proc.returncode}): {proc.stderr.strip()[-2000:]}"
            )
        return proc.stdout

    def version(self) -> str:
        return self._run("postgres", "--version").strip()

    def start(self) -> None:
        self._run(
            "initdb",
            "-D",
            str(self.data),
            "-U",
            "postgres",
            "--auth=trust",
            "-E",
            "UTF8",
            "--no-locale",
            "--no-sync",
        )
        options = (
            f"-c listen_addresses=127.0.0.1 -p {self.port} -k {self.root} -c max_connections=100 "
            "-c shared_buffers=128MB"
        )
        self._run(
            "pg_ctl",
            "-D",
            str(self.data),
            "-l",
            str(self.root / "server.log"),
            "-o",
            options,
            "-w",
            "-t",
            "60",
            "start",
        )
        self.started = True

    def cpu_s(self) -> float:
        """CPU seconds the server has used so far: the postmaster, its live processes and those that have
        exited (a client's backend ends with its connection). The ingest's CPU figures leave the server
        out (it is not in the ingest's process tree), yet on one machine it runs on the same cores."""
        try:
            postmaster = int((self.data / "postmaster.pid").read_text().split()[0])
        except (OSError, ValueError, IndexError):
            return 0.0
        return cpu_seconds(postmaster, reaped=True) + sum(
            cpu_seconds(pid) for pid in _children_map().get(postmaster, ()))

    def create_database(self, name: str) -> str:
        import psycopg

        with psycopg.connect(
            host="127.0.0.1",
            port=self.port,
            user="postgres",
            dbname="postgres",
            autocommit=True,
            connect_timeout=10,
        ) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
            conn.execute(f'CREATE DATABASE "{name}"')
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{name}"

    def stop(self) -> None:
        try:
            if self.started:
                self._run("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "stop", timeout=60)
        finally:
            shutil.rmtree(self.root, ignore_errors=True)


# --- py-spy profile summary ----------------------------------------------------------------------

# Frames from these packages are "extraction library" time (the part the baseline pays as well).
LIBRARY_PACKAGES = ("trafilatura", "lxml", "htmldate", "justext", "courlan", "lxml_html_clean")


def _is_library(file: str) -> bool:
    return any(file.startswith(p + "/") or f"/{p}/" in file for p in LIBRARY_PACKAGES)


@dataclass
class ProfileSummary:
    samples: int
    by_process: list[tuple[str, float]]
    library_share: float
    top_self: list[tuple[str, float]]
    top_inclusive: list[tuple[str, float]]


def _frame_name(frame: str) -> tuple[str, str]:
    """('file:function', file) from a py-spy frame 'function (path/to/file.py:123)'."""
    name, _, loc = frame.rpartition(" (")
    path = loc.rstrip(")").rsplit(":", 1)[0] if loc else ""
    short = path
    for marker in ("site-packages/", "/work/main/", "lib/python3.11/"):
        if marker in short:
            short = short.split(marker, 1)[1]
    return f"{short}:{name or frame}", path


def summarize_collapsed(path: Path, top: int = 15) -> ProfileSummary:
    """Read a py-spy ``--format raw`` (collapsed stacks) file: where CPU samples went.

    `top_self`: self time of functions outside trafilatura/lxml/htmldate (samples whose innermost
    frame is in those libraries are `library_share` instead; C code called from a Python function,
    e.g. lxml's xpath, counts to that function); `top_inclusive`: our own functions (crawlers/,
    flows/, storage/, schemas/) by the samples they appear in at all.
    """
    total = 0
    per_process: Counter[str] = Counter()
    own_self: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    library = 0
    project_dirs = ("crawlers/", "flows/", "storage/", "schemas/")
    for line in path.read_text(errors="replace").splitlines():
        stack, _, count_s = line.rpartition(" ")
        if not stack or not count_s.isdigit():
            continue
        count = int(count_s)
        total += count
        frames = _split_stack(stack)
        procs = [f for f in frames if f.startswith("process ")]
        # With --subprocesses a child's stack starts with its ancestors' process frames: the last is its own.
        # The root (py-spy's own child) is the ingest process, whatever its frame shows.
        per_process[
            "ingest main process" if len(procs) == 1 else _process_kind(procs[-1] if procs else "?")
        ] += count
        frames = [f for f in frames if not f.startswith(("process ", "thread "))]
        names = [_frame_name(f) for f in frames]
        if names and _is_library(names[-1][1]):
            library += count  # the baseline pays this too: not listed among our costs
        elif names:
            own_self[names[-1][0]] += count
        for name in {n for n, file in names if any(d in file for d in project_dirs)}:
            inclusive[name] += count
    pct = (lambda c: round(100.0 * c / total, 1)) if total else (lambda c: 0.0)
    return ProfileSummary(
        samples=total,
        by_process=[(k, pct(v)) for k, v in per_process.most_common()],
        library_share=pct(library),
        top_self=[(k, pct(v)) for k, v in own_self.most_common(top)],
        top_inclusive=[(k, pct(v)) for k, v in inclusive.most_common(top)],
    )


def _split_stack(stack: str) -> list[str]:
    """Frames of one collapsed stack; a process frame's quoted command line may itself hold ';'."""
    frames: list[str] = []
    open_quote = False
    for piece in stack.split(";"):
        if open_quote:
            frames[-1] += ";" + piece
            open_quote = frames[-1].count('"') % 2 == 1
            continue
        frames.append(piece)
        open_quote = piece.startswith("process ") and piece.count('"') % 2 == 1
    return frames


def _process_kind(frame: str) -> str:
    if "crawlers.crawl_main" in frame:
        return "crawl subprocesses (scrapy)"
    if "multiprocessing" in frame or "spawn_main" in frame:
        return "extraction workers"  # and their forkserver (its preload and warm-up)
    if "flows.cli" in frame or "scipol" in frame:
        return "ingest main process"
    return frame.split(":", 1)[-1][:60]
