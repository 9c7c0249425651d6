"""Reading articles from files: plain text, JSON Lines and CSV, in UTF-8, cp1251 or KOI8-R.

``read_sources(paths)`` walks files and folders and yields an ``Article`` for
every good record and a ``Rejected`` (with its file and line) for every bad one,
so one broken line never costs the rest of the file.

Encodings are decided line by line: a line that is valid UTF-8 is UTF-8; any
other line is cp1251 or KOI8-R when it reads as Russian in one of them (scored
by letter frequencies, ``russian_score``), and otherwise it is rejected, never
stored garbled. JSON Lines and CSV are read as streams of lines, each bounded
by ``MAX_RECORD_BYTES``.
"""

import codecs
import contextlib
import csv
import datetime
import gzip
import hashlib
import itertools
import json
import math
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

# A line of a JSON Lines or CSV file (one record) longer than this is skipped
# unread, up to its line end: a 2 GB line never sits in memory. A JSON
# record of an article at the character limit takes at most 6 bytes a
# character (``\u0436`` escapes): 12 MB, and room for its other fields.
MAX_RECORD_BYTES = 16 * 2**20

NOT_UTF8 = ("bytes that are neither UTF-8 nor Russian in cp1251 or KOI8-R (a damaged or "
            "mixed-encoding line)")
NUL_BYTE = "a NUL byte in the record (binary data); the record is skipped"
TOO_LARGE = (f"record too large (over {MAX_RECORD_BYTES:,} bytes on one line; an article may "
             f"have at most {MAX_ARTICLE_CHARS:,} characters): skipped to the next line")
BINARY = "not text in UTF-8, cp1251 or KOI8-R (binary file?)"
UTF16 = "UTF-16 text: poisk reads UTF-8, cp1251 or KOI8-R, save the file as UTF-8"
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
    """Decode file bytes as UTF-8 (with or without BOM), cp1251 or KOI8-R, line by line.

    Returns ``None`` for bytes that are none of them (binary files) and for
    text with damaged lines (``decode_lines`` says which).

    >>> decode("сталь".encode("cp1251")), decode("сталь".encode("koi8_r")), decode(codecs.BOM_UTF8 + "ё".encode())
    ('сталь', 'сталь', 'ё')
    """
    decoded = decode_lines(raw)
    if decoded is None or decoded[1]:
        return None
    return decoded[0]


def decode_lines(raw):
    """``(text, bad_lines)``: the decoded text and the numbers of its lines that no encoding reads.

    Each line is decoded on its own (``LineDecoder``); a damaged line is
    decoded with U+FFFD so the line structure holds. Returns ``None`` for
    binary files: a NUL byte in the first 8 KB, many control characters, or
    not one line readable.

    >>> decode_lines("цена\\nсталь".encode() + b"\\xff\\n" + "никель".encode())
    ('цена\\nсталь\\ufffd\\nникель', {2})
    """
    raw = raw.removeprefix(codecs.BOM_UTF8)
    if b"\x00" in raw[:8192]:
        return None
    try:
        text, bad = raw.decode("utf-8"), set()
    except UnicodeDecodeError:
        decoder, lines, bad = LineDecoder(), [], set()
        for number, line in enumerate(raw.split(b"\n"), 1):
            decoded = decoder(line)
            if decoded is None:
                bad.add(number)
                decoded = line.decode("utf-8", errors="replace")
            lines.append(decoded)
        if not decoder.read:
            return None  # not one line with letters in any encoding: not text
        text = "\n".join(lines)
    text = _prose(text)
    return None if text is None else (text, bad)


# Letter frequencies of Russian, per cent (the Russian National Corpus, as
# commonly cited), to tell which legacy encoding a line is in: text in the
# right one scores about -3.1 a letter, cp1251 read as KOI8-R (or the other
# way round) about -5.0, UTF-8 read as either about -7.6 (measured on 300
# Telegram posts written in each).
LETTER_PERCENT = dict(zip(
    "оеаинтсрвлкмдпуяыьгзбчйхжшюцщэфъё",
    (10.97, 8.45, 8.01, 7.35, 6.70, 6.26, 5.47, 4.73, 4.54, 4.40, 3.49, 3.21, 2.98, 2.81, 2.62,
     2.01, 1.90, 1.74, 1.70, 1.65, 1.59, 1.44, 1.21, 0.97, 0.94, 0.73, 0.64, 0.48, 0.36, 0.32,
     0.26, 0.04, 0.04)))
LETTER_LOG = {letter: math.log(percent / 100) for letter, percent in LETTER_PERCENT.items()}
# Capitals: a word's first letter or a shouted word is common (log 0.3); a
# capital right after a small letter is rare in prose and common in wrongly
# decoded text ("РџР°Р»Р»Р°РґРёР№", log 0.05).
CAPITAL_LOG, INNER_CAPITAL_LOG = math.log(0.3), math.log(0.05)
OTHER_CHARACTER_LOG = -12.0  # a non-ASCII character that is no Russian letter: "Ђ", "╗"
# Non-ASCII characters of Russian text that are no letters: they score nothing.
NEUTRAL_CHARACTERS = frozenset("«»—–…№“”„’‘\u00a0•·°±§")
LEGACY_ENCODINGS = ("cp1251", "koi8_r")
# A line reads as Russian when its best-scoring encoding averages this or more
# (halfway between the wrong legacy encoding and UTF-8 misread), over at least
# MIN_LETTERS letters; a shorter line follows the encoding of the lines before it.
RUSSIAN_SCORE = -5.5
MIN_LETTERS = 4


def russian_score(text):
    """(average log-likelihood of the non-ASCII characters as Russian, how many were scored).

    >>> round(russian_score("Комбинат выпустил никель")[0], 1), russian_score("nickel")
    (-3.1, (None, 0))
    >>> round(russian_score("Комбинат".encode().decode("cp1251"))[0], 1)
    -7.4
    """
    total, count, after_small = 0.0, 0, False
    for ch in text:
        if ch.isascii() or ch in NEUTRAL_CHARACTERS:
            after_small = False
            continue
        small = ch.lower()
        if small in LETTER_LOG:
            total += LETTER_LOG[small]
            if ch != small:
                total += INNER_CAPITAL_LOG if after_small else CAPITAL_LOG
            after_small = ch == small
        else:
            total += OTHER_CHARACTER_LOG
            after_small = False
        count += 1
    return (total / count if count else None), count


class LineDecoder:
    """Decodes a file's lines one by one: UTF-8 when a line is valid UTF-8, else the legacy
    encoding (cp1251 or KOI8-R) in which it reads as Russian; None for a line that is neither.

    A line with too few letters to judge is read in the legacy encoding of the
    lines before it, if it reads as Russian there.

    >>> decoder = LineDecoder()
    >>> [decoder(line) for line in ("цена".encode(), "сталь".encode("koi8_r"), b"\\xd3", b"\\xff")]
    ['цена', 'сталь', 'с', None]
    """

    def __init__(self):
        self.legacy = None  # the encoding of the last line read in one
        self.read = 0  # lines decoded (in any encoding) that hold non-ASCII text

    def __call__(self, raw):
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            text = self._legacy(raw)
        if text is not None and not raw.isascii():
            self.read += 1
        return text

    def _legacy(self, raw):
        best = None
        for encoding in LEGACY_ENCODINGS:
            text = raw.decode(encoding, errors="replace")
            score, letters = russian_score(text)
            if score is None or score < RUSSIAN_SCORE:
                continue
            if letters < MIN_LETTERS and encoding != self.legacy:
                continue  # too short to judge on its own
            if best is None or score > best[0]:
                best = (score, encoding, text)
        if best is None:
            return None
        self.legacy = best[1]
        return best[2]


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
    if name.endswith(".csv"):
        yield from _read_csv(path, source)
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
        yield Rejected(path, UTF16)
        return
    decoded = decode_lines(raw)
    if decoded is None:
        yield Rejected(path, BINARY)
        return
    text, bad_lines = decoded
    if name.endswith(".json") and not bad_lines:
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
    in memory whole, nor does one over-long line."""
    handle, problem = (contextlib.nullcontext(stdin), None) if stdin else \
        _open_regular(path, None)
    if problem:
        yield Rejected(path, problem)
        return
    default_source = source or ("stdin" if stdin else _file_stem(path))
    with handle as handle:
        stream = gzip.GzipFile(fileobj=handle) if path.lower().endswith(".gz") else handle
        problem, lines = _stream_lines(stream)
        if problem:
            yield Rejected(path, problem)
            return
        records = 0
        for number, line, problem in lines:
            origin = f"{path}:{number}"
            record = Rejected(origin, problem) if problem else \
                _jsonl_record(origin, line, default_source)
            if record is not None:
                records += 1
                yield record
        if not records:
            yield Rejected(path, "empty file: no records")


# Bytes read at a time. Lines are split on b"\n" only: JSON strings may hold
# U+2028 and other characters that str.splitlines() takes for line ends.
CHUNK_BYTES = 1 << 20


def _stream_lines(stream):
    """(why the stream cannot be read, or None; its lines as (number, text, problem)).

    Each line is decoded on its own (``LineDecoder``); ``problem`` says why a
    line is no record: not decodable, a NUL byte, over ``MAX_RECORD_BYTES``, or
    the stream broke there (a truncated gzip: the partial line before the
    damage is dropped).
    """
    pieces = _pieces(stream)
    head = next(pieces, b"")
    problem = None if isinstance(head, Exception) else _stream_problem(head)
    return problem, _decoded_lines(_bounded_lines(itertools.chain([head], pieces)))


def _stream_problem(head):
    """Why a stream whose first chunk is ``head`` is not a text feed at all, or None.

    A feed is binary only when its first 8 KB hold over 1% control characters
    and not one readable line: one NUL byte (or a damaged record) costs only
    its own record.
    """
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return UTF16
    sample = head[:8192]
    if len(sample) - len(sample.translate(None, CONTROL_BYTES)) <= 0.01 * len(sample):
        return None
    decoder = LineDecoder()
    lines = sample.removeprefix(codecs.BOM_UTF8).split(b"\n")[:-1] or [sample]
    readable = any(line.strip() and line.translate(None, CONTROL_BYTES) == line
                   and decoder(line) is not None for line in lines)
    return None if readable else BINARY


# Bytes that never appear in text (tabs, line and form feeds aside).
CONTROL_BYTES = bytes(c for c in [*range(32), 127] if c not in b"\t\n\r\f")


def _pieces(stream):
    """Chunks of a binary stream and, if it breaks (a truncated gzip), the error last.

    ``read1`` hands over what a damaged stream still holds before it fails.
    """
    try:
        while piece := stream.read1(CHUNK_BYTES):
            yield piece
    except (OSError, EOFError, zlib.error) as error:
        yield error


class _TooLarge:
    """A line over ``MAX_RECORD_BYTES``, skipped unread."""


def _bounded_lines(pieces, limit=None):
    """The lines of a stream of chunks, without their b"\\n"; ``_TooLarge`` for a line over
    ``limit`` bytes (the rest of it is read and dropped), and an error of ``pieces`` last.

    >>> list(_bounded_lines([b"ab\\nc", b"defgh", b"ij\\nk\\n"], limit=4))[1:]
    [<class 'indexer.sources._TooLarge'>, b'k']
    """
    limit = MAX_RECORD_BYTES if limit is None else limit
    pending, skipping = b"", False
    for piece in pieces:
        if isinstance(piece, Exception):
            yield piece  # the partial line before the damage is not a record
            return
        *complete, rest = piece.split(b"\n")
        for part in complete:
            if skipping:
                skipping = False  # the end of the over-long line
            else:
                line = pending + part
                yield _TooLarge if len(line) > limit else line
            pending = b""
        if not skipping:
            pending += rest
            if len(pending) > limit:
                yield _TooLarge
                pending, skipping = b"", True
    if pending:
        yield pending


def _decoded_lines(lines):
    """(number, text, problem) of each line of ``_bounded_lines``."""
    decoder = LineDecoder()
    for number, raw in enumerate(lines, 1):
        if raw is _TooLarge:
            yield number, "\ufffd", TOO_LARGE
        elif isinstance(raw, Exception):
            yield number, "", f"broken gzip file ({raw})"
            return
        else:
            if number == 1:
                raw = raw.removeprefix(codecs.BOM_UTF8)
            text = decoder(raw)
            if text is None:
                yield number, raw.decode("utf-8", errors="replace"), NOT_UTF8
            elif "\x00" in text:
                yield number, text.replace("\x00", "\ufffd"), NUL_BYTE
            else:
                yield number, text, None


def _jsonl_record(origin, line, default_source):
    """One line's Article or Rejected; None for a blank line."""
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


def _read_csv(path, source):
    """Records of a CSV file with a header row, read as a stream of lines (like JSON Lines)."""
    handle, problem = _open_regular(path, None)
    if problem:
        yield Rejected(path, problem)
        return
    with handle:
        problem, lines = _stream_lines(handle)
        if problem:
            yield Rejected(path, problem)
            return
        yield from _csv_rows(path, lines, source or _file_stem(path))


def _csv_rows(path, lines, default_source):
    problems = {}  # line number -> why it is no record

    def text_lines():
        for number, text, problem in lines:
            if problem:
                problems[number] = problem
            yield text + "\n"

    if csv.field_size_limit() < CSV_FIELD_LIMIT:
        csv.field_size_limit(CSV_FIELD_LIMIT)
    rows = csv.reader(text_lines())
    try:
        header = [name.strip().lower() for name in next(rows)]
    except StopIteration:
        yield Rejected(path, "empty file: no header, no records")
        return
    except csv.Error as error:
        yield Rejected(f"{path}:1", f"broken CSV header ({error})")
        return
    if not any(header) and not problems:
        yield Rejected(path, "empty file: no header, no records")
        return
    if 1 in problems:
        yield Rejected(f"{path}:1", f"CSV header: {problems[1]}")
        return
    if not set(header) & {"text", "body"}:
        yield Rejected(f"{path}:1", "CSV header has no 'text' (or 'body') column")
        return
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
        problem = next((problems.pop(n) for n in range(first, last + 1) if n in problems), None)
        if problem:
            yield Rejected(origin, problem)
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
