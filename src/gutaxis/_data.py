"""Read the tables that gutaxis ships as package data (``gutaxis/data``)."""

from __future__ import annotations

from importlib import resources

import pandas as pd

__all__ = ["package_table"]


def package_table(name: str, **read_csv) -> pd.DataFrame:
    """``pandas.read_csv`` of ``gutaxis/data/<name>`` (tab-separated unless ``sep`` is given)."""
    read_csv.setdefault("sep", "\t")
    with resources.files("gutaxis").joinpath("data", name).open("r", encoding="utf-8") as handle:
        return pd.read_csv(handle, **read_csv)
