"""All-words precision: do articles with every query word come first?

For each two-word query of ``bench/sets/all-words.txt`` the judge is poisk's
own ``a AND b`` (both words in any form, in any field): precision@10 is the
share of the top 10 that hold both words, out of min(10, articles that do).
No corpus text is stored, only the queries.

    python -m bench.allwords --index /work/indexes/mixed
"""

import pathlib

from bench.indexes import open_mixed_index

QUERIES_FILE = pathlib.Path(__file__).parent / "sets" / "all-words.txt"
PAGE = 1000


def load_queries(path=QUERIES_FILE):
    """[(half, query)]: lines alternate between "dev" (tuning) and "test" (reporting)."""
    lines = [line.strip() for line in pathlib.Path(path).read_text(encoding="utf-8").splitlines()
             if line.strip() and not line.startswith("#")]
    return [("dev" if n % 2 == 0 else "test", line) for n, line in enumerate(lines)]


def every_id(index, query):
    """The ids of every article ``query`` finds."""
    ids, offset = set(), 0
    while True:
        result = index.search(query, limit=PAGE, offset=offset, snippets=False)
        ids.update(hit.id for hit in result.hits)
        offset += PAGE
        if offset >= result.total:
            return ids


def precision_at_10(ranked, holding):
    """Share of ``ranked[:10]`` in ``holding``, out of min(10, len(holding)).

    >>> precision_at_10(["a", "x", "b"], {"a", "b"})
    1.0
    """
    if not holding:
        return None
    return sum(doc in holding for doc in ranked[:10]) / min(10, len(holding))


def all_words_precision(search, index, queries):
    """{"dev": mean, "test": mean, "all": mean, "queries": {query: (p@10, holding)}}.

    ``search(text) -> [doc id]`` is the engine under test; ``index`` an open
    poisk index that judges which articles hold both words.
    """
    per_query = {}
    for half, text in queries:
        holding = every_id(index, " AND ".join(text.split()))
        per_query[text] = (half, precision_at_10(list(search(text)), holding), len(holding))
    summary = {"queries": {q: {"half": h, "p@10": p, "holding": n}
                           for q, (h, p, n) in per_query.items()}}
    for half in ("dev", "test", "all"):
        values = [p for h, p, _ in per_query.values() if p is not None and half in (h, "all")]
        summary[half] = round(sum(values) / len(values), 4) if values else None
    return summary


def main(argv=None):
    with open_mixed_index("python -m bench.allwords", __doc__, argv) as index:
        def search(text):
            return [hit.id for hit in index.search(text, limit=10, snippets=False).hits]
        result = all_words_precision(search, index, load_queries())
    for query, row in result["queries"].items():
        value = "n/a" if row["p@10"] is None else f"{row['p@10']:.2f}"  # no article holds both
        print(f"{row['half']:5} {query:28} p@10={value}  holding both: {row['holding']}")
    print(f"all-words precision@10: dev {result['dev']}, test {result['test']}, "
          f"all {result['all']}")


if __name__ == "__main__":
    main()
