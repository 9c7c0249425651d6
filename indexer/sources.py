"""Reading articles from files: plain text, JSON Lines and CSV, in UTF-8 or cp1251.

``read_sources(paths)`` walks files and folders and yields an ``Article`` for
every good record and a ``Rejected`` (with its file and line) for every bad one,
so one broken line never costs the rest of the file.
"""

import codecs
import contextlib
import csv
import datetime
import gzip
import hashlib
import io
import json
import os
import re
import stat
import sys
import zlib
from dataclasses import dataclass, field
from typing import Iterable, Iterator

from indexer import fields

__all__ = ["Article", "Rejected", "decode", "decode_lines", "read_sources", "source_files",
           "SUPPORTED_SUFFIXES"]

SUPPORTED_SUFFIXES = (".txt", ".jsonl", ".jsonl.gz", ".ndjson", ".ndjson.gz", ".json", ".csv")
JSON_LINES_SUFFIXES = (".jsonl", ".jsonl.gz", ".ndjson", ".ndjson.gz")

# An index folder's marker file (indexer.storage.MARKER_FILE): a .json that is
# never an article feed, skipped when a folder is walked.
INDEX_MARKER = "poisk-index.json"

# "-" on the command line: JSON Lines read from standard input.
STDIN = "-"

# A .json file holds one array of records, parsed whole: bounded like a text
# file, though the array may hold many articles.
MAX_JSON_FILE_BYTES = 256 * 2**20

# An article longer than this is almost certainly not an article (a log, a
# dump, a concatenated archive); indexing it would swamp every ranking.
MAX_ARTICLE_CHARS = 2_000_000

# The lead: the first paragraph (a corpus record's summary), up to this long.
LEAD_CHARS = 400

# A .txt file larger than this cannot hold an article under the limit (UTF-8
# spends at most 4 bytes a character): it is rejected without being read.
MAX_TEXT_FILE_BYTES = 4 * MAX_ARTICLE_CHARS

# csv refuses fields over 131,072 characters by default, well under the
# article limit; a longer field is an over-long article or an unclosed quote.
CSV_FIELD_LIMIT = MAX_ARTICLE_CHARS + 1

NOT_UTF8 = "bytes that are not UTF-8 in a UTF-8 file (a damaged or mixed-encoding line)"
SURROGATE_RE = re.compile(r"[\ud800-\udfff]")

HEADER_RE = re.compile(r"^\s?date (\S+) (.*)$")


@dataclass(frozen=True)
class Article:
    """One news article, ready to index.

    >>> article = Article(id="a1", headline="Никель", body="Комбинат ...")
    >>> article.content_hash == Article(id="a1", headline="Никель", body="Комбинат").content_hash
    False
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
    def lead(self) -> str:
        """The body's first paragraph, at most ``LEAD_CHARS``, cut after a word.

        A body of one paragraph has no lead apart from itself: weighting its
        start twice only skewed it (XQuAD MRR@10 0.94 -> 0.92, measured).

        >>> Article(id="a", headline="", body="Первый абзац.\\nВторой.").lead
        'Первый абзац.'
        >>> Article(id="a", headline="", body="Единственный абзац.").lead
        ''
        """
        first, _, rest = self.body.strip().partition("\n")
        if not rest.strip():
            return ""
        if len(first) <= LEAD_CHARS:
            return first
        cut = first.rfind(" ", 0, LEAD_CHARS)
        return first[:cut if cut > 0 else LEAD_CHARS]

    @property
    def content_hash(self) -> str:
        """A digest of everything indexed, to skip unchanged articles on the next run."""
        return fields.content_hash(self)


@dataclass(frozen=True)
class Rejected:
    """A record that could not be read, with where it was and why.

    >>> str(Rejected("data/a.jsonl:3", "broken JSON"))
    'data/a.jsonl:3: broken JSON'
    """

    origin: str
    reason: str

    def __str__(self) -> str:
        return f"{self.origin}: {self.reason}"


def decode(raw):
    """Decode file bytes as UTF-8 (with or without BOM) or cp1251, detected.

    Returns ``None`` for bytes that are neither (binary files) and for UTF-8
    with damaged lines (``decode_lines`` says which).

    >>> decode("сталь".encode("cp1251")), decode(codecs.BOM_UTF8 + "ё".encode())
    ('сталь', 'ё')
    """
    decoded = decode_lines(raw)
    if decoded is None or decoded[1]:
        return None
    return decoded[0]


def decode_lines(raw):
    """``(text, bad_lines)``: the decoded text and the numbers of its lines that are not UTF-8.

    A file is UTF-8 when at least as many of its non-ASCII lines decode as UTF-8
    as fail to; the others are damaged lines, decoded with U+FFFD so the line
    structure holds. Otherwise the file is cp1251 if it reads as Russian prose.
    Returns ``None`` for binary files.

    >>> decode_lines("цена\\nсталь".encode() + b"\\xff\\n" + "никель".encode())
    ('цена\\nсталь\\ufffd\\nникель', {2})
    """
    if raw.startswith(codecs.BOM_UTF8):
        raw = raw[len(codecs.BOM_UTF8):]
    encoding, bad = _encoding_of(raw)
    if encoding is None:
        return None
    text = _prose(raw.decode(encoding, errors="replace"))
    return None if text is None else (text, bad)


def _encoding_of(raw):
    """("utf-8" or "cp1251" or None for binary, the numbers of damaged UTF-8 lines)."""
    if b"\x00" in raw[:8192]:
        return None, set()
    try:
        raw.decode("utf-8")
        return "utf-8", set()
    except UnicodeDecodeError:
        pass
    bad, good = set(), 0
    for number, line in enumerate(raw.split(b"\n"), 1):
        try:
            line.decode("utf-8")
            good += not line.isascii()
        except UnicodeDecodeError:
            bad.add(number)
    if good >= len(bad):
        return "utf-8", bad
    # cp1251 decodes almost any byte; accept it only when the text is mostly
    # Cyrillic letters, as Russian prose is.
    sample = raw[:20000].decode("cp1251", errors="replace")
    letters = sum(ch.isalpha() for ch in sample)
    cyrillic = sum("\u0400" <= ch <= "\u04ff" for ch in sample)
    return ("cp1251", set()) if letters and cyrillic >= 0.3 * letters else (None, set())


def _prose(text):
    """``text``, or ``None`` when over 1% of it is control characters (a binary file)."""
    sample = text[:20000]
    controls = sum(ord(ch) < 32 and ch not in "\r\n\t\f" for ch in sample)
    return text if controls <= 0.01 * len(sample) else None


def read_sources(paths: Iterable[str | os.PathLike], source: str | None = None
                 ) -> Iterator[Article | Rejected]:
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


def source_files(paths: Iterable[str | os.PathLike]) -> list[str]:
    """The files ``read_sources`` reads from ``paths``, in its order.

    >>> import tempfile, pathlib
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> _ = (folder / "b.jsonl").write_text("{}"), (folder / "a.txt").write_text("Никель")
    >>> [os.path.basename(p) for p in source_files([folder, folder / "missing.txt"])]
    ['a.txt', 'b.jsonl']
    """
    return [path for root, path in _walk(paths) if root is not None]


def _walk(paths):
    """(root, file) pairs in a stable order, and (None, Rejected) for what cannot be walked."""
    for given in paths:
        given = os.fspath(given)
        root = os.path.dirname(os.path.abspath(given))
        if given == STDIN:
            yield None, STDIN
        elif os.path.isdir(given):
            yield from _walk_folder(root, given)
        elif os.path.lexists(given):
            yield root, given  # a file, or something _read_file will reject with a reason
        else:
            yield None, Rejected(given, "no such file or folder")


def _walk_folder(root, top):
    """Files under ``top``, depth first in name order, hidden names skipped.

    Symlinks are followed. A link back to a folder on the way down (a loop) is
    reported and not followed; a folder reached a second time by another link
    is not walked again, so its articles are not indexed twice.
    """
    try:
        top_key = _folder_key(top)
    except OSError as error:
        yield None, Rejected(top, f"cannot read the folder: {error.strerror}")
        return
    walked, stack = {top_key}, [(top, (top_key,))]
    while stack:
        folder, ancestors = stack.pop()
        try:
            with os.scandir(folder) as scan:
                entries = sorted(scan, key=lambda entry: entry.name)
        except OSError as error:
            yield None, Rejected(folder, f"cannot read the folder: {error.strerror}")
            continue
        subfolders = []
        for entry in entries:
            if entry.name.startswith(".") or entry.name == INDEX_MARKER:
                continue
            if _is_folder(entry):
                subfolders.append(entry.path)
            elif entry.name.lower().endswith(SUPPORTED_SUFFIXES):
                yield root, entry.path
        pushed = []
        for path in subfolders:
            try:
                key = _folder_key(path)
            except OSError as error:
                yield None, Rejected(path, f"cannot read the folder: {error.strerror}")
                continue
            if key in ancestors:
                yield None, Rejected(path, "symlink loop: leads back to a folder above it; "
                                           "not followed")
            elif key not in walked:
                walked.add(key)
                pushed.append((path, (*ancestors, key)))
        stack.extend(reversed(pushed))  # popped in name order


def _is_folder(entry):
    try:
        return entry.is_dir()
    except OSError:
        return False


def _folder_key(path):
    info = os.stat(path)
    return info.st_dev, info.st_ino


def _read_file(root, path, source):
    name = path.lower()
    if path == STDIN:
        yield from _read_jsonl("<stdin>", source, sys.stdin.buffer)
        return
    if not name.endswith(SUPPORTED_SUFFIXES):
        yield Rejected(path, f"unsupported file type (expected {', '.join(SUPPORTED_SUFFIXES)})")
        return
    if name.endswith(JSON_LINES_SUFFIXES):
        yield from _read_jsonl(path, source)
        return
    limit = {".txt": MAX_TEXT_FILE_BYTES, ".json": MAX_JSON_FILE_BYTES}.get(
        os.path.splitext(name)[1])
    raw, problem = _read_bytes(path, limit)
    if problem:
        yield Rejected(path, problem)
        return
    if name.endswith(".gz"):
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError, zlib.error) as error:
            yield Rejected(path, f"broken gzip file ({error})")
            return
    if raw.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        yield Rejected(path, "UTF-16 text: poisk reads UTF-8 or cp1251, save the file as UTF-8")
        return
    decoded = decode_lines(raw)
    if decoded is None:
        yield Rejected(path, "not text in UTF-8 or cp1251 (binary file?)")
        return
    text, bad_lines = decoded
    if name.endswith(".csv"):
        yield from _read_csv(path, text, bad_lines, source)
    elif name.endswith(".json") and not bad_lines:
        yield from _read_json_array(path, text, source)
    elif bad_lines:
        yield Rejected(f"{path}:{min(bad_lines)}", NOT_UTF8)
    else:
        yield _read_text_article(root, path, text, source)


def _read_json_array(path, text, source):
    """Records of a ``.json`` file holding one array of objects; origins are ``path[n]``.

    >>> import tempfile, pathlib
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "feed.json"
    >>> _ = path.write_text('[{"id": "a", "text": "Никель."}, 5]')
    >>> [str(r) if isinstance(r, Rejected) else r.id for r in read_sources([path])]
    ['a', '...feed.json[1]: a JSON array item must be a JSON object']
    """
    try:
        records = json.loads(text)
    except RecursionError:
        yield Rejected(path, "broken JSON (nested too deeply)")
        return
    except ValueError as error:
        yield Rejected(path, f"broken JSON ({getattr(error, 'msg', error)})")
        return
    if not isinstance(records, list):
        yield Rejected(path, "a .json file must hold an array of objects (use .jsonl for lines)")
        return
    if not records:
        yield Rejected(path, "empty file: no records")
    default_source = source or _file_stem(path)
    for n, record in enumerate(records):
        origin = f"{path}[{n}]"
        if isinstance(record, dict):
            yield _record_article(origin, record, default_source)
        else:
            yield Rejected(origin, "a JSON array item must be a JSON object")


def _read_bytes(path, limit):
    """(bytes, None), or (None, why not): only regular files are read, never pipes or devices."""
    handle, problem = _open_regular(path, limit)
    if problem:
        return None, problem
    with handle:
        try:
            return handle.read(), None
        except OSError as error:
            return None, f"cannot read: {error.strerror}"


def _open_regular(path, limit):
    """(binary file, None), or (None, why not) for what is not a regular file or is too large."""
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0)
    try:
        descriptor = os.open(path, flags)
    except OSError as error:
        return None, f"cannot read: {error.strerror}"
    handle = open(descriptor, "rb")
    try:
        info = os.fstat(handle.fileno())
    except OSError as error:
        handle.close()
        return None, f"cannot read: {error.strerror}"
    if not stat.S_ISREG(info.st_mode):
        handle.close()
        return None, "not a regular file (a device, pipe or socket)"
    if limit is not None and info.st_size > limit:
        handle.close()
        return None, (f"file too large for one article ({info.st_size:,} bytes; an "
                      f"article may have at most {MAX_ARTICLE_CHARS:,} characters)")
    return handle, None


def _read_text_article(root, path, text, source):
    relative = os.path.relpath(os.path.abspath(path), root) if root else path
    doc_id = _path_text(os.path.splitext(relative)[0].replace(os.sep, "/"))
    source = source or _path_text(os.path.basename(os.path.dirname(os.path.abspath(path))))
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


def _read_jsonl(path, source, stdin=None):
    """Records of a JSON Lines file (or of ``stdin``), read as a stream: a corpus never sits
    in memory whole."""
    handle, problem = (contextlib.nullcontext(stdin), None) if stdin else \
        _open_regular(path, None)
    if problem:
        yield Rejected(path, problem)
        return
    default_source = source or ("stdin" if stdin else _file_stem(path))
    with handle as handle:
        stream = gzip.GzipFile(fileobj=handle) if path.lower().endswith(".gz") else handle
        pieces = _pieces(stream)
        sample, broken = b"", []
        for piece in pieces:
            if isinstance(piece, Exception):
                broken.append(piece)
                break
            sample += piece
            if len(sample) >= SAMPLE_BYTES:
                break
        encoding, problem = _stream_encoding(sample)
        if problem and not broken:
            yield Rejected(path, problem)
            return
        number, records = 0, 0
        for number, raw in enumerate(_byte_lines(sample, pieces, broken), 1):
            if number == 1:
                raw = raw.removeprefix(codecs.BOM_UTF8)
            record = _jsonl_record(f"{path}:{number}", raw, encoding, default_source)
            if record is not None:
                records += 1
                yield record
        if broken:
            yield Rejected(f"{path}:{number + 1}", f"broken gzip file ({broken[0]})")
        elif not records:
            yield Rejected(path, "empty file: no records")


# Bytes read at a time; the first read also decides the encoding. Lines are
# split on b"\n" only: JSON strings may hold U+2028 and other characters that
# str.splitlines() takes for line ends.
SAMPLE_BYTES = 1 << 20


def _pieces(stream):
    """Chunks of a binary stream and, if it breaks (a truncated gzip), the error last.

    ``read1`` hands over what a damaged stream still holds before it fails.
    """
    try:
        while piece := stream.read1(SAMPLE_BYTES):
            yield piece
    except (OSError, EOFError, zlib.error) as error:
        yield error


def _byte_lines(first, pieces, broken):
    """Whole lines of ``first`` and the ``pieces`` after it; stops at an error (into ``broken``)."""
    pending = first
    while True:
        lines = pending.split(b"\n")
        pending = lines.pop()
        yield from lines
        if broken:
            return  # the partial line before the damage is not a record
        piece = next(pieces, b"")
        if isinstance(piece, Exception):
            broken.append(piece)
            return
        if not piece:
            break
        pending += piece
    if pending:
        yield pending


def _stream_encoding(sample):
    """(encoding, None) for a stream's first lines, or (None, why it cannot be read)."""
    if sample.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return None, "UTF-16 text: poisk reads UTF-8 or cp1251, save the file as UTF-8"
    whole_lines = sample[:sample.rfind(b"\n") + 1] or sample  # no character cut in two
    encoding, _ = _encoding_of(whole_lines.removeprefix(codecs.BOM_UTF8))
    if not sample:
        return "utf-8", None
    if encoding is None or _prose(sample[:20000].decode(encoding, errors="replace")) is None:
        return None, "not text in UTF-8 or cp1251 (binary file?)"
    return encoding, None


def _jsonl_record(origin, raw, encoding, default_source):
    """One line's Article or Rejected; None for a blank line."""
    try:
        line = raw.decode(encoding)
    except UnicodeDecodeError:
        return Rejected(origin, NOT_UTF8)
    if not line.strip():
        return None
    try:
        record = json.loads(line)
    except RecursionError:
        return Rejected(origin, "broken JSON (nested too deeply)")
    except ValueError as error:
        return Rejected(origin, f"broken JSON ({getattr(error, 'msg', error)})")
    if not isinstance(record, dict):
        return Rejected(origin, "a line must hold a JSON object")
    return _record_article(origin, record, default_source)


def _read_csv(path, text, bad_lines, source):
    if not text.strip():
        yield Rejected(path, "empty file: no header, no records")
        return
    if csv.field_size_limit() < CSV_FIELD_LIMIT:
        csv.field_size_limit(CSV_FIELD_LIMIT)
    rows = csv.reader(io.StringIO(text))
    try:
        header = [name.strip().lower() for name in next(rows)]
    except csv.Error as error:
        yield Rejected(f"{path}:1", f"broken CSV header ({error})")
        return
    if 1 in bad_lines:
        yield Rejected(f"{path}:1", f"CSV header: {NOT_UTF8}")
        return
    if not set(header) & {"text", "body"}:
        yield Rejected(f"{path}:1", "CSV header has no 'text' (or 'body') column")
        return
    default_source = source or _file_stem(path)
    last = rows.line_num
    while True:
        try:
            row = next(rows)
        except StopIteration:
            return
        except csv.Error as error:
            yield Rejected(f"{path}:{last + 1}", f"broken CSV row ({error})")
            last = rows.line_num
            continue
        first, last = last + 1, rows.line_num
        if not row:
            continue  # a blank line
        origin = f"{path}:{first}"
        if bad_lines.intersection(range(first, last + 1)):
            yield Rejected(origin, NOT_UTF8)
        elif len(row) != len(header):
            yield Rejected(origin, f"{len(row)} fields where the header names {len(header)}")
        else:
            record = {name: value for name, value in zip(header, row) if name}
            yield _record_article(origin, record, default_source)


def _record_article(origin, record, default_source):
    for name in ("id", "title", "headline", "text", "body", "summary", "date", "source", "url"):
        if isinstance(record.get(name), (dict, list)):
            return Rejected(origin, f"{name!r} must be text, not a JSON "
                                    f"{'object' if isinstance(record[name], dict) else 'array'}")
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
    if any(SURROGATE_RE.search(value or "") for value in (doc_id, headline, body, source, url,
                                                          *tags)):
        return Rejected(origin, "invalid Unicode: an unpaired surrogate (\\ud800-\\udfff)")
    if not headline:
        # No headline: the first line of the body stands in, as news feeds do.
        headline = body.split("\n", 1)[0][:160]
    return Article(id=doc_id, headline=headline, body=body, date=date, source=source,
                   url=url, tags=tags, origin=origin)


def _text_value(value):
    if value is None:
        return ""
    return (value if isinstance(value, str) else str(value)).strip()


# A date, optionally with an ISO time after it ("2026-03-14T09:30:00+03:00"),
# never with other text ("2026-03-14garbage" was once read as 2026-03-14).
DATE_RE = re.compile(r"(\d{4}-\d{2}-\d{2})(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?"
                     r"(?:Z|[+-]\d{2}:?\d{2})?)?")


def _parse_date(text):
    """A ``datetime.date``, or None for what is not a real date.

    >>> _parse_date("2026-03-14T09:30:00+03:00"), _parse_date("2026-03-14garbage")
    (datetime.date(2026, 3, 14), None)
    """
    match = DATE_RE.fullmatch(str(text).strip())
    try:
        return datetime.date.fromisoformat(match.group(1)) if match else None
    except ValueError:
        return None


def _path_text(name):
    """A file name as valid text: bytes that are not UTF-8 become U+FFFD.

    >>> _path_text(os.fsdecode(b"a\\xff")) == "a\\ufffd"
    True
    """
    return name.encode("utf-8", "surrogateescape").decode("utf-8", "replace")


def _file_stem(path):
    name = _path_text(os.path.basename(path))
    for suffix in (*JSON_LINES_SUFFIXES, ".json", ".csv"):
        if name.lower().endswith(suffix):
            return name[: -len(suffix)]
    return name
