"""Speed: indexing throughput and memory in a child process, query latency percentiles.

Indexing runs in a fresh (spawned) child per engine, one engine at a time. The
child streams the documents from a JSONL file written beforehand, so its peak
memory is the engine's own: interpreter, libraries, analyzer and writer, not
the benchmark's copy of the corpus. poisk writes large runs in worker
processes of its own, so the peak is taken over the child's whole process
tree: the sum of the RSS of the child and its descendants, sampled every
0.2 s (an upper bound: pages a forked worker still shares with its parent are
counted twice), and never below the child's own ``VmHWM`` (Linux,
``/proc/self/status``). ``ru_maxrss`` would not do, because Linux carries the
parent's RSS at fork time over the fork and exec that start the child, so a
child of a 350 MiB parent reports at least 350 MiB. CPU time likewise counts
the child and its finished workers (``RUSAGE_CHILDREN``).
"""

import concurrent.futures
import math
import multiprocessing
import os
import resource
import shutil
import threading
import time

WARMUP_QUERIES = 30


def run_in_child(function, *args):
    """Call ``function(*args)`` in a fresh spawned process and return its result."""
    context = multiprocessing.get_context("spawn")
    with concurrent.futures.ProcessPoolExecutor(1, mp_context=context) as pool:
        return pool.submit(function, *args).result()


def measure_indexing(engine, docs_file, path, limit=None):
    """Index the first ``limit`` documents of ``docs_file`` into ``path`` in a child process.

    Returns docs, seconds (wall), cpu_seconds (the child's CPU time, all
    threads: steadier than wall time on a busy machine), docs_per_s (wall),
    size_bytes, peak_rss_bytes and start_rss_bytes (the child's peak before
    indexing began).
    """
    shutil.rmtree(path, ignore_errors=True)
    result = run_in_child(_index_in_child, engine, docs_file, path, limit)
    result["size_bytes"] = folder_size(path)
    result["docs_per_s"] = round(result["docs"] / result["seconds"], 1)
    result["docs_per_cpu_s"] = round(result["docs"] / result["cpu_seconds"], 1)
    return result


def _index_in_child(engine, docs_file, path, limit):
    from bench.corpus import read_jsonl

    engine.build([], path + ".warm")  # import the engine's modules before measuring
    shutil.rmtree(path + ".warm", ignore_errors=True)
    start_rss = _peak_rss()
    sampler = _TreeMemory()
    sampler.start()
    started, cpu_started = time.perf_counter(), _cpu_seconds()
    try:
        docs = engine.build(read_jsonl(docs_file, limit), path)
    finally:
        sampler.stop()
    seconds, cpu = time.perf_counter() - started, _cpu_seconds() - cpu_started
    return {"docs": docs, "seconds": round(seconds, 2), "cpu_seconds": round(cpu, 2),
            "peak_rss_bytes": max(_peak_rss(), sampler.peak), "start_rss_bytes": start_rss,
            "peak_own_rss_bytes": _peak_rss()}


def _cpu_seconds():
    """CPU time of this process (all threads) and of its children that have ended."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), \
        resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


class _TreeMemory(threading.Thread):
    """Samples the summed RSS of this process and its descendants; ``peak`` is the highest."""

    def __init__(self, every=0.2):
        super().__init__(daemon=True)
        self.every = every
        self.peak = 0
        self._stopped = threading.Event()

    def run(self):
        import psutil

        me = psutil.Process()
        while not self._stopped.wait(self.every):
            total = 0
            for process in [me, *me.children(recursive=True)]:
                try:
                    total += process.memory_info().rss
                except psutil.Error:
                    pass  # a worker that just ended
            self.peak = max(self.peak, total)

    def stop(self):
        self._stopped.set()
        self.join()


def _peak_rss():
    """This process's peak RSS in bytes: VmHWM where /proc has it, else ru_maxrss."""
    try:
        with open("/proc/self/status", encoding="ascii") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # KiB on Linux


def folder_size(path):
    """Bytes in the files under ``path``."""
    return sum(os.path.getsize(os.path.join(folder, name))
               for folder, _dirs, files in os.walk(path) for name in files)


def percentiles(samples):
    """p50, p95, p99 (nearest rank) and mean of samples in seconds, as milliseconds.

    >>> percentiles([0.001 * i for i in range(1, 101)])["p95"]
    95.0
    """
    ordered = sorted(samples)
    if not ordered:
        return {"p50": None, "p95": None, "p99": None, "mean": None, "n": 0}

    def rank(p):
        return round(1000 * ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)], 2)
    return {"p50": rank(50), "p95": rank(95), "p99": rank(99),
            "mean": round(1000 * sum(ordered) / len(ordered), 2), "n": len(ordered)}


def measure_latency(searcher, queries, snippets):
    """Per-query latency of ``searcher.search(text, limit=10, snippets=...)``; failures skipped.

    Wall-clock percentiles, plus ``cpu_p50``/``cpu_p95`` of the thread's CPU time
    (which another busy process on the machine does not inflate).
    """
    samples, cpu_samples, failures = [], [], 0
    for text in queries:
        started, cpu_started = time.perf_counter(), time.thread_time()
        try:
            searcher.search(text, limit=10, snippets=snippets)
        except Exception:  # e.g. poisk's QuerySyntaxError on stop words only
            failures += 1
            continue
        samples.append(time.perf_counter() - started)
        cpu_samples.append(time.thread_time() - cpu_started)
    cpu = percentiles(cpu_samples)
    return dict(percentiles(samples), cpu_p50=cpu["p50"], cpu_p95=cpu["p95"], failures=failures)


def measure_throughput(searcher, queries, clients=8, snippets=True):
    """Queries per second with ``clients`` threads sharing one searcher, each taking the
    next query of ``queries`` until all are answered (top 10, with snippets)."""
    import concurrent.futures

    def run(text):
        try:
            searcher.search(text, limit=10, snippets=snippets)
            return 0
        except Exception:  # e.g. stop words only: counted, not timed apart
            return 1

    started = time.perf_counter()
    with concurrent.futures.ThreadPoolExecutor(clients) as pool:
        failures = sum(pool.map(run, queries))
    seconds = time.perf_counter() - started
    return {"clients": clients, "queries": len(queries), "failures": failures,
            "seconds": round(seconds, 2), "qps": round(len(queries) / seconds, 1)}


def warm_up(searcher, query_groups, warmup=WARMUP_QUERIES):
    """The first ``warmup`` queries of each group, with and without snippets, unmeasured."""
    for queries in query_groups.values():
        for text in queries[:warmup]:
            for snippets in (False, True):
                try:
                    searcher.search(text, limit=10, snippets=snippets)
                except Exception:
                    pass


def latency_table(searcher, query_groups, warmup=WARMUP_QUERIES):
    """{group: {"search": stats, "snippets": stats}} after a warm-up on each group.

    The warm-up runs the first ``warmup`` queries of each group both ways (it
    loads the analyzer, the dictionaries and the index files); every query is
    then measured, search alone first, then search with top-10 snippets.
    """
    warm_up(searcher, query_groups, warmup)
    return {group: {"search": measure_latency(searcher, queries, False),
                    "snippets": measure_latency(searcher, queries, True)}
            for group, queries in query_groups.items()}
