"""Synonyms and abbreviations: names an industry uses for the same thing, applied to lemmas.

A synonyms file has one group per line, its names separated by tabs; ``#``
starts a comment. Every name is read through the index's analyzer, so a
group matches any form of its words (``Норникеля``, ``Норильского никеля``).
Multi-word names are searched as phrases. poisk ships ``data/synonyms.tsv``;
users add their own files in the same format.

>>> from indexer.analysis import russian_analyzer
>>> table = Synonyms.parse(["Норникель\\tНорильский никель", "ЦБ\\tБанк России"], russian_analyzer())
>>> table.alternatives([{"норникель"}])
(('Норильский', 'никель'),)
>>> table.alternatives([{"банк"}, {"россия"}])
(('ЦБ',),)
"""

import itertools
import os
import pathlib
import sys

from indexer.errors import PoiskError

__all__ = ["DEFAULT_FILE", "Synonyms", "default_file"]

DEFAULT_FILE = "synonyms.tsv"
MAX_NAME_WORDS = 5


def default_file() -> str | None:
    """poisk's own synonyms file: data/ in a source tree, share/poisk in an installed one.

    >>> os.path.basename(default_file())
    'synonyms.tsv'
    """
    for folder in (pathlib.Path(__file__).resolve().parent.parent / "data",
                   pathlib.Path(sys.prefix) / "share" / "poisk"):
        if (folder / DEFAULT_FILE).is_file():
            return str(folder / DEFAULT_FILE)
    return None


class Synonyms:
    """Groups of equivalent names, looked up by their words' lemmas."""

    def __init__(self):
        self.groups = []   # [(name, lemma key)] per group
        self._by_key = {}  # lemma key (a tuple, one lemma per word) -> group numbers

    @classmethod
    def load(cls, paths, analyzer) -> "Synonyms":
        """The groups of every file in ``paths`` (a bad file is a ``PoiskError``)."""
        lines = []
        for path in paths:
            try:
                with open(path, encoding="utf-8-sig") as f:
                    lines.extend(f.read().splitlines())
            except (OSError, UnicodeDecodeError) as error:
                raise PoiskError(f"cannot read the synonyms file {path}: {error}; it must be "
                                 "UTF-8 text with one group of tab-separated names per line") \
                    from None
        return cls.parse(lines, analyzer)

    @classmethod
    def parse(cls, lines, analyzer) -> "Synonyms":
        """Groups from lines of tab-separated names (comments and blank lines skipped)."""
        table = cls()
        for line in lines:
            names = [n.strip() for n in line.split("#", 1)[0].split("\t") if n.strip()]
            keyed = [(name, key) for name in names if (key := _key(name, analyzer))]
            if len({key for _, key in keyed}) > 1:
                table._add(keyed)
        return table

    def _add(self, keyed):
        number = len(self.groups)
        self.groups.append(keyed)
        for _, key in keyed:
            self._by_key.setdefault(key, set()).add(number)

    def __len__(self):
        return len(self.groups)

    def alternatives(self, lemma_sets) -> tuple:
        """The other names of each group one of these words' readings names, word lists each.

        ``lemma_sets`` holds one set of lemmas per word, in order. An empty
        tuple when no group matches.
        """
        if len(lemma_sets) > MAX_NAME_WORDS or not all(lemma_sets):
            return ()
        found = []
        for key in itertools.islice(itertools.product(*map(sorted, lemma_sets)), 64):
            for number in sorted(self._by_key.get(key, ())):
                found.extend(tuple(name.split()) for name, other in self.groups[number]
                             if other != key)
        return tuple(dict.fromkeys(found))


def _key(name, analyzer):
    """One lemma per word (the likeliest), or None if a word has none (a stop word)."""
    by_position = {}
    for t in analyzer(name, positions=True, mode="query"):
        if t.kind == "lemma":
            by_position.setdefault(t.pos, t.text)
    if not by_position or len(by_position) > MAX_NAME_WORDS:
        return None
    return tuple(by_position[p] for p in sorted(by_position))

