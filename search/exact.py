"""Checking ``=form`` queries against the stored text, fast.

The index holds no exact forms (see ``indexer.analysis``): a ``=санкций``
query finds the articles with ``санкция`` in any form and keeps those whose
stored headline or body has the word ``санкций``. Running the analyzer over
every such article cost about 5 s on a common word (each unseen spelling goes
through pymorphy3). Here one regular expression finds the wanted spellings,
case- and ``ё``-blind, between non-letters, in C; each place it finds is then
confirmed by the analyzer on the few words around it (a whitespace-bounded
chunk tokenizes as it does inside the whole text), which rules out what the
expression alone would take, such as the ``5`` of ``1,5``.
"""

import re

from indexer.analysis import EXACT_MARK, find_words

__all__ = ["FormCheck"]

# Letters and digits: a wanted form must not touch one on either side
# (a hyphen may, since the parts of a compound have exact forms of their own).
_BEFORE, _AFTER = r"(?<![^\W_])", r"(?![^\W_])"


class FormCheck:
    """Does a text hold, for each set of ``required`` exact terms (``=санкций``), one of them?

    >>> from indexer.analysis import russian_analyzer
    >>> check = FormCheck([{"=санкций"}], russian_analyzer())
    >>> check("Новых САНКЦИЙ не будет"), check("санкции введены"), check("анти-санкций")
    (True, False, True)
    >>> FormCheck([{"=5"}], russian_analyzer())("рост на 1,5 процента")
    False
    """

    def __init__(self, required, analyzer):
        self.required = [frozenset(forms) for forms in required]
        self.analyzer = analyzer
        self._any_form = frozenset().union(*self.required)
        wanted = sorted({f[len(EXACT_MARK):] for forms in self.required for f in forms},
                        key=len, reverse=True)
        self._bare = tuple(wanted)
        alternatives = "|".join(re.escape(w).replace("е", "[её]") for w in wanted)
        self.pattern = re.compile(f"{_BEFORE}(?:{alternatives}){_AFTER}", re.IGNORECASE)

    def __call__(self, *texts):
        missing = set(self.required)
        for text in texts:
            text = text or ""
            # A plain substring search first (C, no regular expression): most
            # candidates have the lemma in other forms only and stop here.
            folded = text.lower().replace("ё", "е")
            if not any(form in folded for form in self._bare):
                continue
            for match in self.pattern.finditer(text):
                found = self._confirm(text, match)
                missing = {forms for forms in missing if not forms & found}
                if not missing:
                    return True
        return not missing

    def _confirm(self, text, match):
        """The wanted exact terms the analyzer finds in the words around ``match``."""
        start, end = match.start(), match.end()
        while start and not text[start - 1].isspace():
            start -= 1
        while end < len(text) and not text[end].isspace():
            end += 1
        chunk = text[start:end]
        found = set()

        def wanted(terms):
            hits = {t for t, kind, _, _ in terms if kind == "exact"} & self._any_form
            found.update(hits)
            return bool(hits)

        find_words(self.analyzer, chunk, wanted)
        return found
