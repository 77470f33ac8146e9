"""Small real datasets shipped with modelworks, so the quickstart and examples run offline.

- ``bank_marketing``: UCI Bank Marketing (CC BY 4.0; see bank_marketing/SOURCE.md), the
  table the Azure ML AutoML samples use; 32,950 rows, target ``response`` (yes/no).
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

__all__ = ["bank_marketing_path", "load_bank_marketing"]


def bank_marketing_path() -> Path:
    """Path of the gzipped CSV inside the installed package."""
    return Path(
        str(resources.files(__name__).joinpath("bank_marketing/bankmarketing_train.csv.gz"))
    )


def load_bank_marketing():  # type: ignore[no-untyped-def]
    """The bank-marketing table as a pandas DataFrame."""
    import pandas as pd

    return pd.read_csv(bank_marketing_path())
