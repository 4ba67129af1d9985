from labelloop.components.core.run_report import markdown_page, markdown_to_html


def test_markdown_subset_renders_tables_lists_and_escapes_html():
    out = markdown_to_html("# Split\n\n| label | n |\n|---|---:|\n| a<b | 3 |\n\n- **kept** `12`\n\nplain <script>")
    assert "<h3>Split</h3>" in out
    assert "<tr><th>label</th><th>n</th></tr><tr><td>a&lt;b</td><td>3</td></tr>" in out
    assert "<li><b>kept</b> <code>12</code></li>" in out
    assert "&lt;script&gt;" in out and "<script>" not in out


def test_markdown_page_is_a_whole_page():
    page = markdown_page("Import <x>", "| a | b |")
    assert page.startswith("<!doctype html>") and "<h1>Import &lt;x&gt;</h1>" in page and "<th>a</th>" in page


# ---------------------------------------------------------------------------------------------
# The one-page visual report, on a real small run (digits PNGs with planted problems)

import base64  # noqa: E402
import io  # noqa: E402
import os  # noqa: E402
import re  # noqa: E402
import sys  # noqa: E402
from dataclasses import replace  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import pytest  # noqa: E402
from labelloop.components.core import manifest as mf  # noqa: E402
from labelloop.components.core import report_charts as charts  # noqa: E402
from labelloop.components.core import report_gallery as gallery  # noqa: E402
from labelloop.components.core import run_report as rr  # noqa: E402
from labelloop.components.core.active_learning import LearningCurve  # noqa: E402
from PIL import Image  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from run_report_data import build_scenario  # noqa: E402


@pytest.fixture(scope="module")
def scenario(tmp_path_factory):
    return build_scenario(str(tmp_path_factory.mktemp("run")))


@pytest.fixture(scope="module")
def report(scenario):
    return rr.build_run_report(scenario.inputs)


def _section(page: str, anchor: str) -> str:
    start = page.index(f'<section id="{anchor}">')
    return page[start : page.index("</section>", start)]


def _tiles(fragment: str) -> list[str]:
    return re.findall(r'<figure class="tile[^"]*">.*?</figure>', fragment)


def test_page_is_one_self_contained_file_without_iframes_or_local_paths(scenario, report):
    page = report.html
    assert "<iframe" not in page and "<script" not in page
    sources = re.findall(r'<img [^>]*src="([^"]+)"', page)
    assert sources and all(s.startswith(("data:image/png;base64,", "data:image/jpeg;base64,")) for s in sources)
    assert scenario.folder not in page and "/tmp/" not in page
    for source in sources:  # every embedded image decodes
        Image.open(io.BytesIO(base64.b64decode(source.split(",", 1)[1]))).verify()
    anchors = re.findall(r'<section id="(\w+)">', page)
    assert anchors == ["import", "prefilter", "split", "labeling", "learning", "machine", "evaluation", "gate"]


def test_duplicate_groups_show_kept_copy_beside_removed_copies_with_distance(scenario, report):
    rejects = rr.read_rejects(scenario.inputs.prefilter_rejects)
    duplicates = [e for e in rejects if e["reason_code"] in rr.DUPLICATE_CODES]
    assert duplicates, "the planted copies must have been removed"
    part = _section(report.html, "prefilter")
    groups = re.findall(r'<div class="group">(.*?)</div>(?=<div class="group">|</div><p)', part, re.S)
    assert groups
    kept_ids = {mf.item_id(r) for r in mf.read_jsonl(scenario.inputs.prefilter_kept)}
    for group in groups:
        tiles = _tiles(group)
        assert 'class="tile kept"' in tiles[0] and all('class="tile removed"' in t for t in tiles[1:])
        assert all("<img " in t for t in tiles), "kept and removed copies are real thumbnails"
        assert all(re.search(r"hash distance \d+", t) for t in tiles[1:])
        kept_title = re.search(r'<b title="([0-9a-f]+)"', tiles[0]).group(1)
        assert kept_title in kept_ids
    # the byte-identical copy comes first, at distance 0
    first = _tiles(groups[0])
    assert "exact duplicate" in first[1] and "hash distance 0" in first[1]


def test_blurry_rejects_are_shown_blurriest_first_with_scores(scenario, report):
    rejects = [e for e in rr.read_rejects(scenario.inputs.prefilter_rejects) if e["reason_code"] == "blurry"]
    part = _section(report.html, "prefilter")
    blurry = part[part.index("Blurry images") : part.index("Corrupt and unusable")]
    scores = [float(s) for s in re.findall(r"blur score ([0-9.]+)", blurry)]
    assert len(scores) == len(rejects) == 10
    assert scores == sorted(scores, reverse=True) and min(scores) >= 0.944


def test_corrupt_files_get_a_placeholder_tile_with_their_reason(scenario, report):
    part = _section(report.html, "prefilter")
    corrupt = part[part.index("Corrupt and unusable") :]
    tiles = _tiles(corrupt)
    assert len(tiles) == 1
    assert "<img" not in tiles[0] and 'class="placeholder"' in tiles[0]
    assert "corrupt-truncated.png" in tiles[0] and "truncated" in tiles[0]
    imported = _section(report.html, "import")
    assert len(_tiles(imported)) == 2 and "<img" not in imported
    assert "empty file" in imported and "not an image" in imported


def test_one_spend_figure_is_what_the_ledger_says(scenario, report):
    paid = sum(e.cost_usd for e in scenario.inputs.ledger)
    assert report.headline["labeling spend (USD)"] == round(paid, 2)
    amounts = [float(a.replace(",", "")) for a in re.findall(r"\$([0-9,]+\.\d\d)", report.html)]
    per_round = [round(e.cost_usd, 2) for e in scenario.inputs.ledger]
    assert sorted(amounts) == sorted([round(paid, 2)] * 2 + per_round)  # headline card + labeling sentence + rounds
    planned = {round(r.spend_total, 2) for run in scenario.inputs.learning_runs for r in run.records}
    assert not planned & (set(amounts) - {round(paid, 2)}), "the rounds' planned spend is not a second figure"


def test_labeling_quality_names_the_spammer_and_lists_items_to_review(scenario, report):
    part = _section(report.html, "labeling")
    rows = re.findall(r"<tr><td>(sim-\d+)</td><td>\d+</td><td>([0-9.]+)</td><td>([0-9.]+)</td>", part)
    estimates = {labeler: float(accuracy) for labeler, _, accuracy in rows}
    assert set(estimates) == {"sim-00", "sim-01", "sim-02", "sim-03"}
    assert min(estimates, key=estimates.get) == "sim-03"  # the spammer (the crowd puts spammers last)
    assert estimates["sim-03"] < 0.4 < min(v for k, v in estimates.items() if k != "sim-03")
    review = part[part.index("Items needing review") :]
    assert _tiles(review) and all("<img " in t and "votes " in t for t in _tiles(review))
    shares = []
    for tile in _tiles(review):
        votes = [int(n) for n in re.findall(r"×(\d+)", re.search(r"votes ([^<]+)", tile).group(1))]
        shares.append(max(votes) / sum(votes))
    assert shares == sorted(shares), "the most disputed items come first"


def test_learning_curves_compare_strategies_and_count_labels_saved(scenario, report):
    part = _section(report.html, "learning")
    assert part.count("<img ") == 1
    curves = {
        name: charts.mean_curve(
            name,
            [
                LearningCurve(
                    name, tuple(r.labels_total for r in run.records), tuple(r.metric_value for r in run.records)
                )
                for run in scenario.inputs.learning_runs
                if run.strategy == name
            ],
        )
        for name in ("margin", "random")
    }
    (saving,) = charts.compare_strategies(curves, metric_name="accuracy")
    assert saving.baseline_labels is not None and saving.strategy_labels is not None
    assert f"{saving.strategy_labels} human labels and random {saving.baseline_labels}" in part
    assert "2 seeds" not in part or curves["margin"].seeds == 2


def test_split_machine_labels_evaluation_and_gate(scenario, report):
    split = _section(report.html, "split")
    dataset = list(mf.read_jsonl(scenario.inputs.dataset))
    for use in mf.ML_USES:
        count = sum(1 for r in dataset if mf.ml_use_of(r) == use)
        assert f"<td>{use}</td><td>{count}</td>" in split
    machine = _section(report.html, "machine")
    confidences = [float(c) for c in re.findall(r"confidence ([0-9.]+)</span>", machine)]
    expected = sorted(
        round(mf.extra_of(r)["label_confidence"], 3) for r in dataset if mf.label_source_of(r) == "machine"
    )
    assert confidences == expected[: len(confidences)] and confidences
    assert f"<b>{scenario.inputs.machine_label_metrics['test_precision']:.3f}" in machine
    evaluation = _section(report.html, "evaluation")
    matrix = scenario.inputs.classification_metrics["confusionMatrix"]["rows"]
    cells = re.findall(r'<table class="cm">(.*?)</table>', evaluation)[0]
    shown = [int(v) for v in re.findall(r"<td[^>]*>(\d+)</td>", cells)]
    assert shown == [v for row in matrix for v in row["row"]]
    assert "Precision–recall" in evaluation and evaluation.count("<img ") == 1
    gate = _section(report.html, "gate")
    assert ("REFUSED" in gate) == (not scenario.inputs.blessed)
    assert gate.count('class="fail"') == sum(r.startswith("FAIL") for r in scenario.inputs.gate_reasons)


def test_missing_inputs_give_notes_not_failures():
    page = rr.build_run_report(rr.ReportInputs()).html
    assert page.count('<p class="muted">') >= 8 and "<img" not in page


# ---------------------------------------------------------------------------------------------
# Galleries and charts


def _png_file(path, array) -> str:
    Image.fromarray(array).save(path, format="PNG")
    return str(path)


def test_gallery_is_bounded_in_tiles_and_bytes(tmp_path):
    image = _png_file(tmp_path / "a.png", np.random.default_rng(0).integers(0, 255, (64, 64, 3), np.uint8))
    preview = gallery.image_preview(image, gallery.GalleryLimits())
    tiles = [gallery.Tile(preview, f"item{i}") for i in range(10)]
    few = gallery.bounded(tiles, gallery.GalleryLimits(tiles=4))
    assert len(few) == 4
    small = gallery.bounded(tiles, gallery.GalleryLimits(gallery_bytes=preview.size * 2 + 1))
    assert [bool(t.preview.data_uri) for t in small] == [True, True] + [False] * 8
    assert "size limit" in small[-1].preview.placeholder
    assert "… and 6 more" in gallery.gallery_html(few, more=6)


def test_thumbnails_upscale_tiny_images_and_never_fail_on_bad_files(tmp_path):
    limits = gallery.GalleryLimits(side=96, max_pixels=1_000_000)
    digit = _png_file(tmp_path / "d.png", (np.arange(64).reshape(8, 8) * 4).astype(np.uint8))
    data = base64.b64decode(gallery.image_preview(digit, limits).data_uri.split(",", 1)[1])
    assert Image.open(io.BytesIO(data)).size == (96, 96)
    (tmp_path / "bad.png").write_bytes(b"\x89PNG\r\n\x1a\n garbage")
    big = _png_file(tmp_path / "big.png", np.zeros((1200, 1000), np.uint8))
    for uri in (str(tmp_path / "bad.png"), str(tmp_path / "missing.png"), big):
        preview = gallery.image_preview(uri, limits)
        assert not preview.data_uri and preview.placeholder.startswith("cannot show")
    bomb = gallery.record_preview({"imageGcsUri": big}, limits, reason_code="decompression_bomb")
    assert bomb.placeholder == "decompression bomb"


def test_text_items_and_table_rows_get_snippets():
    limits = gallery.GalleryLimits(text_chars=40)
    text = gallery.record_preview({"textContent": "A  long\nreview " + "word " * 30}, limits)
    assert text.text.startswith("A long review word") and len(text.text) == 40 and text.text.endswith("…")
    row = gallery.record_preview(
        {"carat": 0.3, "cut": "Ideal", "dataItemResourceLabels": {"labelloop_id": "x"}}, limits
    )
    assert row.text == "carat=0.3, cut=Ideal"
    item = gallery.record_preview({"tableRow": {"carat": 0.3, "cut": None}, "labelloop": {"x": 1}}, limits)
    assert item.text == "carat=0.3, cut=None"  # a row item shows its columns
    html_text = gallery.tile_html(gallery.Tile(text, "x"))
    assert 'class="snippet"' in html_text and "<img" not in html_text


def test_text_rejects_show_as_snippets_in_the_report(tmp_path):
    path = str(tmp_path / "rejects.jsonl")
    with mf.RejectsWriter(path, "import_dataset") as writer:
        writer.reject(mf.with_id({"textContent": "<b>not bold</b> spam spam"}, "t1"), "too_short", "text too short")
    page = rr.build_run_report(rr.ReportInputs(import_rejects=path)).html
    part = _section(page, "import")
    assert 'class="snippet">&lt;b&gt;not bold&lt;/b&gt; spam spam</div>' in part and "too short" in part


@pytest.mark.gcs
def test_thumbnails_read_gs_images(gcs_prefix, tmp_path):
    import fsspec

    local = _png_file(tmp_path / "a.png", np.full((40, 40, 3), 200, np.uint8))
    uri = f"{gcs_prefix}/images/a.png"
    with fsspec.open(uri, "wb") as handle:
        handle.write(open(local, "rb").read())
    assert gallery.image_preview(uri, gallery.GalleryLimits()).data_uri.startswith("data:image/")


def test_mean_curve_over_seeds_with_different_label_counts():
    a = LearningCurve("margin", (10, 20, 30), (0.5, 0.7, 0.8))
    b = LearningCurve("margin", (10, 25, 30), (0.3, 0.6, 0.9))
    curve = charts.mean_curve("margin", [a, b])
    assert curve.labels == (10, 20, 25, 30) and curve.seeds == 2
    # seed b at 20 labels is interpolated between (10, 0.3) and (25, 0.6): 0.5
    assert curve.mean[1] == pytest.approx((0.7 + 0.5) / 2) and curve.low[0] == 0.3 and curve.high[3] == 0.9


def test_labels_saved_is_measured_against_random_sampling_final_value():
    curves = {
        "random": charts.mean_curve("random", [LearningCurve("random", (10, 20, 40, 80), (0.5, 0.6, 0.7, 0.8))]),
        "margin": charts.mean_curve("margin", [LearningCurve("margin", (10, 20, 40, 80), (0.5, 0.7, 0.82, 0.85))]),
        "entropy": charts.mean_curve("entropy", [LearningCurve("entropy", (10, 20), (0.5, 0.6))]),
    }
    margin, entropy = charts.compare_strategies(curves, metric_name="accuracy")
    assert (margin.target, margin.baseline_labels, margin.strategy_labels, margin.saved) == (0.8, 80, 40, 40)
    assert "40 labels (50%) fewer" in margin.sentence()
    assert entropy.strategy_labels is None and "never reached" in entropy.sentence()
    assert charts.compare_strategies({"margin": curves["margin"]}, metric_name="accuracy") == ()


def test_precision_recall_derived_from_roc_matches_direct_computation():
    from sklearn.metrics import precision_recall_curve, roc_curve

    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 400)
    scores = np.clip(y * 0.3 + rng.random(400) * 0.7, 0, 1)
    fpr, tpr, thresholds = roc_curve(y, scores, drop_intermediate=False)
    recall, precision = charts.precision_recall_from_roc(fpr, tpr, positives=int(y.sum()), negatives=int((1 - y).sum()))
    direct_p, direct_r, direct_t = precision_recall_curve(y, scores, drop_intermediate=False)
    by_threshold = dict(zip(direct_t, zip(direct_r, direct_p)))
    for t, r, p in zip(thresholds[1:], recall, precision):
        assert by_threshold[t] == pytest.approx((r, p))


def test_reasons_never_show_the_local_folder():
    entry = {"reason": "/data/x/a.png is empty", "record": {"imageGcsUri": "/data/x/a.png"}}
    assert rr.reason_text(entry) == "a.png is empty"
    assert rr.reason_text({"reason": "/d/b.png: cannot read", "record": {"imageGcsUri": "/d/b.png"}}) == "cannot read"


def test_thumbnail_limits_are_checked():
    with pytest.raises(ValueError, match="too small"):
        gallery.GalleryLimits(tiles=0)
    assert replace(gallery.GalleryLimits(), tiles=3).tiles == 3
    assert os.sep  # keeps the os import used on every platform


def test_rejects_are_sampled_in_one_bounded_pass(scenario):
    everything = rr.read_rejects(scenario.inputs.prefilter_rejects)
    sample = rr.sample_rejects(scenario.inputs.prefilter_rejects, tiles=2)
    codes = {}
    for entry in everything:
        codes[entry["reason_code"]] = codes.get(entry["reason_code"], 0) + 1
    assert sample.counts == dict(sorted(codes.items())) and sample.total == len(everything)
    blur = sorted((rr._blur_of(e) for e in everything if e["reason_code"] == "blurry"), reverse=True)
    assert [rr._blur_of(e) for e in sample.blurry] == blur[:2]
    assert len(sample.groups) <= 6 + codes.get("exact_duplicate", 0)
    assert all(len(m) <= rr.COPIES_PER_GROUP for m in sample.groups.values())
    assert any(e["reason_code"] == "exact_duplicate" for m in sample.groups.values() for e in m)


def test_text_run_shows_snippets_in_every_gallery(tmp_path):
    from run_report_data import build_text_scenario

    page = rr.build_run_report(build_text_scenario(str(tmp_path / "text")).inputs).html
    assert "<img" not in page
    for anchor in ("import", "labeling", "machine"):
        tiles = _tiles(_section(page, anchor))
        assert tiles and all('class="snippet"' in t or 'class="placeholder"' in t for t in tiles), anchor
    assert "empty text" in _section(page, "import") and "textContent=42" in _section(page, "import")


def test_hash_distance_is_the_prefilters_flip_aware_distance(tmp_path):
    from labelloop.components.core import image_hash

    rng = np.random.default_rng(3)
    image = (rng.random((16, 16)) * 255).astype(np.uint8).repeat(4, 0).repeat(4, 1)
    a = _png_file(tmp_path / "a.png", image)
    mirrored = _png_file(tmp_path / "m.png", image[:, ::-1].copy())
    tiny = _png_file(tmp_path / "t.png", image[::8, ::8].copy())  # 8x8: below the prefilter's minimum, still hashed
    limits = gallery.GalleryLimits()
    kept = rr.perceptual_hash_of(a, limits)
    assert rr.hash_distance(kept, mirrored, limits) == 0
    assert rr.hash_distance(kept, tiny, limits) == image_hash.flip_aware_distance(
        kept, rr.perceptual_hash_of(tiny, limits)
    )
    assert rr.hash_distance(kept, str(tmp_path / "missing.png"), limits) is None
    assert rr.hash_distance(None, a, limits) is None


def test_tabular_dataset_and_row_rejects(tmp_path):
    from labelloop.components.core import sample_data

    wine = sample_data.load_wine()
    uses = sample_data.assign_ml_uses(len(wine.frame), seed=1)
    table = sample_data.write_tabular_csv(wine.frame, str(tmp_path / "wine.csv"), ml_uses=uses)
    rejects = str(tmp_path / "rejects.jsonl")
    with mf.RejectsWriter(rejects, "import_dataset") as writer:
        writer.reject({"alcohol": "n/a", "target": "class_0"}, "bad_value", "alcohol is not a number", line=7)
    page = rr.build_run_report(rr.ReportInputs(dataset=table, import_rejects=rejects, target_column=wine.target)).html
    split = _section(page, "split")
    for use in mf.ML_USES:
        assert f"<td>{use}</td><td>{uses.count(use)}</td>" in split
    label = str(wine.frame[wine.target].iloc[0])
    per_split = [
        sum(1 for t, u in zip(wine.frame[wine.target].astype(str), uses) if t == label and u == s) for s in mf.ML_USES
    ]
    assert f"<td>{label}</td>" + "".join(f"<td>{n}</td>" for n in per_split) in split
    assert 'class="snippet">alcohol=n/a, target=class_0</div>' in _section(page, "import")


def test_duplicate_groups_use_the_distance_and_choice_the_prefilter_recorded(tmp_path):
    image = (np.random.default_rng(5).random((16, 16)) * 255).astype(np.uint8).repeat(4, 0).repeat(4, 1)
    kept_uri, copy_uri = _png_file(tmp_path / "k.png", image), _png_file(tmp_path / "c.png", image[:, ::-1].copy())
    kept = mf.with_extra(
        mf.with_id({"imageGcsUri": kept_uri}, "k" * 32), duplicate_group="k" * 32, kept_because=["most pixels"]
    )
    copy = mf.with_extra(
        mf.with_id({"imageGcsUri": copy_uri}, "c" * 32), duplicate_group="k" * 32, hash_distance=5, correlation=0.93
    )
    plain = mf.with_extra(mf.with_id({"imageGcsUri": copy_uri}, "d" * 32), duplicate_group="k" * 32)
    kept_path, rejects_path = str(tmp_path / "kept.jsonl"), str(tmp_path / "rejects.jsonl")
    mf.write_jsonl(kept_path, [kept])
    with mf.RejectsWriter(rejects_path, "prefilter_images") as writer:
        writer.reject(copy, "near_duplicate", "near duplicate", line=2)
        writer.reject(plain, "near_duplicate", "near duplicate", line=3)
    page = rr.build_run_report(rr.ReportInputs(prefilter_kept=kept_path, prefilter_rejects=rejects_path)).html
    kept_tile, recorded, computed = _tiles(_section(page, "prefilter"))[:3]
    assert "kept: most pixels" in kept_tile
    assert "hash distance 5" in recorded and "correlation 0.930" in recorded
    assert "hash distance 0" in computed  # a mirrored copy: the flip-aware distance is 0


def test_headline_counts_stored_as_floats_show_as_whole_numbers():
    from labelloop.components.core.run_report import cards_html

    page = cards_html(
        {"machine-labeled items": 0.0, "raw items": 1920.0, "test accuracy": 0.88, "labels to reach it: random": 212.0}
    )
    assert re.findall(r'class="v">([^<]*)<', page) == ["0", "1,920", "0.880", "212"]


def test_a_run_without_machine_labels_says_why_in_the_summary_and_the_report():
    why = "no per-class thresholds reach a precision lower bound of 0.98 on 177 validation items; label more"
    metrics = {"machine_labeled_items": 0, "still_unlabeled_items": 1205, "threshold": 2.0, "outcome": why}
    report = rr.build_run_report(rr.ReportInputs(machine_label_metrics=metrics))
    assert report.headline["machine-labeled items"] == 0 and report.headline["why no machine labels"] == why
    assert "machine-label precision (test)" not in report.headline
    assert f"<td>outcome</td><td>{why}</td>" in _section(report.html, "machine")
    labeled = {**metrics, "machine_labeled_items": 40, "test_precision": 0.99}
    assert "why no machine labels" not in rr.build_run_report(rr.ReportInputs(machine_label_metrics=labeled)).headline


def test_reviewed_evaluation_labels_are_counted_in_the_headline(tmp_path):
    def record(name, label, **extra):
        base = {"imageGcsUri": f"gs://b/{name}.png", "dataItemResourceLabels": {"labelloop_id": name}}
        base = mf.with_ml_use(base, "test")
        return mf.with_extra(mf.with_label(base, label, source="human"), **extra)

    dataset = str(tmp_path / "items.jsonl")
    mf.write_jsonl(
        dataset,
        [
            record("a", "7", review_rank=0, given_label="1", labeling_status="labeled"),  # sided with the model
            record("b", "3", review_rank=1, given_label="3", labeling_status="labeled"),  # kept the crowd's label
            record("d", "2", review_rank=2, given_label="2", labeling_status="over_budget"),  # never answered
            record("c", "5"),
        ],
    )
    headline = rr.build_run_report(rr.ReportInputs(dataset=dataset)).headline
    assert headline["reviewed evaluation items"] == 2 and headline["relabeled evaluation items"] == 1
    mf.write_jsonl(dataset, [record("c", "5")])
    assert "reviewed evaluation items" not in rr.build_run_report(rr.ReportInputs(dataset=dataset)).headline


def test_the_spend_includes_what_the_dispute_review_paid(tmp_path):
    from labelloop.components.core import annotation_store as store_module

    def pay(store, run_id, items, price):
        answers = (store_module.StoredAnnotation(f"i{k}", "sim-00", "7", price, 1, run_id, "sim") for k in range(items))
        store.append_annotations(answers)
        store.append_ledger(store_module.LedgerEntry(run_id, 1, items, items, items * price, items, ""))

    uri = str(tmp_path / "store")
    pay(store_module.AnnotationStore(uri), "crowd", 10, 0.05)
    pay(store_module.AnnotationStore(store_module.review_store_uri(uri)), "review", 2, 0.25)
    inputs = rr.inputs_from_run(annotation_store_uri=uri)
    assert len(inputs.annotations) == 10  # the reviewers' answers are no crowd votes
    assert rr.spend_from_ledger(inputs.ledger) == (pytest.approx(1.0), 12)
