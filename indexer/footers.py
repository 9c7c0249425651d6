"""Channel footers: the lines a channel repeats under its posts, which region and industry
extraction leaves out.

A Telegram channel signs its posts with a line or two ("Подписаться на Сочи с огоньком",
"Подписаться на Москву - новостную"): a place there is the channel's name, not the post's
subject. Footers are found by repetition, not from a list: a line among the last
``TRAILING`` lines of a post is a footer once at least ``MIN_POSTS`` posts of the same source
end with it, or ``MIN_ANYWHERE`` posts of any (compared by their words, lower-case). An indexing run learns them from the
documents it writes, each batch before its documents are extracted.

>>> footers = Footers()
>>> for n in range(2):
...     footers.learn("канал", f"Пожар на складе {n}.\\nОгонь потушили.\\n🔴 Подписаться на Сочи с огоньком")
>>> body = "Снег в Омске.\\nДороги чистят.\\n🔴 Подписаться на Сочи с огоньком"
>>> body[:footers.start("канал", body)]
'Снег в Омске.\\nДороги чистят.\\n'
"""

from collections import Counter

from indexer.analysis import WORD_RE, normal_word

__all__ = ["FOOTER", "Footers", "line_key"]

# The last lines of a post that may be a footer; the first line never is (it is the post's
# headline). Over the 18,066 posts of the shared Telegram corpus the footers are one to three
# lines ("❤ Подписаться | Прислать новость", a channel's link, "Прислать новость").
TRAILING = 3
# Posts of one source that must end with a line for it to be a footer: a signature repeats in
# hundreds, another channel's advertised name ("Подписаться на Сочи с огоньком") in two.
MIN_POSTS = 2
# ... or posts of any source: sister channels advertise each other ("Подписаться на Москву -
# новостную" ends 894 posts of one channel, 13 of another and 1 of a third).
MIN_ANYWHERE = 10
# A footer is short: the longest line ending ten posts or more of the shared corpus has 9
# words ("Читать нас без VPN можно здесь: bit.ly/bbcrussian"); a longer line two posts end with
# is a story's background repeated ("Протесты в Грузии проходят на фоне решения премьера ...").
MAX_WORDS = 10
# ... and no line of more characters is looked at word by word (a news paragraph): checking
# every word of the last paragraphs cost 0.07-0.09 CPU s per 600 news articles, about 0.8% of
# indexing them.
MAX_CHARS = 200
# Lines remembered per source before those seen once are forgotten (a long run).
MAX_LINES = 20_000
# The document key under which an indexing run passes where a body's footer starts.
FOOTER = "_footer"


def line_key(line: str) -> str:
    """A line as compared: its words, lower-case ("🔴 Подписаться | Прислать новость" ->
    "подписаться прислать новость"); "" for a line without words."""
    return " ".join(normal_word(w) for w in WORD_RE.findall(line))


def _trailing(body: str) -> list:
    """(start offset, key) of the last TRAILING lines with words, last first; not the first."""
    found, end = [], len(body)
    while len(found) < TRAILING:
        start = body.rfind("\n", 0, end) + 1
        if start == 0:
            break  # the first line
        if end - start > MAX_CHARS:
            break
        key = line_key(body[start:end])
        if key.count(" ") >= MAX_WORDS:
            break  # no footer goes above a long line
        if key:
            found.append((start, key))
        end = start - 1
    return found


class Footers:
    """What each source's posts end with, counted over the posts seen."""

    def __init__(self):
        self.seen = {}  # source -> Counter of line keys
        self.anywhere = Counter()

    def learn(self, source: str, body: str) -> None:
        """Count the last lines of one post."""
        counts, keys = self.seen.setdefault(source, Counter()), {k for _, k in _trailing(body)}
        counts.update(keys)
        self.anywhere.update(keys)
        if len(counts) > MAX_LINES:
            self.seen[source] = Counter({k: n for k, n in counts.items() if n > 1})
        if len(self.anywhere) > MAX_LINES * 10:
            self.anywhere = Counter({k: n for k, n in self.anywhere.items() if n > 1})

    def start(self, source: str, body: str) -> int:
        """Where the body's footer starts (``len(body)``: it has none)."""
        counts, cut = self.seen.get(source, Counter()), len(body)
        for start, key in _trailing(body):
            if counts[key] < MIN_POSTS and self.anywhere[key] < MIN_ANYWHERE:
                break
            cut = start
        return cut

    def mark(self, documents: list) -> None:
        """Learn a batch of documents (dicts with "source" and "body"), then give each whose
        body ends in a footer the footer's start under ``FOOTER`` (``add_extracted`` reads it)."""
        for document in documents:
            self.learn(document.get("source", ""), document.get("body", ""))
        for document in documents:
            body = document.get("body", "")
            cut = self.start(document.get("source", ""), body)
            if cut < len(body):
                document[FOOTER] = cut
