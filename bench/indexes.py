"""Relevance indexes: built once per engine and dataset, cached under the work folder.

An index lives in ``<work>/index/<dataset>-<engine>-<key>``, where the key
digests the corpus file (path, size, mtime), the dataset options and the
engine's fingerprint (for poisk: the source of ``indexer/`` and the schema
options, taken once when the engine object is made). A run reuses a finished
index unless ``rebuild`` is set; an index is built in a temporary folder and
renamed only when complete, so an interrupted build is never mistaken for a
finished one.
"""

import concurrent.futures
import json
import multiprocessing
import os
import shutil
import time

from bench.corpus import fingerprint

META_FILE = "bench-meta.json"


def index_path(work, engine, dataset):
    """Where the index of ``dataset`` built by ``engine`` is cached (an engine's A/B
    variant, named otherwise, shares its class's index)."""
    key = fingerprint([engine.fingerprint(), dataset.key()])
    return os.path.join(work, "index", f"{dataset.name}-{type(engine).name}-{key}")


def ensure_index(work, engine, dataset, rebuild=False):
    """The cached index of ``dataset`` by ``engine``, built here if missing (or ``rebuild``).

    Returns its metadata: path, docs, seconds (of the build) and cached (reused or not).
    """
    path = index_path(work, engine, dataset)
    meta_file = os.path.join(path, META_FILE)
    if not rebuild and os.path.exists(meta_file):
        with open(meta_file, encoding="utf-8") as f:
            return dict(json.load(f), path=path, cached=True)
    temporary = path + ".building"
    for folder in (temporary, path):
        shutil.rmtree(folder, ignore_errors=True)
    articles = dataset.articles()
    started = time.perf_counter()
    docs = engine.build(articles, temporary)
    meta = {"docs": docs, "seconds": round(time.perf_counter() - started, 2),
            "engine": engine.fingerprint(), "dataset": dataset.key()}
    with open(os.path.join(temporary, META_FILE), "w", encoding="utf-8") as f:
        json.dump(meta, f)
    os.replace(temporary, path)
    return dict(meta, path=path, cached=False)


def ensure_indexes(work, pairs, processes=2):
    """``ensure_index`` for (engine, dataset) pairs, ``processes`` at a time.

    Returns {(engine name, dataset name): metadata}.
    """
    context = multiprocessing.get_context("spawn")
    with concurrent.futures.ProcessPoolExecutor(processes, mp_context=context) as pool:
        futures = {(e.name, d.name): pool.submit(ensure_index, work, e, d) for e, d in pairs}
        return {key: future.result() for key, future in futures.items()}


def open_mixed_index(prog, description, argv=None):
    """The poisk index named by ``--index`` on the command line, with ``--ranking`` fields
    (JSON): the command line of the bench scripts that measure one ranking on one index.
    Searches have no time limit: on a loaded machine it cut them short at random."""
    import argparse

    from search import Ranking, open_index

    parser = argparse.ArgumentParser(prog=prog, description=description)
    parser.add_argument("--index", required=True, help="a poisk index of the mixed corpus")
    parser.add_argument("--ranking", default="{}", help="Ranking() fields as JSON")
    args = parser.parse_args(argv)
    from bench.engines import untimed_budget

    return open_index(args.index, ranking=Ranking(**json.loads(args.ranking)),
                      budget=untimed_budget())
