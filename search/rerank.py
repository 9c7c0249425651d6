"""Re-ranking a ``manticore://`` index's best matches on the client with poisk's BM25F.

Sphinx 2.2's ranker expressions have no per-word, per-field term frequency with
length normalisation (``bm25a``/``bm25f`` need ``index_field_lengths``), so a
headline-length query's best ``RERANK_DEPTH`` matches, chosen by the engine, are
ordered again here as a folder index orders them (``search.compile``): per word,
the best of its lemma alternatives (pymorphy3's weight, floored at
``Ranking.min_alternative``) scored with Whoosh's BM25F formula in the headline
(``headline_boost``), the lead and the body, plus ``Ranking.word_bonus`` times the
word's IDF when it matched. The term frequencies come from the rows' stored offset
tables (``indexer.manticore.term_offsets``), the document frequencies from the
engine (the query's ``SHOW META``: over all fields, where a folder index counts each
field apart), the average field lengths from a sample of the index. Not carried
over: weak readings (``~сталь``) and a question's body ``b`` (``Ranking.question_b``).

>>> rows = [("Сталь дешевеет", "", "|сталь 0|дешеветь 6"),
...         ("Сталь и никель дешевеют с медью", "", "|сталь 0|никель 8|дешеветь 15|медь 27")]
>>> stats = FieldStats(documents=2, average={"headline": 1.0, "lead": 1.0, "body": 3.0})
>>> short, long = bm25f_scores([[("сталь", 1.0)]], rows, {"сталь": 2}, stats, Ranking(),
...                            body_at=0, headline_table_at=1, body_table_at=2)
>>> short > long > 0  # the shorter body first
True
"""

import math
from dataclasses import dataclass

from whoosh.scoring import bm25

from indexer.analysis import WORD_RE
from indexer.manticore import sql_token, table_offsets
from indexer.sources import Article
from search.compile import Ranking

__all__ = ["FieldStats", "RERANK_DEPTH", "bm25f_scores", "field_lengths", "lead_of", "query_words"]

# The engine's best matches ordered again on the client (or the first offset + limit,
# when more); 0: none. Dev headlines on 2,000 news (MRR@10, top 10 asked, load 14-15):
# 0.8625 without, 0.8843 at 20, 50 and 100 alike (folder index 0.8735); the client's CPU
# a query with snippets 4.8 ms without, 7.0 at 20, 9.8 at 50 (load 10-11).
RERANK_DEPTH = 20


@dataclass(frozen=True)
class FieldStats:
    """The document count and each text field's average length (``field_lengths``)."""

    documents: int
    average: dict


def field_lengths(headline_table: str | bytes, body_table: str | bytes, lead: str) -> dict:
    """A row's field lengths as its offset tables (text or UTF-8 bytes) count them: the
    terms of its words (lemmas and compound parts), as a folder index counts a field's
    tokens; the lead's by its words."""
    space = b" " if isinstance(body_table, bytes) else " "
    return {"headline": headline_table.count(space), "body": body_table.count(space),
            "lead": len(WORD_RE.findall(lead)) if lead else 0}


def query_words(tree, analyzer, ranking: Ranking) -> list | None:
    """Each plain word of a query of loose words as its [(term, weight)] alternatives,
    or None when the query holds anything else (phrases, fields, synonyms: the
    engine's order stands)."""
    from search.query import Loose, Not, Word

    if not isinstance(tree, Loose) or tree.required:
        return None
    words = []
    for item in tree.items:
        if isinstance(item, Not):
            continue
        if not isinstance(item, Word) or item.exact or item.prefix or item.field:
            return None
        by_position = {}
        for t in analyzer(item.text, positions=True, mode="query"):
            if t.kind == "lemma":
                by_position.setdefault(t.pos, []).append(
                    (t.text, max(t.weight, ranking.min_alternative)))
        words.extend(by_position[p] for p in sorted(by_position))
    return words or None


def bm25f_scores(words: list, rows: list, df: dict, stats: FieldStats, ranking: Ranking,
                 body_at: int, headline_table_at: int, body_table_at: int) -> list:
    """The folder index's score of each row for these query words (``query_words``)."""
    n = max(1, stats.documents)
    idf = {t: math.log(n / (df.get(sql_token(t), 0) + 1)) + 1 for w in words for t, _ in w}
    bonus = [ranking.word_bonus * math.log(n / max(1, df.get(sql_token(w[0][0]), 0)))
             if len(words) > ranking.all_words_max else 0.0 for w in words]
    boosts = {"headline": ranking.headline_boost, "lead": ranking.lead_boost, "body": 1.0}
    scores = []
    for row in rows:
        body, headline_table, body_table = row[body_at], row[headline_table_at], row[body_table_at]
        lead = lead_of(body)
        lead_end = body.find(lead) + len(lead) if lead else 0
        lengths = field_lengths(headline_table, body_table, lead)
        score = 0.0
        for alternatives, plus in zip(words, bonus):
            best = dict.fromkeys(boosts, 0.0)
            for term, weight in alternatives:
                offsets = table_offsets(body_table, term)
                tfs = {"headline": len(table_offsets(headline_table, term)) if headline_table
                       else 0,
                       "body": len(offsets),
                       "lead": sum(int(o) < lead_end for o in offsets) if lead_end else 0}
                for field, tf in tfs.items():
                    if tf:
                        best[field] = max(best[field], weight * bm25(
                            idf[term], tf, lengths[field], stats.average.get(field) or 1.0,
                            ranking.b, ranking.k1))
            matched = sum(boosts[f] * best[f] for f in boosts)
            score += matched + plus if matched else 0.0
        scores.append(score)
    return scores


def lead_of(body: str) -> str:
    """The lead a folder index gives this stored body (``Article.lead``)."""
    return Article(id="", headline="", body=body or "").lead
