"""Writing for people: the terminal's width, colours, wrapping by visible characters, a pager.

Text to show is a list of runs, ``(text, style)`` pairs, where the style is
``None``, ``"headline"``, ``"match"`` or ``"headline match"``. Colour turns
styles into ANSI codes (which take no room on screen); without colour a match
is marked ``[like this]`` (which does).
"""

import os
import re
import shutil
import sys

import click

__all__ = ["colour_wanted", "page", "paint", "terminal_width", "truncate", "wrap"]

ANSI = {
    "headline": "\x1b[1m",              # bold
    "match": "\x1b[1;33m",              # bold yellow
    "headline match": "\x1b[1;33m",
}
RESET = "\x1b[0m"
PIPE_WIDTH = 80     # lines written to a pipe or file, unless $COLUMNS says otherwise
MIN_WIDTH = 40
ELLIPSIS = "…"
# C0 controls but tab and newline, DEL and C1: an article must not drive the terminal.
CONTROLS = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def terminal_width(stream=None) -> int:
    """Columns to fill: ``$COLUMNS``, else the terminal's width, else 80 for a pipe or file.

    >>> import io
    >>> terminal_width(io.StringIO()) if "COLUMNS" not in os.environ else 80
    80
    """
    columns = os.environ.get("COLUMNS", "")
    if columns.isdigit() and int(columns) > 0:
        return max(MIN_WIDTH, int(columns))
    stream = stream or sys.stdout
    try:
        if stream.isatty():
            return max(MIN_WIDTH, os.get_terminal_size(stream.fileno()).columns)
    except (AttributeError, OSError, ValueError):
        pass
    return PIPE_WIDTH


def colour_wanted(flag, stream=None) -> bool:
    """``--color``/``--no-color`` if given, else colour on a terminal unless ``$NO_COLOR`` is set.

    >>> colour_wanted(True), colour_wanted(None, open(os.devnull, "w"))
    (True, False)
    """
    if flag is not None:
        return flag
    if os.environ.get("NO_COLOR"):  # https://no-color.org: any non-empty value
        return False
    stream = stream or sys.stdout
    return stream.isatty() and os.environ.get("TERM") != "dumb"


def paint(text: str, style, colour: bool) -> str:
    """One run as it is written: ANSI codes with colour, ``[match]`` marks without.

    >>> paint("никель", "match", False), paint("никель", "headline", True)
    ('[никель]', '\\x1b[1mникель\\x1b[0m')
    """
    if not style:
        return text
    if colour:
        return ANSI[style] + text + RESET
    return f"[{text}]" if "match" in style else text


def wrap(runs, width: int, colour: bool, indent: str = "") -> list:
    """Runs as lines of at most ``width`` visible characters (a longer word keeps its own line).

    Whitespace is folded to single spaces; colour codes take no room.

    >>> wrap([("Выпуск ", None), ("никеля", "match"), (" вырос", None)], 16, True, "  ")[0]
    '  Выпуск \\x1b[1;33mникеля\\x1b[0m'
    >>> wrap([("Выпуск ", None), ("никеля", "match"), (" вырос", None)], 16, False, "  ")
    ['  Выпуск', '  [никеля] вырос']
    """
    lines, line, used = [], [], 0
    room = width - len(indent)
    for word in _words(runs):
        size = sum(len(paint(text, style, colour)) if style and not colour else len(text)
                   for text, style in word)
        if line and used + 1 + size > room:
            lines.append(indent + _line(line, colour))
            line, used = [], 0
        used += size + (1 if line else 0)
        line.append(word)
    if line:
        lines.append(indent + _line(line, colour))
    return lines


def _line(words, colour):
    """Words joined by spaces; with colour, a style spans its words in one pair of codes."""
    if not colour:
        return " ".join("".join(paint(t, s, False) for t, s in word) for word in words)
    merged = []
    for word in words:
        if merged:
            space_style = merged[-1][1] if merged[-1][1] == word[0][1] else None
            merged.append((" ", space_style))
        merged += word
    out = []
    for text, style in merged:
        if out and out[-1][1] == style:
            out[-1] = (out[-1][0] + text, style)
        else:
            out.append((text, style))
    return "".join(paint(text, style, True) for text, style in out)


def truncate(runs, width: int, colour: bool) -> str:
    """Runs as one line of at most ``width`` visible characters, ending in "…" when cut.

    >>> truncate([("Выпуск никеля вырос за год", None)], 16, False)
    'Выпуск никеля…'
    """
    whole = wrap(runs, width, colour)
    if len(whole) <= 1:
        return whole[0] if whole else ""
    return wrap(runs, width - len(ELLIPSIS), colour)[0] + ELLIPSIS


def page(text: str, colour: bool, enabled: bool = True) -> None:
    """Write ``text`` to stdout; through a pager, as git does, when it is longer than the screen.

    The pager is ``$PAGER`` (default ``less``); ``less`` gets ``LESS=FRX`` unless
    ``$LESS`` is set: it keeps colours, quits at once on one screen and leaves
    the text on the terminal.
    """
    stdout = sys.stdout
    if enabled and stdout.isatty() and text.count("\n") >= shutil.get_terminal_size().lines - 1:
        os.environ.setdefault("LESS", "FRX")
        click.echo_via_pager(text, color=colour)
    else:
        click.echo(text, nl=False, color=colour)


def _words(runs):
    """Runs cut at whitespace: a list of words, each a list of (text, style) pieces."""
    words, word = [], []
    for text, style in runs:
        for n, part in enumerate(re.split(r"(\s+)", CONTROLS.sub("", text))):
            if n % 2:
                if word:
                    words.append(word)
                word = []
            elif part:
                word.append((part, style))
    if word:
        words.append(word)
    return words
