from __future__ import annotations

import numpy as np
import pandas as pd

from modelworks.automl.featurize import Featurizer, infer_column_kinds


def _table() -> pd.DataFrame:
    rng = np.random.default_rng(0)
    n = 200
    return pd.DataFrame(
        {
            "num": rng.normal(size=n),
            "num_missing": np.where(rng.random(n) < 0.2, np.nan, rng.normal(size=n)),
            "color": rng.choice(["red", "green", "blue"], n),
            "city": [f"city{i % 90}" for i in range(n)],
            "row_id": np.arange(n),
            "constant": 1,
            "empty": np.nan,
            "when": pd.date_range("2024-01-01", periods=n, freq="D").astype(str),
            "note": [f"the quick brown fox number {i % 70} jumps" for i in range(n)],
        }
    )


def test_column_kinds_follow_dtypes_and_values() -> None:
    kinds = infer_column_kinds(_table())
    assert kinds["num"] == kinds["num_missing"] == "numeric"
    assert kinds["color"] == "categorical"
    assert kinds["city"] == "categorical_high"
    assert kinds["row_id"] == "drop" and "ID-like" in kinds.reasons["row_id"]
    assert kinds["constant"] == "drop" and kinds["empty"] == "drop"
    assert kinds["when"] == "datetime"
    assert kinds["note"] == "text"


def test_column_purposes_and_drop_columns_override() -> None:
    kinds = infer_column_kinds(_table(), purposes={"num": "Categorical"}, drop_columns=["color"])
    assert kinds["num"] == "categorical"
    assert kinds["color"] == "drop"


def test_tree_and_dense_modes_are_fitted_on_the_training_rows_only() -> None:
    table = _table()
    y = (table["num"] > 0).astype(int).to_numpy()
    kinds = infer_column_kinds(table)
    train, test = table.iloc[:150], table.iloc[150:].copy()
    test.loc[test.index[0], "color"] = "purple"  # unseen at fit time
    tree = Featurizer(kinds, mode="tree", task="classification")
    Xt = tree.fit_transform(train, y[:150])
    Xv = tree.transform(test)
    assert Xt.shape[1] == Xv.shape[1] == len(tree.feature_names_out_)
    color = tree.feature_names_out_.index("color")
    assert color in tree.categorical_indices_
    assert np.isnan(Xv[0, color])  # an unseen category is "missing", not a made-up code
    assert np.isnan(Xt[:, tree.feature_names_out_.index("num_missing")]).any()
    dense = Featurizer(kinds, mode="dense", task="classification")
    Dt = dense.fit_transform(train, y[:150])
    Dv = dense.transform(test)
    assert Dt.shape[1] == Dv.shape[1]
    matrix = Dt.toarray() if hasattr(Dt, "toarray") else Dt
    assert not np.isnan(matrix).any()  # imputed for linear models
    assert "num_missing__missing" in dense.feature_names_out_
    assert set(dense.feature_sources_) <= set(table.columns)


def test_target_encoding_is_cross_fitted() -> None:
    # A category unique to each row would leak the target if encoded with its own label.
    n = 400
    table = pd.DataFrame({"key": [f"k{i % 200}" for i in range(n)], "x": np.arange(n) % 7})
    y = np.random.default_rng(1).integers(0, 2, n)
    kinds = infer_column_kinds(table)
    assert kinds["key"] == "categorical_high"
    featurizer = Featurizer(kinds, mode="tree", task="classification")
    Xt = featurizer.fit_transform(table, y)
    encoded = Xt[:, featurizer.feature_names_out_.index("key__target0")]
    corr = np.corrcoef(encoded, y)[0, 1]
    assert abs(corr) < 0.5  # an in-sample encoding of 2-row groups would correlate strongly


def test_category_codes_follow_the_alphabet_not_the_counts() -> None:
    # XGBoost and the forests split codes as numbers: in alphabetical order "a4" and
    # "a4 quattro" (or grades "D" to "G") sit side by side whatever their counts.
    names = ["a4"] * 2 + ["a4 quattro"] * 9 + ["camry"] * 5 + ["D"] * 1 + ["G"] * 3
    table = pd.DataFrame({"model": names, "x": np.arange(len(names), dtype=float)})
    tree = Featurizer(infer_column_kinds(table), mode="tree", task="regression")
    codes = tree.fit_transform(table, np.arange(len(names), dtype=float))[:, 0]
    by_name = dict(zip(names, codes, strict=True))
    assert sorted(by_name, key=by_name.__getitem__) == ["D", "G", "a4", "a4 quattro", "camry"]
