"""Industries: which of a fixed taxonomy an article is about, from lemma lexicons.

``indexer/data/industries.tsv`` gives each industry weighted names: words only
that industry uses, its companies and plant types ("ТЭЦ", "РУСАЛ"), and weaker
signs. An article belongs to every industry whose names in it weigh at least
``THRESHOLD`` together (each different name its weight, each repeat of it ``REPEAT``), one of
them in its headline or lead.

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

__all__ = ["LEXICONS", "REPEAT", "THRESHOLD", "taxonomy", "industries", "resolve_industry", "version"]

LEXICONS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data", "industries.tsv")

# The weight an article's names must reach: each different name counts its weight once
# and each repeat of it 1 more (up to MAX_COUNT mentions), so it takes different names, not
# one name repeated: a decisive name (3) with another sign, or one named three times. A
# passing name repeated in a Telegram post's lead (its headline is its first line) is no
# industry: "Рослесхоз" twice in a forest-fire post, "аэропорт" three times in a customs arrest,
# "вольфрам" twice in a video of bullets. And one of them must be central, in the headline or
# the first LEAD words of the body: an article on the rouble that names oil prices in its
# sixth paragraph is no oil news. On all 730 labelled articles (bench/labels): each mention
# counting its full weight, threshold 6 (the rule tuned on the first 210), gave precision
# 0.885 and recall 0.642 (tp 77, fp 10); this rule with "аэропорт" at 2, 0.938 / 0.500 (tp 60,
# fp 4); at threshold 6, 0.947 / 0.450; two different names required, 0.949 / 0.467.
# Earlier, on the 210 alone: a flat count at 3 gave 0.54 / 0.69, at 5 0.86 / 0.41.
THRESHOLD = 5
REPEAT = 1
MAX_COUNT = 3
LEAD = 30
# An article is about its main industry; another counts when it weighs at least
# this share of the main one. An article on power generation names coal and
# nuclear plants as its kinds (16 against 5 and 9, tuned sample): at 0.5 the tuned
# sample's precision is 0.86 (0.80 without), recall unchanged (0.41).
SHARE = 0.5

NO_INDUSTRY = "-"
# A row whose industry is written "(like this)" is a rival topic, no industry of the
# taxonomy: it is weighed like one for the main-industry rule (SHARE) and never given.
# "(финансовые рынки)": an article on the rouble and the dollar that names oil prices
# is no oil news.
RIVAL = "("
# A one-word company name followed by one of these names something else: «Газпром Арена»
# is a stadium, «Газпром Медиа» a broadcaster.
NOT_THE_COMPANY = ("арена", "медиа")


@functools.lru_cache(maxsize=1)
def _lexicon():
    """(lexicon of (industry, weight) values, the industries in file order)."""
    entries, taxonomy = [], []
    with open(LEXICONS, encoding="utf-8") as f:
        rows = [line.rstrip("\n").split("\t") for line in f if not line.startswith("#")]
    for industry, weight, names in rows[1:]:
        value = None if industry == NO_INDUSTRY else (industry, int(weight))
        if value and industry not in taxonomy and not industry.startswith(RIVAL):
            taxonomy.append(industry)
        for name in names.split(";"):
            text, _, context = name.strip().partition("[")
            if text.strip():
                entries.append((text.strip(), value, tuple(context.rstrip("]").split())))
    return Lexicon(entries, features=NOT_THE_COMPANY), tuple(taxonomy)


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


def scores(words: Words, central: set | None = None) -> Counter:
    """industry -> the weight of its names in the article; ``central`` receives the
    industries named in the headline or the lead.

    >>> scores(Words("Новая ТЭЦ и подстанция"))
    Counter({'электроэнергетика': 5})
    """
    found = [(at, name) for at, name in _lexicon()[0].find_at(words) if name.values[0]]
    counts = Counter(name for _, name in found)
    total = Counter()
    for name, count in counts.items():
        for industry, weight in name.values:
            total[industry] += weight + REPEAT * (min(count, MAX_COUNT) - 1)
    if central is not None:
        lead = words.body_from + LEAD
        central.update(industry for at, name in found if at < lead for industry, _ in name.values)
    return total


def industries(words: Words) -> tuple:
    """The industries an article is about, in taxonomy order.

    >>> industries(Words("ГЭС, ТЭЦ, ГРЭС, энергосистема, электростанции; угольщики, угольные разрезы"))
    ('электроэнергетика',)
    >>> industries(Words("Рубль укрепился", body="Курс рубля вырос. " * 30 + "Нефть, нефть и ТЭЦ."))
    ()
    """
    central = set()
    found = scores(words, central)
    least = max(THRESHOLD, SHARE * max(found.values(), default=0))
    return tuple(i for i in taxonomy() if found[i] >= least and i in central)


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
    best = [i for i, _ in scores(Words(text)).most_common() if i in taxonomy()]
    if best:
        return best[0]
    raise PoiskError(f"unknown industry {text!r}: use one of {', '.join(taxonomy())}")
