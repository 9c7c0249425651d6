"""One story once: a page of results where the reposts of a story are folded into its best hit.

The matches are read in rank order; each one either starts a new story or,
when ``indexer.stories.same_story`` says it repeats a story already on the
list (its first, best-ranked article), joins it. The page is cut from the
list of stories, so ``offset`` and ``limit`` count stories. The stories are
sought among the first matches only (``WINDOW``, or more when the page
needs more), so "N more like it" counts the reposts found there.
"""

from dataclasses import dataclass, field

from indexer.stories import MAX_DAYS, same_story
from search.columns import column_values, day_of

__all__ = ["Story", "group_stories", "page_of_stories", "same_days", "story_columns"]

# Matches read to fill a page of stories: at least this many, or 3 per story
# wanted; four times as many again while stories are missing.
WINDOW = 50
PER_STORY = 3
GROWTH = 4


@dataclass
class Story:
    """A story on a result page: its best match and the matches that repeat it."""

    docnum: int
    score: float
    sketch: tuple = ()
    date: object = None
    similar: list = field(default_factory=list)  # docnums, in rank order


def story_columns(reader, docnums) -> dict:
    """docnum -> (sketch, date) from the index's story and date columns.

    An index without story sketches gives empty sketches: nothing is grouped.

    >>> reader = sample_index._searcher().reader()
    >>> sketch, date = story_columns(reader, [0])[0]
    >>> len(sketch) > 10, date.year > 2000
    (True, True)
    """
    fields = reader.schema.names()
    sketches = column_values(reader, "story", docnums, translate=True) \
        if "story" in fields else {}
    dates = column_values(reader, "date", docnums) if "date" in fields else {}
    return {n: (sketches.get(n) or (), day_of(dates.get(n))) for n in docnums}


def same_days(reader, date) -> list:
    """The live documents that may tell a story of ``date``: those at most ``MAX_DAYS`` from it
    and the undated ones (all of them, for an undated article).

    >>> import datetime
    >>> reader = sample_index._searcher().reader()
    >>> len(same_days(reader, None)), len(same_days(reader, datetime.date(2026, 3, 14)))
    (30, 4)
    """
    docnums = list(reader.all_doc_ids())
    if date is None:
        return docnums
    raw = column_values(reader, "date", docnums)
    days = {value: day_of(value) for value in set(raw.values())}
    return [n for n in docnums
            if days.get(raw.get(n)) is None or abs((days[raw[n]] - date).days) <= MAX_DAYS]


def group_stories(ranked, stories) -> list:
    """Fold ranked (docnum, score) matches into ``Story`` values, in rank order.

    >>> day = __import__("datetime").date(2024, 11, 18)
    >>> stories = {1: ((5, 6, 7), day), 2: ((8, 9), day), 3: ((5, 6, 7), day)}
    >>> [(s.docnum, s.similar) for s in group_stories([(1, 9.0), (2, 8.0), (3, 7.0)], stories)]
    [(1, [3]), (2, [])]
    """
    found = []
    for docnum, score in ranked:
        sketch, date = stories.get(docnum, ((), None))
        for story in found:
            if sketch and same_story(story.sketch, sketch, story.date, date):
                story.similar.append(docnum)
                break
        else:
            found.append(Story(docnum, score, sketch, date))
    return found


def page_of_stories(ranked, reader, offset: int, limit: int) -> tuple:
    """(total matches, the page's ``Story`` values) from ``ranked(n)``: (total, top n matches).

    >>> reader = sample_index._searcher().reader()
    >>> total, page = page_of_stories(lambda n: (3, [(0, 1.0), (1, 0.5), (2, 0.2)][:n]),
    ...                               reader, 1, 1)
    >>> total, [story.docnum for story in page]
    (3, [1])
    """
    window = max(WINDOW, PER_STORY * (offset + limit))
    while True:
        total, top = ranked(window)
        stories = group_stories(top, story_columns(reader, [docnum for docnum, _ in top]))
        if len(stories) >= offset + limit or len(top) >= total:
            return total, stories[offset:offset + limit]
        window *= GROWTH
