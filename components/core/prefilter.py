"""The image prefilter: drop unusable, blurry and duplicate images before anyone pays to label them.

Two streaming passes over the manifest. Pass one reads each image (local path or any fsspec URL),
decodes it safely at working size (:mod:`image_checks`) and keeps a few numbers per image: content
hash, flip-aware perceptual hash (:mod:`image_hash`), blur score (:mod:`blur`), size; the work is
spread over a pool of threads. Then duplicate groups are formed from identical content and
from perceptual hashes within the Hamming threshold (:mod:`near_duplicates`, sub-quadratic), and
each group keeps one representative: sharp before blurry, then the most pixels, then the earliest
line. Pass two streams the manifest again and writes every item either to the kept manifest (with
its facts in the ``labelloop`` object) or to the rejects manifest with a reason code. Items that
are not images (text) pass through untouched.
"""

from __future__ import annotations

import collections
import concurrent.futures
import functools
import os
from collections.abc import Iterator
from dataclasses import dataclass, field

import numpy as np

from . import blur, image_checks, image_hash, manifest, near_duplicates

EXACT_DUPLICATE = "exact_duplicate"
NEAR_DUPLICATE = "near_duplicate"
BLURRY = "blurry"
MISSING_ID = "missing_id"
INVALID_URI = "invalid_uri"
DEFAULT_HAMMING_THRESHOLD = 8
#: Corner-crop hashes match another image's hash at this many bits fewer than ``hamming_threshold``
#: (5 at the default 8): tighter, because each image brings four of them.
CROP_THRESHOLD_MARGIN = 3
_IN_FLIGHT = 64


@dataclass(frozen=True)
class PrefilterSettings:
    """Which checks run and with which thresholds.

    Attributes:
        limits: Decode limits (minimum size, decompression-bomb pixel limit, working size).
        hamming_threshold: Largest perceptual-hash distance (of 64 bits) that makes a near duplicate.
        blur_threshold: Blur score (0 sharp .. 1 blurry) at or above which an image is blurry.
        exact_duplicates: Remove byte-identical copies.
        near_duplicates: Remove perceptual near duplicates (resized, re-encoded, mirrored ...).
        cropped_copies: Also find copies cropped by a few percent, through each image's corner-crop
            hashes (see :attr:`crop_hamming_threshold`).
        blurry: Remove blurry images.
        workers: Threads that read and decode images; 0 means one per CPU core.
    """

    limits: image_checks.DecodeLimits = field(default_factory=image_checks.DecodeLimits)
    hamming_threshold: int = DEFAULT_HAMMING_THRESHOLD
    blur_threshold: float = blur.DEFAULT_THRESHOLD
    exact_duplicates: bool = True
    near_duplicates: bool = True
    cropped_copies: bool = True
    blurry: bool = True
    workers: int = 0

    def __post_init__(self) -> None:
        if not 0 <= self.hamming_threshold < 64:
            raise ValueError(f"hamming_threshold must be 0..63 bits, got {self.hamming_threshold}")
        if not 0.0 < self.blur_threshold <= 1.0:
            raise ValueError(f"blur_threshold must be in (0, 1], got {self.blur_threshold}")
        if self.workers < 0:
            raise ValueError(f"workers must be >= 0 (0: one per core), got {self.workers}")

    @property
    def crop_hamming_threshold(self) -> int | None:
        """Largest distance between one image's corner-crop hash and another image's hash that makes
        the second a cropped copy of the first; None when that search is off. It follows
        ``hamming_threshold`` down, so lowering that (for images whose distinct items hash close
        together) never leaves the crop search looser than the main one."""
        if not (self.near_duplicates and self.cropped_copies):
            return None
        return max(self.hamming_threshold - CROP_THRESHOLD_MARGIN, 0)

    def thresholds(self) -> dict:
        """The settings as plain values, for metadata and metrics."""
        return {
            "hamming_threshold": self.hamming_threshold,
            "crop_hamming_threshold": self.crop_hamming_threshold,
            "blur_threshold": self.blur_threshold,
            "min_width": self.limits.min_width,
            "min_height": self.limits.min_height,
            "max_pixels": self.limits.max_pixels,
            "checks": [name for name in ("exact_duplicates", "near_duplicates", "blurry") if getattr(self, name)],
        }


@dataclass(frozen=True)
class ImageFacts:
    """What pass one learned about one image: a rejection, or its hashes, size and blur score."""

    line: int
    reason_code: str | None = None
    reason: str = ""
    content: str = ""
    phash: int | None = None  # None for flat images: no near-duplicate search
    corner_hashes: tuple[int, ...] = ()
    width: int = 0
    height: int = 0
    blur_score: float | None = None


@dataclass(frozen=True)
class Decision:
    """The outcome for one image line: kept (``reason_code`` None) or rejected, with its facts."""

    reason_code: str | None
    reason: str
    facts: dict


@dataclass(frozen=True)
class PrefilterResult:
    """Counts of one prefilter run."""

    items: int
    kept: int
    images: int
    passed_through: int
    rejected: dict[str, int]
    duplicate_groups: int
    thresholds: dict

    def summary(self) -> dict:
        return {
            "items": self.items,
            "kept": self.kept,
            "images": self.images,
            "passed_through": self.passed_through,
            "duplicate_groups": self.duplicate_groups,
            **{f"rejected_{code}": count for code, count in sorted(self.rejected.items())},
        }


# ---------------------------------------------------------------------------------------------
# Pass one: facts per image


def inspect_image(line: int, data: bytes, settings: PrefilterSettings) -> ImageFacts:
    """Facts about one image's bytes; bad bytes become a rejection, never an exception."""
    view = image_checks.decode_image(data, settings.limits)
    if isinstance(view, image_checks.ImageRejection):
        return ImageFacts(line, view.reason_code, view.reason)
    hashes = image_hash.fingerprint(view.gray)
    return ImageFacts(
        line,
        content=image_hash.content_hash(data),
        phash=None if hashes is None else hashes.phash,
        corner_hashes=() if hashes is None else hashes.corner_hashes,
        width=view.width,
        height=view.height,
        blur_score=None if hashes is None or not settings.blurry else blur.blur_score(view.gray),
    )


def read_and_inspect(task: tuple[int, str], settings: PrefilterSettings) -> ImageFacts:
    """Read one image file (local path or fsspec URL) and inspect it."""
    line, uri = task
    try:
        with manifest.open_file(uri, "rb") as handle:
            data = handle.read()
    except Exception as err:  # noqa: BLE001 - any storage failure makes this one item unreadable
        return ImageFacts(line, image_checks.UNREADABLE, f"cannot read {uri} ({type(err).__name__}: {err})")
    return inspect_image(line, data, settings)


def inspect_all(tasks: Iterator[tuple[int, str]], settings: PrefilterSettings) -> Iterator[ImageFacts]:
    """Inspect images in input order, on a pool of threads when more than one worker is asked for.

    Threads, not processes: decoding (Pillow), OpenCV, hashing and file reads release the GIL, so
    threads use every core without a process pool's start-up cost or copying of results, and a
    slow remote read does not hold up the others. At most ``_IN_FLIGHT`` images per worker are
    queued, so memory stays bounded on any manifest size.
    """
    workers = settings.workers or os.cpu_count() or 1
    work = functools.partial(read_and_inspect, settings=settings)
    if workers == 1:
        yield from map(work, tasks)
        return
    with concurrent.futures.ThreadPoolExecutor(workers, thread_name_prefix="prefilter") as pool:
        pending: collections.deque[concurrent.futures.Future] = collections.deque()
        for task in tasks:
            pending.append(pool.submit(work, task))
            if len(pending) >= workers * _IN_FLIGHT:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()


# ---------------------------------------------------------------------------------------------
# Grouping and decisions


@dataclass(frozen=True)
class _ImageTable:
    """Pass-one facts of the decodable images, as columns."""

    lines: np.ndarray
    ids: list[str]
    contents: np.ndarray
    phashes: np.ndarray
    corner_hashes: np.ndarray  # (images, 4); rows of flat images are zeros
    hashable: np.ndarray
    pixels: np.ndarray
    blur_scores: list[float | None]


def _chain_edges(labels: np.ndarray, members: np.ndarray) -> np.ndarray:
    """Edges linking consecutive members that share a label (a chain connects each label's group)."""
    order = np.argsort(labels, kind="stable")
    same = labels[order][1:] == labels[order][:-1]
    return np.stack([members[order][:-1][same], members[order][1:][same]], axis=1)


def duplicate_groups(table: _ImageTable, settings: PrefilterSettings) -> np.ndarray:
    """Group label per decodable image from identical content and near perceptual hashes."""
    n = len(table.lines)
    edges = [np.empty((0, 2), np.int64)]
    if settings.exact_duplicates and n:
        edges.append(_chain_edges(np.unique(table.contents, return_inverse=True)[1], np.arange(n)))
    if settings.near_duplicates and table.hashable.any():
        members = np.flatnonzero(table.hashable)
        labels = near_duplicates.near_duplicate_groups(
            table.phashes[members], settings.hamming_threshold, flip_mask=image_hash.MIRROR_MASK
        )
        edges.append(_chain_edges(labels, members))
        if settings.crop_hamming_threshold is not None:
            edges.append(_cropped_copy_edges(table, members, settings.crop_hamming_threshold))
    return near_duplicates.groups_from_pairs(n, np.concatenate(edges))


def _cropped_copy_edges(table: _ImageTable, members: np.ndarray, threshold: int) -> np.ndarray:
    """Edges (i, j) where a corner crop of image i hashes within ``threshold`` of image j."""
    corners = table.corner_hashes[members]
    pairs = near_duplicates.pairs_between(
        corners.ravel(), table.phashes[members], threshold, flip_mask=image_hash.MIRROR_MASK
    )
    owners, others = members[pairs[:, 0] // corners.shape[1]], members[pairs[:, 1]]
    return np.stack([owners, others], axis=1)[owners != others]


def decide(table: _ImageTable, settings: PrefilterSettings) -> tuple[dict[int, Decision], int]:
    """Decision per image line, and how many duplicate groups (of two or more) there are."""
    if len(table.ids) == 0:
        return {}, 0
    groups = duplicate_groups(table, settings)
    blurry = [settings.blurry and blur.is_blurry(score, settings.blur_threshold) for score in table.blur_scores]
    decisions: dict[int, Decision] = {}
    order = np.lexsort((table.lines, -table.pixels, np.array(blurry, bool), groups))
    boundaries = np.flatnonzero(np.diff(groups[order])) + 1
    multi = 0
    for members in np.split(order, boundaries):
        representative = int(members[0])
        copies = [int(m) for m in members[1:]]
        multi += bool(copies)
        rep_id = table.ids[representative]
        for member in members:
            member = int(member)
            facts = {
                "duplicate_group": rep_id,
                "blur_score": None if table.blur_scores[member] is None else round(table.blur_scores[member], 4),
                "blurry": blurry[member],
            }
            if member == representative:
                facts["duplicates"] = [table.ids[c] for c in copies]
            decisions[int(table.lines[member])] = _member_decision(member, representative, table, blurry, facts)
    return decisions, multi


def _member_decision(member: int, representative: int, table: _ImageTable, blurry: list[bool], facts: dict) -> Decision:
    rep_id = table.ids[representative]
    if member != representative and table.contents[member] == table.contents[representative]:
        return Decision(EXACT_DUPLICATE, f"byte-identical to {rep_id}, which is kept in its place", facts)
    if blurry[member]:
        score = facts["blur_score"]
        return Decision(BLURRY, f"blur score {score} is at or above the threshold; retake or drop the image", facts)
    if member != representative:
        return Decision(NEAR_DUPLICATE, f"near duplicate of {rep_id} (perceptual hash), which is kept", facts)
    return Decision(None, "", facts)


# ---------------------------------------------------------------------------------------------
# The two passes


def _image_uri(record: dict) -> str | None:
    return record.get("imageGcsUri")


def _record_problem(record: dict) -> tuple[str, str] | None:
    """Why a record cannot be prefiltered at all, or None."""
    labels = record.get("dataItemResourceLabels")
    if not isinstance(labels, dict) or not labels.get(manifest.ID_KEY):
        return (
            MISSING_ID,
            f"record has no dataItemResourceLabels.{manifest.ID_KEY}; run it through import_dataset first",
        )
    uri = _image_uri(record)
    if uri is not None and (not isinstance(uri, str) or not uri.strip()):
        return INVALID_URI, f"imageGcsUri must be a non-empty string, got {uri!r}"
    return None


def inspectable_uri(record: dict) -> str | None:
    """The image URI pass one reads for this record, or None (not an image, or rejected before reading)."""
    uri = _image_uri(record)
    return uri if uri is not None and _record_problem(record) is None else None


def image_table(good: list[ImageFacts], ids: dict[int, str]) -> _ImageTable:
    """The table of the decodable images' facts (``good``, in line order); ``ids`` maps line to item id."""
    return _ImageTable(
        lines=np.array([f.line for f in good], np.int64),
        ids=[ids[f.line] for f in good],
        contents=np.array([f.content for f in good], dtype="U32"),
        phashes=np.array([f.phash or 0 for f in good], np.uint64),
        corner_hashes=np.array([f.corner_hashes or (0,) * 4 for f in good], np.uint64).reshape(len(good), 4),
        hashable=np.array([f.phash is not None for f in good], bool),
        pixels=np.array([f.width * f.height for f in good], np.int64),
        blur_scores=[f.blur_score for f in good],
    )


def _collect_facts(input_path: str, settings: PrefilterSettings) -> tuple[_ImageTable, dict[int, ImageFacts]]:
    """Pass one: facts per image line; rejected images are returned separately by line."""
    ids: dict[int, str] = {}

    def tasks() -> Iterator[tuple[int, str]]:
        for line in manifest.read_lines(input_path):
            uri = inspectable_uri(line.record)
            if uri is not None:
                ids[line.number] = manifest.item_id(line.record)
                yield line.number, uri

    good: list[ImageFacts] = []
    failed: dict[int, ImageFacts] = {}
    for facts in inspect_all(tasks(), settings):
        if facts.reason_code is None:
            good.append(facts)
        else:
            failed[facts.line] = facts
    return image_table(good, ids), failed


def prefilter_manifest(
    input_path: str, kept_path: str, rejects_path: str, settings: PrefilterSettings, *, step: str
) -> PrefilterResult:
    """Prefilter a manifest: write kept items and rejects, return the counts.

    Args:
        input_path: JSONL manifest (items carry ``labelloop_id``).
        kept_path: Where the kept items go (JSONL), each image with its facts in ``labelloop``.
        rejects_path: Where every removed item goes, with a reason code.
        settings: Checks and thresholds.
        step: The name the rejects record as their producer (the calling component's).

    Returns:
        A :class:`PrefilterResult`; every input item is counted as kept or rejected.
    """
    table, failed = _collect_facts(input_path, settings)
    return write_decisions(input_path, kept_path, rejects_path, table, failed, settings, step=step)


def write_decisions(
    input_path: str,
    kept_path: str,
    rejects_path: str,
    table: _ImageTable,
    failed: dict[int, ImageFacts],
    settings: PrefilterSettings,
    *,
    step: str,
) -> PrefilterResult:
    """Pass two: decide over pass one's ``table`` (and ``failed`` images) and write kept and rejects
    in the manifest's order. The sharded prefilter calls it with the facts of every shard."""
    decisions, groups = decide(table, settings)
    items = kept = images = passed = 0
    with manifest.RejectsWriter(rejects_path, step) as rejects, manifest.atomic_writer(kept_path) as out:
        for line in manifest.read_lines(input_path):
            items += 1
            record = line.record
            problem = _record_problem(record)
            if problem is not None:
                rejects.reject(record, *problem, line=line.number)
                continue
            if _image_uri(record) is None:
                passed += 1
                kept += 1
                out.write(manifest.dumps(record))
                continue
            images += 1
            if line.number in failed:
                facts = failed[line.number]
                rejects.reject(record, facts.reason_code, f"{record['imageGcsUri']}: {facts.reason}", line=line.number)
                continue
            decision = decisions[line.number]
            annotated = manifest.with_extra(record, **decision.facts)
            if decision.reason_code is None:
                kept += 1
                out.write(manifest.dumps(annotated))
            else:
                rejects.reject(annotated, decision.reason_code, decision.reason, line=line.number)
        rejected = dict(rejects.counts)
    return PrefilterResult(items, kept, images, passed, rejected, groups, settings.thresholds())
