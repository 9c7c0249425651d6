"""Industries: which of a fixed taxonomy an article is about, from lemma lexicons.

``indexer/data/industries.tsv`` gives each industry weighted names: words only
that industry uses, its companies and plant types ("ТЭЦ", "РУСАЛ"), and weaker
signs. An article belongs to every industry whose names in it weigh at least
``THRESHOLD`` together.

>>> industries(Words("Угольщики Кузбасса нарастили добычу угля; СУЭК отчиталась"))
('уголь',)
>>> industries(Words("Сборная взяла золото и серебро"))
()
"""

import functools
import hashlib
import os
from collections import Counter

from indexer.errors import PoiskError
from indexer.extract import Lexicon, Words

__all__ = ["LEXICONS", "THRESHOLD", "taxonomy", "industries", "resolve_industry", "version"]

LEXICONS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data", "industries.tsv")

# The weight an article's names must reach (a name counts at most MAX_COUNT
# times): a decisive name (3) with another sign, or several signs. On the 210
# labelled articles (bench/labels) 3 gave precision 0.54 and recall 0.69,
# 5 gave 0.80 and 0.41 (tuned on that same sample).
THRESHOLD = 5
MAX_COUNT = 2
# An article is about its main industry; another counts when it weighs at least
# this share of the main one. An article on power generation names coal and
# nuclear plants as its kinds (16 against 5 and 9, tuned sample): at 0.5 the tuned
# sample's precision is 0.86 (0.80 without), recall unchanged (0.41).
SHARE = 0.5

NO_INDUSTRY = "-"


@functools.lru_cache(maxsize=1)
def _lexicon():
    """(lexicon of (industry, weight) values, the industries in file order)."""
    entries, taxonomy = [], []
    with open(LEXICONS, encoding="utf-8") as f:
        rows = [line.rstrip("\n").split("\t") for line in f if not line.startswith("#")]
    for industry, weight, names in rows[1:]:
        value = None if industry == NO_INDUSTRY else (industry, int(weight))
        if value and industry not in taxonomy:
            taxonomy.append(industry)
        for name in names.split(";"):
            text, _, context = name.strip().partition("[")
            if text.strip():
                entries.append((text.strip(), value, tuple(context.rstrip("]").split())))
    return Lexicon(entries), tuple(taxonomy)


def taxonomy() -> tuple:
    """The industries, in the order of the data file.

    >>> len(taxonomy()), taxonomy()[0]
    (14, 'редкие и редкоземельные металлы')
    """
    return _lexicon()[1]


@functools.lru_cache(maxsize=1)
def version() -> str:
    """A digest of the lexicons, part of the content hash (see ``indexer.regions.version``)."""
    with open(LEXICONS, "rb") as f:
        return hashlib.sha1(f.read()).hexdigest()[:12]


def scores(words: Words) -> Counter:
    """industry -> the weight of its names in the article.

    >>> scores(Words("Новая ТЭЦ и подстанция"))
    Counter({'электроэнергетика': 5})
    """
    counts = Counter(name for name in _lexicon()[0].find(words) if name.values[0])
    total = Counter()
    for name, count in counts.items():
        for industry, weight in name.values:
            total[industry] += weight * min(count, MAX_COUNT)
    return total


def industries(words: Words) -> tuple:
    """The industries an article is about, in taxonomy order.

    >>> industries(Words("ГЭС, ТЭЦ, ГРЭС, энергосистема, электростанции; угольщики, угольные разрезы"))
    ('электроэнергетика',)
    """
    found = scores(words)
    least = max(THRESHOLD, SHARE * max(found.values(), default=0))
    return tuple(i for i in taxonomy() if found[i] >= least)


def resolve_industry(text: str) -> str:
    """The industry a user means: its name or a word of its lexicon, in any form.

    >>> resolve_industry("Уголь"), resolve_industry("АЭС"), resolve_industry("нефть")
    ('уголь', 'атомная отрасль', 'нефть и газ')
    >>> resolve_industry("балет")
    Traceback (most recent call last):
    ...
    indexer.errors.PoiskError: unknown industry 'балет': use one of редкие и редкоземельные металлы, цветная металлургия, черная металлургия, уголь, нефть и газ, электроэнергетика, атомная отрасль, химия и удобрения, золото и драгметаллы, лес и деревообработка, сельское хозяйство, транспорт и логистика, машиностроение, строительство
    """
    wanted = text.strip().lower().replace("ё", "е")
    if wanted in taxonomy():
        return wanted
    best = scores(Words(text)).most_common(1)
    if best:
        return best[0][0]
    raise PoiskError(f"unknown industry {text!r}: use one of {', '.join(taxonomy())}")
