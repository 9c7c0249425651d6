"""The documents the benchmark indexes: the shared corpus read as poisk reads it.

Articles come from poisk's own reader (``indexer.sources.read_sources``), so
every engine gets the same headline and body (body = summary + text). For the
headline -> article task the headline is blanked on the ``Article`` itself and
handed straight to the engines (poisk's reader would substitute the first body
line for an empty headline; ``index_articles`` does not).
"""

import dataclasses
import datetime
import hashlib
import json
import os
import re

from indexer.sources import Article, read_sources

NEWS_FILE = "ru-kw-news.jsonl.gz"
XQUAD_FILE = "xquad-ru.jsonl.gz"

# The same word pattern as poisk's WordTokenizer: numbers like "1,5", and
# letters/digits joined by hyphens. Used to count tokens and clean queries.
WORD_RE = re.compile(r"\d+(?:[.,]\d+)+|[^\W_]+(?:[-\u2010\u2011][^\W_]+)*")


@dataclasses.dataclass(frozen=True)
class Dataset:
    """One document collection to index: a corpus file, with or without headlines."""

    name: str
    path: str
    headlines: bool = True
    standfirst: bool = True  # False: bodies without their summary (the RiaNews protocol)

    def key(self):
        """What identifies the built index: the file (by size and mtime) and the options."""
        stat = os.stat(self.path)
        key = [os.path.abspath(self.path), stat.st_size, int(stat.st_mtime), self.headlines]
        return key if self.standfirst else [*key, "no standfirst"]

    def articles(self, limit=None):
        """The dataset's articles, as a list."""
        return load_articles(self.path, headlines=self.headlines, limit=limit,
                             standfirst=self.standfirst)


def datasets(corpus):
    """The three collections of the relevance sets, by name."""
    news, xquad = os.path.join(corpus, NEWS_FILE), os.path.join(corpus, XQUAD_FILE)
    return {
        "news-nohead": Dataset("news-nohead", news, headlines=False),
        "news": Dataset("news", news, headlines=True),
        "news-nohead-nosf": Dataset("news-nohead-nosf", news, headlines=False, standfirst=False),
        "news-nosf": Dataset("news-nosf", news, headlines=True, standfirst=False),
        "xquad": Dataset("xquad", xquad, headlines=True),
    }


def load_articles(path, headlines=True, limit=None, standfirst=True):
    """Good articles of a corpus file, read by poisk's reader; headlines and standfirsts
    (the summary poisk's reader puts before the text) dropped if asked."""
    summaries = {} if standfirst else read_summaries(path)
    articles = []
    for record in read_sources([path]):
        if not isinstance(record, Article):
            continue
        if not headlines:
            record = dataclasses.replace(record, headline="")
        summary = summaries.get(record.id)
        if summary and record.body.startswith(summary + "\n"):
            record = dataclasses.replace(record, body=record.body[len(summary) + 1:])
        articles.append(record)
        if limit and len(articles) >= limit:
            break
    return articles


def read_summaries(path):
    """{id: summary} of the records whose reader put the summary before the text (stripped,
    as the reader strips it); a text that already starts with its summary keeps it."""
    import gzip

    summaries = {}
    with gzip.open(path, "rt", encoding="utf-8") as f:
        for line in f:
            record = json.loads(line)
            summary = (record.get("summary") or "").strip()
            if summary and not (record.get("text") or "").strip().startswith(summary):
                summaries[record["id"]] = summary
    return summaries


def count_words(article):
    """Words in headline and body, by poisk's word pattern: the "tokens" of tokens/s."""
    return len(WORD_RE.findall(article.headline)) + len(WORD_RE.findall(article.body))


def every_kth(items, n):
    """``n`` items spread evenly over ``items`` (all of them when ``n`` is None or too big).

    >>> every_kth(list(range(10)), 4)
    [0, 2, 5, 7]
    """
    items = list(items)
    if not n or n >= len(items):
        return items
    return [items[i * len(items) // n] for i in range(n)]


def write_jsonl(articles, path):
    """Write articles one JSON object per line; returns (documents, words)."""
    docs = words = 0
    temporary = f"{path}.tmp"
    with open(temporary, "w", encoding="utf-8") as f:
        for article in articles:
            record = dataclasses.asdict(article)
            record["date"] = article.date.isoformat() if article.date else None
            f.write(json.dumps(record, ensure_ascii=False) + "\n")
            docs += 1
            words += count_words(article)
    os.replace(temporary, path)
    return docs, words


def read_jsonl(path, limit=None):
    """Stream articles written by ``write_jsonl`` (the first ``limit`` of them)."""
    with open(path, encoding="utf-8") as f:
        for number, line in enumerate(f):
            if limit is not None and number >= limit:
                return
            record = json.loads(line)
            if record["date"]:
                record["date"] = datetime.date.fromisoformat(record["date"])
            record["tags"] = tuple(record["tags"])
            yield Article(**record)


def fingerprint(value):
    """A short stable digest of a JSON-able value, for cache keys.

    >>> fingerprint({"a": 1})
    'e4ad4daad53a'
    """
    return hashlib.sha1(json.dumps(value, sort_keys=True).encode()).hexdigest()[:12]
