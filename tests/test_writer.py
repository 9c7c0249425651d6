"""The lean segment writer (indexer.writer) writes the files Whoosh's own writer writes."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from whoosh.filedb.filestore import FileStorage
from whoosh.writing import SegmentWriter as WhooshSegmentWriter

from indexer.analysis import WORD_RE, WORDS_KEY, russian_analyzer, word_starts
from indexer.extract import word_terms
from indexer.fields import add_extracted, document_fields
from indexer.sidecar import SUFFIX
from indexer.sources import Article, read_sources
from indexer.storage import create_index
from indexer.writer import SegmentWriter

from tests.conftest import DATA

# Words the writer's fast path must treat as the Token path does: "стали" decided by
# its neighbours (noun after "тонн", verb before "известны"), a weak reading
# ("стекла"), compounds whose part has the whole word's lemma, acronyms, numbers,
# stop words, Latin, ё, a stress mark.
CRAFTED = [
    Article(id="c1", headline="Цены на сталь", body="Выплавка стали выросла. Тонн стали "
            "стало больше; они стали известны.\n\nСтекла и зеркала. ИИ в РФ, 1,5 млн."),
    Article(id="c2", headline="", body="Улан-Удэ и бизнес-бизнес, Комсомольск-на-Амуре: "
            "за\u0301мок, ёлка, Ростехе, nickel ＮＩＣＫＥＬ стали"),
    Article(id="c3", headline="Стали", body="стали"),
    Article(id="c4", headline="Только заголовок", body=""),
]


def _documents(articles, schema):
    terms = word_terms(schema["body"].analyzer)
    return [add_extracted(document_fields(a, "digest"), terms) for a in articles]


def _segment_files(writer_class, folder, articles):
    """name -> bytes of every file of one segment written by ``writer_class``."""
    ix = create_index(folder)
    schema = ix.schema
    writer = writer_class(ix, _lk=False, limitmb=64)
    writer.schema = schema
    for fields in _documents(articles, schema):
        writer.add_document(**fields)
    segment = writer._finalize_segment()
    writer._finish()
    sidecars = list(folder.glob("*" + SUFFIX + "*"))
    # The lean writer adds the segment's posting sidecar beside it (tests/test_sidecar.py).
    assert len(sidecars) == (2 if writer_class is SegmentWriter else 0)
    storage = segment.open_compound_file(FileStorage(str(folder)))
    return {name.replace(segment.segid, "SEG"): storage.open_file(name).read()
            for name in storage.list()}


def test_segment_files_are_byte_for_byte_whooshs(tmp_path):
    # 30 sample articles, then 140 more sharing their words: terms of more than one
    # block (Whoosh's 128 postings a block) in every text field.
    articles = list(read_sources([DATA])) + CRAFTED
    articles += [Article(id=f"r{n}", headline=a.headline, body=a.body)
                 for n, a in enumerate(articles * 5)][:140]
    ours = _segment_files(SegmentWriter, tmp_path / "ours", articles)
    whooshs = _segment_files(WhooshSegmentWriter, tmp_path / "whoosh", articles)
    assert sorted(ours) == sorted(whooshs)
    assert {name for name in ours if ours[name] != whooshs[name]} == set()
    assert len(ours["MAIN_SEG.pst"]) > 100_000


def _token_path(analyzer, text):
    """Per word position, the texts the analyzer's Token stream gives it when indexing."""
    by_position = [[] for _ in WORD_RE.findall(text)]
    for token in analyzer(text, positions=True, mode="index"):
        by_position[token.pos].append(token.text)
    return [tuple(texts) for texts in by_position]


WORDS = ("стали", "сталь", "тонн", "пить", "известны", "жертвами", "выросла", "на", "и",
         "Стали", "стекла", "РФ", "ИИ", "Улан-Удэ", "акции", "1,5", "в", "мыла", "Верховец")


@settings(max_examples=150, deadline=None)
@given(st.lists(st.sampled_from(WORDS), max_size=12))
def test_index_terms_are_the_token_streams(words):
    analyzer = russian_analyzer()
    text = " ".join(words)
    morph = analyzer.items[1]
    assert morph.index_terms(WORD_RE.findall(text)) == _token_path(analyzer, text)


@pytest.mark.parametrize("article", CRAFTED, ids=lambda a: a.id)
def test_index_terms_of_crafted_articles(article):
    analyzer = russian_analyzer()
    morph = analyzer.items[1]
    for text in (article.headline, article.body):
        assert morph.index_terms(WORD_RE.findall(text)) == _token_path(analyzer, text)


def test_a_failed_document_leaves_no_postings(tmp_path):
    ix = create_index(tmp_path / "ix")
    writer = SegmentWriter(ix, _lk=False)
    writer.schema = ix.schema
    with pytest.raises(ValueError):
        writer.add_document(id="a", headline="Никель", body=42)  # not text
    assert writer._postings == {}
    writer.cancel()


def test_the_body_is_split_once_for_the_writer_and_word_starts(tmp_path):
    ix = create_index(tmp_path / "ix")
    article = CRAFTED[0]
    document = _documents([article], ix.schema)[0]
    assert document[WORDS_KEY + "body"] == WORD_RE.findall(article.body)
    assert document["word_starts"] == word_starts(article.body)
    # The writer takes the words it is given rather than splitting the text again.
    document[WORDS_KEY + "body"] = ["никель"] * len(document[WORDS_KEY + "body"])
    writer = SegmentWriter(ix, _lk=False)
    writer.schema = ix.schema
    writer.add_document(**document)
    assert set(writer._postings["body"]) == {"никель"}
    writer.cancel()


@pytest.mark.parametrize("weight", [1.0, 2.0, 0.1, 0.0])
@pytest.mark.parametrize("fmt", ["positions", "frequency", "existence"])
@pytest.mark.parametrize("length", [0, 7])
def test_a_one_posting_term_is_written_as_the_general_path_writes_it(tmp_path, weight, fmt,
                                                                     length):
    # _OneBlock._write_one (half a segment's terms) against _OneBlock.write's general path,
    # which tests/test_writer.py's whole segments hold to Whoosh's own bytes: 0.1 is no
    # float32, a length of 0 has no length byte, Existence stores no value.
    from whoosh import formats
    from whoosh.codec.whoosh3 import W3Codec
    from whoosh.fields import TEXT
    from whoosh.system import pack_uint

    from indexer.writer import _OneBlock, encode_positions

    fmt_object, value = {"positions": (formats.Positions(), encode_positions([3])),
                         "frequency": (formats.Frequency(), pack_uint(2)),
                         "existence": (formats.Existence(), b"")}[fmt]
    files = []
    for one in (True, False):
        storage = FileStorage(str(tmp_path / str(one))).create()
        segment = W3Codec().new_segment(storage, "MAIN")
        fieldwriter = W3Codec().field_writer(storage, segment)
        field = TEXT()
        field.format = fmt_object
        fieldwriter.start_field("body", field)
        block = _OneBlock(fieldwriter, fmt_object, [0, 0, length])
        if one:
            block._write_one(b"term", 2, weight, value)
        else:
            block._write_many(b"term", [2], [weight], [value])
        fieldwriter.finish_field()
        fieldwriter.close()
        files.append({name.rsplit(".", 1)[-1]: storage.open_file(name).read()
                      for name in storage.list()})
    assert files[0] == files[1]
    assert len(files[0]["pst"]) > 20 and len(files[0]["trm"]) > 20

