"""Facet counts: how many of the articles matching a query carry each region, industry, source,
and fall in each month.

Every match counts, not one page: the matching documents are intersected with
the postings of each value of a facet field (a keyword field marked ``facet``
in ``indexer.fields.FIELDS``), and months are read from the date column, so
no stored document is loaded.

>>> facets = sample_index.facets("уголь")
>>> facets.total, dict(facets.counts["industries"])["уголь"], facets.counts["source"][0]
(5, 2, ('sibir-business', 3))
"""

from collections import Counter
from dataclasses import dataclass

from indexer.errors import PoiskError
from indexer.fields import FIELDS
from search.trend import column_dates

__all__ = ["Facets", "count_facets", "facet_fields"]


@dataclass(frozen=True)
class Facets:
    """Counts of the matching articles by facet field value (most first) and by month.

    ``counts`` maps a field name (``regions``, ``districts``, ``industries``,
    ``source``) to (value, articles) pairs, at most ``limit`` of them; ``months``
    holds ("YYYY-MM", articles) in time order, ``undated`` the matches without a date.
    """

    query: str
    total: int
    counts: dict
    months: tuple
    undated: int = 0
    partial: bool = False  # the query ran out of its time budget: the matches found until then

    def to_dict(self) -> dict:
        """The counts as JSON values (``poisk facets --json``).

        >>> sample_index.facets("уголь").to_dict()["months"]["2025-09"]
        1
        """
        return {"query": self.query, "total": self.total,
                **{name: dict(pairs) for name, pairs in self.counts.items()},
                "months": dict(self.months), "undated": self.undated, "partial": self.partial}


def facet_fields() -> tuple:
    """The fields facets count, in table order.

    >>> [spec.name for spec in facet_fields()]
    ['source', 'regions', 'districts', 'industries']
    """
    return tuple(spec for spec in FIELDS if spec.facet)


def count_facets(query: str, reader, docnums, limit: int = 10, partial: bool = False) -> Facets:
    """The facets of the documents ``docnums`` of ``reader`` (the matches of ``query``)."""
    matched = set(docnums)
    counts = {spec.name: _value_counts(reader, spec, matched)[:limit] for spec in facet_fields()}
    dates, undated = column_dates(reader, docnums)
    months = Counter(day.strftime("%Y-%m") for day in dates)
    return Facets(query=query, total=len(matched), counts=counts,
                  months=tuple(sorted(months.items())), undated=undated, partial=partial)


def _value_counts(reader, spec, matched):
    """(value, matching articles) of one keyword field, most first, then by value."""
    if not matched or spec.name not in reader.schema:  # an index made before the field
        return []
    counts = {}
    for term in reader.lexicon(spec.name):
        found = sum(1 for n in reader.postings(spec.name, term).all_ids() if n in matched)
        if found:
            value = _display(spec, term.decode("utf-8"))
            counts[value] = counts.get(value, 0) + found
    return sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))


def _display(spec, term):
    """The value as people write it: the index holds it lower-cased."""
    if spec.resolve is None:
        return term
    try:
        return spec.resolve(term)
    except PoiskError:  # a value of an older gazetteer: shown as indexed
        return term
