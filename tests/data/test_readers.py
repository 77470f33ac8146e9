"""read_table over real files of every supported kind, MLTable folders, and their errors."""

from __future__ import annotations

import gzip
import json
import os
import textwrap
import uuid
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from modelworks.data.readers import (
    SUPPORTED_EXTENSIONS,
    dataframe_to_files,
    read_table,
    table_format,
    write_mltable,
)
from modelworks.errors import InvalidInputError, InvalidPathError, NotFoundError, SpecError

BANK = Path("/work/shared/datasets/bank-marketing/bankmarketing_train.csv")

FRAME = pd.DataFrame(
    {"id": [1, 2, 3], "name": ["ann", "bob", "cy"], "score": [0.5, 1.5, 2.5]},
)


def write(path: Path, text: str, encoding: str = "utf-8") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text).lstrip("\n"), encoding=encoding)
    return path


def mltable(folder: Path, body: str) -> Path:
    return write(folder / "MLTable", body)


def same(a: pd.DataFrame, b: pd.DataFrame) -> None:
    pd.testing.assert_frame_equal(
        a.reset_index(drop=True), b.reset_index(drop=True), check_dtype=False
    )


# ------------------------------------------------------------------------------------ uri_file


@pytest.mark.parametrize(
    ("name", "text"),
    [
        ("a.csv", "id,name,score\n1,ann,0.5\n2,bob,1.5\n3,cy,2.5\n"),
        ("a.csv", "id;name;score\n1;ann;0.5\n2;bob;1.5\n3;cy;2.5\n"),
        ("a.tsv", "id\tname\tscore\n1\tann\t0.5\n2\tbob\t1.5\n3\tcy\t2.5\n"),
        ("a.txt", "id|name|score\n1|ann|0.5\n2|bob|1.5\n3|cy|2.5\n"),
    ],
)
def test_delimited_files_sniff_their_delimiter(tmp_path: Path, name: str, text: str) -> None:
    same(read_table(str(write(tmp_path / name, text))), FRAME)


def test_csv_with_quoted_delimiters_keeps_its_fields(tmp_path: Path) -> None:
    path = write(tmp_path / "q.csv", 'a,b\n"x, y; z",1\n"p|q",2\n')
    df = read_table(str(path))
    assert list(df.columns) == ["a", "b"]
    assert df["a"].tolist() == ["x, y; z", "p|q"]


def test_explicit_options_go_to_the_reader(tmp_path: Path) -> None:
    path = write(tmp_path / "l.csv", "name;city\nJosé;Málaga\n", encoding="latin-1")
    df = read_table(str(path), delimiter=";", encoding="latin-1")
    assert df.to_dict("records") == [{"name": "José", "city": "Málaga"}]


def test_compressed_files(tmp_path: Path) -> None:
    gz = tmp_path / "a.csv.gz"
    gz.write_bytes(gzip.compress(b"id,name,score\n1,ann,0.5\n2,bob,1.5\n3,cy,2.5\n"))
    same(read_table(str(gz)), FRAME)
    jgz = tmp_path / "a.jsonl.gz"
    jgz.write_bytes(gzip.compress(FRAME.to_json(orient="records", lines=True).encode()))
    same(read_table(str(jgz)), FRAME)


def test_binary_and_json_formats(tmp_path: Path) -> None:
    FRAME.to_parquet(tmp_path / "a.parquet")
    FRAME.to_parquet(tmp_path / "a.pq")
    FRAME.to_feather(tmp_path / "a.feather")
    (tmp_path / "records.json").write_text(FRAME.to_json(orient="records"))
    (tmp_path / "lines.json").write_text(FRAME.to_json(orient="records", lines=True))
    (tmp_path / "a.jsonl").write_text(FRAME.to_json(orient="records", lines=True))
    (tmp_path / "columns.json").write_text(json.dumps(FRAME.to_dict(), indent=2))
    for name in ("a.parquet", "a.pq", "a.feather", "records.json", "lines.json", "a.jsonl"):
        same(read_table(str(tmp_path / name), "uri_file"), FRAME)
    columns = read_table(str(tmp_path / "columns.json"))
    assert columns["name"].tolist() == ["ann", "bob", "cy"]


def test_fsspec_urls_are_read(tmp_path: Path) -> None:
    import fsspec

    root = f"memory://modelworks-test-{uuid.uuid4().hex}"
    fs = fsspec.filesystem("memory")
    with fs.open(f"{root}/t/part-1.csv", "w") as fh:
        fh.write("id,name,score\n1,ann,0.5\n")
    with fs.open(f"{root}/t/part-2.csv.gz", "wb") as fh:
        fh.write(gzip.compress(b"id,name,score\n2,bob,1.5\n3,cy,2.5\n"))
    with fs.open(f"{root}/m/MLTable", "w") as fh:
        fh.write("paths: [{pattern: ../t/*.csv}]\n")
    with fs.open(f"{root}/m/data/a.csv", "w") as fh:
        fh.write("id;name;score\n1;ann;0.5\n2;bob;1.5\n3;cy;2.5\n")
    try:
        same(read_table(f"{root}/t/part-1.csv"), FRAME.head(1))
        same(read_table(f"{root}/t"), FRAME)
        with pytest.raises(
            SpecError, match=r"paths\[0\]\.pattern: '\.\./t/\*\.csv' points outside"
        ):
            read_table(f"{root}/m")
        with fs.open(f"{root}/m/MLTable", "w") as fh:
            fh.write(
                "paths: [{folder: ./data}]\ntransformations: [{read_delimited: {delimiter: ';'}}]\n"
            )
        same(read_table(f"{root}/m", "mltable"), FRAME)
        local = tmp_path / "f.csv"
        local.write_text("id,name,score\n1,ann,0.5\n")
        same(read_table(local.as_uri()), FRAME.head(1))
    finally:
        fs.rm(root, recursive=True)


def test_bank_marketing_csv() -> None:
    if not BANK.exists():
        pytest.skip("bank-marketing dataset not present")
    df = read_table(str(BANK))
    assert df.shape == (32950, 21)
    assert list(df.columns[:3]) == ["age", "job", "marital"]
    assert df.columns[-1] == "response"
    assert "emp.var.rate" in df.columns
    assert pd.api.types.is_integer_dtype(df["age"])
    assert set(df["response"]) == {"yes", "no"}


# ---------------------------------------------------------------------------------- uri_folder


def test_folder_concatenates_tabular_files_sorted_and_recursive(tmp_path: Path) -> None:
    folder = tmp_path / "data"
    write(folder / "b" / "part-2.csv", "id,name,score\n3,cy,2.5\n")
    write(folder / "a" / "part-1.csv", "id,name,score\n2,bob,1.5\n")
    write(folder / "a" / "part-0.csv", "id,name,score\n1,ann,0.5\n")
    write(folder / "README.md", "not a table")
    write(folder / "_SUCCESS", "")
    write(folder / ".hidden.csv", "x\n1\n")
    same(read_table(str(folder)), FRAME)
    same(read_table(str(folder), "uri_folder"), FRAME)


def test_folder_with_different_columns_names_the_files(tmp_path: Path) -> None:
    write(tmp_path / "one.csv", "id,name\n1,a\n")
    write(tmp_path / "two.csv", "id,city\n2,b\n")
    with pytest.raises(InvalidInputError) as info:
        read_table(str(tmp_path))
    message = str(info.value)
    assert "one.csv" in message and "two.csv" in message
    assert "missing ['name']" in message and "extra ['city']" in message


def test_folder_without_tables(tmp_path: Path) -> None:
    write(tmp_path / "notes.md", "hello")
    with pytest.raises(InvalidInputError, match="no tabular file") as info:
        read_table(str(tmp_path))
    assert ".parquet" in str(info.value)


def test_type_must_match_the_path(tmp_path: Path) -> None:
    csv = write(tmp_path / "a.csv", "x\n1\n")
    with pytest.raises(InvalidInputError, match="use uri_folder"):
        read_table(str(tmp_path), "uri_file")
    with pytest.raises(InvalidInputError, match="use uri_file"):
        read_table(str(csv), "uri_folder")
    with pytest.raises(InvalidInputError, match="expected one of auto, uri_file"):
        read_table(str(csv), "table")


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    values=st.lists(st.integers(-(10**12), 10**12), min_size=1, max_size=40),
    parts=st.integers(1, 12),
)
def test_folder_of_parts_reads_back_the_whole_table(
    tmp_path: Path, values: list[int], parts: int
) -> None:
    folder = tmp_path / uuid.uuid4().hex
    folder.mkdir()
    df = pd.DataFrame({"v": values, "s": [f"s{v}" for v in values]})
    for i, chunk in enumerate(np.array_split(np.arange(len(df)), parts)):
        df.iloc[chunk].to_csv(folder / f"part-{i:05d}.csv", index=False)
    got = read_table(str(folder))
    assert got["v"].tolist() == values
    assert got["s"].tolist() == [f"s{v}" for v in values]


# ------------------------------------------------------------------------------------- errors


def test_missing_path_is_not_found(tmp_path: Path) -> None:
    missing = str(tmp_path / "nope.csv")
    with pytest.raises(NotFoundError) as info:
        read_table(missing)
    assert missing in str(info.value)


def test_unsupported_extension_lists_the_supported_ones(tmp_path: Path) -> None:
    path = write(tmp_path / "table.xlsx", "x")
    with pytest.raises(InvalidInputError) as info:
        read_table(str(path))
    message = str(info.value)
    assert "table.xlsx" in message and "unsupported file extension" in message
    for ext in (".csv", ".parquet", ".jsonl", ".feather", ".csv.gz"):
        assert ext in message
    assert set(SUPPORTED_EXTENSIONS) >= {".csv", ".tsv", ".txt", ".parquet", ".pq", ".json"}


def test_unreadable_csv_carries_the_parser_reason(tmp_path: Path) -> None:
    path = write(tmp_path / "ragged.csv", "a,b\n1,2\n3,4,5,6\n")
    with pytest.raises(InvalidInputError) as info:
        read_table(str(path))
    message = str(info.value)
    assert "ragged.csv" in message
    assert "Expected 2 fields in line 3, saw 4" in message


def test_empty_and_undecodable_csv(tmp_path: Path) -> None:
    empty = tmp_path / "empty.csv"
    empty.write_bytes(b"")
    with pytest.raises(InvalidInputError, match="No columns to parse"):
        read_table(str(empty))
    latin = write(tmp_path / "latin.csv", "name\nJosé\n", encoding="latin-1")
    with pytest.raises(InvalidInputError, match="encoding"):
        read_table(str(latin))


def test_corrupt_parquet(tmp_path: Path) -> None:
    path = tmp_path / "bad.parquet"
    path.write_bytes(b"this is not parquet")
    with pytest.raises(InvalidInputError, match=r"bad\.parquet.*parquet"):
        read_table(str(path))


def test_table_format() -> None:
    assert table_format("x/y/a.CSV") == ("delimited", None)
    assert table_format("a.tsv.gz") == ("delimited", "gzip")
    assert table_format("a.parquet") == ("parquet", None)
    assert table_format("a.parquet.gz") is None
    assert table_format("MLTable") is None


# ------------------------------------------------------------------------------------ MLTable


def test_mltable_with_files_and_read_delimited(tmp_path: Path) -> None:
    write(tmp_path / "a.csv", "id,name,score\n1,ann,0.5\n")
    write(tmp_path / "sub" / "b.csv", "id,name,score\n2,bob,1.5\n3,cy,2.5\n")
    mltable(
        tmp_path,
        """
        $schema: https://azuremlschemas.azureedge.net/latest/MLTable.schema.json
        type: mltable
        paths:
          - file: ./a.csv
          - file: ./sub/b.csv
        transformations:
          - read_delimited:
              delimiter: ','
              header: all_files_same_headers
              encoding: utf8
              empty_as_string: false
        """,
    )
    same(read_table(str(tmp_path)), FRAME)
    same(read_table(str(tmp_path / "MLTable")), FRAME)
    same(read_table(str(tmp_path), "mltable"), FRAME)


def test_mltable_folder_and_pattern_paths(tmp_path: Path) -> None:
    write(tmp_path / "parts" / "p1.csv", "id,name,score\n1,ann,0.5\n")
    write(tmp_path / "parts" / "p2.csv", "id,name,score\n2,bob,1.5\n")
    write(tmp_path / "parts" / "notes.md", "ignored")
    write(tmp_path / "z1.csv", "id,name,score\n3,cy,2.5\n")
    write(tmp_path / "other.tsv", "ignored\n")
    mltable(
        tmp_path,
        """
        paths:
          - folder: ./parts
          - pattern: ./z*.csv
        transformations:
          - read_delimited: {}
        """,
    )
    same(read_table(str(tmp_path)), FRAME)


def test_mltable_header_modes(tmp_path: Path) -> None:
    write(tmp_path / "first" / "1.csv", "id,name\n1,a\n")
    write(tmp_path / "first" / "2.csv", "2,b\n3,c\n")
    mltable(
        tmp_path / "first",
        """
        paths: [{pattern: ./*.csv}]
        transformations: [{read_delimited: {header: from_first_file}}]
        """,
    )
    df = read_table(str(tmp_path / "first"))
    assert df.to_dict("list") == {"id": [1, 2, 3], "name": ["a", "b", "c"]}

    write(tmp_path / "none" / "1.csv", "1;a\n2;b\n")
    mltable(
        tmp_path / "none",
        """
        paths: [{file: ./1.csv}]
        transformations:
          - read_delimited: {header: no_header, delimiter: ';'}
        """,
    )
    df = read_table(str(tmp_path / "none"))
    assert df.to_dict("list") == {"Column1": [1, 2], "Column2": ["a", "b"]}

    write(tmp_path / "diff" / "1.csv", "id,name\n1,a\n")
    write(tmp_path / "diff" / "2.csv", "id,city\n2,x\n")
    mltable(
        tmp_path / "diff",
        """
        paths: [{folder: .}]
        transformations: [{read_delimited: {header: all_files_different_headers}}]
        """,
    )
    df = read_table(str(tmp_path / "diff"))
    assert sorted(df.columns) == ["city", "id", "name"]
    assert len(df) == 2


def test_mltable_same_headers_rejects_different_columns(tmp_path: Path) -> None:
    write(tmp_path / "1.csv", "id,name\n1,a\n")
    write(tmp_path / "2.csv", "id,city\n2,x\n")
    mltable(tmp_path, "paths: [{pattern: ./*.csv}]\ntransformations: [read_delimited]\n")
    with pytest.raises(InvalidInputError, match=r"different columns.*2\.csv"):
        read_table(str(tmp_path))


def test_mltable_delimited_options(tmp_path: Path) -> None:
    write(tmp_path / "a.csv", "name,city\nJosé,\nAna,Lyon\n", encoding="latin-1")
    mltable(
        tmp_path,
        """
        paths: [{file: ./a.csv}]
        transformations:
          - read_delimited:
              encoding: latin1
              empty_as_string: true
              include_path_column: true
        """,
    )
    df = read_table(str(tmp_path))
    assert df["name"].tolist() == ["José", "Ana"]
    assert df["city"].tolist() == ["", "Lyon"]
    assert df["Path"].tolist() == ["./a.csv", "./a.csv"]


def test_mltable_parquet_and_json_lines(tmp_path: Path) -> None:
    pq = tmp_path / "pq"
    pq.mkdir()
    FRAME.head(2).to_parquet(pq / "a.parquet")
    FRAME.tail(1).to_parquet(pq / "b.parquet")
    mltable(pq, "paths: [{pattern: ./*.parquet}]\ntransformations: [{read_parquet: {}}]\n")
    same(read_table(str(pq)), FRAME)

    jl = tmp_path / "jl"
    write(jl / "a.jsonl", '{"id": 1, "name": "ann"}\nnot json\n{"id": 2, "name": "bob"}\n')
    mltable(
        jl,
        "paths: [{file: ./a.jsonl}]\ntransformations:\n"
        "  - read_json_lines: {invalid_lines: drop}\n",
    )
    assert read_table(str(jl)).to_dict("list") == {"id": [1, 2], "name": ["ann", "bob"]}
    mltable(jl, "paths: [{file: ./a.jsonl}]\ntransformations: [{read_json_lines: {}}]\n")
    with pytest.raises(InvalidInputError, match=r"a\.jsonl"):
        read_table(str(jl))


def test_mltable_without_read_transformation_reads_by_extension(tmp_path: Path) -> None:
    FRAME.head(1).to_parquet(tmp_path / "a.parquet")
    write(tmp_path / "b.csv", "id,name,score\n2,bob,1.5\n3,cy,2.5\n")
    mltable(tmp_path, "paths:\n  - file: ./a.parquet\n  - file: ./b.csv\n")
    same(read_table(str(tmp_path)), FRAME)


def test_mltable_transformations(tmp_path: Path) -> None:
    write(
        tmp_path / "a.csv",
        "id,flag,when,price,code,extra\n"
        "1,yes,2024-01-02,1.5,7,x\n"
        "2,no,2024-02-03,2,8,y\n"
        "3,,2024-03-04,,9,z\n"
        "4,yes,2024-04-05,4.25,10,w\n",
    )
    mltable(
        tmp_path,
        """
        type: mltable
        paths:
          - file: ./a.csv
        transformations:
          - read_delimited:
              delimiter: ','
              header: all_files_same_headers
          - skip: 1
          - take: 3
          - drop_columns: extra
          - keep_columns: [code, id, flag, when, price]
          - convert_column_types:
              - columns: [id, price]
                column_type: float
              - columns: code
                column_type: string
              - columns: flag
                column_type: boolean
              - columns: when
                column_type:
                  datetime:
                    formats: ['%Y-%m-%d']
        """,
    )
    df = read_table(str(tmp_path))
    assert list(df.columns) == ["code", "id", "flag", "when", "price"]
    assert df["id"].tolist() == [2.0, 3.0, 4.0]
    assert df["id"].dtype == np.float64
    assert df["code"].tolist() == ["8", "9", "10"]
    assert str(df["flag"].dtype) == "boolean"
    assert df["flag"].astype(object).where(df["flag"].notna(), None).tolist() == [False, None, True]
    assert pd.api.types.is_datetime64_any_dtype(df["when"])
    assert df["when"].dt.month.tolist() == [2, 3, 4]
    assert df["price"].isna().tolist() == [False, True, False]


def test_mltable_int_conversion_and_its_failures(tmp_path: Path) -> None:
    write(tmp_path / "a.csv", "n,s\n1,a\n,b\n3,c\n")
    body = "paths: [{file: ./a.csv}]\ntransformations:\n  - read_delimited: {}\n"
    mltable(
        body=body + "  - convert_column_types: [{columns: n, column_type: int}]\n", folder=tmp_path
    )
    df = read_table(str(tmp_path))
    assert str(df["n"].dtype) == "Int64"
    assert df["n"].tolist()[0] == 1 and df["n"].isna().tolist() == [False, True, False]

    mltable(tmp_path, body + "  - convert_column_types: [{columns: s, column_type: int}]\n")
    with pytest.raises(InvalidInputError) as info:
        read_table(str(tmp_path))
    message = str(info.value)
    assert "transformations[1].convert_column_types[0]" in message
    assert "'s'" in message and "'a' is not a number" in message


def test_mltable_random_sample_is_reproducible(tmp_path: Path) -> None:
    pd.DataFrame({"x": range(1000)}).to_parquet(tmp_path / "a.parquet")
    mltable(
        tmp_path,
        "paths: [{file: ./a.parquet}]\ntransformations:\n"
        "  - read_parquet: {}\n  - take_random_sample: {probability: 0.1, seed: 7}\n",
    )
    first, second = read_table(str(tmp_path)), read_table(str(tmp_path))
    same(first, second)
    assert 50 < len(first) < 150
    assert first["x"].is_monotonic_increasing


def test_plain_file_as_mltable_reads_like_uri_file(tmp_path: Path) -> None:
    path = write(tmp_path / "a.csv", "id,name,score\n1,ann,0.5\n2,bob,1.5\n3,cy,2.5\n")
    same(read_table(str(path), "mltable"), FRAME)
    same(read_table(path), FRAME)  # a pathlib.Path works too


def test_folder_without_mltable_file_is_not_an_mltable(tmp_path: Path) -> None:
    write(tmp_path / "a.csv", "x\n1\n")
    with pytest.raises(InvalidInputError, match="has no MLTable file"):
        read_table(str(tmp_path), "mltable")


def test_mltable_spec_errors_come_before_missing_files(tmp_path: Path) -> None:
    mltable(
        tmp_path,
        "paths: [{file: ./missing.csv}]\n"
        "transformations: [{read_delimited: {empty_as_string: maybe}}]\n",
    )
    with pytest.raises(SpecError, match=r"read_delimited\.empty_as_string: must be true or false"):
        read_table(str(tmp_path))


def test_mltable_takes_no_reading_options(tmp_path: Path) -> None:
    write(tmp_path / "a.csv", "x\n1\n")
    mltable(tmp_path, "paths: [{file: ./a.csv}]\n")
    with pytest.raises(InvalidInputError, match="delimiter"):
        read_table(str(tmp_path), delimiter=";")


@pytest.mark.parametrize(
    ("body", "error", "expected"),
    [
        ("paths: [{file: ./a.csv}\n", SpecError, ["MLTable:2", "invalid YAML"]),
        ("- file: ./a.csv\n", SpecError, ["MLTable", "mapping", "list"]),
        ("type: mltable\n", SpecError, ["paths", "required"]),
        ("paths: ./a.csv\n", SpecError, ["paths", "non-empty list"]),
        ("paths: [{file: ./a.csv, folder: .}]\n", SpecError, ["paths[0]", "exactly one"]),
        ("paths: [{url: ./a.csv}]\n", SpecError, ["paths[0]", "'url'"]),
        ("paths: [{file: ../a.csv}]\n", SpecError, ["paths[0].file", "outside"]),
        ("paths: [{file: /etc/passwd}]\n", SpecError, ["paths[0].file", "absolute"]),
        ("paths: [{file: azureml://x/y}]\n", SpecError, ["paths[0].file", "cannot be read here"]),
        ("paths: [{file: ./nope.csv}]\n", NotFoundError, ["paths[0].file", "nope.csv"]),
        ("paths: [{folder: ./nope}]\n", NotFoundError, ["paths[0].folder", "nope"]),
        ("paths: [{pattern: ./*.parquet}]\n", InvalidInputError, ["matched no readable file"]),
        (
            "paths: [{file: ./a.csv}]\ntransformations: {take: 1}\n",
            SpecError,
            ["transformations", "list"],
        ),
        (
            "paths: [{file: ./a.csv}]\ntransformations: [{read_delimited: {header: yes_header}}]\n",
            SpecError,
            ["transformations[0].read_delimited.header", "no_header"],
        ),
        (
            "paths: [{file: ./a.csv}]\ntransformations: [{read_delimited: {sep: ';'}}]\n",
            SpecError,
            ["transformations[0].read_delimited.sep", "unknown option", "delimiter"],
        ),
        (
            "paths: [{file: ./a.csv}]\ntransformations: [{read_delimited: {encoding: klingon}}]\n",
            SpecError,
            ["transformations[0].read_delimited.encoding", "klingon", "utf8"],
        ),
        (
            "paths: [{file: ./a.csv}]\ntransformations: [{take: 1}, {frobnicate: 2}]\n",
            SpecError,
            ["transformations[1].frobnicate", "unknown transformation", "read_delimited"],
        ),
        (
            "paths: [{file: ./a.csv}]\ntransformations: [{take: 1}, {read_delimited: {}}]\n",
            SpecError,
            ["transformations[1].read_delimited", "first"],
        ),
        (
            "paths: [{file: ./a.csv}]\ntransformations: [{take: -1}]\n",
            SpecError,
            ["transformations[0].take", "non-negative integer", "-1"],
        ),
        (
            "paths: [{file: ./a.csv}]\ntransformations: [{drop_columns: [x, zz]}]\n",
            SpecError,
            ["transformations[0].drop_columns", "'zz'", "columns are: x, y"],
        ),
        (
            "paths: [{file: ./a.csv}]\ntransformations:\n"
            "  - convert_column_types: [{columns: x, column_type: decimal}]\n",
            SpecError,
            ["convert_column_types[0].column_type", "int, float, boolean, string, datetime"],
        ),
        (
            "paths: [{file: ./a.csv}]\ntransformations:\n"
            "  - convert_column_types: [{columns: y, column_type: boolean}]\n",
            InvalidInputError,
            ["column 'y'", "'q' is not a known true/false value"],
        ),
    ],
)
def test_malformed_mltable_messages(
    tmp_path: Path, body: str, error: type[Exception], expected: list[str]
) -> None:
    write(tmp_path / "a.csv", "x,y\n1,q\n")
    mltable(tmp_path, body)
    with pytest.raises(error) as info:
        read_table(str(tmp_path))
    for text in expected:
        assert text in str(info.value)


# -------------------------------------------------------------------------- writing MLTables


def test_write_mltable_for_csv_files_is_azure_shaped(tmp_path: Path) -> None:
    write(tmp_path / "a.csv", "id,name,score\n1,ann,0.5\n")
    write(tmp_path / "more" / "b.csv", "id,name,score\n2,bob,1.5\n3,cy,2.5\n")
    target = write_mltable(str(tmp_path), ["a.csv", str(tmp_path / "more" / "b.csv")])
    assert target == os.path.join(str(tmp_path), "MLTable")
    doc = yaml.safe_load(Path(target).read_text())
    assert doc["type"] == "mltable"
    assert doc["$schema"].endswith("/MLTable.schema.json")
    assert doc["paths"] == [{"file": "./a.csv"}, {"file": "./more/b.csv"}]
    assert doc["transformations"] == [
        {
            "read_delimited": {
                "delimiter": ",",
                "header": "all_files_same_headers",
                "encoding": "utf8",
                "empty_as_string": False,
            }
        }
    ]
    same(read_table(str(tmp_path)), FRAME)


def test_write_mltable_tsv_parquet_and_mixed(tmp_path: Path) -> None:
    tsv = tmp_path / "tsv"
    write(tsv / "a.tsv", "id\tname\tscore\n1\tann\t0.5\n2\tbob\t1.5\n3\tcy\t2.5\n")
    doc = yaml.safe_load(Path(write_mltable(str(tsv), ["a.tsv"])).read_text())
    assert doc["transformations"][0]["read_delimited"]["delimiter"] == "\t"
    same(read_table(str(tsv)), FRAME)

    semi = tmp_path / "semi"
    write(semi / "a.csv", "id;name;score\n1;ann;0.5\n2;bob;1.5\n3;cy;2.5\n")
    write_mltable(str(semi), ["a.csv"], delimiter=";")
    same(read_table(str(semi)), FRAME)

    pq = tmp_path / "pq"
    pq.mkdir()
    FRAME.to_parquet(pq / "a.parquet")
    doc = yaml.safe_load(Path(write_mltable(str(pq), ["a.parquet"])).read_text())
    assert list(doc["transformations"][0]) == ["read_parquet"]
    same(read_table(str(pq)), FRAME)

    mixed = tmp_path / "mixed"
    mixed.mkdir()
    FRAME.head(1).to_parquet(mixed / "a.parquet")
    (mixed / "b.json").write_text(FRAME.tail(2).to_json(orient="records"))
    doc = yaml.safe_load(Path(write_mltable(str(mixed), ["a.parquet", "b.json"])).read_text())
    assert "transformations" not in doc
    same(read_table(str(mixed)), FRAME)


def test_write_mltable_errors(tmp_path: Path) -> None:
    write(tmp_path / "outside.csv", "x\n1\n")
    folder = tmp_path / "t"
    write(folder / "notes.md", "x")
    with pytest.raises(InvalidInputError, match="at least one file"):
        write_mltable(str(folder), [])
    with pytest.raises(InvalidPathError, match="not inside folder"):
        write_mltable(str(folder), ["../outside.csv"])
    with pytest.raises(NotFoundError, match=r"nope\.csv"):
        write_mltable(str(folder), ["nope.csv"])
    with pytest.raises(InvalidInputError, match=r"notes\.md.*Supported"):
        write_mltable(str(folder), ["notes.md"])
    with pytest.raises(NotFoundError, match="does not exist"):
        write_mltable(str(tmp_path / "missing"), ["a.csv"])


def test_dataframe_to_files_round_trips(tmp_path: Path) -> None:
    df = pd.DataFrame(
        {
            "i": [1, 2, 3],
            "f": [0.5, np.nan, 2.0],
            "s": ["a", None, "c"],
            "b": [True, False, True],
            "t": pd.to_datetime(["2024-01-01", "2024-01-02", None]),
        }
    )
    files = dataframe_to_files(df, str(tmp_path / "out"))
    assert [os.path.basename(f) for f in files] == ["data.parquet", "MLTable"]
    doc = yaml.safe_load(Path(files[1]).read_text())
    assert doc["paths"] == [{"file": "./data.parquet"}]
    assert list(doc["transformations"][0]) == ["read_parquet"]
    pd.testing.assert_frame_equal(read_table(str(tmp_path / "out")), df, check_dtype=False)


def test_dataframe_to_files_column_names(tmp_path: Path) -> None:
    got = dataframe_to_files(pd.DataFrame({0: [1], "a": [2]}), str(tmp_path / "x"))
    assert list(read_table(os.path.dirname(got[0])).columns) == ["0", "a"]
    dup = pd.DataFrame([[1, 2]], columns=["a", "a"])
    with pytest.raises(InvalidInputError, match=r"duplicate column names \['a'\]"):
        dataframe_to_files(dup, str(tmp_path / "y"))
    with pytest.raises(InvalidInputError, match="Could not write the DataFrame as Parquet"):
        dataframe_to_files(pd.DataFrame({"c": [1 + 2j]}), str(tmp_path / "c"))
    mixed = pd.DataFrame({"m": [1, "two", 3.0]})
    with pytest.raises(InvalidInputError, match="Could not write the DataFrame as Parquet"):
        dataframe_to_files(mixed, str(tmp_path / "z"))
    assert not (tmp_path / "z" / "data.parquet").exists()
    with pytest.raises(InvalidInputError, match="expects a pandas DataFrame"):
        dataframe_to_files([1, 2], str(tmp_path / "w"))  # type: ignore[arg-type]
