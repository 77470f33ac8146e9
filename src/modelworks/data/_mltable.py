"""Azure ML ``MLTable`` files: ``paths`` and ``transformations`` (read_delimited / read_parquet /
read_json_lines, column types, filters, take/skip ...) applied to the files they name."""

from __future__ import annotations

import contextlib
import posixpath
import re
from typing import TYPE_CHECKING, Any

from modelworks.errors import (
    InvalidInputError,
    NotFoundError,
    SpecError,
)

if TYPE_CHECKING:
    import pandas as pd
    from fsspec import AbstractFileSystem

from modelworks.data._files import (
    _URL_RE,
    Compression,
    _concat_same_columns,
    _filesystem,
    _read_delimited,
    _read_file,
    _read_other,
    _tabular_files,
    table_format,
)

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
