"""``poisk search``, ``poisk show`` and ``poisk stats``: reading the index."""

import csv
import io
import textwrap

import click

from indexer import PoiskError
from indexer.fields import public_fields
from search.api import SORTS, open_index
from search.cli_common import filter_options, index_option, output_options
from search.rewrite import note_lines, notes_json
from search.snippets import SEPARATOR, pieces, render
from search.terminal import ELLIPSIS, truncate, wrap

__all__ = ["search_command", "show_command", "stats_command"]

INDENT = "     "
COMPACT_SEPARATOR = " — "
COMPACT_CONTEXT = 15    # characters before the first match in a compact line
COMPACT_SNIPPET = 30    # room a compact line keeps for the snippet, if it has that much
CSV_COLUMNS = ("rank", "id", "date", "source", "headline", "score", "url", "tags", "snippet")


# ignore_unknown_options: "-уголь" (exclude a word) is a query, not an option.
@click.command("search", context_settings={"ignore_unknown_options": True})
@click.argument("words", nargs=-1, required=True)
@index_option
@click.option("--limit", type=click.IntRange(1, 1000), default=10, show_default=True)
@click.option("--offset", type=click.IntRange(min=0), default=0, show_default=True)
@filter_options
@click.option("--sort", type=click.Choice(SORTS), default="relevance", show_default=True,
              help="date: newest first, undated articles last.")
@click.option("--no-group", is_flag=True,
              help="Show reposts of a story as hits of their own (default: each story once).")
@click.option("--no-synonyms", is_flag=True,
              help="Search without the synonyms and abbreviations files.")
@click.option("--synonyms", "synonym_files", multiple=True, metavar="FILE",
              type=click.Path(exists=True, dir_okay=False),
              help="Your own synonyms file: one group of tab-separated names per line.")
@click.option("--no-corrections", is_flag=True,
              help="Search the words as typed: no keyboard-layout or typo correction.")
@output_options("full", "compact", "json", "csv")
def search_command(words, index_dir, limit, offset, since, until, sources, tags, sort, no_group,
                   no_synonyms, synonym_files, no_corrections, out, **fields):
    """Search the index. See the README for the query language.

    \b
    Examples:
      poisk search редкоземельные металлы
      poisk search '"глубокая переработка"~2 -уголь' --since 2026-01-01
      poisk search '=металлов OR title:никель' --format compact
      poisk search никель --json | jq -r 'select(.rank) | .id'
      poisk search уголь --region Кузбасс --since 2024-03-01
    """
    query = " ".join(words)
    rewriting = {"synonyms": False} if no_synonyms else {}
    if no_corrections:
        rewriting["corrections"] = False
    with open_index(index_dir, synonym_files=synonym_files) as index:
        result = index.search(query, limit=limit, offset=offset, since=since, until=until,
                              source=sources, tags=tags, sort=sort, group=not no_group,
                              **rewriting, **fields)
    for warning in result.warnings:
        click.echo(f"Warning: partial results, part of the index did not answer: {warning}",
                   err=True)
    searched = {"query": query, "since": since, "until": until, "source": list(sources),
                "tags": list(tags), **{name: list(v) for name, v in fields.items()},
                "sort": sort, "limit": limit, "offset": offset}
    WRITERS[out.format](result, searched, out)
    if result.partial and not result.warnings:  # after the hits, where it is read
        click.echo("Note: the search ran out of its time budget; these results are partial "
                   "(a more specific query is faster).", err=True)
    if out.format in ("full", "compact"):
        # What was searched instead, synonyms, "did you mean": on stderr, after the hits.
        for line in note_lines(result):
            click.echo(textwrap.fill(line, out.width - 1, subsequent_indent="  "), err=True)


def _write_json(result, searched, out):
    for rank, hit in enumerate(result.hits, result.offset + 1):
        out.json({"rank": rank, **hit.to_dict()})
    # The last line says what was searched and how many matched, also when none did.
    # "total_estimated" only when it is (a =form query on many candidates: search.exact).
    estimated = {"total_estimated": True} if result.total_estimated else {}
    out.json({"summary": {**searched, "total": result.total, **estimated,
                          "returned": len(result.hits), "partial": result.partial,
                          **notes_json(result)}})


def _write_csv(result, searched, out):
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for rank, hit in enumerate(result.hits, result.offset + 1):
        writer.writerow([rank, hit.id, _date(hit.date), hit.source, hit.headline, hit.score,
                         hit.url or "", ",".join(hit.tags), render(hit.snippets, "plain")])
    click.echo(buffer.getvalue(), nl=False)


def _write_text(result, searched, out):
    query = searched["query"]
    if not result.total:
        click.echo(f"Nothing found for {query!r}.")
        return
    shown = (f"{result.offset + 1}-{result.offset + len(result.hits)}" if result.hits
             else "none")
    about = "about " if result.total_estimated else ""
    lines = [f"{about}{result.total} found for {query!r} (showing {shown}):", ""]
    for rank, hit in enumerate(result.hits, result.offset + 1):
        if out.format == "compact":
            lines.append(_compact_line(rank, hit, out))
        else:
            lines += _full_lines(rank, hit, out) + [""]
    out.text("\n".join(lines) + "\n")


WRITERS = {"json": _write_json, "csv": _write_csv, "full": _write_text, "compact": _write_text}


def _full_lines(rank, hit, out):
    """A hit as a header line, its headline (bold) and its snippets, wrapped to the width."""
    lines = [f"{rank:>3}. {_date(hit.date) or 'no date'}  {hit.source}  [{hit.id}]"]
    lines += wrap(_headline_runs(hit), out.width, out.colour, INDENT)
    lines += wrap(_snippet_runs(hit.snippets), out.width, out.colour, INDENT)
    if hit.similar:
        lines.append(f"{INDENT}and {len(hit.similar)} more like it: "
                     f"poisk show {hit.id} --similar")
    return lines


def _compact_line(rank, hit, out):
    """A hit on one line: rank, date, source, headline and, if there is room, its first match."""
    more = f"(+{len(hit.similar)} like it)  " if hit.similar else ""
    prefix = f"{rank:>3}. {_date(hit.date) or 'no date':<10}  {hit.source}  {more}"
    room = out.width - len(prefix)
    with_snippet = bool(hit.snippets) and room - COMPACT_SNIPPET >= COMPACT_SNIPPET
    headline = truncate(_headline_runs(hit), room - with_snippet * COMPACT_SNIPPET, out.colour)
    if not with_snippet:
        return prefix + headline
    rest = room - len(click.unstyle(headline)) - len(COMPACT_SEPARATOR)
    context = min(COMPACT_CONTEXT, rest // 4)  # the match must fit in what is left
    snippet = truncate(_snippet_runs(hit.snippets[:1], context), rest, out.colour)
    return prefix + headline + COMPACT_SEPARATOR + snippet


def _headline_runs(hit):
    return [(text, "headline match" if matched else "headline")
            for text, matched in pieces(hit.headline, hit.headline_highlights)]


def _snippet_runs(snippets, context=None):
    """Runs of the snippets; with ``context``, the first starts that many characters
    before its first match (at a word)."""
    runs = []
    for n, snippet in enumerate(snippets):
        if n:
            runs.append((SEPARATOR, None))
        text, start = snippet.text, snippet.start
        if context is not None and snippet.highlights:
            cut = max(0, snippet.highlights[0].start - start - context)
            cut = text.find(" ", cut) + 1 if cut else 0
            if 0 < cut <= snippet.highlights[0].start - start:
                runs.append((ELLIPSIS, None))
                text, start = text[cut:], start + cut
        runs += [(piece, "match" if matched else None)
                 for piece, matched in pieces(text, snippet.highlights, start)]
    return runs


@click.command("show")
@click.argument("doc_id")
@index_option
@click.option("--similar", is_flag=True, help="List the articles that tell the same story.")
@output_options("full", "json")
def show_command(doc_id, index_dir, similar, out):
    """Print one article by its id (or, with --similar, its story's other articles)."""
    with open_index(index_dir) as index:
        document = index.get(doc_id)
        others = index.similar(doc_id) if similar and document else ()
    if document is None:
        raise PoiskError(f"no article with id {doc_id!r}")
    if similar:
        _write_similar(doc_id, others, out)
        return
    if out.format == "json":
        out.json(document.to_dict())
        return
    lines = wrap([(document.headline, "headline")], out.width, out.colour)
    lines.append(f"{document.date or 'no date'} · {document.source}"
                 + (f" · {document.url}" if document.url else ""))
    for spec in public_fields():  # tags, regions, districts, industries
        values = getattr(document, spec.name)
        if spec.label and values:
            lines.append(f"{spec.label}: " + ", ".join(values))
    lines.append("")
    if out.terminal:  # a pipe gets the body as it is stored
        for paragraph in document.body.split("\n"):
            lines += wrap([(paragraph, None)], out.width, out.colour) or [""]
    else:
        lines.append(document.body)
    out.text("\n".join(lines) + "\n")


def _write_similar(doc_id, others, out):
    if out.format == "json":
        for hit in others:
            out.json({"id": hit.id, "similarity": hit.score, **_fields(hit)})
        return
    if not others:
        out.text(f"No other article tells the story of {doc_id}.\n")
        return
    lines = [f"{len(others)} more like {doc_id} (share of three-word runs in common):", ""]
    for hit in others:
        lines.append(f"{hit.score:>5.2f}  {_date(hit.date) or 'no date'}  {hit.source}  "
                     f"[{hit.id}]")
        lines += wrap([(hit.headline, "headline")], out.width, out.colour, INDENT)
    out.text("\n".join(lines) + "\n")


def _fields(hit):
    return {key: value for key, value in hit.to_dict().items()
            if key not in ("score", "snippets", "headline_highlights", "similar")}


@click.command("stats")
@index_option
@output_options("full", "json")
def stats_command(index_dir, out):
    """Print the document count, date range, sources and index size."""
    with open_index(index_dir) as index:
        stats = index.stats()
    if out.format == "json":
        out.json(stats.to_dict())
        return
    dates = (f"{stats.first_date} .. {stats.last_date}" if stats.first_date else "no dates")
    lines = [f"index:     {stats.path}", f"documents: {stats.documents}",
             f"dates:     {dates}", f"size:      {stats.size_bytes / 1e6:.1f} MB", "sources:"]
    lines += [f"  {count:>7}  {name}" for name, count in stats.sources]
    out.text("\n".join(lines) + "\n")


def _date(value):
    return value.isoformat() if value else ""
