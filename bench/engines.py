"""The engines under test, behind one small interface.

Each engine has ``name``, ``fingerprint()`` (what its index depends on, for
the cache), ``build(articles, path)`` (index an iterable of ``Article`` into a
new folder; returns the document count) and ``open(path)``, a searcher with
``search(text, limit, snippets) -> [doc id]`` and ``close()``. With
``snippets=True`` the searcher also makes highlighted fragments for the top
10 hits (body and headline), as a results page would.

- ``poisk``: this project, through its public API.
- ``poisk-sphinx``: the same, on a distributed Sphinx index of two shards.
- ``whoosh``: the baseline, Whoosh with its own Russian Snowball analyzer
  (``LanguageAnalyzer("ru")``: lower-case, stop words, Snowball stem), the same
  headline/body fields, default BM25F, queries through ``MultifieldParser``
  over headline+body with ``OrGroup``.
- ``tantivy``: the speed reference, tantivy-py with its simple tokenizer,
  lower-case, Russian stop words and Russian Snowball stemmer, BM25, one
  indexing thread (like the two Python engines).
"""

import hashlib
import importlib.metadata
import json
import os

from bench import REPO_ROOT

SNIPPET_HITS = 10
WRITER_MB = 256


def package_version(package):
    """The installed version of a distribution, or None."""
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return None


class PoiskEngine:
    """poisk: ``index_articles`` to build, ``open_index(..).search`` to search.

    ``schema_options`` go to ``indexer.storage.make_schema`` (e.g. the lemma
    policy), ``ranking_options`` to ``search.Ranking``; both for tuning.
    ``label`` names a second poisk with other ranking options in the same run
    (an A/B of two rankings): it searches the same index as ``poisk``.
    Relevance is measured without the wall-clock limit of ``search.budget``
    (``open(path, timed=False)``): on a loaded machine it cut long queries short
    and the figures measured the load. Latency is measured with it.
    """

    name = "poisk"

    def __init__(self, schema_options=None, ranking_options=None, label=None):
        self.schema_options = dict(schema_options or {})
        self.ranking_options = dict(ranking_options or {})
        if label:
            self.name = label
        # Taken once: indexer/ may change while a run goes on.
        digest = hashlib.sha1()
        folder = REPO_ROOT / "indexer"
        for name in sorted(os.listdir(folder)):
            if name.endswith(".py"):
                digest.update((folder / name).read_bytes())
        self._fingerprint = {"engine": type(self).name, "code": digest.hexdigest()[:12],
                             "schema": self.schema_options,
                             "whoosh": package_version("whoosh-reloaded")}

    def fingerprint(self):
        """The indexer's source code (when this object was made) and the schema options."""
        return self._fingerprint

    def build(self, articles, path):
        """Index with poisk's own indexing run (batches of 1,000 per commit)."""
        from indexer.build import index_articles
        from indexer.storage import make_schema

        schema = make_schema(**self.schema_options) if self.schema_options else None
        report = index_articles(articles, path, rebuild=True, schema=schema)
        if report.failed:
            raise RuntimeError(f"poisk rejected {report.failed} articles: {report.problems[:3]}")
        return report.written

    def open(self, path, timed=True):
        """A searcher over the index at ``path`` (``timed=False``: no time limit)."""
        return _PoiskSearcher(path, self.ranking_options, timed)


class _PoiskSearcher:
    def __init__(self, path, ranking_options, timed=True):
        from search import Ranking, open_index

        self.index = open_index(path, ranking=Ranking(**ranking_options),
                                budget=None if timed else untimed_budget())

    def search(self, text, limit=10, snippets=False):
        # Snippets are made inside search() for every returned hit.
        result = self.index.search(text, limit=limit, snippets=snippets)
        return [hit.id for hit in result.hits]

    def close(self):
        self.index.close()
        cluster = getattr(self, "cluster", None)
        if cluster is not None:
            from search.cluster import stop_cluster

            stop_cluster(cluster)


def untimed_budget():
    """poisk's query budget without its time limits (the other limits hold)."""
    from search.budget import Budget

    return Budget(seconds=float("inf"), snippet_seconds=float("inf"))


class PoiskSphinxEngine(PoiskEngine):
    """poisk on a distributed Sphinx/Manticore index: two real-time shards, each its own
    ``searchd`` on loopback (``search.cluster``), queried through the distributed index.

    The cluster lives in the index folder; ``open`` starts it, the searcher's
    ``close`` stops it.
    """

    name = "poisk-sphinx"
    shards = 2

    def build(self, articles, path):
        from indexer.build import index_articles
        from search.cluster import free_port_range, init_cluster, start_cluster, stop_cluster

        cluster = init_cluster(os.path.join(path, "cluster"), shards=self.shards,
                               port=free_port_range(2 * self.shards))
        start_cluster(cluster)
        try:
            report = index_articles(articles, cluster.url, rebuild=True)
            # The engine's share of indexing, read before its processes end (bench.sphinx).
            with open(os.path.join(path, "searchd-cpu.json"), "w", encoding="utf-8") as f:
                json.dump({"searchd_cpu_seconds": cluster_cpu(cluster)}, f)
        finally:
            stop_cluster(cluster)
        if report.failed:
            raise RuntimeError(f"poisk rejected {report.failed} articles: {report.problems[:3]}")
        return report.written

    def open(self, path):
        from search.cluster import load_cluster, start_cluster

        cluster = load_cluster(os.path.join(path, "cluster"))
        start_cluster(cluster)
        searcher = _PoiskSearcher(cluster.url, self.ranking_options)
        searcher.cluster = cluster
        return searcher


def cluster_cpu(cluster):
    """User + system CPU seconds of a running local cluster's ``searchd`` processes."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0
    for number in range(len(cluster.nodes)):
        pid = cluster.pid(number)
        try:
            with open(f"/proc/{pid}/stat") as f:
                fields = f.read().rpartition(") ")[2].split()
            total += int(fields[11]) + int(fields[12])
        except (OSError, TypeError):
            continue
    return total / ticks


class WhooshEngine:
    """The baseline: Whoosh with ``LanguageAnalyzer("ru")`` and default BM25F."""

    name = "whoosh"

    def fingerprint(self):
        """The Whoosh version (the analyzer and schema are fixed)."""
        return {"engine": self.name, "whoosh": package_version("whoosh-reloaded"), "schema": 1}

    def build(self, articles, path):
        """One writer, one commit, as a plain Whoosh program would do it."""
        from whoosh import index

        os.makedirs(path, exist_ok=True)
        writer = index.create_in(path, _whoosh_schema()).writer(limitmb=WRITER_MB)
        count = 0
        for article in articles:
            writer.add_document(id=article.id, headline=article.headline, body=article.body)
            count += 1
        writer.commit()
        return count

    def open(self, path):
        """A searcher over the index at ``path``."""
        return _WhooshSearcher(path)


def _whoosh_schema():
    """The baseline's schema, given to Whoosh rather than unpickled from the index:
    poisk's allow-list (``indexer.unpickling``) admits no stemming function."""
    from whoosh import fields
    from whoosh.analysis import LanguageAnalyzer

    analyzer = LanguageAnalyzer("ru")
    return fields.Schema(
        id=fields.ID(stored=True, unique=True),
        headline=fields.TEXT(analyzer=analyzer, stored=True),
        body=fields.TEXT(analyzer=analyzer, stored=True))


class _WhooshSearcher:
    def __init__(self, path):
        from whoosh import index
        from whoosh.qparser import MultifieldParser, OrGroup

        self.ix = index.open_dir(path, schema=_whoosh_schema())
        self.searcher = self.ix.searcher()
        self.parser = MultifieldParser(["headline", "body"], self.ix.schema, group=OrGroup)

    def search(self, text, limit=10, snippets=False):
        results = self.searcher.search(self.parser.parse(text), limit=limit)
        ids = [hit["id"] for hit in results]
        if snippets:
            for hit in results[:SNIPPET_HITS]:
                hit.highlights("body", top=3)
                hit.highlights("headline", top=1)
        return ids

    def close(self):
        self.searcher.close()
        self.ix.close()


class TantivyEngine:
    """The speed reference: tantivy-py with its Russian Snowball stemmer."""

    name = "tantivy"

    def fingerprint(self):
        """The tantivy version (the analyzer and schema are fixed)."""
        return {"engine": self.name, "tantivy": package_version("tantivy"), "schema": 1}

    def build(self, articles, path):
        """One writer thread, 128 MB heap, one commit."""
        import tantivy

        os.makedirs(path, exist_ok=True)
        ix = tantivy.Index(_tantivy_schema(), path=path)
        ix.register_tokenizer("ru_stem", _tantivy_analyzer())
        writer = ix.writer(heap_size=128_000_000, num_threads=1)
        count = 0
        for article in articles:
            writer.add_document(tantivy.Document(
                id=article.id, headline=article.headline, body=article.body))
            count += 1
        writer.commit()
        writer.wait_merging_threads()
        return count

    def open(self, path):
        """A searcher over the index at ``path``."""
        return _TantivySearcher(path)


def _tantivy_analyzer():
    import tantivy

    return (tantivy.TextAnalyzerBuilder(tantivy.Tokenizer.simple())
            .filter(tantivy.Filter.remove_long(40))
            .filter(tantivy.Filter.lowercase())
            .filter(tantivy.Filter.stopword("russian"))
            .filter(tantivy.Filter.stemmer("russian"))
            .build())


def _tantivy_schema():
    import tantivy

    builder = tantivy.SchemaBuilder()
    builder.add_text_field("id", stored=True, tokenizer_name="raw")
    builder.add_text_field("headline", stored=True, tokenizer_name="ru_stem")
    builder.add_text_field("body", stored=True, tokenizer_name="ru_stem")
    return builder.build()


class _TantivySearcher:
    def __init__(self, path):
        import tantivy

        self.tantivy = tantivy
        self.ix = tantivy.Index.open(path)
        self.ix.register_tokenizer("ru_stem", _tantivy_analyzer())
        self.ix.reload()
        self.searcher = self.ix.searcher()

    def search(self, text, limit=10, snippets=False):
        query, _errors = self.ix.parse_query_lenient(text, ["headline", "body"])
        hits = self.searcher.search(query, limit).hits
        docs = [self.searcher.doc(address) for _score, address in hits]
        if snippets:
            generators = [self.tantivy.SnippetGenerator.create(
                self.searcher, query, self.ix.schema, name) for name in ("body", "headline")]
            for doc in docs[:SNIPPET_HITS]:
                for generator in generators:
                    generator.snippet_from_doc(doc).highlighted()
        return [doc.get_first("id") for doc in docs]

    def close(self):
        pass


ENGINES = {"poisk": PoiskEngine, "poisk-sphinx": PoiskSphinxEngine, "whoosh": WhooshEngine,
           "tantivy": TantivyEngine}


def make_engines(names, schema_options=None, ranking_options=None, ab_options=None):
    """Engine objects for the given names; tantivy is left out (with a note) if not installed.

    ``ab_options`` (Ranking fields) adds "poisk-b", poisk on the same indexes with
    those ranking options instead of ``ranking_options``: an A/B in one run.
    """
    engines, notes = [], []
    if ab_options is not None and "poisk" in names:
        names = [*names, "poisk-b"]
    for name in names:
        if name == "poisk-b":
            engines.append(PoiskEngine(schema_options, ab_options, label=name))
            continue
        if name not in ENGINES:
            raise SystemExit(f"unknown engine {name!r}: choose from {', '.join(ENGINES)}")
        if name == "tantivy" and package_version("tantivy") is None:
            notes.append("tantivy is not installed (pip install -e '.[bench]'): left out")
            continue
        if name in ("poisk", "poisk-sphinx"):
            engines.append(ENGINES[name](schema_options, ranking_options))
        else:
            engines.append(ENGINES[name]())
    return engines, notes
