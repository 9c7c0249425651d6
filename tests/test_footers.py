"""Channel footers: the lines a source repeats under its posts are left out of extraction."""

import pytest

from indexer import footers as footers_module
from indexer.build import index_articles
from indexer.footers import Footers
from indexer.sources import Article
from search import open_index

SOCHI = "🔴 Подписаться на Сочи с огоньком"
LONG = "Протесты проходят на фоне решения премьера отложить переговоры о вступлении страны в союз"

# posts of the source "канал" learnt (their bodies), a post of a source -> what extraction reads
FOOTER_CASES = [
    # a line two posts of a source end with is that source's footer
    ([f"Пожар на складе.\n{SOCHI}", f"Снег.\nДороги чистят.\n{SOCHI}"],
     ("канал", f"Снег в Омске.\nДороги чистят.\n{SOCHI}"), "Снег в Омске.\nДороги чистят.\n"),
    # ... several lines, blank and wordless ones between them
    ([f"Пожар.\n❤ Подписаться\n\n{SOCHI}\n📱", f"Снег.\n❤ Подписаться\n\n{SOCHI}\n📱"],
     ("канал", f"Снег в Омске.\n❤ Подписаться\n\n{SOCHI}\n📱"), "Снег в Омске.\n"),
    # one post's last line is no footer, nor a line other sources end with in under ten posts
    ([f"Пожар на складе.\n{SOCHI}"],
     ("канал", f"Снег в Омске.\n{SOCHI}"), f"Снег в Омске.\n{SOCHI}"),
    ([f"Пожар.\n{SOCHI}"] * 3,
     ("другой канал", f"Снег в Омске.\n{SOCHI}"), f"Снег в Омске.\n{SOCHI}"),
    # ... ten or more posts of any source: a channel advertised by its sister channels
    ([f"Пожар.\n{SOCHI}"] * 10,
     ("другой канал", f"Снег в Омске.\n{SOCHI}"), "Снег в Омске.\n"),
    # a long line repeated is a story's background, not a footer; the first line never is one
    ([f"Пожар.\n{LONG}", f"Снег.\n{LONG}"], ("канал", f"Снег в Омске.\n{LONG}"),
     f"Снег в Омске.\n{LONG}"),
    ([SOCHI, SOCHI], ("канал", SOCHI), SOCHI),
]


@pytest.mark.parametrize("learnt, post, kept", FOOTER_CASES)
def test_footers_are_lines_a_source_repeats(learnt, post, kept):
    footers = Footers()
    for body in learnt:
        footers.learn("канал", body)
    source, body = post
    assert body[:footers.start(source, body)] == kept


def test_an_indexing_run_leaves_a_channels_footer_out_of_its_regions(tmp_path, monkeypatch):
    # Three posts of a channel signed with another channel's name; one names Омск. Written
    # in two batches: the second learns from the first as well as from itself.
    posts = [Article(id=f"p{n}", headline=headline, body=f"{headline}\n{body}\n{SOCHI}",
                     source="Канал")
             for n, (headline, body) in enumerate([("Пожар на складе", "Огонь потушили."),
                                                   ("Снег в Омске", "Дороги чистят."),
                                                   ("Курс рубля", "Рубль укрепился.")])]
    index_articles(posts, tmp_path / "ix", batch_size=2, workers=0)
    with open_index(tmp_path / "ix") as index:
        assert [index.get(f"p{n}").regions for n in range(3)] == [(), ("Омская область",), ()]
    # without the footers the channel's name counts as a place (Сочи: Краснодарский край)
    monkeypatch.setattr(footers_module, "MIN_POSTS", 10)
    index_articles(posts, tmp_path / "ix2", batch_size=2, workers=0)
    with open_index(tmp_path / "ix2") as index:
        assert index.get("p0").regions == ("Краснодарский край",)


def test_a_footer_leaves_the_story_sketch_as_it_was():
    from indexer.fields import add_extracted
    from indexer.footers import FOOTER

    body = f"Снег в Омске.\nДороги чистят «Автодором».\n{SOCHI}"
    plain = add_extracted({"headline": "Снег", "body": body, "story": body})
    marked = {"headline": "Снег", "body": body, "story": body, FOOTER: body.index("🔴")}
    cut = add_extracted(marked)
    assert FOOTER not in cut
    assert (plain["regions"], cut["regions"]) == ("Омская область,Краснодарский край",
                                                  "Омская область")
    assert cut["story"] == plain["story"]
