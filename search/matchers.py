"""Workarounds for three mistakes of Whoosh's matchers (whoosh-reloaded 2.7.5, ``whoosh/matching``).

- ``DisjunctionMaxMatcher.score`` takes the best score of both children even
  when one of them sits on another document, so an article matched through one
  lemma of a word got the score of another lemma's next article.
- ``AndMaybeMatcher.skip_to`` moves the optional child to the requested id
  rather than to where the required child landed: the bonus of that document
  is lost.
- ``WrappingMatcher.replace`` passes the threshold to its child unscaled by
  the boost, so a boosted child that can still reach it is dropped.

``FixedMatchers(query)`` builds the query's matchers as Whoosh does and swaps
those three classes for the corrected subclasses below (same state, so the
swap is a change of ``__class__``); every matcher they make by ``replace`` or
``copy`` is of the corrected class too.

>>> from whoosh.matching import ListMatcher
>>> first, other = ListMatcher([1], [1.0]), ListMatcher([2], [5.0])
>>> fix_matchers(binary.DisjunctionMaxMatcher(first, other)).score()
1.0
"""

from whoosh import query as wq
from whoosh.matching import binary, mcore, wrappers

__all__ = ["FixedMatchers", "fix_matchers"]


class DisjunctionMaxMatcher(binary.DisjunctionMaxMatcher):
    """The best score among the children on the current document only."""

    def score(self):
        a, b = self.a, self.b
        if not a.is_active():
            return b.score()
        if not b.is_active():
            return a.score()
        a_id, b_id = a.id(), b.id()
        if a_id != b_id:
            return a.score() if a_id < b_id else b.score()
        return max(a.score(), b.score())


class AndMaybeMatcher(binary.AndMaybeMatcher):
    """The optional child follows the required one to the document it lands on."""

    def skip_to(self, id):
        if not self.a.is_active():
            raise mcore.ReadTooFar
        moved = self.a.skip_to(id)
        if self.a.is_active() and self.b.is_active() and self.b.id() < self.a.id():
            moved = self.b.skip_to(self.a.id()) or moved
        return moved


class WrappingMatcher(wrappers.WrappingMatcher):
    """A boosted child is asked for the threshold divided by the boost."""

    def replace(self, minquality=0):
        r = self.child.replace(minquality / self.boost if self.boost else 0)
        return self if r is self.child else self._replacement(r)


FIXED = {cls.__bases__[0]: cls for cls in (DisjunctionMaxMatcher, AndMaybeMatcher,
                                            WrappingMatcher)}


def fix_matchers(matcher):
    """Swap every faulty Whoosh matcher in the tree under ``matcher`` for its fixed class."""
    stack = [matcher]
    while stack:
        m = stack.pop()
        fixed = FIXED.get(type(m))
        if fixed is not None:
            m.__class__ = fixed
        stack.extend(m.children())
    return matcher


class FixedMatchers(wq.WrappingQuery):
    """``child``, matched with the corrected matcher classes.

    >>> from whoosh.query import Term
    >>> FixedMatchers(Term("body", "никель"))
    FixedMatchers(Term('body', 'никель'))
    """

    def _rewrap(self, child):
        return type(self)(child)

    def matcher(self, searcher, context=None):
        return fix_matchers(self.child.matcher(searcher, context))
