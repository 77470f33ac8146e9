"""Small real tables for the AutoML tests (scikit-learn's bundled datasets and bank marketing)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest


@pytest.fixture(scope="session")
def bank_small() -> pd.DataFrame:
    from modelworks.datasets import load_bank_marketing

    return load_bank_marketing().sample(1500, random_state=0).reset_index(drop=True)


@pytest.fixture(scope="session")
def cancer() -> tuple[pd.DataFrame, pd.Series]:
    from sklearn.datasets import load_breast_cancer

    X, y = load_breast_cancer(return_X_y=True, as_frame=True)
    return X.iloc[:300].reset_index(drop=True), y.iloc[:300].reset_index(drop=True)


@pytest.fixture(scope="session")
def diabetes() -> tuple[pd.DataFrame, pd.Series]:
    from sklearn.datasets import load_diabetes

    X, y = load_diabetes(return_X_y=True, as_frame=True)
    return X, y


@pytest.fixture(scope="session")
def two_series() -> pd.DataFrame:
    """Two monthly series with trend and yearly seasonality."""
    rng = np.random.default_rng(0)
    frames = []
    for store, level in (("a", 100.0), ("b", 40.0)):
        t = np.arange(72)
        values = level + 0.5 * t + 10 * np.sin(2 * np.pi * t / 12) + rng.normal(0, 1, len(t))
        frames.append(
            pd.DataFrame(
                {
                    "month": pd.date_range("2015-01-01", periods=len(t), freq="MS"),
                    "store": store,
                    "sales": values,
                }
            )
        )
    return pd.concat(frames, ignore_index=True)


from _jobs_support import env_cache, jobs_ws  # noqa: F401, E402 - fixtures
