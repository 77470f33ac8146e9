"""Tests of the run-search filter language: parsing, errors, evaluation and ordering."""

from __future__ import annotations

import itertools
import math
import re
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from modelworks.entities import Run, RunStatus
from modelworks.errors import InvalidFilterError
from modelworks.tracking.filters import (
    ATTRIBUTES,
    And,
    Comparison,
    Expr,
    Or,
    OrderBy,
    evaluate,
    parse_filter,
    parse_order_by,
    sort_runs,
)


def C(entity: str, key: str, op: str, value: Any, position: int = 0) -> Comparison:
    return Comparison(entity, key, op, value, position)


def comparisons(expr: Expr | None) -> list[Comparison]:
    """The comparisons of ``expr`` in text order."""
    if expr is None:
        return []
    if isinstance(expr, Comparison):
        return [expr]
    return [c for item in expr.items for c in comparisons(item)]


def parse_error(text: str) -> InvalidFilterError:
    with pytest.raises(InvalidFilterError) as info:
        parse_filter(text)
    return info.value


# --------------------------------------------------------------------------- concrete parses


@pytest.mark.parametrize("text", [None, "", "   ", "\n\t "])
def test_empty_filter_is_none(text: str | None) -> None:
    assert parse_filter(text) is None


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("metrics.auc > 0.9", C("metrics", "auc", ">", 0.9)),
        ("metric.auc >= 1", C("metrics", "auc", ">=", 1.0)),
        ("metrics.loss < -2.5e-3", C("metrics", "loss", "<", -0.0025)),
        ("metrics.loss <= 1E3", C("metrics", "loss", "<=", 1000.0)),
        ("metrics.loss = .5", C("metrics", "loss", "=", 0.5)),
        ("metrics.loss == 5.", C("metrics", "loss", "=", 5.0)),
        ("metrics.loss <> +7", C("metrics", "loss", "!=", 7.0)),
        ("metrics.loss != 0", C("metrics", "loss", "!=", 0.0)),
        ("metrics.auc>0.9", C("metrics", "auc", ">", 0.9)),
        ("metrics.val/loss < 1", C("metrics", "val/loss", "<", 1.0)),
        ("metrics.a-b:c.d_e < 1", C("metrics", "a-b:c.d_e", "<", 1.0)),
        ("metrics.`my key` < 1", C("metrics", "my key", "<", 1.0)),
        ('metrics."my key" < 1', C("metrics", "my key", "<", 1.0)),
        ('metrics."a ""q"" b" < 1', C("metrics", 'a "q" b', "<", 1.0)),
        ("metrics.`a``b` < 1", C("metrics", "a`b", "<", 1.0)),
        ("metrics.précision > 0.5", C("metrics", "précision", ">", 0.5)),
        ("METRICS.auc > 0.9", C("metrics", "auc", ">", 0.9)),
        ("params.C = '1.0'", C("params", "C", "=", "1.0")),
        ('param.C = "1.0"', C("params", "C", "=", "1.0")),
        ("params.C != ''", C("params", "C", "!=", "")),
        ("params.name = 'it''s'", C("params", "name", "=", "it's")),
        ("params.name = 'it\\'s'", C("params", "name", "=", "it's")),
        ('params.name = "say ""hi"""', C("params", "name", "=", 'say "hi"')),
        ("params.path = 'C:\\data\\x'", C("params", "path", "=", "C:\\data\\x")),
        ("params.path = 'ends\\\\'", C("params", "path", "=", "ends\\")),
        ("params.model like 'lgbm%'", C("params", "model", "like", "lgbm%")),
        ("params.model ILIKE '%GBM_'", C("params", "model", "ilike", "%GBM_")),
        ("tags.mlflow.runName = 'x'", C("tags", "mlflow.runName", "=", "x")),
        ("tag.team = 'a'", C("tags", "team", "=", "a")),
        ("tags.`weird = key` = 'v'", C("tags", "weird = key", "=", "v")),
        ("tags.t in ('a', \"b\")", C("tags", "t", "in", ("a", "b"))),
        ("tags.t NOT IN ('a')", C("tags", "t", "not in", ("a",))),
        ("tags.t not   in ('a','b' , 'c')", C("tags", "t", "not in", ("a", "b", "c"))),
        ("metrics.m in (1, 2.5, -3)", C("metrics", "m", "in", (1.0, 2.5, -3.0))),
        ("status = 'Completed'", C("attributes", "status", "=", "Completed")),
        ("status = 'completed'", C("attributes", "status", "=", "Completed")),
        ("attributes.status = 'FINISHED'", C("attributes", "status", "=", "Completed")),
        ("attribute.status != 'killed'", C("attributes", "status", "!=", "Canceled")),
        ("attr.status = 'SCHEDULED'", C("attributes", "status", "=", "Queued")),
        ("run.status = 'cancel_requested'", C("attributes", "status", "=", "CancelRequested")),
        (
            "status in ('RUNNING', 'failed')",
            C("attributes", "status", "in", ("Running", "Failed")),
        ),
        ("status like 'C%'", C("attributes", "status", "like", "C%")),
        ("run_id = 'abc'", C("attributes", "id", "=", "abc")),
        ("attributes.run_name = 'n'", C("attributes", "name", "=", "n")),
        ("runName = 'n'", C("attributes", "name", "=", "n")),
        ("RUNNAME = 'n'", C("attributes", "name", "=", "n")),
        ("user_id = 'bob'", C("attributes", "user", "=", "bob")),
        ("start > 5", C("attributes", "start_time", ">", 5.0)),
        ("attributes.created_at >= 1700000000000", C("attributes", "created_at", ">=", 1.7e12)),
        ("end_time < 10", C("attributes", "end_time", "<", 10.0)),
        ("experiment_id = '1'", C("attributes", "experiment_id", "=", "1")),
        ("parent_id = 'p'", C("attributes", "parent_id", "=", "p")),
        ("kind = 'trial'", C("attributes", "kind", "=", "trial")),
        ("description ilike '%baseline%'", C("attributes", "description", "ilike", "%baseline%")),
    ],
)
def test_parses_one_comparison(text: str, expected: Comparison) -> None:
    assert parse_filter(text) == expected


def test_and_or_and_parentheses() -> None:
    a, b, c = (C("metrics", k, ">", 1.0) for k in "abc")
    assert parse_filter("metrics.a > 1 and metrics.b > 1") == And((a, b))
    assert parse_filter("metrics.a > 1 OR metrics.b > 1") == Or((a, b))
    # AND binds tighter than OR, on either side.
    assert parse_filter("metrics.a>1 or metrics.b>1 and metrics.c>1") == Or((a, And((b, c))))
    assert parse_filter("metrics.a>1 and metrics.b>1 or metrics.c>1") == Or((And((a, b)), c))
    assert parse_filter("metrics.a>1 and (metrics.b>1 or metrics.c>1)") == And((a, Or((b, c))))
    assert parse_filter("(metrics.a>1 or metrics.b>1) and metrics.c>1") == And((Or((a, b)), c))
    # Chains and redundant parentheses flatten.
    assert parse_filter("metrics.a>1 And metrics.b>1 aNd metrics.c>1") == And((a, b, c))
    assert parse_filter("(metrics.a>1 and metrics.b>1) and metrics.c>1") == And((a, b, c))
    assert parse_filter("metrics.a>1 or (metrics.b>1 or (metrics.c>1))") == Or((a, b, c))
    assert parse_filter("((((metrics.a > 1))))") == a


def test_positions_point_at_each_comparison() -> None:
    text = "metrics.auc > 0.9 and (params.C = '1.0' or\n  status = 'Completed')"
    found = comparisons(parse_filter(text))
    assert [c.position for c in found] == [0, 23, 45]
    assert [text[c.position :].split()[0] for c in found] == ["metrics.auc", "params.C", "status"]


def test_position_is_not_part_of_equality() -> None:
    assert C("metrics", "a", ">", 1.0, 0) == C("metrics", "a", ">", 1.0, 42)
    assert hash(C("metrics", "a", ">", 1.0, 0)) == hash(C("metrics", "a", ">", 1.0, 42))


def test_ast_nodes_are_frozen() -> None:
    node = C("metrics", "a", ">", 1.0)
    with pytest.raises(AttributeError):
        node.key = "b"  # type: ignore[misc]


def test_attributes_table_covers_run_fields_and_synonyms() -> None:
    run_fields = {"id", "name", "status", "experiment_id", "parent_id", "kind", "user"}
    run_fields |= {"description", "created_at", "start_time", "end_time"}
    assert {field for field, _ in ATTRIBUTES.values()} == run_fields
    for name in run_fields:
        assert ATTRIBUTES[name][0] == name
        assert hasattr(Run("i", "e", "n", RunStatus.QUEUED, 0), name)
    assert ATTRIBUTES["run_id"] == ("id", "str")
    assert ATTRIBUTES["run_name"] == ATTRIBUTES["runName"] == ("name", "str")
    assert ATTRIBUTES["user_id"] == ("user", "str")
    assert ATTRIBUTES["start"] == ("start_time", "num")
    assert {kind for name, (_, kind) in ATTRIBUTES.items() if name.endswith(("_at", "_time"))} == {
        "num"
    }


# --------------------------------------------------------------------------- errors


def test_error_message_shows_position_and_caret() -> None:
    err = parse_error("metrics.auc is 0.9")
    assert err.message == (
        "Invalid filter at position 12: expected a comparison operator "
        "(=, !=, <, <=, >, >=, LIKE, ILIKE, IN, NOT IN) after 'metrics.auc', found 'is'.\n"
        "  metrics.auc is 0.9\n"
        "              ^"
    )
    assert err.details == {"position": 12}
    assert err.status_code == 400
    assert err.code == "INVALID_FILTER"


@pytest.mark.parametrize(
    ("text", "position", "fragments"),
    [
        # Types.
        ("metrics.auc > '0.9'", 14, ["metrics compare to numbers", "write metrics.auc > 0.9"]),
        ("metrics.auc > 'high'", 14, ["metrics compare to numbers"]),
        ("metrics.m in (1, 'x')", 17, ["metrics compare to numbers"]),
        ("params.C = 1.0", 11, ["params hold strings: write params.C = '1.0'"]),
        ("tags.v = 2", 9, ["tags hold strings: write tags.v = '2'"]),
        ("params.x = abc", 11, ["params hold strings: write params.x = 'abc'"]),
        ("params.C in ('a', 1)", 18, ["params hold strings", "params.C IN ('1'"]),
        ("name = 5", 7, ["name holds strings: write name = '5'"]),
        ("start_time > '2024'", 13, ["start_time compares to numbers", "milliseconds"]),
        ("metrics.auc like '0.9%'", 12, ["LIKE applies to strings", "metrics compare to numbers"]),
        ("end_time ilike '1%'", 9, ["ILIKE applies to strings"]),
        ("params.C < '1'", 9, ["'<' does not apply to params", "LIKE"]),
        ("status >= 'Running'", 7, ["'>=' does not apply to status"]),
        ("status = 'Done'", 9, ["unknown status 'Done'", "Completed", "FINISHED"]),
        ("status in ('Running', 'nope')", 22, ["unknown status 'nope'"]),
        # Identifiers.
        ("foo = 'x'", 0, ["unknown attribute 'foo'", "start_time", "run_name", "params.foo"]),
        ("attributes.foo = 'x'", 11, ["unknown attribute 'foo'"]),
        ("metricz.auc > 1", 0, ["unknown prefix 'metricz'", "metrics", "params", "attr"]),
        ("metrics. > 1", 8, ["expected a key after 'metrics.'"]),
        ("metrics. `a` > 1", 8, ["expected a key after 'metrics.'"]),
        ("metrics.'a' > 1", 8, ["expected a key after 'metrics.'"]),
        ("metrics.`` > 1", 8, ["empty key"]),
        ("> 1", 0, ["expected a comparison", "found '>'"]),
        ("'x' = 'x'", 0, ["expected a comparison", "found ''x''"]),
        ("and = 'x'", 0, ["expected a comparison", "found 'and'"]),
        # Operators and values.
        ("metrics.auc", 11, ["expected a comparison operator", "found the end of the filter"]),
        ("params.x not like 'a'", 13, ["expected IN after NOT", "found 'like'"]),
        ("metrics.auc >", 13, ["expected a number after 'metrics.auc >'", "end of the filter"]),
        ("params.x =", 10, ["expected a quoted string after 'params.x ='"]),
        ("params.x = (", 11, ["expected a quoted string"]),
        ("params.x in 'a'", 12, ["expected '(' after 'params.x IN'"]),
        ("params.x in ()", 12, ["empty IN list", "at least one value"]),
        ("metrics.x in ( )", 13, ["empty IN list", "(0.1, 0.2)"]),
        ("params.x in ('a',)", 17, ["expected a quoted string"]),
        ("params.x in ('a' 'b')", 17, ["expected ',' or ')'", "found ''b''"]),
        ("params.x in ('a'", 16, ["expected ',' or ')'", "end of the filter"]),
        # Strings, parentheses, trailing text.
        ("params.x = 'abc", 11, ["unterminated string", "'"]),
        ('params.x = "abc', 11, ["unterminated string", '"']),
        ("params.x = 'a\\'", 11, ["unterminated string"]),
        ("metrics.`abc > 1", 8, ["unterminated string"]),
        ("(metrics.a > 1", 0, ["unbalanced parentheses", "never closed"]),
        ("((metrics.a > 1)", 0, ["unbalanced parentheses", "never closed"]),
        ("metrics.a > 1)", 13, ["unbalanced parentheses", "no matching '('"]),
        ("(metrics.a > 1) metrics.b > 1", 16, ["expected AND, OR or the end of the filter"]),
        ("(metrics.a > 1 metrics.b > 1)", 15, ["expected AND, OR or ')'"]),
        ("metrics.a > 1 foo", 14, ["expected AND, OR or the end", "found 'foo'"]),
        ("metrics.a > 1 and", 17, ["expected a comparison", "the end of the filter"]),
        ("metrics.a > 1 or  ", 16, ["expected a comparison"]),
        ("()", 1, ["expected a comparison", "found ')'"]),
        ("metrics.a > 1 && metrics.b > 1", 14, ["unexpected character '&'", "AND and OR"]),
        ("metrics.a ! 1", 10, ["unexpected character '!'"]),
        ("metrics.a > 1 ; drop table runs", 14, ["unexpected character ';'"]),
    ],
)
def test_errors_name_position_and_problem(text: str, position: int, fragments: list[str]) -> None:
    err = parse_error(text)
    assert err.details["position"] == position
    assert err.message.startswith(f"Invalid filter at position {position}: ")
    for fragment in fragments:
        assert fragment in err.message
    _, line, caret = err.message.split("\n")
    assert line == "  " + text
    assert caret == "  " + " " * position + "^"


def test_error_caret_on_the_right_line_of_a_multiline_filter() -> None:
    err = parse_error("metrics.a > 1\n  and params.b = 2")
    assert err.details["position"] == 31
    assert err.message.endswith("\n    and params.b = 2\n  " + " " * 17 + "^")


def test_error_caret_in_a_long_filter_shows_a_window() -> None:
    text = " and ".join(f"metrics.m{i} > {i}" for i in range(30)) + " and params.x = 1"
    err = parse_error(text)
    assert err.details["position"] == len(text) - 1
    _, line, caret = err.message.split("\n")
    assert len(line) < 120
    assert line[caret.index("^")] == "1"


def test_deep_nesting_is_an_error_not_a_crash() -> None:
    err = parse_error("(" * 5000 + "metrics.a > 1" + ")" * 5000)
    assert "nested deeper" in err.message
    assert parse_filter("(" * 50 + "metrics.a > 1" + ")" * 50) == C("metrics", "a", ">", 1.0)


def test_non_string_filter_is_an_error() -> None:
    with pytest.raises(InvalidFilterError, match="must be a string"):
        parse_filter(42)  # type: ignore[arg-type]


# --------------------------------------------------------------------------- order_by


@pytest.mark.parametrize(
    ("items", "expected"),
    [
        (None, []),
        ([], []),
        (["metrics.auc desc"], [OrderBy("metrics", "auc", False)]),
        (
            ["metrics.auc DESC", "params.C ASC"],
            [OrderBy("metrics", "auc", False), OrderBy("params", "C", True)],
        ),
        (["attributes.start_time"], [OrderBy("attributes", "start_time", True)]),
        (["name"], [OrderBy("attributes", "name", True)]),
        (["run_name desc"], [OrderBy("attributes", "name", False)]),
        (["start Desc"], [OrderBy("attributes", "start_time", False)]),
        (["metrics.`my key` desc"], [OrderBy("metrics", "my key", False)]),
        (['tags."a b"'], [OrderBy("tags", "a b", True)]),
        (["  metrics.val/loss   asc  "], [OrderBy("metrics", "val/loss", True)]),
        ("metrics.auc desc", [OrderBy("metrics", "auc", False)]),
    ],
)
def test_parse_order_by(items: Any, expected: list[OrderBy]) -> None:
    assert parse_order_by(items) == expected


@pytest.mark.parametrize(
    ("item", "position", "fragment"),
    [
        ("metrics.auc up", 12, "expected ASC or DESC after 'metrics.auc', found 'up'"),
        ("metrics.auc desc please", 17, "expected the end of the item"),
        ("foo", 0, "unknown attribute 'foo'"),
        ("metricz.auc", 0, "unknown prefix 'metricz'"),
        ("metrics.`auc", 8, "unterminated string"),
        ("desc metrics.auc", 0, "unknown attribute 'desc'"),
        ("> 1", 0, "expected a comparison such as metrics.auc DESC"),
    ],
)
def test_order_by_errors_name_the_item(item: str, position: int, fragment: str) -> None:
    with pytest.raises(InvalidFilterError) as info:
        parse_order_by(["metrics.ok", item])
    err = info.value
    assert err.message.startswith(f"Invalid order_by item {item!r} at position {position}: ")
    assert fragment in err.message
    assert err.details == {"position": position, "item": item}


@pytest.mark.parametrize("item", ["", "   ", None, 3])
def test_order_by_rejects_blank_or_non_string_items(item: Any) -> None:
    with pytest.raises(InvalidFilterError, match="Invalid order_by item"):
        parse_order_by([item])


# --------------------------------------------------------------------------- round trip

_PLAIN_KEY = re.compile(r"[\w.\-/:]+")
_PREFIX_SPELLINGS = {
    "metrics": ["metrics", "metric", "METRICS"],
    "params": ["params", "param", "Params"],
    "tags": ["tags", "tag"],
    "attributes": ["attributes", "attribute", "attr", "run", ""],
}
_STATUS_SPELLINGS = {
    "Completed": ["Completed", "COMPLETED", "completed", "FINISHED"],
    "Running": ["Running", "RUNNING", "running"],
    "Failed": ["Failed", "FAILED"],
    "Canceled": ["Canceled", "KILLED", "canceled"],
    "Queued": ["Queued", "SCHEDULED"],
    "CancelRequested": ["CancelRequested", "cancel_requested"],
}
_NUM_OPS = ["=", "!=", "<", "<=", ">", ">=", "in", "not in"]
_STR_OPS = ["=", "!=", "like", "ilike", "in", "not in"]
_OP_SPELLINGS = {"=": ["=", "=="], "!=": ["!=", "<>"], "not in": ["not in", "NOT IN", "Not  In"]}
_OP_SPELLINGS |= {"like": ["like", "LIKE"], "ilike": ["ilike", "ILIKE"], "in": ["in", "IN"]}

_floats = st.floats(allow_nan=False, allow_infinity=False)
_keys = st.text(min_size=1, max_size=12)


@st.composite
def _comparisons(draw: st.DrawFn) -> Comparison:
    entity = draw(st.sampled_from(["metrics", "params", "tags", "attributes"]))
    if entity == "attributes":
        key = draw(st.sampled_from(sorted({field for field, _ in ATTRIBUTES.values()})))
        kind = ATTRIBUTES[key][1]
    else:
        key, kind = draw(_keys), "num" if entity == "metrics" else "str"
    op = draw(st.sampled_from(_NUM_OPS if kind == "num" else _STR_OPS))
    if entity == "attributes" and key == "status" and op not in ("like", "ilike"):
        scalar: st.SearchStrategy[Any] = st.sampled_from(sorted(_STATUS_SPELLINGS))
    else:
        scalar = _floats if kind == "num" else st.text(max_size=10)
    if op in ("in", "not in"):
        value = tuple(draw(st.lists(scalar, min_size=1, max_size=3)))
    else:
        value = draw(scalar)
    return Comparison(entity, key, op, value)


_trees = st.recursive(
    _comparisons(),
    lambda children: (
        st.builds(And, st.tuples(children, children))
        | st.builds(Or, st.tuples(children, children))
        | st.builds(And, st.lists(children, min_size=2, max_size=4).map(tuple))
        | st.builds(Or, st.lists(children, min_size=2, max_size=4).map(tuple))
    ),
    max_leaves=8,
)


def _normalise(expr: Expr) -> Expr:
    """What the parser builds: nested And-in-And and Or-in-Or flattened."""
    if isinstance(expr, Comparison):
        return expr
    flat: list[Expr] = []
    for item in map(_normalise, expr.items):
        flat.extend(item.items if type(item) is type(expr) else (item,))
    return type(expr)(tuple(flat))


class _Writer:
    """Renders an AST as filter text, choosing spellings at random, recording positions."""

    def __init__(self, draw: st.DrawFn) -> None:
        self.draw, self.out = draw, ""
        self.positions: list[int] = []

    def pick(self, options: list[str]) -> str:
        return self.draw(st.sampled_from(options))

    def space(self, required: bool = True) -> None:
        self.out += self.pick([" ", "  ", "\n", "\t "] + ([] if required else [""]))

    def string(self, value: str, quotes: str = "'\"") -> str:
        q = self.pick(list(quotes))
        body = value.replace("\\", "\\\\")
        body = body.replace(q, self.pick([q + q, "\\" + q]) if q != "`" else q + q)
        return q + body + q

    def number(self, value: float) -> str:
        if value.is_integer() and abs(value) < 1e15 and self.draw(st.booleans()):
            return str(int(value))
        return repr(value)

    def value(self, c: Comparison, v: Any) -> str:
        if isinstance(v, float):
            return self.number(v)
        if c.entity == "attributes" and c.key == "status" and c.op not in ("like", "ilike"):
            v = self.pick(_STATUS_SPELLINGS[v])
        return self.string(v)

    def comparison(self, c: Comparison) -> None:
        self.positions.append(len(self.out))
        prefix = self.pick(_PREFIX_SPELLINGS[c.entity])
        key = c.key
        if c.entity == "attributes":
            key = self.pick(sorted(name for name, (f, _) in ATTRIBUTES.items() if f == c.key))
        elif not _PLAIN_KEY.fullmatch(key) or self.draw(st.booleans()):
            key = self.string(key, '`"')
        self.out += f"{prefix}.{key}" if prefix else key
        symbolic = not c.op[0].isalpha()
        self.space(required=not symbolic)
        self.out += self.pick(_OP_SPELLINGS.get(c.op, [c.op]))
        self.space(required=not symbolic)
        if isinstance(c.value, tuple):
            self.out += "(" + ", ".join(self.value(c, v) for v in c.value) + ")"
        else:
            self.out += self.value(c, c.value)

    def expr(self, e: Expr, parent: type | None = None) -> None:
        if isinstance(e, Comparison):
            self.comparison(e)
            return
        parens = (parent is And and isinstance(e, Or)) or self.draw(st.booleans())
        self.out += "(" if parens else ""
        for i, item in enumerate(e.items):
            if i:
                self.space()
                self.out += self.pick(["and", "AND", "And"] if isinstance(e, And) else ["or", "OR"])
                self.space()
            self.expr(item, type(e))
        self.out += ")" if parens else ""


@st.composite
def _rendered(draw: st.DrawFn) -> tuple[Expr, str, list[int]]:
    tree = draw(_trees)
    writer = _Writer(draw)
    writer.expr(tree)
    return _normalise(tree), writer.out, writer.positions


@settings(max_examples=200)
@given(_rendered())
def test_rendered_asts_parse_back_to_the_same_ast(case: tuple[Expr, str, list[int]]) -> None:
    expected, text, positions = case
    parsed = parse_filter(text)
    assert parsed == expected
    assert [c.position for c in comparisons(parsed)] == positions


_FRAGMENTS = [
    "metrics.auc", "params.C", "tags.t", "status", "name", "foo", "metrics.", "attr.x",
    "=", "!=", "<", ">=", "<>", "==", "!", "like", "ILIKE", "in", "not", "NOT IN", "and", "OR",
    "(", ")", ",", "'a'", "'", '"', "`", "`k`", "1", "-2.5e3", ".", "'Completed'", "'x''y'",
    "\\", "\n", "&", "é",
]  # fmt: skip


def _check_parse_outcome(text: str) -> None:
    try:
        result = parse_filter(text)
    except InvalidFilterError as err:
        position = err.details["position"]
        assert 0 <= position <= len(text)
        assert err.message.startswith(f"Invalid filter at position {position}: ")
        assert err.message.split("\n")[-1].endswith("^")
    else:
        assert result is None or isinstance(result, Comparison | And | Or)


@settings(max_examples=400)
@given(st.text(max_size=60))
def test_arbitrary_text_only_raises_invalid_filter(text: str) -> None:
    _check_parse_outcome(text)


@settings(max_examples=400)
@given(st.lists(st.sampled_from(_FRAGMENTS), max_size=14), st.sampled_from([" ", ""]))
def test_token_soup_only_raises_invalid_filter(parts: list[str], sep: str) -> None:
    _check_parse_outcome(sep.join(parts))


@given(st.lists(st.text(max_size=20), max_size=3))
def test_arbitrary_order_by_only_raises_invalid_filter(items: list[str]) -> None:
    try:
        result = parse_order_by(items)
    except InvalidFilterError as err:
        assert err.message.startswith("Invalid order_by item")
    else:
        assert len(result) == len(items)


# --------------------------------------------------------------------------- evaluate


def make_run(run_id: str, created_at: int = 1000, **fields: Any) -> Run:
    fields.setdefault("status", RunStatus.COMPLETED)
    return Run(
        id=run_id,
        experiment_id="e1",
        name=fields.pop("name", run_id),
        created_at=created_at,
        **fields,
    )


RUNS = [
    make_run(
        "r1",
        metrics={"auc": 0.95, "val/loss": 0.1},
        params={"C": "1.0", "model": "LightGBM"},
        tags={"team": "risk", "mlflow.runName": "first"},
        start_time=100,
        end_time=200,
        user="alice",
    ),
    make_run(
        "r2",
        metrics={"auc": 0.85},
        params={"C": "0.1", "model": "logreg"},
        tags={"team": "growth"},
        status=RunStatus.RUNNING,
        start_time=150,
        user="bob",
    ),
    make_run("r3", metrics={"auc": 0.9, "my key": 3}, params={"model": "lgbm_50%"}, status=RunStatus.FAILED),
    make_run("r4", status=RunStatus.CANCELED, parent_id="r1", description="A baseline run"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (None, ["r1", "r2", "r3", "r4"]),
        ("metrics.auc > 0.9", ["r1"]),
        ("metrics.auc >= 0.9", ["r1", "r3"]),
        ("metrics.auc < 0.9", ["r2"]),
        ("metrics.auc <= 0.9", ["r2", "r3"]),
        ("metrics.auc = 0.9", ["r3"]),
        ("metrics.auc != 0.9", ["r1", "r2"]),  # r4 has no auc: not a match
        ("metrics.auc in (0.95, 0.85)", ["r1", "r2"]),
        ("metrics.auc not in (0.95)", ["r2", "r3"]),
        ("metrics.`my key` = 3", ["r3"]),
        ("metrics.val/loss < 1", ["r1"]),
        ("params.C = '1.0'", ["r1"]),
        ("params.C != '1.0'", ["r2"]),  # r3, r4 have no C
        ("params.C not in ('0.1')", ["r1"]),
        ("params.model like 'L%'", ["r1", "r2"][:1]),
        ("params.model like 'l%'", ["r2", "r3"]),
        ("params.model ilike 'l%'", ["r1", "r2", "r3"]),
        ("params.model like '%GBM'", ["r1"]),
        ("params.model like 'lo_reg'", ["r2"]),
        ("params.model like 'lgbm\\_50\\%'", ["r3"]),
        ("params.model like 'lgbm_5%'", ["r3"]),
        ("params.model like 'log'", []),
        ("tags.team in ('risk', 'growth')", ["r1", "r2"]),
        ("tags.mlflow.runName = 'first'", ["r1"]),
        ("status = 'Completed'", ["r1"]),
        ("status = 'FINISHED'", ["r1"]),
        ("status != 'completed'", ["r2", "r3", "r4"]),
        ("status in ('running', 'KILLED')", ["r2", "r4"]),
        ("status not in ('Failed')", ["r1", "r2", "r4"]),
        ("status like 'C%'", ["r1", "r4"]),
        ("status ilike '%ED'", ["r1", "r3", "r4"]),
        ("end_time > 0", ["r1"]),
        ("end_time != 0", ["r1"]),  # None end_time never matches
        ("start_time >= 150", ["r2"]),
        ("created_at = 1000", ["r1", "r2", "r3", "r4"]),
        ("parent_id = 'r1'", ["r4"]),
        ("parent_run_id != 'x'", ["r4"]),
        ("user_id = 'bob'", ["r2"]),
        ("description ilike '%BASELINE%'", ["r4"]),
        ("run_name = 'r3'", ["r3"]),
        ("kind = 'run'", ["r1", "r2", "r3", "r4"]),
        ("metrics.auc > 0.8 and params.C = '0.1'", ["r2"]),
        ("metrics.auc > 0.9 or status = 'Canceled'", ["r1", "r4"]),
        ("params.C = '1.0' or params.C = '0.1' and metrics.auc > 0.9", ["r1"]),
        ("(params.C = '1.0' or params.C = '0.1') and metrics.auc < 0.9", ["r2"]),
    ],
)
def test_evaluate(text: str | None, expected: list[str]) -> None:
    expr = parse_filter(text)
    assert [run.id for run in RUNS if evaluate(expr, run)] == expected


def test_evaluate_normalises_status_of_hand_built_asts() -> None:
    run = RUNS[0]
    assert evaluate(C("attributes", "status", "=", "completed"), run)
    assert evaluate(C("attributes", "status", "in", ("FINISHED",)), run)
    assert not evaluate(C("attributes", "status", "like", "completed"), run)  # LIKE is exact-case


def test_nan_metric_counts_as_missing() -> None:
    run = make_run("r", metrics={"m": math.nan})
    for text in ["metrics.m != 1", "metrics.m not in (1)", "metrics.m > -1e308", "metrics.m = 0"]:
        assert not evaluate(parse_filter(text), run), text


def test_evaluate_mismatched_types_never_match() -> None:
    run = RUNS[0]
    assert not evaluate(C("params", "C", "=", 1.0), run)
    assert not evaluate(C("metrics", "auc", ">", "0.5"), run)
    assert not evaluate(C("attributes", "nonexistent", "=", "x"), run)


@given(_floats, _floats, st.sampled_from(["<", "<=", ">", ">=", "=", "!="]))
def test_evaluate_metric_comparisons_match_python(actual: float, bound: float, op: str) -> None:
    run = make_run("r", metrics={"m": actual})
    expected = {
        "<": actual < bound,
        "<=": actual <= bound,
        ">": actual > bound,
        ">=": actual >= bound,
        "=": actual == bound,
        "!=": actual != bound,
    }[op]
    assert evaluate(parse_filter(f"metrics.m {op} {bound!r}"), run) is expected


@given(st.text(max_size=12), st.text(max_size=12))
def test_like_without_wildcards_is_equality(value: str, other: str) -> None:
    escaped = value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    literal = "'" + escaped.replace("\\", "\\\\").replace("'", "''") + "'"  # two layers
    expr = parse_filter(f"params.p like {literal}")
    assert evaluate(expr, make_run("r", params={"p": value}))
    assert evaluate(expr, make_run("r", params={"p": other})) is (other == value)


# --------------------------------------------------------------------------- sort_runs


def ids(runs: list[Run]) -> list[str]:
    return [run.id for run in runs]


def test_sort_by_metric_missing_last_in_both_directions() -> None:
    assert ids(sort_runs(RUNS, parse_order_by(["metrics.auc"]))) == ["r2", "r3", "r1", "r4"]
    assert ids(sort_runs(RUNS, parse_order_by(["metrics.auc desc"]))) == ["r1", "r3", "r2", "r4"]


def test_sort_by_params_tags_and_attributes() -> None:
    assert ids(sort_runs(RUNS, parse_order_by(["params.C"]))) == ["r2", "r1", "r3", "r4"]
    assert ids(sort_runs(RUNS, parse_order_by(["tags.team desc"]))) == ["r1", "r2", "r3", "r4"]
    assert ids(sort_runs(RUNS, parse_order_by(["status"]))) == ["r4", "r1", "r3", "r2"]
    assert ids(sort_runs(RUNS, parse_order_by(["end_time desc"])))[0] == "r1"
    assert ids(sort_runs(RUNS, parse_order_by(["start_time desc"]))) == ["r2", "r1", "r3", "r4"]


def test_sort_ties_break_by_created_at_desc_then_id() -> None:
    runs = [
        make_run("b", created_at=1, metrics={"m": 1.0}),
        make_run("a", created_at=1, metrics={"m": 1.0}),
        make_run("c", created_at=2, metrics={"m": 1.0}),
        make_run("d", created_at=3, metrics={"m": 0.0}),
        make_run("e", created_at=5),
        make_run("f", created_at=4, metrics={"m": math.nan}),
    ]
    assert ids(sort_runs(runs, [])) == ["e", "f", "d", "c", "a", "b"]
    assert ids(sort_runs(runs, [OrderBy("metrics", "m", True)])) == ["d", "c", "a", "b", "e", "f"]
    assert ids(sort_runs(runs, [OrderBy("metrics", "m", False)])) == ["c", "a", "b", "d", "e", "f"]


def test_sort_by_several_keys() -> None:
    runs = [
        make_run("a", params={"g": "x"}, metrics={"m": 2.0}),
        make_run("b", params={"g": "y"}, metrics={"m": 3.0}),
        make_run("c", params={"g": "x"}, metrics={"m": 5.0}),
        make_run("d", params={"g": "y"}),
        make_run("e", metrics={"m": 9.0}),
    ]
    order = parse_order_by(["params.g", "metrics.m desc"])
    assert ids(sort_runs(runs, order)) == ["c", "a", "b", "d", "e"]


_sort_runs_strategy = st.lists(
    st.builds(
        lambda i, created, m: make_run(f"r{i}", created_at=created, metrics={} if m is None else {"m": m}),
        st.integers(0, 20),
        st.integers(0, 3),
        st.none() | st.integers(-3, 3).map(float),
    ),
    max_size=12,
    unique_by=lambda run: run.id,
)  # fmt: skip


@given(_sort_runs_strategy, st.booleans())
def test_sort_runs_properties(runs: list[Run], ascending: bool) -> None:
    ordered = sort_runs(runs, [OrderBy("metrics", "m", ascending)])
    assert sorted(ids(ordered)) == sorted(ids(runs))
    present = [run for run in ordered if "m" in run.metrics]
    assert ordered[: len(present)] == present  # missing values last
    for first, second in itertools.pairwise(ordered):
        if "m" not in second.metrics and "m" in first.metrics:
            continue
        a, b = first.metrics.get("m"), second.metrics.get("m")
        if a != b:
            assert a is not None and b is not None and (a < b) is ascending
        else:
            assert (-first.created_at, first.id) < (-second.created_at, second.id)
