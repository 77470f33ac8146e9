"""No-code scoring: the numpy fast path answers exactly what the DataFrame path answers, and
every signature problem is a 4xx naming the column."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from modelworks.errors import InvalidInputError
from modelworks.registry import load_model
from modelworks.serving._errors import InputSchemaError
from modelworks.serving.nocode import NoCodeScorer


@pytest.fixture(scope="module")
def lgbm(lgbm_dir: Path) -> NoCodeScorer:
    return NoCodeScorer(load_model(lgbm_dir), name="lgbm", version="1")


@pytest.fixture(scope="module")
def logreg(sklearn_dir: Path) -> NoCodeScorer:
    return NoCodeScorer(load_model(sklearn_dir), name="logreg", version="1")


def _split(columns: list[str], rows: Any) -> dict[str, Any]:
    return {"input_data": {"columns": columns, "data": rows}}


@pytest.mark.parametrize("which", ["lgbm", "logreg"])
def test_fast_path_matches_the_dataframe_path(
    which: str, request: pytest.FixtureRequest, numeric_data: tuple
) -> None:
    scorer: NoCodeScorer = request.getfixturevalue(which)
    X, _, columns = numeric_data
    assert scorer.fast_path
    rows = X.head(25).to_numpy().tolist()
    fast = scorer.prepare(_split(columns, rows), want_proba=True)
    assert fast.fast
    answer = scorer.predict(fast)
    expected = scorer.model.predict(X.head(25))
    np.testing.assert_array_equal(answer["predictions"], expected)
    np.testing.assert_allclose(answer["probabilities"], scorer.model.predict_proba(X.head(25)))
    assert list(answer["classes"]) == [0, 1]


@settings(max_examples=40, deadline=None)
@given(
    st.lists(
        st.lists(st.floats(-1e6, 1e6, allow_nan=False, width=64), min_size=6, max_size=6),
        min_size=1,
        max_size=20,
    ),
    st.permutations(list(range(6))),
)
def test_column_order_and_values_do_not_change_predictions(
    lgbm: NoCodeScorer, rows: list[list[float]], order: list[int]
) -> None:
    import pandas as pd

    columns = [f"f{i}" for i in order]
    shuffled = [[row[i] for i in order] for row in rows]
    prepared = lgbm.prepare(_split(columns, shuffled))
    assert prepared.fast
    expected = lgbm.model.predict(pd.DataFrame(rows, columns=[f"f{i}" for i in range(6)]))
    np.testing.assert_array_equal(lgbm.predict(prepared)["predictions"], expected)


def test_all_body_forms_give_the_same_answer(lgbm: NoCodeScorer, numeric_data: tuple) -> None:
    X, _, columns = numeric_data
    head = X.head(4)
    rows = head.to_numpy().tolist()
    records = head.to_dict(orient="records")
    bodies = [
        _split(columns, rows),
        {"input_data": rows},
        {"input_data": records},
        {"dataframe_split": {"columns": columns, "data": rows}},
        {"dataframe_records": records},
        {"instances": records},
        {"inputs": {c: head[c].tolist() for c in columns}},
        {"data": rows},
        records,
    ]
    expected = lgbm.model.predict(head).tolist()
    for body in bodies:
        assert lgbm.predict(lgbm.prepare(body))["predictions"].tolist() == expected, body


def test_missing_and_unexpected_columns_are_named(lgbm: NoCodeScorer, numeric_data: tuple) -> None:
    X, _, columns = numeric_data
    rows = X.head(2).to_numpy()
    with pytest.raises(InputSchemaError, match="missing required column\\(s\\) 'f5'") as missing:
        lgbm.prepare(_split(columns[:-1], rows[:, :-1].tolist()))
    assert missing.value.status_code == 422
    extra = np.c_[rows, rows[:, :1]].tolist()
    with pytest.raises(InputSchemaError, match="unexpected column\\(s\\) 'id'"):
        lgbm.prepare(_split([*columns, "id"], extra))


def test_wrong_types_and_gaps_name_the_column_and_row(lgbm: NoCodeScorer) -> None:
    columns = [f"f{i}" for i in range(6)]
    with pytest.raises(InputSchemaError, match="Column 'f2' expects double values, but row 1"):
        lgbm.prepare(_split(columns, [[0.0] * 6, [0, 0, "lots", 0, 0, 0]]))
    with pytest.raises(InputSchemaError, match="'f0' is required but row 0 has no value"):
        lgbm.prepare(_split(columns, [[None, 0, 0, 0, 0, 0]]))


def test_malformed_shapes_are_400(lgbm: NoCodeScorer) -> None:
    columns = [f"f{i}" for i in range(6)]
    for body in ({"input_data": []}, {}, {"input_data": {"columns": columns, "data": [[1, 2]]}}):
        with pytest.raises(InvalidInputError) as caught:
            lgbm.prepare(body)
        assert caught.value.status_code == 400


def test_probabilities_of_a_regressor_are_refused(tmp_path: Path, numeric_data: tuple) -> None:
    import lightgbm as lgb

    from modelworks.registry import save_model

    X, y, columns = numeric_data
    save_model(lgb.LGBMRegressor(n_estimators=5, verbose=-1, n_jobs=1).fit(X, y), tmp_path / "m")
    scorer = NoCodeScorer(load_model(tmp_path / "m"))
    with pytest.raises(InvalidInputError, match="no class probabilities"):
        scorer.prepare(_split(columns, X.head(1).to_numpy().tolist()), want_proba=True)


def test_batches_split_back_per_request(lgbm: NoCodeScorer, numeric_data: tuple) -> None:
    X, _, columns = numeric_data
    parts = [X.iloc[0:1], X.iloc[1:4], X.iloc[4:6]]
    prepared = [lgbm.prepare(_split(columns, p.to_numpy().tolist())) for p in parts]
    prepared.append(lgbm.prepare(parts[0].to_dict(orient="records") * 2, want_proba=True))
    answers = lgbm.predict_many(prepared)
    for part, answer in zip(parts, answers, strict=False):
        assert list(answer["predictions"]) == lgbm.model.predict(part).tolist()
    assert np.asarray(answers[-1]["probabilities"]).shape == (2, 2)
