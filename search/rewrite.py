"""What is searched: the parsed query with wrong-layout words, typos and synonyms rewritten.

Applied to the query tree before it is compiled, word by word:

1. *layout*: a word typed on the Latin keys (``ybrtkm``) that the index does not
   know, whose Cyrillic twin it knows, becomes the twin (``никель``); when most
   of a query's Latin words are such, the whole query is taken as typed in the
   wrong layout. The reverse for Latin brands typed on Russian keys
   (``пщщпду`` -> ``google``). Latin words the index knows (``LME``, ``Rusal``) stay.
2. *typo*: a word with no postings becomes its best correction (``search.spelling``);
3. *fuzzy*: ``word~`` / ``word~2`` also searches the index's words 1 / 2 edits away;
4. *synonym*: a word or a run of words naming a group of ``search.synonyms``
   also searches the group's other names (multi-word names as phrases).

Exact (``=word``) and prefix (``word*``) words are left as typed.
"""

import re
from dataclasses import dataclass, replace

from indexer.analysis import WORD_RE
from search.layout import looks_cyrillic_typed, looks_latin_typed, to_cyrillic, to_latin
from search.query import AllOf, Alternatives, AnyOf, Loose, Not, Phrase, Word
from search.spelling import is_clear

__all__ = ["Rewrite", "Rewriter"]

MAX_FUZZY_TERMS = 20
# A match of a synonym or a fuzzy spelling counts this much of a match of the word typed
# (the best one counts, not their sum): a rarer synonym ("Государственная дума") would
# otherwise outrank the articles that use the word itself ("Госдума"). Measured (bench/typos.py,
# 200 tag queries, nDCG@10): 0.5 gives clean tags 0.539 (0.540 without synonyms) and tags asked
# by another name 0.467 (0.369 without); 1.0 gives 0.534 and 0.507.
OTHER_NAME_WEIGHT = 0.5
MAX_OFFERED = 3
MIN_LATIN_TWIN = 4
RARE_DF = 3  # "did you mean" looks at words found in fewer articles than this


@dataclass(frozen=True)
class Rewrite:
    """One change to the query: its kind, the word as typed, what was searched, other offers.

    ``kind`` is "layout", "typo", "fuzzy" or "synonym"; for a synonym (and a fuzzy
    word) ``searched`` lists what was searched besides the word itself.
    """

    kind: str
    original: str
    searched: str
    others: tuple = ()


class Rewriter:
    """Rewrites query trees against one index (a ``Speller``) and a synonyms table (or None).

    >>> from search.query import parse_query
    >>> tree, notes = sample_index.rewriter().rewrite(parse_query("ybrtkm"))
    >>> tree, notes  # doctest: +NORMALIZE_WHITESPACE
    (Word(text='никель', field=None, exact=False, prefix=False),
     (Rewrite(kind='layout', original='ybrtkm', searched='никель', others=()),))
    """

    def __init__(self, speller, synonyms=None, correct=True, max_df=None):
        self.speller = speller
        self.synonyms = synonyms if synonyms else None
        self.correct = correct
        self.max_df = max_df  # words in more articles than this get no synonyms

    def rewrite(self, tree):
        """(new tree, tuple of ``Rewrite``) for a tree made by ``search.query.parse_query``."""
        self._notes, self._spelt, self._unquoted = [], {}, []
        if self.correct:
            self._layout = self._wrong_layout(list(_texts(tree)))
        else:
            self._layout = {}
        return self._node(tree), tuple(self._notes)

    def respellings(self, tree):
        """(word, respelling) for words in very few articles that have a far commoner twin."""
        for text in dict.fromkeys(_texts(tree)):
            words = WORD_RE.findall(text)
            if len(words) == 1:
                candidates = self.speller.corrections(words[0], known_below=RARE_DF)
                if candidates:
                    yield words[0], candidates[0].text

    # -- the tree ------------------------------------------------------------

    def _node(self, node):
        if isinstance(node, Word):
            return self._word(node)
        if isinstance(node, Phrase):
            return self._phrase(node)
        if isinstance(node, Not):
            return replace(node, item=self._node(node.item))
        if isinstance(node, (AllOf, AnyOf)):
            return replace(node, items=tuple(self._node(i) for i in node.items))
        if isinstance(node, Loose):
            whole = self._whole_name(node)
            if whole is not node:
                return whole
            items = []
            for item in map(self._node, node.items):
                unquoted = any(item is u for u in self._unquoted)
                items.extend(item.items if unquoted else [item])
            return replace(node, items=tuple(items),
                           required=tuple(self._node(i) for i in node.required))
        return node

    def _word(self, word):
        if word.exact or word.prefix:
            return word
        text = self._spelling(word.text)
        new = replace(word, text=text) if text != word.text else word
        if getattr(word, "fuzzy", 0):
            return self._fuzzy(new)
        common = self.max_df is not None and (self.speller.word_df(text) or 0) > self.max_df
        alternatives = () if common else self._synonyms([text])
        if not alternatives:
            return new
        return Alternatives(new, tuple(_name_node(a, word.field) for a in alternatives),
                            OTHER_NAME_WEIGHT)

    def _phrase(self, phrase):
        retyped = self._quote_typed_for_e(phrase)
        if retyped is not None:
            return retyped
        words = tuple(w if w.startswith("=") else self._spelling(w) for w in phrase.words)
        new = replace(phrase, words=words)
        exact = any(w.startswith("=") for w in words)
        alternatives = self._synonyms(words) if phrase.slop == 0 and not exact else ()
        if not alternatives:
            return new
        return Alternatives(new, tuple(_name_node(a, phrase.field) for a in alternatives),
                            OTHER_NAME_WEIGHT)

    def _quote_typed_for_e(self, phrase):
        """Words typed on the Latin keys after a ``"``: the quote was Shift+' for ``Э``.

        On the Russian layout a quote is Shift+2, ``@`` on the Latin keys, so a ``"``
        before wrong-layout words is a word's ``Э`` (``"rcgjhn ytanb`` is ``Экспорт
        нефти``): when the index knows that word, or when the other words of the
        phrase is typed in the wrong layout, they are searched as loose words.
        """
        if not self.correct or phrase.slop or phrase.field or not self._layout:
            return None
        first, *rest = phrase.words
        with_e = to_cyrillic('"' + first)
        known = self.speller.word_df(with_e) != 0  # None: a stop word ("Это")
        if not looks_latin_typed(first) or not (known or any(w in self._layout for w in rest)):
            return None
        self._notes.append(Rewrite("layout", '"' + first, with_e))
        self._spelt[first] = with_e if known else self._typo(with_e)
        loose = Loose(tuple(self._word(Word(w)) for w in phrase.words))
        self._unquoted.append(loose)  # spliced into the words around it, if any
        return loose

    def _whole_name(self, loose):
        """A query that is only a multi-word name (``норильский никель``) also searches its group.

        Only a whole query: inside a longer one the extra item would change how
        the other words rank (more words, and common words scored alone).
        """
        words = [i for i in loose.items if isinstance(i, Word)]
        if self.synonyms is None or loose.required or len(words) != len(loose.items) or any(
                w.exact or w.prefix or w.field or w.fuzzy for w in words):
            return loose
        spelt = [replace(w, text=self._spelling(w.text)) for w in words]
        alternatives = self._synonyms([w.text for w in spelt])
        if not alternatives:
            return loose
        return Alternatives(replace(loose, items=tuple(spelt)),
                            tuple(_name_node(a, None) for a in alternatives), OTHER_NAME_WEIGHT)

    # -- one word --------------------------------------------------------------

    def _spelling(self, text):
        """The word as it will be searched: layout fixed, typo corrected (noted once)."""
        if not self.correct:
            return text
        if text not in self._spelt:
            self._spelt[text] = self._spell(text)
        return self._spelt[text]

    def _spell(self, text):
        if text in self._layout:
            mapped = self._layout[text]
            self._notes.append(Rewrite("layout", text, mapped))
            return self._typo(mapped) if self.speller.word_df(mapped) == 0 else mapped
        return self._typo(text)

    def _typo(self, text):
        words = WORD_RE.findall(text)
        if len(words) != 1:
            return text
        candidates = self.speller.corrections(words[0])
        if not candidates:
            return text
        others = () if is_clear(candidates) else tuple(
            c.text for c in candidates[1:1 + MAX_OFFERED])
        self._notes.append(Rewrite("typo", words[0], candidates[0].text, others))
        return text.replace(words[0], candidates[0].text, 1)

    def _fuzzy(self, word):
        similar = [c.text for c in self.speller.similar(word.text, word.fuzzy)]
        similar = [t for t in similar if t != word.text.lower()][:MAX_FUZZY_TERMS]
        if not similar:
            return word
        self._notes.append(Rewrite("fuzzy", f"{word.text}~{word.fuzzy}", ", ".join(similar)))
        return Alternatives(replace(word, fuzzy=0), tuple(Word(t, word.field) for t in similar),
                            OTHER_NAME_WEIGHT)

    def _synonyms(self, texts):
        if self.synonyms is None:
            return ()
        analyzer = self.speller.analyzer
        lemma_sets = [{t.text for t in analyzer(text, mode="query") if t.kind == "lemma"}
                      for text in texts]
        lemma_sets = [s for s in lemma_sets if s] if len(texts) > 1 else lemma_sets
        alternatives = self.synonyms.alternatives(lemma_sets) if lemma_sets else ()
        if alternatives:
            self._notes.append(Rewrite("synonym", " ".join(texts),
                                       ", ".join(" ".join(a) for a in alternatives)))
        return alternatives

    def _wrong_layout(self, texts):
        """{word as typed: its twin in the other layout} for the words typed in the wrong one."""
        df, typed = self.speller.word_df, self.speller.typed_df
        latin = [t for t in dict.fromkeys(texts) if looks_latin_typed(t)]
        layout = {t: to_cyrillic(t) for t in latin if typed(t) == 0 and df(to_cyrillic(t))}
        if layout and 2 * len(layout) >= len(latin):
            # Most Latin words are Russian typed on Latin keys: so are the rest,
            # unless the index knows them better as they are.
            for t in latin:
                mapped = to_cyrillic(t)
                if t not in layout and (df(mapped) is None or typed(mapped) > typed(t)
                                        or (typed(t) == 0 and self.speller.corrections(mapped))):
                    layout[t] = mapped
        for t in dict.fromkeys(texts):
            # Latin names typed on Russian keys, of 4+ letters: a slip in a short
            # word ("виы" for "виды") would become "dbs".
            if looks_cyrillic_typed(t) and len(t) >= MIN_LATIN_TWIN and df(t) == 0 \
                    and df(to_latin(t)):
                layout[t] = to_latin(t)
        return layout


def _texts(node):
    """Every word of the tree that may be rewritten (not exact, not a prefix)."""
    if isinstance(node, Word):
        if not (node.exact or node.prefix):
            yield node.text
    elif isinstance(node, Phrase):
        yield from (w for w in node.words if not w.startswith("="))
    elif isinstance(node, Not):
        yield from _texts(node.item)
    elif isinstance(node, Alternatives):
        yield from _texts(node.item)
    elif isinstance(node, (AllOf, AnyOf, Loose)):
        for item in (*node.items, *getattr(node, "required", ())):
            yield from _texts(item)


def _name_node(words, field):
    return Word(words[0], field) if len(words) == 1 else Phrase(tuple(words), 0, field)


def searched_text(query: str, notes) -> str:
    """The query as searched: each corrected word replaced where it was typed.

    >>> searched_text("сакнции ЕС", [Rewrite("typo", "сакнции", "санкции")])
    'санкции ЕС'
    """
    for note in notes:
        if note.kind in ("layout", "typo"):
            query = re.sub(r"(?<![\w\[\];',.`])" + re.escape(note.original) + r"(?![\w\[\];',.`])",
                           lambda _m, s=note.searched: s, query, count=1)
    return query


def note_lines(result) -> list:
    """What a ``SearchResult`` changed or offers, as lines for a person (the CLI's stderr).

    >>> from search.api import SearchResult
    >>> note_lines(SearchResult("ybrtkm", 4, 0, (), searched="никель",
    ...            rewrites=(Rewrite("layout", "ybrtkm", "никель"),)))
    ['searched for: никель']
    """
    lines = []
    if result.searched and result.searched != result.query:
        lines.append(f"searched for: {result.searched}")
    for note in result.rewrites:
        if note.kind in ("synonym", "fuzzy"):
            lines.append(f"also searched for {note.original}: {note.searched}")
    if result.did_you_mean:
        lines.append("did you mean: " + " | ".join(result.did_you_mean) + "?")
    return lines


def notes_json(result) -> dict:
    """The same for ``--json`` (merged into its summary line).

    >>> from search.api import SearchResult
    >>> notes_json(SearchResult("ybrtkm", 4, 0, (), searched="никель",
    ...            rewrites=(Rewrite("layout", "ybrtkm", "никель"),)))["searched_for"]
    'никель'
    """
    return {"searched_for": result.searched or result.query,
            "rewrites": [{"kind": n.kind, "original": n.original, "searched": n.searched,
                          "others": list(n.others)} for n in result.rewrites],
            "did_you_mean": list(result.did_you_mean)}
