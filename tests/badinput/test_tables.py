"""Bad CSV and Parquet tables: a malformed row is one reject with its row number; a column problem
is named as such, with every row accounted for."""

from __future__ import annotations

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hostile import run_import
from labelloop.components.core import import_data, sources

HEADER = b"size,colour,target\n"
GOOD = [b"1,red,yes\n", b"2,blue,no\n", b"3,red,no\n"]


def table(tmp_path, data: bytes, name="t.csv") -> str:
    path = tmp_path / name
    path.write_bytes(data)
    return str(path)


@pytest.mark.parametrize(
    "row, code",
    [
        (b"4,gr\xfcn,yes\n", "not_utf8"),
        (b"\xff\xfe,red,no\n", "not_utf8"),
        (b"4,red,yes,extra,more\n", "bad_row"),
        (b"4,red\n", "bad_row"),
        (b"4\n", "bad_row"),
        (b"4,red,\n", "null_target"),
        (b'4,"red, dark",yes\n', None),
        (b'4,"two\nlines",yes\n', None),
        (b'4,"say ""hi""",yes\n', None),
        (b"4,\xe6\x97\xa5\xe6\x9c\xac,yes\n", None),
    ],
)
def test_one_bad_row_is_one_reject_with_its_row_number(tmp_path, row, code):
    source = table(tmp_path, HEADER + GOOD[0] + row + GOOD[1] + GOOD[2])
    outcome = run_import(tmp_path, source, "tabular", inputs=4, target_column="target")
    assert outcome.codes == ({2: code} if code else {})
    kept_sizes = [r["size"] for r in outcome.kept]
    assert kept_sizes == ([1, 2, 3] if code else [1, 4, 2, 3])


def test_rows_after_many_bad_rows_keep_their_numbers(tmp_path):
    rows = [b"%d,red,yes\n" % n for n in range(1, 3001)]
    rows[9] = b"10,red\n"
    rows[1999] = b"2000,\xff,yes\n"
    rows[2999] = b"3000,red,yes,x\n"
    outcome = run_import(
        tmp_path, table(tmp_path, HEADER + b"".join(rows)), "tabular", inputs=3000, target_column="target"
    )
    assert outcome.codes == {10: "bad_row", 2000: "not_utf8", 3000: "bad_row"}


def test_a_bom_before_the_header_is_not_part_of_the_first_name(tmp_path):
    outcome = run_import(
        tmp_path, table(tmp_path, b"\xef\xbb\xbf" + HEADER + GOOD[0]), "tabular", inputs=1, target_column="target"
    )
    assert outcome.codes == {} and list(outcome.kept[0])[:3] == ["size", "colour", "target"]


def columns_case(header: bytes, rows: int = 1200) -> bytes:
    width = header.count(b",") + 1
    return header + b"".join(b",".join([b"%d" % n] * width) + b"\n" for n in range(rows))


@pytest.mark.parametrize(
    "header, target, cause",
    [
        (b"size,colour\n", "target", "target_column 'target' is not a column"),
        (b"only\n", "", "1 columns (besides ml_use)"),
        (b",".join(b"c%d" % n for n in range(1002)) + b"\n", "", "1002 columns (besides ml_use)"),
        (b"my col,other\n", "", "column names ['my col']"),
        (b"_hidden,other\n", "", "column names ['_hidden']"),
        (b"a,a\n", "", "appear more than once"),
        (b"a,labelloop_id\n", "", "reserved for labelloop's item id"),
    ],
)
def test_a_column_problem_names_the_cause_and_rejects_every_row(tmp_path, header, target, cause):
    outcome = run_import(tmp_path, table(tmp_path, columns_case(header)), "tabular", inputs=1200, target_column=target)
    assert outcome.result.kept == 0 and set(outcome.codes.values()) == {"bad_columns"}
    assert cause in outcome.summary and "nothing valid remains" not in outcome.summary
    assert sorted(outcome.codes) == list(range(1, 1201))


@pytest.mark.parametrize(
    "rows, code",
    [
        (b"1,red,yes,training\n", None),
        (b"1,red,yes,train\n", "bad_ml_use"),
        (b"1,red,yes,\n", "bad_ml_use"),
    ],
)
def test_ml_use_values_are_checked(tmp_path, rows, code):
    outcome = run_import(
        tmp_path, table(tmp_path, b"size,colour,target,ml_use\n" + rows), "tabular", inputs=1, target_column="target"
    )
    assert outcome.codes == ({1: code} if code else {})


@pytest.mark.parametrize(
    "weight, code", [(b"1.5", None), (b"-1", "bad_weight"), (b"10001", "bad_weight"), (b"heavy", "bad_weight")]
)
def test_weights_are_checked(tmp_path, weight, code):
    source = table(tmp_path, b"size,colour,target,w\n1,red,yes," + weight + b"\n")
    outcome = run_import(tmp_path, source, "tabular", inputs=1, target_column="target", weight_column="w")
    assert outcome.codes == ({1: code} if code else {})


@pytest.mark.parametrize("data, match", [(b"", "no header"), (b"\xff\xfe\x00a\n1\n", "header line is not UTF-8")])
def test_a_table_without_a_readable_header_is_a_source_error(tmp_path, data, match):
    with pytest.raises(sources.SourceError, match=match):
        import_data.import_items(
            import_data.options_from(table(tmp_path, data), "tabular"),
            str(tmp_path / "i"),
            str(tmp_path / "r"),
            step="import_dataset",
        )


def test_a_header_only_table_fails_with_nothing_to_import(tmp_path):
    outcome = run_import(tmp_path, table(tmp_path, HEADER), "tabular", inputs=0, target_column="target")
    assert "nothing valid remains of 0 input item(s)" in outcome.summary


def test_parquet_with_bad_column_names_rejects_every_row(tmp_path):
    pq.write_table(pa.table({"bad name": [1, 2, 3], "y": ["a", "b", "c"]}), tmp_path / "t.parquet")
    outcome = run_import(tmp_path, str(tmp_path / "t.parquet"), "tabular", inputs=3)
    assert outcome.codes == {1: "bad_columns", 2: "bad_columns", 3: "bad_columns"}


@pytest.mark.parametrize(
    "data", [b"PAR1garbage", b"", b"PAR1" + b"\0" * 64 + b"PAR1"], ids=["garbage", "empty", "hollow"]
)
def test_a_corrupt_parquet_is_a_source_error_naming_it(tmp_path, data):
    path = table(tmp_path, data, name="t.parquet")
    with pytest.raises(sources.SourceError, match="t.parquet"):
        import_data.import_items(
            import_data.options_from(path, "tabular"), str(tmp_path / "i"), str(tmp_path / "r"), step="import_dataset"
        )


def test_a_semicolon_separated_file_gets_a_hint(tmp_path):
    outcome = run_import(tmp_path, table(tmp_path, b"a;b;target\n1;2;yes\n"), "tabular", inputs=1)
    assert "separated by something other than commas" in outcome.summary
