"""Shared fixtures: the sample index is built once per session in a temporary folder."""

import pathlib

import pytest

from indexer import build_index, russian_analyzer
from search import open_index

ROOT = pathlib.Path(__file__).resolve().parent.parent
DATA = ROOT / "data"


@pytest.fixture(scope="session")
def analyzer():
    return russian_analyzer()


@pytest.fixture(scope="session")
def sample_index_dir(tmp_path_factory):
    path = tmp_path_factory.mktemp("sample") / "index"
    report = build_index([DATA], path)
    assert report.added == 30 and report.failed == 0
    return path


@pytest.fixture(scope="session")
def sample_index(sample_index_dir):
    with open_index(sample_index_dir) as index:
        yield index
