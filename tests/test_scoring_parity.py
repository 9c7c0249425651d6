"""The term-at-a-time scorer (search/scoring.py) ranks as Whoosh's matchers rank.

For a table of queries covering every operator and ranking rule, on the
sample articles indexed as several segments with deletions, both paths must
give the same total, the same documents in the same order and the same
scores (to 1e-6). The mutation tests show the table notices a rule that one
path stops applying.
"""

import numpy as np
import pytest

from indexer import build_index
from indexer.build import delete_documents
from search import Ranking, open_index
from search.api import _collector
from search.compile import QueryCompiler, _ExactForms, _Rescored
from search.matchers import FixedMatchers
from search.query import parse_query
from search.scoring import TermScorer

DATA = __import__("pathlib").Path(__file__).resolve().parent.parent / "data"
DELETED = ["data/sibir-business/2025-10-15-novokuznetsk-vyplavka-stali",
           "data/dv-vedomosti/2025-09-18-magadan-zoloto"]

# One query per line: each operator and ranking rule of search/compile.py.
QUERIES = [
    "никель",                                   # one word in three fields (DisMax per lemma)
    "металлов",                                 # a lemma and its weak twin
    "стали",                                    # an ambiguous word: weighted lemmas
    "данный",                                   # found only through weak readings (~данный)
    "выплавка стали",                           # a verb-first word read as its noun; a match
    "стали металлурги",                         # through a weak reading alone out of the tier
    "редкоземельные металлы",                   # the all-words tier, proximity bonus
    "глубокая переработка руды",                # three words: tier and proximity
    "уголь Кузбасс шахта добыча",               # four words: the tier's last length
    "Горняки Кузбасса требуют индексации зарплат на шахтах",  # headline length: IDF bonus
    "рост добычи угля в регионе за год и планы компании",     # common words in a long query
    "никель флюгегехаймен",                     # a word in no article
    "флюгегехаймен",                            # nothing at all
    '"глубокая переработка"',                   # a phrase
    '"переработка сырья"~3',                    # a phrase with slop
    '"переработка глубокая"',                   # a phrase's words in the other order
    "=металлов",                                # an exact form
    "редкозем*",                                # a prefix
    "никель~",                                  # fuzzy
    "никель AND палладий",
    "никель OR кобальт",
    "никель NOT уголь",
    "никель -уголь",
    "никель -=года",                            # an exact form excluded
    "металл NOT =металлов",
    "(никель OR медь) AND Норильск",
    "title:никель",
    "body:\"медный завод\"",
    "source:dv-vedomosti",
    "уголь source:sibir-business",
    "металл industry:\"цветная металлургия\"",
    "уголь district:СФО tag:нет-такого",         # a tag no article has
    "металл date:2026-01-01..2026-12-31",
    "уголь region:Кузбасс",
    "*",
    "-уголь",
    "Ангаро-Енисейский",                        # a compound: whole or by its parts
    "РФ",                                       # synonyms (Alternatives)
    "Россия экспорт",
    "ГЭС Ангара",
]


@pytest.fixture(scope="module")
def index(tmp_path_factory):
    path = tmp_path_factory.mktemp("parity") / "ix"
    build_index([DATA], path, batch_size=7, workers=0)  # several segments
    assert delete_documents(DELETED, path) == len(DELETED)
    with open_index(path) as opened:
        assert len(opened._searcher().subsearchers) > 1
        yield opened


def _compiled(index, text):
    tree, _, _ = index._rewrite(parse_query(text), ())
    searcher = index._searcher()
    return QueryCompiler(index.analyzer, index.ranking, searcher.reader()).compile(tree).query


def _by_whoosh(searcher, query, n):
    collector = _collector(n, "relevance")
    searcher.search_with_collector(FixedMatchers(query), collector)
    results = collector.results()
    return len(results), [(results.docnum(k), results.score(k))
                          for k in range(results.scored_length())]


def _differences(index, n=20):
    searcher = index._searcher()
    found = []
    for text in QUERIES:
        query = _compiled(index, text)
        old = _by_whoosh(searcher, query, n)
        new = TermScorer(searcher).rank(query).top(n)
        if not _same(old, new):
            found.append((text, old, new))
    return found


def _same(old, new):
    (total_a, top_a), (total_b, top_b) = old, new
    return total_a == total_b and [d for d, _ in top_a] == [d for d, _ in top_b] and \
        all(abs(a - b) <= 1e-6 for (_, a), (_, b) in zip(top_a, top_b))


def test_the_table_finds_something(index):
    searcher = index._searcher()
    empty = [q for q in QUERIES if not TermScorer(searcher).rank(_compiled(index, q)).total]
    assert empty == ["флюгегехаймен", '"переработка глубокая"',
                     "уголь district:СФО tag:нет-такого"], empty


def test_same_ranking_as_whoosh(index):
    assert _differences(index) == []


@pytest.fixture(scope="module")
def both(index):
    with open_index(index.path, ranking=Ranking(term_at_a_time=False)) as old, \
            open_index(index.path, ranking=Ranking(term_at_a_time=True)) as new:
        yield old, new


@pytest.mark.parametrize("text", QUERIES)
def test_same_page_and_snippets_through_the_api(both, text):
    pages = [index.search(text, limit=5, offset=1) for index in both]
    assert [h.to_dict() for h in pages[0]] == [h.to_dict() for h in pages[1]]
    assert pages[0].total == pages[1].total


def _drop_plus(self, node, lazy=False, within=None):  # the tier and IDF bonus forgotten
    mask, scores = self.evaluate(node.child, lazy, within)
    return mask, np.where(mask, scores * node.scale, 0.0)


def _sum_not_max(self, node, lazy, within):  # DisjunctionMax read as an Or
    parts = [self.evaluate(q, lazy, within) for q in node.subqueries]
    return (np.logical_or.reduce([m for m, _ in parts]), sum(s for _, s in parts))


@pytest.mark.parametrize("mutation", ["plus", "dismax", "weak", "deleted"])
def test_a_rule_changed_in_one_path_only_is_caught(index, monkeypatch, mutation):
    if mutation == "plus":
        original = TermScorer.evaluate

        def evaluate(self, node, lazy=False, within=None):
            if isinstance(node, _Rescored) and node.plus:
                return _drop_plus(self, node, lazy, within)
            return original(self, node, lazy, within)
        monkeypatch.setattr(TermScorer, "evaluate", evaluate)
    elif mutation == "dismax":
        original_compound = TermScorer._compound

        def compound(self, node, lazy, within):
            if type(node).__name__ == "DisjunctionMax" and len(node.subqueries) > 1:
                return _sum_not_max(self, node, lazy, within)
            return original_compound(self, node, lazy, within)
        monkeypatch.setattr(TermScorer, "_compound", compound)
    elif mutation == "weak":  # the weak reading's share changed in the scorer only
        original_term = TermScorer._term

        def term(self, node):
            mask, scores = original_term(self, node)
            return mask, scores * (2.0 if node.text.startswith("~") else 1.0)
        monkeypatch.setattr(TermScorer, "_term", term)
    else:  # deleted documents no longer dropped
        monkeypatch.setattr(TermScorer, "live", property(
            lambda self: np.ones(self.size, dtype=bool)))
    assert _differences(index)


def _frequent_body_terms(searcher, n):
    reader = searcher.reader()
    counts = sorted(((reader.doc_frequency("body", t), t) for t in reader.lexicon("body")
                     if not t.startswith("~".encode())), reverse=True)
    return [t.decode("utf-8") for _, t in counts[:n]]


def test_spans_found_in_bulk_are_whooshs_spans(index):
    """Phrases and proximity over the body's commonest words, in order and not, several
    slops and lengths: the same documents and scores as Whoosh's span matcher."""
    from whoosh import query as wq
    from whoosh.query import spans
    searcher = index._searcher()
    words = _frequent_body_terms(searcher, 8)
    scorer = TermScorer(searcher)
    checked = matched = 0
    for first in words:
        for second in words:
            for third in (None, *words[:3]):
                places = [first, second] + ([third] if third else [])
                for ordered in (True, False):
                    for slop in (1, 2, 4):
                        node = spans.SpanNear2([wq.Term("body", w) for w in places],
                                               slop=slop, ordered=ordered)
                        if not ordered and third:
                            continue  # left to Whoosh's matcher
                        new, old = scorer._near(node, None), scorer._by_whoosh(node, None)
                        assert (new[0] == old[0]).all(), (places, ordered, slop)
                        assert np.allclose(new[1], old[1]), (places, ordered, slop)
                        checked += 1
                        matched += int(new[0].sum())
    assert checked > 500 and matched > 100


def test_a_posting_block_read_for_positions_is_decoded_once(index, monkeypatch):
    """The bonus's rounds and the page's snippets read the same blocks: the second read
    comes from the decoded blocks kept (search/postings.py), equal to the first."""
    from whoosh.codec.whoosh3 import W3LeafMatcher
    from search import postings
    leaf, _ = index._searcher().reader().leaf_readers()[0]
    term = max(leaf.lexicon("body"), key=lambda t: leaf.doc_frequency("body", t))
    docs = sorted(leaf.postings("body", term).all_ids())
    opened = [leaf.postings("body", term) for _ in range(2)]  # (a deletion filter reads ahead)
    reads = []
    original = W3LeafMatcher._read_data
    monkeypatch.setattr(W3LeafMatcher, "_read_data", lambda self: reads.append(1) or original(self))
    monkeypatch.setattr(postings, "_blocks", type(postings._blocks)())
    first = list(postings.doc_positions(opened[0], docs))
    read_once = len(reads)
    assert list(postings.doc_positions(opened[1], docs)) == first
    assert first and read_once and len(reads) == read_once


def test_an_excluded_form_is_checked_only_where_the_rest_matches(index, monkeypatch):
    """`никель -=года`: the stored text is read for articles with никель, not for every
    article with год in some form (1.5 s of CPU on the 8.9k news index)."""
    searcher = index._searcher()
    checked = []
    has_forms = _ExactForms.has_forms
    monkeypatch.setattr(_ExactForms, "has_forms",
                        lambda self, stored: checked.append(stored["id"]) or has_forms(self, stored))
    with_word = {searcher.stored_fields(n)["id"] for n, _ in
                 TermScorer(searcher).rank(_compiled(index, "никель")).top(100)[1]}
    TermScorer(searcher).rank(_compiled(index, "никель -=года"))
    year = TermScorer(searcher).rank(_compiled(index, "год")).total
    assert checked and set(checked) <= with_word and year > len(with_word)


def test_an_empty_index_answers_nothing(tmp_path):
    # The first commit of a run can be empty: no statistics to ask (log(0) once).
    from indexer.storage import create_index
    create_index(tmp_path / "ix")
    with open_index(tmp_path / "ix") as index:
        result = index.search("комбинат")
    assert (result.total, result.hits) == (0, ())
