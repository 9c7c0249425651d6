"""Doctests in indexer/ and search/ get ``sample_index``: the data/ sample, indexed once."""

import pathlib

import pytest


@pytest.fixture(scope="session", autouse=True)
def untimed_searches():
    """Searches without a time budget: on a loaded machine a test's search could run out
    of it and come back partial. The budget's own tests set it; bench/ measures times."""
    import functools

    import search.api
    from search.budget import Budget

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(search.api, "Budget", functools.partial(
            Budget, seconds=float("inf"), snippet_seconds=float("inf"),
            offer_seconds=float("inf")))
        yield


@pytest.fixture(scope="session", autouse=True)
def sample_index_for_doctests(doctest_namespace, tmp_path_factory, untimed_searches):
    from indexer import build_index
    from search import open_index

    path = tmp_path_factory.mktemp("doctest") / "index"
    build_index([pathlib.Path(__file__).parent / "data"], path)
    with open_index(path) as index:
        doctest_namespace["sample_index"] = index
        yield
