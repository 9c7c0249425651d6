"""Whoosh's pickles read with an allow-list: a crafted index folder runs no code.

Whoosh stores Python pickles in an index: the schema and the segment list in
the table of contents (``_MAIN_N.toc``), posting blocks and stored fields in
the segment files. A plain ``pickle.loads`` of a crafted file can call any
function (``os.system``). ``install()`` replaces the loaders Whoosh uses with
unpicklers that resolve only the names below; any other name stops the load
with ``IndexCorrupted``, before anything is called.

- the table of contents: the classes a poisk schema and segment list are made
  of (fields, formats, columns, analyzers, Whoosh's W3 codec and segments);
- posting blocks and stored fields: plain data (numbers, text, containers,
  dates, arrays), no class of any library.

Only classes are admitted, never a module's functions, except the rebuilders
pickle itself writes (``copyreg._reconstructor``, ``array._array_reconstructor``,
``_codecs.encode``) and ``re._compile`` for a tokenizer's pattern.

>>> loads_data(b"cos\\nsystem\\n.")  # the function os.system, protocol 0
Traceback (most recent call last):
...
indexer.errors.IndexCorrupted: the index holds a pickled reference to os.system, which poisk never writes: the folder was crafted or damaged; rebuild it with `poisk index --rebuild PATH...`
"""

import io
import pickle
import pickletools
import sys

from indexer.errors import IndexCorrupted

__all__ = ["admit_schema", "install", "loads_data", "loads_toc"]

# Plain data: what posting blocks and stored fields hold.
DATA_NAMES = {
    "builtins": {"bool", "bytearray", "bytes", "complex", "dict", "float", "frozenset", "int",
                 "list", "object", "set", "slice", "str", "tuple"},
    "copyreg": {"_reconstructor"},
    "_codecs": {"encode"},  # protocol 2 writes bytes as _codecs.encode(text, "latin1")
    "array": {"array", "_array_reconstructor"},
    "datetime": {"date", "datetime", "time", "timedelta", "timezone"},
    "collections": {"defaultdict", "OrderedDict"},
}

# Modules whose classes a poisk table of contents may name (any class of
# them: a schema may use any Whoosh field type), plus compiled regexes.
TOC_CLASS_MODULES = (
    "indexer.analysis", "indexer.stories",
    "whoosh.analysis.acore", "whoosh.analysis.analyzers", "whoosh.analysis.filters",
    "whoosh.analysis.intraword", "whoosh.analysis.morph", "whoosh.analysis.ngrams",
    "whoosh.analysis.tokenizers",
    "whoosh.codec.whoosh3", "whoosh.columns", "whoosh.fields", "whoosh.formats",
    "whoosh.idsets",
)
TOC_FUNCTIONS = {("re", "_compile")}

# Classes of schemas this process created indexes with (an embedder's own
# analyzer stage): trusted because the program itself handed them over.
_admitted = set()


class _DataUnpickler(pickle.Unpickler):
    """An unpickler that resolves only plain-data names (no ``__init__``: it runs per
    posting block, and each call costs)."""

    def find_class(self, module, name):
        module, name = _py3_name(module, name)
        if not self.admit(module, name):
            raise IndexCorrupted(
                f"the index holds a pickled reference to {module}.{name}, which poisk never "
                "writes: the folder was crafted or damaged; rebuild it with "
                "`poisk index --rebuild PATH...`")
        return super().find_class(module, name)

    @staticmethod
    def admit(module, name):
        return _data_name(module, name)


class _TocUnpickler(_DataUnpickler):
    """An unpickler that resolves the names a poisk table of contents may hold."""

    @staticmethod
    def admit(module, name):
        return _toc_name(module, name)


def _py3_name(module, name):
    # Protocol 2 pickles name Python 2 modules ("__builtin__.long").
    return {("__builtin__", "long"): ("builtins", "int")}.get(
        (module, name), ("builtins" if module == "__builtin__" else module, name))


def _data_name(module, name):
    return name in DATA_NAMES.get(module, ())


def _toc_name(module, name):
    if _data_name(module, name) or (module, name) in TOC_FUNCTIONS | _admitted:
        return True
    if module not in TOC_CLASS_MODULES or name.startswith("__"):
        return False
    return isinstance(getattr(_import(module), name, None), type)


def _import(module):
    __import__(module)
    return sys.modules[module]


def admit_schema(schema):
    """Admit the classes of ``schema`` (a program's own schema for a new index) from now on.

    >>> import fractions
    >>> _toc_name("fractions", "Fraction")
    False
    >>> admit_schema({"f": fractions.Fraction(1, 3)})
    >>> _toc_name("fractions", "Fraction")
    True
    """
    for opcode, argument, _ in pickletools.genops(pickle.dumps(schema, 2)):
        if opcode.name == "GLOBAL":
            module, name = _py3_name(*argument.split(" ", 1))
            if isinstance(getattr(_import(module), name, None), type):
                _admitted.add((module, name))


def loads_data(data):
    """Unpickle plain data (a posting block, stored fields); any class stops it.

    >>> import datetime
    >>> loads_data(pickle.dumps({"date": datetime.datetime(2026, 3, 14)}))
    {'date': datetime.datetime(2026, 3, 14, 0, 0)}
    """
    return _DataUnpickler(io.BytesIO(data)).load()


def loads_toc(data):
    """Unpickle a table of contents' schema: only the classes a poisk schema is made of.

    >>> from indexer.storage import make_schema
    >>> sorted(loads_toc(pickle.dumps(make_schema(), 2)).names())[:2]
    ['body', 'content_hash']
    """
    return _TocUnpickler(io.BytesIO(data)).load()


def _load_toc_file(file):
    return _TocUnpickler(file).load()


class _PickleForToc:
    """Stands in for the ``pickle`` module inside ``whoosh.index``: restricted loads."""

    dumps = staticmethod(pickle.dumps)
    loads = staticmethod(loads_toc)
    PicklingError = pickle.PicklingError


def install():
    """Make Whoosh read every pickle through these unpicklers (idempotent).

    ``whoosh.index`` reads the schema, ``StructFile.read_pickle`` the segment
    list, ``whoosh.codec.whoosh3`` posting blocks, ``whoosh.columns`` stored
    fields. Whoosh's loaders for older formats unpickle with no restriction
    (``whoosh.legacy``): they are removed, so such an index is refused.

    >>> install()
    >>> import whoosh.codec.whoosh3
    >>> whoosh.codec.whoosh3.loads is loads_data
    True
    """
    import whoosh.codec.whoosh3
    import whoosh.columns
    import whoosh.filedb.structfile
    import whoosh.index

    whoosh.index.pickle = _PickleForToc
    whoosh.index.toc_loaders.clear()
    whoosh.filedb.structfile.load_pickle = _load_toc_file
    whoosh.codec.whoosh3.loads = loads_data
    whoosh.columns.loads = loads_data
