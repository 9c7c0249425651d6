"""The progress bar of ``poisk index``: on stderr, only on a terminal, gone when the run ends.

The total is the number of records the input holds, counted in a background
thread while indexing starts (lines of JSON Lines and CSV files, one per text
file). The bar moves with ``IndexReport.processed``: records skipped or failed
and documents written, by this process or its workers, which the run reports
after each document and every 0.1 s while it waits for a worker. ``rich``
redraws it four times a second from its own thread, so rate and ETA stay
current while one long article is being analysed.
"""

import gzip
import threading

from rich.console import Console
from rich.progress import (
    BarColumn, MofNCompleteColumn, Progress, ProgressColumn, TaskProgressColumn, TextColumn,
    TimeRemainingColumn)
from rich.text import Text

from indexer.sources import source_files

__all__ = ["IndexProgress", "count_records"]

CHUNK = 1 << 20


class _Rate(ProgressColumn):
    """Records per second, over rich's speed window."""

    def render(self, task):
        return Text(f"{task.speed:,.0f}/s" if task.speed else "", style="progress.data.speed")


class IndexProgress:
    """A context manager drawing the bar; pass ``progress.update`` as ``on_progress``.

    Disabled (``enabled=False``, e.g. stderr is not a terminal) it draws nothing.
    """

    def __init__(self, paths, enabled: bool):
        self.paths = list(paths)
        self.enabled = enabled
        self._bar = None
        self._task = None

    def __enter__(self):
        if self.enabled:
            self._bar = Progress(
                TextColumn("{task.description}"), BarColumn(), TaskProgressColumn(),
                MofNCompleteColumn(), _Rate(), TextColumn("ETA"), TimeRemainingColumn(),
                console=Console(stderr=True), transient=True, refresh_per_second=4)
            self._bar.start()
            self._task = self._bar.add_task("indexing", total=None)
            threading.Thread(target=self._count_total, daemon=True).start()
        return self

    def __exit__(self, *exc):
        if self._bar is not None:
            self._bar.stop()  # transient: the bar is erased, nothing is left after it
            self._bar = None

    def update(self, report) -> None:
        """Move the bar to ``report.processed`` (an ``IndexReport``)."""
        if self._bar is not None:
            self._bar.update(self._task, completed=report.processed)

    def _count_total(self):
        total = sum(count_records(path) for path in source_files(self.paths))
        if self._bar is not None:
            self._bar.update(self._task, total=max(total, 1))


def count_records(path: str) -> int:
    """How many records a file holds, as fast as it can be told (lines; 1 for a text file).

    >>> import tempfile, os
    >>> path = os.path.join(tempfile.mkdtemp(), "a.jsonl")
    >>> _ = open(path, "w").write('{"text": "a"}\\n{"text": "b"}')
    >>> count_records(path)
    2
    """
    name = path.lower()
    if name.endswith(".txt"):
        return 1
    try:
        with (gzip.open if name.endswith(".gz") else open)(path, "rb") as stream:
            lines, last = 0, b"\n"
            while chunk := stream.read(CHUNK):
                lines += chunk.count(b"\n")
                last = chunk[-1:]
    except (OSError, EOFError):
        return 1
    lines += last != b"\n"
    return max(1, lines - 1) if name.endswith(".csv") else max(1, lines)
