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
import csv
import io
import os
import posixpath
import re
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from modelworks.errors import (
    InvalidInputError,
    InvalidPathError,
    NotFoundError,
    SpecError,
)

if TYPE_CHECKING:
    import pandas as pd
    from fsspec import AbstractFileSystem

__all__ = [
    "MLTABLE_FILE",
    "SUPPORTED_EXTENSIONS",
    "dataframe_to_files",
    "read_table",
    "table_format",
    "write_mltable",
]

MLTABLE_FILE = "MLTable"
MLTABLE_SCHEMA = "https://azuremlschemas.azureedge.net/latest/MLTable.schema.json"
DATA_TYPES = ("uri_file", "uri_folder", "mltable")

_FORMATS: dict[str, str] = {
    ".csv": "delimited",
    ".tsv": "delimited",
    ".txt": "delimited",
    ".parquet": "parquet",
    ".pq": "parquet",
    ".json": "json",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".feather": "feather",
}
_COMPRESSIONS: dict[str, str] = {".gz": "gzip", ".bz2": "bz2", ".xz": "xz", ".zip": "zip"}
_COMPRESSIBLE = {"delimited", "json", "jsonl"}
SUPPORTED_EXTENSIONS: tuple[str, ...] = (
    *_FORMATS,
    *(f"{ext}{comp}" for ext, fmt in _FORMATS.items() if fmt in _COMPRESSIBLE for comp in (".gz",)),
)
_DELIMITER_CANDIDATES = (",", "\t", ";", "|")
_SNIFF_BYTES = 64 * 1024
_URL_RE = re.compile(r"^[A-Za-z][A-Za-z0-9+.\-]+://")


def _supported_text() -> str:
    return ", ".join(SUPPORTED_EXTENSIONS) + " (delimited and JSON files may end in .gz/.bz2/.xz)"


def table_format(name: str) -> tuple[str, str | None] | None:
    """The (format, compression) of a file from its name, or None if it is not tabular.

    Formats: ``delimited``, ``parquet``, ``json``, ``jsonl``, ``feather``.
    """
    base = posixpath.basename(name.replace("\\", "/")).lower()
    compression = None
    stem, ext = posixpath.splitext(base)
    if ext in _COMPRESSIONS:
        compression = _COMPRESSIONS[ext]
        stem, ext = posixpath.splitext(stem)
    fmt = _FORMATS.get(ext)
    if fmt is None or (compression is not None and fmt not in _COMPRESSIBLE):
        return None
    return fmt, compression


# --------------------------------------------------------------------------------- public API


def read_table(path: str, type: str = "auto", **options: Any) -> pd.DataFrame:
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

    Delimited files get a ``read_delimited`` transformation (``.tsv`` files default to a tab),
    Parquet files ``read_parquet``, JSON-lines files ``read_json_lines``; files of different
    kinds cannot share one MLTable. Returns the path of the written MLTable file.
    """
    import yaml

    if not files:
        raise InvalidInputError("write_mltable needs at least one file; got an empty list.")
    root = os.path.abspath(folder)
    if not os.path.isdir(root):
        raise NotFoundError(f"Folder {folder!r} does not exist; create it and put the files in.")
    entries: list[str] = []
    formats: dict[str, str] = {}
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
        if found is None or found[0] not in ("delimited", "parquet", "jsonl"):
            raise InvalidInputError(
                f"File {name!r} is not a CSV, Parquet or JSON-lines file; an MLTable written "
                "by modelworks can describe .csv/.tsv/.txt (optionally .gz), .parquet/.pq and "
                ".jsonl files."
            )
        formats[name] = found[0]
        entries.append("./" + os.path.relpath(full, root).replace(os.sep, "/"))
    kinds = set(formats.values())
    if len(kinds) > 1:
        listing = ", ".join(f"{n} ({k})" for n, k in formats.items())
        raise InvalidInputError(
            f"Files of different kinds cannot share one MLTable: {listing}. Write one MLTable "
            "per kind, or convert the files to one format."
        )
    kind = kinds.pop()
    transformation: dict[str, Any]
    if kind == "delimited":
        all_tsv = all(n.lower().split(".")[-1] == "tsv" or ".tsv." in n.lower() for n in files)
        transformation = {
            "read_delimited": {
                "delimiter": "\t" if all_tsv and delimiter == "," else delimiter,
                "header": "all_files_same_headers",
                "encoding": "utf8",
                "empty_as_string": False,
            }
        }
    elif kind == "parquet":
        transformation = {"read_parquet": {"include_path_column": False}}
    else:
        transformation = {"read_json_lines": {"encoding": "utf8", "include_path_column": False}}
    document = {
        "$schema": MLTABLE_SCHEMA,
        "type": "mltable",
        "paths": [{"file": entry} for entry in entries],
        "transformations": [transformation],
    }
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
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise InvalidInputError(
            f"The DataFrame has duplicate column names {duplicates}; a table needs unique "
            "names. Rename them (df.columns = [...]) and try again."
        )
    if any(not isinstance(c, str) for c in df.columns):
        df = df.set_axis(names, axis=1)
    os.makedirs(folder, exist_ok=True)
    data_path = os.path.join(folder, "data.parquet")
    try:
        df.to_parquet(data_path)
    except (TypeError, ValueError) as e:  # pyarrow's ArrowInvalid/ArrowTypeError subclass these
        with contextlib.suppress(OSError):
            os.remove(data_path)
        raise InvalidInputError(
            f"Could not write the DataFrame as Parquet: {e}. Columns must hold one type each; "
            "convert mixed object columns (e.g. df[col].astype(str)) and try again."
        ) from e
    return [data_path, write_mltable(folder, ["data.parquet"])]


# ------------------------------------------------------------------------------ file reading


def _filesystem(path: str) -> tuple[AbstractFileSystem, str]:
    import fsspec

    if not isinstance(path, str | os.PathLike) or not str(path):
        raise InvalidInputError(f"Data path must be a non-empty string, got {path!r}.")
    fs, root = fsspec.core.url_to_fs(os.fspath(path))
    return fs, root.rstrip("/") or root


def _is_local(fs: AbstractFileSystem) -> bool:
    from fsspec.implementations.local import LocalFileSystem

    return isinstance(fs, LocalFileSystem)


def _display(fs: AbstractFileSystem, path: str, original: str, root: str) -> str:
    """A user-facing name for ``path``: relative to what the user gave where possible."""
    if path == root:
        return original
    if path.startswith(root + "/"):
        return posixpath.join(original.rstrip("/"), path[len(root) + 1 :])
    return path if _is_local(fs) else fs.unstrip_protocol(path)


@contextlib.contextmanager
def _source(fs: AbstractFileSystem, path: str) -> Iterator[Any]:
    """What pandas should read: the local path itself, or an open remote file."""
    if _is_local(fs):
        yield path
    else:
        with fs.open(path, "rb") as fh:
            yield fh


def _read_file(
    fs: AbstractFileSystem, path: str, options: dict[str, Any], *, display: str
) -> pd.DataFrame:
    found = table_format(path)
    if found is None:
        raise InvalidInputError(
            f"Cannot read {display!r} as a table: unsupported file extension. Supported: "
            f"{_supported_text()}."
        )
    fmt, compression = found
    if fmt == "delimited":
        return _read_delimited(fs, path, compression, options, display=display)
    return _read_other(fs, path, fmt, compression, options, display=display)


def _sniff_delimiter(fs: AbstractFileSystem, path: str, compression: str | None) -> str | None:
    """Guess the delimiter from the first lines: the candidate giving a constant field count > 1."""
    try:
        with fs.open(path, "rb", compression=compression) as fh:
            raw = fh.read(_SNIFF_BYTES)
    except (OSError, EOFError, ValueError):
        return None
    truncated = len(raw) >= _SNIFF_BYTES
    text = raw.decode("utf-8", errors="replace")
    best: tuple[int, str] | None = None
    fallback: tuple[int, str] | None = None
    for delimiter in _DELIMITER_CANDIDATES:
        try:
            rows = [r for r in csv.reader(io.StringIO(text), delimiter=delimiter) if r]
        except csv.Error:
            continue
        if truncated and len(rows) > 1:
            rows = rows[:-1]
        if not rows:
            continue
        counts = {len(r) for r in rows}
        width = len(rows[0])
        if len(counts) == 1 and width > 1 and (best is None or width > best[0]):
            best = (width, delimiter)
        if width > 1 and (fallback is None or width > fallback[0]):
            fallback = (width, delimiter)
    chosen = best or fallback
    return chosen[1] if chosen else None


def _read_delimited(
    fs: AbstractFileSystem,
    path: str,
    compression: str | None,
    options: dict[str, Any],
    *,
    display: str,
) -> pd.DataFrame:
    import pandas as pd

    kwargs = dict(options)
    if "delimiter" in kwargs and "sep" in kwargs:
        raise InvalidInputError("Give either delimiter= or sep=, not both.")
    delimiter = kwargs.pop("delimiter", kwargs.pop("sep", None))
    if delimiter is None:
        delimiter = _sniff_delimiter(fs, path, compression)
        if delimiter is None:
            delimiter = "\t" if ".tsv" in path.lower() else ","
    try:
        with _source(fs, path) as src:
            return pd.read_csv(src, sep=delimiter, compression=compression, **kwargs)
    except TypeError as e:
        raise InvalidInputError(f"Bad reading option for {display!r}: {e}.") from e
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError, ValueError) as e:
        raise InvalidInputError(
            f"Could not read {display!r} as delimited text (delimiter {delimiter!r}): {e}. "
            "Check the file, or pass delimiter=/encoding= explicitly."
        ) from e
    except (OSError, EOFError) as e:
        raise InvalidInputError(f"Could not read {display!r}: {e}.") from e


def _read_other(
    fs: AbstractFileSystem,
    path: str,
    fmt: str,
    compression: str | None,
    options: dict[str, Any],
    *,
    display: str,
) -> pd.DataFrame:
    import pandas as pd

    try:
        with _source(fs, path) as src:
            if fmt == "parquet":
                return pd.read_parquet(src, **options)
            if fmt == "feather":
                return pd.read_feather(src, **options)
            if fmt == "jsonl":
                return pd.read_json(src, lines=True, compression=compression, **options)
            return _read_json(fs, path, src, compression, options)
    except TypeError as e:
        raise InvalidInputError(f"Bad reading option for {display!r}: {e}.") from e
    except (ValueError, OSError, EOFError) as e:  # pyarrow.ArrowInvalid is a ValueError
        raise InvalidInputError(
            f"Could not read {display!r} as {fmt}: {e}. Check that the file is valid {fmt}."
        ) from e


def _read_json(
    fs: AbstractFileSystem,
    path: str,
    src: Any,
    compression: str | None,
    options: dict[str, Any],
) -> pd.DataFrame:
    """A .json file: an array of records, JSON lines, or a pandas-style column mapping."""
    import pandas as pd

    with fs.open(path, "rb", compression=compression) as fh:
        head = fh.read(4096).lstrip()
    if head.startswith(b"{"):
        try:
            if not _is_local(fs):
                src.seek(0)
            return pd.read_json(src, lines=True, compression=compression, **options)
        except ValueError:
            if not _is_local(fs):
                src.seek(0)
    return pd.read_json(src, compression=compression, **options)


def _tabular_files(fs: AbstractFileSystem, root: str, formats: set[str] | None) -> list[str]:
    """Files under ``root`` (recursive, sorted) of the given formats; hidden/underscore skipped."""
    found = []
    for p in sorted(fs.find(root)):
        rel = p[len(root) :].lstrip("/")
        if any(part.startswith((".", "_")) for part in rel.split("/")):
            continue
        fmt = table_format(p)
        if fmt is not None and (formats is None or fmt[0] in formats):
            found.append(p)
    return found


def _read_folder(
    fs: AbstractFileSystem, root: str, options: dict[str, Any], *, display: str
) -> pd.DataFrame:
    files = _tabular_files(fs, root, None)
    if not files:
        raise InvalidInputError(
            f"Folder {display!r} holds no tabular file. Supported: {_supported_text()} "
            "(files starting with '.' or '_' are skipped)."
        )
    frames = [
        (name, _read_file(fs, p, options, display=name))
        for p in files
        for name in [_display(fs, p, display, root)]
    ]
    return _concat_same_columns(frames, where=f"folder {display!r}")


def _concat_same_columns(frames: list[tuple[str, pd.DataFrame]], *, where: str) -> pd.DataFrame:
    """Concatenate frames that must have the same columns; name the files that differ."""
    import pandas as pd

    first_name, first = frames[0]
    expected = set(map(str, first.columns))
    problems = []
    for name, frame in frames[1:]:
        got = set(map(str, frame.columns))
        if got != expected:
            missing, extra = sorted(expected - got), sorted(got - expected)
            detail = "; ".join(
                part
                for part in (
                    f"missing {missing}" if missing else "",
                    f"extra {extra}" if extra else "",
                )
                if part
            )
            problems.append(f"{name} ({detail})")
    if problems:
        shown = ", ".join(problems[:5]) + (f" and {len(problems) - 5} more" if len(problems) > 5 else "")
        raise InvalidInputError(
            f"Files in {where} have different columns: compared with {first_name} "
            f"({sorted(expected)}), {shown}. Put files of one table in a folder, or use an "
            "MLTable with header: all_files_different_headers."
        )
    if len(frames) == 1:
        return first
    return pd.concat([f for _, f in frames], ignore_index=True)


# ----------------------------------------------------------------------------------- MLTable

from modelworks.data._mltable import read_mltable as _read_mltable_impl  # noqa: E402


def _read_mltable(fs: AbstractFileSystem, mltable: str, *, display: str) -> pd.DataFrame:
    return _read_mltable_impl(fs, mltable, display=display)
