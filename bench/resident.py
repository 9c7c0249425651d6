"""Which parts of the mapped index files a process holds in memory (Linux only).

A mapped file's page counts in the process's resident memory once the process has touched
it. ``/proc/self/maps`` gives each mapping's address range and file, ``/proc/self/pagemap``
one 64-bit entry per page whose bit 63 says the page is mapped in (readable by the process
itself). Each mapped index file is split into its parts: a Whoosh compound segment
(``.seg``) by the directory at its end (terms ``.trm``, postings ``.pst``, stored articles
``.sto``, field lengths ``.fln``, columns ``.col``), a posting sidecar by its layout
(``.poisk_postings.json``).
"""

import json
import mmap
import os
import struct

__all__ = ["mapped_parts"]

PRESENT = 1 << 63


def _mappings():
    """[(start, end, file offset, path)] of the process's file mappings."""
    found = []
    with open("/proc/self/maps") as maps:
        for line in maps:
            fields = line.split(maxsplit=5)
            if len(fields) == 6 and fields[5].startswith("/"):
                start, end = (int(x, 16) for x in fields[0].split("-"))
                found.append((start, end, int(fields[2], 16), fields[5].strip()))
    return found


def _present(pagemap, start, end):
    """Page numbers (from ``start``) of the pages in [start, end) that are mapped in."""
    page = mmap.PAGESIZE
    pagemap.seek(start // page * 8)
    data = pagemap.read((end - start) // page * 8)
    return [i for i, (entry,) in enumerate(struct.iter_unpack("<Q", data)) if entry & PRESENT]


def _parts(path):
    """[(part name, offset, length)] of an index file, or None for another file."""
    if path.endswith(".seg"):
        from whoosh.filedb.compound import CompoundStorage
        from whoosh.filedb.structfile import StructFile

        storage = CompoundStorage(StructFile(open(path, "rb")), use_mmap=False)
        try:
            # "<segment id>.<field>.col", "<segment id>.trm": the part after the id
            return [(name.split(".", 1)[-1], info["offset"], info["length"])
                    for name, info in storage._dir.items()]
        finally:
            storage.close()
    if path.endswith(".poisk_postings"):
        with open(path + ".json") as handle:
            sections = json.load(handle)["sections"]
        ends = sorted(start for start, _ in sections.values()) + [os.path.getsize(path)]
        return [(name, start, min(e for e in ends if e > start) - start)
                for name, (start, _) in sections.items()]
    return None


def mapped_parts(folder=None) -> dict:
    """{file name: {part: resident MiB}} of the index files this process maps (of ``folder``
    only, when given); each file's ``total`` too. A page that holds the end of one part and
    the start of the next counts as ``shared``."""
    page = mmap.PAGESIZE
    report = {}
    with open("/proc/self/pagemap", "rb") as pagemap:
        for start, end, offset, path in _mappings():
            if folder and os.path.dirname(path) != os.path.abspath(folder):
                continue
            parts = _parts(path)
            if parts is None:
                continue
            pages = _present(pagemap, start, end)
            counts = {}
            for number in pages:
                lo = offset + number * page
                inside = [name for name, at, size in parts if at <= lo and lo + page <= at + size]
                name = inside[0] if inside else "shared"
                counts[name] = counts.get(name, 0) + 1
            entry = report.setdefault(os.path.basename(path), {})
            for name, count in counts.items():
                entry[name] = round(entry.get(name, 0) + count * page / 2**20, 3)
            entry["total"] = round(entry.get("total", 0) + len(pages) * page / 2**20, 3)
    return report
