"""The wrong keyboard layout: a word typed on the Latin keys while meaning Cyrillic, and back.

The map is the standard Russian ЙЦУКЕН layout over US QWERTY, letter keys
and the punctuation keys that carry Russian letters (``[`` х, ``]`` ъ,
``;`` ж, ``'`` э, ``,`` б, ``.`` ю, `````` ё), in both cases.

>>> to_cyrillic("ybrtkm"), to_cyrillic("Yjhybrtkm"), to_latin("пщщпду")
('никель', 'Норникель', 'google')
"""

__all__ = ["looks_latin_typed", "looks_cyrillic_typed", "to_cyrillic", "to_latin"]

_LATIN = "qwertyuiop[]asdfghjkl;'zxcvbnm,.`"
_CYRILLIC = "йцукенгшщзхъфывапролджэячсмитьбюё"

# Capitals: Shift with the same keys. Shift+` (Ё) is left out: "~" is fuzzy search.
_LATIN_UPPER = 'QWERTYUIOP{}ASDFGHJKL:"ZXCVBNM<>'
_CYRILLIC_UPPER = "ЙЦУКЕНГШЩЗХЪФЫВАПРОЛДЖЭЯЧСМИТЬБЮ"

_TO_CYRILLIC = str.maketrans(_LATIN + _LATIN_UPPER, _CYRILLIC + _CYRILLIC_UPPER)
_TO_LATIN = {v: k for k, v in _TO_CYRILLIC.items()}
_LATIN_KEYS = {chr(c) for c in _TO_CYRILLIC}
_CYRILLIC_KEYS = {chr(c) for c in _TO_LATIN}


def to_cyrillic(text: str) -> str:
    """The text as it comes out when the same keys are pressed in the Russian layout.

    >>> to_cyrillic(",fnfhtb htlrjptvs[")
    'батареи редкоземых'
    """
    return text.translate(_TO_CYRILLIC)


def to_latin(text: str) -> str:
    """The text as it comes out when the same keys are pressed in the US layout.

    >>> to_latin("Тщктшслуд")
    'Nornickel'
    """
    return text.translate(_TO_LATIN)


def looks_latin_typed(word: str) -> bool:
    """Typed on Latin keys: only keys of the map (hyphens and digits too), and an ASCII letter.

    >>> looks_latin_typed("ybrtkm"), looks_latin_typed(",fnfhtb"), looks_latin_typed("Ан-124")
    (True, True, False)
    >>> looks_latin_typed("bydfkbljd-,jktkmobrjd"), to_cyrillic("bydfkbljd-,jktkmobrjd")
    (True, 'инвалидов-болельщиков')
    """
    return bool(word) and all(c in _LATIN_KEYS or c == "-" or c.isdigit() for c in word) \
        and any(c.isascii() and c.isalpha() for c in word)


def looks_cyrillic_typed(word: str) -> bool:
    """Could be a Latin word typed on Russian keys: its Latin twin is ASCII letters only.

    >>> looks_cyrillic_typed("пщщпду"), looks_cyrillic_typed("жёлтый")
    (True, False)
    """
    latin = to_latin(word)
    return bool(word) and all(c in _CYRILLIC_KEYS for c in word) and latin.isascii() \
        and latin.isalpha()
