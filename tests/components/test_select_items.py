"""select_items through .python_func, plus a kfp.local run of a cold start then a model-driven round."""

import numpy as np
import pytest
from kfp import dsl
from labelloop.components.core import manifest
from labelloop.components.select_items import select_items


def write_pool(path, n, labeled=()):
    records = []
    for i in range(n):
        record = {"textContent": f"doc {i}", "dataItemResourceLabels": {manifest.ID_KEY: f"id{i}"}, "keep": i}
        records.append(manifest.with_label(record, "a", source="human") if i in labeled else record)
    manifest.write_jsonl(str(path), records)


def write_predictions(folder, ids, probabilities):
    folder.mkdir(parents=True, exist_ok=True)
    np.save(folder / "probabilities.npy", np.asarray(probabilities, dtype=np.float32))
    (folder / "ids.txt").write_text("".join(f"{i}\n" for i in ids))
    (folder / "classes.txt").write_text("a\nb\nc\n")


def artifact(tmp_path, name):
    return dsl.Dataset(name=name, uri=str(tmp_path / name), metadata={})


def ids_of(path):
    return [manifest.item_id(r) for r in manifest.read_jsonl(path)]


def test_margin_picks_the_expected_items_and_keeps_everything_else(tmp_path):
    write_pool(tmp_path / "pool", 5)
    probabilities = [[0.9, 0.05, 0.05], [0.5, 0.45, 0.05], [0.4, 0.3, 0.3], [0.34, 0.33, 0.33], [0.7, 0.2, 0.1]]
    # predictions in a different order, with an extra (already labeled) item
    order = [4, 3, 2, 1, 0]
    write_predictions(
        tmp_path / "pred", [f"id{i}" for i in order] + ["gone"], [probabilities[i] for i in order] + [[1, 0, 0]]
    )
    selected, remaining = artifact(tmp_path, "selected"), artifact(tmp_path, "remaining")
    select_items.python_func(
        items=artifact(tmp_path, "pool"),
        predictions=artifact(tmp_path, "pred"),
        embeddings=None,
        selected=selected,
        remaining=remaining,
        strategy="margin",
        batch_size=2,
        seed=0,
        labeled_count=0,
        stratify_field="",
    )
    chosen = list(manifest.read_jsonl(selected.path))
    assert sorted(ids_of(selected.path)) == ["id1", "id3"]
    assert {manifest.item_id(r): manifest.extra_of(r)["selection_rank"] for r in chosen} == {"id3": 0, "id1": 1}
    assert ids_of(remaining.path) == ["id0", "id2", "id4"]
    assert chosen[0]["keep"] in (1, 3)  # unknown fields carried through
    assert selected.metadata["item_count"] == 2 and not selected.metadata["exhausted"]


def test_cold_start_without_predictions_and_an_exhausted_pool(tmp_path):
    write_pool(tmp_path / "pool", 3)
    selected, remaining = artifact(tmp_path, "selected"), artifact(tmp_path, "remaining")
    select_items.python_func(
        items=artifact(tmp_path, "pool"),
        predictions=None,
        embeddings=None,
        selected=selected,
        remaining=remaining,
        strategy="UNCERTAINTY",
        batch_size=10,
        seed=0,
        labeled_count=0,
        stratify_field="",
    )
    assert sorted(ids_of(selected.path)) == ["id0", "id1", "id2"] and ids_of(remaining.path) == []
    assert selected.metadata["exhausted"]


def test_bad_inputs_fail_with_the_item_named(tmp_path):
    write_pool(tmp_path / "pool", 3, labeled=(1,))
    common = dict(
        predictions=None, embeddings=None, strategy="margin", batch_size=1, seed=0, labeled_count=0, stratify_field=""
    )
    with pytest.raises(ValueError, match="pool:2: item id1 is already labeled"):
        select_items.python_func(
            items=artifact(tmp_path, "pool"),
            selected=artifact(tmp_path, "s"),
            remaining=artifact(tmp_path, "r"),
            **common,
        )
    write_pool(tmp_path / "pool", 3)
    write_predictions(tmp_path / "pred", ["id0", "id1"], [[1, 0, 0], [0.5, 0.5, 0]])
    common["predictions"] = artifact(tmp_path, "pred")
    with pytest.raises(KeyError, match=r"1 pool item\(s\) have no prediction, e.g. \['id2'\]"):
        select_items.python_func(
            items=artifact(tmp_path, "pool"),
            selected=artifact(tmp_path, "s"),
            remaining=artifact(tmp_path, "r"),
            **common,
        )
    write_predictions(tmp_path / "pred", ["id0", "id1", "id2"], [[1, 0, 0], [0.5, 0.6, 0], [0.2, 0.2, 0.6]])
    with pytest.raises(ValueError, match="probabilities of item 'id1'"):
        select_items.python_func(
            items=artifact(tmp_path, "pool"),
            selected=artifact(tmp_path, "s"),
            remaining=artifact(tmp_path, "r"),
            **common,
        )
    assert not (tmp_path / "s").exists()  # nothing half-written


@dsl.component(base_image="python:3.11", install_kfp_package=False)
def make_pool(pool: dsl.Output[dsl.Dataset], predictions: dsl.Output[dsl.Dataset]):
    import os

    import numpy as np
    from labelloop.components.core import manifest

    manifest.write_jsonl(
        pool.path, ({"textContent": f"d{i}", "dataItemResourceLabels": {"labelloop_id": f"id{i}"}} for i in range(20))
    )
    os.makedirs(predictions.path)
    rows = np.full((20, 2), [0.9, 0.1], dtype=np.float32)
    rows[[3, 7, 11]] = [0.55, 0.45]
    np.save(os.path.join(predictions.path, "probabilities.npy"), rows)
    with open(os.path.join(predictions.path, "ids.txt"), "w") as handle:
        handle.write("".join(f"id{i}\n" for i in range(20)))


@pytest.mark.slow
def test_kfp_local_run(tmp_path):
    from kfp import local

    local.init(runner=local.SubprocessRunner(use_venv=False), pipeline_root=str(tmp_path))

    @dsl.pipeline
    def two_rounds() -> dsl.Dataset:
        made = make_pool()
        first = select_items(
            items=made.outputs["pool"], predictions=made.outputs["predictions"], batch_size=2, strategy="margin"
        )
        second = select_items(
            items=first.outputs["remaining"], predictions=made.outputs["predictions"], batch_size=1, strategy="margin"
        )
        return second.outputs["selected"]

    result = two_rounds()
    selected = result.output if hasattr(result, "output") else result
    picked = ids_of(selected.path)
    assert len(picked) == 1 and picked[0] in {"id3", "id7", "id11"}


def test_uncertainty_without_embeddings_clusters_the_candidates_on_text_features(tmp_path):
    # the 10 most uncertain documents are copies of one text; the other candidates differ
    texts = ["the match ended in a late goal for the home side"] * 10 + [
        "shares fell after the bank reported a quarterly loss",
        "the new phone ships with a faster chip and a bigger screen",
        "parliament voted on the budget bill late on tuesday",
        "the film won the festival's top prize for its director",
    ]
    texts += [f"filler text number {i} about nothing much" for i in range(26)]
    records = [{"textContent": t, "dataItemResourceLabels": {manifest.ID_KEY: f"id{i}"}} for i, t in enumerate(texts)]
    manifest.write_jsonl(str(tmp_path / "pool"), records)
    margins = [0.01] * 10 + [0.02] * 4 + [0.9] * 26
    probabilities = [[(1 + m) / 2, (1 - m) / 2, 0.0] for m in margins]
    write_predictions(tmp_path / "pred", [f"id{i}" for i in range(40)], probabilities)
    picks = {}
    for strategy in ("margin", "UNCERTAINTY"):
        selected, remaining = artifact(tmp_path, f"s-{strategy}"), artifact(tmp_path, f"r-{strategy}")
        select_items.python_func(
            items=artifact(tmp_path, "pool"),
            predictions=artifact(tmp_path, "pred"),
            embeddings=None,
            selected=selected,
            remaining=remaining,
            strategy=strategy,
            batch_size=5,
            seed=0,
            labeled_count=0,
            stratify_field="",
        )
        picks[strategy] = {int(i[2:]) for i in ids_of(selected.path)}
    assert picks["margin"] <= set(range(10))  # five copies of one confusion
    assert len(picks["UNCERTAINTY"] & set(range(10))) == 1  # one slot for that confusion, four for others
    assert len(picks["UNCERTAINTY"]) == 5
