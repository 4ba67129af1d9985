"""What a label-verification job changed: suspects, confirmed and corrected labels, spend, accounting.

The ``verify-labels`` pipeline sends the likely mislabeled items (:mod:`label_issues`) to humans
(``label_items``) and merges their answers (:mod:`merge`: a verified label overwrites the old one,
kept in ``labelloop.label_history``). :func:`verification_outcome` reads the four manifests of that
run and says, per suspect, whether people confirmed the label, corrected it or did not answer, what
it cost, and that every input item is in the new version. With the hidden true labels (simulated
crowd) it also scores the flagging and the labels before and after.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from . import manifest


class AccountingError(ValueError):
    """The new version does not hold exactly the input items."""


@dataclass(frozen=True)
class GroundTruthScore:
    """The run against the true labels: how well suspects were flagged, and wrong labels before/after."""

    wrong_before: int
    flagged_wrong: int
    wrong_after: int
    fixed: int
    broken: int

    def metrics(self, suspects: int) -> dict[str, float]:
        precision = self.flagged_wrong / suspects if suspects else 0.0
        recall = self.flagged_wrong / self.wrong_before if self.wrong_before else 0.0
        return {
            "wrong_labels_before": self.wrong_before,
            "wrong_labels_after": self.wrong_after,
            "suspect_precision": precision,
            "suspect_recall": recall,
            "wrong_labels_fixed": self.fixed,
            "right_labels_broken": self.broken,
        }


@dataclass(frozen=True)
class VerificationOutcome:
    """One verification run, counted.

    Attributes:
        items_in: items of the dataset that was verified.
        items_out: items of the new version (equal to ``items_in``: nothing lost, nothing added).
        suspects: items sent to humans.
        confirmed: suspects whose human label equals the label they had.
        corrected: suspects whose human label differs; the new version holds the human one.
        disputed: suspects whose labelers disagreed (``needs_review``) without outvoting the label;
            it is kept, the humans' answer beside it as ``labelloop.disputed_label``.
        unverified: suspects people did not label (over budget, no answer yet); their label is kept.
        spend_usd: what this job paid (the labels it bought).
        ledger_spend_usd: the annotation store's ledger total, every job that used the store.
        labels_bought: labels bought by this job.
        labels_reused: labels of these items already in the annotation store, used instead of asking again.
        corrections: ``(item id, old label, new label)`` of the corrected suspects, most suspect first.
        version_id: the new dataset version.
        truth: the run scored against the true labels, when they were given.
    """

    items_in: int
    items_out: int
    suspects: int
    confirmed: int
    corrected: int
    disputed: int
    unverified: int
    spend_usd: float
    ledger_spend_usd: float
    labels_bought: int
    labels_reused: int
    corrections: tuple[tuple[str, str, str], ...]
    version_id: str = ""
    truth: GroundTruthScore | None = None

    def metrics(self) -> dict[str, float]:
        """The figures a component logs."""
        figures = {
            "items_in": self.items_in,
            "items_out": self.items_out,
            "suspects": self.suspects,
            "verified": self.confirmed + self.corrected,
            "confirmed": self.confirmed,
            "corrected": self.corrected,
            "disputed": self.disputed,
            "unverified": self.unverified,
            "sent_fraction": self.suspects / self.items_in if self.items_in else 0.0,
            "corrected_fraction": self.corrected / self.items_in if self.items_in else 0.0,
            "spend_usd": self.spend_usd,
            "ledger_spend_usd": self.ledger_spend_usd,
            "labels_bought": self.labels_bought,
            "labels_reused": self.labels_reused,
        }
        if self.truth is not None:
            figures.update(self.truth.metrics(self.suspects))
        return {k: float(v) for k, v in figures.items()}


def _labels_by_id(path: str) -> dict[str, str | None]:
    return {manifest.item_id(r): manifest.label_of(r) for r in manifest.read_jsonl(path)}


def _count(path: str) -> int:
    return sum(1 for _ in manifest.read_lines(path))


def verification_outcome(
    items_path: str,
    suspects_path: str,
    labeled_path: str,
    versioned_path: str,
    *,
    labeling_metrics: Mapping[str, float],
    ledger_spend_usd: float,
    version_id: str = "",
    truth: Mapping[str, str] | None = None,
) -> VerificationOutcome:
    """Count a verification run from its manifests: the dataset before, the suspects, the labeled
    suspects (``label_items``' ``labeled``) and the new version.

    Raises:
        AccountingError: naming an item that is in one of dataset and new version but not the other.
    """
    before, after = _labels_by_id(items_path), _labels_by_id(versioned_path)
    missing, extra = before.keys() - after.keys(), after.keys() - before.keys()
    if missing:
        raise AccountingError(
            f"{len(missing)} item(s) of the dataset are not in the new version (first: {min(missing)}); "
            "merge the labeled suspects into the dataset they were found in"
        )
    if extra:
        raise AccountingError(
            f"{len(extra)} item(s) of the new version were not in the dataset (first: {min(extra)}); "
            "merge without allow_new"
        )
    items_in, items_out = _count(items_path), _count(versioned_path)
    if items_in != items_out:
        raise AccountingError(f"the dataset has {items_in} lines but the new version {items_out}")
    given = {manifest.item_id(r): manifest.extra_of(r).get("given_label") for r in manifest.read_jsonl(suspects_path)}
    answered = {manifest.item_id(r): r for r in manifest.read_jsonl(labeled_path)}
    confirmed = corrected = disputed = unverified = 0
    corrections = []
    for item, old in given.items():
        record = answered.get(item, {})
        new = manifest.label_of(record) if record else None
        if new is None:
            unverified += 1
        elif after.get(item) != new:  # the merge kept the label: the labelers disagreed, not enough to outvote it
            disputed += 1
        elif new == old:
            confirmed += 1
        else:
            corrected += 1
            corrections.append((item, str(old), new))
    bought = int(labeling_metrics.get("labels_bought_this_run", 0))
    return VerificationOutcome(
        items_in=items_in,
        items_out=items_out,
        suspects=len(given),
        confirmed=confirmed,
        corrected=corrected,
        disputed=disputed,
        unverified=unverified,
        spend_usd=float(labeling_metrics.get("spend_this_run_usd", 0.0)),
        ledger_spend_usd=ledger_spend_usd,
        labels_bought=bought,
        labels_reused=int(labeling_metrics.get("labels_total", bought)) - bought,
        corrections=tuple(corrections),
        version_id=version_id,
        truth=None if truth is None else score_against_truth(before, after, set(given), truth),
    )


def score_against_truth(
    before: Mapping[str, str | None], after: Mapping[str, str | None], flagged: set[str], truth: Mapping[str, str]
) -> GroundTruthScore:
    """Wrong labels before and after, and how many wrong ones were flagged, over the items with a true label."""
    known = [i for i in before if i in truth and before[i] is not None]
    wrong_before = {i for i in known if before[i] != truth[i]}
    wrong_after = {i for i in known if after[i] != truth[i]}
    return GroundTruthScore(
        wrong_before=len(wrong_before),
        flagged_wrong=len(wrong_before & flagged),
        wrong_after=len(wrong_after),
        fixed=len(wrong_before - wrong_after),
        broken=len(wrong_after - wrong_before),
    )


def read_truth(path: str) -> dict[str, str]:
    """Single-label true labels ``{"id", "label"}`` by item id (the simulated crowd's ground truth file)."""
    from .simulated_crowd import read_ground_truth

    classes = {str(r.get("label")) for r in manifest.read_jsonl(path)}
    return {k: v for k, v in read_ground_truth(path, sorted(classes)).items() if isinstance(v, str)}


def report_html(outcome: VerificationOutcome, *, top: int = 100) -> str:
    """The verification report: what was sent, confirmed, corrected, left; spend; the corrections."""
    from .labeling_job import ReportSection, render_report_html

    verified = outcome.confirmed + outcome.corrected
    sections = [
        ReportSection(
            "Verification",
            f"{outcome.suspects} of {outcome.items_in} items were sent to people as likely mislabeled; "
            f"{verified} were settled: {outcome.confirmed} confirmed, {outcome.corrected} corrected. "
            f"{outcome.disputed} were disputed (the labelers disagreed) and {outcome.unverified} were not labeled: "
            "they keep their label (a disputed answer is kept as labelloop.disputed_label for review). The new version "
            f"{outcome.version_id or '(not versioned)'} holds all {outcome.items_out} items; a corrected item "
            "keeps its old label in labelloop.label_history. "
            f"This job paid ${outcome.spend_usd:.2f} for {outcome.labels_bought} labels "
            f"(the annotation store's ledger: ${outcome.ledger_spend_usd:.2f} in all).",
        ),
        ReportSection("Figures", header=("figure", "value"), rows=tuple(sorted(outcome.metrics().items()))),
    ]
    if outcome.labels_reused:
        sections.append(
            ReportSection(
                "Labels reused",
                f"{outcome.labels_reused} labels of these items were already in the annotation store and were "
                "reused, not asked again. To have people look afresh, give the verification job an annotation "
                "store of its own.",
            )
        )
    if outcome.corrections:
        sections.append(
            ReportSection(
                f"Corrected labels ({outcome.corrected})",
                header=("item", "old label", "verified label"),
                rows=outcome.corrections[:top],
            )
        )
    return render_report_html("Label verification", sections)
