"""Rendering a data version's profile (see :mod:`modelworks.data.profile`) for the terminal.

One row per column: dtype and kind, missing values, distinct values, min / mean / max, and a
distribution: a text histogram (a sparkline of unicode blocks) for numeric columns, the most
frequent values for the others.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from modelworks.cli._common import add_row, cell, fmt_bytes, fmt_number, new_table

if TYPE_CHECKING:
    from rich.console import RenderableType

__all__ = ["BLOCKS", "profile_renderables", "sparkline", "top_values_text"]

#: Bar heights from empty to full; an empty bin is a space so gaps stay visible.
BLOCKS = " ▁▂▃▄▅▆▇█"


def sparkline(counts: Sequence[int]) -> str:
    """One character per bin: ' ' for an empty bin, else ▁..█ in proportion to the largest."""
    if not counts:
        return ""
    top = max(counts)
    if top <= 0:
        return " " * len(counts)
    levels = len(BLOCKS) - 1
    return "".join(
        BLOCKS[0] if c <= 0 else BLOCKS[max(1, min(levels, math.ceil(c / top * levels)))]
        for c in counts
    )


def top_values_text(top: Sequence[dict[str, Any]], limit: int = 3) -> str:
    """'no 29,258 · yes 3,692' from a profile's ``top_values``."""
    parts = [f"{item.get('value')} {fmt_number(item.get('count'))}" for item in top[:limit]]
    more = " …" if len(top) > limit else ""
    return " · ".join(parts) + more


def _missing_text(column: dict[str, Any]) -> str:
    missing = column.get("missing") or 0
    if not missing:
        return "0"
    fraction = column.get("missing_fraction") or 0.0
    return f"{fmt_number(missing)} ({fraction:.1%})"


def _distribution(column: dict[str, Any]) -> str:
    kind = column.get("kind")
    if kind == "numeric":
        histogram = column.get("histogram") or {}
        return sparkline(histogram.get("counts") or [])
    if kind == "datetime":
        return ""
    text = top_values_text(column.get("top_values") or [])
    if kind == "text" and column.get("mean_length") is not None:
        text = f"mean length {column['mean_length']:.1f}" + (f"; {text}" if text else "")
    return text


def _summary_line(profile: dict[str, Any]) -> str:
    parts = [
        f"{fmt_number(profile.get('rows'))} rows, {fmt_number(profile.get('columns'))} columns"
    ]
    if profile.get("memory_bytes") is not None:
        parts.append(f"{fmt_bytes(profile['memory_bytes'])} in memory")
    if profile.get("sampled_rows"):
        parts.append(
            f"quantiles and histograms from a sample of {fmt_number(profile['sampled_rows'])} rows"
        )
    return " · ".join(parts)


def profile_renderables(profile: dict[str, Any] | None, width: int = 80) -> list[RenderableType]:
    """The summary line and the column tables of ``profile`` (a note when there is none).

    Numeric columns and the others get separate tables so that each fits a terminal: the
    numeric one has min / mean / max and a histogram (coarser when ``width``, the terminal's
    width, leaves no room for all its bins), the other the most frequent values.
    """
    if not profile:
        return [
            cell("No profile: only tabular data (mltable, tabular uri_file) is profiled.", "dim")
        ]
    columns = profile.get("column_profiles") or []
    numeric = [c for c in columns if c.get("kind") == "numeric"]
    others = [c for c in columns if c.get("kind") != "numeric"]
    out: list[RenderableType] = [cell(_summary_line(profile), "bold")]
    if numeric:
        out.extend(_numeric_tables(numeric, width))
    if others:
        out.append(_other_table(others))
    return out


_RIGHT: dict[str, Any] = {"justify": "right", "no_wrap": True}


def _distinct_text(column: dict[str, Any]) -> str:
    distinct = fmt_number(column.get("distinct"))
    return f"~{distinct}" if column.get("distinct_approximate") else distinct


def _numeric_tables(columns: list[dict[str, Any]], width: int) -> list[RenderableType]:
    """The numeric columns' statistics with their histograms inline when ``width`` allows,
    else followed by a separate histogram table (an 80-column terminal)."""
    rows = [
        (
            str(column.get("name")),
            str(column.get("dtype")),
            _missing_text(column),
            _distinct_text(column),
            fmt_number(column.get("min")),
            fmt_number(column.get("mean")),
            fmt_number(column.get("max")),
        )
        for column in columns
    ]
    headers = ("column", "dtype", "missing", "distinct", "min", "mean", "max")
    fixed = sum(max(len(h), *(len(r[i]) for r in rows)) + 2 for i, h in enumerate(headers))
    histograms = [
        sparkline((column.get("histogram") or {}).get("counts") or []) for column in columns
    ]
    inline = fixed + 2 + max(len(h) for h in histograms) <= width
    options: dict[str, dict[str, Any]] = {
        "column": {"style": "bold", "no_wrap": True},
        "dtype": {"no_wrap": True},
        "histogram": {"style": "cyan", "no_wrap": True},
        **{h: _RIGHT for h in headers[2:]},
    }
    table = new_table(
        *headers, *(("histogram",) if inline else ()), title="Numeric columns", options=options
    )
    for row, histogram in zip(rows, histograms, strict=True):
        add_row(table, (*row, histogram) if inline else row)
    if inline:
        return [table]
    spark = new_table(
        "column",
        "histogram (min → max)",
        title="Histograms",
        options={
            "column": {"style": "bold", "no_wrap": True},
            "histogram (min → max)": {"style": "cyan", "no_wrap": True},
        },
    )
    for row, histogram in zip(rows, histograms, strict=True):
        add_row(spark, (row[0], histogram))
    return [table, spark]


def _other_table(columns: list[dict[str, Any]]) -> RenderableType:
    table = new_table(
        "column",
        "dtype",
        "kind",
        "missing",
        "distinct",
        "values",
        title="Other columns",
        options={
            "column": {"style": "bold", "no_wrap": True},
            "dtype": {"no_wrap": True},
            "kind": {"no_wrap": True},
            "missing": _RIGHT,
            "distinct": _RIGHT,
            "values": {"overflow": "fold", "ratio": 1},
        },
    )
    for column in columns:
        values = _distribution(column)
        if column.get("kind") == "datetime":
            values = f"{column.get('min') or ''} … {column.get('max') or ''}"
        add_row(
            table,
            (
                column.get("name"),
                column.get("dtype"),
                column.get("kind"),
                _missing_text(column),
                _distinct_text(column),
                values,
            ),
        )
    return table
