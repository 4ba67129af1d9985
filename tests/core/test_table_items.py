"""Table rows as JSONL row items: what the import writes, and that training reads the same table back."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from labelloop.components.core import import_data, table_items, train
from labelloop.components.core import manifest as mf
from labelloop.components.core.train import families

CSV = (
    "alcohol,magnesium,hue,region,code,grade,ml_use\n"
    "13.2,100,1.04,north,007,a,training\n"
    "12.1,,0.9,,12,b,training\n"
    "14.4,118,,south,abc,a,validation\n"
    "11.9,95,1.1,north,,b,test\n"
    "13.0,101,0.95,south,12,a,training\n"
    "12.5,99,1.0,north,3,b,training\n"
)


def imported(tmp_path, source, **options):
    options = {"allowed_uri_schemes": ["file"], "target_column": "grade", **options}
    out = tmp_path / ("items" if options.get("table_items") else "table")
    result = import_data.import_items(
        import_data.options_from(str(source), "tabular", **options), str(out), str(tmp_path / "rejects"), step="t"
    )
    return result, out


@pytest.fixture
def table(tmp_path):
    path = tmp_path / "rows.csv"
    path.write_text(CSV)
    return path


def test_rows_become_items_keeping_numbers_text_and_missing_cells(tmp_path, table):
    result, out = imported(tmp_path, table, table_items=True)
    assert result.output_format == "jsonl" and result.kept == 6 and result.label_counts == {"a": 3, "b": 3}
    records = list(mf.read_jsonl(str(out)))
    first, second = records[0], records[1]
    # numbers are numbers, text stays as written ("007"); the target is the label, ml_use the split
    assert first["tableRow"] == {"alcohol": 13.2, "magnesium": 100, "hue": 1.04, "region": "north", "code": "007"}
    assert mf.label_of(first) == "a" and mf.label_source_of(first) == "import" and mf.ml_use_of(first) == "training"
    assert second["tableRow"]["magnesium"] is None and second["tableRow"]["region"] is None  # missing stays missing
    assert records[2]["tableRow"]["code"] == "abc" and records[2]["tableRow"]["hue"] is None


def test_a_row_keeps_the_id_the_table_import_gives_it(tmp_path, table):
    (tmp_path / "a").mkdir()
    _, items = imported(tmp_path / "a", table, table_items=True)
    _, csv_out = imported(tmp_path, table)
    csv_ids = pd.read_csv(csv_out)[mf.ID_KEY].tolist()
    assert [mf.item_id(r) for r in mf.read_jsonl(str(items))] == csv_ids


def test_the_table_read_back_from_items_has_the_csv_column_types(tmp_path, table):
    (tmp_path / "a").mkdir()
    _, items = imported(tmp_path / "a", table, table_items=True)
    _, csv_out = imported(tmp_path, table)
    from_items, from_csv = train.read_table(str(items)), train.read_table(str(csv_out))
    features = ["alcohol", "magnesium", "hue", "region", "code"]
    pd.testing.assert_frame_equal(from_items[features], from_csv[features])
    assert from_items["magnesium"].dtype == np.float64 and np.isnan(from_items["magnesium"][1])
    assert from_items[table_items.TARGET_KEY].tolist() == from_csv["grade"].tolist()
    assert from_items["ml_use"].tolist() == from_csv["ml_use"].tolist()


def test_a_model_trained_from_row_items_is_the_model_trained_from_the_csv(tmp_path):
    rng = np.random.default_rng(3)
    n = 90
    frame = pd.DataFrame(
        {
            "x": rng.normal(size=n).round(4),
            "count": rng.integers(0, 50, n),
            "kind": rng.choice(["red", "white", "rose"], n),
        }
    )
    frame["label"] = np.where(frame["x"] + (frame["kind"] == "red") > 0.5, "high", "low")
    frame.loc[::7, "count"] = None  # missing numbers
    frame.loc[::11, "kind"] = None  # missing text
    frame["ml_use"] = rng.choice(["training", "training", "training", "validation", "test"], n)
    source = tmp_path / "rows.csv"
    frame.to_csv(source, index=False)
    outputs = {}
    for name, as_items in (("csv", False), ("items", True)):
        (tmp_path / name).mkdir()
        outputs[name] = str(imported(tmp_path / name, source, table_items=as_items, target_column="label")[1])
    from_csv = train.load_examples(outputs["csv"], "tabular_classification", target_column="label")
    from_items = train.load_examples(outputs["items"], "tabular_classification")
    assert from_items.spec == from_csv.spec and from_items.accounting == from_csv.accounting
    for use in ("training", "validation", "test"):
        a, b = getattr(from_csv, use), getattr(from_items, use)
        pd.testing.assert_frame_equal(a.inputs, b.inputs)
        assert a.targets == b.targets and np.array_equal(a.weights, b.weights)
    models = []
    for examples in (from_csv, from_items):
        estimator = families.build_estimator(
            "tabular_classification", examples.spec, "logistic", {"C": 1.0, "balanced": False}, seed=0
        )
        models.append(
            families.fit_estimator(estimator, examples.training.inputs, np.asarray(examples.training.targets), None)
            or estimator
        )
    probe = from_csv.test.inputs
    np.testing.assert_array_equal(models[0].predict_proba(probe), models[1].predict_proba(probe))


def test_items_that_are_not_rows_are_named(tmp_path):
    path = tmp_path / "items"
    mf.write_jsonl(str(path), [mf.with_id({"textContent": "hi"}, "t1")])
    with pytest.raises(train.TrainingError, match="t1.*tableRow"):
        train.load_examples(str(path), "tabular_classification")
