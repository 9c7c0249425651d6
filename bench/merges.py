"""What a merge costs: the same segments merged by copying blocks and by Whoosh's ``add_reader``.

Copies the ``--segments`` smallest segments of an index (their files, sidecars
included) into a scratch folder under a table of contents of their own, then
merges that copy into one segment, by ``indexer.blockcopy`` and by Whoosh's
``add_reader`` in turn (a fresh copy each time, ``--rounds`` times each), and
reports each merge's CPU time (``time.process_time``: the merge runs in this
process alone, so other processes on the machine do not count), per 1,000
documents, with the load average. The merged segments' files are compared
byte for byte (Whoosh's part: ``.pst``, ``.trm``, columns and stored fields).

    python -m bench.merges [--index /work/indexes/synth-100k-19] [--segments 10] [--rounds 1]
"""

import argparse
import os
import shutil
import tempfile
import time

from whoosh.filedb.filestore import FileStorage
from whoosh.index import TOC

from indexer.merging import merge_segments
from indexer.sidecar import SUFFIX
from indexer.storage import MARKER_FILE, open_whoosh_index


def scratch_copy(index_dir, count, folder):
    """An index in ``folder`` of the ``count`` smallest segments of ``index_dir`` (in their
    order there); returns its document count."""
    ix = open_whoosh_index(index_dir)
    try:
        chosen = sorted(ix._segments(), key=lambda s: s.doc_count_all())[:count]
        chosen = [s for s in ix._segments() if s in chosen]
        os.makedirs(folder)
        for segment in chosen:
            for name in os.listdir(index_dir):
                if name.startswith(segment.segment_id() + "."):
                    shutil.copyfile(os.path.join(index_dir, name), os.path.join(folder, name))
        shutil.copyfile(os.path.join(index_dir, MARKER_FILE), os.path.join(folder, MARKER_FILE))
        TOC(ix.schema, chosen, 1).write(FileStorage(folder), ix.indexname)
        return sum(s.doc_count_all() for s in chosen)
    finally:
        ix.close()


def whoosh_files(folder):
    """The merged segment's files inside its compound file, named without its id."""
    ix = open_whoosh_index(folder)
    [segment] = ix._segments()
    storage = segment.open_compound_file(ix.storage)
    name = segment.segment_id()
    try:
        return {n.replace(name, ""): bytes(storage.open_file(n).read()) for n in storage.list()}
    finally:
        storage.close()
        ix.close()


def sidecar_bytes(folder):
    [name] = [n for n in os.listdir(folder) if n.endswith(SUFFIX)]
    with open(os.path.join(folder, name), "rb") as file:
        return file.read()


def merge_once(index_dir, count, scratch, copy, compare=True):
    """CPU seconds of merging a fresh copy; the copy's files (Whoosh's, sidecar) if
    ``compare`` (read into memory: as large as the merged segment)."""
    folder = os.path.join(scratch, f"copy-{copy}")
    documents = scratch_copy(index_dir, count, folder)
    ix = open_whoosh_index(folder)
    started = time.process_time()
    try:
        before, after = merge_segments(ix, everything=True, copy=copy)
    finally:
        ix.close()
    spent = time.process_time() - started
    assert (before, after) == (count, 1), (before, after)
    files = (whoosh_files(folder), sidecar_bytes(folder)) if compare else None
    shutil.rmtree(folder)
    return documents, spent, files


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--index", default="/work/indexes/synth-100k-19")
    parser.add_argument("--segments", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--scratch", default=None, help="folder for the copies (default: /tmp)")
    parser.add_argument("--copy-only", action="store_true", help="skip add_reader")
    args = parser.parse_args(argv)
    scratch = tempfile.mkdtemp(prefix="poisk-merges-", dir=args.scratch)
    times, files = {True: [], False: []}, {}
    try:
        for round_ in range(args.rounds):
            for copy in (True,) if args.copy_only else (True, False):
                documents, spent, files[copy] = merge_once(args.index, args.segments, scratch,
                                                           copy, not args.copy_only)
                times[copy].append(spent)
                print(f"round {round_ + 1}, {'copying blocks' if copy else 'add_reader'}: "
                      f"{args.segments} segments, {documents:,} documents, {spent:.1f} CPU-s "
                      f"({spent / documents * 1000:.2f} ms a document), "
                      f"load {os.getloadavg()[0]:.1f}", flush=True)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    if args.copy_only:
        return 0
    same = files[True] == files[False]
    best = {copy: min(spent) for copy, spent in times.items()}
    print(f"best of {args.rounds}: copying {best[True]:.1f} CPU-s, add_reader "
          f"{best[False]:.1f} CPU-s, {best[False] / best[True]:.1f} times; merged files "
          f"{'identical' if same else 'DIFFERENT'}")
    return 0 if same else 1


if __name__ == "__main__":
    raise SystemExit(main())
