from labelloop.components.core import manifest as mf
from labelloop.components.core.pools import partition_manifest


def test_partition_accounts_for_every_item(tmp_path):
    records = []
    for i, (use, label) in enumerate(
        [("training", None), ("training", "a"), ("validation", None), ("test", "b"), ("test", None), (None, None)]
    ):
        record = mf.with_id({"textContent": f"t{i}"}, f"id{i}")
        record = mf.with_ml_use(record, use) if use else record
        records.append(mf.with_label(record, label, source="human") if label else record)
    mf.write_jsonl(str(tmp_path / "in.jsonl"), records)
    counts = partition_manifest(str(tmp_path / "in.jsonl"), str(tmp_path / "pool"), str(tmp_path / "eval"))
    assert (counts.total, counts.labeled, counts.pool, counts.evaluation_pending) == (6, 2, 2, 2)
    assert counts.labeled_pool == 1  # the labeled test item is not a label bought on the pool
    assert [mf.item_id(r) for r in mf.read_jsonl(str(tmp_path / "pool"))] == ["id0", "id5"]
    assert [mf.item_id(r) for r in mf.read_jsonl(str(tmp_path / "eval"))] == ["id2", "id4"]
