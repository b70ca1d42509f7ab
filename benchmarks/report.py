"""The printed table: one row per measure, its target, and whether it is met."""

from __future__ import annotations

from typing import Any

from attrs import frozen


def _us(value: float) -> str:
    return f"{value:.1f} µs" if value < 1000 else f"{value / 1000:.2f} ms"


@frozen
class Row:
    """One line of the table; `value` is the judged number, `shown` how it prints."""

    measure: str
    baseline: str
    shown: str
    target: str
    met: bool | None
    value: float | None = None
    detail: str = ""

    @classmethod
    def ratio(
        cls,
        measure: str,
        baseline: str,
        result: dict[str, Any],
        target: str,
        limit: float | None,
        *,
        note: str = "",
    ) -> Row:
        """meterlib's median over the baseline's: met when at most `limit`."""
        ratio = float(result["ratio"])
        return cls(
            measure,
            baseline,
            f"{ratio:.2f}×",
            target,
            None if limit is None else ratio <= limit,
            ratio,
            f"{_us(result['meterlib_us'])} vs {_us(result['baseline_us'])}{note}",
        )

    @classmethod
    def speedup(
        cls, measure: str, baseline: str, result: dict[str, Any], limit: float | None = 10
    ) -> Row:
        """How many times faster one batch is than the same tracks one by one (≥ 10×)."""
        speedup = float(result["speedup"])
        return cls(
            measure,
            baseline,
            f"{speedup:.1f}× faster",
            "(floor)" if limit is None else f"≥ {limit:g}× faster",
            None if limit is None else speedup >= limit,
            speedup,
            f"{result['batch_ms']:.1f} ms vs {result['singles_ms']:.1f} ms",
        )

    @classmethod
    def info(
        cls,
        measure: str,
        baseline: str,
        shown: str,
        value: float,
        detail: str,
        *,
        target: str = "(floor)",
    ) -> Row:
        """A figure that explains another row; no target of its own."""
        return cls(measure, baseline, shown, target, None, value, detail)

    @classmethod
    def external(cls, item: dict[str, Any]) -> Row:
        """A row another module measured (catch_up.run_stores): a ratio, with its own target."""
        ratio = item.get("ratio")
        limit = item.get("limit", item.get("target_ratio", 2.0))
        detail = ""
        if "meterlib_us" in item and "baseline_us" in item:
            detail = f"{_us(item['meterlib_us'])} vs {_us(item['baseline_us'])}"
        return cls(
            str(item.get("measure") or item.get("name") or "check after a year idle"),
            str(item.get("baseline") or "an ordinary check"),
            "n/a" if ratio is None else f"{float(ratio):.2f}×",
            str(item.get("target") or f"≤ {limit}×"),
            None if ratio is None else float(ratio) <= float(limit),
            None if ratio is None else float(ratio),
            detail,
        )

    @classmethod
    def bytes(cls, measure: str, result: dict[str, Any]) -> Row:
        """tracemalloc bytes per row (≤ 2 KiB)."""
        size = float(result["bytes_per_row"])
        return cls(
            measure,
            "—",
            f"{size:,.0f} B",
            "≤ 2 KiB",
            size <= 2048,
            size,
            f"{result['rows']} rows",
        )

    @classmethod
    def throughput(cls, measure: str, many: dict[str, Any], one: dict[str, Any]) -> Row:
        """Tracks per second of several processes, beside one process alone (no target)."""
        return cls(
            measure,
            "1 process",
            f"{many['tracks_per_s']:,.0f}/s",
            "(report)",
            None,
            float(many["tracks_per_s"]),
            f"1 process: {one['tracks_per_s']:,.0f}/s",
        )

    def to_dict(self) -> dict[str, Any]:
        """The row as JSON."""
        return {
            "measure": self.measure,
            "baseline": self.baseline,
            "value": self.value,
            "shown": self.shown,
            "target": self.target,
            "met": self.met,
            "detail": self.detail,
        }


def render(rows: list[Row], about: dict[str, Any], *, quick: bool) -> str:
    """A Markdown table, headed by the machine."""
    head = (
        f"machine: {about['nproc']} CPUs (nproc), {about['cpu']}; "
        f"{about['implementation']} {about['python']}; SQLite {about['sqlite']}"
        + ("  [--quick: smoke run, numbers are noise]" if quick else "")
    )
    lines = [
        head,
        "",
        "| measure | baseline beside it | result | target | met | medians |",
        "|---|---|---|---|---|---|",
    ]
    for row in rows:
        met = {True: "yes", False: "**no**", None: "—"}[row.met]
        lines.append(
            f"| {row.measure} | {row.baseline} | {row.shown} | {row.target} | {met} "
            f"| {row.detail} |"
        )
    return "\n".join(lines)
