"""MLflow search syntax on our stores, request fields and routing: pure functions, no server."""

from __future__ import annotations

import math
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from modelworks.server.mlflow._errors import MlflowError
from modelworks.server.mlflow._request import Fields
from modelworks.server.mlflow._search import (
    Clause,
    decode_offset,
    encode_offset,
    matches,
    page_of,
    parse_order,
    parse_simple,
    run_filter,
    run_order_by,
    to_text,
)
from modelworks.server.mlflow.routes import Router
from modelworks.tracking import filters as f

# -- run filters: MLflow text -> ours ----------------------------------------------------------
_keys = st.text(alphabet=st.sampled_from("abcXYZ019_-. /:"), min_size=1, max_size=12).filter(
    lambda k: k.strip() and not k.startswith("/") and ".." not in k.split("/")
)
_strings = st.text(
    alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=15
)
_numbers = st.floats(allow_nan=False, allow_infinity=False, width=64)


@st.composite
def _comparisons(draw: st.DrawFn) -> f.Comparison:
    entity = draw(st.sampled_from(["metrics", "params", "tags", "attributes"]))
    if entity == "attributes":
        key = draw(st.sampled_from(["name", "user", "start_time", "id", "end_time"]))
        kind = f.ATTRIBUTES[key][1]
    else:
        key = draw(_keys)
        kind = "num" if entity == "metrics" else "str"
    if kind == "num":
        op = draw(st.sampled_from(["=", "!=", "<", "<=", ">", ">=", "in", "not in"]))
        value: f._Value = (
            tuple(draw(st.lists(_numbers, min_size=1, max_size=3)))
            if op in ("in", "not in")
            else draw(_numbers)
        )
    else:
        op = draw(st.sampled_from(["=", "!=", "like", "ilike", "in", "not in"]))
        value = (
            tuple(draw(st.lists(_strings, min_size=1, max_size=3)))
            if op in ("in", "not in")
            else draw(_strings)
        )
    return f.Comparison(entity, key, op, value)


_exprs = st.recursive(
    _comparisons(),
    lambda inner: st.one_of(
        st.lists(inner, min_size=2, max_size=3).map(lambda xs: f.And(tuple(xs))),
        st.lists(inner, min_size=2, max_size=3).map(lambda xs: f.Or(tuple(xs))),
    ),
    max_leaves=6,
)


def _flatten(expr: f.Expr) -> f.Expr:
    if isinstance(expr, f.Comparison):
        return expr
    items: list[f.Expr] = []
    for item in expr.items:
        item = _flatten(item)
        items.extend(item.items if type(item) is type(expr) else (item,))  # type: ignore[union-attr]
    return type(expr)(tuple(items))


@settings(max_examples=300, deadline=None)
@given(_exprs)
def test_filter_text_round_trips_through_our_parser(expr: f.Expr) -> None:
    assert f.parse_filter(to_text(expr)) == _flatten(expr)


def test_mlflow_system_tags_become_columns() -> None:
    ours = run_filter(
        "tags.`mlflow.runName` = 'a' and tags.mlflow.user LIKE 'b%' "
        "and tags.\"mlflow.parentRunId\" IN ('c') and tags.other = 'd'",
        extra="attributes.kind != 'logged_model'",
    )
    assert ours is not None
    parsed = f.parse_filter(ours)
    assert isinstance(parsed, f.And)
    assert [(c.entity, c.key) for c in parsed.items if isinstance(c, f.Comparison)] == [
        ("attributes", "name"),
        ("attributes", "user"),
        ("attributes", "parent_id"),
        ("tags", "other"),
        ("attributes", "kind"),
    ]
    assert run_filter(None) is None and run_filter("", extra="x = 1") == "x = 1"
    assert run_order_by(["tags.`mlflow.runName` DESC", "metrics.auc"]) == [
        "attributes.name DESC",
        "metrics.`auc` ASC",
    ]


def test_mlflow_statuses_and_bad_filters() -> None:
    ours = run_filter("attributes.status = 'FINISHED' AND status IN ('KILLED', 'RUNNING')")
    assert ours is not None
    parsed = f.parse_filter(ours)
    assert isinstance(parsed, f.And)
    assert parsed.items[0] == f.Comparison("attributes", "status", "=", "Completed")
    assert parsed.items[1] == f.Comparison("attributes", "status", "in", ("Canceled", "Running"))
    with pytest.raises(Exception, match="position"):
        run_filter("metrics.auc > 'high'")
    with pytest.raises(Exception, match="finite"):
        to_text(f.Comparison("metrics", "a", ">", math.inf))


# -- the simple grammar (experiments, registry, logged models) --------------------------------
ATTRS = {"name": "str", "creation_time": "num", "version_number": "num"}


def test_simple_filters_parse_and_match() -> None:
    clauses = parse_simple(
        "name LIKE 'fraud%' AND tags.`team name` = \"risk\" AND creation_time > 10 "
        "AND tag.x != 'true' AND version_number IN (1, 2)",
        attributes=ATTRS,
    )
    assert clauses == [
        Clause("attribute", "name", "like", "fraud%"),
        Clause("tag", "team name", "=", "risk"),
        Clause("attribute", "creation_time", ">", 10.0),
        Clause("tag", "x", "!=", "true"),
        Clause("attribute", "version_number", "in", (1.0, 2.0)),
    ]
    values = {"name": "fraud-model", "creation_time": 11.0, "version_number": 2.0}
    tags = {"team name": "risk"}

    def lookup(entity: str, key: str) -> str | float | None:
        return tags.get(key) if entity == "tag" else values.get(key)

    assert matches(clauses, lookup)  # tags.x is absent: != matches, as MLflow's prompt filter needs
    tags["x"] = "true"
    assert not matches(clauses, lookup)
    assert matches(parse_simple("name ILIKE 'FRAUD\\_%'", attributes=ATTRS), lookup) is False
    assert matches(parse_simple("name ILIKE 'FRAUD_%'", attributes=ATTRS), lookup)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("colour = 'red'", "unknown attribute 'colour'; valid attributes are"),
        ("name = 3", "compares to a quoted string"),
        ("creation_time > 'x'", "compares to a number"),
        ("name = 'a' OR name = 'b'", "expected AND"),
        ("name ~ 'a'", "unexpected character"),
        ("metrics.auc > 1", "'metrics.' keys are not searchable here"),
        ("name IN 'a'", "expected '('"),
    ],
)
def test_simple_filter_errors_say_what_is_wrong(text: str, message: str) -> None:
    with pytest.raises(MlflowError, match=re.escape(message)) as caught:
        parse_simple(text, attributes=ATTRS)
    assert caught.value.code == "INVALID_PARAMETER_VALUE" and caught.value.status == 400


def test_order_and_pages() -> None:
    assert parse_order(["name", "attribute.creation_time DESC"], attributes=list(ATTRS)) == [
        ("name", True),
        ("creation_time", False),
    ]
    with pytest.raises(MlflowError, match="order_by"):
        parse_order(["name SIDEWAYS"], attributes=list(ATTRS))
    items = list(range(7))
    first, token = page_of(items, None, 3)
    second, token2 = page_of(items, token, 3)
    third, token3 = page_of(items, token2, 3)
    assert (first, second, third, token3) == ([0, 1, 2], [3, 4, 5], [6], None)
    assert decode_offset(encode_offset(42)) == 42
    with pytest.raises(MlflowError, match="page_token"):
        decode_offset("garbage!")


# -- request fields ----------------------------------------------------------------------------
def test_fields_read_protobuf_json_forms() -> None:
    q = Fields({"value": "NaN", "big": "-Infinity", "step": "12", "ts": 5.0, "flag": "true"})
    value = q.number("value")
    assert value is not None and math.isnan(value)
    assert q.number("big") == -math.inf and q.integer("step") == 12 and q.integer("ts") == 5
    assert q.flag("flag") is True and q.flag("missing", default=True) is True
    query = Fields.from_query([("run_ids", "a"), ("run_ids", "b"), ("max_results", "7")])
    assert query.texts("run_ids") == ["a", "b"] and query.integer("max_results") == 7
    with pytest.raises(MlflowError, match="'step' supplied: expected an integer"):
        Fields({"step": 1.5}).integer("step")
    with pytest.raises(MlflowError, match=re.escape("'metrics[0].value'")):
        next(Fields({"metrics": [{"value": "x"}]}).objects("metrics")).number("value")
    with pytest.raises(MlflowError, match="Missing value for required parameter 'name'"):
        Fields({"name": ""}).text("name", required=True)


@given(st.integers(min_value=-(2**62), max_value=2**62))
def test_int64_fields_accept_numbers_and_strings(value: int) -> None:
    assert Fields({"v": value}).integer("v") == value
    assert Fields({"v": str(value)}).integer("v") == value


def test_router_finds_routes_and_names_the_missing() -> None:
    router = Router()
    route, params = router.match("GET", "mlflow", "/runs/get")
    assert route.role == "reader" and params == {}
    route, params = router.match("POST", "mlflow", "/runs/search")
    assert route.role == "reader"
    route, params = router.match("DELETE", "mlflow", "/logged-models/m-abc/tags/my.tag")
    assert params == {"model_id": "m-abc", "tag_key": "my.tag"} and route.role == "writer"
    route, params = router.match("PUT", "mlflow-artifacts", "/artifacts/1/abc/artifacts/a/b.txt")
    assert route.raw and params == {"path": "1/abc/artifacts/a/b.txt"}
    with pytest.raises(MlflowError, match="this path accepts PATCH"):
        router.match("PUT", "mlflow", "/registered-models/update")
    with pytest.raises(MlflowError) as missing:
        router.match("GET", "mlflow", "/traces")
    assert missing.value.code == "ENDPOINT_NOT_FOUND" and missing.value.status == 404
