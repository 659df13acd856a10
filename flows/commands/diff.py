"""`scipol diff`: what changed between two versions of an article, word by word."""

from __future__ import annotations

import json

import click

from flows import textdiff
from flows.commands.access import (
    db_option,
    fail,
    iso_time,
    open_reader,
    resolve_article,
    show_time,
    tz_option,
    use_colour,
    zone,
)


@click.command("diff", short_help="Word-level diff between two versions of an article.")
@click.argument("article", metavar="ARTICLE")
@click.option(
    "--from", "from_no", type=int, metavar="N", help="Old version number (default: the one before --to)."
)
@click.option("--to", "to_no", type=int, metavar="M", help="New version number (default: the latest).")
@click.option(
    "--context",
    type=click.IntRange(0),
    default=None,
    metavar="CHARS",
    help="Shorten unchanged text to this many characters around each change (default: show all).",
)
@click.option("--json", "as_json", is_flag=True, help="JSON: both versions' metadata and the diff ops.")
@tz_option
@db_option
def diff_command(
    article: str,
    from_no: int | None,
    to_no: int | None,
    context: int | None,
    as_json: bool,
    tz_name: str | None,
    db_url: str | None,
) -> None:
    """Show the changes between two versions of ARTICLE (id or URL), word by word; character by
    character for Chinese. Coloured on a terminal, else [-removed-]{+added+}.

    \b
    Example:
      scipol diff 42                  # the last two versions
      scipol diff 42 --from 1 --to 3 --context 80
      scipol diff https://www.most.gov.cn/xxgk/notice.html --json
    """
    tz = zone(tz_name)
    reader = open_reader(db_url)
    try:
        article_id = resolve_article(reader, article)
        versions = {v.version_no: v for v in reader.versions(article_id)}
    finally:
        reader.close()
    if not versions:
        fail(f"article {article_id} has no version yet")
    latest = max(versions)
    if len(versions) == 1:
        fail(f"article {article_id} has only one version: nothing to compare")
    for label, no in (("--from", from_no), ("--to", to_no)):
        if no is not None and no not in versions:
            fail(f"article {article_id} has no version {no} for {label} (versions 1 to {latest})")
    if to_no is None:
        to_no = latest if from_no is None or from_no == latest else from_no + 1
    old_no = from_no if from_no is not None else max(to_no - 1, 1)
    new_no = to_no
    if old_no == new_no:
        fail(f"--from and --to both name version {old_no}: nothing to compare")
    old, new = versions[old_no], versions[new_no]
    title_ops = textdiff.diff(old.title, new.title)
    text_ops = textdiff.diff(old.text, new.text)
    if as_json:
        click.echo(
            json.dumps(
                {
                    "article_id": article_id,
                    "url": new.url,
                    "from": {
                        "version_no": old.version_no,
                        "reason": old.reason,
                        "captured_at": iso_time(old.captured_at, tz),
                        "title": old.title,
                    },
                    "to": {
                        "version_no": new.version_no,
                        "reason": new.reason,
                        "captured_at": iso_time(new.captured_at, tz),
                        "title": new.title,
                    },
                    "title_ops": [op.as_dict() for op in title_ops if textdiff.changed(title_ops)],
                    "ops": [op.as_dict() for op in text_ops],
                    "counts": textdiff.counts(text_ops),
                },
                ensure_ascii=False,
            )
        )
        return
    render = textdiff.render_ansi if use_colour() else textdiff.render_plain
    click.echo(f"article #{article_id}  {new.url}")
    click.echo(
        f"v{old.version_no} ({old.reason}, {show_time(old.captured_at, tz)}) -> "
        f"v{new.version_no} ({new.reason}, {show_time(new.captured_at, tz)})"
    )
    counts = textdiff.counts(text_ops)
    click.echo(f"{counts['changes']} change(s): -{counts['removed_chars']} +{counts['added_chars']} chars")
    click.echo("")
    if textdiff.changed(title_ops):
        click.echo("title: " + render(title_ops))
        click.echo("")
    if not textdiff.changed(text_ops):
        click.echo("(text unchanged)")
        return
    click.echo(render(text_ops, context=context))
