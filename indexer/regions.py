"""Regions: the federal subjects an article names, and their federal districts.

The gazetteer ``indexer/data/regions.tsv`` (with its provenance) lists the 89
subjects, their districts, and the names news uses for them: the subject's own
name, its adjective ("кузбасские угольщики"), its capital, industrial towns,
settlements and deposits ("в Норильске" -> Красноярский край). Names are found
by lemma (``indexer.extract``), so every form counts.

>>> subjects(Words("Красноярские металлурги и угольщики Кузбасса"))
('Красноярский край', 'Кемеровская область — Кузбасс')
>>> districts(Words("Красноярские металлурги и угольщики Кузбасса"))
('Сибирский',)
"""

import functools
import hashlib
import os
from collections import Counter

from indexer.errors import PoiskError
from indexer.extract import Lexicon, Words

__all__ = ["GAZETTEER", "districts", "resolve_district", "resolve_subject", "subjects",
           "version"]

GAZETTEER = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data", "regions.tsv")

# An adjective of a subject followed by one of these names a street, a square or a
# station, mostly of some other town ("Карельский бульвар" is in Moscow).
STREETS = ("улица", "бульвар", "проспект", "переулок", "площадь", "шоссе", "вокзал", "набережная",
           "проезд", "тупик", "мост", "вал")

# A subject's adjective or name followed by one of these names a sea, a lake, a river, a
# mountain range or a species named after the region, not the region: "Балтийское море"
# (Калининградская область), "амурский тигр" (Амурская область), "камчатский краб".
# Not "бассейн": "Кузнецкий бассейн" is Kuzbass.
FEATURES = ("море", "озеро", "река", "залив", "пролив", "хребет", "тигр", "леопард", "краб",
            "лосось", "осетр")
# Words of time before "по": "в 10 часов по Москве" is Moscow time (as is "в 19:17 по Москве").
TIME_WORDS = ("час", "минута", "время", "утро", "вечер", "полдень", "полночь")

# A name filling a quote after one of these is the place: КПП «Верхний Ларс», аэропорт
# «Внуково», месторождение «Сухой Лог»; after anything else it names a club, a newspaper or
# a company («Тосно», «Вечерняя Москва»).
PLACE_WORDS = ("кпп", "аэропорт", "порт", "станция", "месторождение", "рудник", "город",
               "поселок", "посёлок", "село", "деревня", "район", "округ", "курорт", "вокзал")

# A subject counts where the article is about it, not where it names it once in passing
# (blind-5: "сербских ополченцев, воюющих на стороне ЛНР и ДНР", "в связи с потерей Крыма"):
# one of its names is in the headline or the body's dateline (its first word, in capitals:
# "КРАСНОЯРСК, 1 сентября."), is an adjective or a name of several words
# ("кузбасские угольщики", "Свердловская область"), follows one of these words of place
# ("в Норильске", "из Кузбасса", "жители Москвы", "в порт Магадана") or is at most LIST_WORDS
# words from a name that does, a list ("в Саратове, Омске и Воронеже", "месторождений Якутии и
# Иркутской области"); or it is named twice or more. Not "по": "переговоры по Донбассу" is a
# topic. On the 730 labelled articles: regions 0.907 / 0.932 -> 0.936 / 0.917 (11 false
# subjects fewer, 5 true ones lost; the headline and the first 30 words instead of the headline:
# 0.922 / 0.884 without the words of place and lists).
PLACE_BEFORE = frozenset((
    "в", "во", "на", "из", "под", "у", "около", "близ", "возле", "от", "до",
    "житель", "жительница", "уроженец", "мэр", "мэрия", "губернатор", "глава", "власть",
    "правительство", "администрация", "департамент", "министерство", "город", "поселок",
    "порт", "аэропорт", "суд", "райсуд", "район", "столица", "окраина", "пригород", "улица",
    "метро", "палата", "кпп", "область", "край", "регион", "центр", "предприятие", "завод"))
LIST_WORDS = 3

DISTRICT_NAME = "*"  # a row naming a federal district itself
NO_SUBJECT = "-"     # a row of phrases that name no subject


@functools.lru_cache(maxsize=1)
def _gazetteer():
    """(lexicon, subject -> district, district names)."""
    entries, district_of = [], {}
    with open(GAZETTEER, encoding="utf-8") as f:
        rows = [line.rstrip("\n").split("\t") for line in f if not line.startswith("#")]
    for subject, district, names in rows[1:]:
        if subject not in (DISTRICT_NAME, NO_SUBJECT):
            district_of[subject] = district
        value = ("district", district) if subject == DISTRICT_NAME else (
            None if subject == NO_SUBJECT else ("subject", subject))
        entries.extend(_entry(name.strip(), value) for name in names.split(";") if name.strip())
    return (Lexicon(entries, not_before=STREETS, features=FEATURES, time_words=TIME_WORDS,
                    places=PLACE_WORDS),
            district_of,
            tuple(dict.fromkeys(district_of.values())))


def _entry(name, value):
    """("Мирный [алмаз алроса]", value) -> ("Мирный", value, ("алмаз", "алроса"), ()),
    ("Москва {в из}", value) -> ("Москва", value, (), ("в", "из"))."""
    name, _, after = name.partition("{")
    text, _, context = name.partition("[")
    return (text.strip(), value, tuple(context.strip().rstrip("]").split()),
            tuple(after.rstrip("}").split()))


@functools.lru_cache(maxsize=1)
def version() -> str:
    """A digest of the gazetteer: part of every article's content hash, so a changed
    gazetteer re-indexes the articles on the next run."""
    with open(GAZETTEER, "rb") as f:
        return hashlib.sha1(f.read()).hexdigest()[:12]


def _found(words: Words):
    """The subjects (as ("subject", name)) and districts the article is about, in text order."""
    lexicon, _, _ = _gazetteer()
    found = [(at, name) for at, name in lexicon.find_at(words) if name.values[0]]
    placed, mentions = set(), Counter(values for _, name in found for values in name.values)
    at_placed = [at for at, name in found if _placed(words, at, name)]
    for at, name in found:
        if any(abs(at - other) <= LIST_WORDS for other in at_placed):
            placed.update(name.values)
    values = [value for _, name in found for value in name.values
              if value[0] != "subject" or value in placed or mentions[value] > 1]
    return tuple(dict.fromkeys(values))  # find_at() is memoized per article


def _placed(words: Words, at: int, name) -> bool:
    """Whether this mention of a name shows the article to be about its subject (see
    PLACE_BEFORE): in the headline or the dateline, an adjective or a name of several words,
    or after a word of place."""
    return (at < words.body_from or at == words.body_from and words.surfaces[at].isupper()
            or not name.proper[0] or len(name.lemmas) > 1
            or at > 0 and not words.item(at - 1)[1].isdisjoint(PLACE_BEFORE))


def subjects(words: Words) -> tuple:
    """The federal subjects an article names, in the order it first names them.

    >>> subjects(Words("На Смоленской площади ответили. В Норильске и в Мирном: алмазы"))
    ('Красноярский край', 'Республика Саха (Якутия)')
    """
    return tuple(value for kind, value in _found(words) if kind == "subject")


def districts(words: Words) -> tuple:
    """The federal districts of those subjects, and the districts the article names itself.

    >>> districts(Words("Инвестиции на Дальнем Востоке"))
    ('Дальневосточный',)
    """
    _, district_of, _ = _gazetteer()
    found = [district_of[value] if kind == "subject" else value for kind, value in _found(words)]
    return tuple(dict.fromkeys(found))


def resolve_subject(text: str) -> str:
    """The subject a user means: its name, a town in it or an adjective, in any form.

    >>> resolve_subject("Кузбасс"), resolve_subject("норильск")
    ('Кемеровская область — Кузбасс', 'Красноярский край')
    >>> resolve_subject("Атлантида")
    Traceback (most recent call last):
    ...
    indexer.errors.PoiskError: unknown region 'Атлантида': give a federal subject, its capital or a town in it (Кузбасс, Красноярский край, Норильск)
    """
    _, district_of, _ = _gazetteer()
    for subject in district_of:
        if subject.lower() == text.strip().lower():
            return subject
    # A user types names in lower case: read the text as capitalised words too.
    for candidate in (text, text.title()):
        found = [value for kind, value in _found(Words(candidate)) if kind == "subject"]
        if len(found) == 1:
            return found[0]
    raise PoiskError(f"unknown region {text!r}: give a federal subject, its capital or a town "
                     "in it (Кузбасс, Красноярский край, Норильск)")


def resolve_district(text: str) -> str:
    """The federal district a user means: its name, short name, or a subject in it.

    >>> resolve_district("сибирский"), resolve_district("ДФО"), resolve_district("Кузбасс")
    ('Сибирский', 'Дальневосточный', 'Сибирский')
    """
    _, district_of, names = _gazetteer()
    wanted = text.strip().lower()
    for district in names:
        if district.lower() == wanted or district.lower() + " федеральный округ" == wanted:
            return district
    for candidate in (text, text.upper(), text.title()):
        found = [value if kind == "district" else district_of[value]
                 for kind, value in _found(Words(candidate))]
        if len(set(found)) == 1:
            return found[0]
    raise PoiskError(f"unknown federal district {text!r}: use one of {', '.join(names)}")
