r"""The run-search filter language: parser, AST, reference evaluator and reference ordering.

``ws.runs.search(filter="metrics.auc > 0.9 and params.C = '1.0'", order_by=["metrics.auc desc"])``
is parsed here into a small typed AST; the SQL store compiles that AST into SQL, and
:func:`evaluate` / :func:`sort_runs` are the in-memory reference semantics every store must match.

Grammar (keywords are case-insensitive; AND binds tighter than OR)::

    filter     := or_expr
    or_expr    := and_expr (OR and_expr)*
    and_expr   := atom (AND atom)*
    atom       := "(" or_expr ")" | comparison
    comparison := identifier op value
    identifier := prefix "." key | prefix "." `quoted key` | prefix '."quoted key"' | attribute
    op         := = | != | < | <= | > | >= | LIKE | ILIKE | IN | NOT IN     (also == and <>)
    value      := number | 'string' | "string" | "(" value ("," value)* ")"   (lists for IN)

Prefixes: metrics/metric, params/param, tags/tag, attributes/attribute/attr/run; a bare
identifier is an attribute (see :data:`ATTRIBUTES`). Strings escape their quote by doubling it
or with a backslash (``\'``); ``\\`` is one backslash; any other backslash is kept as is.

Typing is checked at parse time: metrics and numeric attributes compare to numbers with
=, !=, <, <=, >, >=, IN, NOT IN; params, tags and string attributes compare to quoted strings
with =, !=, LIKE, ILIKE, IN, NOT IN (no < or >, whose string order differs between databases).
Status values are normalised to :class:`~modelworks.entities.RunStatus` values (MLflow's
FINISHED, KILLED, ... included), so stores only ever see canonical ones.

Semantics (what :func:`evaluate` does and the SQL store must reproduce): a comparison on a
missing key, a NaN metric or a None attribute is False, also for != and NOT IN. LIKE is SQL
LIKE with ``%`` and ``_`` wildcards and a backslash escaping the next character (SQL:
``ESCAPE '\'``), case-sensitive; ILIKE is the same, case-insensitive. (A literal backslash in
a LIKE pattern is therefore written ``'\\\\'``: one escape for the string, one for LIKE.)
"""

from __future__ import annotations

import functools
import math
import operator
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import NamedTuple, NoReturn, TypeAlias

from modelworks.entities import Run, RunStatus
from modelworks.errors import InvalidFilterError

__all__ = [
    "ATTRIBUTES",
    "And",
    "Comparison",
    "Expr",
    "Or",
    "OrderBy",
    "evaluate",
    "parse_filter",
    "parse_order_by",
    "sort_runs",
]

_Value: TypeAlias = float | str | tuple[str | float, ...]


@dataclass(frozen=True)
class Comparison:
    """``entity.key op value``; ``position`` (0-based offset in the text) is not compared."""

    entity: str
    key: str
    op: str
    value: _Value
    position: int = field(default=0, compare=False)


@dataclass(frozen=True)
class And:
    """All of ``items`` hold (the parser flattens nested ANDs)."""

    items: tuple[Expr, ...]


@dataclass(frozen=True)
class Or:
    """Any of ``items`` holds (the parser flattens nested ORs)."""

    items: tuple[Expr, ...]


Expr: TypeAlias = Comparison | And | Or


@dataclass(frozen=True)
class OrderBy:
    """One sort key of a search: ``entity.key``, ascending or descending."""

    entity: str
    key: str
    ascending: bool = True


_STR_FIELDS = ("id", "name", "status", "experiment_id", "parent_id", "kind", "user", "description")
_CANONICAL = dict.fromkeys(_STR_FIELDS, "str")
_CANONICAL |= dict.fromkeys(("created_at", "start_time", "end_time"), "num")
_SYNONYMS = {"run_id": "id", "run_name": "name", "runName": "name", "user_id": "user"}
_SYNONYMS |= {"start": "start_time", "end": "end_time", "parent_run_id": "parent_id"}
ATTRIBUTES: dict[str, tuple[str, str]] = {
    name: (_SYNONYMS.get(name, name), _CANONICAL[_SYNONYMS.get(name, name)])
    for name in [*_CANONICAL, *_SYNONYMS]
}
"""Every accepted attribute name (synonyms included) -> (canonical Run field, "str" or "num").
Numeric attributes are timestamps in milliseconds since the epoch."""

_ATTRIBUTES_LOWER = {name.lower(): spec for name, spec in ATTRIBUTES.items()}
_PREFIXES = dict.fromkeys(("metrics", "metric"), "metrics")
_PREFIXES |= dict.fromkeys(("params", "param"), "params")
_PREFIXES |= dict.fromkeys(("tags", "tag"), "tags")
_PREFIXES |= dict.fromkeys(("attributes", "attribute", "attr", "run"), "attributes")
_MLFLOW_STATUSES = {"finished": "Completed", "running": "Running", "failed": "Failed"}
_MLFLOW_STATUSES |= {"killed": "Canceled", "scheduled": "Queued"}
_STATUSES = {m.value.lower(): m.value for m in RunStatus}
_STATUSES |= {m.name.lower(): m.value for m in RunStatus}
_STATUSES |= _MLFLOW_STATUSES
_OP_LIST = "=, !=, <, <=, >, >=, LIKE, ILIKE, IN, NOT IN"
_NUM_OPS = "=, !=, <, <=, >, >=, IN, NOT IN"
_STR_OPS = "use =, !=, LIKE, ILIKE, IN or NOT IN"
_SYMBOL_OPS = {"==": "=", "<>": "!="} | {op: op for op in ("=", "!=", "<", "<=", ">", ">=")}
_ENTITY_KIND = {"metrics": "num", "params": "str", "tags": "str"}
_MAX_DEPTH = 100

_NUMBER = r"[-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?"
_TOKEN_RE = re.compile(
    rf"(?P<ws>\s+)|(?P<number>{_NUMBER})|(?P<ident>[^\W\d][\w.\-/:]*)"
    r"|(?P<op>!=|<>|<=|>=|==|=|<|>)|(?P<punct>[(),])"
)


class _Token(NamedTuple):
    kind: str  # number, ident, op, punct, string (quote in `quote`), eof
    text: str  # the source text of the token
    pos: int
    value: str | float = ""
    quote: str = ""

    @property
    def end(self) -> int:
        return self.pos + len(self.text)

    def describe(self) -> str:
        if self.kind == "eof":
            return "the end of the filter"
        text = self.text if len(self.text) <= 40 else self.text[:37] + "..."
        return f"'{text}'"

    def word(self) -> str:
        """The lower-cased keyword this token spells, or '' if it is not a bare word."""
        return self.text.lower() if self.kind == "ident" else ""


def _caret(text: str, pos: int) -> str:
    """The line of ``text`` holding ``pos``, indented, with a caret under ``pos``."""
    start = text.rfind("\n", 0, pos) + 1
    end = text.find("\n", pos)
    line = text[start : len(text) if end < 0 else end]
    col = pos - start
    if len(line) > 100:
        lo = max(0, col - 50)
        line, col = ("..." if lo else "") + line[lo : lo + 100], col - lo + (3 if lo else 0)
    line = "".join(c if c.isprintable() else " " for c in line)
    return f"  {line}\n  {' ' * col}^"


def _fail(text: str, pos: int, message: str, item: str | None = None) -> NoReturn:
    where = f"Invalid order_by item {item!r}" if item is not None else "Invalid filter"
    details: dict[str, object] = {"position": pos}
    if item is not None:
        details["item"] = item
    full = f"{where} at position {pos}: {message}\n{_caret(text, pos)}"
    raise InvalidFilterError(full, **details)


def _tokenize(text: str, item: str | None = None) -> list[_Token]:
    tokens: list[_Token] = []
    i, n = 0, len(text)
    while i < n:
        if text[i] in "'\"`":
            value, end = _scan_quoted(text, i, item)
            tokens.append(_Token("string", text[i:end], i, value, text[i]))
            i = end
            continue
        m = _TOKEN_RE.match(text, i)
        if m is None:
            hint = " Use AND and OR to combine comparisons." if text[i] in "&|" else ""
            _fail(text, i, f"unexpected character '{text[i]}'.{hint}", item)
        kind = m.lastgroup or ""
        if kind == "number":
            tokens.append(_Token(kind, m.group(), i, float(m.group())))
        elif kind != "ws":
            tokens.append(_Token(kind, m.group(), i))
        i = m.end()
    tokens.append(_Token("eof", "", len(text.rstrip())))
    return tokens


def _scan_quoted(text: str, start: int, item: str | None) -> tuple[str, int]:
    """Read the quoted string opening at ``start``; return its value and the index after it."""
    quote, i, out = text[start], start + 1, []
    while i < len(text):
        c = text[i]
        if c == "\\" and text[i + 1 : i + 2] in (quote, "\\"):
            out.append(text[i + 1])
            i += 2
        elif c == quote and text[i + 1 : i + 2] == quote:
            out.append(quote)
            i += 2
        elif c == quote:
            return "".join(out), i + 1
        else:
            out.append(c)
            i += 1
    msg = f"unterminated string: the {quote} opened here is never closed; end it with {quote}."
    _fail(text, start, msg, item)


class _Parser:
    """Recursive-descent parser over the token list of one filter (or one order_by item)."""

    def __init__(self, text: str, item: str | None = None) -> None:
        self.text, self.item = text, item
        self.tokens = _tokenize(text, item)
        self.i = 0

    def peek(self) -> _Token:
        return self.tokens[self.i]

    def next(self) -> _Token:
        tok = self.tokens[self.i]
        self.i = min(self.i + 1, len(self.tokens) - 1)
        return tok

    def fail(self, pos: int, message: str) -> NoReturn:
        _fail(self.text, pos, message, self.item)

    def or_expr(self, depth: int) -> Expr:
        items = [self.and_expr(depth)]
        while self.peek().word() == "or":
            self.next()
            items.append(self.and_expr(depth))
        return _combine(Or, items)

    def and_expr(self, depth: int) -> Expr:
        items = [self.atom(depth)]
        while self.peek().word() == "and":
            self.next()
            items.append(self.atom(depth))
        return _combine(And, items)

    def atom(self, depth: int) -> Expr:
        tok = self.peek()
        if tok.text != "(":
            return self.comparison()
        if depth >= _MAX_DEPTH:
            self.fail(tok.pos, f"parentheses nested deeper than {_MAX_DEPTH} levels.")
        self.next()
        expr = self.or_expr(depth + 1)
        close = self.next()
        if close.kind == "eof":
            self.fail(tok.pos, "unbalanced parentheses: this '(' is never closed; add a ')'.")
        if close.text != ")":
            self.fail(close.pos, f"expected AND, OR or ')', found {close.describe()}.")
        return expr

    def identifier(self) -> tuple[str, str, str]:
        """Read ``prefix.key`` or a bare attribute; return (entity, canonical key, source text)."""
        tok = self.next()
        if tok.kind != "ident" or tok.word() in ("and", "or", "not", "in", "like", "ilike"):
            example = "metrics.auc > 0.9" if self.item is None else "metrics.auc DESC"
            self.fail(tok.pos, f"expected a comparison such as {example}, found {tok.describe()}.")
        prefix, dot, key = tok.text.partition(".")
        label = tok.text
        if not dot:
            return "attributes", self.attribute(tok.text, tok.pos), label
        entity = _PREFIXES.get(prefix.lower())
        if entity is None:
            valid = ", ".join(sorted(_PREFIXES))
            self.fail(
                tok.pos,
                f"unknown prefix '{prefix}' in '{tok.text}'; valid prefixes are {valid} "
                f"(e.g. tags.{tok.text} for a tag named '{tok.text}').",
            )
        if not key:
            quoted = self.peek()
            if quoted.kind != "string" or quoted.quote == "'" or quoted.pos != tok.end:
                self.fail(
                    tok.end,
                    f"expected a key after '{tok.text}', e.g. {prefix}.auc or "
                    f'{prefix}."my key", found {quoted.describe()}.',
                )
            self.next()
            key, label = str(quoted.value), tok.text + quoted.text
            if not key:
                self.fail(quoted.pos, f"empty key after '{tok.text}'.")
        if entity == "attributes":
            key = self.attribute(key, tok.pos + len(prefix) + 1)
        return entity, key, label

    def attribute(self, name: str, pos: int) -> str:
        spec = _ATTRIBUTES_LOWER.get(name.lower())
        if spec is None:
            valid = ", ".join(sorted(ATTRIBUTES))
            self.fail(
                pos,
                f"unknown attribute '{name}'; valid attributes are {valid}. For a metric, "
                f"param or tag write metrics.{name}, params.{name} or tags.{name}.",
            )
        return spec[0]

    def operator(self, label: str) -> tuple[str, _Token]:
        tok = self.next()
        word = tok.word()
        if tok.kind == "op":
            return _SYMBOL_OPS[tok.text], tok
        if word in ("like", "ilike", "in"):
            return word, tok
        if word == "not":
            nxt = self.next()
            if nxt.word() == "in":
                return "not in", tok
            self.fail(nxt.pos, f"expected IN after NOT, found {nxt.describe()}.")
        self.fail(
            tok.pos,
            f"expected a comparison operator ({_OP_LIST}) after '{label}', found {tok.describe()}.",
        )

    def comparison(self) -> Comparison:
        start = self.peek().pos
        entity, key, label = self.identifier()
        op, op_tok = self.operator(label)
        kind = ATTRIBUTES[key][1] if entity == "attributes" else _ENTITY_KIND[entity]
        noun = key if entity == "attributes" else entity
        if kind == "num" and op in ("like", "ilike"):
            msg = f"{op.upper()} applies to strings; {noun} compare to numbers with {_NUM_OPS}."
            self.fail(op_tok.pos, msg)
        if kind == "str" and op in ("<", "<=", ">", ">="):
            self.fail(
                op_tok.pos, f"'{op}' does not apply to {noun}, which hold strings; {_STR_OPS}."
            )
        shown = f"{label} {op.upper() if op[0].isalpha() else op} "
        if op not in ("in", "not in"):
            return Comparison(entity, key, op, self.scalar(entity, key, kind, shown, op), start)
        if (open_tok := self.next()).text != "(":
            self.fail(
                open_tok.pos, f"expected '(' after '{shown.strip()}', found {open_tok.describe()}."
            )
        if self.peek().text == ")":
            example = "('a', 'b')" if kind == "str" else "(0.1, 0.2)"
            self.fail(open_tok.pos, f"empty IN list: give at least one value, e.g. {example}.")
        values = [self.scalar(entity, key, kind, shown + "(", op)]
        while (sep := self.next()).text == ",":
            values.append(self.scalar(entity, key, kind, shown + "(", op))
        if sep.text != ")":
            self.fail(sep.pos, f"expected ',' or ')' in the list, found {sep.describe()}.")
        return Comparison(entity, key, op, tuple(values), start)

    def scalar(self, entity: str, key: str, kind: str, before: str, op: str) -> str | float:
        """Read one value of the type ``kind`` the compared field holds."""
        tok = self.next()
        if kind == "num" and tok.kind == "number":
            return float(tok.value)
        if kind == "num" and tok.kind == "string":
            number = str(tok.value).strip()
            number = number if re.fullmatch(_NUMBER, number) else "0.9"
            noun = "metrics compare" if entity == "metrics" else f"{key} compares"
            unit = "" if entity == "metrics" else " (milliseconds since the epoch)"
            self.fail(
                tok.pos,
                f"{noun} to numbers{unit}, found the string {tok.text}; "
                f"write {before}{number} without quotes.",
            )
        if kind == "str" and tok.kind in ("number", "ident"):
            noun = f"{key} holds" if entity == "attributes" else f"{entity} hold"
            self.fail(tok.pos, f"{noun} strings: write {before}{_quote(tok.text)}.")
        if tok.kind != "string" or kind == "num":
            wanted = "a number" if kind == "num" else "a quoted string"
            self.fail(
                tok.pos, f"expected {wanted} after '{before.strip()}', found {tok.describe()}."
            )
        value = str(tok.value)
        if entity != "attributes" or key != "status" or op in ("like", "ilike"):
            return value
        if (status := _STATUSES.get(value.lower())) is None:
            valid = ", ".join(m.value for m in RunStatus)
            mlflow = ", ".join(name.upper() for name in _MLFLOW_STATUSES)
            msg = f"unknown status {tok.text}; valid statuses are {valid} (or MLflow's {mlflow})."
            self.fail(tok.pos, msg)
        return status


def _quote(text: str) -> str:
    return "'" + text.replace("\\", "\\\\").replace("'", "''") + "'"


def _combine(cls: type[And] | type[Or], items: list[Expr]) -> Expr:
    """One item stays itself; several become ``cls``, with nested ``cls`` nodes flattened."""
    if len(items) == 1:
        return items[0]
    flat: list[Expr] = []
    for item in items:
        flat.extend(item.items if isinstance(item, cls) else (item,))
    return cls(tuple(flat))


def parse_filter(text: str | None) -> Expr | None:
    """Parse a run-search filter into its AST; None for None, empty or blank text.

    Raises InvalidFilterError whose message names the position and shows it with a caret.
    """
    if text is not None and not isinstance(text, str):
        raise InvalidFilterError(
            f"A filter must be a string, got {type(text).__name__}.", position=0
        )
    if text is None or not text.strip():
        return None
    parser = _Parser(text)
    expr = parser.or_expr(0)
    tok = parser.peek()
    if tok.text == ")":
        parser.fail(tok.pos, "unbalanced parentheses: this ')' has no matching '('.")
    if tok.kind != "eof":
        parser.fail(tok.pos, f"expected AND, OR or the end of the filter, found {tok.describe()}.")
    return expr


def parse_order_by(items: Sequence[str] | None) -> list[OrderBy]:
    """Parse order_by items such as "metrics.auc desc", "params.C ASC" or "name" (ascending).

    A bare name is an attribute. Raises InvalidFilterError naming the bad item.
    """
    if items is None:
        return []
    if isinstance(items, str):
        items = [items]
    result = []
    for item in items:
        if not isinstance(item, str) or not item.strip():
            raise InvalidFilterError(
                f"Invalid order_by item {item!r}: expected a key such as 'metrics.auc DESC'.",
                item=item if isinstance(item, str) else repr(item),
                position=0,
            )
        parser = _Parser(item, item)
        entity, key, label = parser.identifier()
        tok = parser.next()
        ascending = tok.word() != "desc"
        if tok.word() in ("asc", "desc"):
            tok = parser.next()
        elif tok.kind != "eof":
            parser.fail(tok.pos, f"expected ASC or DESC after '{label}', found {tok.describe()}.")
        if tok.kind != "eof":
            parser.fail(tok.pos, f"expected the end of the item, found {tok.describe()}.")
        result.append(OrderBy(entity, key, ascending))
    return result


def _lookup(run: Run, entity: str, key: str) -> str | float | None:
    """The run's value for ``entity.key``, or None when it has none."""
    if entity == "metrics":  # NaN is no value: it neither matches nor sorts
        value = run.metrics.get(key)
        return None if value is None or math.isnan(value) else float(value)
    if entity == "params":
        return run.params.get(key)
    if entity == "tags":
        return run.tags.get(key)
    name = ATTRIBUTES.get(key, ("", ""))[0]
    attr = getattr(run, name) if name else None
    return attr.value if isinstance(attr, RunStatus) else attr


def _like_piece(m: re.Match[str]) -> str:
    t = m.group()
    return ".*" if t == "%" else "." if t == "_" else re.escape(t[-1])


@functools.lru_cache(maxsize=256)
def _like_regex(pattern: str, ignore_case: bool) -> re.Pattern[str]:
    """SQL LIKE as a regex: % is any run, _ any one character, a backslash escapes the next."""
    regex = re.sub(r"\\.|.", _like_piece, pattern, flags=re.DOTALL)
    return re.compile(regex, re.DOTALL | (re.IGNORECASE if ignore_case else 0))


_ORDERINGS = {"<": operator.lt, "<=": operator.le, ">": operator.gt, ">=": operator.ge}


def _matches(actual: str | float, op: str, value: _Value) -> bool:
    if op in ("in", "not in"):
        values = value if isinstance(value, tuple) else (value,)
        found = any(type(v) is type(actual) and v == actual for v in values)
        return found if op == "in" else not found
    if isinstance(value, tuple) or isinstance(actual, str) != isinstance(value, str):
        return False
    if op in ("like", "ilike"):
        return isinstance(actual, str) and bool(
            _like_regex(str(value), op == "ilike").fullmatch(actual)
        )
    if op == "=":
        return actual == value
    if op == "!=":
        return actual != value
    compare = _ORDERINGS.get(op)
    return compare is not None and bool(compare(actual, value))


def evaluate(expr: Expr | None, run: Run) -> bool:
    """Whether ``run`` matches ``expr`` (None matches every run): the reference semantics."""
    if expr is None:
        return True
    if isinstance(expr, And):
        return all(evaluate(item, run) for item in expr.items)
    if isinstance(expr, Or):
        return any(evaluate(item, run) for item in expr.items)
    actual = _lookup(run, expr.entity, expr.key)
    if actual is None:
        return False
    value = expr.value
    is_status = expr.entity == "attributes" and ATTRIBUTES.get(expr.key, ("",))[0] == "status"
    if is_status and expr.op not in ("like", "ilike"):  # hand-built ASTs may skip normalising
        value = tuple(map(_norm_status, value)) if isinstance(value, tuple) else _norm_status(value)
    if isinstance(actual, int) and not isinstance(actual, bool):
        actual = float(actual)
    return _matches(actual, expr.op, value)


def _norm_status(value: str | float) -> str | float:
    return _STATUSES.get(value.lower(), value) if isinstance(value, str) else value


def sort_runs(runs: Iterable[Run], order_by: list[OrderBy]) -> list[Run]:
    """Order runs by ``order_by``: the reference ordering every store must match.

    Runs without a value for a key (a NaN metric counts as none) sort last whatever the direction; ties
    are broken by created_at descending, then id ascending.
    """
    ordered = sorted(runs, key=lambda r: r.id)
    ordered.sort(key=lambda r: r.created_at, reverse=True)
    for ob in reversed(order_by):
        present: list[tuple[str | float, Run]] = []
        missing: list[Run] = []
        for run in ordered:
            value = _lookup(run, ob.entity, ob.key)
            if value is None:
                missing.append(run)
            else:
                present.append((value, run))
        present.sort(key=lambda pair: pair[0], reverse=not ob.ascending)
        ordered = [run for _, run in present] + missing
    return ordered
