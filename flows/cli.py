"""The `scipol` command line. Each command lives in `flows/commands/<name>.py`."""

from __future__ import annotations

import logging
import sys

import click

from flows.version import __version__


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="scipol")
@click.option("-v", "--verbose", count=True, help="More log output (-v info, -vv debug).")
def cli(verbose: int) -> None:
    """scipol: monitor and archive science-policy news, with every version kept.

    \b
    Quick start:
      scipol demo                      # crawl the bundled demo site twice into ./scipol.db
      scipol ingest --source nsf_news  # one run over a configured source
      scipol runs                      # what recent runs did
    """
    level = logging.WARNING - 10 * verbose
    logging.basicConfig(level=max(level, logging.DEBUG), format="%(asctime)s %(levelname)s %(name)s: %(message)s",
                        stream=sys.stderr)


def _register() -> None:
    from flows.commands import (
        changes,
        check_sources,
        db,
        demo,
        diff,
        export,
        extract,
        ingest,
        runs,
        search,
        show,
        stats,
        verify,
    )

    for command in (ingest.ingest_command, demo.demo_command, extract.extract_command, db.db_group,
                    runs.runs_command, search.search_command, show.show_command, diff.diff_command,
                    changes.changes_command, export.export_command, stats.stats_command,
                    verify.verify_command, check_sources.check_sources_command):
        cli.add_command(command)


_register()


def main() -> None:
    cli(prog_name="scipol")


if __name__ == "__main__":
    main()
