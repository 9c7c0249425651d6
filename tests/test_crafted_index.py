"""A crafted index folder runs no code: forged marker, crafted pickles, the current folder.

Each payload is a real pickle that creates a file when unpickled by plain
``pickle``; every poisk command that opens the folder must refuse it with one
``Error:`` line, and the file must never appear.
"""

import io
import os
import pickle
import shutil
import subprocess
import sys

import pytest
from whoosh import index as whoosh_index
from whoosh.filedb.structfile import StructFile

from indexer.storage import create_index
from indexer.unpickling import loads_data
from tests.conftest import DATA


class Payload:
    """Unpickling this calls ``os.system``: the proof that code ran is a file."""

    def __init__(self, proof):
        self.proof = proof

    def __reduce__(self):
        return (os.system, (f"touch {self.proof}",))


def _toc_parts(path):
    """(header bytes, schema pickle, generation and unused ints, segment-list pickle)."""
    [toc] = path.glob("_MAIN_*.toc")
    stream = StructFile(io.BytesIO(toc.read_bytes()))
    for _ in range(3):
        stream.read_varint()
    stream.read_int(), stream.read_int()
    for _ in range(3):
        stream.read_varint()
    header_end = stream.tell()
    schema = stream.read_string()
    middle_start = stream.tell()
    stream.read_int(), stream.read_int()
    middle_end = stream.tell()
    data = toc.read_bytes()
    return toc, data[:header_end], schema, data[middle_start:middle_end], data[middle_end:]


def _write_toc(toc, header, schema, middle, segments):
    out = StructFile(io.BytesIO())
    out.write(header)
    out.write_string(schema)
    out.write(middle + segments)
    toc.write_bytes(out.file.getvalue())


def crafted_schema(path, proof):
    toc, header, _, middle, segments = _toc_parts(path)
    _write_toc(toc, header, pickle.dumps(Payload(proof), 2), middle, segments)


def crafted_segments(path, proof):
    toc, header, schema, middle, _ = _toc_parts(path)
    _write_toc(toc, header, schema, middle, pickle.dumps(Payload(proof), 2))


def crafted_stored_field(path, proof):
    """A real segment whose stored ``url`` is the payload, written through Whoosh."""
    writer = create_index(path).writer()
    writer.add_document(id="x", headline="Никель", body="Никель и медь.", url=Payload(proof))
    writer.commit()


CRAFTED = [
    ("schema in the table of contents", crafted_schema, "posix.system"),
    ("segment list in the table of contents", crafted_segments, "posix.system"),
]

COMMANDS = [["search", "никель"], ["stats"], ["show", "x"], ["delete", "x"],
            ["index", str(DATA)]]


def run_poisk(args, cwd, env=None):
    return subprocess.run([sys.executable, "-m", "search", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=120)


@pytest.fixture(scope="module")
def built_index(tmp_path_factory):
    from indexer import build_index
    path = tmp_path_factory.mktemp("built") / "ix"
    assert build_index([DATA], path).added == 30
    return path


@pytest.mark.parametrize("name, craft, reference", CRAFTED, ids=[c[0] for c in CRAFTED])
@pytest.mark.parametrize("command", COMMANDS, ids=[c[0] for c in COMMANDS])
def test_a_crafted_table_of_contents_runs_no_code(built_index, tmp_path, name, craft, reference,
                                                  command):
    path, proof = tmp_path / "ix", tmp_path / "code-ran"
    shutil.copytree(built_index, path)  # a marker file is there: forged or real, it is trusted
    craft(path, proof)
    result = run_poisk([*command, "--index", str(path)], tmp_path)
    assert not proof.exists()
    assert result.returncode == 1
    assert result.stderr == (
        f"Error: {path}: the index holds a pickled reference to {reference}, which poisk never "
        "writes: the folder was crafted or damaged; rebuild it with "
        "`poisk index --rebuild PATH...`\n")


def test_a_crafted_stored_field_runs_no_code(tmp_path):
    path, proof = tmp_path / "ix", tmp_path / "code-ran"
    crafted_stored_field(path, proof)
    assert not proof.exists()
    for command in (["search", "никель"], ["show", "x"]):
        result = run_poisk([*command, "--index", str(path)], tmp_path)
        assert not proof.exists(), command
        assert result.returncode == 1, command
        assert result.stderr.startswith("Error: ") and len(result.stderr.splitlines()) == 1
        assert "pickled reference to posix.system" in result.stderr
    whoosh_index.open_dir(path)  # the table of contents itself is sound


@pytest.mark.parametrize("pickled", [
    pickle.dumps(Payload("/nonexistent/x"), 0),
    pickle.dumps(Payload("/nonexistent/x"), 2),
    pickle.dumps(Payload("/nonexistent/x"), 5),
    b"cbuiltins\neval\n(S'1'\ntR.",
    b"cbuiltins\ngetattr\n.",
], ids=["protocol 0", "protocol 2", "protocol 5", "eval", "getattr"])
def test_data_pickles_admit_no_callable(pickled):
    with pytest.raises(Exception, match="pickled reference to"):
        loads_data(pickled)


def test_the_default_index_is_not_in_the_current_folder(built_index, tmp_path):
    untrusted, data_home, proof = tmp_path / "untrusted", tmp_path / "xdg", tmp_path / "code-ran"
    shutil.copytree(built_index, untrusted / ".poisk-index")
    crafted_schema(untrusted / ".poisk-index", proof)
    env = {k: v for k, v in os.environ.items() if k != "POISK_INDEX"}
    env["XDG_DATA_HOME"] = str(data_home)
    result = run_poisk(["search", "никель"], untrusted, env)
    assert (result.returncode, result.stderr) == (
        1, f"Error: no index at {data_home}/poisk/index: run `poisk index PATH...` first\n")
    indexed = run_poisk(["index", str(DATA)], untrusted, env)
    assert indexed.returncode == 0, indexed.stderr
    assert (data_home / "poisk" / "index" / "poisk-index.json").exists()
    assert run_poisk(["search", "никель"], untrusted, env).returncode == 0
    env["POISK_INDEX"] = str(tmp_path / "chosen")
    assert run_poisk(["index", str(DATA)], untrusted, env).returncode == 0
    assert (tmp_path / "chosen" / "poisk-index.json").exists()
    assert not proof.exists()
