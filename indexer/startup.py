"""Importing Whoosh without the modules a search never runs.

whoosh-reloaded 2.7.5 imports at module level three things poisk never calls:
``urllib.request`` (``whoosh.compat.urlretrieve``: with it ``http.client``,
``ssl``, ``email``), the ``cached_property`` package (which imports
``asyncio``) for one property of its segment reader, and the English
morphology tables of ``whoosh.lang.morph_en`` (for the ``Variations`` query).
They were 45-50 ms of the 200 ms of CPU that importing ``poisk search`` took
(``python -X importtime``, and the process CPU of each import alone).

``import_whoosh`` imports Whoosh's modules while light stand-ins hold those
names in ``sys.modules``, then takes the stand-ins out: Whoosh keeps a function
that imports the real one on its first call (or ``functools.cached_property``,
the same descriptor), and any later ``import urllib.request`` imports the real
module. Whoosh's installed files are not changed.
"""

import functools
import sys
import types

__all__ = ["import_whoosh"]


def _later(module, name):
    """A function that imports ``module`` when first called and calls its ``name``."""
    def call(*args, **kwargs):
        real = getattr(__import__(module, fromlist=[name]), name)
        return real(*args, **kwargs)
    call.__name__ = name
    return call


def _stand_ins():
    return {
        "urllib.request": {"urlretrieve": _later("urllib.request", "urlretrieve")},
        "cached_property": {"cached_property": functools.cached_property},
        "whoosh.lang.morph_en": {"variations": _later("whoosh.lang.morph_en", "variations")},
    }


def import_whoosh() -> None:
    """Import the Whoosh modules poisk reads indexes with, without what they never use.

    >>> import_whoosh()
    >>> import whoosh.compat, urllib.request
    >>> whoosh.compat.urlretrieve.__name__, urllib.request.urlretrieve.__module__
    ('urlretrieve', 'urllib.request')
    >>> from whoosh.query.terms import variations
    >>> sorted(variations("search"))[:2]
    ['search', 'searched']
    """
    if "whoosh.compat" in sys.modules:
        return
    placed = {}
    for name, attributes in _stand_ins().items():
        if name not in sys.modules:
            placed[name] = sys.modules[name] = types.ModuleType(name)
            placed[name].__dict__.update(attributes)
    try:
        import whoosh.compat  # noqa: F401  (each imports what it names, stand-ins included)
        import whoosh.reading  # noqa: F401
        import whoosh.query  # noqa: F401
    finally:
        for name, module in placed.items():
            if sys.modules.get(name) is module:
                del sys.modules[name]
