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
        f"{fmt_number(profile.get('rows'))} rows × {fmt_number(profile.get('columns'))} columns"
    ]
    if profile.get("memory_bytes") is not None:
        parts.append(f"{fmt_bytes(profile['memory_bytes'])} in memory")
    if profile.get("sampled_rows"):
        parts.append(
            f"quantiles and histograms from a sample of {fmt_number(profile['sampled_rows'])} rows"
        )
    return " · ".join(parts)


def profile_renderables(profile: dict[str, Any] | None) -> list[RenderableType]:
    """The summary line and the per-column table of ``profile`` (a note when there is none)."""
    if not profile:
        return [cell("No profile: only tabular data (mltable, tabular uri_file) is profiled.", "dim")]
    table = new_table(
        "column",
        "dtype",
        "kind",
        "missing",
        "distinct",
        "min",
        "mean",
        "max",
        "distribution",
        title="Profile",
        **{
            "column": {"style": "bold", "overflow": "fold"},
            "missing": {"justify": "right"},
            "distinct": {"justify": "right"},
            "min": {"justify": "right"},
            "mean": {"justify": "right"},
            "max": {"justify": "right"},
            "distribution": {"overflow": "fold", "min_width": 20},
        },
    )
    for column in profile.get("column_profiles") or []:
        distinct = fmt_number(column.get("distinct"))
        if column.get("distinct_approximate"):
            distinct = f"~{distinct}"
        numeric = column.get("kind") == "numeric"
        add_row(
            table,
            (
                column.get("name"),
                column.get("dtype"),
                column.get("kind"),
                _missing_text(column),
                distinct,
                _fmt_stat(column.get("min"), numeric),
                fmt_number(column.get("mean")) if numeric else "",
                _fmt_stat(column.get("max"), numeric),
                cell(_distribution(column), "cyan" if numeric else ""),
            ),
        )
    return [cell(_summary_line(profile), "bold"), table]


def _fmt_stat(value: Any, numeric: bool) -> str:
    if value is None:
        return ""
    return fmt_number(value) if numeric else str(value)
