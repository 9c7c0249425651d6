"""The ``poisk`` command line: thin commands over the ``indexer`` and ``search`` libraries.

Exit codes: 0 success (also a search that finds nothing), 1 an error or an
indexing run with failed records, 2 a usage error, 130 an interrupted run.

Each command lives in its own module and is registered below with one line.
Every ``PoiskError`` a command lets through becomes ``Error: ...`` and exit 1
here, in ``PoiskGroup``: commands hold no ``except PoiskError`` of their own.
"""

import click

from indexer import PoiskError
from search.cli_index import delete_command, index_command, optimize_command
from search.cli_search import search_command, show_command, stats_command
from search.cluster_cli import cluster_group
from search.facets_cli import facets_command
from search.trend_cli import trend_command

__all__ = ["PoiskGroup", "cli", "main"]

INTERRUPTED = 130


class PoiskGroup(click.Group):
    """A command group with one error path: ``PoiskError`` -> ``Error: ...``, exit 1."""

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except PoiskError as error:
            raise click.ClickException(str(error)) from None
        except KeyboardInterrupt:
            click.echo("\nInterrupted.", err=True)
            ctx.exit(INTERRUPTED)


@click.group(cls=PoiskGroup, context_settings={"help_option_names": ["-h", "--help"]},
             epilog="""\b
Examples:
  poisk index data/                       index a folder (.txt, .jsonl, .csv)
  poisk search редкоземельные металлы     any form of every word
  poisk search '"глубокая переработка"' --since 2026-01-01 --format compact
  poisk search никель --json | jq -r 'select(.rank) | .id'    JSON Lines
  poisk show data/sibir-business/2026-02-10-tyva-litiy-sp
  poisk stats

\b
`poisk COMMAND --help` shows a command's options; the README has the query language.
Shell completion (bash; zsh and fish alike, see the README):
  eval "$(_POISK_COMPLETE=bash_source poisk)"
""")
@click.version_option(package_name="poisk", message="poisk %(version)s")
def cli():
    """poisk: full-text search for Russian regional-industry news."""


cli.add_command(index_command)
cli.add_command(search_command)
cli.add_command(show_command)
cli.add_command(stats_command)
cli.add_command(delete_command)
cli.add_command(optimize_command)
cli.add_command(trend_command)
cli.add_command(facets_command)
cli.add_command(cluster_group)


def main():
    cli(prog_name="poisk")
