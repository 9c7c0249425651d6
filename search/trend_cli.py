"""``poisk trend``: matching articles over time, as a terminal chart, a PNG, JSON or CSV."""

import csv
import io

import click

from search.api import open_index
from search.cli_common import filter_options, index_option, note_partial_counts, \
    output_options
from search.trend import PERIODS, bar_chart, write_png


# ignore_unknown_options: "-уголь" (exclude a word) is a query, not an option.
@click.command("trend", context_settings={"ignore_unknown_options": True})
@click.argument("words", nargs=-1, required=True)
@index_option
@click.option("--by", type=click.Choice(PERIODS), default="month", show_default=True,
              help="Count by month, ISO week (starting on Monday) or day.")
@filter_options
@click.option("--png", "png", metavar="FILE", type=click.Path(dir_okay=False),
              help="Also draw the chart into a PNG image (needs poisk[chart]).")
@output_options("chart", "json", "csv")
def trend_command(words, index_dir, by, since, until, sources, tags, png, out, **fields):
    """Count the articles matching a query per month, week or day and chart them.

    Every matching article is counted, not only the first page.

    \b
    Examples:
      poisk trend санкции --by month --png trend.png
      poisk trend "ключевая ставка" --by week --since 2024-06-01 --csv
    """
    query = " ".join(words)
    with open_index(index_dir) as index:
        trend = index.trend(query, by=by, since=since, until=until, source=sources, tags=tags,
                            **fields)
    if png:
        write_png(trend, png)
    if out.format == "json":
        for row in trend.to_rows():
            out.json(row)
    elif out.format == "csv":
        out = io.StringIO()
        writer = csv.DictWriter(out, ["period", "start", "count"], lineterminator="\n")
        writer.writeheader()
        writer.writerows(trend.to_rows())
        click.echo(out.getvalue(), nl=False)
    else:
        _print_chart(query, trend, png, out.width)
    note_partial_counts(trend)


def _print_chart(query, trend, png, width):
    undated = f"; {trend.undated} more have no date" if trend.undated else ""
    if not trend.points:
        click.echo(f"Nothing found for {query!r}{undated}.")
    else:
        click.echo(f"{trend.total} articles for {query!r} by {trend.by}{undated}:\n")
        click.echo(bar_chart(trend, width))
    if png:
        click.echo(f"\nChart written to {png}.")
