"""Reading data assets as tables, and writing Azure-style MLTable folders.

A data asset version is one of Azure ML's three types, and :func:`read_table` turns a local
materialised copy (or an fsspec URL) of any of them into a :class:`pandas.DataFrame`:

- ``uri_file``: one file, read by its extension (``.csv``/``.tsv``/``.txt`` with a sniffed
  delimiter, ``.parquet``/``.pq``, ``.json``, ``.jsonl``, ``.feather``; delimited and JSON files
  may be compressed, e.g. ``.csv.gz``).
- ``uri_folder``: every tabular file in the folder (recursive, sorted by path), concatenated;
  they must share their columns.
- ``mltable``: a folder holding an ``MLTable`` file in Azure's format (``paths`` +
  ``transformations``), or a single tabular file.

Heavy libraries (pandas, pyarrow, fsspec) are imported inside the functions, so importing this
module costs nothing on a hot path.
"""

from __future__ import annotations

import contextlib
import os
import posixpath
from collections import Counter
from typing import TYPE_CHECKING, Any

from modelworks.data._files import (
    DATA_TYPES,
    MLTABLE_FILE,
    MLTABLE_SCHEMA,
    SUPPORTED_EXTENSIONS,
    _display,
    _filesystem,
    _read_file,
    _read_folder,
    _stem_ext,
    _supported_text,
    table_format,
)
from modelworks.data._mltable import _read_mltable
from modelworks.errors import (
    InvalidInputError,
    InvalidPathError,
    NotFoundError,
)

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "MLTABLE_FILE",
    "SUPPORTED_EXTENSIONS",
    "dataframe_to_files",
    "read_table",
    "table_format",
    "write_mltable",
]


# --------------------------------------------------------------------------------- public API


def read_table(path: str | os.PathLike[str], type: str = "auto", **options: Any) -> pd.DataFrame:
    """Read a data asset (``uri_file``, ``uri_folder`` or ``mltable``) as a DataFrame.

    ``type="auto"`` picks by what ``path`` is: a folder with an ``MLTable`` file (or the
    ``MLTable`` file itself) is an mltable, another folder a uri_folder, a file a uri_file.
    ``options`` go to the pandas reader of each file (e.g. ``delimiter=";"``,
    ``encoding="latin-1"``); an MLTable carries its own options and takes none.

    Raises NotFoundError for a missing path, InvalidInputError for an unsupported or unreadable
    file, SpecError for a malformed MLTable file.
    """
    if type not in (*DATA_TYPES, "auto"):
        raise InvalidInputError(
            f"Unknown data type {type!r}; expected one of auto, {', '.join(DATA_TYPES)}."
        )
    path = os.fspath(path) if isinstance(path, os.PathLike) else path
    fs, root = _filesystem(path)
    if not fs.exists(root):
        raise NotFoundError(
            f"No such file or folder: {path!r}. Check the path (relative paths are resolved "
            f"against {os.getcwd()!r})."
        )
    is_dir = fs.isdir(root)
    if is_dir:
        mltable = posixpath.join(root, MLTABLE_FILE)
        has_mltable = fs.isfile(mltable)
    else:
        has_mltable = posixpath.basename(root) == MLTABLE_FILE
        mltable = root
    kind = type
    if kind == "auto":
        kind = "mltable" if has_mltable else ("uri_folder" if is_dir else "uri_file")

    if kind == "uri_file":
        if is_dir:
            raise InvalidInputError(
                f"{path!r} is a folder but the data type is uri_file; use uri_folder (or "
                "mltable if it holds an MLTable file)."
            )
        return _read_file(fs, root, options, display=path)
    if kind == "uri_folder":
        if not is_dir:
            raise InvalidInputError(
                f"{path!r} is a file but the data type is uri_folder; use uri_file."
            )
        return _read_folder(fs, root, options, display=path)
    # mltable
    if not has_mltable:
        if not is_dir:
            return _read_file(fs, root, options, display=path)
        raise InvalidInputError(
            f"Folder {path!r} has no {MLTABLE_FILE} file, so it cannot be read as mltable. "
            "Register it as uri_folder, or add an MLTable file "
            "(modelworks.data.readers.write_mltable writes one)."
        )
    if options:
        raise InvalidInputError(
            f"Reading options {sorted(options)} are not accepted for an MLTable; set them in "
            f"the {MLTABLE_FILE} file's transformations (e.g. read_delimited: delimiter)."
        )
    return _read_mltable(fs, mltable, display=_display(fs, mltable, path, root))


def write_mltable(folder: str, files: list[str], delimiter: str = ",") -> str:
    """Write an Azure-style ``MLTable`` file describing ``files`` (already inside ``folder``).

    Files of one kind get Azure's read transformation: ``read_delimited`` for delimited text
    (``.tsv`` files default to a tab), ``read_parquet``, ``read_json_lines``. Other tabular
    files (``.json``, ``.feather``) or a mix of kinds get a ``paths`` section only, which
    modelworks reads by extension (Azure's ``mltable`` package cannot). Returns the path of the
    written MLTable file.
    """
    import yaml

    if not files:
        raise InvalidInputError("write_mltable needs at least one file; got an empty list.")
    root = os.path.abspath(folder)
    if not os.path.isdir(root):
        raise NotFoundError(f"Folder {folder!r} does not exist; create it and put the files in.")
    entries: list[str] = []
    kinds: set[str] = set()
    for name in files:
        full = os.path.abspath(os.path.join(root, name))
        if os.path.commonpath([root, full]) != root or full == root:
            raise InvalidPathError(
                f"File {name!r} is not inside folder {folder!r}; an MLTable can only refer to "
                "files in its own folder. Copy the file there first."
            )
        if not os.path.isfile(full):
            raise NotFoundError(f"File {name!r} does not exist in folder {folder!r}.")
        found = table_format(full)
        if found is None:
            raise InvalidInputError(
                f"File {name!r} is not a tabular file an MLTable can describe. Supported: "
                f"{_supported_text()}."
            )
        kinds.add(found[0])
        entries.append("./" + os.path.relpath(full, root).replace(os.sep, "/"))
    document: dict[str, Any] = {
        "$schema": MLTABLE_SCHEMA,
        "type": "mltable",
        "paths": [{"file": entry} for entry in entries],
    }
    kind = kinds.pop() if len(kinds) == 1 else None
    if kind == "delimited":
        all_tsv = all(_stem_ext(n) == ".tsv" for n in files)
        document["transformations"] = [
            {
                "read_delimited": {
                    "delimiter": "\t" if all_tsv and delimiter == "," else delimiter,
                    "header": "all_files_same_headers",
                    "encoding": "utf8",
                    "empty_as_string": False,
                }
            }
        ]
    elif kind == "parquet":
        document["transformations"] = [{"read_parquet": {"include_path_column": False}}]
    elif kind == "jsonl":
        document["transformations"] = [
            {"read_json_lines": {"encoding": "utf8", "include_path_column": False}}
        ]
    target = os.path.join(root, MLTABLE_FILE)
    with open(target, "w", encoding="utf-8") as fh:
        yaml.safe_dump(document, fh, sort_keys=False, default_flow_style=False)
    return target


def dataframe_to_files(df: pd.DataFrame, folder: str) -> list[str]:
    """Write a DataFrame as ``data.parquet`` plus an MLTable (read_parquet) in ``folder``.

    This is how a DataFrame registered as a data asset becomes an Azure-style mltable folder.
    Non-string column names are turned into strings. Returns the paths of the two files.
    """
    import pandas as pd

    if not isinstance(df, pd.DataFrame):
        raise InvalidInputError(
            f"dataframe_to_files expects a pandas DataFrame, got {df.__class__.__name__}."
        )
    names = [str(c) for c in df.columns]
    duplicates = sorted(n for n, count in Counter(names).items() if count > 1)
    if duplicates:
        raise InvalidInputError(
            f"The DataFrame has duplicate column names {duplicates}; a table needs unique "
            "names. Rename them (df.columns = [...]) and try again."
        )
    if any(not isinstance(c, str) for c in df.columns):
        df = df.set_axis(names, axis=1)
    os.makedirs(folder, exist_ok=True)
    data_path = os.path.join(folder, "data.parquet")
    import pyarrow as pa

    try:
        df.to_parquet(data_path)
    except (pa.ArrowException, TypeError, ValueError) as e:
        with contextlib.suppress(OSError):
            os.remove(data_path)
        raise InvalidInputError(
            f"Could not write the DataFrame as Parquet: {e}. Columns must hold one type each; "
            "convert mixed object columns (e.g. df[col].astype(str)) and try again."
        ) from e
    return [data_path, write_mltable(folder, ["data.parquet"])]
