"""``poisk facets``: how the articles matching a query spread over regions, industries, sources
and months; and the ``--region``/``--district``/``--industry`` options every reading command takes.
"""

import click

from indexer.fields import FIELDS
from search.api import open_index
from search.cli_common import index_option, output_options

__all__ = ["facets_command", "field_filter_options"]

BAR_WIDTH = 30


def field_filter_options(command):
    """One repeatable option per filter field extracted from the text (``--region``,
    ``--district``, ``--industry``), handed to the command as keyword arguments named
    after the field (``regions=("Кузбасс",)``), ready for ``Index.search(**...)``."""
    for spec in reversed([s for s in FIELDS if s.filter and s.extract]):
        option = spec.aliases[0]
        command = click.option(
            f"--{option}", spec.name, multiple=True, metavar=option.upper(),
            help=f"Only articles with this {option}: its name, or a town or word for it "
                 "(repeatable: all of them).")(command)
    return command


# ignore_unknown_options: "-уголь" (exclude a word) is a query, not an option.
@click.command("facets", context_settings={"ignore_unknown_options": True})
@click.argument("words", nargs=-1, required=True)
@index_option
@click.option("--since", metavar="DATE", help="Only articles on or after DATE (YYYY-MM-DD).")
@click.option("--until", metavar="DATE", help="Only articles on or before DATE.")
@click.option("--source", "sources", multiple=True,
              help="Only articles from this source (repeatable: any of them).")
@click.option("--tag", "tags", multiple=True,
              help="Only articles with this tag (repeatable: all of them).")
@field_filter_options
@click.option("--limit", type=click.IntRange(1, 1000), default=10, show_default=True,
              help="Values shown per field.")
@output_options("full", "json")
def facets_command(words, index_dir, since, until, sources, tags, limit, out, **fields):
    """Count the articles matching a query by region, district, industry, source and month.

    Every matching article is counted, not only the first page.

    \b
    Examples:
      poisk facets "редкоземельные металлы"
      poisk facets уголь --since 2024-03-01 --json
    """
    query = " ".join(words)
    with open_index(index_dir) as index:
        facets = index.facets(query, limit=limit, since=since, until=until, source=sources,
                              tags=tags, **fields)
    if out.format == "json":
        out.json(facets.to_dict())
        return
    if not facets.total:
        click.echo(f"Nothing found for {query!r}.")
        return
    out.text(_facets_text(facets))


def _facets_text(facets):
    lines = [f"{facets.total} articles for {facets.query!r}"]
    for spec in FIELDS:
        if spec.facet:
            lines += ["", f"{spec.label or spec.name}:"] + _rows(facets.counts[spec.name],
                                                                  facets.total)
    lines += ["", "months:"] + _rows(facets.months, facets.total, bars=True)
    if facets.undated:
        lines.append(f"  {facets.undated:>7}  no date")
    return "\n".join(lines) + "\n"


def _rows(pairs, total, bars=False):
    if not pairs:
        return ["        none"]
    top = max(count for _, count in pairs)
    return [f"  {count:>7}  {value}" + (f"  {'█' * max(1, round(BAR_WIDTH * count / top))}"
                                          if bars else f"  ({100 * count / total:.0f}%)")
            for value, count in pairs]
