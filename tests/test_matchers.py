"""Whoosh's matcher mistakes and poisk's workarounds (search/matchers.py).

Each case runs twice: on the corrected classes, where it must pass, and on
Whoosh's own, where it is a strict xfail (it fails while Whoosh has the
mistake, and the table says so the day a Whoosh release fixes it).
"""

import pytest
from whoosh.matching import ListMatcher, binary, wrappers

from search.compile import _RescoredMatcher
from search.matchers import fix_matchers


def _dismax_other_document(fix):
    # Document 1 matches the first lemma only; the second lemma's next document is 2.
    m = fix(binary.DisjunctionMaxMatcher(ListMatcher([1], [1.0]), ListMatcher([2], [5.0])))
    return m, (1, 1.0)


def _andmaybe_skip(fix):
    # skip_to(3) lands the required child on 5, where the optional one also is.
    m = fix(binary.AndMaybeMatcher(ListMatcher([0, 5], [1.0, 1.0]),
                                   ListMatcher([2, 3, 5], [1.0, 1.0, 1.0])))
    m.skip_to(3)
    return m, (5, 2.0)


def _wrapping_replace(fix):
    # Boost 2: the child's 1.0 scores 2.0, above the threshold 1.5; it must stay.
    m = fix(wrappers.WrappingMatcher(ListMatcher([3], [1.0]), boost=2.0))
    return m, (3, 2.0)


CASES = [
    # name,                           make,                      threshold for replace()
    ("DisMax scores other documents", _dismax_other_document, None),
    ("AndMaybe skip_to loses bonus", _andmaybe_skip, None),
    ("Wrapping replace ignores boost", _wrapping_replace, 1.5),
]


def _answer(make, threshold, fixed):
    matcher, expected = make(fix_matchers if fixed else lambda m: m)
    if threshold is not None:
        matcher = matcher.replace(threshold)
    answer = (matcher.id(), matcher.score()) if matcher.is_active() else None
    return answer, expected


@pytest.mark.parametrize("name, make, threshold", CASES, ids=[c[0] for c in CASES])
def test_fixed_matchers(name, make, threshold):
    answer, expected = _answer(make, threshold, fixed=True)
    assert answer == expected


@pytest.mark.parametrize("name, make, threshold", [
    pytest.param(*case, marks=pytest.mark.xfail(strict=True, reason="Whoosh 2.7.5 mistake"))
    for case in CASES], ids=[c[0] for c in CASES])
def test_whoosh_matchers(name, make, threshold):
    answer, expected = _answer(make, threshold, fixed=False)
    assert answer == expected


@pytest.mark.parametrize("scale, plus, threshold, expected", [
    # child max 1.0 -> 1.0 * scale + plus
    (1.5, 0.3, 1.6, (4, 1.8)),   # reachable: the child must stay
    (1.5, 0.3, 1.9, None),       # 1.8 < 1.9: dropped
    (1.0, 0.3, 1.2, (4, 1.3)),
])
def test_rescored_replace(scale, plus, threshold, expected):
    m = _RescoredMatcher(ListMatcher([4], [1.0]), scale, plus).replace(threshold)
    assert ((m.id(), round(m.score(), 6)) if m.is_active() else None) == expected
