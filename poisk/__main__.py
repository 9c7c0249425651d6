"""``python -m poisk``: the same command line as ``poisk``."""

from search.cli import main

if __name__ == "__main__":
    main()
