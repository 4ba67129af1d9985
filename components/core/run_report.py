"""One self-contained HTML page that stitches the figures of a pipeline run's steps together."""

from __future__ import annotations

import base64
import html
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from . import manifest
from . import report_charts as charts
from . import report_gallery as gallery
from .active_learning import LearningRun
from .label_truth import LabelTruth, label_truth
from .report_gallery import GalleryLimits, Tile

# =============================================================================================
# The one-page visual run report
#
# The component reads its input artifacts into a :class:`ReportInputs` and calls
# :func:`build_run_report`; everything shown is computed here from those plain inputs.

PAGE_STYLE = """
:root{--ink:#1d2330;--muted:#5f6b7a;--line:#e3e7ee;--bg:#f6f8fb;--ok:#1a7f37;--no:#c62828;--accent:#1f6feb}
*{box-sizing:border-box}
body{font:15px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0;color:var(--ink);background:var(--bg)}
main{max-width:1180px;margin:0 auto;padding:1.5rem 1.5rem 4rem}
header.top{display:flex;align-items:baseline;gap:1rem;flex-wrap:wrap}
h1{font-size:1.7rem;margin:.2rem 0 1rem}
h2{font-size:1.2rem;margin:0 0 .6rem}
h3{font-size:1rem;margin:1.1rem 0 .4rem;color:var(--ink)}
section{background:#fff;border:1px solid var(--line);border-radius:10px;padding:1.1rem 1.3rem;margin:1rem 0}
nav{font-size:.85rem;color:var(--muted)}nav a{color:var(--muted);margin-right:.8rem;text-decoration:none}
nav a:hover{color:var(--accent)}
.cards{display:grid;grid-template-columns:repeat(auto-fill,minmax(165px,1fr));gap:.6rem}
.card{background:#fff;border:1px solid var(--line);border-radius:10px;padding:.65rem .8rem}
.card .v{font-size:1.45rem;font-weight:650;display:block}.card .k{font-size:.8rem;color:var(--muted)}
.card.ok{border-color:#9fd5ae;background:#effaf2}.card.no{border-color:#f0b1ad;background:#fdf1f0}
.muted{color:var(--muted);font-size:.9rem}
table{border-collapse:collapse;margin:.3rem 0 .6rem;font-size:.9rem}
td,th{border-bottom:1px solid var(--line);padding:.28rem .65rem;text-align:right;vertical-align:top}
th{font-weight:600;color:var(--muted);background:#fafbfd}
td:first-child,th:first-child{text-align:left}
.bar{display:inline-block;height:.6rem;background:var(--accent);border-radius:2px;opacity:.75;vertical-align:middle}
.cols{display:flex;gap:1.5rem;flex-wrap:wrap;align-items:flex-start}
.gallery{display:flex;flex-wrap:wrap;gap:.6rem}
.group{display:flex;align-items:center;gap:.45rem;padding:.45rem;border:1px dashed var(--line);border-radius:8px;
 margin:0 .6rem .6rem 0;background:#fcfcfe}
.groups{display:flex;flex-wrap:wrap}
.arrow{font-size:1.3rem;color:var(--muted)}
.tile{margin:0;width:120px;font-size:.72rem;color:var(--muted);border:2px solid transparent;border-radius:6px;
 padding:2px}
.tile.kept{border-color:#8fd19e}.tile.removed{border-color:#f3a6a0}
.tile img,.tile .placeholder,.tile .snippet{width:112px;height:96px;display:block;border-radius:4px;background:#eef1f5}
.tile img{object-fit:contain;image-rendering:pixelated}
.tile.text{width:214px}.tile.text .snippet{width:206px}
.placeholder{display:flex!important;flex-direction:column;align-items:center;justify-content:center;text-align:center;padding:.3rem;
 color:#8a5a00;background:repeating-linear-gradient(45deg,#fff4e0,#fff4e0 6px,#ffecc7 6px,#ffecc7 12px)!important}
.snippet{overflow:hidden;padding:.3rem;font-size:.7rem;line-height:1.25;color:var(--ink);text-align:left}
figcaption{display:flex;flex-direction:column;margin-top:.15rem;overflow-wrap:anywhere}
figcaption b{color:var(--ink);font-weight:600}
.chart{max-width:100%;height:auto}
.verdict{font-weight:700;padding:.1rem .55rem;border-radius:5px;color:#fff}
.verdict.ok{background:var(--ok)}.verdict.no{background:var(--no)}
ul.reasons{list-style:none;padding:0;margin:.4rem 0}ul.reasons li{padding:.15rem 0}
.pass{color:var(--ok);font-weight:700}.fail{color:var(--no);font-weight:700}
table.cm td{min-width:2.2rem;text-align:center}table.cm th{text-align:center}table.cm td.zero{color:#c3c9d2}
.placeholder .icon{display:block;font-size:1.2rem}
.note{background:#eef4ff;border-left:3px solid var(--accent);padding:.45rem .7rem;border-radius:4px;margin:.5rem 0}
"""

DUPLICATE_CODES = ("exact_duplicate", "near_duplicate")
BLURRY_CODE = "blurry"
#: Reason codes of items the prefilter removed for what they are, not for duplicating another.
FILE_PROBLEM_CODES = (
    "corrupt",
    "empty_file",
    "not_an_image",
    "decompression_bomb",
    "too_small",
    "unreadable",
    "invalid_uri",
    "missing_id",
)


@dataclass(frozen=True)
class ReportInputs:
    """Everything the run report shows, as plain values and paths (local or ``gs://``).

    Every field is optional: a section whose inputs are missing says so instead of failing.

    Attributes:
        import_metrics: ``import_dataset``'s metrics (items_total/kept/rejected, rejects_<code>).
        import_rejects: ``import_dataset``'s rejects JSONL.
        prefilter_metrics: ``prefilter_images``'s metrics (items, kept, rejected_<code>, thresholds).
        prefilter_kept: ``prefilter_images``'s kept manifest (to find each duplicate group's kept copy).
        prefilter_rejects: ``prefilter_images``'s rejects JSONL.
        dataset: The final dataset manifest (splits, labels, label sources, machine labels).
        annotations: The human annotations: ``StoredAnnotation`` objects or ``(item_id, labeler_id, value)``.
        classes: Class names in their display order (from the labeling job or the model).
        ledger: The annotation store's ledger entries: the one source of what labeling cost.
        learning_runs: Round records per strategy and seed (active learning and random sampling).
        pipeline_rounds: This pipeline's own round records (from the version store), for the headline.
        learning_note: How the learning curves were measured (shown under the chart).
        machine_label_metrics: ``apply_machine_labels``'s metrics (threshold, precisions, counts).
        label_truth: Simulated labeling only: human and machine labels checked against the truth.
        evaluation: ``evaluate_model``'s metrics (scalars, ``<label>/precision|recall|f1``, test_items).
        classification_metrics: ``evaluate_model``'s ClassificationMetrics metadata
            (``confusionMatrix``, ``confidenceMetrics``).
        pr_curves: Optional precision-recall curves, ``name: (recall, precision)``.
        blessed: The gate's decision (None: the gate did not run).
        gate_reasons: The gate's reasons, one sentence per threshold (``PASS …``/``FAIL …``).
        champion_version: The registry's champion after the gate.
        review_threshold: Share of disagreeing labels above which an item needs review.
        target_column: Tabular datasets (CSV or Parquet): the column whose values are counted per split.
        limits: Gallery sizes (tiles, thumbnail side, bytes).
    """

    title: str = "labelloop run report"
    import_metrics: Mapping[str, object] = field(default_factory=dict)
    import_rejects: str = ""
    prefilter_metrics: Mapping[str, object] = field(default_factory=dict)
    prefilter_kept: str = ""
    prefilter_rejects: str = ""
    dataset: str = ""
    annotations: Sequence = ()
    classes: Sequence[str] = ()
    ledger: Sequence = ()
    learning_runs: Sequence[LearningRun] = ()
    learning_note: str = ""
    pipeline_rounds: Sequence = ()
    machine_label_metrics: Mapping[str, object] = field(default_factory=dict)
    label_truth: LabelTruth | None = None
    evaluation: Mapping[str, object] = field(default_factory=dict)
    classification_metrics: Mapping[str, object] = field(default_factory=dict)
    pr_curves: Mapping[str, tuple[Sequence[float], Sequence[float]]] = field(default_factory=dict)
    blessed: bool | None = None
    gate_reasons: Sequence[str] = ()
    champion_version: str = ""
    review_threshold: float = 0.34
    target_column: str = ""
    limits: GalleryLimits = field(default_factory=GalleryLimits)


@dataclass(frozen=True)
class RunReport:
    """The page and the headline figures (for the component's ``metrics`` output)."""

    html: str
    headline: dict


# ---------------------------------------------------------------------------------------------
# Reading the inputs


def read_rejects(path: str) -> list[dict]:
    """Every reject entry of a rejects JSONL (``{"line","id","reason_code","reason","step","record"}``)."""
    if not path:
        return []
    return list(manifest.read_jsonl(path))


@dataclass(frozen=True)
class RejectSample:
    """A bounded sample of a rejects file, taken in one streamed pass, with the full counts.

    Attributes:
        counts: Rejected items per reason code (all of them).
        groups: Removed copies per kept representative id, for the first groups seen (exact copies
            are kept even past that), at most ``copies_per_group`` each.
        group_sizes: Removed copies per sampled group.
        blurry: The blurriest rejects, blurriest first.
        problems: The first corrupt or unusable files.
        others: The first rejects of any other reason.
    """

    counts: dict[str, int]
    groups: dict[str, list[dict]]
    group_sizes: dict[str, int]
    blurry: tuple[dict, ...]
    problems: tuple[dict, ...]
    others: tuple[dict, ...]

    @property
    def total(self) -> int:
        return sum(self.counts.values())


COPIES_PER_GROUP = 4


def _blur_of(entry: dict) -> float:
    return float(manifest.extra_of(entry.get("record") or {}).get("blur_score") or 0.0)


def sample_rejects(path: str, *, tiles: int) -> RejectSample:
    """Counts and bounded samples of a rejects file; memory stays bounded on any file size."""
    import heapq

    counts: dict[str, int] = {}
    groups: dict[str, list[dict]] = {}
    sizes: dict[str, int] = {}
    blurry: list[tuple[float, int, dict]] = []
    problems: list[dict] = []
    others: list[dict] = []
    max_groups = 3 * tiles
    for number, entry in enumerate(manifest.read_jsonl(path) if path else (), start=1):
        code = str(entry.get("reason_code"))
        counts[code] = counts.get(code, 0) + 1
        if code in DUPLICATE_CODES:
            rep = str(manifest.extra_of(entry.get("record") or {}).get("duplicate_group") or "(unknown)")
            if rep in groups or len(groups) < max_groups or code == "exact_duplicate":
                sizes[rep] = sizes.get(rep, 0) + 1
                members = groups.setdefault(rep, [])
                if len(members) < COPIES_PER_GROUP:
                    members.append(entry)
        elif code == BLURRY_CODE:
            item = (_blur_of(entry), -number, entry)
            if len(blurry) < tiles:
                heapq.heappush(blurry, item)
            elif item[:2] > blurry[0][:2]:
                heapq.heapreplace(blurry, item)
        elif code in FILE_PROBLEM_CODES:
            if len(problems) < tiles:
                problems.append(entry)
        elif len(others) < tiles:
            others.append(entry)
    ordered = tuple(e for *_, e in sorted(blurry, key=lambda b: b[:2], reverse=True))
    return RejectSample(dict(sorted(counts.items())), groups, sizes, ordered, tuple(problems), tuple(others))


def rejected_records(path: str, wanted: set[str]) -> dict[str, dict]:
    """The records of ``wanted`` ids in a rejects file (a group's representative can be rejected as blurry)."""
    found: dict[str, dict] = {}
    if path and wanted:
        for entry in manifest.read_jsonl(path):
            if entry.get("id") in wanted:
                found[entry["id"]] = entry.get("record") or {}
    return found


def records_by_id(path: str, wanted: set[str]) -> dict[str, dict]:
    """The records of ``wanted`` ids in a manifest, streamed (only those are kept in memory)."""
    found: dict[str, dict] = {}
    if not path or not wanted:
        return found
    for record in manifest.read_jsonl(path):
        rid = (record.get("dataItemResourceLabels") or {}).get(manifest.ID_KEY)
        if rid in wanted:
            found[rid] = record
    return found


@dataclass(frozen=True)
class DatasetFacts:
    """What one pass over the final dataset tells the report."""

    split_counts: dict[str, dict[str, int]]  # split -> label -> items
    sources: dict[str, int]  # label source -> items
    items: int
    machine_sample: tuple[dict, ...]  # machine-labeled records, lowest confidence first
    review_records: dict[str, dict]
    disputes_reviewed: int = 0  # evaluation items a dispute review answered (``labelloop.review_rank``, labeled)
    disputes_relabeled: int = 0  # of those, the ones whose label the review changed


MAX_TABLE_LABELS = 50


def read_table(path: str, *, target_column: str = "") -> DatasetFacts:
    """Split × target counts of a CSV or Parquet dataset (a numeric target with many values is not broken down)."""
    from .sample_data import ML_USE_COLUMN
    from .split import iter_table

    splits: dict[str, dict[str, int]] = {}
    rows = 0
    for chunk in iter_table(path):
        rows += len(chunk)
        uses = chunk[ML_USE_COLUMN].fillna("(none)").astype(str) if ML_USE_COLUMN in chunk else None
        if uses is None:
            uses = chunk.index.map(lambda _: "(none)")
        targets = chunk[target_column].astype(str) if target_column and target_column in chunk else None
        keys = zip(uses, targets) if targets is not None else ((u, "(rows)") for u in uses)
        for use, label in keys:
            per_split = splits.setdefault(use, {})
            per_split[label] = per_split.get(label, 0) + 1
    if sum(len(v) for v in splits.values()) > MAX_TABLE_LABELS * max(len(splits), 1):  # a numeric target
        splits = {use: {"(rows)": sum(counts.values())} for use, counts in splits.items()}
    return DatasetFacts(splits, {}, rows, (), {})


def read_dataset(path: str, *, machine_sample: int, review_ids: set[str], target_column: str = "") -> DatasetFacts:
    """Split × label counts, label sources, the least confident machine labels and the review items.

    A CSV or Parquet dataset gives its split × ``target_column`` counts only.
    """
    import heapq

    from .split import file_format

    if path and file_format(path) != "jsonl":
        return read_table(path, target_column=target_column)

    splits: dict[str, dict[str, int]] = {}
    sources: dict[str, int] = {}
    machine: list[tuple[float, int, dict]] = []
    review: dict[str, dict] = {}
    items = reviewed = relabeled = 0
    if path:
        for items, record in enumerate(manifest.read_jsonl(path), start=1):
            split = manifest.ml_use_of(record) or "(none)"
            labels = manifest.labels_of(record) or ["(unlabeled)"]
            for label in labels:
                splits.setdefault(split, {})[label] = splits.get(split, {}).get(label, 0) + 1
            source = manifest.label_source_of(record) or ("(unlabeled)" if labels == ["(unlabeled)"] else "(unknown)")
            sources[source] = sources.get(source, 0) + 1
            if source == "machine":
                confidence = float(manifest.extra_of(record).get("label_confidence") or 0.0)
                entry = (-confidence, items, record)
                if len(machine) < machine_sample:
                    heapq.heappush(machine, entry)
                elif machine and entry > machine[0]:  # machine_sample 0: no sample
                    heapq.heapreplace(machine, entry)
            rid = (record.get("dataItemResourceLabels") or {}).get(manifest.ID_KEY)
            if rid in review_ids:
                review[rid] = record
            extra = manifest.extra_of(record)
            if "review_rank" in extra and extra.get("labeling_status") == "labeled":  # answered, not over budget
                reviewed += 1
                relabeled += labels != [extra.get("given_label")]
    ordered = tuple(r for _, _, r in sorted(machine, key=lambda e: (-e[0], e[1])))
    return DatasetFacts(splits, dict(sorted(sources.items())), items, ordered, review, reviewed, relabeled)


def _annotation_triples(annotations: Sequence) -> list[tuple[str, str, object]]:
    out = []
    for a in annotations:
        if isinstance(a, tuple):
            out.append(a)
        else:
            out.append((a.item_id, a.labeler_id, a.value))
    return out


# ---------------------------------------------------------------------------------------------
# Small HTML pieces


def _esc(value: object) -> str:
    return html.escape(str(value))


def _fraction(value: object) -> str:
    """A share or score (precision, accuracy, …) with three decimals."""
    if isinstance(value, (int, float)) and not isinstance(value, bool) and value == value:
        return f"{float(value):.3f}"
    return "–"


def _number(value: object) -> str:
    if value is None:
        return "–"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        if value != value:
            return "–"
        if value.is_integer() and abs(value) >= 2:
            return f"{int(value):,}"
        return f"{value:.3f}" if abs(value) < 10 else f"{value:,.1f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def table_html(header: Sequence[str], rows: Sequence[Sequence[object]], *, css_class: str = "") -> str:
    """A table; cells that are already HTML are passed as :class:`Markup`."""
    head = "".join(f"<th>{_esc(h)}</th>" for h in header)
    body = "".join(
        "<tr>" + "".join(f"<td>{c if isinstance(c, Markup) else _esc(_number(c))}</td>" for c in row) + "</tr>"
        for row in rows
    )
    cls = f' class="{css_class}"' if css_class else ""
    return f"<table{cls}><tr>{head}</tr>{body}</table>"


class Markup(str):
    """A string that is already safe HTML."""


def bar(share: float, *, width_px: int = 120) -> Markup:
    share = min(max(float(share), 0.0), 1.0) if share == share else 0.0
    return Markup(f'<span class="bar" style="width:{max(1, round(share * width_px))}px"></span>')


def png_img(png: bytes, alt: str) -> str:
    data = base64.b64encode(png).decode("ascii")
    return f'<img class="chart" alt="{html.escape(alt, quote=True)}" src="data:image/png;base64,{data}">'


def section_html(anchor: str, title: str, body: str) -> str:
    return f'<section id="{anchor}"><h2>{_esc(title)}</h2>{body}</section>'


def _basename(uri: str) -> str:
    return uri.rstrip("/").rsplit("/", 1)[-1]


def reason_text(entry: dict) -> str:
    """A reject's reason with the file's location cut to its name (pages never show local paths)."""
    reason = str(entry.get("reason", ""))
    record = entry.get("record") if isinstance(entry.get("record"), dict) else {}
    for field_name in manifest.URI_FIELDS:
        uri = record.get(field_name)
        if isinstance(uri, str) and uri:
            reason = reason.replace(f"{uri}: ", "").replace(uri, _basename(uri))
    return reason


def item_name(record: object) -> str:
    """The file name of an item (never its folder), or its id."""
    if isinstance(record, dict):
        for field_name in manifest.URI_FIELDS:
            if isinstance(record.get(field_name), str) and record[field_name]:
                return _basename(record[field_name])
    return ""


# ---------------------------------------------------------------------------------------------
# Headline


def spend_from_ledger(ledger: Sequence) -> tuple[float, int]:
    """USD paid and labels delivered, summed over the ledger (the only spend figure shown)."""
    return float(sum(e.cost_usd for e in ledger)), int(sum(e.labels_delivered for e in ledger))


def headline_figures(inputs: ReportInputs, facts: DatasetFacts) -> dict[str, object]:
    """The figures a person wants first: kept, removed, labels and their cost, model, gate."""
    imp, pre, ev, ml = inputs.import_metrics, inputs.prefilter_metrics, inputs.evaluation, inputs.machine_label_metrics
    removed = sum(int(v) for k, v in pre.items() if k.startswith("rejected_") and isinstance(v, (int, float)))
    out: dict[str, object] = {
        "raw items": imp.get("items_total"),
        "rejected at import": imp.get("items_rejected"),
        "removed by prefilter": removed if pre else None,
        "items in final dataset": facts.items or None,
    }
    if inputs.pipeline_rounds:
        out["active-learning rounds"] = len(inputs.pipeline_rounds)
        out["human labels bought (pool)"] = inputs.pipeline_rounds[-1].labels_total
    for source, count in sorted(facts.sources.items()):
        out["items left unlabeled" if source == "(unlabeled)" else f"items labeled by {source.strip('()')}"] = count
    if inputs.ledger:
        spend, labels = spend_from_ledger(inputs.ledger)
        out["human labels paid"] = labels
        out["labeling spend (USD)"] = round(spend, 2)
    if facts.disputes_reviewed:  # evaluation labels the final model disputed, settled by reviewers
        out["reviewed evaluation items"] = facts.disputes_reviewed
        out["relabeled evaluation items"] = facts.disputes_relabeled
    if "machine_labeled_items" in ml:
        out["machine-labeled items"] = ml["machine_labeled_items"]
        if ml["machine_labeled_items"]:  # a precision of nothing labeled is no figure
            out["machine-label precision (test)"] = ml.get("test_precision")
        elif ml.get("outcome"):
            out["why no machine labels"] = ml["outcome"]
    out.update(truth_figures(inputs.label_truth))
    for name in ("accuracy", "macro_f1", "au_prc", "r2", "rmse"):
        if name in ev:
            out[f"test {name}"] = ev[name]
    out.update(saving_figures(learning_comparison(inputs.learning_runs).savings))
    if inputs.blessed is not None:
        out["gate"] = "blessed" if inputs.blessed else "refused"
    return {k: v for k, v in out.items() if v is not None}


def truth_figures(truth: LabelTruth | None) -> dict[str, object]:
    """Simulated labeling: the machine labels' precision and the human test labels' accuracy against the truth."""
    if truth is None:
        return {}
    out: dict[str, object] = {}
    if truth.machine_precision is not None:
        out["machine-label precision (truth)"] = round(truth.machine_precision, 4)
    if truth.human_accuracy("test") is not None:
        out["human test labels right (truth)"] = round(truth.human_accuracy("test"), 4)
    return out


def saving_figures(savings: Sequence[charts.LabelSaving]) -> dict[str, object]:
    """Labels each strategy and random sampling needed for the same metric (the first strategy's saving)."""
    if not savings:
        return {}
    first = savings[0]
    out: dict[str, object] = {
        f"target {first.metric_name} (random's final)": round(first.target, 4),
        f"labels to reach it: {first.strategy}": first.strategy_labels,
        "labels to reach it: random": first.baseline_labels,
    }
    if first.saved is not None and first.baseline_labels:
        out["labels saved vs random (%)"] = round(100.0 * first.saved / first.baseline_labels, 1)
    return out


#: Headline names that count things: shown as whole numbers even when Metrics stored them as floats.
COUNT_WORDS = ("items", "labels paid", "rejected at import", "removed by prefilter")


def _count(value: object) -> str:
    """A count (KFP Metrics hold every number as a float: 0.0 items is shown as 0)."""
    if isinstance(value, (int, float)) and not isinstance(value, bool) and float(value).is_integer():
        return f"{int(value):,}"
    return _number(value)


def cards_html(figures: Mapping[str, object]) -> str:
    cards = []
    for name, value in figures.items():
        tone = ""
        if name == "gate":
            tone = " ok" if value == "blessed" else " no"
        if name == "labeling spend (USD)":
            shown = f"${value:,.2f}"
        elif name.endswith(COUNT_WORDS) or name.startswith("labels to reach"):
            shown = _count(value)
        elif "precision" in name or name.startswith("test ") or name.startswith("target "):
            shown = _fraction(value)
        else:
            shown = _number(value)
        label = "labeling spend (ledger)" if name == "labeling spend (USD)" else name
        cards.append(
            f'<div class="card{tone}"><span class="v">{_esc(shown)}</span><span class="k">{_esc(label)}</span></div>'
        )
    return '<div class="cards">' + "".join(cards) + "</div>"


# ---------------------------------------------------------------------------------------------
# Import and prefilter


def reason_counts_html(counts: Mapping[str, int], total: int) -> str:
    rows = [(code.replace("_", " "), n, bar(n / total if total else 0.0)) for code, n in counts.items() if n]
    return table_html(("reason", "items", ""), rows) if rows else '<p class="muted">nothing removed</p>'


def reject_tile(entry: dict, limits: GalleryLimits, *, caption: Sequence[str] = (), tone: str = "removed") -> Tile:
    """A removed item's tile: its id (or file name) over its file name and the given caption lines."""
    record = entry.get("record")
    preview = gallery.record_preview(record, limits, reason_code=str(entry.get("reason_code", "")))
    name = item_name(record)
    title = str(entry.get("id") or name or f"line {entry.get('line')}")
    named = name and name != title and not any(name in line for line in caption)
    return Tile(preview, title, ((name,) if named else ()) + tuple(x for x in caption if x), tone)


def code_words(entry: dict) -> str:
    return str(entry.get("reason_code", "")).replace("_", " ")


def import_section(inputs: ReportInputs) -> str:
    metrics = inputs.import_metrics
    sample = sample_rejects(inputs.import_rejects, tiles=inputs.limits.tiles)
    rejects = [*sample.problems, *sample.others, *(e for g in sample.groups.values() for e in g), *sample.blurry]
    if not metrics and not sample.total:
        return section_html("import", "Import and validation", '<p class="muted">no import figures given</p>')
    counts = {k.removeprefix("rejects_"): int(v) for k, v in metrics.items() if k.startswith("rejects_")}
    counts = counts or sample.counts
    total = int(metrics.get("items_total") or 0)
    body = (
        f"<p>{_number(metrics.get('items_total'))} items read, {_number(metrics.get('items_kept'))} kept, "
        f"{_number(metrics.get('items_rejected'))} rejected.</p>" + reason_counts_html(counts, total)
    )
    if rejects:
        tiles = gallery.bounded(
            (reject_tile(e, inputs.limits, caption=(code_words(e), reason_text(e))) for e in rejects),
            inputs.limits,
        )
        body += "<h3>Rejected at import</h3>" + gallery.gallery_html(tiles, more=sample.total - len(tiles))
    return section_html("import", "Import and validation", body)


def recorded_distance(entry: dict) -> tuple[int | None, float | None]:
    """The hash distance and thumbnail correlation the prefilter recorded for a removed copy (None, None if not)."""
    facts = manifest.extra_of(entry.get("record") or {})
    return facts.get("hash_distance"), facts.get("correlation")


def perceptual_hash_of(uri: str, limits: GalleryLimits) -> int | None:
    """The prefilter's perceptual hash of an image; None when it cannot be read, decoded or hashed."""
    from . import image_checks, image_hash

    decode = image_checks.DecodeLimits(min_width=1, min_height=1, max_pixels=limits.max_pixels)
    try:
        view = image_checks.decode_image(gallery.read_bounded(uri, limits.max_file_bytes), decode)
    except Exception:  # noqa: BLE001 - an unreadable file has no distance; its tile says why
        return None
    if isinstance(view, image_checks.ImageRejection):
        return None
    fingerprint = image_hash.fingerprint(view.gray)
    return None if fingerprint is None else fingerprint.phash


def hash_distance(kept_hash: int | None, uri: str, limits: GalleryLimits) -> int | None:
    """Flip-aware perceptual-hash distance (of 64 bits) from a kept copy's hash to the image at ``uri``."""
    from . import image_hash

    other = perceptual_hash_of(uri, limits) if kept_hash is not None and uri else None
    return None if other is None else image_hash.flip_aware_distance(kept_hash, other)


def duplicate_groups_html(sample: RejectSample, inputs: ReportInputs) -> str:
    """Each group's kept copy beside its removed copies, with reason and hash distance."""
    # exact copies first (the surest), then the largest groups
    ranked = sorted(
        sample.groups.items(),
        key=lambda g: (all(e.get("reason_code") != "exact_duplicate" for e in g[1]), -sample.group_sizes[g[0]]),
    )
    shown = ranked[: max(1, inputs.limits.tiles // 2)]
    wanted = {rep for rep, _ in shown}
    kept = records_by_id(inputs.prefilter_kept, wanted)
    other = rejected_records(inputs.prefilter_rejects, wanted - set(kept))
    limits = inputs.limits
    parts, used = [], 0
    for rep, members in shown:
        record = kept.get(rep) or other.get(rep)
        kept_uri = (record or {}).get("imageGcsUri", "")
        preview = (
            gallery.record_preview(record, limits) if record else gallery.Preview(placeholder="kept copy not found")
        )
        role = "kept" if rep in kept else "representative (itself removed)"
        because = manifest.extra_of(record or {}).get("kept_because")
        if because and rep in kept:
            role = "kept: " + ", ".join(str(b) for b in because)
        kept_tile = Tile(preview, rep, (role, item_name(record)), "kept")
        kept_hash = None
        removed = []
        for entry in members:
            distance, correlation = recorded_distance(entry)
            if distance is None:
                if kept_hash is None and kept_uri:
                    kept_hash = perceptual_hash_of(kept_uri, limits)
                distance = hash_distance(kept_hash, (entry.get("record") or {}).get("imageGcsUri", ""), limits)
            caption = (code_words(entry), f"hash distance {_number(distance)}")
            if correlation is not None:
                caption += (f"correlation {_fraction(correlation)}",)
            removed.append(reject_tile(entry, limits, caption=caption))
        used += sum(t.preview.size for t in (kept_tile, *removed))
        if used > limits.gallery_bytes * 2:
            break
        parts.append(gallery.group_html(kept_tile, removed, more=sample.group_sizes[rep] - len(removed)))
    copies = sum(sample.counts.get(code, 0) for code in DUPLICATE_CODES)
    note = f'<p class="muted">{copies:,} copies removed; {len(parts)} groups shown.</p>'
    return '<div class="groups">' + "".join(parts) + "</div>" + note


def prefilter_section(inputs: ReportInputs) -> str:
    title = "Prefilter: duplicates, blur, corrupt files"
    metrics = inputs.prefilter_metrics
    sample = sample_rejects(inputs.prefilter_rejects, tiles=inputs.limits.tiles)
    if not metrics and not sample.total:
        return section_html("prefilter", title, '<p class="muted">no prefilter figures given</p>')
    counts = {k.removeprefix("rejected_"): int(v) for k, v in metrics.items() if k.startswith("rejected_")}
    counts = counts or sample.counts
    settings = ", ".join(
        f"{name.replace('_', ' ')} {_number(metrics[name])}"
        for name in ("hamming_threshold", "blur_threshold", "min_width", "min_height")
        if name in metrics
    )
    body = (
        f"<p>{_number(metrics.get('items'))} items checked, {_number(metrics.get('kept'))} kept, "
        f"{_number(metrics.get('duplicate_groups'))} duplicate groups.</p>"
        + (f'<p class="muted">Thresholds: {_esc(settings)}.</p>' if settings else "")
        + reason_counts_html(counts, int(metrics.get("items") or sample.total))
    )
    limits = inputs.limits
    body += "<h3>Duplicate groups: kept copy (green) → removed copies (red)</h3>"
    body += duplicate_groups_html(sample, inputs) if sample.groups else '<p class="muted">no duplicates removed</p>'
    body += "<h3>Blurry images, blurriest first</h3>"
    tiles = gallery.bounded(
        (reject_tile(e, limits, caption=(f"blur score {_number(_blur_of(e))}",)) for e in sample.blurry), limits
    )
    blurry_total = sample.counts.get(BLURRY_CODE, 0)
    body += gallery.gallery_html(tiles, more=blurry_total - len(tiles), empty="no blurry images removed")
    body += "<h3>Corrupt and unusable files</h3>"
    tiles = gallery.bounded(
        (reject_tile(e, limits, caption=(code_words(e), reason_text(e))) for e in sample.problems), limits
    )
    problem_total = sum(sample.counts.get(code, 0) for code in FILE_PROBLEM_CODES)
    body += gallery.gallery_html(tiles, more=problem_total - len(tiles), empty="no corrupt files")
    if sample.others:
        tiles = gallery.bounded(
            (reject_tile(e, limits, caption=(code_words(e), reason_text(e))) for e in sample.others), limits
        )
        other_total = (
            sample.total - problem_total - blurry_total - sum(sample.counts.get(c, 0) for c in DUPLICATE_CODES)
        )
        body += "<h3>Other removals</h3>" + gallery.gallery_html(tiles, more=other_total - len(tiles))
    return section_html("prefilter", title, body)


# ---------------------------------------------------------------------------------------------
# Split, labeling, learning curves, machine labels


def split_section(facts: DatasetFacts) -> str:
    if not facts.split_counts:
        return section_html("split", "Split distribution", '<p class="muted">no final dataset given</p>')
    order = [s for s in (*manifest.ML_USES, "(none)") if s in facts.split_counts]
    labels = sorted({label for counts in facts.split_counts.values() for label in counts})
    totals = {s: sum(facts.split_counts[s].values()) for s in order}
    rows = [(label, *(facts.split_counts[s].get(label, 0) for s in order)) for label in labels]
    rows.append((Markup("<b>total</b>"), *(totals[s] for s in order)))
    grand = sum(totals.values()) or 1
    shares = table_html(
        ("split", "items", "share", ""),
        [(s, totals[s], f"{totals[s] / grand:.0%}", bar(totals[s] / grand)) for s in order],
    )
    sources = table_html(("label source", "items", ""), [(k, v, bar(v / grand)) for k, v in facts.sources.items()])
    body = f'<div class="cols"><div>{shares}{sources}</div><div>{table_html(("label", *order), rows)}</div></div>'
    return section_html("split", "Split distribution", body)


@dataclass(frozen=True)
class LabelingQuality:
    """Consensus and quality of the human annotations, and the items to review, most disputed first."""

    summary: object | None  # consensus.QualitySummary; None when there is none
    problem: str
    review: tuple[tuple[str, dict[str, int]], ...]  # (item id, votes per answer)


def labeling_quality(triples: list, classes: Sequence[str], *, review_threshold: float, limit: int) -> LabelingQuality:
    """Dawid–Skene consensus over the annotations; review items ordered by how split their votes are."""
    from . import consensus

    if not triples:
        return LabelingQuality(None, "no human annotations given", ())
    classes = list(classes) or sorted({str(v) for _, _, v in triples})
    try:
        summary = consensus.summarize("single_label", triples, classes, review_threshold=review_threshold)
    except consensus.ConsensusError as err:
        return LabelingQuality(None, f"labeling quality cannot be computed: {err}", ())
    flagged = set(summary.items_needing_review)
    votes: dict[str, dict[str, int]] = {}
    for item_id, _, value in triples:
        if item_id in flagged:
            counts = votes.setdefault(item_id, {})
            counts[str(value)] = counts.get(str(value), 0) + 1
    order = sorted(
        flagged, key=lambda i: (max(votes[i].values()) / sum(votes[i].values()), summary.items[i].confidence, i)
    )
    ranked = tuple((i, dict(sorted(votes[i].items(), key=lambda kv: -kv[1]))) for i in order[:limit])
    return LabelingQuality(summary, "", ranked)


def labeling_section(inputs: ReportInputs, facts: DatasetFacts, quality: LabelingQuality) -> str:
    parts = []
    if inputs.ledger:
        spend, labels = spend_from_ledger(inputs.ledger)
        rows = [
            (e.round, e.items_requested, e.labels_requested, e.labels_delivered, Markup(f"${e.cost_usd:,.2f}"))
            for e in inputs.ledger
        ]
        parts.append(
            f"<p>{labels:,} human labels paid, <b>${spend:,.2f}</b> in all (the annotation store's ledger).</p>"
            + table_html(("round", "items", "labels asked", "labels delivered", "cost"), rows)
        )
    summary = quality.summary
    if summary is None:
        parts.append(f'<p class="muted">{_esc(quality.problem)}</p>')
        return section_html("labeling", "Labeling quality", "".join(parts))
    agreement = table_html(
        ("agreement", "value"),
        [
            ("percent agreement", summary.percent_agreement),
            ("Fleiss' kappa", summary.fleiss_kappa),
            ("Krippendorff's alpha", summary.krippendorff_alpha),
            ("items labeled", len(summary.items)),
            ("items needing review", len(summary.items_needing_review)),
        ],
    )
    labelers = table_html(
        ("labeler", "labels", "agrees with consensus", "estimated accuracy", ""),
        [
            (
                q.labeler_id,
                q.labels,
                q.agreement_with_consensus,
                q.estimated_accuracy,
                bar(q.estimated_accuracy if q.estimated_accuracy is not None else q.agreement_with_consensus),
            )
            for q in sorted(summary.labelers, key=lambda q: -(q.estimated_accuracy or q.agreement_with_consensus))
        ],
    )
    parts.append(f'<div class="cols"><div>{agreement}</div><div>{labelers}</div></div>')
    parts.append(
        f'<p class="muted">Consensus by {_esc(summary.method)}; '
        "accuracy estimated from each labeler's fitted confusion matrix.</p>"
    )
    records = facts.review_records
    tiles = gallery.bounded(
        (
            Tile(
                gallery.record_preview(records.get(i), inputs.limits)
                if i in records
                else gallery.Preview(placeholder="item not in the final dataset"),
                i,
                (
                    f"consensus {summary.items[i].value} ({summary.items[i].confidence:.2f})",
                    "votes " + ", ".join(f"{k}×{n}" for k, n in votes.items()),
                ),
            )
            for i, votes in quality.review
        ),
        inputs.limits,
    )
    flagged = len(summary.items_needing_review)
    parts.append(
        "<h3>Items needing review, most disputed first</h3>"
        + gallery.gallery_html(tiles, more=flagged - len(tiles), empty="no item needs a review")
    )
    return section_html("labeling", "Labeling quality", "".join(parts))


@dataclass(frozen=True)
class LearningComparison:
    """Each strategy's mean curve over seeds, the seeds' own curves, and the labels saved against random."""

    metric_name: str
    seeds: dict[str, list]
    curves: dict[str, charts.StrategyCurve]
    savings: tuple[charts.LabelSaving, ...]


def learning_comparison(runs: Sequence[LearningRun]) -> LearningComparison:
    from .active_learning import learning_curve

    seeds: dict[str, list] = {}
    metric_name = "metric"
    for run in runs:
        records = list(run.records)
        if records:
            metric_name = records[-1].metric_name
        seeds.setdefault(run.strategy, []).append(learning_curve(records, run.strategy))
    curves = {name: charts.mean_curve(name, curves) for name, curves in seeds.items()}
    return LearningComparison(metric_name, seeds, curves, charts.compare_strategies(curves, metric_name=metric_name))


def learning_section(inputs: ReportInputs) -> str:
    title = "Active learning vs random sampling"
    comparison = learning_comparison(inputs.learning_runs)
    seeds, curves, savings, metric_name = (
        comparison.seeds,
        comparison.curves,
        comparison.savings,
        comparison.metric_name,
    )
    if not any(c.labels for runs in seeds.values() for c in runs):
        return section_html("learning", title, '<p class="muted">no evaluated rounds recorded</p>')
    body = png_img(
        charts.learning_curves_png(curves, seeds, metric_name=metric_name),
        f"test {metric_name} against human labels bought",
    )
    if inputs.learning_note:
        body += f'<p class="muted">{_esc(inputs.learning_note)}</p>'
    if savings:
        body += "".join(f'<p class="note">{_esc(s.sentence())}</p>' for s in savings)
    elif charts.BASELINE_STRATEGY not in curves:
        body += '<p class="muted">No random-sampling run was given, so the labels saved cannot be measured.</p>'
    rows = [
        (
            name,
            c.seeds,
            c.labels[-1] if c.labels else None,
            c.mean[-1] if c.mean else None,
            (c.high[-1] - c.low[-1]) if c.mean else None,
        )
        for name, c in curves.items()
    ]
    body += table_html(
        ("strategy", "seeds", "labels at the end", f"final {metric_name} (mean)", "spread (max − min)"), rows
    )
    return section_html("learning", title, body)


def _with_bound(figures: Mapping[str, object], name: str) -> str:
    return f"{_fraction(figures.get(name))} (≥ {_fraction(figures.get(name + '_lower_bound'))})"


def machine_section(inputs: ReportInputs, facts: DatasetFacts) -> str:
    ml = inputs.machine_label_metrics
    if not ml and not facts.machine_sample:
        return section_html("machine", "Machine labels", '<p class="muted">no machine labels in this run</p>')
    threshold = ml.get("threshold")
    body = ""
    if ml:
        shown_threshold = (
            "none passed" if isinstance(threshold, (int, float)) and threshold > 1 else _fraction(threshold)
        )
        body += table_html(
            ("figure", "value"),
            [
                ("machine-labeled items", Markup(_count(ml.get("machine_labeled_items")))),
                ("left for humans", Markup(_count(ml.get("still_unlabeled_items")))),
                ("confidence threshold", shown_threshold),
                ("validation precision (lower bound)", _with_bound(ml, "validation_precision")),
                ("measured test precision (lower bound)", Markup(f"<b>{_esc(_with_bound(ml, 'test_precision'))}</b>")),
                ("test items above the threshold", Markup(_count(ml.get("test_items_above_threshold")))),
                ("thresholds chosen on", str(ml.get("calibration", "validation predictions"))),
                *((("outcome", str(ml["outcome"])),) if ml.get("outcome") else ()),
                *((k, _fraction(v)) for k, v in truth_figures(inputs.label_truth).items()),
            ],
        )
    tiles = gallery.bounded(
        (
            Tile(
                gallery.record_preview(r, inputs.limits),
                manifest.item_id(r),
                (
                    f"label {', '.join(manifest.labels_of(r))}",
                    f"confidence {_number(manifest.extra_of(r).get('label_confidence'))}",
                ),
            )
            for r in facts.machine_sample
        ),
        inputs.limits,
    )
    body += "<h3>Sample of machine labels, least confident first</h3>" + gallery.gallery_html(
        tiles, empty="no machine-labeled items in the final dataset"
    )
    return section_html("machine", "Machine labels", body)


# ---------------------------------------------------------------------------------------------
# Evaluation and gate

SCALAR_ORDER = (
    "accuracy",
    "macro_f1",
    "micro_f1",
    "au_prc",
    "au_roc",
    "log_loss",
    "ece",
    "mae",
    "rmse",
    "r2",
    "test_items",
)


def confusion_from_metadata(metadata: Mapping[str, object]) -> tuple[list[str], list[list[int]]]:
    """Class names and rows of a KFP ClassificationMetrics ``confusionMatrix`` (empty when absent)."""
    matrix = metadata.get("confusionMatrix") or {}
    names = [str(spec.get("displayName")) for spec in matrix.get("annotationSpecs", [])]
    rows = [[int(v) for v in row.get("row", [])] for row in matrix.get("rows", [])]
    return names, rows


def confusion_table_html(names: Sequence[str], rows: Sequence[Sequence[int]]) -> str:
    """The confusion matrix as a table, cells shaded by their share of the true class's row."""
    head = "<tr><th>true ↓ / predicted →</th>" + "".join(f"<th>{_esc(n)}</th>" for n in names) + "</tr>"
    body = []
    for name, row in zip(names, rows):
        total = sum(row) or 1
        cells = []
        for j, value in enumerate(row):
            share = value / total
            hue = "31,111,235" if names[j] == name else "198,40,40"
            colour = "#fff" if share > 0.55 else "inherit"
            if value == 0:
                cells.append('<td class="zero">0</td>')
            else:
                cells.append(f'<td style="background:rgba({hue},{max(share, 0.12):.2f});color:{colour}">{value}</td>')
        body.append(f"<tr><th>{_esc(name)}</th>{''.join(cells)}</tr>")
    return f'<table class="cm">{head}{"".join(body)}</table>'


def evaluation_section(inputs: ReportInputs) -> str:
    ev, cm = inputs.evaluation, inputs.classification_metrics
    if not ev and not cm:
        return section_html("evaluation", "Evaluation on the test split", '<p class="muted">no evaluation given</p>')
    scalars = [(k.replace("_", " "), ev[k] if k == "test_items" else _fraction(ev[k])) for k in SCALAR_ORDER if k in ev]
    per_label: dict[str, dict[str, float]] = {}
    for key, value in ev.items():
        if "/" in key:
            label, name = key.rsplit("/", 1)
            per_label.setdefault(label, {})[name] = value
    left = table_html(("metric", "value"), scalars)
    if per_label:
        left += table_html(
            ("label", "precision", "recall", "F1", ""),
            [
                (
                    label,
                    *(_fraction(v.get(n)) for n in ("precision", "recall", "f1")),
                    bar(v.get("f1") or 0.0, width_px=80),
                )
                for label, v in sorted(per_label.items())
            ],
        )
    names, rows = confusion_from_metadata(cm)
    right = ("<h3>Confusion matrix</h3>" + confusion_table_html(names, rows)) if rows else ""
    curves = dict(inputs.pr_curves)
    roc = cm.get("confidenceMetrics") or []
    if not curves and roc and rows:
        items = sum(sum(r) for r in rows)
        recall, precision = charts.precision_recall_from_roc(
            [p.get("falsePositiveRate", 0.0) for p in roc],
            [p.get("recall", 0.0) for p in roc],
            positives=items,
            negatives=items * (len(names) - 1),
        )
        if recall:
            curves = {"micro-average (from the ROC curve)": (recall, precision)}
    if curves:
        right += "<h3>Precision–recall</h3>" + png_img(charts.pr_curves_png(curves), "precision-recall curves")
    body = f'<div class="cols"><div>{left}</div><div>{right}</div></div>'
    return section_html("evaluation", "Evaluation on the test split", body)


def gate_section(inputs: ReportInputs) -> str:
    if inputs.blessed is None:
        return section_html("gate", "Promotion gate", '<p class="muted">the gate did not run</p>')
    verdict = '<span class="verdict ok">BLESSED</span>' if inputs.blessed else '<span class="verdict no">REFUSED</span>'
    items = []
    for reason in inputs.gate_reasons:
        text = str(reason)
        word, _, rest = text.partition(" ")
        if word in ("PASS", "FAIL"):
            items.append(f'<li><span class="{word.lower()}">{word}</span> {_esc(rest)}</li>')
        else:
            items.append(f"<li>{_esc(text)}</li>")
    champion = f"<p>Champion version after the gate: <b>{_esc(inputs.champion_version or '(none)')}</b></p>"
    reasons = f'<ul class="reasons">{"".join(items)}</ul>' if items else '<p class="muted">no reasons recorded</p>'
    return section_html("gate", "Promotion gate", f"<p>{verdict}</p>{reasons}{champion}")


# ---------------------------------------------------------------------------------------------
# The page

NAV = (
    ("import", "Import"),
    ("prefilter", "Prefilter"),
    ("split", "Split"),
    ("labeling", "Labeling"),
    ("learning", "Active learning"),
    ("machine", "Machine labels"),
    ("evaluation", "Evaluation"),
    ("gate", "Gate"),
)


def build_run_report(inputs: ReportInputs) -> RunReport:
    """The one-page run report: headline figures, then each step with its galleries and charts.

    Images are embedded as small thumbnails and charts as PNGs, so the page is one file with no
    external asset, script or iframe; every section degrades to a note when its input is missing.
    """
    triples = _annotation_triples(inputs.annotations)
    quality = labeling_quality(
        triples, inputs.classes, review_threshold=inputs.review_threshold, limit=inputs.limits.tiles
    )
    review_ids = {item_id for item_id, _ in quality.review}
    facts = read_dataset(
        inputs.dataset, machine_sample=inputs.limits.tiles, review_ids=review_ids, target_column=inputs.target_column
    )
    figures = headline_figures(inputs, facts)
    nav = "<nav>" + "".join(f'<a href="#{a}">{_esc(t)}</a>' for a, t in NAV) + "</nav>"
    sections = [
        import_section(inputs),
        prefilter_section(inputs),
        split_section(facts),
        labeling_section(inputs, facts, quality),
        learning_section(inputs),
        machine_section(inputs, facts),
        evaluation_section(inputs),
        gate_section(inputs),
    ]
    page = (
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>"
        "<meta name='viewport' content='width=device-width,initial-scale=1'>"
        f"<title>{_esc(inputs.title)}</title><style>{PAGE_STYLE}</style></head><body><main>"
        f'<header class="top"><h1>{_esc(inputs.title)}</h1>{nav}</header>'
        f"{cards_html(figures)}{''.join(sections)}</main></body></html>\n"
    )
    return RunReport(page, figures)


def write_run_report(path: str, report: RunReport) -> None:
    """Write the page atomically (local path or ``gs://``)."""
    with manifest.atomic_writer(path) as handle:
        handle.write(report.html.encode("utf-8"))


COMPARISON_NOTE = (
    "Measured in this run on its own final dataset: both strategies start from the same random batch per seed, "
    "then label the run's batch sizes with true labels and a logistic regression on image features, scored on "
    "the validation and test items after each batch. Lines are the mean over seeds, bands the min-max spread."
)


def inputs_from_run(
    *,
    store_uri: str = "",
    dataset_name: str = "",
    annotation_store_uri: str = "",
    active_learning_config: str = "",
    ground_truth_uri: str = "",
    comparison_seeds: int = 0,
    classification_metrics: Mapping[str, object] | None = None,
    **fields: object,
) -> ReportInputs:
    """:class:`ReportInputs` from a pipeline run's stores and artifacts.

    The annotations and the ledger come from the annotation store (the ledger with its dispute
    review's, :func:`annotation_store.review_store_uri`); the learning curves are the
    configured strategy against random sampling over ``comparison_seeds`` seeds when ground truth
    is known (:mod:`strategy_comparison`), else the run's own round records from the version store.
    """
    from . import active_learning, strategy_comparison, versions
    from .annotation_store import AnnotationStore, review_store_uri

    annotations: Sequence = ()
    ledger: Sequence = ()
    if annotation_store_uri:
        store = AnnotationStore(annotation_store_uri)
        # the dispute review's reviewers are paid too: their ledger joins the spend (not their answers,
        # which are no votes of the crowd)
        review = AnnotationStore(review_store_uri(annotation_store_uri))
        annotations, ledger = store.load_annotations(), store.load_ledger() + review.load_ledger()
    cm = dict(classification_metrics or {})
    classes = tuple(confusion_from_metadata(cm)[0])
    runs: list[LearningRun] = []
    note = ""
    dataset = str(fields.get("dataset") or "")
    own_rounds = (
        active_learning.rounds_from_state(versions.read_state(store_uri, dataset_name).values)
        if store_uri and dataset_name
        else []
    )
    if comparison_seeds > 0 and ground_truth_uri and active_learning_config and dataset:
        runs = strategy_comparison.comparison_runs(
            items_path=dataset,
            ground_truth_uri=ground_truth_uri,
            config_json=active_learning_config,
            seeds=comparison_seeds,
        )
        note = COMPARISON_NOTE
    elif own_rounds:
        runs = [LearningRun(own_rounds[-1].strategy, own_rounds)]
        note = "This run's own rounds (no random-sampling run to compare with)."
    truth = label_truth(dataset, ground_truth_uri) if ground_truth_uri and dataset else None
    return ReportInputs(
        annotations=annotations,
        ledger=ledger,
        label_truth=truth,
        classes=classes,
        classification_metrics=cm,
        learning_runs=tuple(runs),
        learning_note=note,
        pipeline_rounds=tuple(own_rounds),
        **fields,
    )


# =============================================================================================
# The steps' own small pages (import, split): Markdown summaries as self-contained HTML

STYLE = """
body{font-family:system-ui,sans-serif;margin:2rem auto;max-width:1100px;color:#222}
h1{font-size:1.6rem}h3{font-size:1.1rem;margin-top:1.4rem}
table{border-collapse:collapse;margin:.5rem 0}td,th{border:1px solid #ddd;padding:.25rem .6rem;text-align:right}
th{background:#f5f5f5}td:first-child,th:first-child{text-align:left}
"""


def markdown_to_html(markdown: str) -> str:
    """Render headings, pipe tables, bullet lists and paragraphs; everything else is escaped text."""
    out: list[str] = []
    lines = markdown.splitlines()
    i = 0
    while i < len(lines):
        line = lines[i].rstrip()
        if not line:
            i += 1
        elif line.startswith("#"):
            level = min(len(line) - len(line.lstrip("#")) + 2, 6)
            out.append(f"<h{level}>{_inline(line.lstrip('#').strip())}</h{level}>")
            i += 1
        elif line.startswith("|"):
            block = []
            while i < len(lines) and lines[i].startswith("|"):
                block.append(lines[i])
                i += 1
            out.append(_table(block))
        elif line.lstrip().startswith(("- ", "* ")):
            items = []
            while i < len(lines) and lines[i].lstrip().startswith(("- ", "* ")):
                items.append(f"<li>{_inline(lines[i].lstrip()[2:])}</li>")
                i += 1
            out.append("<ul>" + "".join(items) + "</ul>")
        else:
            out.append(f"<p>{_inline(line)}</p>")
            i += 1
    return "\n".join(out)


def _inline(text: str) -> str:
    text = html.escape(text)
    text = re.sub(r"\*\*(.+?)\*\*", r"<b>\1</b>", text)
    return re.sub(r"`(.+?)`", r"<code>\1</code>", text)


def _table(block: Sequence[str]) -> str:
    rows = [[c.strip() for c in line.strip().strip("|").split("|")] for line in block]
    rows = [r for r in rows if not all(re.fullmatch(r":?-{3,}:?", c) for c in r)]
    if not rows:
        return ""
    head = "".join(f"<th>{_inline(c)}</th>" for c in rows[0])
    body = "".join("<tr>" + "".join(f"<td>{_inline(c)}</td>" for c in r) + "</tr>" for r in rows[1:])
    return f"<table><tr>{head}</tr>{body}</table>"


def markdown_page(title: str, markdown: str) -> str:
    """A self-contained HTML page from a step's Markdown summary, so every step's report is HTML."""
    return (
        "<!doctype html><html><head><meta charset='utf-8'>"
        f"<title>{html.escape(title)}</title><style>{STYLE}</style></head><body>"
        f"<h1>{html.escape(title)}</h1>\n{markdown_to_html(markdown)}\n</body></html>"
    )
