"""Small real models saved in the registry's format, shared by the serving tests."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def numeric_data() -> tuple[object, object, list[str]]:
    import numpy as np
    import pandas as pd
    from sklearn.datasets import make_classification

    X, y = make_classification(n_samples=400, n_features=6, random_state=0)
    columns = [f"f{i}" for i in range(6)]
    return pd.DataFrame(X, columns=columns), np.asarray(y), columns


@pytest.fixture(scope="session")
def lgbm_dir(tmp_path_factory: pytest.TempPathFactory, numeric_data: tuple) -> Path:
    import lightgbm as lgb

    from modelworks.registry import save_model

    X, y, _ = numeric_data
    model = lgb.LGBMClassifier(n_estimators=20, num_leaves=7, n_jobs=1, verbose=-1).fit(X, y)
    path = tmp_path_factory.mktemp("lgbm") / "model"
    save_model(model, path, input_example=X.head(3))
    return path


@pytest.fixture(scope="session")
def sklearn_dir(tmp_path_factory: pytest.TempPathFactory, numeric_data: tuple) -> Path:
    from sklearn.linear_model import LogisticRegression

    from modelworks.registry import save_model

    X, y, _ = numeric_data
    model = LogisticRegression(max_iter=200).fit(X, y)
    path = tmp_path_factory.mktemp("sk") / "model"
    save_model(model, path, input_example=X.head(3))
    return path
