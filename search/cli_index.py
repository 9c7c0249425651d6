"""``poisk index`` and ``poisk delete``: writing the index."""

import sys

import click

from indexer import build_index, delete_documents
from indexer.merging import optimize_index
from search.cli_common import index_option
from search.progress import IndexProgress

__all__ = ["delete_command", "index_command", "optimize_command"]

MAX_PROBLEMS_SHOWN = 20
INTERRUPTED = 130

wait_option = click.option(
    "--wait", type=click.FloatRange(min=0), default=0, show_default=True, metavar="SECONDS",
    help="Wait this long for another writer to finish.")


@click.command("index")
@click.argument("paths", nargs=-1, required=True, type=click.Path())
@index_option
@click.option("--source", help="Source name for text files (default: each file's folder name).")
@click.option("--rebuild", is_flag=True, help="Start the index over instead of updating it.")
@click.option("--strict", is_flag=True, help="Stop at the first bad record instead of skipping it.")
@wait_option
@click.option("--batch-size", type=click.IntRange(min=1), default=1000, show_default=True,
              help="Documents per commit (a crash loses at most the batches in progress).")
@click.option("--workers", type=click.IntRange(min=0), default=None,
              help="Processes writing batches in a large run [default: one per core; 0: none].")
@click.option("--prune", is_flag=True,
              help="Also remove the articles of PATHS whose file or record is gone "
                   "(a renamed .txt is then indexed once).")
def index_command(paths, index_dir, source, rebuild, strict, wait, batch_size, workers, prune):
    """Index articles from files and folders (.txt, .jsonl, .jsonl.gz, .csv).

    Runs are incremental: new articles are added, changed ones updated,
    unchanged ones skipped. Bad records are reported and skipped; the exit code
    is 1 if any failed. On a terminal a progress bar runs on stderr.

    \b
    Examples:
      poisk index data/
      poisk index news.jsonl.gz --index /srv/poisk --wait 60
      poisk index data/ --prune        (also drop articles whose file is gone)
    """
    with IndexProgress(paths, enabled=sys.stderr.isatty()) as progress:
        report = build_index(paths, index_dir, source=source, rebuild=rebuild, strict=strict,
                             batch_size=batch_size, wait=wait, workers=workers,
                             on_progress=progress.update, prune=prune)
    for problem in report.problems[:MAX_PROBLEMS_SHOWN]:
        click.echo(f"skipped {problem}", err=True)
    if len(report.problems) > MAX_PROBLEMS_SHOWN:
        click.echo(f"... and {len(report.problems) - MAX_PROBLEMS_SHOWN} more", err=True)
    removed = f", {report.removed} removed" if prune else ""
    click.echo(f"{report.added} added, {report.updated} updated, {report.skipped} skipped, "
               f"{report.failed} failed{removed} in {report.elapsed:.1f} s "
               f"({report.documents_per_second:g} documents/s)")
    if report.interrupted:
        kept = ("the unfinished rebuild was dropped and the index is as it was before"
                if report.rebuild_dropped else
                f"the index keeps the {report.written} documents committed before Ctrl-C")
        click.echo(f"Interrupted: {kept}; run the same command again to finish.", err=True)
        sys.exit(INTERRUPTED)
    if report.failed:
        sys.exit(1)


@click.command("delete")
@click.argument("ids", nargs=-1, required=True)
@index_option
@wait_option
def delete_command(ids, index_dir, wait):
    """Delete articles by id (an id given twice counts once)."""
    deleted = delete_documents(ids, index_dir, wait=wait)
    click.echo(f"{deleted} deleted, {len(set(ids)) - deleted} not found")


@click.command("optimize")
@index_option
@wait_option
def optimize_command(index_dir, wait):
    """Merge the index's segments into one (runs merge by a tiered policy on their own)."""
    before, after = optimize_index(index_dir, wait=wait)
    click.echo(f"{before} segments merged into {after}" if before != after else
               f"{after} segment, nothing to merge")
