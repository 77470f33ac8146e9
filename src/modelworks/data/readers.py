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
from collections import Counter
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, Literal

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
Compression = Literal["gzip", "bz2", "xz", "zip"] | None
_COMPRESSIONS: dict[str, Compression] = {".gz": "gzip", ".bz2": "bz2", ".xz": "xz", ".zip": "zip"}
_COMPRESSIBLE = {"delimited", "json", "jsonl"}
SUPPORTED_EXTENSIONS: tuple[str, ...] = tuple(_FORMATS)
_DELIMITER_CANDIDATES = (",", "\t", ";", "|")
_SNIFF_BYTES = 64 * 1024
_URL_RE = re.compile(r"^[A-Za-z][A-Za-z0-9+.\-]+://")


def _supported_text() -> str:
    return (
        ", ".join(SUPPORTED_EXTENSIONS)
        + "; delimited and JSON files may also be compressed (.gz, .bz2, .xz, .zip), e.g. .csv.gz"
    )


def table_format(name: str) -> tuple[str, Compression] | None:
    """The (format, compression) of a file from its name, or None if it is not tabular.

    Formats: ``delimited``, ``parquet``, ``json``, ``jsonl``, ``feather``.
    """
    base = posixpath.basename(name.replace("\\", "/")).lower()
    compression = _COMPRESSIONS.get(posixpath.splitext(base)[1])
    fmt = _FORMATS.get(_stem_ext(base))
    if fmt is None or (compression is not None and fmt not in _COMPRESSIBLE):
        return None
    return fmt, compression


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


def _stem_ext(name: str) -> str:
    """The extension of a file name under any compression suffix: 'a.tsv.gz' -> '.tsv'."""
    stem, ext = posixpath.splitext(name.lower())
    return posixpath.splitext(stem)[1] if ext in _COMPRESSIONS else ext


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


def _sniff_delimiter(fs: AbstractFileSystem, path: str, compression: Compression) -> str | None:
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
    compression: Compression,
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
            delimiter = "\t" if _stem_ext(path) == ".tsv" else ","
    try:
        with _source(fs, path) as src:
            return _as_frame(
                pd.read_csv(src, sep=delimiter, compression=compression, **kwargs), display
            )
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
    compression: Compression,
    options: dict[str, Any],
    *,
    display: str,
) -> pd.DataFrame:
    import pandas as pd

    try:
        with _source(fs, path) as src:
            if fmt == "parquet":
                result: object = pd.read_parquet(src, **options)
            elif fmt == "feather":
                result = pd.read_feather(src, **options)
            elif fmt == "jsonl":
                result = pd.read_json(src, lines=True, compression=compression, **options)
            else:
                result = _read_json(fs, path, src, compression, options)
            return _as_frame(result, display)
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
    compression: Compression,
    options: dict[str, Any],
) -> object:
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


def _as_frame(result: object, display: str) -> pd.DataFrame:
    import pandas as pd

    if not isinstance(result, pd.DataFrame):
        raise InvalidInputError(
            f"Reading {display!r} did not give a table (got {result.__class__.__name__}); "
            "do not pass options such as chunksize=, iterator= or typ='series'."
        )
    return result


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
        shown = ", ".join(problems[:5]) + (
            f" and {len(problems) - 5} more" if len(problems) > 5 else ""
        )
        raise InvalidInputError(
            f"Files in {where} have different columns: compared with {first_name} "
            f"({sorted(expected)}), {shown}. Put files of one table in a folder, or use an "
            "MLTable with header: all_files_different_headers."
        )
    if len(frames) == 1:
        return first
    return pd.concat([f for _, f in frames], ignore_index=True)


# ----------------------------------------------------------------------------------- MLTable

_READERS = ("read_delimited", "read_parquet", "read_json_lines")
_STEPS = (
    "take",
    "skip",
    "take_random_sample",
    "drop_columns",
    "keep_columns",
    "convert_column_types",
)
_READER_KEYS = {
    "read_delimited": {
        "delimiter",
        "header",
        "encoding",
        "empty_as_string",
        "include_path_column",
        "support_multi_line",
        "infer_column_types",
    },
    "read_parquet": {"include_path_column"},
    "read_json_lines": {"encoding", "include_path_column", "invalid_lines"},
}
_READER_FORMATS = {
    "read_delimited": {"delimited"},
    "read_parquet": {"parquet"},
    "read_json_lines": {"jsonl", "json"},
}
_HEADERS = ("all_files_same_headers", "from_first_file", "no_header", "all_files_different_headers")
_ENCODINGS = {
    "utf8": "utf-8",
    "utf-8": "utf-8",
    "utf8bom": "utf-8-sig",
    "ascii": "ascii",
    "latin1": "latin-1",
    "iso88591": "iso-8859-1",
    "windows1252": "cp1252",
    "utf16": "utf-16",
    "utf32": "utf-32",
}
_COLUMN_TYPES = ("int", "float", "boolean", "string", "datetime")
_TRUE = ("true", "t", "yes", "y", "1")
_FALSE = ("false", "f", "no", "n", "0")


class _MLTable:
    """One parsed MLTable file: where its files are and how to read and transform them."""

    def __init__(self, fs: AbstractFileSystem, path: str, display: str) -> None:
        from modelworks.specs._loading import parse_yaml

        self.fs, self.path, self.display = fs, path, display
        self.base = posixpath.dirname(path)
        with fs.open(path, "rb") as fh:
            raw = fh.read()
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as e:
            raise SpecError(f"{display}: not UTF-8 text ({e.reason}).") from e
        self.doc = parse_yaml(text, source=display)
        self.reader: tuple[str, dict[str, Any]] | None = None
        self.steps: list[tuple[str, Any, str]] = []
        self._parse_transformations()

    def fail(self, key: str, message: str) -> SpecError:
        return SpecError(f"{self.display}: {key}: {message}")

    def _parse_transformations(self) -> None:
        items = self.doc.get("transformations") or []
        if not isinstance(items, list):
            raise self.fail("transformations", "must be a list of transformations.")
        for i, item in enumerate(items):
            key = f"transformations[{i}]"
            if isinstance(item, str):
                name, args = item, None
            elif isinstance(item, dict) and len(item) == 1:
                name, args = next(iter(item.items()))
            else:
                raise self.fail(key, f"must be a mapping with one transformation, got {item!r}.")
            key = f"{key}.{name}"
            if name in _READERS:
                if i != 0:
                    raise self.fail(key, "a read transformation must be the first one.")
                if args is None:
                    args = {}
                if not isinstance(args, dict):
                    raise self.fail(key, f"must be a mapping of options, got {args!r}.")
                unknown = sorted(set(args) - _READER_KEYS[name])
                if unknown:
                    raise self.fail(
                        f"{key}.{unknown[0]}",
                        f"unknown option; {name} accepts {', '.join(sorted(_READER_KEYS[name]))}.",
                    )
                self.reader = (name, self._reader_settings(name, args, key))
            elif name in _STEPS:
                self.steps.append((name, args, key))
            else:
                supported = ", ".join((*_READERS, *_STEPS))
                raise self.fail(key, f"unknown transformation {name!r}; supported: {supported}.")

    def _reader_settings(self, name: str, args: dict[str, Any], key: str) -> dict[str, Any]:
        """The read transformation's options, checked and with Azure's defaults filled in."""

        def flag(option: str, default: bool) -> bool:
            value = args.get(option, default)
            if not isinstance(value, bool):
                raise self.fail(f"{key}.{option}", f"must be true or false, got {value!r}.")
            return value

        def choice(option: str, allowed: tuple[str, ...], default: str) -> str:
            value = args.get(option, default)
            if value not in allowed:
                raise self.fail(
                    f"{key}.{option}", f"must be one of {', '.join(allowed)}, got {value!r}."
                )
            return str(value)

        out: dict[str, Any] = {"include_path_column": flag("include_path_column", False)}
        if name in ("read_delimited", "read_json_lines"):
            encoding = str(args.get("encoding", "utf8")).lower()
            if encoding not in _ENCODINGS:
                raise self.fail(
                    f"{key}.encoding",
                    f"unknown encoding {encoding!r}; use one of {', '.join(_ENCODINGS)}.",
                )
            out["encoding"] = _ENCODINGS[encoding]
        if name == "read_json_lines":
            out["invalid_lines"] = choice("invalid_lines", ("error", "drop"), "error")
        if name == "read_delimited":
            delimiter = args.get("delimiter", ",")
            if not isinstance(delimiter, str) or not delimiter:
                raise self.fail(
                    f"{key}.delimiter", f"must be a non-empty string, got {delimiter!r}."
                )
            out["delimiter"] = delimiter
            out["header"] = choice("header", _HEADERS, "all_files_same_headers")
            out["empty_as_string"] = flag("empty_as_string", False)
            out["infer_column_types"] = flag("infer_column_types", True)
            flag("support_multi_line", False)  # quoted line breaks are always supported
        return out

    def files(self) -> list[tuple[AbstractFileSystem, str, str]]:
        """(filesystem, path, display name) of every file the ``paths`` section names."""
        entries = self.doc.get("paths")
        if not isinstance(entries, list) or not entries:
            raise self.fail(
                "paths",
                "required: a non-empty list of {file: ...}, {folder: ...} or {pattern: ...}.",
            )
        formats = _READER_FORMATS[self.reader[0]] if self.reader else None
        found: list[tuple[AbstractFileSystem, str, str]] = []
        for i, entry in enumerate(entries):
            if not isinstance(entry, dict) or len(entry) != 1:
                raise self.fail(f"paths[{i}]", "must have exactly one of file, folder or pattern.")
            kind, value = next(iter(entry.items()))
            key = f"paths[{i}].{kind}"
            if kind not in ("file", "folder", "pattern"):
                raise self.fail(
                    f"paths[{i}]", f"unknown key {kind!r}; use file, folder or pattern."
                )
            if not isinstance(value, str) or not value:
                raise self.fail(key, f"must be a non-empty path string, got {value!r}.")
            fs, target = self._resolve(value, key)
            if kind == "file":
                if not fs.isfile(target):
                    raise NotFoundError(f"{self.display}: {key}: file {value!r} does not exist.")
                found.append((fs, target, value))
            elif kind == "folder":
                if not fs.isdir(target):
                    raise NotFoundError(f"{self.display}: {key}: folder {value!r} does not exist.")
                found.extend(
                    (fs, p, _rel(p, self.base)) for p in _tabular_files(fs, target, formats)
                )
            else:
                matches = sorted(p for p in fs.glob(target) if fs.isfile(p))
                found.extend((fs, p, _rel(p, self.base)) for p in matches)
        if not found:
            raise InvalidInputError(
                f"{self.display}: the paths section matched no readable file. Check the file, "
                "folder and pattern entries."
            )
        return found

    def _resolve(self, value: str, key: str) -> tuple[AbstractFileSystem, str]:
        if _URL_RE.match(value) or value.startswith("azureml:"):
            if value.startswith(("azureml:", "file:")):
                raise self.fail(
                    key,
                    f"{value!r} cannot be read here; give a path relative to the MLTable folder.",
                )
            return _filesystem(value)
        if value.startswith(("/", "\\")) or re.match(r"^[A-Za-z]:", value):
            raise self.fail(key, f"{value!r} is absolute; give a path relative to the MLTable.")
        target = posixpath.normpath(posixpath.join(self.base, value.replace("\\", "/")))
        if target != self.base and not target.startswith(self.base.rstrip("/") + "/"):
            raise self.fail(key, f"{value!r} points outside the MLTable's folder.")
        return self.fs, target


def _rel(path: str, base: str) -> str:
    return path[len(base) + 1 :] if path.startswith(base + "/") else path


def _read_mltable(fs: AbstractFileSystem, mltable: str, *, display: str) -> pd.DataFrame:
    table = _MLTable(fs, mltable, display)
    files = table.files()
    if table.reader is None:
        frames = [(name, _read_file(f, p, {}, display=name)) for f, p, name in files]
        df = _concat_same_columns(frames, where=display)
    else:
        name, args = table.reader
        if name == "read_delimited":
            df = _mltable_delimited(table, files, args)
        elif name == "read_parquet":
            df = _mltable_other(table, files, args, "parquet")
        else:
            df = _mltable_other(table, files, args, "jsonl")
    for step, args, key in table.steps:
        df = _apply_step(table, df, step, args, key)
    return df


def _mltable_delimited(
    table: _MLTable, files: list[tuple[AbstractFileSystem, str, str]], settings: dict[str, Any]
) -> pd.DataFrame:
    import pandas as pd

    header = settings["header"]
    options: dict[str, Any] = {"delimiter": settings["delimiter"], "encoding": settings["encoding"]}
    if settings["empty_as_string"]:
        options["keep_default_na"] = False
    if not settings["infer_column_types"]:
        options["dtype"] = str
    frames = []
    first_columns: list[Any] | None = None
    for i, (fs, path, name) in enumerate(files):
        opts = dict(options)
        if header == "no_header" or (header == "from_first_file" and i > 0):
            opts["header"] = None
        if header == "from_first_file" and first_columns is not None:
            opts["names"] = first_columns
        compression = (table_format(path) or ("", None))[1]
        frame = _read_delimited(fs, path, compression, opts, display=name)
        if header == "no_header":
            frame.columns = [f"Column{j + 1}" for j in range(frame.shape[1])]
        if first_columns is None:
            first_columns = list(frame.columns)
        if settings["include_path_column"]:
            frame["Path"] = name
        frames.append((name, frame))
    if header in ("all_files_different_headers", "no_header"):
        return pd.concat([f for _, f in frames], ignore_index=True)
    return _concat_same_columns(frames, where=table.display)


def _mltable_other(
    table: _MLTable,
    files: list[tuple[AbstractFileSystem, str, str]],
    settings: dict[str, Any],
    fmt: str,
) -> pd.DataFrame:
    options = {"encoding": settings["encoding"]} if fmt == "jsonl" else {}
    frames = []
    for fs, path, name in files:
        compression = (table_format(path) or ("", None))[1]
        if settings.get("invalid_lines") == "drop":
            frame = _read_json_lines_dropping(fs, path, compression, settings["encoding"])
        else:
            frame = _read_other(fs, path, fmt, compression, options, display=name)
        if settings["include_path_column"]:
            frame["Path"] = name
        frames.append((name, frame))
    return _concat_same_columns(frames, where=table.display)


def _read_json_lines_dropping(
    fs: AbstractFileSystem, path: str, compression: Compression, encoding: str
) -> pd.DataFrame:
    import json

    import pandas as pd

    records = []
    with fs.open(path, "rb", compression=compression) as fh:
        for raw in fh:
            try:
                record = json.loads(raw.decode(encoding))
            except (ValueError, UnicodeDecodeError):
                continue
            if isinstance(record, dict):
                records.append(record)
    return pd.DataFrame.from_records(records)


def _column_list(table: _MLTable, df: pd.DataFrame, value: Any, key: str) -> list[str]:
    names = [value] if isinstance(value, str) else value
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names) or not names:
        raise table.fail(key, f"must be a column name or a list of column names, got {value!r}.")
    missing = [n for n in names if n not in df.columns]
    if missing:
        available = ", ".join(map(str, df.columns))
        raise table.fail(key, f"no column {missing[0]!r} in the table; columns are: {available}.")
    return names


def _count(table: _MLTable, value: Any, key: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise table.fail(key, f"must be a non-negative integer, got {value!r}.")
    return value


def _apply_step(table: _MLTable, df: pd.DataFrame, step: str, args: Any, key: str) -> pd.DataFrame:
    if step == "take":
        return df.head(_count(table, args, key))
    if step == "skip":
        return df.iloc[_count(table, args, key) :].reset_index(drop=True)
    if step == "take_random_sample":
        if not isinstance(args, dict) or not isinstance(args.get("probability"), int | float):
            raise table.fail(key, "needs probability: a number between 0 and 1 (and seed).")
        probability = float(args["probability"])
        if not 0.0 <= probability <= 1.0:
            raise table.fail(f"{key}.probability", f"must be between 0 and 1, got {probability}.")
        seed = args.get("seed")
        sampled = df.sample(frac=probability, random_state=seed if isinstance(seed, int) else None)
        return sampled.sort_index().reset_index(drop=True)
    if step == "drop_columns":
        return df.drop(columns=_column_list(table, df, args, key))
    if step == "keep_columns":
        return df[_column_list(table, df, args, key)]
    # convert_column_types
    if not isinstance(args, list):
        raise table.fail(key, "must be a list of {columns: ..., column_type: ...}.")
    df = df.copy()
    for i, item in enumerate(args):
        item_key = f"{key}[{i}]"
        if not isinstance(item, dict) or "columns" not in item or "column_type" not in item:
            raise table.fail(item_key, "needs columns and column_type.")
        columns = _column_list(table, df, item["columns"], f"{item_key}.columns")
        type_name, type_args = _column_type(table, item["column_type"], f"{item_key}.column_type")
        for column in columns:
            df[column] = _convert(table, df[column], type_name, type_args, item_key)
    return df


def _column_type(table: _MLTable, value: Any, key: str) -> tuple[str, dict[str, Any]]:
    if isinstance(value, dict) and len(value) == 1:
        name, args = next(iter(value.items()))
        args = args or {}
    else:
        name, args = value, {}
    if name not in _COLUMN_TYPES or not isinstance(args, dict):
        raise table.fail(key, f"must be one of {', '.join(_COLUMN_TYPES)}, got {value!r}.")
    return str(name), args


def _convert(
    table: _MLTable, series: pd.Series, type_name: str, args: dict[str, Any], key: str
) -> pd.Series:
    import pandas as pd

    def bad(detail: str) -> InvalidInputError:
        return InvalidInputError(
            f"{table.display}: {key}: cannot convert column {series.name!r} to {type_name}: "
            f"{detail}."
        )

    present = series.dropna()
    try:
        if type_name in ("int", "float"):
            numeric = pd.api.types.is_numeric_dtype(present.dtype)
            text = present if numeric else present.astype(str).str.strip()
            numbers = pd.to_numeric(text, errors="coerce")
            if numbers.isna().any():
                raise bad(f"value {present[numbers.isna()].iloc[0]!r} is not a number")
            out = numbers.reindex(series.index)
            if type_name == "float":
                return out.astype("float64")
            if not (numbers == numbers.round()).all():
                raise bad("it holds non-integer numbers; use float")
            return out.astype("Int64")
        if type_name == "string":
            return series.astype(str).where(series.notna())
        if type_name == "boolean":
            trues = {str(v).lower() for v in args.get("true_values", _TRUE)}
            falses = {str(v).lower() for v in args.get("false_values", _FALSE)}
            mismatch = str(args.get("mismatch_as", "error")).lower()
            lowered = present.astype(str).str.strip().str.lower()
            unknown = ~(lowered.isin(trues) | lowered.isin(falses))
            if unknown.any() and mismatch == "error":
                raise bad(f"value {present[unknown].iloc[0]!r} is not a known true/false value")
            mapped = lowered.isin(trues) | (unknown & (mismatch == "true"))
            return mapped.reindex(series.index).astype("boolean")
        formats = args.get("formats") or []
        if isinstance(formats, str):
            formats = [formats]
        for fmt in formats:
            with contextlib.suppress(ValueError, TypeError):
                return pd.to_datetime(series, format=fmt)
        if formats:
            raise bad(f"no value layout matched the formats {formats}")
        return pd.to_datetime(series)
    except (ValueError, TypeError, OverflowError) as e:
        raise bad(str(e)) from e
