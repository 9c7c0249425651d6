"""What every ``poisk`` command shares: the ``--index`` option and the output options."""

import functools
import sys
import json
from dataclasses import dataclass

import click

from indexer import DEFAULT_INDEX_DIR, INDEX_ENV_VAR
from indexer.fields import FIELDS
from search.terminal import colour_wanted, page, terminal_width

__all__ = ["Output", "filter_options", "index_option", "note_partial_counts", "output_options"]

index_option = click.option(
    "--index", "index_dir", metavar="DIR", envvar=INDEX_ENV_VAR,
    help=f"Index folder (default: ${INDEX_ENV_VAR} or {DEFAULT_INDEX_DIR}).")


def filter_options(command):
    """The filters of every command that reads matching articles (``search``, ``trend``,
    ``facets``): ``--since``, ``--until``, ``--source``, ``--tag``, and one repeatable option
    per filter field extracted from the text (``--region``, ``--district``, ``--industry``),
    handed to the command as keyword arguments named after the field
    (``regions=("Кузбасс",)``), ready for ``Index.search(**...)``."""
    options = [
        click.option("--since", metavar="DATE",
                     help="Only articles on or after DATE (YYYY-MM-DD)."),
        click.option("--until", metavar="DATE", help="Only articles on or before DATE."),
        click.option("--source", "sources", multiple=True,
                     help="Only articles from this source (repeatable: any of them)."),
        click.option("--tag", "tags", multiple=True,
                     help="Only articles with this tag (repeatable: all of them)."),
    ]
    for spec in (s for s in FIELDS if s.filter and s.extract):
        option = spec.aliases[0]
        options.append(click.option(
            f"--{option}", spec.name, multiple=True, metavar=option.upper(),
            help=f"Only articles with this {option}: its name, or a town or word for it "
                 "(repeatable: all of them)."))
    for option in reversed(options):
        command = option(command)
    return command


@dataclass(frozen=True)
class Output:
    """How a command writes: its format, colour, pager and width (from ``output_options``)."""

    format: str
    colour: bool = False
    pager: bool = False
    width: int = 80
    terminal: bool = False

    def text(self, text: str) -> None:
        """Write text for people (paged on a terminal when it is long)."""
        page(text, self.colour, self.pager)

    def json(self, value) -> None:
        """Write one JSON object on its own line."""
        text = json.dumps(value, ensure_ascii=False)
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:  # a lone surrogate (from the query): escaped, still JSON
            text = json.dumps(value)
        click.echo(text)


def output_options(*formats):
    """``--format`` (the first of ``formats`` is the default), ``--json`` (and ``--csv`` where
    CSV is a format), ``--color/--no-color`` and ``--pager/--no-pager``, handed to the command
    as one ``out: Output`` argument."""
    aliases = [name for name in ("json", "csv") if name in formats]

    def decorate(command):
        @functools.wraps(command)
        def run(*args, output_format, color, pager, **kwargs):
            chosen = [name for name in aliases if kwargs.pop("as_" + name)]
            if len(chosen) > 1:
                raise click.UsageError("choose one of " + " and ".join("--" + n for n in chosen))
            out = Output(chosen[0] if chosen else output_format, colour_wanted(color, sys.stdout),
                         pager, terminal_width(sys.stdout), sys.stdout.isatty())
            return command(*args, out=out, **kwargs)

        options = [click.option("--format", "output_format", type=click.Choice(formats),
                                default=formats[0], show_default=True, help="Output format.")]
        options += [click.option("--" + name, "as_" + name, is_flag=True,
                                 help=f"Same as --format {name}" + ALIAS_HELP[name])
                    for name in aliases]
        options += [
            click.option("--color/--no-color", default=None,
                         help="Colour the output (default: on a terminal, unless $NO_COLOR is set)."),
            click.option("--pager/--no-pager", default=True,
                         help="Page long output on a terminal ($PAGER, else less -FRX)."),
        ]
        for option in reversed(options):
            run = option(run)
        return run
    return decorate


ALIAS_HELP = {"json": ": one JSON object per line, for other tools.", "csv": "."}


def note_partial_counts(counts) -> None:
    """On stderr, after the output: counts (``Facets``, ``Trend``) cut short by the time budget."""
    if counts.partial:
        click.echo("Note: the query ran out of its time budget; these counts are of the "
                   "articles found until then (a more specific query is faster).", err=True)
