"""Reading per-document values from the index's columns, segment by segment.

Whoosh's multi-segment column reader skips segments that lack a column and
then misplaces the documents after them; reading each segment's own column
for its own documents avoids that, and loads no stored document.
"""

import bisect
import weakref

from whoosh.util.times import long_to_datetime

__all__ = ["column_values", "day_of"]


def column_values(reader, field: str, docnums, translate: bool = False) -> dict:
    """docnum -> the column value of ``field`` for these documents (absent: not in the dict).

    >>> reader = sample_index._searcher().reader()
    >>> sorted(column_values(reader, "id", [0, 1], translate=True).values())[0].startswith("data/")
    True
    """
    numbers = sorted(docnums)
    values = {}
    for leaf, base in reader.leaf_readers():
        low = bisect.bisect_left(numbers, base)
        high = bisect.bisect_left(numbers, base + leaf.doc_count_all())
        if low == high or not leaf.has_column(field):
            continue
        column = _column_reader(leaf, field, translate)
        for number in numbers[low:high]:
            values[number] = column[number - base]
    return values


# Column readers kept for as long as their segment reader lives (a searcher's, one
# thread's): opening the story and id columns again for every page (their offset
# tables read anew) took 15% of the CPU time of the slowest 5% of 1-3-word
# queries on the news index (cProfile).
_readers = weakref.WeakKeyDictionary()


def _column_reader(leaf, field, translate):
    columns = _readers.setdefault(leaf, {})
    key = (field, translate)
    if key not in columns:
        columns[key] = leaf.column_reader(field, translate=translate)
    return columns[key]


def day_of(raw):
    """The date in a raw date column value; None for an undated article (2**64 - 1).

    >>> day_of(2 ** 64 - 1) is None
    True
    """
    try:
        return long_to_datetime(raw).date()
    except (OverflowError, ValueError, TypeError):
        return None
