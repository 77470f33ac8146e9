"""Signature inference, enforcement and payload parsing (modelworks.registry.signature)."""

from __future__ import annotations

import datetime
import json

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.datasets import load_diabetes, load_iris

from modelworks.errors import InvalidInputError
from modelworks.registry import infer_signature
from modelworks.registry.schema import normalize_signature, signature_to_mlmodel
from modelworks.registry.signature import enforce_signature, to_dataframe, to_model_input

IRIS = load_iris(as_frame=True).frame.drop(columns="target")


def _mixed_frame() -> pd.DataFrame:
    diabetes = load_diabetes(as_frame=True).frame.head(6).reset_index(drop=True)
    return pd.DataFrame(
        {
            "age": (diabetes["age"] * 100).round().astype("int64"),
            "small": np.arange(6, dtype="int32"),
            "bmi": diabetes["bmi"].astype("float64"),
            "bp32": diabetes["bp"].astype("float32"),
            "smoker": [True, False, True, True, False, False],
            "city": ["Oslo", "Lima", "Pune", "Oslo", "Lima", "Kobe"],
            "seen": pd.to_datetime([f"2024-01-0{i + 1}" for i in range(6)]),
            "blob": [b"a", b"b", b"c", b"d", b"e", b"f"],
            "gappy": [1.0, None, 2.0, 3.0, None, 4.0],
        }
    )


# --- inference -------------------------------------------------------------------------------


def test_infer_signature_maps_pandas_dtypes_to_mlflow_type_names() -> None:
    sig = infer_signature(_mixed_frame())
    types = {s["name"]: (s["type"], s["required"]) for s in sig["inputs"]}
    assert types == {
        "age": ("long", True),
        "small": ("integer", True),
        "bmi": ("double", True),
        "bp32": ("float", True),
        "smoker": ("boolean", True),
        "city": ("string", True),
        "seen": ("datetime", True),
        "blob": ("binary", True),
        "gappy": ("double", False),
    }
    assert sig["outputs"] is None


def test_infer_signature_matches_mlflow_on_the_same_frame() -> None:
    from mlflow.models import infer_signature as mlflow_infer

    frame = _mixed_frame()
    labels = np.arange(len(frame))
    ours = signature_to_mlmodel(infer_signature(frame, labels))
    # MLflow's public infer_signature keeps a 1-D array a tensor; its save_model path (which
    # ours follows) turns it into a column first, as passing a Series does.
    theirs = mlflow_infer(frame, pd.Series(labels)).to_dict()
    assert json.loads(ours["inputs"]) == json.loads(theirs["inputs"])
    assert json.loads(ours["outputs"]) == json.loads(theirs["outputs"])


def test_infer_signature_of_arrays_is_a_tensor_spec() -> None:
    x = IRIS.to_numpy(dtype="float32")
    proba = np.zeros((len(x), 3))
    sig = infer_signature(x, proba)
    assert sig["inputs"] == [
        {"type": "tensor", "tensor-spec": {"dtype": "float32", "shape": [-1, 4]}}
    ]
    assert sig["outputs"] == [
        {"type": "tensor", "tensor-spec": {"dtype": "float64", "shape": [-1, 3]}}
    ]


def test_one_dimensional_predictions_become_one_unnamed_column() -> None:
    sig = infer_signature(IRIS.head(3), np.array([0, 1, 2]))
    assert sig["outputs"] == [{"type": "long", "required": True}]
    named = infer_signature(IRIS.head(3), pd.Series([0.5, 1.5, 2.5], name="score"))
    assert named["outputs"] == [{"type": "double", "name": "score", "required": True}]


def test_infer_signature_from_records_and_column_dicts() -> None:
    records = [{"age": 41, "city": "Oslo"}, {"age": 35, "city": None}]
    sig = infer_signature(records)
    assert sig["inputs"] == [
        {"type": "long", "name": "age", "required": True},
        {"type": "string", "name": "city", "required": False},
    ]
    assert infer_signature({"age": [41, 35], "city": ["Oslo", "Lima"]})["inputs"][1] == {
        "type": "string",
        "name": "city",
        "required": True,
    }


def test_infer_signature_rejects_a_column_of_mixed_types() -> None:
    with pytest.raises(InvalidInputError, match=r"'mixed'.*mixes"):
        infer_signature(pd.DataFrame({"mixed": [1, "two", 3.0]}))


def test_normalize_signature_accepts_mlmodel_json_strings_and_rejects_unknown_types() -> None:
    sig = infer_signature(IRIS.head(2), np.array([0, 1]))
    assert normalize_signature(signature_to_mlmodel(sig)) == sig
    with pytest.raises(InvalidInputError, match=r"'decimal' .* not known"):
        normalize_signature({"inputs": [{"name": "x", "type": "decimal"}]})
    with pytest.raises(InvalidInputError, match="'inputs'"):
        normalize_signature({"outputs": []})


# --- enforcement -----------------------------------------------------------------------------

SIG = {
    "inputs": [
        {"name": "age", "type": "long", "required": True},
        {"name": "income", "type": "double", "required": True},
        {"name": "city", "type": "string", "required": True},
        {"name": "member", "type": "boolean", "required": False},
    ],
    "outputs": None,
}


def test_missing_required_columns_are_named_with_the_expected_list() -> None:
    df = pd.DataFrame({"city": ["Oslo"], "member": [True]})
    with pytest.raises(InvalidInputError) as err:
        enforce_signature(df, SIG)
    message = err.value.message
    assert "missing required column(s) 'age', 'income'" in message
    assert "age (long), income (double), city (string), member (boolean, optional)" in message
    assert err.value.details["missing"] == ["age", "income"]


def test_extra_columns_are_dropped_and_order_follows_the_signature() -> None:
    df = pd.DataFrame(
        {"zzz": [1], "city": ["Oslo"], "income": [10], "age": [41], "member": [False]}
    )
    out = enforce_signature(df, SIG)
    assert list(out.columns) == ["age", "income", "city", "member"]
    assert out["income"].dtype == np.float64 and out["income"].iloc[0] == 10.0
    assert out["age"].dtype == np.int64


def test_optional_column_may_be_absent() -> None:
    out = enforce_signature(pd.DataFrame({"age": [1], "income": [2.0], "city": ["x"]}), SIG)
    assert list(out.columns) == ["age", "income", "city", "member"]
    assert out["member"].isna().all()


def test_text_that_is_not_a_number_names_the_column_and_the_value() -> None:
    df = pd.DataFrame({"age": ["41", "forty"], "income": [1.0, 2.0], "city": ["a", "b"]})
    with pytest.raises(InvalidInputError) as err:
        enforce_signature(df, SIG)
    assert "Column 'age' expects long values" in err.value.message
    assert "'forty'" in err.value.message and "row 1" in err.value.message
    assert err.value.details["column"] == "age"


def test_numeric_text_and_whole_floats_convert() -> None:
    df = pd.DataFrame({"age": ["41", 35.0], "income": ["1e3", 7], "city": [1, "b"]})
    out = enforce_signature(df, SIG)
    assert out["age"].tolist() == [41, 35]
    assert out["income"].tolist() == [1000.0, 7.0]
    assert out["city"].tolist() == ["1", "b"]


def test_a_fraction_in_a_long_column_is_refused() -> None:
    df = pd.DataFrame({"age": [41.5], "income": [1.0], "city": ["a"]})
    with pytest.raises(InvalidInputError, match=r"'age' expects long.*41\.5"):
        enforce_signature(df, SIG)


def test_a_missing_value_in_a_required_column_is_refused() -> None:
    df = pd.DataFrame({"age": [1, 2], "income": [1.0, None], "city": ["a", "b"]})
    with pytest.raises(InvalidInputError, match="'income' is required but row 1 has no value"):
        enforce_signature(df, SIG)


def test_booleans_datetimes_and_binary_convert_from_json_text() -> None:
    sig = {
        "inputs": [
            {"name": "flag", "type": "boolean"},
            {"name": "when", "type": "datetime"},
            {"name": "raw", "type": "binary"},
        ]
    }
    df = pd.DataFrame(
        {
            "flag": ["true", "0"],
            "when": ["2024-05-01T12:00:00", "2024-05-02"],
            "raw": ["YWI=", "eA=="],
        }
    )
    out = enforce_signature(df, sig)
    assert out["flag"].tolist() == [True, False]
    assert out["when"].iloc[0] == pd.Timestamp(datetime.datetime(2024, 5, 1, 12))
    assert out["raw"].tolist() == [b"ab", b"x"]
    with pytest.raises(InvalidInputError, match=r"'flag' expects boolean.*'maybe'"):
        enforce_signature(df.assign(flag=["maybe", "true"]), sig)
    with pytest.raises(InvalidInputError, match="'when' expects datetime"):
        enforce_signature(df.assign(when=["yesterday", "2024-01-01"]), sig)


@settings(max_examples=50, deadline=None)
@given(st.lists(st.integers(min_value=-(2**53), max_value=2**53), min_size=1, max_size=20))
def test_integers_convert_to_double_without_change(values: list[int]) -> None:
    sig = {"inputs": [{"name": "x", "type": "double"}]}
    out = enforce_signature(pd.DataFrame({"x": values}), sig)
    assert out["x"].dtype == np.float64
    assert out["x"].tolist() == [float(v) for v in values]


@settings(max_examples=50, deadline=None)
@given(
    st.text(min_size=1, max_size=12).filter(lambda t: _not_a_number(t)),
    st.integers(min_value=0, max_value=5),
)
def test_any_non_numeric_text_is_refused_with_its_value(text: str, position: int) -> None:
    values: list[object] = ["1.5"] * 6
    values[position] = text
    with pytest.raises(InvalidInputError) as err:
        enforce_signature(
            pd.DataFrame({"x": values}), {"inputs": [{"name": "x", "type": "double"}]}
        )
    assert err.value.details["row"] == position
    assert err.value.details["value"] == repr(text)


def _not_a_number(text: str) -> bool:
    return bool(pd.isna(pd.to_numeric(pd.Series([text.strip()], dtype=object), errors="coerce")[0]))


# --- payload forms ---------------------------------------------------------------------------

FRAME = IRIS.head(4).reset_index(drop=True)
IRIS_SIG = infer_signature(FRAME)
ROWS = FRAME.to_numpy().tolist()
RECORDS = FRAME.to_dict(orient="records")
SPLIT = {"columns": list(FRAME.columns), "data": ROWS}


@pytest.mark.parametrize(
    "payload",
    [
        FRAME,
        RECORDS,
        FRAME.to_dict(orient="list"),
        SPLIT,
        {"dataframe_split": SPLIT},
        {"dataframe_records": RECORDS},
        {"inputs": RECORDS},
        {"instances": RECORDS},
        {"input_data": SPLIT},
        {"data": RECORDS},
        {"data": ROWS},
        {"dataframe_split": SPLIT, "params": {"k": 1}},
        json.dumps({"dataframe_split": SPLIT}),
        json.dumps(RECORDS).encode(),
        ROWS,
        FRAME.to_numpy(),
    ],
    ids=lambda p: type(p).__name__ + (f":{next(iter(p))}" if isinstance(p, dict) else ""),
)
def test_every_payload_form_gives_the_same_table(payload: object) -> None:
    df = to_dataframe(payload, IRIS_SIG)
    pd.testing.assert_frame_equal(enforce_signature(df, IRIS_SIG), FRAME)


def test_one_row_dict_and_one_row_list() -> None:
    one = to_dataframe(RECORDS[0], IRIS_SIG)
    pd.testing.assert_frame_equal(enforce_signature(one, IRIS_SIG), FRAME.head(1))
    flat = to_dataframe(ROWS[0], IRIS_SIG)
    pd.testing.assert_frame_equal(enforce_signature(flat, IRIS_SIG), FRAME.head(1))


def test_unreadable_payloads_say_which_forms_are_accepted() -> None:
    with pytest.raises(InvalidInputError, match="not valid JSON"):
        to_dataframe("{nope")
    with pytest.raises(InvalidInputError, match="dataframe_split"):
        to_dataframe(42)
    with pytest.raises(InvalidInputError, match="expects 4 columns"):
        to_dataframe([[1.0, 2.0]], IRIS_SIG)
    with pytest.raises(InvalidInputError, match="different lengths"):
        to_dataframe({"a": [1, 2], "b": [1]})


@settings(max_examples=30, deadline=None)
@given(
    st.lists(
        st.tuples(st.integers(-1000, 1000), st.floats(-1e6, 1e6), st.text(max_size=5)),
        min_size=1,
        max_size=8,
    )
)
def test_records_split_and_columns_agree(rows: list[tuple[int, float, str]]) -> None:
    frame = pd.DataFrame(rows, columns=["n", "x", "s"])
    sig = infer_signature(frame)
    forms = [
        frame.to_dict(orient="records"),
        {"columns": ["n", "x", "s"], "data": [list(r) for r in rows]},
        frame.to_dict(orient="list"),
    ]
    for form in forms:
        got = enforce_signature(to_dataframe(json.loads(json.dumps(form)), sig), sig)
        assert got["n"].tolist() == frame["n"].tolist()
        assert got["x"].tolist() == frame["x"].tolist()
        assert got["s"].tolist() == frame["s"].tolist()


def test_tensor_signatures_take_arrays_and_check_the_shape() -> None:
    sig = infer_signature(IRIS.to_numpy(dtype="float32"))
    array = to_model_input({"inputs": ROWS}, sig)
    assert array.dtype == np.float32 and array.shape == (4, 4)
    with pytest.raises(InvalidInputError, match=r"shape \[-1, 4\]"):
        to_model_input([[1.0, 2.0]], sig)


def test_optional_integer_column_with_gaps_stays_numeric() -> None:
    sig = {"inputs": [{"name": "n", "type": "long", "required": False}]}
    out = enforce_signature(pd.DataFrame({"n": ["3", None, 4.0]}), sig)
    assert out["n"].dtype == np.float64
    assert out["n"].tolist()[0] == 3.0 and np.isnan(out["n"].tolist()[1])
    with pytest.raises(InvalidInputError, match="expects integer values"):
        enforce_signature(
            pd.DataFrame({"n": [2**40]}), {"inputs": [{"name": "n", "type": "integer"}]}
        )


def test_a_conforming_frame_is_returned_without_copy() -> None:
    out = enforce_signature(FRAME, IRIS_SIG)
    assert out is FRAME
    gappy = FRAME.copy()
    gappy.iloc[0, 0] = np.nan
    with pytest.raises(InvalidInputError, match="required but row 0 has no value"):
        enforce_signature(gappy, IRIS_SIG)
