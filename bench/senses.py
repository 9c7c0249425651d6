"""The noun or the verb: how the index reads hand-labelled occurrences of "стали".

``bench/sets/stali-senses.tsv`` gives, for 413 random "стали" of the shared
corpus, the record, the character offset and the sense a reader gives it. The
analyzer indexes the noun reading ("сталь") as a full term or as a weak one
("~сталь", see ``indexer.analysis.WEAK_SHARE``); this counts how often each
sense gets which::

    python -m bench.senses [--corpus ../shared/corpus]
"""

import argparse
import collections
import gzip
import json
import pathlib

from indexer.analysis import WEAK_MARK, russian_analyzer

SET_FILE = pathlib.Path(__file__).parent / "sets" / "stali-senses.tsv"
NOUN = "сталь"


def load_labels(path=SET_FILE):
    """{(corpus file, record id): {offset: sense}}."""
    labels = collections.defaultdict(dict)
    for line in path.read_text(encoding="utf-8").splitlines():
        if line and not line.startswith("#"):
            corpus_file, record_id, offset, sense = line.split("\t")
            labels[(corpus_file, record_id)][int(offset)] = sense
    return labels


def noun_terms(text, analyzer):
    """{character offset: the noun's term there ("сталь" or "~сталь")} for the whole text."""
    return {t.startchar: t.text for t in analyzer(text, mode="index", chars=True, positions=True)
            if t.text in (NOUN, WEAK_MARK + NOUN)}


def readings(corpus, labels, analyzer):
    """Counter of (sense, term): how the index reads each labelled occurrence."""
    counts = collections.Counter()
    for corpus_file in sorted({f for f, _ in labels}):
        with gzip.open(pathlib.Path(corpus) / corpus_file, "rt", encoding="utf-8") as f:
            for line in f:
                record = json.loads(line)
                wanted = labels.get((corpus_file, record["id"]))
                if wanted:
                    found = noun_terms(record.get("text") or "", analyzer)
                    for offset, sense in wanted.items():
                        counts[sense, found.get(offset, "missing")] += 1
    return counts


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m bench.senses", description=__doc__)
    parser.add_argument("--corpus", default=str(pathlib.Path(__file__).parents[2] / "shared" / "corpus"))
    args = parser.parse_args(argv)
    counts = readings(args.corpus, load_labels(), russian_analyzer())
    for (sense, term), n in sorted(counts.items()):
        print(f"{sense:5} indexed as {term:7} {n}")
    full = {sense: counts[sense, NOUN] for sense in ("noun", "verb")}
    total = {sense: sum(n for (s, _), n in counts.items() if s == sense) for sense in ("noun", "verb")}
    print(f"verbs read as the noun: {full['verb']} of {total['verb']}; "
          f"nouns kept as the noun: {full['noun']} of {total['noun']}")


if __name__ == "__main__":
    main()
