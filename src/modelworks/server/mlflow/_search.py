"""MLflow's search syntax on our stores.

- Run searches: MLflow's filter language is a subset of ours (``tracking.filters``), so a
  filter is parsed by our parser, MLflow's system tags are rewritten to the columns that hold
  them (``tags.mlflow.runName`` -> ``attributes.name``, ...) and the tree is written back as
  text for ``MetadataStore.search_runs``, which runs it in SQL. Order-by items likewise.
- Experiments, registered models and model versions: few enough to filter in memory with
  :func:`parse_simple` / :func:`matches` — MLflow's grammar there is ``key op value`` clauses
  joined by AND, over a few attributes and ``tags.<key>``. As in MLflow, ``tags.k != 'v'``
  (and NOT IN) also matches an entity without the tag: the MLflow client adds
  ``tags.`mlflow.prompt.is_prompt` != 'true'`` to every registry search.
- Logged models (runs of kind ``logged_model``): the simple grammar, compiled to a run filter.

Page tokens of the in-memory searches are opaque base64 offsets.
"""

from __future__ import annotations

import base64
import functools
import json
import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeAlias

from modelworks.errors import InvalidFilterError
from modelworks.server.mlflow._errors import MlflowError, invalid_value
from modelworks.tracking import filters as f

__all__ = [
    "Clause",
    "decode_offset",
    "encode_offset",
    "matches",
    "parse_simple",
    "run_filter",
    "run_order_by",
    "to_text",
]

Value: TypeAlias = str | float | tuple[str | float, ...]

#: MLflow system tags that are columns here: tag key -> run attribute.
_TAG_COLUMNS = {"mlflow.runName": "name", "mlflow.user": "user", "mlflow.parentRunId": "parent_id"}


# -- run searches: MLflow text -> our AST -> our text ---------------------------------------
def _rewrite(expr: f.Expr) -> f.Expr:
    if isinstance(expr, f.And | f.Or):
        return type(expr)(tuple(_rewrite(item) for item in expr.items))
    if expr.entity == "tags" and expr.key in _TAG_COLUMNS:
        return f.Comparison("attributes", _TAG_COLUMNS[expr.key], expr.op, expr.value)
    return expr


def _quote_key(key: str) -> str:
    return "`" + key.replace("\\", "\\\\").replace("`", "``") + "`"


def _literal(value: str | float) -> str:
    if isinstance(value, str):
        return "'" + value.replace("\\", "\\\\").replace("'", "''") + "'"
    if math.isnan(value) or math.isinf(value):
        raise InvalidFilterError(f"Cannot compare with {value}; use a finite number.")
    return repr(float(value))


def to_text(expr: f.Expr) -> str:
    """Our filter language's text for a parsed filter (``parse_filter(to_text(e)) == e``)."""
    if isinstance(expr, f.And | f.Or):
        joiner = " AND " if isinstance(expr, f.And) else " OR "
        return "(" + joiner.join(to_text(item) for item in expr.items) + ")"
    ident = (
        f"attributes.{expr.key}"
        if expr.entity == "attributes"
        else f"{expr.entity}.{_quote_key(expr.key)}"
    )
    op = expr.op.upper() if expr.op[0].isalpha() else expr.op
    if isinstance(expr.value, tuple):
        value = "(" + ", ".join(_literal(v) for v in expr.value) + ")"
    else:
        value = _literal(expr.value)
    return f"{ident} {op} {value}"


def run_filter(text: str | None, *, extra: str | None = None) -> str | None:
    """Our run filter for MLflow's ``text``, AND-ed with ``extra`` (already ours)."""
    expr = f.parse_filter(text) if text else None
    parts = [to_text(_rewrite(expr))] if expr is not None else []
    if extra:
        parts.append(extra)
    return " AND ".join(parts) or None


def run_order_by(items: Sequence[str]) -> list[str]:
    """MLflow order_by items as ours (system tags rewritten to their columns)."""
    out = []
    for term in f.parse_order_by(list(items)):
        entity, key = term.entity, term.key
        if entity == "tags" and key in _TAG_COLUMNS:
            entity, key = "attributes", _TAG_COLUMNS[key]
        ident = f"attributes.{key}" if entity == "attributes" else f"{entity}.{_quote_key(key)}"
        out.append(f"{ident} {'ASC' if term.ascending else 'DESC'}")
    return out


# -- the simple grammar (experiments, registry, logged models) ------------------------------
@dataclass(frozen=True)
class Clause:
    """``entity.key op value``; entity is attribute, tag, metric or param."""

    entity: str
    key: str
    op: str
    value: Value


_PREFIXES = {"tags": "tag", "tag": "tag", "attributes": "attribute", "attribute": "attribute"}
_PREFIXES |= {"attr": "attribute", "metrics": "metric", "metric": "metric"}
_PREFIXES |= {"params": "param", "param": "param"}
_TOKEN = re.compile(
    r"\s*(?:(?P<string>'(?:[^'\\]|\\.|'')*'|\"(?:[^\"\\]|\\.|\"\")*\")"
    r"|(?P<number>[-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?)(?![\w.])"
    r"|(?P<op>!=|<>|<=|>=|==|=|<|>)"
    r"|(?P<punct>[(),])"
    r"|(?P<ident>(?:[A-Za-z_][\w]*\.)?(?:`(?:[^`]|``)*`|\"(?:[^\"]|\"\")*\"|[\w.\-/:]+)))",
)


def _unquote(text: str) -> str:
    """A quoted token's value: a doubled quote or a backslash-escaped quote is the quote, and
    ``\\\\`` one backslash; other backslashes stay (they escape LIKE wildcards), as in
    ``tracking.filters``."""
    quote, body, out, i = text[0], text[1:-1], [], 0
    escapes = {quote * 2} if quote == "`" else {quote * 2, "\\" + quote, "\\\\"}
    while i < len(body):
        pair = body[i : i + 2]
        if pair in escapes:
            out.append(pair[1])
            i += 2
        else:
            out.append(body[i])
            i += 1
    return "".join(out)


def _bad(text: str, pos: int, message: str) -> MlflowError:
    return MlflowError(
        "INVALID_PARAMETER_VALUE",
        f"Invalid filter {text!r} at position {pos}: {message}",
    )


def _tokens(text: str) -> list[tuple[str, str, int]]:
    out, pos = [], 0
    while pos < len(text):
        if text[pos:].strip() == "":
            break
        m = _TOKEN.match(text, pos)
        if m is None or m.end() == pos:
            raise _bad(text, pos, f"unexpected character {text[pos:].lstrip()[:1]!r}.")
        kind = m.lastgroup or ""
        out.append((kind, m.group(kind), m.start(kind)))
        pos = m.end()
    out.append(("eof", "", len(text)))
    return out


def parse_simple(
    text: str | None,
    *,
    attributes: dict[str, str],
    entities: Sequence[str] = ("attribute", "tag"),
) -> list[Clause]:
    """Parse ``a = 'x' AND tags.k != 'y' AND ...``; ``attributes`` maps names to str/num."""
    if not text or not text.strip():
        return []
    tokens, i, clauses = _tokens(text), 0, []
    while True:
        kind, word, pos = tokens[i]
        if kind != "ident":
            raise _bad(text, pos, f"expected a key such as name or tags.<key>, found {word!r}.")
        prefix, dot, rest = word.partition(".")
        entity = _PREFIXES.get(prefix.lower()) if dot else None
        key = rest if entity else word
        entity = entity or "attribute"
        if key[:1] in '`"':
            key = _unquote(key)
        if entity not in entities:
            raise _bad(text, pos, f"'{prefix}.' keys are not searchable here.")
        kind_of = attributes.get(key) if entity == "attribute" else None
        if entity == "attribute" and kind_of is None:
            valid = ", ".join(sorted(attributes))
            raise _bad(text, pos, f"unknown attribute {key!r}; valid attributes are {valid}.")
        i += 1
        op_kind, op_word, op_pos = tokens[i]
        op = {"==": "=", "<>": "!="}.get(op_word, op_word) if op_kind == "op" else op_word.lower()
        if op == "not" and tokens[i + 1][1].lower() == "in":
            op, i = "not in", i + 1
        if op not in ("=", "!=", "<", "<=", ">", ">=", "like", "ilike", "in", "not in"):
            raise _bad(text, op_pos, f"expected a comparison operator, found {op_word!r}.")
        i += 1
        if op in ("in", "not in"):
            if tokens[i][1] != "(":
                raise _bad(text, tokens[i][2], "expected '(' after IN.")
            values: list[str | float] = []
            i += 1
            while True:
                values.append(_scalar(text, tokens[i]))
                i += 1
                if tokens[i][1] == ")":
                    break
                if tokens[i][1] != ",":
                    raise _bad(text, tokens[i][2], "expected ',' or ')' in the IN list.")
                i += 1
            value: Value = tuple(values)
        else:
            value = _scalar(text, tokens[i])
        numeric = entity == "metric" or kind_of == "num"
        if numeric != all(not isinstance(v, str) for v in _as_tuple(value)):
            want = "a number" if numeric else "a quoted string"
            raise _bad(text, tokens[i][2], f"{word} compares to {want}.")
        clauses.append(Clause(entity, key, op, value))
        i += 1
        kind, word, pos = tokens[i]
        if kind == "eof":
            return clauses
        if word.lower() != "and":
            raise _bad(text, pos, f"expected AND or the end of the filter, found {word!r}.")
        i += 1


def _scalar(text: str, token: tuple[str, str, int]) -> str | float:
    kind, word, pos = token
    if kind == "string":
        return _unquote(word)
    if kind == "number":
        return float(word)
    raise _bad(text, pos, f"expected a value, found {word or 'the end of the filter'!r}.")


def _as_tuple(value: Value) -> tuple[str | float, ...]:
    return value if isinstance(value, tuple) else (value,)


@functools.lru_cache(maxsize=128)
def _like(pattern: str, ignore_case: bool) -> re.Pattern[str]:
    parts = []
    for m in re.finditer(r"\\.|%|_|[^%_\\]+|\\", pattern):
        t = m.group()
        parts.append(
            ".*"
            if t == "%"
            else "."
            if t == "_"
            else re.escape(t[-1] if t[0] == "\\" and len(t) > 1 else t)
        )
    return re.compile("".join(parts), re.DOTALL | (re.IGNORECASE if ignore_case else 0))


def _holds(actual: str | float | None, clause: Clause) -> bool:
    op, value = clause.op, clause.value
    if actual is None:
        return clause.entity == "tag" and op in ("!=", "not in")
    if op in ("in", "not in"):
        found = actual in _as_tuple(value)
        return found if op == "in" else not found
    if isinstance(value, tuple) or isinstance(actual, str) != isinstance(value, str):
        return False
    if op in ("like", "ilike"):
        return isinstance(actual, str) and bool(_like(str(value), op == "ilike").fullmatch(actual))
    compare: dict[str, Callable[[Any, Any], bool]] = {
        "=": lambda a, b: a == b,
        "!=": lambda a, b: a != b,
        "<": lambda a, b: a < b,
        "<=": lambda a, b: a <= b,
        ">": lambda a, b: a > b,
        ">=": lambda a, b: a >= b,
    }
    return compare[op](actual, value)


def matches(clauses: Sequence[Clause], lookup: Callable[[str, str], str | float | None]) -> bool:
    """Whether every clause holds; ``lookup(entity, key)`` gives the entity's value or None."""
    return all(_holds(lookup(c.entity, c.key), c) for c in clauses)


def parse_order(
    items: Sequence[str], *, attributes: Sequence[str], field: str = "order_by"
) -> list[tuple[str, bool]]:
    """``["name ASC", "last_updated_timestamp DESC"]`` -> ``[(attribute, ascending)]``."""
    out = []
    for item in items:
        words = item.strip().split()
        if (
            not words
            or len(words) > 2
            or (len(words) == 2 and words[1].upper() not in ("ASC", "DESC"))
        ):
            raise invalid_value(field, item, "expected '<attribute> [ASC|DESC]'")
        name = words[0].split(".", 1)[1] if words[0].lower().startswith("attribute") else words[0]
        if name not in attributes:
            raise invalid_value(field, item, f"order by one of {', '.join(attributes)}")
        out.append((name, len(words) == 1 or words[1].upper() == "ASC"))
    return out


def sort_items(
    items: list[Any], order: list[tuple[str, bool]], key: Callable[[Any, str], Any]
) -> list[Any]:
    """Stable multi-key sort: the last key first."""
    for name, ascending in reversed(order):
        items.sort(key=lambda item: key(item, name), reverse=not ascending)
    return items


# -- page tokens of in-memory searches ------------------------------------------------------
def encode_offset(offset: int) -> str:
    return base64.urlsafe_b64encode(json.dumps({"offset": offset}).encode()).decode()


def decode_offset(token: str | None) -> int:
    if not token:
        return 0
    try:
        offset = json.loads(base64.urlsafe_b64decode(token.encode()))["offset"]
    except (ValueError, KeyError, TypeError) as e:
        raise invalid_value(
            "page_token", token, "pass the next_page_token of a previous page"
        ) from e
    if not isinstance(offset, int) or offset < 0:
        raise invalid_value("page_token", token, "pass the next_page_token of a previous page")
    return offset


def page_of(items: list[Any], token: str | None, max_results: int) -> tuple[list[Any], str | None]:
    start = decode_offset(token)
    chunk = items[start : start + max_results]
    more = start + max_results < len(items)
    return chunk, encode_offset(start + max_results) if more else None
