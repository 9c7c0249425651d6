"""What a fresh ``poisk search`` process does before its first answer, kept the same."""

from whoosh.columns import VarBytesColumn

from indexer.mapped import _whoosh_offsets_and_lengths
from indexer.storage import open_whoosh_index


def test_column_offsets_are_whooshs(sample_index_dir):
    """The columns' offsets summed by numpy (indexer.mapped) are those Whoosh's loop gives."""
    reader = open_whoosh_index(sample_index_dir).reader()
    checked = 0
    for leaf, _ in reader.leaf_readers():
        for field in ("story", "id", "_stored"):
            column = leaf.column_reader(field) if field != "_stored" else \
                leaf._perdoc._cached_reader("_stored", __import__(
                    "whoosh.codec.whoosh3", fromlist=["x"]).STORED_COLUMN)
            while not isinstance(column, VarBytesColumn.Reader):
                column = getattr(column, "_reader", None) or column._child
            ours = (column._offsets.tolist(), column._lengths.tolist())
            assert sum(ours[1]) > 0
            _whoosh_offsets_and_lengths(column)
            assert ours == (column._offsets.tolist(), column._lengths.tolist())
            checked += 1
    assert checked >= 3
