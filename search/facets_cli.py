"""``poisk facets``: how the articles matching a query spread over regions, industries, sources
and months.
"""

import click

from indexer.fields import FIELDS
from search.api import open_index
from search.cli_common import filter_options, index_option, note_partial_counts, \
    output_options

__all__ = ["facets_command"]

BAR_WIDTH = 30


# ignore_unknown_options: "-уголь" (exclude a word) is a query, not an option.
@click.command("facets", context_settings={"ignore_unknown_options": True})
@click.argument("words", nargs=-1, required=True)
@index_option
@filter_options
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
    elif not facets.total:
        click.echo(f"Nothing found for {query!r}.")
    else:
        out.text(_facets_text(facets))
    note_partial_counts(facets)


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
