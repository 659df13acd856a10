"""The `scipol` command line. Each command lives in `flows/commands/<name>.py`."""

from __future__ import annotations

import importlib
import logging
import sys

import click

from flows import program
from flows.version import __version__

_COMMANDS = {
    "ingest": "flows.commands.ingest:ingest_command",
    "demo": "flows.commands.demo:demo_command",
    "extract": "flows.commands.extract:extract_command",
    "db": "flows.commands.db:db_group",
    "runs": "flows.commands.runs:runs_command",
    "search": "flows.commands.search:search_command",
    "show": "flows.commands.show:show_command",
    "diff": "flows.commands.diff:diff_command",
    "changes": "flows.commands.changes:changes_command",
    "export": "flows.commands.export:export_command",
    "stats": "flows.commands.stats:stats_command",
    "verify": "flows.commands.verify:verify_command",
    "check-sources": "flows.commands.check_sources:check_sources_command",
}
"""Command name -> where it is defined, imported only when that command runs (or help lists them all).

Importing every command module first (pydantic records, SQLAlchemy) cost ~0.5 s before `scipol ingest`
could start its crawl process; a run over an unchanged site takes ~3-4 s in all (bench/RESULTS.md)."""


class _LazyGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *_COMMANDS})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in self.commands or cmd_name not in _COMMANDS:
            return super().get_command(ctx, cmd_name)
        module_name, attr = _COMMANDS[cmd_name].split(":")
        command = getattr(importlib.import_module(module_name), attr)
        if command.name != cmd_name:
            raise RuntimeError(f"{_COMMANDS[cmd_name]} is named {command.name!r}, not {cmd_name!r}")
        self.add_command(command)
        return command  # type: ignore[no-any-return]


@click.group(cls=_LazyGroup, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
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


def main() -> None:
    program.started()
    cli(prog_name="scipol")


if __name__ == "__main__":
    main()
