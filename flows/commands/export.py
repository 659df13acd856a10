"""`scipol export`: stream the archive to JSON lines, CSV or Parquet."""

from __future__ import annotations

import csv
import importlib.util
import json
import os
import sys
from collections.abc import Iterator
from contextlib import ExitStack
from datetime import date, datetime, tzinfo
from pathlib import Path
from typing import IO, Any, TypedDict

import click

from flows.commands.access import db_option, fail, open_reader, parse_when, tz_option, zone

PARQUET_BATCH = 5000


def _plain(value: Any, tz: tzinfo) -> Any:
    if isinstance(value, datetime):
        return value.astimezone(tz).isoformat()
    if isinstance(value, date):
        return value.isoformat()
    return value


class _ExportFilters(TypedDict):
    """The filters `export_rows` and `export_count` share."""

    all_versions: bool
    since: datetime | None
    source_id: str | None
    language: str | None


def _write_jsonl(rows: Iterator[dict[str, Any]], out: IO[str], tz: tzinfo) -> int:
    n = 0
    for row in rows:
        out.write(json.dumps({k: _plain(v, tz) for k, v in row.items()}, ensure_ascii=False) + "\n")
        n += 1
    return n


def _write_csv(rows: Iterator[dict[str, Any]], out: IO[str], tz: tzinfo) -> int:
    writer: Any = None
    n = 0
    for row in rows:
        if writer is None:
            writer = csv.DictWriter(out, fieldnames=list(row), lineterminator="\n")
            writer.writeheader()
        values = {k: _plain(v, tz) for k, v in row.items()}
        if isinstance(values.get("authors"), list):
            values["authors"] = json.dumps(values["authors"], ensure_ascii=False)
        writer.writerow(values)
        n += 1
    return n


def _write_parquet(rows: Iterator[dict[str, Any]], path: Path, tz: tzinfo) -> int:
    import pyarrow as pa  # type: ignore[import-not-found]
    import pyarrow.parquet as pq  # type: ignore[import-not-found]

    writer: Any = None
    batch: list[dict[str, Any]] = []
    n = 0

    def flush() -> None:
        nonlocal writer
        if not batch:
            return
        table = (
            pa.Table.from_pylist(batch)
            if writer is None
            else pa.Table.from_pylist(batch, schema=writer.schema)
        )
        if writer is None:
            writer = pq.ParquetWriter(str(path), table.schema)
        writer.write_table(table)
        batch.clear()

    try:
        for row in rows:
            # Timestamps stay typed (tz-aware) in Parquet; --tz only changes the zone they carry.
            batch.append({k: v.astimezone(tz) if isinstance(v, datetime) else v for k, v in row.items()})
            n += 1
            if len(batch) >= PARQUET_BATCH:
                flush()
        flush()
    finally:
        if writer is not None:
            writer.close()
    return n


@click.command("export", short_help="Stream articles to JSON lines, CSV or Parquet.")
@click.option("--format", "output_format", type=click.Choice(["jsonl", "csv", "parquet"]), required=True)
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    metavar="PATH",
    help="Write to PATH (default: stdout; Parquet needs a PATH).",
)
@click.option(
    "--since", metavar="TIME", help="Only versions fetched at or after this time (YYYY-MM-DD or ISO 8601)."
)
@click.option("--source", "source_id", metavar="ID", help="Only this source.")
@click.option("--lang", "language", metavar="CODE", help="Only this language (en, zh, ...).")
@click.option("--all-versions", is_flag=True, help="Every version of every article, not only the latest.")
@tz_option
@db_option
def export_command(
    output_format: str,
    output: Path | None,
    since: str | None,
    source_id: str | None,
    language: str | None,
    all_versions: bool,
    tz_name: str | None,
    db_url: str | None,
) -> None:
    """Export articles (latest versions, or all versions) as JSON lines, CSV or Parquet.

    Rows are streamed from the database (a server-side cursor on PostgreSQL), so memory stays flat
    whatever the archive size. A progress bar is shown on a terminal only. Parquet needs pyarrow.

    \b
    Example:
      scipol export --format jsonl -o articles.jsonl --lang zh
      scipol export --format csv --since 2026-03-01 --all-versions > versions.csv
      scipol export --format parquet -o archive.parquet
    """
    tz = zone(tz_name)
    start = parse_when(since, tz, "--since")
    if output_format == "parquet":
        if importlib.util.find_spec("pyarrow") is None:
            fail(
                "parquet export needs pyarrow, which is not installed: pip install pyarrow "
                "(or use --format jsonl / csv)"
            )
        if output is None:
            fail("parquet export needs an output file: -o PATH")
    reader = open_reader(db_url)
    filters: _ExportFilters = {
        "all_versions": all_versions, "since": start, "source_id": source_id, "language": language
    }
    tmp: Path | None = None
    try:
        with ExitStack() as stack:
            progress = sys.stderr.isatty() and (output is not None or not sys.stdout.isatty())
            rows: Iterator[dict[str, Any]] = reader.export_rows(**filters)
            if progress:
                total = reader.export_count(**filters)
                bar = stack.enter_context(click.progressbar(length=total, label="exporting", file=sys.stderr))
                rows = _counted(rows, bar)
            if output is not None:
                # Written beside the target and renamed at the end: a failed export leaves no half file.
                tmp = output.with_name(output.name + ".partial")
            if output_format == "parquet":
                assert tmp is not None
                n = _write_parquet(rows, tmp, tz)
            else:
                out: IO[str] = (
                    stack.enter_context(tmp.open("w", encoding="utf-8", newline=""))
                    if tmp is not None
                    # Click 8.5 deprecates get_text_stream behind a module __getattr__ typed `-> object`;
                    # replacing it (sys.stdout vs Click's encoding-fixing wrapper) is a behaviour change.
                    else click.get_text_stream("stdout")  # type: ignore[operator]
                )
                n = (_write_jsonl if output_format == "jsonl" else _write_csv)(rows, out, tz)
        if tmp is not None and output is not None:
            tmp.replace(output)
            tmp = None
    except BrokenPipeError:
        # The reader went away (`scipol export ... | head`): not an error; stop quietly.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        sys.exit(0)
    except OSError as exc:
        fail(f"cannot write {output or 'stdout'}: {exc}")
    except Exception as exc:  # noqa: BLE001
        fail(f"export failed: {type(exc).__name__}: {exc}")
    finally:
        reader.close()
        if tmp is not None:
            tmp.unlink(missing_ok=True)
    if output is not None:
        click.echo(f"exported {n} row(s) to {output}", err=True)


def _counted(rows: Iterator[dict[str, Any]], bar: Any, every: int = 500) -> Iterator[dict[str, Any]]:
    pending = 0
    for row in rows:
        yield row
        pending += 1
        if pending == every:
            bar.update(pending)
            pending = 0
    bar.update(pending)
