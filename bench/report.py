"""Render bench/results/*.json into docs/benchmarks.md and docs/images/bench-*.png.

The text between ``<!-- analysis:begin -->`` and ``<!-- analysis:end -->`` in an existing
docs/benchmarks.md is written by people and kept across re-renders; everything else is generated.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

Json = dict[str, Any]

ORDER = ["ticker-redis", "ticker-redis-w2", "ticker-memory", "socketio", "ws", "starlette"]
COLORS = {
    "ticker-redis": "#d62728",
    "ticker-memory": "#ff9896",
    "socketio": "#1f77b4",
    "ws": "#2ca02c",
    "starlette": "#9467bd",
    "ticker-redis-w2": "#8c564b",
}
BEGIN = "<!-- analysis:begin -->"
END = "<!-- analysis:end -->"
DEFAULT_ANALYSIS = """\
## Where ticker loses, and why

_(Written after each full run by whoever ran it; kept across re-renders.)_

### Profile

> **PLACEHOLDER — for the core engineer.** Where the server's time goes (py-spy / pyinstrument
> on the burst at N = 5,000 and the 20 items/s run at N = 10,000), and what the profile says
> about any target above that is not met.
"""


def load(results: Path) -> list[Json]:
    runs = []
    for path in sorted(results.glob("*.json")):
        try:
            data = json.loads(path.read_text())
        except ValueError:
            continue
        if isinstance(data, dict) and "server" in data and "n" in data:
            runs.append(data)
    runs.sort(key=lambda r: (r["deflate"], r["n"], _rank(r["server"])))
    return runs


def _rank(name: str) -> int:
    return ORDER.index(name) if name in ORDER else len(ORDER)


def _f(x: float | None, digits: int = 1) -> str:
    if x is None:
        return "–"
    return f"{x:,.{digits}f}"


def _phase(run: Json, name: str) -> Json | None:
    if not run.get("ok"):
        return None
    phase: Json | None = run.get("phases", {}).get(name)
    return phase


def _status(ph: Json) -> str:
    bad = ph["lost"] + ph["dup"] + ph["out_of_order"]
    ok = "ok" if bad == 0 else "**"
    s = f"{ph['lost']:,} / {ph['dup']:,} / {ph['out_of_order']:,}"
    if ph["reason"] != "complete":
        s += f" ({ph['reason']})"
    if ph.get("closed_during"):
        s += f", {ph['closed_during']:,} closed"
    if ph.get("unpublished_items"):
        codes = ", ".join(f"{k}×{v}" for k, v in ph["publish"]["statuses"].items()
                          if not k.startswith("2"))
        s += f"; {ph['unpublished_items']} publishes failed ({codes})"
    return s if ok == "ok" else f"**{s}**"


def _bg(cores: float | None) -> str:
    if cores is None:
        return "–"
    return f"**{cores:.2f}**" if cores > 0.5 else f"{cores:.2f}"


def phase_table(runs: Iterable[Json], name: str) -> list[str]:
    head = (
        "| server | N | deliveries/s | p50 ms | p99 ms | max ms | publishing took, s | "
        "all delivered after, s | server CPU µs/delivery | server core busy | "
        "lost / dup / out-of-order | loadgen CPU util | other load, cores |"
    )
    lines = [head, "|" + "---|" * 13]
    for run in runs:
        ph = _phase(run, name)
        label = run["label"] + (" + deflate" if run["deflate"] else "")
        if ph is None and run.get("ok"):
            continue  # a run without this phase (the --workers runs: the flash only)
        if ph is None:
            err = run.get("error", "no data")
            lines.append(f"| {label} | {run['n']:,} | failed: {err} |" + " |" * 10)
            continue
        lat = ph["lat_ms"]
        lines.append(
            f"| {label} | {run['n']:,} | {_f(ph['deliveries_per_s'], 0)} | {_f(lat['p50'])} | "
            f"{_f(lat['p99'])} | {_f(lat['max'])} | {_f(ph['publish_s'], 2)} | "
            f"{_f(ph['span_s'], 2)} | "
            f"{_f(ph['server_us_per_delivery'], 2)} | {_f(ph.get('server_core_util'), 2)} | "
            f"{_status(ph)} | "
            f"{_f(ph['loadgen_util'], 2)} | {_bg(ph.get('background_cores'))} |"
        )
    return lines


def conn_table(runs: Iterable[Json]) -> list[str]:
    lines = [
        "| server | N | readers ready | connect rate /s | server RSS idle, MiB | RSS with N "
        "readers, MiB | RSS per reader, KB | Redis CPU µs per item (rate / burst) | Redis "
        "commands per item (burst) |",
        "|" + "---|" * 9,
    ]
    for run in runs:
        if not run.get("ok"):
            continue
        c = run["connect"]
        label = run["label"] + (" + deflate" if run["deflate"] else "")
        redis = cmds = "–"
        rate, burst = _phase(run, "rate"), _phase(run, "burst")
        if rate and burst and rate.get("redis_us_per_item") is not None:
            redis = f"{_f(rate['redis_us_per_item'], 0)} / {_f(burst['redis_us_per_item'], 0)}"
            cmds = _f(burst.get("redis_commands_per_item"), 2)
        lines.append(
            f"| {label} | {run['n']:,} | {c['ready']:,} | {_f(c['connect_rate'], 0)} | "
            f"{_f(run['rss_idle_kb'] / 1024)} | {_f(run['rss_n_kb'] / 1024)} | "
            f"{_f(run['rss_per_conn_kb'], 2)} | {redis} | {cmds} |"
        )
    return lines


def _find(runs: list[Json], server: str, n: int, deflate: bool = False) -> Json | None:
    for r in runs:
        if r["server"] == server and r["n"] == n and r["deflate"] == deflate and r.get("ok"):
            return r
    return None


def targets(runs: list[Json]) -> list[str]:
    try:
        return _targets(runs)
    except (KeyError, TypeError) as exc:
        return [f"(targets not computed: {type(exc).__name__} {exc}: a partial run)"]


def _targets(runs: list[Json]) -> list[str]:
    lines = ["| target | measured | met? |", "|---|---|---|"]

    def row(target: str, measured: str, met: bool | None) -> None:
        verdict = "–" if met is None else ("yes" if met else "**no**")
        lines.append(f"| {target} | {measured} | {verdict} |")

    t5, s5 = _find(runs, "ticker-redis", 5000), _find(runs, "socketio", 5000)
    if t5 and s5:
        tb, sb = t5["phases"]["burst"], s5["phases"]["burst"]
        if tb["server_us_per_delivery"] and sb["server_us_per_delivery"]:
            ratio = tb["server_us_per_delivery"] / sb["server_us_per_delivery"]
            row("burst, N = 5,000: server CPU per delivery ≤ 0.3× Socket.IO's",
                f"{tb['server_us_per_delivery']:.2f} vs {sb['server_us_per_delivery']:.2f} µs "
                f"= {ratio:.2f}×", ratio <= 0.3)
    for n, limit in ((5000, 100.0), (10000, 300.0)):
        t = _find(runs, "ticker-redis", n)
        if t:
            p99 = t["phases"]["rate"]["lat_ms"]["p99"]
            row(f"20 items/s, N = {n:,}: p99 ≤ {limit:.0f} ms", f"{p99:.1f} ms", p99 <= limit)
    t1 = _find(runs, "ticker-redis", 1000)
    peers = [r for r in runs if r["n"] == 1000 and not r["deflate"] and r.get("ok")
             and r["server"] in ("socketio", "ws", "starlette")]
    if t1 and peers:
        best = min(peers, key=lambda r: r["phases"]["rate"]["lat_ms"]["p99"])
        tp = t1["phases"]["rate"]["lat_ms"]["p99"]
        bp = best["phases"]["rate"]["lat_ms"]["p99"]
        row("20 items/s, N = 1,000: p99 no worse than the best peer's",
            f"{tp:.1f} ms vs {bp:.1f} ms ({best['label']})", tp <= bp)
    t10 = _find(runs, "ticker-redis", 10000)
    if t10:
        row("≤ 10 KB RSS per idle reader (N = 10,000)", f"{t10['rss_per_conn_kb']:.2f} KB",
            t10["rss_per_conn_kb"] <= 10)
        bad = sum(t10["phases"][p][k] for p in ("rate", "burst")
                  for k in ("lost", "dup", "out_of_order"))
        closed = sum(t10["phases"][p].get("closed_during", 0) for p in ("rate", "burst"))
        row("10,000 readers on one process: 0 lost, 0 duplicated, 0 out of order",
            f"{bad} bad deliveries, {closed} readers closed", bad == 0 and closed == 0)
    if t1 and t10:
        p1, p10 = t1["phases"]["burst"], t10["phases"]["burst"]
        a, b = p1.get("redis_commands_per_item"), p10.get("redis_commands_per_item")
        if a is not None and b is not None:
            row("Redis work per event constant as N grows (burst: Redis commands and CPU per "
                "item)",
                f"{a:.2f} commands, {p1['redis_us_per_item']:.0f} µs at N = 1,000; "
                f"{b:.2f} commands, {p10['redis_us_per_item']:.0f} µs at N = 10,000",
                abs(a - b) < 0.5)
    return lines


def _ttl(run: Json | None) -> float | None:
    ph = _phase(run, "flash") if run else None
    ttl = ph.get("ttl_ms", {}) if ph else {}
    value: float | None = ttl.get("p50")
    return value


def _storm(run: Json | None) -> Json | None:
    return _phase(run, "storm") if run else None


def _ratio(a: float | None, b: float | None) -> float | None:
    return a / b if a is not None and b else None


def goals(runs: list[Json]) -> list[str]:
    """Issue 16's goals, as ratios from this run (a goal whose runs are missing is left out)."""
    try:
        return _goals(runs)
    except (KeyError, TypeError) as exc:
        return [f"(goals not computed: {type(exc).__name__} {exc}: a partial run)"]


def _goals(runs: list[Json]) -> list[str]:
    lines = ["| goal | measured | ratio | met? |", "|---|---|---|---|"]

    def row(goal: str, measured: str, ratio: float | None, limit: float) -> None:
        if ratio is None:
            lines.append(f"| {goal} | {measured} | – | – |")
            return
        verdict = "yes" if ratio <= limit else "**no**"
        lines.append(f"| {goal} | {measured} | {ratio:.2f}× | {verdict} |")

    for n in (1000, 5000):
        t, w = _find(runs, "ticker-redis", n), _find(runs, "ws", n)
        if t and w and "rate" in t["phases"] and "rate" in w["phases"]:
            a = t["phases"]["rate"]["server_us_per_delivery"]
            b = w["phases"]["rate"]["server_us_per_delivery"]
            row(f"20 items/s, N = {n:,}: server CPU per delivery ≤ 0.75× Node ws",
                f"{_f(a, 2)} vs {_f(b, 2)} µs", _ratio(a, b), 0.75)
    t, w = _find(runs, "ticker-redis", 10000), _find(runs, "ws", 10000)
    if t and w:
        a, b = _ttl(t), _ttl(w)
        row("one item at 2 items/s, N = 10,000: publish → last reader ≤ 0.6× Node ws "
            "(median over the items)", f"{_f(a)} vs {_f(b)} ms", _ratio(a, b), 0.6)
        st, sw = _storm(t), _storm(w)
        if st and sw:
            row("reconnect storm, N = 10,000: server CPU per connection incl. subscription and "
                "resume ≤ 1.0× Node ws's bare handshake",
                f"{_f(st['server_us_per_conn'])} vs {_f(sw['server_us_per_conn'])} µs",
                _ratio(st["server_us_per_conn"], sw["server_us_per_conn"]), 1.0)
            row("reconnect storm, N = 10,000: all resumed with every missed event ≤ 0.75× the "
                "time Node ws takes to accept them bare",
                f"{_f(st['resumed_s'], 2)} vs {_f(sw['all_ready_s'], 2)} s "
                f"({st['lost']} lost, {st['dup']} dup, {st['out_of_order']} out of order)",
                _ratio(st["resumed_s"], sw["all_ready_s"]) if st["lost"] + st["dup"]
                + st["out_of_order"] == 0 else 99.0, 0.75)
        row("RSS per connected, subscribed reader, N = 10,000: ≤ 4.5 KB",
            f"{_f(t['rss_per_conn_kb'], 2)} KB", t["rss_per_conn_kb"] / 4.5, 1.0)
        row("… and ≤ 0.8× Node ws", f"{_f(t['rss_per_conn_kb'], 2)} vs "
            f"{_f(w['rss_per_conn_kb'], 2)} KB", _ratio(t["rss_per_conn_kb"],
                                                       w["rss_per_conn_kb"]), 0.8)
    t, w, s = (_find(runs, name, 5000) for name in ("ticker-redis", "ws", "socketio"))
    if t and w and s and all("burst" in r["phases"] for r in (t, w, s)):
        a = t["phases"]["burst"]["server_us_per_delivery"]
        worst = max(_ratio(a, p["phases"]["burst"]["server_us_per_delivery"]) or 0
                    for p in (w, s))
        row("kept: burst, N = 5,000, CPU per delivery ≤ 0.3× Node ws and Socket.IO",
            f"{_f(a, 2)} vs {_f(w['phases']['burst']['server_us_per_delivery'], 2)} / "
            f"{_f(s['phases']['burst']['server_us_per_delivery'], 2)} µs", worst, 0.3)
    t = _find(runs, "ticker-redis", 10000)
    if t and "rate" in t["phases"]:
        p99 = t["phases"]["rate"]["lat_ms"]["p99"]
        row("kept: 20 items/s, N = 10,000: p99 ≤ 300 ms", f"{_f(p99)} ms", p99 / 300, 1.0)
    ours = [r for r in runs if r["server"].startswith("ticker") and r.get("ok")]
    bad = sum(ph["lost"] + ph["dup"] + ph["out_of_order"] for r in ours
              for ph in r.get("phases", {}).values())
    lines.append(f"| kept: 0 lost, duplicated or out of order (every ticker phase of this run) | "
                 f"{bad} | – | {'yes' if bad == 0 else '**no**'} |")
    w1 = _find(runs, "ticker-redis", WORKERS_N)
    w2 = _find(runs, "ticker-redis-w2", WORKERS_N)
    if w1 and w2:
        a, b = _ttl(w2), _ttl(w1)
        row(f"--workers 2: a flash to {WORKERS_N:,} readers reaches the last one in ≤ 0.6× "
            "the single-worker time", f"{_f(a)} vs {_f(b)} ms", _ratio(a, b), 0.6)
    return lines


WORKERS_N = 19800  # bench/run.py: the file limit here is 20,000 per process


def issue_table(runs: list[Json]) -> list[str]:
    """Issue 16's opening table, redone from this run."""
    names = ("ticker-redis", "ws", "socketio")
    lines = ["| N readers | metric | ticker | Node `ws` + Redis | Socket.IO + redis adapter |",
             "|---|---|---|---|---|"]

    def cells(n: int, get: Any) -> list[str]:
        out = []
        for name in names:
            run = _find(runs, name, n)
            try:
                out.append(get(run) if run else "–")
            except (KeyError, TypeError):
                out.append("–")
        return out

    def add(n: int, metric: str, get: Any) -> None:
        lines.append(f"| {n:,} | {metric} | " + " | ".join(cells(n, get)) + " |")

    add(5000, "burst CPU-µs per delivery",
        lambda r: _f(r["phases"]["burst"]["server_us_per_delivery"], 2))
    add(10000, "20 items/s, p99 ms (publishing took, s)",
        lambda r: f"{_f(r['phases']['rate']['lat_ms']['p99'], 0)} "
                  f"({_f(r['phases']['rate']['publish_s'], 1)})")
    for n in (5000, 1000):
        add(n, "20 items/s, CPU-µs per delivery / p99 ms",
            lambda r: f"{_f(r['phases']['rate']['server_us_per_delivery'], 2)} / "
                      f"{_f(r['phases']['rate']['lat_ms']['p99'], 0)}")
    for n in (1000, 5000, 10000):
        add(n, "one item at 2/s: publish → last reader, ms (median of 10)",
            lambda r: _f(r["phases"]["flash"]["ttl_ms"]["p50"]))
    for n in (5000, 10000):
        add(n, "reconnect storm: server CPU-µs per connection (ticker: handshake + subscribe + "
               "resume of 5 missed items; peers: bare handshake / namespace join)",
            lambda r: _f(r["phases"]["storm"]["server_us_per_conn"], 0))
    add(10000, "reconnect storm: all back (ticker: and resumed), s",
        lambda r: _f(r["phases"]["storm"]["resumed_s"], 2))
    add(10000, "RSS per connected reader, KB", lambda r: _f(r["rss_per_conn_kb"], 2))
    return lines


def flash_table(runs: list[Json]) -> list[str]:
    lines = ["| server | N | publish → first reader, ms | publish → last reader, ms: median "
             "(min – max) | server CPU µs/delivery | lost / dup / out-of-order | "
             "other load, cores |", "|" + "---|" * 7]
    for run in runs:
        ph = _phase(run, "flash")
        if not ph or run["deflate"]:
            continue
        ttl = ph.get("ttl_ms", {})
        label = run["label"] + ("" if run.get("pinned", True) else " (unpinned)")
        lines.append(
            f"| {label} | {run['n']:,} | {_f(ttl.get('first_reader_p50'))} | "
            f"{_f(ttl.get('p50'))} ({_f(ttl.get('min'))} – {_f(ttl.get('max'))}) | "
            f"{_f(ph['server_us_per_delivery'], 2)} | {_status(ph)} | "
            f"{_bg(ph.get('background_cores'))} |")
    return lines


def storm_table(runs: list[Json]) -> list[str]:
    lines = ["| server | N | missed items per reader | all connected, s | all resumed, s | "
             "server CPU µs per connection | lost / dup / out-of-order | loadgen CPU s | "
             "other load, cores |", "|" + "---|" * 9]
    for run in runs:
        ph = _phase(run, "storm")
        if not ph:
            continue
        lines.append(
            f"| {run['label']} | {run['n']:,} | {ph['missed_items']} | "
            f"{_f(ph['all_ready_s'], 3)} | {_f(ph['resumed_s'], 3)} | "
            f"{_f(ph['server_us_per_conn'], 0)} | {_status(ph)} | "
            f"{_f(ph['loadgen_cpu_s'], 2)} | {_bg(ph.get('background_cores'))} |")
    return lines


def workers_table(runs: list[Json]) -> list[str]:
    lines = ["| server | N | where | publish → last reader, ms: median (min – max) | "
             "server CPU per flash, ms | load generators' CPU per flash, ms | "
             "sockets per process | RSS per reader, KB |", "|" + "---|" * 8]
    for run in runs:
        if run["n"] != WORKERS_N:
            continue
        ph = _phase(run, "flash")
        if not ph:
            continue
        ttl = ph.get("ttl_ms", {})
        items = max(ph["items"], 1)
        where = ("server core 0, load generators core 1" if run.get("pinned", True)
                 else "everything on both cores")
        socks = run.get("sockets_per_process")
        lines.append(
            f"| {run['label']} | {run['n']:,} | {where} | {_f(ttl.get('p50'))} "
            f"({_f(ttl.get('min'))} – {_f(ttl.get('max'))}) | "
            f"{_f(ph['server_cpu_s'] * 1000 / items)} | "
            f"{_f(ph['loadgen_cpu_s'] * 1000 / items)} | "
            f"{', '.join(f'{x:,}' for x in socks) if socks else '–'} | "
            f"{_f(run['rss_per_conn_kb'], 2)} |")
    return lines


def loadgen_table(runs: list[Json]) -> list[str]:
    lines = [
        "| run | phase | deliveries/s | loadgen CPU s | loadgen util | loadgen µs/delivery | "
        "reads | frames | frames per read |",
        "|" + "---|" * 9,
    ]
    best: dict[tuple[str, bool], tuple[float, Json, str, Json]] = {}
    fastest: tuple[float, Json, str, Json] | None = None
    for run in runs:
        for name in ("rate", "burst"):
            ph = _phase(run, name)
            if not ph:
                continue
            key = (run["server"], run["deflate"])
            if key not in best or ph["loadgen_util"] > best[key][0]:
                best[key] = (ph["loadgen_util"], run, name, ph)
            if fastest is None or ph["deliveries_per_s"] > fastest[0]:
                fastest = (ph["deliveries_per_s"], run, name, ph)
    rows = sorted(best.values(), key=lambda x: -x[0])
    if fastest is not None and all(fastest[3] is not r[3] for r in rows):
        rows.insert(0, fastest)
    for _, run, name, ph in rows:
        label = run["label"] + (" + deflate" if run["deflate"] else "")
        lines.append(
            f"| {label}, N = {run['n']:,} | {name} | {_f(ph['deliveries_per_s'], 0)} | "
            f"{_f(ph['loadgen_cpu_s'], 2)} | {_f(ph['loadgen_util'], 2)} | "
            f"{_f(ph['loadgen_us_per_delivery'], 2)} | {ph['reads']:,} | {ph['frames']:,} | "
            f"{ph['frames'] / max(ph['reads'], 1):.2f} |"
        )
    return lines


def publisher_note(runs: list[Json]) -> list[str]:
    cpu = [(ph["publisher_cpu_s"], ph["publish_s"]) for r in runs for name in ("rate", "burst")
           if (ph := _phase(r, name))]
    if not cpu:
        return []
    worst = max(cpu)
    return [
        f"The publisher (`run.py` itself, on core 1 too) used at most {worst[0]:.2f} s of CPU in "
        f"a phase (that phase's publishing took {worst[1]:.1f} s); Redis's own CPU is in the "
        "connections table."
    ]


def plots(runs: list[Json], images: Path) -> list[str]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    images.mkdir(parents=True, exist_ok=True)
    made: list[str] = []
    plain = [r for r in runs if not r["deflate"] and r.get("ok")]
    full = [r for r in plain if "rate" in r["phases"] and "burst" in r["phases"]]
    for n in sorted({r["n"] for r in full}):
        fig, axes = plt.subplots(1, 2, figsize=(11, 4.2), sharey=True)
        for ax, phase, title in ((axes[0], "rate", "20 items/s for 5 s"),
                                 (axes[1], "burst", "burst of 200, 8 in flight")):
            for run in full:
                if run["n"] != n:
                    continue
                cdf = run["phases"][phase]["cdf"]
                xs = [max(p[0], 0.01) for p in cdf]
                ys = [p[1] for p in cdf]
                ax.plot(xs, ys, label=run["label"], color=COLORS.get(run["server"]), lw=1.8)
            ax.set_xscale("log")
            ax.set_xlabel("latency, ms (publish request sent → reader has the frame)")
            ax.set_title(f"N = {n:,} readers: {title}")
            ax.grid(True, which="both", alpha=0.3)
        axes[0].set_ylabel("fraction of deliveries")
        axes[1].legend(loc="upper left", fontsize=8)
        fig.tight_layout()
        name = f"bench-latency-cdf-n{n}.png"
        fig.savefig(images / name, dpi=110)
        plt.close(fig)
        made.append(name)

    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2))
    for ax, phase, title in ((axes[0], "rate", "20 items/s"), (axes[1], "burst", "burst")):
        for server in ORDER:
            pts = sorted((r["n"], r["phases"][phase]["server_us_per_delivery"])
                         for r in full if r["server"] == server
                         and r["phases"][phase]["server_us_per_delivery"])
            if not pts:
                continue
            label = next(r["label"] for r in full if r["server"] == server)
            ax.plot([p[0] for p in pts], [p[1] for p in pts], marker="o", label=label,
                    color=COLORS.get(server), lw=1.8)
        ax.set_xscale("log")
        ns = sorted({r["n"] for r in full})
        ax.set_xticks(ns, [f"{n:,}" for n in ns])
        ax.minorticks_off()
        ax.set_xlabel("readers (N)")
        ax.set_ylabel("server CPU µs per delivery")
        ax.set_title(f"Server CPU per delivery: {title}")
        ax.set_ylim(bottom=0)
        ax.grid(True, which="both", alpha=0.3)
    axes[0].legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(images / "bench-cpu-per-delivery.png", dpi=110)
    plt.close(fig)
    made.append("bench-cpu-per-delivery.png")

    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2))
    for server in ORDER:
        pts = sorted((r["n"], r["phases"]["flash"]["ttl_ms"].get("p50"))
                     for r in plain if r["server"] == server and r["n"] != WORKERS_N
                     and "flash" in r["phases"] and r["phases"]["flash"]["ttl_ms"].get("p50"))
        storm = sorted((r["n"], r["phases"]["storm"]["server_us_per_conn"])
                       for r in plain if r["server"] == server and "storm" in r["phases"])
        label = next((r["label"] for r in plain if r["server"] == server), server)
        if pts:
            axes[0].plot([p[0] for p in pts], [p[1] for p in pts], marker="o", label=label,
                         color=COLORS.get(server), lw=1.8)
        if storm:
            axes[1].plot([p[0] for p in storm], [p[1] for p in storm], marker="o", label=label,
                         color=COLORS.get(server), lw=1.8)
    axes[0].set_title("One item to N readers: publish → last reader")
    axes[0].set_ylabel("ms (median of 10 items)")
    axes[1].set_title("Reconnect storm: server CPU per connection")
    axes[1].set_ylabel("µs (ticker: with subscribe + resume)")
    for ax in axes:
        ax.set_xlabel("readers (N)")
        ax.set_ylim(bottom=0)
        ax.grid(True, alpha=0.3)
    axes[0].legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(images / "bench-flash-and-storm.png", dpi=110)
    plt.close(fig)
    made.append("bench-flash-and-storm.png")
    return made


def machine_section(runs: list[Json], meta: Json | None) -> list[str]:
    m = next((r["machine"] for r in reversed(runs) if r.get("machine")), None)
    if not m:
        return []
    refs = sorted({str(r["machine"].get("ticker_ref") or "?")[:10] for r in runs
                   if r.get("machine") and r["server"].startswith("ticker")})
    took = []
    if meta:
        took = [f"- The matrix ({meta['runs']} runs, {meta['reruns']} of them run twice because "
                f"of other load) took {meta['seconds'] / 60:.1f} minutes, waits for a quiet "
                "machine included."]
    node = ", ".join(f"{k} {v}" for k, v in m.get("node_packages", {}).items())
    py = ", ".join(f"{k} {v}" for k, v in m.get("python_packages", {}).items())
    return [
        f"- CPU: {m['cpu']}, {m['cores']} cores; {m['mem_gib']} GiB memory; {m['os']}, "
        f"kernel {m['kernel']}",
        f"- Python {m['python']} ({py}); Node {m['node']} ({node})",
        f"- {m['redis']}",
        f"- compiler: {m['cc']}",
        "- ticker: "
        + ", ".join(f"commit `{ref}`" for ref in refs)
        + " (installed from `git archive` of that commit"
        + (": the rows come from runs at different commits" if len(refs) > 1 else "")
        + f"); repository HEAD at the last run: `{m['git']}`",
        "- The machine is shared: other engineers ran test suites on it during the runs, so "
        "absolute numbers carry noise of a few percent to tens of percent; ratios from the same "
        "run are the figures to compare.",
        *took,
    ]


def render(results: Path, doc: Path, images: Path) -> None:
    runs = load(results)
    if not runs:
        raise SystemExit(f"no results in {results}")
    meta: Json | None = None
    if (results / "matrix.json").exists():
        meta = json.loads((results / "matrix.json").read_text())
    analysis = DEFAULT_ANALYSIS
    if doc.exists():
        old = doc.read_text()
        if BEGIN in old and END in old:
            analysis = old[old.index(BEGIN) + len(BEGIN):old.index(END)].strip("\n") + "\n"
    pngs = plots(runs, images)
    plain = [r for r in runs if not r["deflate"]]
    deflate = [r for r in runs if r["deflate"]]
    out: list[str] = [
        "# Benchmarks: WebSocket fan-out",
        "",
        "<!-- Generated by `python bench/run.py` from bench/results/*.json. Only the analysis "
        "section between the markers is kept when it is re-rendered. -->",
        "",
        "ticker's WebSocket fan-out against three peers on the same path — HTTP POST → Redis → "
        "fan-out to N readers — on one machine: the server pinned to core 0; the C load "
        "generator (`bench/loadgen.c`), the publisher and Redis pinned to core 1. "
        "`bench/README.md` explains how it works and what each number means.",
        "",
        "Peers: **Socket.IO 4 + @socket.io/redis-adapter** (`io.emit` through the adapter), "
        "**Node `ws` + Redis** (a Redis subscriber `send`s each message to every client: the "
        "upper reference for a Node server), **starlette + redis-py** (a listener task `await`s "
        "`websocket.send_text` per client: what a typical Python team writes). "
        "**ticker (Redis)** runs with `REDIS_URL`; **ticker (embedded)** on its in-process "
        "broker.",
        "",
        "## Goals of issue 16 (ratios from this run)",
        "",
        *goals(runs),
        "",
        "The issue's table, redone from this run:",
        "",
        *issue_table(runs),
        "",
        "## Targets (issue 3)",
        "",
        *targets(runs),
        "",
        "'other load' is what the rest of the machine (other engineers' test suites: the machine "
        "is shared) used during the phase, in cores: all busy CPU minus the server, the load "
        "generator, the publisher and Redis. Above 0.5 cores it is in bold: the server's core "
        "was not its own for part of the phase, so its latency and throughput are understated "
        "(its CPU per delivery much less so: CPU time is counted, not wall time).",
        "",
        "## 20 items/s for 5 s",
        "",
        "Offered load is N × 20 deliveries/s. A server that keeps up delivers at that rate with "
        "a flat latency and accepts the 100 publishes on schedule (publishing takes 5 s, the "
        "last delivery follows within milliseconds). The publisher keeps at most 8 requests in "
        "flight, so a server that answers a publish only after its fan-out (the peers do) slows "
        "the schedule down: 'publishing took' above 5 s means the server throttled its "
        "publishers — it fell behind, and its latency counts from each request's actual send.",
        "",
        *phase_table(plain, "rate"),
        "",
        "## Burst: 200 items, 8 publish requests in flight",
        "",
        "deliveries/s = N × 200 / (last delivery − first publish): the server's fan-out "
        "throughput on one core; 'all delivered after' is that time. Each publish's latency "
        "counts from its own request: a server that accepts the 200 publishes quickly and fans "
        "out behind them (ticker) shows higher percentiles than one that makes each publish wait "
        "for its fan-out (the peers), even when every item reaches every reader sooner.",
        "",
        *phase_table(plain, "burst"),
        "",
        "## One item to every reader (the one-flash case)",
        "",
        "10 items at 2 items/s: each item is fanned out alone, one frame per reader, nothing to "
        "coalesce. 'publish → last reader' is, per item, the time from the publish request being "
        "sent to the last of the N readers having the frame (the load generator records every "
        "reader's receive time per item); the median and range over the 10 items. An item some "
        "reader missed would have no last reader and is left out (the lost column says so).",
        "",
        *flash_table([r for r in plain if r["n"] != WORKERS_N]),
        "",
        "## Reconnect storm with cursors",
        "",
        "Every reader's socket is closed at once (no close frame: a proxy restart or a deploy); "
        "5 items are published while they are away; then all N reconnect at once (at most "
        "1,024 handshakes in flight), ticker's readers with the last cursor each saw "
        "(`/ws?feed=en&since=…`). 'all resumed' is the time from the first `connect()` until "
        "every reader is subscribed again and has every missed item — exactly once, in order "
        "(the load generator's bitmaps). The peers have no cursors: for them it is the time "
        "until every reader is connected (Node ws: the 101; Socket.IO: the namespace join), and "
        "their CPU is a bare handshake. Server CPU from the first reconnect to the last "
        "delivery, divided by N.",
        "",
        *storm_table(runs),
        "",
        "## Beyond one core: `--workers 2`",
        "",
        f"One flash (10 items at 2/s) to {WORKERS_N:,} readers, split over two load generator "
        "processes of 10,000 readers each. Single worker: the server pinned to core 0, both "
        "load generators, Redis and the publisher on core 1 (as everywhere else on this page). "
        "Two workers: nothing pinned — the two workers, the load generators, Redis and the "
        "publisher share both cores, as they would have to on this 2-core machine. Costs are "
        "separated by accounting, not by placement: the server's CPU is the sum over its "
        "process tree (supervisor and workers) from /proc, the load generators' from their own "
        "getrusage, both per phase; the time to the last reader is wall time and therefore "
        "includes the load generators' competition for the same cores.",
        "",
        *workers_table(runs),
        "",
        "## Connections and memory",
        "",
        *conn_table(runs),
        "",
    ]
    if deflate:
        out += [
            "## permessage-deflate offered (as browsers do)",
            "",
            "The load generator offers `permessage-deflate; client_max_window_bits` and inflates "
            "what the server compresses. The 'readers ready' column of the table above counts "
            "connections; the load generator's JSON in bench/results/ records on how many the "
            "server accepted the extension.",
            "",
            "| server | N | deflate accepted | phase | deliveries/s | p50 ms | p99 ms | "
            "server CPU µs/delivery | bytes received | lost / dup / out-of-order |",
            "|" + "---|" * 10,
        ]
        for run in deflate:
            for name in ("rate", "burst"):
                ph = _phase(run, name)
                if not ph:
                    continue
                out.append(
                    f"| {run['label']} | {run['n']:,} | {run['connect']['deflate']:,} | {name} | "
                    f"{_f(ph['deliveries_per_s'], 0)} | {_f(ph['lat_ms']['p50'])} | "
                    f"{_f(ph['lat_ms']['p99'])} | {_f(ph['server_us_per_delivery'], 2)} | "
                    f"{ph['bytes']:,} | {_status(ph)} |"
                )
        out.append("")
    out += ["## Plots", ""]
    for name in pngs:
        out += [f"![{name}](images/{name})", ""]
    out += [
        "## The load generator keeps up",
        "",
        "The load generator is one epoll thread on core 1 (shared with the publisher and Redis). "
        "'loadgen util' is its CPU time divided by the time from the first publish to the last "
        "delivery: well below 1.0 means it was waiting for the server, not the other way round. "
        "For each server, its busiest phase (highest loadgen utilisation) in this run:",
        "",
        *loadgen_table(runs),
        "",
        *publisher_note(runs),
        "",
        "## Machine",
        "",
        *machine_section(runs, meta),
        "",
        "## Reproduce",
        "",
        "```sh",
        "python3 bench/run.py                 # everything: builds the loadgen, installs the "
        "peers, runs, renders",
        "python3 bench/run.py --quick         # N = 1,000, ticker (Redis) and the ws peer",
        "python3 bench/run.py --only ticker-redis,socketio --n 5000",
        "python3 bench/run.py --quick --n 5000 --phases flash,storm   # the one-flash case and "
        "the storm",
        "BENCH_PROFILE=/tmp/prof python3 bench/run.py --only ticker-redis --n 5000 "
        "--phases flash,storm",
        "python3 bench/profile_summary.py /tmp/prof/ticker-redis-n5000-storm.txt",
        "python3 bench/run.py --render        # re-render this page from bench/results/*.json",
        "```",
        "",
        BEGIN,
        analysis.rstrip("\n"),
        END,
        "",
    ]
    doc.parent.mkdir(parents=True, exist_ok=True)
    doc.write_text("\n".join(out))


if __name__ == "__main__":
    import sys

    here = Path(__file__).resolve().parent
    docs = here.parent / "docs"
    render(here / "results", docs / "benchmarks.md", docs / "images")
    sys.exit(0)
