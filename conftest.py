"""Doctests in indexer/ and search/ get ``sample_index``: the data/ sample, indexed once."""

import pathlib

import pytest


@pytest.fixture(scope="session", autouse=True)
def sample_index_for_doctests(doctest_namespace, tmp_path_factory):
    from indexer import build_index
    from search import open_index

    path = tmp_path_factory.mktemp("doctest") / "index"
    build_index([pathlib.Path(__file__).parent / "data"], path)
    with open_index(path) as index:
        doctest_namespace["sample_index"] = index
        yield
