"""Regions and industries: article text -> federal subjects, districts and industries (tables)."""

import json

import pytest

from indexer import industries, regions
from indexer.errors import IndexCorrupted, PoiskError
from indexer.extract import Words
from indexer.storage import MARKER_FILE
from search import open_index

KUZBASS = "Кемеровская область — Кузбасс"
KRASNOYARSK = "Красноярский край"
YAKUTIA = "Республика Саха (Якутия)"

# text -> the subjects it names, in order
REGION_CASES = [
    ("красноярские металлурги", (KRASNOYARSK,)),
    ("в Норильске", (KRASNOYARSK,)),
    ("кузбасские угольщики", (KUZBASS,)),
    ("Угольщики Кузбасса и Кемеровской области", (KUZBASS,)),
    ("В Нижнем Тагиле и в Великом Новгороде", ("Свердловская область", "Новгородская область")),
    ("Комсомольск-на-Амуре, Петропавловск-Камчатский", ("Хабаровский край", "Камчатский край")),
    ("ХМАО и ЯНАО", ("Ханты-Мансийский автономный округ — Югра",
                     "Ямало-Ненецкий автономный округ")),
    ("Донбасс", ("Донецкая Народная Республика", "Луганская Народная Республика")),
    # ambiguous names: resolved by context or left out
    ("Алмазы добывают в Мирном", (YAKUTIA,)),
    ("Космодром у Мирного, Плесецк", ("Архангельская область",)),
    ("Город Мирный", ()),
    ("мирный атом", ()),
    ("Железногорск под Красноярском", (KRASNOYARSK,)),
    ("В Троицке открыли школу", ()),
    ("Советский союз", ()),
    ("Владимир Путин", ()),
    ("Иван Грозный", ()),
    ("На Смоленской площади заявили", ()),
    ("Шахты Кузбасса", (KUZBASS,)),
    ("Никель подорожал", ()),
    # Москва: the city after a word of place, the state where it deals with other states
    ("Взрыв газа в Москве", ("Москва",)),
    ("Жители Москвы увидят северное сияние", ("Москва",)),
    ("Мэр Москвы открыл парк", ("Москва",)),
    ("Билеты на площадки Москвы продают по паспортам", ("Москва",)),
    ("В Новой Москве отключили свет", ("Москва",)),
    ("Вашингтон считает решение Москвы неоправданным", ()),
    ("Премьер выступила с обвинениями в адрес Москвы", ()),
    ("С окончанием холодной войны Москва рассчитывала на мир с НАТО", ()),
    # the West is a bloc too
    ("Западные аналитики считают спецназ главным инструментом Москвы", ()),
    ("Доказательств связи команды Трампа с Москвой нет", ()),
    ("Позиция Москвы не изменилась", ()),
    ("Визит в Москву: переговоры с Вашингтоном", ("Москва",)),
    # subjects' adjectives coordinated before one noun, or with the noun left out
    ("Дроны сбиты над Белгородской, Московской и Тверской областями",
     ("Белгородская область", "Московская область", "Тверская область")),
    ("над Новгородской областью 20, над Брянской, Московской и Смоленской — по два",
     ("Новгородская область", "Брянская область", "Московская область", "Смоленская область")),
    ("московские и тульские заводы", ("Москва", "Тульская область")),
    # an adjective naming a street, a square or a station of another town
    ("Взрыв газа на Севере Москвы на Карельском бульваре", ("Москва",)),
    ("карельские лесозаготовители", ("Республика Карелия",)),
    # a sea, a lake or a species named after a subject is not the subject
    ("В Балтийском море перерезаны два кабеля", ()),
    ("Амурский тигр вышел к посёлку", ()),
    ("Ловля камчатского краба", ()),
    ("Амурские власти и калининградский порт", ("Амурская область", "Калининградская область")),
    # Moscow time (or any town's) is no place: "по" after a number or a word of time
    ("Матч начнётся в 19:17 по Москве", ()),
    ("Сирены в 10 часов по Екатеринбургу", ()),
    ("Прогулка по Москве", ("Москва",)),
    # towns of 20,000 people or more (hflabs/city), and landmarks meaning one place
    ("Жители Долгопрудного и Егорьевска", ("Московская область",)),
    ("Пожар в Кунгуре", ("Пермский край",)),
    ("Арки на Кузнецком мосту", ()),
    # a town in -ск written as a capitalised adjective is the adjective's thing
    ("Премьера Мариинского театра и ярмарка в Петровском пассаже", ()),
    ("Пожар в Мариинске и под Петровском", ("Кемеровская область — Кузбасс", "Саратовская область")),
    ("Очередь на КПП «Верхний Ларс»", ("Республика Северная Осетия — Алания",)),
    # towns whose name is also a word are left out
    ("Клин клином вышибают", ()),
    # a name filling a quote is a club's, a newspaper's, a company's, unless a word of place
    # comes before it
    ("Игроки «Тосно» вышли на поле", ()),
    ("Задержки рейсов в аэропорту «Шереметьево»", ("Московская область",)),
    # a town's name after a first name or a rank is a surname
    ("Генерал Суровикин и Сергея Суровикина", ()),
    ("Пожар в Суровикино", ("Волгоградская область",)),
    # "в Москве и области": the region without its adjective
    ("Снег в Москве и области", ("Московская область", "Москва")),
    ("В Петербурге и области", ("Ленинградская область", "Санкт-Петербург")),
    # places a reader knows to be in Moscow: districts, highways, courts
    ("В Митино пошёл снег", ("Москва",)),
    ("ДТП на Кутузовском проспекте", ("Москва",)),
    ("Кража на Ленинградском шоссе", ("Москва",)),
    ("Тверской районный суд арестовал блогера", ("Москва",)),
    # a subject's adjective before a quoted name qualifies the club, unless в/на/о/при place it
    ("Тренер московского «Спартака» и игроки ростовского «Ростова»", ()),
    ("Концерт в московском «Крокусе»", ("Москва",)),
    ("Московский «Локомотив» дома проиграл", ("Москва",)),
    ("Московский «Локомотив» в матче 21-го тура чемпионата России дома сыграл вничью", ("Москва",)),
    # an "-ом" closing a list that в/на opens is a settlement's adjective, not a town in -ск
    ("Отключения в подмосковных Люберцах и Октябрьском", ("Московская область",)),
    ("Дорога между Самарой и Октябрьском", ("Самарская область",)),
    # a compound adjective in "-ско-" joins two names: a regiment's title, a relation
    ("Севастопольско-Феодосийский полк и российско-китайские связи", ()),
    ("В Приморско-Ахтарске", ("Краснодарский край",)),
    # towns left out as surnames count right after "город" or "аэропорт"; Donetsk towns
    ("Рейс сел в аэропорту Жуковский, а писатель Жуковский нет", ("Московская область",)),
    ("Бои у Курахово и Угледара", ("Донецкая Народная Республика",)),
]


@pytest.mark.parametrize("text, expected", REGION_CASES)
def test_regions_of_a_text(text, expected):
    assert regions.subjects(Words(text)) == expected


# headline, body -> subjects: a subject named once in passing in the body does not count; it
# counts in the headline, as an adjective or a name of several words, after a word of place or
# in a list that one opens, or named twice (regions.PLACE_BEFORE)
LNR, CRIMEA = "Луганская Народная Республика", "Республика Крым"
PASSING_CASES = [
    ("Суд в Белграде", "Сербских добровольцев, воюющих на стороне ЛНР, осудили.", ()),
    ("Суд в Белграде", "Добровольцев, воевавших под Луганском, осудили.", (LNR,)),
    ("Иск к России", "Иск связан с потерей Крыма, сказал министр.", ()),
    ("Иск к России", "Иск связан с потерей Крыма. Крым назван в иске трижды.", (CRIMEA,)),
    ("Туристы вернулись в Крым", "Курорты Крыма открылись.", (CRIMEA,)),
    ("Переговоры перенесут", "Переговоры по Донбассу могут перенести из Минска.", ()),
    ("Билеты раскупили", "Жители Новосибирска разобрали партер.", ("Новосибирская область",)),
    ("Билеты раскупили", "Их раскупили в Саратове, Омске и Воронеже.",
     ("Саратовская область", "Омская область", "Воронежская область")),
    ("Добыча растёт", "Кузбасские угольщики и Свердловская область отчитались.",
     (KUZBASS, "Свердловская область")),
]


@pytest.mark.parametrize("headline, body, expected", PASSING_CASES)
def test_a_subject_named_once_in_passing_does_not_count(headline, body, expected):
    assert regions.subjects(Words(headline, body=body)) == expected


DISTRICT_CASES = [
    ("красноярские металлурги и кузбасские угольщики", ("Сибирский",)),
    ("Инвестиции на Дальнем Востоке", ("Дальневосточный",)),
    ("Норильск и Магадан", ("Сибирский", "Дальневосточный")),
    ("Москва", ("Центральный",)),
]


@pytest.mark.parametrize("text, expected", DISTRICT_CASES)
def test_districts_of_a_text(text, expected):
    assert regions.districts(Words(text)) == expected


def test_every_name_of_the_gazetteer_finds_its_subject():
    lexicon, _, _ = regions._gazetteer()
    for names in lexicon.by_first.values():
        for name in names:
            if None in name.values:
                continue  # a stop phrase
            before = min(name.after) + " " if name.after else ""  # "город Чехов"
            found = regions._found(Words(before + name.text + " " + " ".join(sorted(name.context))))
            assert set(name.values) <= set(found), name.text


def test_the_gazetteer_has_the_89_subjects_in_8_districts():
    _, district_of, districts = regions._gazetteer()
    assert len(district_of) == 89 and len(districts) == 8


# text -> industries (two decisive names, or one and more signs: THRESHOLD 5, each different
# name its weight, each repeat of it 1)
INDUSTRY_CASES = [
    ("Угольщики Кузбасса нарастили добычу угля", ("уголь",)),
    ("Завод редкоземельных металлов начнет выпуск неодима", ("редкие и редкоземельные металлы",)),
    ("РУСАЛ увеличил выпуск алюминия", ("цветная металлургия",)),
    ("ММК снизил выплавку стали", ("черная металлургия",)),
    ("Роснефть и Газпром", ("нефть и газ",)),
    ("Новая ТЭЦ даст энергосистеме тепло и электроэнергию", ("электроэнергетика",)),
    ("Росатом достроит АЭС", ("атомная отрасль",)),
    ("ФосАгро нарастила выпуск удобрений", ("химия и удобрения",)),
    ("Золотодобытчики нарастили золотодобычу", ("золото и драгметаллы",)),
    ("Экспорт пиломатериалов и древесины", ("лес и деревообработка",)),
    ("Аграрии собрали рекордный урожай", ("сельское хозяйство",)),
    ("РЖД нарастили грузоперевозки", ("транспорт и логистика",)),
    ("КамАЗ и станкостроение", ("машиностроение",)),
    ("Застройщики увеличили ввод жилья", ("строительство",)),
    # one sign is not enough, and what is not an industry
    ("Цены на нефть", ()),
    ("Новая ТЭЦ", ()),
    ("Сборная взяла золото и серебро", ()),
    ("Химическое оружие в Сирии", ()),
    ("Взрыв газа в многоэтажке", ()),
    ("Погода: снег и ветер", ()),
    # a second industry counts at half the weight of the main one or more
    ("ГЭС, ТЭЦ и ГРЭС, энергосистема, электростанции и подстанции; угольщики и угольные разрезы",
     ("электроэнергетика",)),
    ("Угольщики и угольные разрезы; ТЭЦ, ГРЭС и электростанции", ("уголь", "электроэнергетика")),
    # different names count, not one repeated: a passing name in a Telegram post's headline,
    # which is also its first line, and once more ("поезд" 2 + 1 + 1, "вольфрам" 3 + 1)
    ("Поезд сошёл с рельсов, пассажиров поезда пересадили на другой поезд", ()),
    ("Поезд сошёл с рельсов на железной дороге", ("транспорт и логистика",)),
    ("Вольфрам против пуль. Вольфрам выдержал выстрелы", ()),
    ("Рослесхоз: лесных пожаров нет. Рослесхоз сообщил", ()),
    ("Шахта, шахту и шахтой", ()),
    ("Шахта, шахты и шахтёры", ("уголь",)),
    # words of food factories, heat supply, pipelines, taxis
    ("Масложировой завод и мясокомбинат под обстрелом", ("сельское хозяйство",)),
    ("Теплоэнергетика: котельные и теплосети", ("электроэнергетика",)),
    ("Nord Stream проверит газопровод", ("нефть и газ",)),
    ("Такси подорожало: перевозчики подняли цены на такси", ("транспорт и логистика",)),
    # a company's name before "арена" or "медиа" is a stadium's, a broadcaster's
    ("Концерт на «Татнефть Арене»: билеты на «Татнефть Арену» раскупили", ()),
    # military aviation and aircraft are no transport; greenhouse and exhaust gases no gas industry
    ("Стратегическая авиация: дальняя авиация получит новые самолёты, военная авиация", ()),
    ("Выбросы парниковых газов и выхлопных газов: угарный газ и природный газ", ()),
    # names the lexicons lacked: plant types, the peaceful atom, the arms industry, steel
    # (a verb's form too, "стали": only with a metallurgy word), the coal face
    ("Особенности модернизации ТЭС: тепловая генерация", ("электроэнергетика",)),
    ("Мирный атом и ядерная энергетика", ("атомная отрасль",)),
    ("Украинская оборонка: производители вооружения жалуются, оборонная промышленность",
     ("машиностроение",)),
    ("США введут пошлины на импорт российской стали, металлургический прокат",
     ("черная металлургия",)),
    ("Угольщики в забое шахты", ("уголь",)),
    # ... but the verb's "стали" of figure skaters, with their "прокат", is no steel
    ("Фигуристы стали чемпионами: прокат пары; они стали первыми и стали лучшими", ()),
    # "энергетический" is energy of any kind: diplomacy, security, policy, oil and gas
    ("Энергетическая дипломатия: энергетическая безопасность, энергетическая политика и "
     "электроэнергетика", ()),
    # small air stories: "аэропорт" weighs 2 (3 read as transport a customs arrest in an
    # airport, named three times), "самолёт" 1
    ("Аэропорт закрыт: авиакомпания отменила рейсы", ("транспорт и логистика",)),
    ("Задержание в аэропорту: в аэропорту задержали критика, аэропорт молчит", ()),
    ("Самолёт сел в аэропорту: аэропорт закрыт", ()),
    ("Истребительная авиация: истребительная авиация получит новые самолёты", ()),
    # ... nor air strikes: "самолёт" weighs 1
    ("Самолёт коалиции нанёс удар: самолёты, самолёты и снова самолёты", ()),
    # food products are сельское хозяйство (АПК); food prices in passing are not
    ("Россельхознадзор нашёл личинки в консервах пищевого комбината", ("сельское хозяйство",)),
    ("Продовольствие: цены на какао и сахар выросли, какао дорожает", ("сельское хозяйство",)),
    # ... not milk in a health post
    ("Кофе с молоком: молоко, молоко и сахар вредны", ()),
    ("Продукты питания, продукты питания и мясо подорожали", ()),
]


@pytest.mark.parametrize("text, expected", INDUSTRY_CASES)
def test_industries_of_a_text(text, expected):
    assert industries.industries(Words(text)) == expected


# headline, body -> industries: one of an industry's names must be in the headline or the
# first industries.LEAD words of the body
FAR = "Курс рубля вырос на бирже. " * 8
CENTRAL_CASES = [
    ("Рубль укрепился", FAR + "Газпром, Роснефть и нефть.", ()),
    ("Рубль укрепился", "Газпром, Роснефть и нефть. " + FAR, ("нефть и газ",)),
    ("Рубль укрепился вслед за нефтью", FAR + "Газпром и Роснефть.", ("нефть и газ",)),
    # a story on currency markets that names oil prices is no oil news: the rival topic
    # "(финансовые рынки)" weighs more than twice as much
    ("Рубль, нефть и доллар: рекорды на бирже", "Рубль укрепился к доллару на Мосбирже после "
     "роста нефтяных цен до 71 за баррель; котировки валют и облигаций выросли.", ()),
]


@pytest.mark.parametrize("headline, body, expected", CENTRAL_CASES)
def test_industries_need_a_name_in_the_headline_or_lead(headline, body, expected):
    assert industries.industries(Words(headline, body=body)) == expected


# what a user types -> the indexed value
RESOLVE_CASES = [
    (regions.resolve_subject, "Кузбасс", KUZBASS),
    (regions.resolve_subject, "кузбасс", KUZBASS),
    (regions.resolve_subject, "Красноярский край", KRASNOYARSK),
    (regions.resolve_subject, "Норильск", KRASNOYARSK),
    (regions.resolve_subject, "якутия", YAKUTIA),
    (regions.resolve_district, "ДФО", "Дальневосточный"),
    (regions.resolve_district, "Сибирский федеральный округ", "Сибирский"),
    (industries.resolve_industry, "уголь", "уголь"),
    (industries.resolve_industry, "редкоземельные металлы", "редкие и редкоземельные металлы"),
]


@pytest.mark.parametrize("resolve, text, expected", RESOLVE_CASES)
def test_filter_values_resolve(resolve, text, expected):
    assert resolve(text) == expected


@pytest.mark.parametrize("resolve, text", [
    (regions.resolve_subject, "Атлантида"), (regions.resolve_district, "Марс"),
    (industries.resolve_industry, "балет"),
    (industries.resolve_industry, "рубль")])  # a rival topic's word: no industry
def test_unknown_filter_values_are_a_clear_error(resolve, text):
    with pytest.raises(PoiskError, match=f"unknown .*{text}"):
        resolve(text)


# query on the data/ sample -> number of matching articles (counted by hand from the
# regions and industries `poisk show` prints for the 30 articles)
QUERY_CASES = [
    ("region:Кузбасс", 5),
    ("уголь +region:Кузбасс", 3),  # of the 5 with "уголь"
    ('region:"Красноярский край"', 11),
    ("region:Норильск", 11),
    # 15 before the passing-name rule: "концентраты с Томтора" (Якутия) named once in passing
    # in a Krasnoyarsk plant's article
    ("district:ДФО", 14),
    # "Угольщики Кузбасса ... в забоях" among them; 5 before each repeat of a name weighed 1:
    # the Elga article names "уголь" three times and no other coal word (4)
    ("industry:уголь", 4),
    ("* -industry:уголь", 26),
]


@pytest.mark.parametrize("query, total", QUERY_CASES)
def test_query_fields(sample_index, query, total):
    assert sample_index.search(query, limit=1).total == total


def test_an_unknown_region_in_a_query_is_an_error(sample_index):
    with pytest.raises(PoiskError, match="unknown region 'Атлантида'"):
        sample_index.search("region:Атлантида")


# 1: before the story sketches, 2: before regions and industries, 3: sketches hashed otherwise
@pytest.mark.parametrize("version", [1, 2, 3])
def test_an_older_index_opens_for_searching_only(tmp_path, sample_index_dir, version):
    import shutil

    from indexer import build_index

    old = tmp_path / "old"
    shutil.copytree(sample_index_dir, old)
    (old / MARKER_FILE).write_text(json.dumps({"format": version, "engine": "whoosh"}))
    with open_index(old) as index:
        assert index.search("никель", limit=1).total > 0
    with pytest.raises(IndexCorrupted, match="older poisk .* --rebuild"):
        build_index([tmp_path / "nothing.txt"], old)


def test_an_article_read_before_a_lexicon_loads_still_finds_its_names():
    import subprocess
    import sys

    # A fresh process: the regions lexicon loads first, then the industries one.
    code = ("from indexer.extract import Words; from indexer import regions, industries; "
            "w = Words('ТЭЦ и ГЭС в Норильске'); print(regions.subjects(w), "
            "industries.industries(w))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.stdout.strip() == "('Красноярский край',) ('электроэнергетика',)", out.stderr
