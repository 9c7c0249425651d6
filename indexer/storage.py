"""The index on disk: its schema, the marker that proves it is ours, opening and creating it.

Whoosh keeps the schema as a pickle inside the index, so opening a folder from
an untrusted source could run code. poisk writes a marker file
(``poisk-index.json``) when it creates an index and refuses to hand any folder
without one to Whoosh; and Whoosh reads every pickle through poisk's
allow-list (``indexer.unpickling``), so a forged marker runs no code either.
The default index lives in the user's data folder, not in the current one:
``cd untrusted && poisk search`` opens nothing found there.
"""

import json
import os
import re
import time

from whoosh import index as whoosh_index
from whoosh.fields import Schema

from indexer.analysis import russian_analyzer
from indexer.fields import schema_fields
from indexer.errors import IndexCorrupted, IndexNotFound
from indexer.sources import INDEX_MARKER
from indexer.mapped import install as _install_mapped_parts
from indexer.unpickling import admit_schema, install as _install_restricted_unpickling

__all__ = [
    "DEFAULT_INDEX_DIR",
    "FORMAT_VERSION",
    "INDEX_ENV_VAR",
    "MARKER_FILE",
    "create_index",
    "default_index_dir",
    "ensure_index_dir",
    "make_schema",
    "open_whoosh_index",
    "resolve_index_dir",
    "whoosh_index_exists",
]

INDEX_ENV_VAR = "POISK_INDEX"
MARKER_FILE = INDEX_MARKER  # "poisk-index.json"
LOCK_FILE = "poisk-writer.lock"
# 2: the story sketch field (an index of format 1 has no field to write it to).
# 3: the regions, districts and industries fields. Older indexes still open
# for searching (the fields they lack read empty); writing to one needs a rebuild.
# 4: story sketches hashed from lemma numbers (indexer.stories) instead of a
# BLAKE2b digest per shingle. A format-3 index still groups its own articles
# (their sketches are alike); a new article's sketch would not match them.
FORMAT_VERSION = 4
READABLE_FORMATS = (1, 2, 3, 4)

# Whoosh's table of contents: one file per commit, the newest wins.
TOC_RE = re.compile(r"_MAIN_(\d+)\.toc")

# A writer deletes the previous commit's files as it completes a commit; a
# reader that looked just before retries (Whoosh's own reader does the same).
OPEN_RETRIES = 10
OPEN_RETRY_SECONDS = 0.05


_install_restricted_unpickling()
_install_mapped_parts()


def default_index_dir():
    """``$XDG_DATA_HOME/poisk/index``, else ``~/.local/share/poisk/index`` (the XDG default).

    >>> default_index_dir().endswith(os.path.join("poisk", "index"))
    True
    """
    data_home = os.environ.get("XDG_DATA_HOME", "")
    if not os.path.isabs(data_home):  # the XDG spec ignores a relative value
        data_home = os.path.join(os.path.expanduser("~"), ".local", "share")
    return os.path.join(data_home, "poisk", "index")


# Where the help texts say the index is; resolve_index_dir() reads the
# environment at each call.
DEFAULT_INDEX_DIR = "$XDG_DATA_HOME/poisk/index"


# What a function taking an index folder accepts.
IndexPath = str | os.PathLike


def resolve_index_dir(path: IndexPath | None = None) -> str:
    """The index folder: the given path, else ``$POISK_INDEX``, else ``default_index_dir()``.

    >>> resolve_index_dir("/tmp/x")
    '/tmp/x'
    """
    return os.fspath(path or os.environ.get(INDEX_ENV_VAR) or default_index_dir())


def make_schema(policy=None):
    """The fields of a poisk index, as ``indexer.fields.FIELDS`` defines them.

    ``headline`` and ``body`` share one analyzer object, which the query
    compiler and the snippet highlighter take back from the schema.

    >>> sorted(make_schema().names())[:5]
    ['body', 'content_hash', 'date', 'districts', 'headline']
    """
    analyzer = russian_analyzer() if policy is None else russian_analyzer(policy)
    return Schema(**schema_fields(analyzer))


def create_index(path, schema=None):
    """Create an empty index at ``path`` (replacing a poisk index already there).

    Refuses a folder that holds other files: starting over must never delete
    what is not ours.

    >>> import tempfile
    >>> create_index(tempfile.mkdtemp() + "/ix").doc_count()
    0
    """
    path = ensure_index_dir(path)
    marker = os.path.join(path, MARKER_FILE)
    temporary = marker + ".tmp"
    with open(temporary, "w", encoding="utf-8") as f:
        json.dump({"format": FORMAT_VERSION, "engine": "whoosh"}, f)
    os.replace(temporary, marker)
    if schema is not None:
        admit_schema(schema)
    return whoosh_index.create_in(path, schema or make_schema())


def ensure_index_dir(path):
    """Make sure ``path`` can hold a poisk index: a new folder, an empty one or one of ours.

    >>> import tempfile
    >>> ensure_index_dir(tempfile.gettempdir())
    Traceback (most recent call last):
    ...
    indexer.errors.IndexNotFound: /tmp is not empty and is not a poisk index; choose an empty or new folder for the index
    """
    path = os.fspath(path)
    try:
        if os.path.isdir(path) and set(os.listdir(path)) - {LOCK_FILE} and not _has_marker(path):
            raise IndexNotFound(
                f"{path} is not empty and is not a poisk index; "
                "choose an empty or new folder for the index")
        os.makedirs(path, exist_ok=True)
    except OSError as error:
        raise IndexNotFound(
            f"cannot use {path} as the index folder ({error.strerror}); "
            "choose an empty or new folder for the index") from None
    return path


def whoosh_index_exists(path):
    """True when ``path`` holds a poisk index with at least one commit.

    >>> whoosh_index_exists("/nonexistent")
    False
    """
    return _has_marker(path) and _has_commit(path)


def open_whoosh_index(path, write=False):
    """Open an existing poisk index, checking its marker before Whoosh unpickles anything.

    ``write``: the index is opened to add documents, so it must be of this
    version's format (an older one opens for searching only).

    >>> open_whoosh_index("/nonexistent/poisk")
    Traceback (most recent call last):
    ...
    indexer.errors.IndexNotFound: no index at /nonexistent/poisk: run `poisk index PATH...` first
    """
    path = os.fspath(path)
    try:
        names = set(os.listdir(path)) if os.path.isdir(path) else set()
    except OSError as error:
        raise IndexNotFound(f"cannot read the index folder {path} ({error.strerror})") from None
    if not names - {LOCK_FILE}:
        raise IndexNotFound(f"no index at {path}: run `poisk index PATH...` first")
    if not _has_marker(path):
        raise IndexNotFound(
            f"{path} is not a poisk index (no {MARKER_FILE}); poisk opens only indexes it "
            "made, because an index holds pickled code")
    version = _marker_version(path)
    if version is None:
        raise IndexCorrupted(
            f"the marker file {MARKER_FILE} in {path} is damaged; "
            "rebuild the index with `poisk index --rebuild PATH...`")
    if version not in READABLE_FORMATS:
        raise IndexCorrupted(
            f"{path} was made by another poisk version (index format {version}, this "
            f"version reads {FORMAT_VERSION}); rebuild it with `poisk index --rebuild PATH...`")
    if write and version != FORMAT_VERSION:
        raise IndexCorrupted(
            f"{path} was made by an older poisk (index format {version}, without the fields or "
            "story sketches of this one); rebuild it with `poisk index --rebuild PATH...` to add "
            "to it")
    if not _has_commit(path):
        raise IndexNotFound(f"{path} holds no documents yet: run `poisk index PATH...`")
    for attempt in range(OPEN_RETRIES):
        try:
            ix = whoosh_index.open_dir(path)
            break
        except FileNotFoundError as error:
            if attempt + 1 == OPEN_RETRIES or not _has_commit(path):
                raise _damaged(path, error) from None
            time.sleep(OPEN_RETRY_SECONDS)
        except IndexCorrupted as error:  # a name outside the allow-list
            raise IndexCorrupted(f"{path}: {error}") from None
        except Exception as error:  # Whoosh raises many kinds on damaged files
            raise _damaged(path, error) from error
    try:
        # Open every segment (Whoosh's reader retries by itself when a writer
        # removes files under it), so damage shows here and not mid-search.
        ix.reader().close()
    except IndexCorrupted as error:
        raise IndexCorrupted(f"{path}: {error}") from None
    except Exception as error:
        raise _damaged(path, error) from error
    return ix


def _damaged(path, error):
    if isinstance(error, FileNotFoundError):
        detail = f"missing file {os.path.basename(error.filename or '?')}"
    else:
        detail = f"{type(error).__name__}: {error}"
    return IndexCorrupted(
        f"cannot read the index at {path} ({detail}); "
        "rebuild it with `poisk index --rebuild PATH...`")


def _has_marker(path):
    return os.path.isfile(os.path.join(path, MARKER_FILE))


def _has_commit(path):
    """A table of contents is there: read by name, so nothing is unpickled."""
    try:
        return any(TOC_RE.fullmatch(name) for name in os.listdir(path))
    except OSError:
        return False


def _marker_version(path):
    try:
        with open(os.path.join(path, MARKER_FILE), encoding="utf-8") as f:
            version = json.load(f).get("format")
    except (OSError, ValueError, AttributeError):
        return None
    return version if isinstance(version, int) else "unknown"
