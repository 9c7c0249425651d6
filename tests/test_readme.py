"""The README's promises: two commands on its first screen, CI runs the second, examples run."""

import os
import re
import shutil
import subprocess
import sys

import pytest

from tests.conftest import DATA, ROOT

README = (ROOT / "README.md").read_text(encoding="utf-8")
FIRST_SCREEN = README.split("\n## ", 1)[0]
COMMANDS = re.findall(r"```bash\n(.+?)\n```", FIRST_SCREEN, re.S)
INSTALL = "python3 -m venv .venv && .venv/bin/pip install "


def test_first_screen_has_exactly_two_commands():
    assert len(COMMANDS) == 2
    main, tests = COMMANDS
    assert main.startswith(INSTALL + ". && ")
    assert ".venv/bin/poisk index data/ && .venv/bin/poisk search " in main
    assert tests == INSTALL + "-e '.[test]' && .venv/bin/python -m pytest"
    assert len(FIRST_SCREEN.splitlines()) < 25


def test_ci_runs_the_readme_test_command():
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert COMMANDS[1] in ci.splitlines()


def _in_this_environment(command):
    """The README command without its install step, with this interpreter's bin folder."""
    steps = command.split(" && ")
    runs = [s for s in steps if not s.startswith(("python3 -m venv", ".venv/bin/pip"))]
    bin_dir = os.path.dirname(sys.executable)
    return " && ".join(s.replace(".venv/bin/", bin_dir + "/") for s in runs)


def test_main_command_indexes_and_searches_the_sample(tmp_path):
    shutil.copytree(DATA, tmp_path / "data")
    env = {k: v for k, v in os.environ.items() if k != "POISK_INDEX"}
    env["XDG_DATA_HOME"] = str(tmp_path / "xdg")  # the default index folder's parent
    result = subprocess.run(_in_this_environment(COMMANDS[0]), shell=True, cwd=tmp_path,
                            env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("30 added, 0 updated, 0 skipped, 0 failed in ")
    assert "found for 'редкоземельные металлы'" in result.stdout
    assert (tmp_path / "xdg" / "poisk" / "index" / "poisk-index.json").exists()
    assert not (tmp_path / ".poisk-index").exists()


def test_embedding_example_runs(tmp_path):
    example = re.search(r"## Embedding\n\n```python\n(.+?)\n```", README, re.S).group(1)
    assert len(example.splitlines()) <= 14
    shutil.copytree(DATA, tmp_path / "data")
    result = subprocess.run([sys.executable, "-c", example], cwd=tmp_path, capture_output=True,
                            text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == "7 articles"  # металл since 2026-01-01, see test_search.py
    assert "<<редкоземельных>>" in result.stdout


@pytest.mark.slow
def test_package_installs_from_a_clean_build(tmp_path):
    """`pip install .` as the README's first command does it (slow: builds a wheel)."""
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    pip = subprocess.run([str(venv / "bin" / "pip"), "install", "-q", str(ROOT)],
                         capture_output=True, text=True, timeout=900)
    assert pip.returncode == 0, pip.stderr
    version = subprocess.run([str(venv / "bin" / "poisk"), "--version"], capture_output=True,
                             text=True)
    assert version.stdout.strip() == "poisk 0.1.0"
