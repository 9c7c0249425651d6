"""The terminal report: relevance, indexing, latency and scale tables, and distance to targets.

Ratios are poisk / baseline (Whoosh + Snowball) and poisk / tantivy. For
relevance and docs/s above 1 is better for poisk; for latency, size and memory
below 1 is better.
"""

from bench.relevance import DICT_SUFFIX, metric_names

MIB = 2 ** 20
GIB = 2 ** 30

SET_TITLES = {
    "title": "headline -> article (no headlines)",
    "tag": "editorial tag (with headlines)",
    "xquad": "XQuAD-ru questions",
    "title-nosf": "headline -> article (no headlines, bodies without standfirst)",
    "tag-nosf": "editorial tag (bodies without standfirst)",
}


def _ratio(a, b):
    return f"{a / b:.2f}" if isinstance(a, (int, float)) and b else "-"


def _cell(value, digits):
    if value is None:
        return "-"
    return f"{value:,.{digits}f}"


def _row(label, values, engines, digits=1, width=34):
    cells = "".join(f"{_cell(values.get(e), digits):>10}" for e in engines)
    poisk = values.get("poisk")
    ratios = ""
    for other in ("whoosh", "tantivy"):
        if other in engines and "poisk" in engines:
            ratios += f"{_ratio(poisk, values.get(other)):>8}"
    return f"{label:<{width}}{cells}{ratios}"


def _header(title, engines, width=34):
    ratios = "".join(f"{'p/' + o[0]:>8}" for o in ("whoosh", "tantivy")
                     if o in engines and "poisk" in engines)
    return f"\n{title:<{width}}" + "".join(f"{e:>10}" for e in engines) + ratios


def format_report(results):
    """The whole report as text."""
    engines = results["config"]["engines"]
    lines = []
    relevance = results.get("relevance")
    if relevance:
        lines.append(_header("RELEVANCE (sanitized queries)", engines))
        for name, by_engine in relevance.items():
            base = name.removesuffix(DICT_SUFFIX)
            queries = next(iter(by_engine.values()))["queries"]
            title = SET_TITLES[base] + (", dictionary forms" if name != base else "")
            lines.append(f"{name} [{queries} q]: {title}")
            for metric in metric_names(name):
                values = {e: m[metric] for e, m in by_engine.items()}
                lines.append(_row(f"  {metric}", values, engines, digits=3))
            failed = {e: sum(m["failures"].values()) for e, m in by_engine.items()
                      if m["failures"]}
            if failed:
                lines.append(f"  queries failed (counted as misses): {failed}")
    indexing = results.get("indexing")
    if indexing:
        docs = next(iter(indexing.values()))["docs"]
        lines.append(_header(f"INDEXING {docs:,} docs, 1 process each", engines))
        lines.extend(_indexing_rows(indexing, engines))
    latency = results.get("latency")
    if latency:
        docs = results["config"].get("latency_index_docs") or 0
        lines.append(_header(f"LATENCY ms, top 10, {docs:,} docs", engines))
        lines.extend(_latency_rows(latency, engines))
    for n, points in _scale_by_n(results.get("scale") or []).items():
        done = {e: p for e, p in points.items() if "skipped" not in p}
        lines.append(_header(f"SCALE {n:,} synthetic docs", engines))
        lines.extend(_indexing_rows(done, engines))
        lines.extend(_latency_rows({e: p["latency"] for e, p in done.items()}, engines))
        for e, p in points.items():
            if "skipped" in p:
                lines.append(f"  {e}: skipped, {p['skipped']}")
    rows = results.get("targets") or []
    if rows:
        lines.append(f"\n{'TARGETS':<56}{'value':>8}{'target':>8}  status")
        for row in rows:
            lines.append(f"{row['name']:<56}{row['value']:>8}{row['target']:>8}  {row['status']}")
    for note in results.get("notes", []):
        lines.append(f"note: {note}")
    if "load_average_before_speed" in results:
        before = results["load_average_before_speed"][0]
        after = results["load_average_after_speed"][0] if "load_average_after_speed" in results \
            else float("nan")
        lines.append(f"note: 1-min load average {before:.1f} before the speed part, "
                     f"{after:.1f} after ({results['environment']['cpus']} CPUs); "
                     "above ~1 other processes shared the cores")
    for part, error in (results.get("errors") or {}).items():
        lines.append(f"ERROR in {part}: {error.strip().splitlines()[-1]}")
    parts = ", ".join(f"{name} {seconds / 60:.1f}"
                      for name, seconds in (results.get("part_seconds") or {}).items())
    lines.append(f"\nwall time {results['wall_seconds'] / 60:.1f} min"
                 + (f" ({parts})" if parts else "") + f"; figures in {results.get('out', '-')}")
    return "\n".join(lines)


def _indexing_rows(by_engine, engines):
    def pick(key, scale=1.0):
        return {e: m[key] / scale for e, m in by_engine.items() if m.get(key) is not None}
    return [
        _row("  docs/s", pick("docs_per_s"), engines),
        _row("  docs per CPU-second", pick("docs_per_cpu_s"), engines),
        _row("  words/s", pick("words_per_s"), engines, digits=0),
        _row("  seconds", pick("seconds"), engines),
        _row("  index size MiB", pick("size_bytes", MIB), engines),
        _row("  peak RSS MiB", pick("peak_rss_bytes", MIB), engines),
    ]


def _latency_rows(by_engine, engines):
    lines = []
    for group, label in (("short", "short"), ("headline", "headline")):
        for mode, mode_label in (("search", "search"), ("snippets", "+snippets")):
            for p in ("p50", "p95", "p99", "cpu_p95"):
                values = {e: t[group][mode][p] for e, t in by_engine.items() if group in t}
                lines.append(_row(f"  {label} {mode_label} {p}", values, engines, digits=2))
    return lines


def _scale_by_n(points):
    grouped = {}
    for point in points:
        grouped.setdefault(point["n"], {})[point["engine"]] = point
    return dict(sorted(grouped.items()))


def _check(name, value, target, higher_is_better, fmt="{:.2f}", label=None):
    """One target row; ``label`` replaces the printed target (e.g. "> 0")."""
    shown = label or fmt.format(target)
    if value is None:
        return {"name": name, "value": "-", "target": shown, "status": "not measured",
                "met": None}
    met = value >= target if higher_is_better else value <= target
    gap = abs(target - value)
    if met:
        status = "met"
    elif label or not value or not target:
        status = f"{'short' if higher_is_better else 'over'} by {fmt.format(gap).lstrip('+')}"
    elif higher_is_better:
        status = f"short by {fmt.format(gap)} (x{target / value:.2f} needed)"
    else:
        status = f"over by {fmt.format(gap)} (x{value / target:.2f})"
    return {"name": name, "value": fmt.format(value), "target": shown, "status": status,
            "met": met}


def targets(results):
    """Distance to each target of the issue (reported, never asserted), for the parts that ran.

    The 100k rows are always listed; without a ``--scale`` run that reached
    100,000 documents they say "not measured".
    """
    rows = []
    indexing = results.get("indexing") or {}
    poisk_ix, base_ix = indexing.get("poisk"), indexing.get("whoosh")
    if base_ix:
        rows.append(_check("baseline (Whoosh+Snowball) docs/s, ~80 expected",
                           base_ix["docs_per_s"], 80, True, "{:.0f}"))
        if poisk_ix:
            rows.append(_check("poisk docs/s / baseline docs/s >= 2",
                               poisk_ix["docs_per_s"] / base_ix["docs_per_s"], 2.0, True))
    latency = (results.get("latency") or {}).get("poisk")
    if latency:
        for label, group, p, limit in (("short", "short", "p50", 10),
                                       ("short", "short", "p95", 50),
                                       ("headline-length", "headline", "p95", 100)):
            rows.append(_check(f"{label} +snippets {p} ms <= {limit}",
                               latency[group]["snippets"][p], limit, False, "{:.1f}"))
    big = next((p for p in results.get("scale") or []
                if p["engine"] == "poisk" and p["n"] == 100_000 and "skipped" not in p), None)
    for label, group, p, limit in (("short", "short", "p50", 20), ("short", "short", "p95", 100),
                                   ("headline-length", "headline", "p95", 200)):
        value = big["latency"][group]["snippets"][p] if big else None
        rows.append(_check(f"100k docs: {label} +snippets {p} ms <= {limit} (2x)",
                           value, limit, False, "{:.1f}"))
    rows.append(_check("100k docs: indexing peak RSS GiB <= 1",
                       big["peak_rss_bytes"] / GIB if big else None, 1.0, False))
    relevance = results.get("relevance") or {}
    for name, by_engine in relevance.items():
        if "poisk" in by_engine and "whoosh" in by_engine:
            for metric in metric_names(name):
                rows.append(_check(f"{name} {metric}: poisk - Snowball",
                                   by_engine["poisk"][metric] - by_engine["whoosh"][metric],
                                   0.0001, True, "{:+.3f}", label="> 0"))
    title = relevance.get("title", {}).get("poisk")
    if title:
        rows.append(_check("title MRR@10 >= 0.70", title["mrr@10"], 0.70, True, "{:.3f}"))
    return rows
