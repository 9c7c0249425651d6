"""Type hints: the README's embedding example type-checks with mypy --strict, and misuses do not."""

import re

from mypy import api as mypy

from tests.conftest import ROOT
from tests.test_readme import README

EXAMPLE = re.search(r"## Embedding\n\n```python\n(.+?)\n```", README, re.S).group(1)

# A line added at the end of the example (in its `with` block) -> what mypy says about it.
MISUSES = [
    ("reveal_type(result.hits[0])", 'note: Revealed type is "search.api.Hit"'),
    ("reveal_type(result.hits[0].date)", 'note: Revealed type is "datetime.date | None"'),
    ("reveal_type(result.hits[0].snippets[0].highlights)",
     'note: Revealed type is "tuple[search.snippets.Span, ...]"'),
    ("result.total.upper()", 'error: "int" has no attribute "upper"'),
    ("result.hits[0].date.year", 'error: Item "None" of "date | None" has no attribute "year"'),
    # open_index gives an Index or a SphinxIndex (manticore://): both are typed.
    ("index.search(42)", tuple(f'error: Argument 1 to "search" of "{name}" has incompatible '
                               'type "int"; expected "str"' for name in ("Index", "SphinxIndex"))),
    ("build_index('data/', index_dir, batch_size='10')",
     'error: Argument "batch_size" to "build_index" has incompatible type "str"; expected "int"'),
]


def test_the_readme_example_type_checks_and_misuses_do_not(tmp_path, monkeypatch):
    example = tmp_path / "example.py"
    example.write_text(EXAMPLE + "\n", encoding="utf-8")
    misuse = tmp_path / "misuse.py"
    lines = EXAMPLE.split("\n")  # it ends inside its `with open_index(...) as index:` block
    misuse.write_text("\n".join(lines + [f"    {code}" for code, _ in MISUSES]) + "\n",
                      encoding="utf-8")
    monkeypatch.setenv("MYPYPATH", str(ROOT))
    out, err, _ = mypy.run(["--strict", "--follow-imports=silent", "--no-error-summary",
                            "--cache-dir", str(tmp_path / "cache"), str(example), str(misuse)])
    assert not [line for line in out.splitlines() if line.startswith(str(example))], out
    # Older mypy versions spell a tuple "builtins.tuple".
    located = [line[len(str(misuse)) + 1:].split("  [")[0].replace("builtins.tuple", "tuple")
               for line in out.splitlines() if line.startswith(str(misuse))]
    assert located == [f"{len(lines) + n + 1}: {message}"
                       for n, (_, messages) in enumerate(MISUSES)
                       for message in ((messages,) if isinstance(messages, str) else messages)
                       ], (out, err)
