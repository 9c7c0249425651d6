"""The ambiguity set: does a query for a noun find that noun, not a homograph's other reading?

``bench/sets/ambiguity.tsv`` holds, per query, the sense meant and the ids of
articles judged by hand: relevant (they use the word in that sense) and not
relevant (they match only through another reading: "стали" the verb for
"сталь"). The pool judged is the top 10 of poisk before and after the
weak-reading rule on the mixed index (ru-kw-news + tg-news-posts); no corpus
text is stored. Precision@10 counts an unjudged article as not relevant and
says how many there were.

    python -m bench.ambiguity --index /tmp/mixed-index
"""

import pathlib

from bench.indexes import open_mixed_index

SET_FILE = pathlib.Path(__file__).parent / "sets" / "ambiguity.tsv"


def load_judgments(path=SET_FILE):
    """[(query, sense, relevant ids, not relevant ids)], from the tab-separated file."""
    rows = []
    for line in pathlib.Path(path).read_text(encoding="utf-8").splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        query, sense, relevant, other = (line.split("\t") + ["", "", ""])[:4]
        rows.append((query, sense, set(relevant.split()), set(other.split())))
    return rows


def precision(search, judgments):
    """{"p@10": mean, "unjudged": count in all top 10s, "queries": {query: p@10}}."""
    per_query, unjudged = {}, 0
    for query, _sense, relevant, other in judgments:
        ranked = list(search(query))[:10]
        per_query[query] = sum(doc in relevant for doc in ranked) / 10
        unjudged += sum(doc not in relevant and doc not in other for doc in ranked)
    mean = sum(per_query.values()) / len(per_query) if per_query else None
    return {"p@10": mean and round(mean, 4), "unjudged": unjudged, "queries": per_query}


def main(argv=None):
    with open_mixed_index("python -m bench.ambiguity", __doc__, argv) as index:
        result = precision(lambda text: [hit.id for hit in index.search(
            text, limit=10, snippets=False).hits], load_judgments())
    for query, value in result["queries"].items():
        print(f"{query:28} p@10={value:.2f}")
    print(f"ambiguity precision@10: {result['p@10']} ({result['unjudged']} unjudged in the "
          "top 10s)")


if __name__ == "__main__":
    main()
