"""Tabular rules: column rules fail the table, row rules reject rows, stats and issues."""

from __future__ import annotations

import pyarrow as pa
import pytest
from labelloop.components.core import tabular as t
from labelloop.components.core.manifest import ID_KEY


def run(table: pa.Table, rules: t.TableRules, batch_rows: int = 3):
    stats = t.TableStats()
    kept, problems = [], []
    for batch_kept, batch_problems in t.check_table(
        table.schema, table.to_batches(max_chunksize=batch_rows), rules, stats
    ):
        kept.append(batch_kept)
        problems += batch_problems
    return pa.Table.from_batches(kept) if kept else None, problems, stats


@pytest.mark.parametrize(
    ("columns", "rules", "message"),
    [
        ({"only": ["a"]}, t.TableRules(), "Vertex needs 2 to 1000"),
        ({f"c{i}": [1] for i in range(1001)}, t.TableRules(), "Vertex needs 2 to 1000"),
        ({"_hidden": [1], "b": [2]}, t.TableRules(), "not start with '_'"),
        ({"a-b": [1], "b": [2]}, t.TableRules(), "only letters, digits and '_'"),
        ({"a": [1], "b": [2]}, t.TableRules(target_column="y"), "target_column 'y' is not a column"),
        ({"a": [1], "b": [2]}, t.TableRules(weight_column="w"), "weight_column 'w' is not a column"),
        ({"a": [1], "w": [[1]]}, t.TableRules(weight_column="w"), "it must be numeric"),
        ({"a": [1], ID_KEY: ["x"]}, t.TableRules(), "reserved"),
    ],
)
def test_column_rules_fail_the_whole_table(columns, rules, message):
    with pytest.raises(t.TabularSchemaError, match=message):
        run(pa.table(columns), rules)


def test_row_rules_reject_rows_with_row_numbers_and_values():
    table = pa.table(
        {
            "x": ["1", "2", "3", "4", "5", "6", "7"],
            "y": ["a", None, "b", "a", "zzz", "b", "a"],
            "w": ["1", "2", "-1", "abc", "3", "10001", "10000"],
            "ml_use": ["training", "test", "training", "validation", "test", "training", "train"],
        }
    )
    kept, problems, stats = run(table, t.TableRules("y", "w", ("a", "b")))
    assert [(p.row, p.code) for p in problems] == [
        (2, "null_target"),
        (3, "bad_weight"),
        (4, "bad_weight"),
        (5, "unknown_label"),
        (6, "bad_weight"),
        (7, "bad_ml_use"),
    ]
    assert problems[0].record == {"x": "2", "y": None, "w": "2", "ml_use": "test"} and "row 2" in problems[0].reason
    assert kept.column("x").to_pylist() == ["1"] and kept.column_names[-1] == ID_KEY
    assert (
        stats.total == 7
        and stats.kept == 1
        and stats.label_counts == {"a": 1}
        and stats.split_counts == {"training": 1}
    )


def test_row_ids_are_content_ids_ignoring_the_split():
    a = pa.record_batch({"x": [1, 1, 2], "ml_use": ["training", "test", "training"]})
    ids = t.row_ids(a)
    assert ids[0] == ids[1] != ids[2] and all(len(i) == 32 for i in ids)


def test_categorical_cardinality_and_row_count_issues():
    rows = 30
    table = pa.table(
        {
            "constant": ["same"] * rows,  # 1 distinct: flagged
            "numeric_text": [str(i) for i in range(rows)],  # numbers read from CSV: not categorical
            "color": ["red", "blue", "green"] * 10,  # fine
            "y": ["a", "b"] * 15,
        }
    )
    _, problems, stats = run(table, t.TableRules("y"), batch_rows=7)
    codes = {i.code: i for i in t.dataset_issues(stats)}
    assert problems == [] and set(codes) == {"too_few_rows", "categorical_cardinality"}
    assert "constant (1)" in codes["categorical_cardinality"].message
    assert (
        "numeric_text" not in codes["categorical_cardinality"].message
        and "color" not in codes["categorical_cardinality"].message
    )


def test_too_many_categories_is_flagged():
    stats = t.TableStats(kept=2000, categories={"c": set(range(t.MAX_CATEGORIES + 1))}, textual={"c"})
    (issue,) = t.dataset_issues(stats)
    assert issue.code == "categorical_cardinality" and ">500" in issue.message


def test_unlabeled_table_needs_no_target_and_counts_unassigned_splits():
    kept, problems, stats = run(pa.table({"a": [1, 2], "b": [3.0, None]}), t.TableRules())
    assert problems == [] and kept.num_rows == 2 and stats.split_counts == {"(none)": 2} and stats.label_counts == {}
