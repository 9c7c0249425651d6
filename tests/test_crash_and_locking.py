"""Crashes, Ctrl-C, a second writer and searches during a run, with real child processes.

Each test runs `python -m search index` on a corpus of 3,000 short synthetic
articles, committing every 200, and kills or interrupts it at chosen moments.
"""

import contextlib
import json
import os
import random
import re
import signal
import shutil
import subprocess
import sys
import threading
import time
import traceback

import pytest
from click.testing import CliRunner
from whoosh.index import TOC

from indexer import build_index
from indexer.build import writer_lock
from indexer.storage import LOCK_FILE, TOC_RE, open_whoosh_index, whoosh_index_exists
from search import open_index
from search.cli import cli

DOCUMENTS = 3000
SHORT = 1200
BATCH = 200
TIMEOUT = 120  # seconds; a run takes a few

SUBJECTS = ["Норильский комбинат", "Кузнецкий комбинат", "Комбинат в Братске",
            "Саяногорский комбинат", "Комбинат на Чукотке"]
VERBS = ["нарастил выпуск", "сократил добычу", "запустил производство", "отчитался о поставках",
         "модернизировал переработку"]
OBJECTS = ["никеля", "меди", "палладия", "угля", "алюминия", "редкоземельных металлов", "стали"]
PLACES = ["в Красноярском крае", "на Кольском полуострове", "в Кузбассе", "в Хакасии",
          "в Якутии", "в Иркутской области"]
SUMMARY_RE = re.compile(r"(\d+) added, 0 updated, (\d+) skipped, 0 failed in [\d.]+ s "
                        r"\([\d.]+ documents/s\)\n")


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    """A JSON Lines file of 3,000 articles, ids in file order; every one says "комбинат"."""
    rng = random.Random(2026)
    path = tmp_path_factory.mktemp("corpus") / "news.jsonl"
    ids = [f"doc-{n:05d}" for n in range(DOCUMENTS)]
    with open(path, "w", encoding="utf-8") as f:
        for n, doc_id in enumerate(ids):
            sentences = [f"{rng.choice(SUBJECTS)} {rng.choice(VERBS)} {rng.choice(OBJECTS)} "
                         f"{rng.choice(PLACES)}." for _ in range(6)]
            f.write(json.dumps({
                "id": doc_id, "title": f"{rng.choice(SUBJECTS)} {rng.choice(VERBS)}",
                "text": " ".join(sentences), "date": f"2026-{n % 12 + 1:02d}-{n % 28 + 1:02d}",
                "source": "synthetic"}, ensure_ascii=False) + "\n")
    return path, ids


@pytest.fixture(scope="module")
def short_corpus(corpus, tmp_path_factory):
    """The first 1,200 articles: enough commits for the tests that need no full run."""
    path, ids = corpus
    short = tmp_path_factory.mktemp("short") / "news.jsonl"
    lines = path.read_text(encoding="utf-8").splitlines(True)
    short.write_text("".join(lines[:SHORT]), encoding="utf-8")
    return short, ids[:SHORT]


def start(corpus_path, index, *extra):
    return subprocess.Popen(
        [sys.executable, "-m", "search", "index", str(corpus_path), "--index", str(index),
         "--batch-size", str(BATCH), *extra],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def run_to_the_end(corpus_path, index):
    finished = subprocess.run(
        [sys.executable, "-m", "search", "index", str(corpus_path), "--index", str(index),
         "--batch-size", str(BATCH)], capture_output=True, text=True, timeout=TIMEOUT)
    assert (finished.returncode, finished.stderr) == (0, "")
    return [int(n) for n in SUMMARY_RE.fullmatch(finished.stdout).groups()]


def generation(index):
    """The number of the newest commit (its table of contents), -1 before the first."""
    try:
        names = os.listdir(index)
    except FileNotFoundError:
        return -1
    return max((int(m.group(1)) for m in map(TOC_RE.fullmatch, names) if m), default=-1)


def wait_for_generation(index, process, wanted):
    deadline = time.monotonic() + TIMEOUT
    while generation(index) < wanted:
        if process.poll() is not None:
            pytest.fail(f"the run ended before commit {wanted}: {process.communicate()}")
        assert time.monotonic() < deadline
        time.sleep(0.002)


def committed(index, ids):
    """The number of committed documents, checking they are a prefix of the corpus."""
    if not whoosh_index_exists(index):
        return 0
    with open_index(index) as opened:
        count = opened.doc_count
        assert opened.search("*", limit=1).total == count
        assert len(opened.search("комбината", limit=5).hits) == min(count, 5)
    with open_whoosh_index(index).searcher() as searcher:
        stored = sorted(fields["id"] for fields in searcher.all_stored_fields())
    assert stored == ids[:count]  # no duplicates, no gaps
    return count


def no_process_outlives_the_run(index, patience=10.0):
    """True once no process runs an index command on ``index`` (the run's workers share its
    command line; they must die with it, not wait forever for work)."""
    needle = str(index).encode()
    deadline = time.monotonic() + patience
    while True:
        alive = []
        for pid in filter(str.isdigit, os.listdir("/proc")):
            try:
                with open(f"/proc/{pid}/cmdline", "rb") as f:
                    if needle in f.read():
                        alive.append(pid)
            except OSError:
                pass  # ended while we looked
        if not alive or time.monotonic() > deadline:
            return not alive
        time.sleep(0.05)


def kill_moments(index):
    """(name, wait) pairs: where in a run to SIGKILL it."""
    return [
        ("as it starts", lambda process: None),
        ("right after the first commit", lambda process: wait_for_generation(index, process, 1)),
        ("right after a commit mid-run",
         lambda process: wait_for_generation(index, process, generation(index) + 3)),
        ("between commits mid-run",
         lambda process: (wait_for_generation(index, process, generation(index) + 2),
                          time.sleep(0.08))),
        ("between commits mid-run, later",
         lambda process: (wait_for_generation(index, process, generation(index) + 1),
                          time.sleep(0.15))),
    ]


# The default run kills at two moments (a minute of the suite's five at most);
# the slow run at all five.
@pytest.mark.parametrize("moments", [
    pytest.param([0, 2], id="two moments"),
    pytest.param([0, 1, 2, 3, 4], id="every moment", marks=pytest.mark.slow),
])
def test_sigkill_at_any_moment_keeps_the_last_commit_and_the_next_run_finishes(
        corpus, tmp_path, moments):
    corpus_path, ids = corpus
    index = tmp_path / "ix"
    chosen = [kill_moments(index)[n] for n in moments]
    before = 0
    for moment, wait in chosen:
        process = start(corpus_path, index)
        wait(process)
        assert process.poll() is None, moment
        process.kill()
        assert process.wait(TIMEOUT) == -signal.SIGKILL
        assert no_process_outlives_the_run(index), moment
        count = committed(index, ids)
        assert count % BATCH == 0 and count >= before, moment
        if count > before:
            # The dead run's lock is still on disk, with its pid: the kernel has
            # released the flock, so it cannot block the next run.
            assert (index / LOCK_FILE).read_text() == f"pid {process.pid}"
        before = count
    assert 0 < before < DOCUMENTS
    added, skipped = run_to_the_end(corpus_path, index)
    assert (added, skipped) == (DOCUMENTS - before, before)
    assert committed(index, ids) == DOCUMENTS
    assert (index / LOCK_FILE).read_text() == ""


def test_ctrl_c_keeps_what_is_committed_and_says_so(short_corpus, tmp_path):
    corpus_path, ids = short_corpus
    index = tmp_path / "ix"
    process = start(corpus_path, index)
    wait_for_generation(index, process, 2)
    process.send_signal(signal.SIGINT)
    stdout, stderr = process.communicate(timeout=TIMEOUT)
    assert process.returncode == 130
    match = re.fullmatch(r"(\d+) added, 0 updated, 0 skipped, 0 failed in [\d.]+ s "
                         r"\([\d.]+ documents/s\)\n", stdout)
    added = int(match.group(1))
    assert stderr == (f"Interrupted: the index keeps the {added} documents committed before "
                      "Ctrl-C; run the same command again to finish.\n")
    # The batches being written are dropped, not waited for: whole batches only.
    assert BATCH <= added < SHORT and added % BATCH == 0
    assert committed(index, ids) == added
    assert not [name for name in os.listdir(index) if name.endswith(".tmp")]
    assert run_to_the_end(corpus_path, index) == [SHORT - added, added]
    assert committed(index, ids) == SHORT


def test_a_second_writer_is_refused_or_waits(short_corpus, tmp_path):
    corpus_path, ids = short_corpus
    index = tmp_path / "ix"
    extra = tmp_path / "extra.jsonl"
    extra.write_text(json.dumps({"id": "extra", "title": "Комбинат", "text": "Ещё одна новость."},
                                ensure_ascii=False))
    process = start(corpus_path, index)
    wait_for_generation(index, process, 1)
    refused = CliRunner().invoke(cli, ["index", str(extra), "--index", str(index)])
    assert (refused.exit_code, refused.output) == (
        1, f"Error: the index at {index} is locked by another writer (pid {process.pid}); "
           "wait for it to finish or pass --wait SECONDS\n")
    assert process.poll() is None
    waited = CliRunner().invoke(cli, ["index", str(extra), "--index", str(index), "--wait", "120"])
    assert waited.exit_code == 0
    assert waited.stdout.startswith("1 added, 0 updated, 0 skipped, 0 failed in ")
    stdout, _ = process.communicate(timeout=TIMEOUT)
    assert process.returncode == 0  # the first writer was not disturbed
    assert stdout.startswith(f"{SHORT} added, 0 updated, 0 skipped, 0 failed in ")
    with open_index(index) as opened:
        assert opened.doc_count == SHORT + 1


def test_wait_gives_up_after_its_timeout(tmp_path):
    index = tmp_path / "ix"
    index.mkdir()
    (tmp_path / "a.txt").write_text("Никель\nКомбинат выпустил никель.")
    with writer_lock(str(index)):
        started = time.monotonic()
        result = CliRunner().invoke(cli, ["index", str(tmp_path / "a.txt"), "--index", str(index),
                                          "--wait", "0.5"])
        waited = time.monotonic() - started
    assert (result.exit_code, result.output) == (
        1, f"Error: the index at {index} is locked by another writer (pid {os.getpid()}); "
           "wait for it to finish or pass --wait SECONDS\n")
    assert 0.5 <= waited < 5
    assert CliRunner().invoke(cli, ["index", str(tmp_path / "a.txt"), "--index",
                                    str(index)]).exit_code == 0


@pytest.mark.skipif(not os.path.isdir("/proc/self/fd"), reason="needs Linux /proc")
def test_ctrl_c_while_waiting_for_another_writer(tmp_path):
    index = tmp_path / "ix"
    index.mkdir()
    (tmp_path / "a.txt").write_text("Никель\nКомбинат выпустил никель.")
    with writer_lock(str(index)):
        process = start(tmp_path / "a.txt", index, "--wait", "120")
        lock = str(index / LOCK_FILE)
        deadline = time.monotonic() + TIMEOUT
        while lock not in _open_files(process.pid):
            assert process.poll() is None and time.monotonic() < deadline
            time.sleep(0.01)  # the child is now waiting for the lock
        process.send_signal(signal.SIGINT)
        stdout, stderr = process.communicate(timeout=TIMEOUT)
    assert process.returncode == 130
    assert stdout.startswith("0 added, 0 updated, 0 skipped, 0 failed in ")
    assert stderr == ("Interrupted: the index keeps the 0 documents committed before Ctrl-C; "
                      "run the same command again to finish.\n")


def _open_files(pid):
    """The paths a process has open (it may be opening and closing them meanwhile)."""
    folder, paths = f"/proc/{pid}/fd", set()
    try:
        names = os.listdir(folder)
    except FileNotFoundError:
        return paths
    for name in names:
        try:
            paths.add(os.readlink(os.path.join(folder, name)))
        except OSError:
            pass
    return paths


def test_searches_during_a_run_see_consistent_snapshots_and_never_fail(short_corpus, tmp_path):
    corpus_path, ids = short_corpus
    index = tmp_path / "ix"
    process = start(corpus_path, index)
    wait_for_generation(index, process, 0)
    errors, counts = [], {}

    def search_in_a_loop(name):
        seen = counts[name] = []
        try:
            with open_index(index) as opened:
                while process.poll() is None:
                    opened.refresh()
                    count = opened.doc_count
                    # One snapshot: every query sees the same documents.
                    assert opened.search("*", limit=1).total == count
                    assert len(opened.search("комбинат", limit=3).hits) == min(count, 3)
                    opened.search('"выпуск никеля" OR палладий', limit=3, sort="date")
                    seen.append(count)
                    time.sleep(0.02)  # leave the indexer some CPU
        except Exception as error:  # reported below, with the thread's name
            errors.append(f"{name}: {type(error).__name__}: {error}")

    threads = [threading.Thread(target=search_in_a_loop, args=(n,)) for n in range(2)]
    for thread in threads:
        thread.start()
    cli_results = set()
    while process.poll() is None:
        result = CliRunner().invoke(cli, ["search", "комбинат", "--index", str(index), "--json",
                                          "--limit", "1"])
        cli_results.add((result.exit_code, result.stderr))
        if result.exception is not None and not isinstance(result.exception, SystemExit):
            errors.append("cli: " + "".join(traceback.format_exception(*result.exc_info)))
        time.sleep(0.1)
    for thread in threads:
        thread.join()
    assert process.returncode == 0
    assert not errors, "\n".join(errors)
    assert cli_results == {(0, "")}
    for seen in counts.values():
        assert seen == sorted(seen)  # never goes back
        assert len(set(seen)) >= 3  # the searches ran while the index grew
    assert committed(index, ids) == SHORT


def test_totals_are_exact_on_an_index_of_several_commits(corpus, tmp_path):
    corpus_path, ids = corpus
    part = tmp_path / "part.jsonl"
    part.write_text("".join(corpus_path.read_text(encoding="utf-8").splitlines(True)[:800]),
                    encoding="utf-8")
    assert build_index([part], tmp_path / "ix", batch_size=BATCH).added == 800
    with open_index(tmp_path / "ix") as opened:
        assert [opened.search("комбинат", limit=n).total for n in (1, 10)] == [800, 800]


def _article(name, text):
    return json.dumps({"id": name, "title": name, "text": text, "date": "2026-01-01"},
                      ensure_ascii=False) + "\n"


# Opening reads the TOC three times: Whoosh's open_dir, the check that every segment opens,
# and the first searcher (the third was `ix.schema`, without retries, before the fix).
@pytest.mark.parametrize("stale_read", range(1, 4))
def test_opening_survives_a_commit_between_listing_and_reading_the_toc(tmp_path, monkeypatch,
                                                                      stale_read):
    """Whichever read of the table of contents a commit falls into while an index opens,
    the commit removes the TOC that read listed, and opening still succeeds."""
    first, second = tmp_path / "first.jsonl", tmp_path / "second.jsonl"
    first.write_text(_article("a", "Норильский комбинат нарастил выпуск никеля."), "utf-8")
    second.write_text(_article("b", "Кольский комбинат сократил выпуск никеля."), "utf-8")
    index = tmp_path / "ix"
    build_index([first], index)
    latest = TOC._latest_generation.__func__
    listed, committing = [], []

    def list_then_commit(cls, storage, indexname):
        generation = latest(cls, storage, indexname)
        if committing:  # the commit's own reads
            return generation
        listed.append(generation)
        if len(listed) == stale_read:
            committing.append(True)
            assert build_index([second], index).added == 1
            assert not (index / f"_MAIN_{generation}.toc").exists()  # the race, for real
        return generation

    monkeypatch.setattr(TOC, "_latest_generation", classmethod(list_then_commit))
    with open_index(index) as opened:
        assert opened.search("никель").total in (1, 2)
    assert committing  # the commit fell inside the opening


# -- --rebuild: the old index until the new one is complete ----------------------------------

REBUILD_OLD, REBUILD_NEW, REBUILD_BATCH = 300, 400, 50


def stored_ids(index):
    with open_index(index) as opened:
        assert opened.search("*", limit=1).total == opened.doc_count
        assert opened.search("комбината", limit=1).hits
    with open_whoosh_index(index).searcher() as searcher:
        return sorted(fields["id"] for fields in searcher.all_stored_fields())


def newest_toc_anywhere(index):
    """The latest modification time of any table of contents under ``index``.

    A running indexer deletes superseded tables of contents (and, at the end of a rebuild,
    the whole rebuild folder) between our listing a name and reading its time: those are skipped.
    """
    times = []
    for folder, _, names in os.walk(index):
        for name in filter(TOC_RE.fullmatch, names):
            try:
                times.append(os.stat(os.path.join(folder, name)).st_mtime)
            except FileNotFoundError:
                pass  # superseded while we looked; a newer one is listed or comes next poll
    return max(times, default=0.0)


def indexed_then_new(corpus, tmp_path):
    """An index of the corpus's first REBUILD_OLD articles, and a file of the next REBUILD_NEW.

    Returns (index, new file, old ids, new ids).
    """
    corpus_path, ids = corpus
    lines = corpus_path.read_text(encoding="utf-8").splitlines(True)
    old, new = tmp_path / "old.jsonl", tmp_path / "new.jsonl"
    old.write_text("".join(lines[:REBUILD_OLD]), encoding="utf-8")
    new.write_text("".join(lines[REBUILD_OLD:REBUILD_OLD + REBUILD_NEW]), encoding="utf-8")
    index = tmp_path / "ix"
    build_index([old], index, workers=0)
    return index, new, ids[:REBUILD_OLD], ids[REBUILD_OLD:REBUILD_OLD + REBUILD_NEW]


def test_sigkill_during_a_rebuild_keeps_the_old_index_whole(corpus, tmp_path):
    index, new, old_ids, new_ids = indexed_then_new(corpus, tmp_path)
    for commits in (0, 1, 3):  # killed as it starts, after its first and its third commit
        started = newest_toc_anywhere(index)
        process = subprocess.Popen(
            [sys.executable, "-m", "search", "index", str(new), "--index", str(index),
             "--rebuild", "--batch-size", str(REBUILD_BATCH), "--workers", "0"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        for _ in range(commits):
            deadline = time.monotonic() + TIMEOUT
            while newest_toc_anywhere(index) <= started:
                assert process.poll() is None and time.monotonic() < deadline
                time.sleep(0.002)
            started = newest_toc_anywhere(index)
        process.kill()
        assert process.wait(TIMEOUT) == -signal.SIGKILL
        assert stored_ids(index) == old_ids, commits  # searchable, and not a document lost
    finished = subprocess.run(
        [sys.executable, "-m", "search", "index", str(new), "--index", str(index), "--rebuild",
         "--batch-size", str(REBUILD_BATCH), "--workers", "0"],
        capture_output=True, text=True, timeout=TIMEOUT)
    assert (finished.returncode, finished.stderr) == (0, "")
    assert stored_ids(index) == new_ids
    assert not [name for name in os.listdir(index) if name.endswith(".tmp")]  # no rebuild folder


def test_ctrl_c_during_a_rebuild_keeps_the_old_index(corpus, tmp_path):
    index, new, old_ids, _ = indexed_then_new(corpus, tmp_path)
    started = newest_toc_anywhere(index)
    process = subprocess.Popen(
        [sys.executable, "-m", "search", "index", str(new), "--index", str(index), "--rebuild",
         "--batch-size", str(REBUILD_BATCH), "--workers", "0"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + TIMEOUT
    while newest_toc_anywhere(index) <= started:  # the rebuild's first commit
        assert process.poll() is None and time.monotonic() < deadline
        time.sleep(0.002)
    process.send_signal(signal.SIGINT)
    stdout, stderr = process.communicate(timeout=TIMEOUT)
    assert process.returncode == 130
    assert stdout.startswith("0 added, 0 updated, 0 skipped, 0 failed in ")
    assert stderr == ("Interrupted: the unfinished rebuild was dropped and the index is as it "
                      "was before; run the same command again to finish.\n")
    assert stored_ids(index) == old_ids
    assert not [name for name in os.listdir(index) if name.endswith(".tmp")]


# -- Ctrl-C during the last commit and the merge ----------------------------------------------

@pytest.mark.parametrize("delay", [0.0, pytest.param(0.3, marks=pytest.mark.slow)])
def test_ctrl_c_during_the_final_commit_and_merge_exits_130_with_a_consistent_index(
        corpus, tmp_path, delay):
    corpus_path, ids = corpus
    documents, batch = 600, 50  # 12 commits, then one to clean up and a merge of 10 segments
    path = tmp_path / "news.jsonl"
    path.write_text("".join(corpus_path.read_text(encoding="utf-8").splitlines(True)[:documents]),
                    encoding="utf-8")
    index = tmp_path / "ix"
    process = subprocess.Popen(
        [sys.executable, "-m", "search", "index", str(path), "--index", str(index),
         "--batch-size", str(batch)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    wait_for_generation(index, process, documents // batch)  # the last batch is committed
    time.sleep(delay)
    assert process.poll() is None, "the run ended before Ctrl-C could reach it"
    process.send_signal(signal.SIGINT)
    stdout, stderr = process.communicate(timeout=TIMEOUT)
    assert process.returncode == 130, (stdout, stderr)
    assert stderr.startswith("Interrupted"), stderr
    assert committed(index, ids) == documents  # every batch was committed before Ctrl-C
    assert not [name for name in os.listdir(index) if name.endswith(".tmp")]


# -- a full disk and a folder that cannot be written ------------------------------------------

@contextlib.contextmanager
def small_file_system(folder, size="1m"):
    """A real tmpfs of ``size`` mounted at ``folder`` (root only), unmounted afterwards."""
    folder.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(folder)],
                             capture_output=True, text=True)
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here ({mounted.stderr.strip()})")
    try:
        yield folder
    finally:
        subprocess.run(["umount", "-l", str(folder)], check=False)


def listed_segments(index):
    """The segment ids the newest table of contents lists, read by the index's own reader."""
    ix = open_whoosh_index(index)
    try:
        return {segment.segment_id() for segment in ix._segments()}
    finally:
        ix.close()


@pytest.mark.skipif(os.geteuid() != 0, reason="mounting a small file system needs root")
def test_a_full_disk_gives_one_error_line_and_leaves_no_half_segment(corpus, tmp_path):
    corpus_path, ids = corpus
    with small_file_system(tmp_path / "disk") as disk:
        index = disk / "ix"
        first = subprocess.run(
            [sys.executable, "-m", "search", "index", str(corpus_path), "--index", str(index),
             "--batch-size", "300", "--workers", "0"], capture_output=True, text=True,
            timeout=TIMEOUT)
        assert first.returncode == 1, first
        assert first.stdout == ""
        assert re.fullmatch(r"Error: cannot write the index at \S+ \(No space left on device; "
                            r"[\d.]+ MB free\); the index keeps its last commit: free some "
                            r"space and run the same command again\n", first.stderr), first.stderr
        count = committed(index, ids)  # opens, searches, and holds whole batches in order
        assert count % 300 == 0 and count < DOCUMENTS
        segments = listed_segments(index)
        leftovers = [name for name in os.listdir(index) if name.startswith("MAIN")
                     and name.split(".")[0] not in segments and name != "MAIN_WRITELOCK"]
        assert leftovers == [] and not [n for n in os.listdir(index) if n.endswith(".tmp")]


def test_an_index_folder_that_cannot_be_written_gives_one_error_line(short_corpus, tmp_path):
    corpus_path, ids = short_corpus
    index = tmp_path / "ix"
    first = tmp_path / "first.jsonl"
    first.write_text("".join(corpus_path.read_text(encoding="utf-8").splitlines(True)[:100]),
                     encoding="utf-8")
    build_index([first], index, workers=0)
    (tmp_path / "more.jsonl").write_text(json.dumps(
        {"id": "more", "title": "Никель", "text": "Комбинат нарастил выпуск никеля."},
        ensure_ascii=False) + "\n", encoding="utf-8")
    command = [sys.executable, "-m", "search", "index", str(tmp_path / "more.jsonl"), "--index",
               str(index)]
    if os.geteuid() == 0:  # root writes anywhere: run it without the power to
        if not shutil.which("setpriv"):
            pytest.skip("root without setpriv to drop its file permission override")
        command = ["setpriv", "--bounding-set", "-dac_override,-dac_read_search,-fowner", "--",
                   *command]
    (index / LOCK_FILE).chmod(0o666)  # the lock file is writable, the folder is not
    index.chmod(0o555)
    try:
        result = subprocess.run(command, capture_output=True, text=True, timeout=TIMEOUT)
    finally:
        index.chmod(0o755)
    assert result.returncode == 1, result
    assert result.stderr == (f"Error: cannot write the index at {index} (Permission denied); "
                             "the index keeps its last commit: make the folder writable and "
                             "run the same command again\n")
    assert committed(index, ids) == 100


# -- a merge beside the workers: SIGKILL and Ctrl-C while it runs ------------------------------

# The run with groups of 3 segments: 15 commits of 200 make merges while batches are written.
SMALL_GROUPS = ("import sys; from indexer import merging; "
                "merging.SEGMENTS_PER_TIER = merging.MAX_MERGE_SEGMENTS = 3; "
                "from search.cli import main; main()")


def start_with_small_groups(corpus_path, index):
    return subprocess.Popen(
        [sys.executable, "-c", SMALL_GROUPS, "index", str(corpus_path), "--index", str(index),
         "--batch-size", str(BATCH), "--workers", "2"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def merging_child(process):
    """The pid of the run's child that is merging (it names itself so), or None."""
    try:
        with open(f"/proc/{process.pid}/task/{process.pid}/children", encoding="ascii") as f:
            children = f.read().split()
    except OSError:
        return None
    for child in children:
        try:
            with open(f"/proc/{child}/comm", "rb") as f:
                if f.read().strip() == b"poisk-merging":
                    return int(child)
        except OSError:
            pass  # ended while we looked
    return None


def wait_for_a_merge(process):
    deadline = time.monotonic() + TIMEOUT
    while (child := merging_child(process)) is None:
        if process.poll() is not None:
            pytest.fail(f"the run ended before a merge was seen: {process.communicate()}")
        assert time.monotonic() < deadline
        time.sleep(0.002)
    return child


def only_what_is_listed(index):
    """The folder holds the files of the segments the last commit lists, nothing half-made."""
    listed = listed_segments(index)
    names = os.listdir(index)
    segment_file = TOC._segment_pattern("MAIN")
    on_disk = {m.group(1) for m in map(segment_file.fullmatch, names) if m}
    leftovers = [n for n in names if n.endswith(".tmp") or n.startswith("poisk-merging-")]
    return on_disk == listed and not leftovers


def assert_the_next_run_completes_it(corpus_path, index, ids):
    """Whole batches were committed; the same command again adds the rest, each article once."""
    count = committed(index, ids)
    assert count % BATCH == 0 and count >= 3 * BATCH
    assert run_to_the_end(corpus_path, index) == [DOCUMENTS - count, count]
    assert committed(index, ids) == DOCUMENTS
    assert only_what_is_listed(index)


needs_proc_children = pytest.mark.skipif(
    not os.path.exists(f"/proc/{os.getpid()}/task/{os.getpid()}/children"),
    reason="needs /proc/PID/task/TID/children to find the merging process")


@needs_proc_children
def test_sigkill_of_a_run_while_it_merges_keeps_the_last_commit(corpus, tmp_path):
    corpus_path, ids = corpus
    index = tmp_path / "ix"
    process = start_with_small_groups(corpus_path, index)
    wait_for_a_merge(process)
    process.kill()
    assert process.wait(TIMEOUT) == -signal.SIGKILL
    assert no_process_outlives_the_run(index)  # the merging process died with the run
    assert_the_next_run_completes_it(corpus_path, index, ids)


@needs_proc_children
def test_a_killed_merging_process_stops_the_run_with_the_last_commit_whole(corpus, tmp_path):
    corpus_path, ids = corpus
    index = tmp_path / "ix"
    process = start_with_small_groups(corpus_path, index)
    os.kill(wait_for_a_merge(process), signal.SIGKILL)
    stdout, stderr = process.communicate(timeout=TIMEOUT)
    assert process.returncode == 1, (stdout, stderr)
    assert stderr.startswith("Error: a merge failed (the merging process died"), stderr
    assert stderr.endswith("run the same command again\n"), stderr
    assert no_process_outlives_the_run(index)
    assert_the_next_run_completes_it(corpus_path, index, ids)


@needs_proc_children
def test_ctrl_c_while_a_merge_runs_ends_it_and_keeps_what_is_committed(corpus, tmp_path):
    corpus_path, ids = corpus
    index = tmp_path / "ix"
    process = start_with_small_groups(corpus_path, index)
    wait_for_a_merge(process)
    process.send_signal(signal.SIGINT)
    stdout, stderr = process.communicate(timeout=TIMEOUT)
    assert process.returncode == 130, (stdout, stderr)
    assert stderr.startswith("Interrupted: the index keeps the "), stderr
    assert no_process_outlives_the_run(index)
    count = committed(index, ids)
    assert count % BATCH == 0 and count >= 3 * BATCH
    assert only_what_is_listed(index)  # the merge's files are gone with it
