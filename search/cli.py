"""The ``poisk`` command line: thin commands over the ``indexer`` and ``search`` libraries.

Exit codes: 0 success (also a search that finds nothing), 1 an error or an
indexing run with failed records, 2 a usage error, 130 an interrupted run.
"""

import json
import sys
import textwrap
import time

import click

from indexer import DEFAULT_INDEX_DIR, INDEX_ENV_VAR, PoiskError, build_index, delete_documents
from indexer.fields import public_fields
from search.api import SORTS, open_index
from search.snippets import STYLES, render

WIDTH = 80
INDENT = "     "
MAX_PROBLEMS_SHOWN = 20
PROGRESS_AFTER_SECONDS = 2.0

index_option = click.option(
    "--index", "index_dir", metavar="DIR", envvar=INDEX_ENV_VAR,
    help=f"Index folder (default: ${INDEX_ENV_VAR} or {DEFAULT_INDEX_DIR}).")
json_option = click.option("--json", "as_json", is_flag=True,
                           help="Write JSON (one object per line) for other tools.")


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="poisk", message="poisk %(version)s")
def cli():
    """poisk: full-text search for Russian regional-industry news.

    Index articles with `poisk index data/`, then `poisk search "редкоземельные металлы"`.
    """


@cli.command("index")
@click.argument("paths", nargs=-1, required=True, type=click.Path())
@index_option
@click.option("--source", help="Source name for text files (default: each file's folder name).")
@click.option("--rebuild", is_flag=True, help="Start the index over instead of updating it.")
@click.option("--strict", is_flag=True, help="Stop at the first bad record instead of skipping it.")
@click.option("--wait", type=click.FloatRange(min=0), default=0, show_default=True,
              metavar="SECONDS", help="Wait this long for another writer to finish.")
@click.option("--batch-size", type=click.IntRange(min=1), default=1000, show_default=True,
              help="Documents per commit (a crash loses at most the batches in progress).")
@click.option("--workers", type=click.IntRange(min=0), default=None,
              help="Processes writing batches in a large run [default: one per core; 0: none].")
def index_command(paths, index_dir, source, rebuild, strict, wait, batch_size, workers):
    """Index articles from files and folders (.txt, .jsonl, .jsonl.gz, .csv).

    Runs are incremental: new articles are added, changed ones updated,
    unchanged ones skipped. Bad records are reported and skipped; the exit code
    is 1 if any failed.
    """
    progress = _Progress()
    try:
        report = build_index(paths, index_dir, source=source, rebuild=rebuild, strict=strict,
                             batch_size=batch_size, wait=wait, on_progress=progress,
                             workers=workers)
    except PoiskError as error:
        progress.clear()
        raise click.ClickException(str(error)) from None
    progress.clear()
    for problem in report.problems[:MAX_PROBLEMS_SHOWN]:
        click.echo(f"skipped {problem}", err=True)
    if len(report.problems) > MAX_PROBLEMS_SHOWN:
        click.echo(f"... and {len(report.problems) - MAX_PROBLEMS_SHOWN} more", err=True)
    click.echo(f"{report.added} added, {report.updated} updated, {report.skipped} skipped, "
               f"{report.failed} failed in {report.elapsed:.1f} s "
               f"({report.documents_per_second:g} documents/s)")
    if report.interrupted:
        click.echo("Interrupted: everything indexed before Ctrl-C is committed; "
                   "run the same command again to finish.", err=True)
        sys.exit(130)
    if report.failed:
        sys.exit(1)


# ignore_unknown_options: "-уголь" (exclude a word) is a query, not an option.
@cli.command("search", context_settings={"ignore_unknown_options": True})
@click.argument("words", nargs=-1, required=True)
@index_option
@click.option("--limit", type=click.IntRange(1, 1000), default=10, show_default=True)
@click.option("--offset", type=click.IntRange(min=0), default=0, show_default=True)
@click.option("--since", metavar="DATE", help="Only articles on or after DATE (YYYY-MM-DD).")
@click.option("--until", metavar="DATE", help="Only articles on or before DATE.")
@click.option("--source", help="Only articles from this source.")
@click.option("--tag", "tags", multiple=True, help="Only articles with this tag (repeatable).")
@click.option("--sort", type=click.Choice(SORTS), default="relevance", show_default=True)
@click.option("--color/--no-color", default=None,
              help="Colour the matches (default: when writing to a terminal).")
@json_option
def search_command(words, index_dir, limit, offset, since, until, source, tags, sort, color,
                   as_json):
    """Search the index. See the README for the query language.

    \b
    Examples:
      poisk search редкоземельные металлы
      poisk search '"глубокая переработка"~2 -уголь' --since 2026-01-01
      poisk search '=металлов OR title:никель' --json
    """
    query = " ".join(words)
    try:
        with open_index(index_dir) as index:
            result = index.search(query, limit=limit, offset=offset, since=since, until=until,
                                  source=source, tags=tags, sort=sort)
    except PoiskError as error:
        raise click.ClickException(str(error)) from None
    for warning in getattr(result, "warnings", ()):
        click.echo(f"Warning: partial results, part of the index did not answer: {warning}",
                   err=True)
    if as_json:
        for rank, hit in enumerate(result.hits, offset + 1):
            click.echo(json.dumps(_hit_json(rank, hit), ensure_ascii=False))
        return
    if not result.total:
        click.echo(f"Nothing found for {query!r}.")
        return
    if color is None:
        color = sys.stdout.isatty()
    shown = f"{offset + 1}-{offset + len(result.hits)}" if result.hits else "none"
    click.echo(f"{result.total} found for {query!r} (showing {shown}):\n")
    for rank, hit in enumerate(result.hits, offset + 1):
        click.echo(_format_hit(rank, hit, "ansi" if color else "plain"), color=color)


@cli.command("show")
@click.argument("doc_id")
@index_option
@json_option
def show_command(doc_id, index_dir, as_json):
    """Print one article by its id."""
    try:
        with open_index(index_dir) as index:
            document = index.get(doc_id)
    except PoiskError as error:
        raise click.ClickException(str(error)) from None
    if document is None:
        raise click.ClickException(f"no article with id {doc_id!r}")
    if as_json:
        click.echo(json.dumps(document.to_dict(), ensure_ascii=False))
        return
    click.echo(f"{document.headline}\n{document.date or 'no date'} · {document.source}"
               + (f" · {document.url}" if document.url else ""))
    for spec in public_fields():
        values = getattr(document, spec.name)
        if spec.label and values:
            click.echo(f"{spec.label}: " + ", ".join(values))
    click.echo("\n" + document.body)


@cli.command("stats")
@index_option
@json_option
def stats_command(index_dir, as_json):
    """Print the document count, date range, sources and index size."""
    try:
        with open_index(index_dir) as index:
            stats = index.stats()
    except PoiskError as error:
        raise click.ClickException(str(error)) from None
    if as_json:
        click.echo(json.dumps({
            "path": stats.path, "documents": stats.documents,
            "first_date": stats.first_date and stats.first_date.isoformat(),
            "last_date": stats.last_date and stats.last_date.isoformat(),
            "sources": dict(stats.sources), "size_bytes": stats.size_bytes,
        }, ensure_ascii=False))
        return
    dates = (f"{stats.first_date} .. {stats.last_date}" if stats.first_date else "no dates")
    click.echo(f"index:     {stats.path}\ndocuments: {stats.documents}\ndates:     {dates}\n"
               f"size:      {stats.size_bytes / 1e6:.1f} MB\nsources:")
    for name, count in stats.sources:
        click.echo(f"  {count:>7}  {name}")


@cli.command("delete")
@click.argument("ids", nargs=-1, required=True)
@index_option
def delete_command(ids, index_dir):
    """Delete articles by id."""
    try:
        deleted = delete_documents(ids, index_dir)
    except PoiskError as error:
        raise click.ClickException(str(error)) from None
    click.echo(f"{deleted} deleted, {len(set(ids)) - deleted} not found")


def _format_hit(rank, hit, style):
    date = hit.date.isoformat() if hit.date else "no date"
    before, after = STYLES[style]
    headline = _mark(hit.headline, hit.headline_highlights, before, after)
    lines = [f"{rank:>3}. {date}  {hit.source}  [{hit.id}]"]
    lines += textwrap.wrap(headline, WIDTH - len(INDENT), initial_indent=INDENT,
                           subsequent_indent=INDENT)
    snippet = render(hit.snippets, style)
    lines += textwrap.wrap(snippet, WIDTH - len(INDENT), initial_indent=INDENT,
                           subsequent_indent=INDENT)
    return "\n".join(lines) + "\n"


def _mark(text, spans, before, after):
    out, at = [], 0
    for span in spans:
        out += [text[at:span.start], before, text[span.start:span.end], after]
        at = span.end
    return "".join(out + [text[at:]])


def _hit_json(rank, hit):
    return {
        "rank": rank, "id": hit.id, "score": hit.score, **hit.to_dict(),
        "headline_highlights": [[s.start, s.end] for s in hit.headline_highlights],
        "snippets": [{"start": s.start, "end": s.end, "text": s.text,
                      "highlights": [[h.start, h.end] for h in s.highlights]}
                     for s in hit.snippets],
    }


class _Progress:
    """A one-line progress report on stderr, shown once a run lasts a couple of seconds."""

    def __init__(self):
        self.started = time.monotonic()
        self.shown = False
        self.last = 0.0
        self.enabled = sys.stderr.isatty()

    def __call__(self, report):
        now = time.monotonic()
        if not self.enabled or now - self.started < PROGRESS_AFTER_SECONDS or now - self.last < 0.5:
            return
        self.last, self.shown = now, True
        done = report.written + report.skipped + report.failed
        rate = report.written / (now - self.started)
        click.echo(f"\rindexing: {done:,} records ({report.added:,} added, {report.updated:,} "
                   f"updated, {report.skipped:,} skipped, {report.failed:,} failed) "
                   f"{rate:,.0f} docs/s ", nl=False, err=True)

    def clear(self):
        if self.shown:
            click.echo("\r" + " " * (WIDTH - 1) + "\r", nl=False, err=True)


from search.cluster_cli import cluster_group  # noqa: E402

cli.add_command(cluster_group)


def main():
    cli(prog_name="poisk")

from search import trend_cli  # noqa: E402,F401  registers `poisk trend`
