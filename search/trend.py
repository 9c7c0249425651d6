"""How many articles match a query, period by period: the series, a terminal chart, a PNG.

``Index.trend`` counts every matching article (not a page of them) by reading
the dates from the index's date column, segment by segment; no stored
document is loaded. This module turns those dates into a ``Trend`` (every
period from the first to the last, empty ones included) and draws it.

>>> import datetime
>>> days = [datetime.date(2026, 1, 5), datetime.date(2026, 1, 30), datetime.date(2026, 3, 2)]
>>> trend = make_trend("никель", days, by="month")
>>> [(p.label, p.count) for p in trend.points]
[('2026-01', 2), ('2026-02', 0), ('2026-03', 1)]
>>> print(bar_chart(trend, width=30))
2026-01  ███████████████████ 2
2026-02   0
2026-03  █████████▌ 1

A long stretch of empty periods is one line in the terminal chart (``--json``,
``--csv`` and the PNG keep every period):

>>> print(bar_chart(make_trend("никель", days[:1] + days[2:], by="week"), width=30))
2026-W02  ██████████████████ 1
…         7 weeks with none (2026-W03 to 2026-W09)
2026-W10  ██████████████████ 1
"""

import datetime
from dataclasses import dataclass

from indexer.errors import PoiskError
from search.columns import column_values, day_of

__all__ = ["EMPTY_RUN", "PERIODS", "Point", "Trend", "bar_chart", "column_dates", "make_trend",
           "period_start", "write_png"]

PERIODS = ("month", "week", "day")

# Eighths of a block, so a bar grows in steps of 1/8 of a character.
BLOCKS = " ▏▎▍▌▋▊▉█"

# A chart of more periods than this would be unreadable as one bar per line
# (about five years by day): the caller is told to use a coarser period.
MAX_POINTS = 2000

# This many empty periods in a row, or more, are one "…" line of the terminal
# chart: санкции by month over the shared corpora (2004-10 to 2024-12) is 243
# periods, 210 of them empty, in 15 stretches: 50 lines instead of 243. One or
# two empty periods between others still show as zeros.
EMPTY_RUN = 3


@dataclass(frozen=True)
class Point:
    """One period of a trend: its first day, its label and the number of matching articles.

    >>> Point(datetime.date(2024, 10, 21), "2024-W43", 5).count
    5
    """

    start: datetime.date
    label: str
    count: int


@dataclass(frozen=True)
class Trend:
    """Matching articles per period; ``undated`` matched but have no date to count by.

    >>> make_trend("уголь", [], by="week").total
    0
    """

    query: str
    by: str
    points: tuple
    undated: int = 0
    partial: bool = False  # the query ran out of its time budget: the matches found until then

    @property
    def total(self) -> int:
        """The matching articles in the series (the undated ones are not in it)."""
        return sum(point.count for point in self.points)

    def to_rows(self) -> list:
        """The series as dicts, for ``--json`` and ``--csv``.

        >>> make_trend("x", [datetime.date(2024, 5, 20)], by="day").to_rows()
        [{'period': '2024-05-20', 'start': '2024-05-20', 'count': 1}]
        """
        return [{"period": p.label, "start": p.start.isoformat(), "count": p.count}
                for p in self.points]


def period_start(day: datetime.date, by: str) -> datetime.date:
    """The first day of the period that holds ``day`` (weeks start on Monday, as in ISO 8601).

    >>> period_start(datetime.date(2024, 10, 25), "week"), period_start(datetime.date(2024, 10, 25), "month")
    (datetime.date(2024, 10, 21), datetime.date(2024, 10, 1))
    """
    if by == "month":
        return day.replace(day=1)
    if by == "week":
        return day - datetime.timedelta(days=day.weekday())
    if by == "day":
        return day
    raise PoiskError(f"unknown period {by!r}: use one of {', '.join(PERIODS)}")


def make_trend(query: str, dates, by: str = "month", since: datetime.date | None = None,
               until: datetime.date | None = None, undated: int = 0,
               partial: bool = False) -> Trend:
    """A ``Trend`` from the dates of the matching articles.

    The series runs from ``since`` (or the first date) to ``until`` (or the
    last), every period included, so a gap shows as a zero.

    >>> trend = make_trend("x", [datetime.date(2024, 6, 3)], by="week",
    ...                    since=datetime.date(2024, 5, 30))
    >>> [(p.label, p.count) for p in trend.points]
    [('2024-W22', 0), ('2024-W23', 1)]
    """
    counts = {}
    for day in dates:
        start = period_start(day, by)
        counts[start] = counts.get(start, 0) + 1
    first = period_start(since, by) if since else min(counts, default=None)
    last = period_start(until, by) if until else max(counts, default=None)
    points = []
    start = first
    while start is not None and last is not None and start <= last:
        points.append(Point(start, _label(start, by), counts.get(start, 0)))
        if len(points) > MAX_POINTS:
            raise PoiskError(f"more than {MAX_POINTS} {by}s in the series: narrow it with "
                             "--since/--until or count by a longer period (--by month)")
        start = _next(start, by)
    return Trend(query=query, by=by, points=tuple(points), undated=undated, partial=partial)


def column_dates(reader, docnums) -> tuple:
    """(dates, undated): the dates of these documents read from the index's date column.

    >>> reader = sample_index._searcher().reader()
    >>> dates, undated = column_dates(reader, [0, 1])
    >>> len(dates), undated
    (2, 0)
    """
    raw = column_values(reader, "date", docnums)
    known = {value: day_of(value) for value in set(raw.values())}
    dates = [known[value] for value in raw.values() if known[value] is not None]
    return dates, len(docnums) - len(dates)


def _label(start, by):
    if by == "month":
        return start.strftime("%Y-%m")
    if by == "week":
        year, week, _ = start.isocalendar()
        return f"{year}-W{week:02d}"
    return start.isoformat()


def _next(start, by):
    if by == "month":
        return (start + datetime.timedelta(days=32)).replace(day=1)
    return start + datetime.timedelta(days=7 if by == "week" else 1)


def bar_chart(trend: Trend, width: int = 80, empty_run: int = EMPTY_RUN) -> str:
    """One line per period: its label, a bar scaled to the largest count, the count; each
    stretch of ``empty_run`` or more empty periods is one line that says how long it is.

    >>> print(bar_chart(make_trend("x", [datetime.date(2024, 5, 20)] * 3, by="day"), width=20))
    2024-05-20  ██████ 3
    """
    if not trend.points:
        return ""
    label_width = max(len(p.label) for p in trend.points)
    count_width = len(str(max(p.count for p in trend.points)))
    room = max(width - label_width - count_width - 3, 1)
    peak = max(p.count for p in trend.points) or 1
    lines, at = [], 0
    while at < len(trend.points):
        point = trend.points[at]
        end = at
        while end < len(trend.points) and not trend.points[end].count:
            end += 1
        if end - at >= empty_run:
            lines.append(f"{'…':<{label_width}}  {end - at} {trend.by}s with none "
                         f"({point.label} to {trend.points[end - 1].label})")
            at = end
            continue
        eighths = round(point.count / peak * room * 8)
        if point.count and not eighths:
            eighths = 1  # a period with any article shows at least a sliver
        bar = BLOCKS[-1] * (eighths // 8) + (BLOCKS[eighths % 8] if eighths % 8 else "")
        lines.append(f"{point.label:<{label_width}}  {bar} {point.count}")
        at += 1
    return "\n".join(lines)


def write_png(trend: Trend, path) -> None:
    """Draw the trend as a bar chart into a PNG file (needs matplotlib: ``poisk[chart]``).

    >>> import tempfile, os
    >>> path = os.path.join(tempfile.mkdtemp(), "trend.png")
    >>> write_png(make_trend("никель", [datetime.date(2026, 1, 5)], by="month"), path)
    >>> open(path, "rb").read(4)
    b'\\x89PNG'
    """
    try:
        from matplotlib.figure import Figure
    except ImportError:
        raise PoiskError("a PNG chart needs matplotlib: pip install 'poisk[chart]'") from None
    # Figure without pyplot: no global state, no display needed, safe in threads.
    figure = Figure(figsize=(max(6.0, min(0.25 * len(trend.points), 16.0)), 4.0), dpi=100)
    axes = figure.add_subplot()
    positions = range(len(trend.points))
    axes.bar(positions, [p.count for p in trend.points], color="#3b6ea8")
    step = max(1, len(trend.points) // 24)  # at most ~24 labels under the axis
    axes.set_xticks(list(positions)[::step], [p.label for p in trend.points][::step],
                    rotation=60, ha="right", fontsize=8)
    axes.set_ylabel("articles")
    axes.set_title(f"«{trend.query}»: {trend.total} articles by {trend.by}")
    axes.yaxis.get_major_locator().set_params(integer=True)
    figure.tight_layout()
    try:
        figure.savefig(path, format="png")
    except OSError as error:
        raise PoiskError(f"cannot write the chart to {path} ({error.strerror or error})") from None
