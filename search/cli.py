"""The ``poisk`` command line: thin commands over the ``indexer`` and ``search`` libraries.

Exit codes: 0 success (also a search that finds nothing), 1 an error or an
indexing run with failed records, 2 a usage error, 130 an interrupted run.

Each command lives in its own module and is registered below with one line.
Every ``PoiskError`` a command lets through becomes ``Error: ...`` and exit 1
here, in ``PoiskGroup``: commands hold no ``except PoiskError`` of their own.
"""

import importlib

import click

from indexer.errors import PoiskError

__all__ = ["PoiskGroup", "cli", "main"]

INTERRUPTED = 130

# Each command's module is imported only when that command runs (or ``--help``
# lists them all): `poisk search` does not load the indexing run, the progress
# bar (rich) or clustering.
COMMANDS = {
    "index": "search.cli_index:index_command",
    "search": "search.cli_search:search_command",
    "show": "search.cli_search:show_command",
    "stats": "search.cli_search:stats_command",
    "delete": "search.cli_index:delete_command",
    "optimize": "search.cli_index:optimize_command",
    "trend": "search.trend_cli:trend_command",
    "facets": "search.facets_cli:facets_command",
    "cluster": "search.cluster_cli:cluster_group",
}


class PoiskGroup(click.Group):
    """A command group with one error path: ``PoiskError`` -> ``Error: ...``, exit 1."""

    def list_commands(self, ctx):
        return list(COMMANDS)

    def get_command(self, ctx, name):
        if name not in COMMANDS:
            return None
        module, attribute = COMMANDS[name].split(":")
        return getattr(importlib.import_module(module), attribute)

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


def main():
    cli(prog_name="poisk")
