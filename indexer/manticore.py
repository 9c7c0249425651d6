"""The second storage engine: real-time shard indexes of Sphinx 2.2 / Manticore, over SphinxQL.

An index URL ``manticore://HOST:PORT/NAME`` names a ``searchd`` that serves the
distributed index ``NAME`` (reads: the engine fans out to the shards and
merges) and a small real-time index ``NAME_shards`` that lists the shards'
real-time indexes and SphinxQL addresses (writes: poisk routes each article
to ``shard_for(key)`` by a stable hash of its id). ``poisk cluster start``
fills that list; ``search.cluster`` writes the configurations.

Sphinx receives poisk's own analysis, not raw text: each word becomes its most
likely lemma at its position (``headline``, ``lead``, ``body``), its other
lemmas and compound parts go to ``*_alt`` fields, and its exact lower-cased
forms to ``*_forms`` fields. A position holds one token in Sphinx, so a
phrase matches a word through its most likely lemma only (see the README).

>>> doc_key("data/a") == doc_key("data/a"), 0 < doc_key("data/a") < 2 ** 63
(True, True)
>>> parse_url("manticore://127.0.0.1:9306/poisk")
EngineUrl(host='127.0.0.1', port=9306, name='poisk')
"""

import hashlib
import ipaddress
import re
import zlib
from dataclasses import dataclass

from indexer.analysis import EXACT_MARK, HYPHENS_RE, WORD_RE, MorphFilter, normal_word
from indexer.errors import IndexNotFound, PoiskError

__all__ = [
    "EngineUrl", "ShardDown", "SCHEMES", "SphinxText", "connect", "doc_key",
    "is_engine_url", "is_loopback", "lexicon_rows", "lexicon_table", "lexicon_tokens", "meta_token",
    "parse_url", "read_layout", "read_lexicon", "read_offsets", "sql_token", "table_offsets",
    "term_offsets",
]

SCHEMES = ("manticore://", "sphinx://")
URL_RE = re.compile(r"(?:manticore|sphinx)://([^:/]+):(\d{1,5})/([A-Za-z_][A-Za-z0-9_]*)")
# The characters Sphinx keeps in a token (the charset_table of search.cluster):
# anything else in a lemma ("ангаро-енисейский", "3.5") becomes "_", so the
# lemma stays one token, on the index side and the query side alike.
NOT_TOKEN_RE = re.compile(r"[^0-9a-zа-я_]")
ALL_TOKEN = "poiskall"  # in every document's meta field: "*" and a lone NOT match it
CONNECT_SECONDS = 3
TEXT_FIELDS = ("headline", "lead", "body")


class ShardDown(PoiskError):
    """A shard's ``searchd`` did not answer.

    >>> issubclass(ShardDown, PoiskError)
    True
    """


@dataclass(frozen=True)
class EngineUrl:
    """Where a distributed poisk index lives."""

    host: str
    port: int
    name: str

    def __str__(self):
        return f"manticore://{self.host}:{self.port}/{self.name}"


def is_engine_url(target) -> bool:
    """True for ``manticore://...`` (or ``sphinx://...``) index addresses.

    >>> is_engine_url("manticore://127.0.0.1:9306/poisk"), is_engine_url("./.poisk-index")
    (True, False)
    """
    return isinstance(target, str) and target.startswith(SCHEMES)


def parse_url(url: str) -> EngineUrl:
    """Split an index URL, or say how it should look.

    >>> parse_url("manticore://localhost/poisk")
    Traceback (most recent call last):
    ...
    indexer.errors.IndexNotFound: cannot read the index address 'manticore://localhost/poisk': write it as manticore://HOST:PORT/NAME
    """
    match = URL_RE.fullmatch(url.strip())
    if not match:
        raise IndexNotFound(f"cannot read the index address {url!r}: write it as "
                            "manticore://HOST:PORT/NAME")
    return EngineUrl(match.group(1), int(match.group(2)), match.group(3))


def connect(host: str, port: int, what: str):
    """A SphinxQL connection (PyMySQL), or ``ShardDown`` naming ``what`` did not answer."""
    import pymysql
    from pymysql.constants import CLIENT

    try:
        # Several statements per round trip: a page and its SHOW META (search.sphinx).
        # No TLS on loopback: PyMySQL 1.2 offers it to every server by default and builds
        # a TLS context for each connection (loading the system's certificates), 20 ms of
        # CPU a connection, which Sphinx 2.2 then never uses; a search by 8 new threads
        # cost the client 5.5 ms of CPU a query against 2.4 in threads already connected.
        return pymysql.connect(host=host, port=port, charset="utf8mb4", autocommit=True,
                               connect_timeout=CONNECT_SECONDS,
                               client_flag=CLIENT.MULTI_STATEMENTS,
                               ssl_disabled=is_loopback(host))
    except pymysql.err.OperationalError as error:
        raise ShardDown(f"{what} at {host}:{port} does not answer ({error.args[-1]}); "
                        "start it (`poisk cluster start`) and try again") from None


def is_loopback(host: str) -> bool:
    """Whether ``host`` names this machine's loopback interface.

    >>> [is_loopback(host) for host in ("127.0.0.1", "localhost", "::1", "10.0.0.1")]
    [True, True, True, False]
    """
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def read_layout(connection, url: EngineUrl):
    """The shards as (real-time index, host, port), in shard order, from ``NAME_shards``.

    (tests/test_sphinx.py reads it from real servers.)
    """
    import pymysql

    try:
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT id, shard, address FROM {url.name}_shards "
                           "ORDER BY id ASC LIMIT 1000")
            rows = cursor.fetchall()
    except pymysql.err.MySQLError as error:
        raise IndexNotFound(f"no poisk index {url.name!r} at {url.host}:{url.port} "
                            f"({error.args[-1]}); create it with `poisk cluster init` and "
                            "`poisk cluster start`") from None
    if not rows:
        raise IndexNotFound(f"the poisk index {url} lists no shards: run `poisk cluster start`")
    layout = []
    for _, shard, address in rows:
        host, _, port = address.rpartition(":")
        layout.append((shard, host, int(port)))
    return layout


def doc_key(doc_id: str) -> int:
    """The article's document id in Sphinx: a stable 63-bit hash of its poisk id.

    The shard is ``doc_key(id) % shards``, so an article always goes to the same
    shard whichever machine or run indexes it.

    >>> doc_key("data/sibir-business/2026-02-10-tyva-litiy-sp")
    328048674316192223
    """
    digest = hashlib.blake2b(doc_id.encode("utf-8"), digest_size=8).digest()
    return (int.from_bytes(digest, "big") >> 1) or 1


def meta_token(kind: str, value: str) -> str:
    """A token of the ``meta`` field for a source (``s``), tag (``t``), id (``i``), or a value
    of another keyword field (``kind`` is the field's name: ``regions``).

    Keyword values go into the full-text match as tokens, so ``source:`` and
    ``tag:`` combine with OR and NOT like any word.

    >>> meta_token("s", "DV-Vedomosti")
    's1244768159'
    """
    if kind == "i":
        return f"i{doc_key(value)}"
    return f"{kind}{zlib.crc32(value.lower().encode('utf-8'))}"


def sql_token(term: str) -> str:
    """A lemma as one Sphinx token.

    >>> sql_token("ангаро-енисейский"), sql_token("3.5")
    ('ангаро_енисейский', '3_5')
    """
    return NOT_TOKEN_RE.sub("_", term)


class SphinxText:
    """Text as Sphinx receives it: poisk's analysis of each word, as tokens (cached per spelling).

    >>> SphinxText().fields("Выплавка стали в Улан-Удэ")[:3]  # "Выплавка": a capital keeps 4 lemmas
    ('выплавка стать улан_удэ', 'выплавок сталь улан удэ', 'выплавка стали улан_удэ улан удэ')
    """

    def __init__(self, morph: MorphFilter | None = None):
        self.morph = morph or MorphFilter()
        self._words = {}

    def fields(self, text: str):
        """``(lemmas, alternatives, forms, offsets)`` of ``text``: the first three as
        space-separated tokens, the last the ``term_offsets`` table of its words."""
        lemmas, alternatives, forms, where = [], [], [], {}
        word = self._words.get
        for match in WORD_RE.finditer(text):
            surface = match.group()
            found = word(surface) or self._word(surface)
            if found[0]:
                lemmas.append(found[0])
            if found[1]:
                alternatives.append(found[1])
            if found[2]:
                forms.append(found[2])
            for term in found[3]:
                where.setdefault(term, []).append(match.start())
        return " ".join(lemmas), " ".join(alternatives), " ".join(forms), term_offsets(where)

    def _word(self, surface):
        """(its likeliest lemma, its other terms, its exact forms) of one spelling as tokens,
        and its terms (lemmas and parts, as the analyzer spells them)."""
        lemma, others, forms, terms = "", [], [], []
        for term, kind, _, _ in self.morph.terms(surface):
            token = sql_token(term.lstrip(EXACT_MARK))
            if kind == "exact":
                forms.append(token)
                continue
            terms.append(term)
            if not lemma and kind == "lemma":
                lemma = token
            else:
                others.append(token)
        if len(self._words) >= self.morph.cache_size:
            self._words.clear()
        found = self._words[surface] = (lemma, " ".join(others), " ".join(forms),
                                        tuple(dict.fromkeys(terms)))
        return found


# The highlighter's table of a stored text: where each of its words' terms (lemmas and
# compound parts, not exact forms) starts, as "|term offset offset|term offset".
# search.sphinx reads the offsets of a page's query terms from it instead of
# analysing the text again, as a folder index reads positions from its postings.
# A term holds no "|" or space (WORD_RE's words hold neither).
def term_offsets(where: dict) -> str:
    """The table of {term: [character offsets of the words that yield it]}.

    >>> table = term_offsets({"сталь": [0, 14], "цена": [6]})
    >>> table
    '|сталь 0 14|цена 6'
    >>> read_offsets(table, {"сталь", "никель"})
    [0, 14]
    """
    return "".join(f"|{term} {' '.join(map(str, offsets))}" for term, offsets in where.items())


def read_offsets(table: str | bytes, terms) -> list:
    """The sorted offsets of the words that yield one of ``terms``, read from a
    ``term_offsets`` table (as text or as its UTF-8 bytes).

    >>> read_offsets(term_offsets({"сталь": [0, 14]}).encode("utf-8"), {"сталь"})
    [0, 14]
    """
    found = set()
    for term in terms:
        found.update(map(int, table_offsets(table, term)))
    return sorted(found)


def table_offsets(table: str | bytes, term: str) -> list:
    """The offsets (as text, or bytes) of the words of a ``term_offsets`` table (text or
    UTF-8 bytes) that yield ``term``.

    >>> table_offsets(term_offsets({"сталь": [0, 14], "цена": [6]}), "сталь")
    ['0', '14']
    """
    mark = f"|{term} "
    if isinstance(table, bytes):
        mark = mark.encode("utf-8")
    at = table.find(mark)
    if at < 0:
        return []
    start = at + len(mark)
    end = table.find(mark[:1], start)
    return table[start:end if end >= 0 else len(table)].split()


# A shard's lexicon: the tokens of its articles' text fields, in rows of space-separated
# words (``{shard}_lexicon``, search.cluster), added to by every write and read whole by
# each client (search.sphinx), which then finds a typo's spellings one edit away there and
# asks the engine the document counts of those few only. A row of 20,000 words is about
# 250 KB, well under a string attribute's limit.
LEXICON_ROW_WORDS = 20000
LEXICON_PAGE = 1000  # rows a statement when a lexicon is read


def lexicon_table(shard: str) -> str:
    """The real-time index holding a shard's lexicon.

    >>> lexicon_table("poisk_0")
    'poisk_0_lexicon'
    """
    return f"{shard}_lexicon"


def lexicon_tokens(headline_text: str, body_text: str, headline_offsets: str,
                   body_offsets: str, meta: str = "") -> set:
    """Every token an article puts in its shard's dictionary, and a few more: the
    lemmas and compound parts of its offset tables (``term_offsets``), the exact
    forms of its words (``normal_word`` of each word and hyphenated part, stop words
    included) and its ``meta`` tokens. Read from the stored columns, so a shard's
    lexicon can be made again from its rows without analysing a word (``poisk
    cluster lexicon``). A word not in its lexicon is in no article of the shard.

    >>> sorted(lexicon_tokens("Улан-Удэ", "", "|улан-удэ 0|улан 0|удэ 0", "", "poiskall"))
    ['poiskall', 'удэ', 'улан', 'улан_удэ']
    """
    tokens = set(meta.split())
    for table in (headline_offsets, body_offsets):
        tokens.update(sql_token(entry.partition(" ")[0]) for entry in table.split("|")[1:])
    for text in (headline_text, body_text):
        for surface in WORD_RE.findall(text):
            tokens.add(sql_token(normal_word(surface)))
            if HYPHENS_RE.search(surface):
                tokens.update(sql_token(normal_word(p)) for p in HYPHENS_RE.split(surface))
    tokens.discard("")
    return tokens


def lexicon_rows(tokens) -> list:
    """(id, words) rows holding these tokens, ``LEXICON_ROW_WORDS`` a row; a row's id is a
    hash of its words, so writing the same row twice keeps one.

    >>> [(key == doc_key("кот кошка"), words) for key, words in lexicon_rows({"кошка", "кот"})]
    [(True, 'кот кошка')]
    """
    ordered = sorted(tokens)
    rows = []
    for start in range(0, len(ordered), LEXICON_ROW_WORDS):
        words = " ".join(ordered[start:start + LEXICON_ROW_WORDS])
        rows.append((doc_key(words), words))
    return rows


def read_lexicon(connection, shard: str, columns: str = "id, words"):
    """The rows of a shard's lexicon (these columns, by id), or None when the shard has no
    lexicon table (a cluster made by an older poisk, or a Manticore table not configured).

    (tests/test_sphinx.py reads it from real servers.)
    """
    import pymysql

    rows, last = [], 0
    try:
        with connection.cursor() as cursor:
            while True:
                cursor.execute(f"SELECT {columns} FROM {lexicon_table(shard)} WHERE id > {last} "
                               f"ORDER BY id ASC LIMIT {LEXICON_PAGE} "
                               f"OPTION max_matches={LEXICON_PAGE}")
                page = cursor.fetchall()
                rows += page
                if len(page) < LEXICON_PAGE:
                    return rows
                last = page[-1][0]
    except pymysql.err.ProgrammingError as error:
        if "unknown local" in str(error.args[-1]):  # Sphinx: index, Manticore: table
            return None
        raise
