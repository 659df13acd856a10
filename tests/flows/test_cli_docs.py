"""Docs that can drift are tested: every command registered on `scipol` (subcommands of groups too) has
a row in README.md's "Command reference" table, and an example in its --help."""

from __future__ import annotations

import re
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from flows.cli import cli

README = Path(__file__).resolve().parents[2] / "README.md"


def command_paths(group: click.Group = cli, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    paths = []
    ctx = click.Context(group)
    # list_commands/get_command, not group.commands: `scipol` imports a command's module when it is asked for.
    for name in group.list_commands(ctx):
        command = group.get_command(ctx, name)
        assert command is not None, name
        path = (*prefix, name)
        if isinstance(command, click.Group):
            paths.extend(command_paths(command, path))
        else:
            paths.append(path)
    return paths


def documented_commands() -> set[tuple[str, ...]]:
    """Command paths named in the first column of the "Command reference" table (`scipol db upgrade`)."""
    section = README.read_text(encoding="utf-8").split("## Command reference", 1)
    assert len(section) == 2, "README.md has no '## Command reference' section"
    body = section[1].split("\n## ", 1)[0]
    found = set()
    for line in body.splitlines():
        cell = re.match(r"^\|\s*`scipol ([^`]*)`", line)
        if cell:
            # Words up to the first argument placeholder (QUERY, ARTICLE) or option.
            words = []
            for word in cell.group(1).split():
                if word.startswith("-") or not re.fullmatch(r"[a-z][a-z0-9-]*", word):
                    break
                words.append(word)
            found.add(tuple(words))
    return found


def test_the_command_list_is_not_empty() -> None:
    assert ("search",) in command_paths() and ("db", "upgrade") in command_paths()


@pytest.mark.parametrize("path", command_paths(), ids=" ".join)
def test_every_command_has_a_row_in_the_readme_command_reference(path: tuple[str, ...]) -> None:
    assert path in documented_commands(), (
        f"`scipol {' '.join(path)}` is missing from README.md's Command reference"
    )


@pytest.mark.parametrize("path", command_paths(), ids=" ".join)
def test_every_command_help_has_an_example(path: tuple[str, ...]) -> None:
    result = CliRunner().invoke(cli, [*path, "--help"])
    assert result.exit_code == 0, result.output
    assert "Example" in result.output, f"`scipol {' '.join(path)} --help` shows no example"
