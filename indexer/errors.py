"""The errors poisk raises: one root, a few plain kinds."""


class PoiskError(Exception):
    """Base of every error poisk raises on purpose.

    >>> issubclass(IndexNotFound, PoiskError)
    True
    """


class IndexNotFound(PoiskError):
    """The index folder is missing, empty or not a poisk index.

    >>> isinstance(IndexNotFound("..."), PoiskError)
    True
    """


class IndexCorrupted(PoiskError):
    """The index exists but cannot be read.

    >>> isinstance(IndexCorrupted("..."), PoiskError)
    True
    """


class IndexLocked(PoiskError):
    """Another writer holds the index.

    >>> isinstance(IndexLocked("..."), PoiskError)
    True
    """


class QuerySyntaxError(PoiskError):
    """The query cannot be understood, even leniently.

    >>> isinstance(QuerySyntaxError("..."), PoiskError)
    True
    """


class SourceError(PoiskError):
    """An input file or record cannot be read.

    >>> isinstance(SourceError("..."), PoiskError)
    True
    """
