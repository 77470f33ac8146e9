"""Compiles the run-search filter language (``tracking.filters``) into SQL over the run tables."""

from __future__ import annotations

import base64
import json
from collections.abc import Sequence
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, exists, false, not_, or_
from sqlalchemy.sql.elements import ColumnClause

from modelworks.errors import InvalidInputError
from modelworks.store.sql.schema import latest_metrics, params, runs, tags
from modelworks.tracking import filters as f

__all__ = ["apply_order", "compile_filter", "decode_page_token", "encode_page_token"]


def _attribute_column(key: str) -> Any:
    entry = f.ATTRIBUTES.get(key)
    canonical = entry[0] if isinstance(entry, tuple) else (entry or key)
    if canonical not in runs.c:
        raise InvalidInputError(f"Cannot search on attribute {key!r}.")
    return runs.c[canonical]


def _compare(column: Any, op: str, value: Any) -> ColumnElement[bool]:
    if op == "=":
        return column == value
    if op == "!=":
        return column != value
    if op == "<":
        return column < value
    if op == "<=":
        return column <= value
    if op == ">":
        return column > value
    if op == ">=":
        return column >= value
    if op == "like":
        return column.like(value, escape="\\")
    if op == "ilike":
        return column.ilike(value, escape="\\")
    if op == "in":
        return column.in_(list(value))
    if op == "not in":
        return not_(column.in_(list(value)))
    raise InvalidInputError(f"Unsupported operator {op!r}.")


def _comparison(node: f.Comparison) -> ColumnElement[bool]:
    if node.entity == "attributes":
        column = _attribute_column(node.key)
        value: Any = node.value
        if column is runs.c.status:
            value = _status_values(value)
        cond = _compare(column, node.op, value)
        if node.op in ("!=", "not in"):
            cond = and_(column.is_not(None), cond)
        return cond
    if node.entity == "metrics":
        lm = latest_metrics
        return exists().where(
            lm.c.run_id == runs.c.id,
            lm.c.key == node.key,
            lm.c.is_nan.is_(False),
            _compare(lm.c.value, node.op, node.value),
        )
    table = params if node.entity == "params" else tags
    return exists().where(
        table.c.run_id == runs.c.id,
        table.c.key == node.key,
        _compare(table.c.value, node.op, node.value),
    )


def _status_values(value: Any) -> Any:
    from modelworks.entities import RunStatus

    if isinstance(value, tuple | list):
        return tuple(RunStatus.parse(v).value for v in value)
    return RunStatus.parse(value).value if isinstance(value, str) and "%" not in value else value


def compile_filter(expr: f.Expr | None) -> ColumnElement[bool] | None:
    """The WHERE clause for a parsed filter (None when there is no filter)."""
    if expr is None:
        return None
    if isinstance(expr, f.Comparison):
        return _comparison(expr)
    parts = [compile_filter(item) for item in expr.items]
    clauses = [p for p in parts if p is not None]
    if not clauses:
        return false()
    return and_(*clauses) if isinstance(expr, f.And) else or_(*clauses)


def apply_order(query: Select[Any], order_by: Sequence[f.OrderBy]) -> Select[Any]:
    """Add ORDER BY terms; runs lacking a metric/param/tag sort last in either direction."""
    for index, term in enumerate(order_by):
        column: Any
        if term.entity == "attributes":
            column = _attribute_column(term.key)
        else:
            source = {"metrics": latest_metrics, "params": params, "tags": tags}[term.entity]
            alias = source.alias(f"order_{index}")
            on = and_(alias.c.run_id == runs.c.id, alias.c.key == term.key)
            query = query.outerjoin(alias, on)
            column = alias.c.value
        missing: ColumnClause[Any] | Any = column.is_(None)
        query = query.order_by(missing.asc(), column.asc() if term.ascending else column.desc())
    return query.order_by(runs.c.created_at.desc(), runs.c.id.asc())


def encode_page_token(offset: int) -> str:
    return base64.urlsafe_b64encode(json.dumps({"offset": offset}).encode()).decode()


def decode_page_token(token: str | None) -> int:
    if not token:
        return 0
    try:
        offset = json.loads(base64.urlsafe_b64decode(token.encode()))["offset"]
        if not isinstance(offset, int) or offset < 0:
            raise ValueError(offset)
        return offset
    except (ValueError, KeyError, TypeError) as e:
        raise InvalidInputError(
            f"Invalid page token {token!r}: pass the next_page_token of a previous page."
        ) from e
