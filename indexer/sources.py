"""Reading articles from files: plain text, JSON Lines and CSV, in UTF-8 or cp1251.

``read_sources(paths)`` walks files and folders and yields an ``Article`` for
every good record and a ``Rejected`` (with its file and line) for every bad one,
so one broken line never costs the rest of the file.
"""

import codecs
import csv
import datetime
import gzip
import hashlib
import io
import json
import os
import re
from dataclasses import dataclass, field

__all__ = ["Article", "Rejected", "decode", "read_sources", "SUPPORTED_SUFFIXES"]

SUPPORTED_SUFFIXES = (".txt", ".jsonl", ".jsonl.gz", ".csv")

# An article longer than this is almost certainly not an article (a log, a
# dump, a concatenated archive); indexing it would swamp every ranking.
MAX_ARTICLE_CHARS = 2_000_000

HEADER_RE = re.compile(r"^\s?date (\S+) (.*)$")


@dataclass(frozen=True)
class Article:
    """One news article, ready to index.

    >>> Article(id="a1", headline="Никель", body="Комбинат ...").content_hash[:8]
    'f90a30af'
    """

    id: str
    headline: str
    body: str
    date: datetime.date | None = None
    source: str = ""
    url: str | None = None
    tags: tuple[str, ...] = ()
    origin: str = field(default="", compare=False)

    @property
    def content_hash(self):
        """A digest of everything indexed, to skip unchanged articles on the next run."""
        parts = [self.id, self.headline, self.body, str(self.date or ""),
                 self.source, self.url or "", "\x1f".join(self.tags)]
        return hashlib.sha1("\x1e".join(parts).encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class Rejected:
    """A record that could not be read, with where it was and why.

    >>> str(Rejected("data/a.jsonl:3", "broken JSON"))
    'data/a.jsonl:3: broken JSON'
    """

    origin: str
    reason: str

    def __str__(self):
        return f"{self.origin}: {self.reason}"


def decode(raw):
    """Decode file bytes as UTF-8 (with or without BOM) or cp1251, detected.

    Returns ``None`` for bytes that are neither (binary files).

    >>> decode("сталь".encode("cp1251")), decode(codecs.BOM_UTF8 + "ё".encode())
    ('сталь', 'ё')
    """
    if raw.startswith(codecs.BOM_UTF8):
        raw = raw[len(codecs.BOM_UTF8):]
    if b"\x00" in raw[:8192]:
        return None
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        pass
    text = raw.decode("cp1251", errors="replace")
    # cp1251 decodes almost any byte; accept it only when the text is mostly
    # Cyrillic letters, spaces and punctuation, as Russian prose is.
    sample = text[:20000]
    letters = sum(ch.isalpha() for ch in sample)
    cyrillic = sum("\u0400" <= ch <= "\u04ff" for ch in sample)
    controls = sum(ord(ch) < 32 and ch not in "\r\n\t" for ch in sample)
    if letters and cyrillic >= 0.3 * letters and controls <= 0.01 * len(sample):
        return text
    return None


def read_sources(paths, source=None):
    """Yield ``Article`` and ``Rejected`` records from files and folders.

    ``source`` names the source of text files (default: the file's folder name)
    and of records that carry none.

    >>> import tempfile, pathlib
    >>> folder = pathlib.Path(tempfile.mkdtemp()) / "sibir"
    >>> folder.mkdir()
    >>> _ = (folder / "a.txt").write_text(" date 2026-03-14 Никель\\n\\nКомбинат.")
    >>> [(a.id, a.headline, a.source) for a in read_sources([folder])]
    [('sibir/a', 'Никель', 'sibir')]
    """
    for root, path in _walk(paths):
        if isinstance(path, Rejected):
            yield path
            continue
        yield from _read_file(root, path, source)


def _walk(paths):
    """(root, file) pairs in a stable order; folders are walked recursively."""
    for given in paths:
        given = os.fspath(given)
        if os.path.isfile(given):
            yield os.path.dirname(os.path.abspath(given)), given
        elif os.path.isdir(given):
            root = os.path.dirname(os.path.abspath(given.rstrip(os.sep)))
            for folder, dirs, files in os.walk(given, onerror=None):
                dirs[:] = sorted(d for d in dirs if not d.startswith("."))
                for name in sorted(files):
                    if not name.startswith(".") and name.lower().endswith(SUPPORTED_SUFFIXES):
                        yield root, os.path.join(folder, name)
        else:
            yield None, Rejected(given, "no such file or folder")


def _read_file(root, path, source):
    name = path.lower()
    if not name.endswith(SUPPORTED_SUFFIXES):
        yield Rejected(path, f"unsupported file type (expected {', '.join(SUPPORTED_SUFFIXES)})")
        return
    try:
        with open(path, "rb") as f:
            raw = f.read()
        if name.endswith(".gz"):
            raw = gzip.decompress(raw)
    except (OSError, EOFError, gzip.BadGzipFile) as error:
        yield Rejected(path, f"cannot read: {getattr(error, 'strerror', None) or error}")
        return
    text = decode(raw)
    if text is None:
        yield Rejected(path, "not text in UTF-8 or cp1251 (binary file?)")
        return
    if name.endswith((".jsonl", ".jsonl.gz")):
        yield from _read_jsonl(path, text, source)
    elif name.endswith(".csv"):
        yield from _read_csv(path, text, source)
    else:
        yield _read_text_article(root, path, text, source)


def _read_text_article(root, path, text, source):
    relative = os.path.relpath(os.path.abspath(path), root) if root else path
    doc_id = os.path.splitext(relative)[0].replace(os.sep, "/")
    source = source or os.path.basename(os.path.dirname(os.path.abspath(path)))
    lines = text.replace("\r\n", "\n").split("\n")
    header = HEADER_RE.match(lines[0]) if lines else None
    if header:
        date = _parse_date(header.group(1))
        if date is None:
            return Rejected(f"{path}:1", f"bad date {header.group(1)!r} (expected YYYY-MM-DD)")
        headline, body = header.group(2).strip(), "\n".join(lines[1:]).strip()
    else:
        date = None
        stripped = text.strip()
        headline, _, body = stripped.partition("\n")
        headline, body = headline.strip(), body.strip()
    return _article(f"{path}:1", doc_id, headline, body, date, source, None, ())


def _read_jsonl(path, text, source):
    default_source = source or _file_stem(path)
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        origin = f"{path}:{number}"
        try:
            record = json.loads(line)
        except json.JSONDecodeError as error:
            yield Rejected(origin, f"broken JSON ({error.msg})")
            continue
        if not isinstance(record, dict):
            yield Rejected(origin, "a line must hold a JSON object")
            continue
        yield _record_article(origin, record, default_source)


def _read_csv(path, text, source):
    reader = csv.DictReader(io.StringIO(text))
    columns = {c.strip().lower() for c in reader.fieldnames or []}
    if not columns & {"text", "body"}:
        yield Rejected(f"{path}:1", "CSV header has no 'text' (or 'body') column")
        return
    default_source = source or _file_stem(path)
    for record in reader:
        origin = f"{path}:{reader.line_num}"
        if None in record:
            yield Rejected(origin, "more fields than the header names")
            continue
        record = {k.strip().lower(): v for k, v in record.items() if k}
        yield _record_article(origin, record, default_source)


def _record_article(origin, record, default_source):
    headline = _text_value(record.get("title", record.get("headline")))
    body = _text_value(record.get("text", record.get("body")))
    summary = _text_value(record.get("summary"))
    if summary and not body.startswith(summary):
        body = f"{summary}\n{body}" if body else summary
    raw_date = record.get("date")
    date = _parse_date(raw_date) if raw_date else None
    if raw_date and date is None:
        return Rejected(origin, f"bad date {raw_date!r} (expected YYYY-MM-DD)")
    tags = record.get("tags") or ()
    if isinstance(tags, str):
        tags = re.split(r"[;,]", tags)
    if not isinstance(tags, (list, tuple)):
        return Rejected(origin, "tags must be a list or a comma-separated string")
    tags = tuple(dict.fromkeys(t.strip().lower() for t in tags if isinstance(t, str) and t.strip()))
    doc_id = _text_value(record.get("id")) or "sha1-" + hashlib.sha1(
        f"{headline}\x1e{body}".encode("utf-8")).hexdigest()[:16]
    source = _text_value(record.get("source")) or default_source
    url = _text_value(record.get("url")) or None
    return _article(origin, doc_id, headline, body, date, source, url, tags)


def _article(origin, doc_id, headline, body, date, source, url, tags):
    if not body and not headline:
        return Rejected(origin, "empty article (no headline, no body)")
    if not body:
        return Rejected(origin, "article has a headline but no body")
    if len(body) + len(headline) > MAX_ARTICLE_CHARS:
        return Rejected(origin, f"article too long ({len(body):,} characters; "
                                f"the limit is {MAX_ARTICLE_CHARS:,})")
    if not headline:
        # No headline: the first line of the body stands in, as news feeds do.
        headline = body.split("\n", 1)[0][:160]
    return Article(id=doc_id, headline=headline, body=body, date=date, source=source,
                   url=url, tags=tags, origin=origin)


def _text_value(value):
    if value is None:
        return ""
    return (value if isinstance(value, str) else str(value)).strip()


def _parse_date(text):
    try:
        return datetime.date.fromisoformat(str(text).strip()[:10]) if re.fullmatch(
            r"\d{4}-\d{2}-\d{2}", str(text).strip()[:10]) else None
    except ValueError:
        return None


def _file_stem(path):
    name = os.path.basename(path)
    for suffix in (".jsonl.gz", ".jsonl", ".csv"):
        if name.lower().endswith(suffix):
            return name[: -len(suffix)]
    return name
