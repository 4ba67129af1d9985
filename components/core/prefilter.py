"""The image prefilter: drop unusable, blurry and duplicate images before anyone pays to label them.

Two streaming passes over the manifest. Pass one reads each image (local path or any fsspec URL),
decodes it safely at working size (:mod:`image_checks`) and keeps a few numbers per image: content
hash, flip-aware perceptual hash (:mod:`image_hash`), blur score (:mod:`blur`), size; the work is
spread over a pool of threads. Then duplicate groups are formed from identical content and
from perceptual hashes within the Hamming threshold (:mod:`near_duplicates`, sub-quadratic); each
hash match is confirmed by a second, independent check (the correlation of small normalised
thumbnails, :func:`image_hash.signature_correlation`, between frames of about the same shape) and
every copy must be confirmed against the kept image itself, so a chain of matches cannot join
distinct images. Each group keeps its best *usable* (not blurry) copy, so a blurry representative
never takes its sharp copies with it; the
best copy is the one with the most pixels, then the least shifted tone, then the least compressed
(JPEG quantization from the file header), then the fewest clipped highlights, then the sharpest,
then the most bytes per pixel, then the earliest line (:func:`choose_representative`; ties
within a small tolerance go on to the next criterion). The kept item records why it was chosen,
each removed copy the kept id and
its distances. Pass two streams the manifest again and writes every item either to the kept manifest (with
its facts in the ``labelloop`` object) or to the rejects manifest with a reason code. Items that
are not images (text) pass through untouched.
"""

from __future__ import annotations

import collections
import concurrent.futures
import functools
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import cv2
import numpy as np

from . import blur, image_checks, image_hash, manifest, near_duplicates
from .progress import Progress

EXACT_DUPLICATE = "exact_duplicate"
NEAR_DUPLICATE = "near_duplicate"
BLURRY = "blurry"
MISSING_ID = "missing_id"
INVALID_URI = "invalid_uri"
DEFAULT_HAMMING_THRESHOLD = 8
#: Thumbnail correlation (:func:`image_hash.signature_correlation`) at or above which a hash match is
#: confirmed as a copy; corner-crop matches (copies cropped by a few percent, whose thumbnails are
#: shifted) need :data:`MIN_CROP_CORRELATION`.
MIN_CORRELATION = 0.9
MIN_CROP_CORRELATION = 0.8
#: Quality-order tolerances: blur scores this close (about what re-encoding or resizing a copy moves
#: them), and bytes per pixel within this ratio, tie.
SHARPNESS_TOLERANCE = 0.012
BYTES_PER_PIXEL_TOLERANCE = 0.1
#: JPEG quantization (mean of the luminance table, plus one) within this log ratio ties: about 1.5x,
#: so quality 92 and 90 tie while 92 and 85 or below do not.
QUANTIZATION_TOLERANCE = 0.4
#: Share of clipped (near-white) working pixels that counts as the same.
CLIPPED_TOLERANCE = 0.002
#: Tone shift (absolute log ratio of a copy's mean gray level to the group's shared tone) that counts as
#: the same tone: 0.03 is about 3 %, below the brightness changes copies are made with.
TONE_TOLERANCE = 0.03
#: Gray level at or above which a working pixel counts as a clipped highlight.
CLIPPED_LEVEL = 254
#: Corner-crop hashes match another image's hash at this many bits fewer than ``hamming_threshold``
#: (5 at the default 8): tighter, because each image brings four of them.
CROP_THRESHOLD_MARGIN = 3
#: Largest change of frame shape (absolute log ratio of width/height) between two images that can
#: still be copies: 0.1 is a crop of about 10 % of one side only, twice the few-percent crops the
#: corner-crop hashes are made to find; resizing, re-encoding, toning and mirroring keep the shape.
MAX_ASPECT_CHANGE = 0.1
_IN_FLIGHT = 64


def frame_aspect(width: np.ndarray, height: np.ndarray) -> np.ndarray:
    """``log(width / height)`` per frame, what :data:`MAX_ASPECT_CHANGE` bounds (the sharded merge
    computes the same column from the facts files)."""
    return np.log(np.asarray(width, np.float64) / np.asarray(height, np.float64))


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
    signature: np.ndarray | None = None
    width: int = 0
    height: int = 0
    blur_score: float = 0.0
    quantization: float = 0.0
    bytes_per_pixel: float = 0.0
    clipped: float = 0.0
    mean_gray: float = 0.0


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
        signature=None if hashes is None else hashes.signature,
        width=view.width,
        height=view.height,
        blur_score=blur.blur_score(view.gray),
        quantization=view.quantization,
        bytes_per_pixel=len(data) / (view.width * view.height),
        clipped=cv2.countNonZero(cv2.compare(view.gray, CLIPPED_LEVEL - 1, cv2.CMP_GT)) / view.gray.size,
        mean_gray=float(cv2.mean(view.gray)[0]),
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
    signatures: np.ndarray  # (images, SIGNATURE_SIDE**2); rows of flat images are zeros
    hashable: np.ndarray
    pixels: np.ndarray
    blur_scores: np.ndarray
    quantization: np.ndarray
    bytes_per_pixel: np.ndarray
    clipped: np.ndarray
    mean_gray: np.ndarray
    aspect: np.ndarray  # log(width / height)


@dataclass(frozen=True)
class CandidatePairs:
    """Pairs (i, j) of image rows that may be copies, and how each was found (0 exact, 1 hash, 2 corner crop)."""

    pairs: np.ndarray
    kinds: np.ndarray


_EXACT, _HASH, _CROP = 0, 1, 2


def _chain_edges(labels: np.ndarray, members: np.ndarray) -> np.ndarray:
    """Edges linking consecutive members that share a label (a chain connects each label's group)."""
    order = np.argsort(labels, kind="stable")
    same = labels[order][1:] == labels[order][:-1]
    return np.stack([members[order][:-1][same], members[order][1:][same]], axis=1)


def candidate_pairs(table: _ImageTable, settings: PrefilterSettings) -> CandidatePairs:
    """Pairs that identical content, a near perceptual hash or a corner-crop hash put forward."""
    n = len(table.lines)
    parts, kinds = [np.empty((0, 2), np.int64)], [np.empty(0, np.int8)]

    def add(pairs: np.ndarray, kind: int) -> None:
        parts.append(pairs.astype(np.int64))
        kinds.append(np.full(len(pairs), kind, np.int8))

    if settings.exact_duplicates and n:
        add(_chain_edges(np.unique(table.contents, return_inverse=True)[1], np.arange(n)), _EXACT)
    if settings.near_duplicates and table.hashable.any():
        members = np.flatnonzero(table.hashable)
        unique, inverse = np.unique(table.phashes[members], return_inverse=True)
        same_hash = _chain_edges(inverse, members)  # identical hashes: one search entry
        found = near_duplicates.near_duplicate_pairs(
            unique, settings.hamming_threshold, flip_mask=image_hash.MIRROR_MASK
        )
        first = members[np.unique(inverse, return_index=True)[1]]  # one image row per unique hash
        add(np.concatenate([same_hash, first[found].reshape(-1, 2)]), _HASH)
        if settings.crop_hamming_threshold is not None:
            add(_cropped_copy_edges(table, members, settings.crop_hamming_threshold), _CROP)
    return CandidatePairs(np.concatenate(parts), np.concatenate(kinds))


def _cropped_copy_edges(table: _ImageTable, members: np.ndarray, threshold: int) -> np.ndarray:
    """Edges (i, j) where a corner crop of image i hashes within ``threshold`` of image j."""
    corners = table.corner_hashes[members]
    pairs = near_duplicates.pairs_between(
        corners.ravel(), table.phashes[members], threshold, flip_mask=image_hash.MIRROR_MASK
    )
    owners, others = members[pairs[:, 0] // corners.shape[1]], members[pairs[:, 1]]
    return np.stack([owners, others], axis=1)[owners != others]


def _same_shape(table: _ImageTable, rows: np.ndarray, others: np.ndarray | int) -> np.ndarray:
    """Whether each frame in ``rows`` has about the shape of its counterpart in ``others``."""
    return np.abs(table.aspect[rows] - table.aspect[others]) <= MAX_ASPECT_CHANGE


def confirmed(table: _ImageTable, pairs: np.ndarray, kinds: np.ndarray) -> np.ndarray:
    """Which candidate pairs the second check confirms: identical content always; a hash match when
    the thumbnails correlate (:data:`MIN_CORRELATION`, :data:`MIN_CROP_CORRELATION` for crops) and
    the frames have about the same shape (:data:`MAX_ASPECT_CHANGE`: low-texture views that overlap,
    a pier in fog cropped twice, correlate like copies at thumbnail size but are framed differently)."""
    if not len(pairs):
        return np.zeros(0, bool)
    correlation = image_hash.signature_correlation(table.signatures[pairs[:, 0]], table.signatures[pairs[:, 1]])
    needed = np.where(kinds == _CROP, MIN_CROP_CORRELATION, MIN_CORRELATION)
    same_content = table.contents[pairs[:, 0]] == table.contents[pairs[:, 1]]
    same_shape = _same_shape(table, pairs[:, 0], pairs[:, 1])
    return same_content | ((correlation >= needed) & same_shape)


def duplicate_groups(table: _ImageTable, settings: PrefilterSettings) -> np.ndarray:
    """Group label per decodable image from confirmed candidate pairs (connected components)."""
    candidates = candidate_pairs(table, settings)
    keep = confirmed(table, candidates.pairs, candidates.kinds)
    return near_duplicates.groups_from_pairs(len(table.lines), candidates.pairs[keep])


@dataclass(frozen=True)
class Choice:
    """The representative of a set of copies and the criteria that decided it, in order."""

    representative: int
    kept_because: tuple[str, ...]


def shared_tone(mean_gray: np.ndarray, pixels: np.ndarray) -> float:
    """The tone (mean gray level) that most copies share: the tone of the copy with the most others
    within :data:`TONE_TOLERANCE` of it, counting among all copies, then (to break a tie) among the
    full-size ones (a copy that was also resized or cropped was edited more, so its tone is weaker
    evidence); the median when copies of different tones are still equally many. A plain median
    fails with an even count: with the original and its mirror at one tone and a brightened copy
    and a smaller brightened copy at another it falls halfway, and the original and the brightened
    copy tie."""
    gray = np.asarray(mean_gray, np.float64)
    logs = np.log(gray + 1.0)
    close = np.abs(logs[:, None] - logs[None, :]) <= TONE_TOLERANCE
    full = np.asarray(pixels) == np.max(pixels)
    score = close.sum(axis=1) * (len(gray) + 1) + (close & full[None, :]).sum(axis=1)
    best = logs[score == score.max()]
    if best.max() - best.min() > TONE_TOLERANCE:
        return float(np.median(gray))
    return float(np.exp(np.median(best)) - 1.0)


def choose_representative(members: list[int], table: _ImageTable) -> Choice:
    """The best copy among ``members`` (image rows): the most pixels, then the least shifted tone
    (mean gray level closest to the tone most members share, :func:`shared_tone`, so brightened
    or darkened copies lose to the original when most copies keep its tone), then the least
    compressed (JPEG quantization, within :data:`QUANTIZATION_TOLERANCE`), then the fewest clipped
    highlights, then the sharpest, then the most bytes per pixel, then the earliest line.
    Tone, compression and clipping come before sharpness because the sharpness score cannot tell
    detail from damage: a brightness boost raises contrast, coarse quantization adds 8x8 block
    edges and clipping adds hard edges where highlights burn out, and each reads as sharper.
    Each criterion keeps the members that tie with the best within its tolerance;
    ``kept_because`` names the criteria that removed a contender (``earliest line`` when a tie
    remained to the end, ``only copy`` for a single member)."""
    if len(members) == 1:
        return Choice(members[0], ("only copy",))
    tone = shared_tone(table.mean_gray[members], table.pixels[members])
    criteria = [
        ("most pixels", lambda m: -float(table.pixels[m]), 0.0),
        ("least shifted tone", lambda m: abs(float(np.log((table.mean_gray[m] + 1.0) / (tone + 1.0)))), TONE_TOLERANCE),
        ("least compressed", lambda m: float(np.log1p(table.quantization[m])), QUANTIZATION_TOLERANCE),
        ("fewest clipped highlights", lambda m: float(table.clipped[m]), CLIPPED_TOLERANCE),
        ("sharpest", lambda m: float(table.blur_scores[m]), SHARPNESS_TOLERANCE),
        (
            "most bytes per pixel",
            lambda m: -float(np.log(max(table.bytes_per_pixel[m], 1e-9))),
            BYTES_PER_PIXEL_TOLERANCE,
        ),
    ]
    contenders, because = list(members), []
    for name, value, tolerance in criteria:
        best = min(value(m) for m in contenders)
        remaining = [m for m in contenders if value(m) <= best + tolerance]
        if len(remaining) < len(contenders):
            because.append(name)
        contenders = remaining
        if len(contenders) == 1:
            return Choice(contenders[0], tuple(because))
    earliest = min(contenders, key=lambda m: int(table.lines[m]))
    return Choice(earliest, (*because, "earliest line"))


@dataclass(frozen=True)
class _Group:
    """One resolved set of copies: its kept image (None when every member is blurry) and members."""

    representative: int
    members: list[int]
    kept_because: tuple[str, ...]


def _resolve_component(component: list[int], table: _ImageTable, blurry: np.ndarray) -> list[_Group]:
    """Split one connected component into groups of copies of a kept image.

    The best usable member is kept; a member joins its group only when it is a confirmed copy of
    that kept image itself (same content, or thumbnails correlating at :data:`MIN_CROP_CORRELATION`
    and a frame of about the same shape),
    so a chain A~B~C never makes C a copy of A. The rest is resolved again. Blurry members join the
    group of the image they correlate with best (they are rejected as blurry either way).
    """
    usable = [m for m in component if not blurry[m]]
    groups: list[_Group] = []
    while usable:
        choice = choose_representative(usable, table)
        rep = choice.representative
        others = [m for m in usable if m != rep]
        close = _copies_of(rep, others, table)
        members = [rep, *[m for m, is_copy in zip(others, close) if is_copy]]
        groups.append(_Group(rep, members, choice.kept_because))
        usable = [m for m, is_copy in zip(others, close) if not is_copy]
    leftovers = [m for m in component if blurry[m]]
    if not groups:
        choice = choose_representative(leftovers, table)
        return [_Group(choice.representative, leftovers, choice.kept_because)]
    for member in leftovers:
        reps = np.array([g.representative for g in groups])
        scores = image_hash.signature_correlation(
            np.repeat(table.signatures[[member]], len(reps), 0), table.signatures[reps]
        )
        groups[int(np.argmax(scores))].members.append(member)
    return groups


def _copies_of(rep: int, others: list[int], table: _ImageTable) -> np.ndarray:
    if not others:
        return np.zeros(0, bool)
    others_array = np.array(others)
    correlation = image_hash.signature_correlation(
        np.repeat(table.signatures[[rep]], len(others), 0), table.signatures[others_array]
    )
    same_shape = _same_shape(table, others_array, rep)
    return (table.contents[others_array] == table.contents[rep]) | ((correlation >= MIN_CROP_CORRELATION) & same_shape)


def decide(table: _ImageTable, settings: PrefilterSettings) -> tuple[dict[int, Decision], int]:
    """Decision per image line, and how many duplicate groups (of two or more) there are."""
    if len(table.ids) == 0:
        return {}, 0
    return decide_components(table, duplicate_groups(table, settings), settings)


def decide_components(
    table: _ImageTable, labels: np.ndarray, settings: PrefilterSettings
) -> tuple[dict[int, Decision], int]:
    """:func:`decide` given each row's connected-component label (:func:`duplicate_groups`).

    The sharded merge calls it with the members of multi-image components only: a component's
    decisions depend on its own rows alone; an image alone in its component gets
    :func:`lone_image_decision`.
    """
    blurry = settings.blurry & (table.blur_scores >= settings.blur_threshold)
    decisions: dict[int, Decision] = {}
    order = np.argsort(labels, kind="stable")
    multi = 0
    for component in np.split(order, np.flatnonzero(np.diff(labels[order])) + 1):
        for group in _resolve_component([int(m) for m in component], table, blurry):
            multi += len(group.members) > 1
            for member in group.members:
                decisions[int(table.lines[member])] = _member_decision(member, group, table, blurry)
    return decisions, multi


def lone_image_decision(item_id: str, blur_score: float, settings: PrefilterSettings) -> Decision:
    """The decision :func:`decide` gives an image that no other image is a confirmed copy of (a
    component of one): kept, or rejected as blurry. Without a table, so the sharded merge decides
    the many lone images while it streams the manifest; tests hold it equal to :func:`decide`'s."""
    score = round(float(blur_score), 4)
    blurry = bool(settings.blurry and blur_score >= settings.blur_threshold)
    facts = {"duplicate_group": item_id, "blur_score": score, "blurry": blurry}
    if blurry:
        return Decision(BLURRY, f"blur score {score} is at or above the threshold; retake or drop the image", facts)
    return Decision(None, "", {**facts, "duplicates": []})


def _member_decision(member: int, group: _Group, table: _ImageTable, blurry: np.ndarray) -> Decision:
    rep = group.representative
    rep_id = table.ids[rep]
    facts = {
        "duplicate_group": rep_id,
        "blur_score": round(float(table.blur_scores[member]), 4),
        "blurry": bool(blurry[member]),
    }
    if member == rep and not blurry[member]:
        facts["duplicates"] = [table.ids[m] for m in group.members if m != rep]
        if len(group.members) > 1:
            facts["kept_because"] = list(group.kept_because)
            facts["quality"] = _quality(member, table)
        return Decision(None, "", facts)
    if member != rep:
        facts["kept_id"] = rep_id
        facts.update(_distances(member, rep, table))
    if blurry[member]:
        score = facts["blur_score"]
        return Decision(BLURRY, f"blur score {score} is at or above the threshold; retake or drop the image", facts)
    if table.contents[member] == table.contents[rep]:
        return Decision(EXACT_DUPLICATE, f"byte-identical to {rep_id}, which is kept in its place", facts)
    return Decision(
        NEAR_DUPLICATE,
        f"near duplicate of {rep_id} (hash distance {facts['hash_distance']} bits, thumbnail correlation "
        f"{facts['correlation']}), which is kept as the better copy",
        facts,
    )


def _quality(member: int, table: _ImageTable) -> dict:
    """The numbers the quality order compared, for the kept item."""
    return {
        "pixels": int(table.pixels[member]),
        "blur_score": round(float(table.blur_scores[member]), 4),
        "jpeg_quantization": round(float(table.quantization[member]), 2),
        "clipped": round(float(table.clipped[member]), 4),
        "mean_gray": round(float(table.mean_gray[member]), 2),
        "bytes_per_pixel": round(float(table.bytes_per_pixel[member]), 4),
    }


def _distances(member: int, rep: int, table: _ImageTable) -> dict:
    """Flip-aware hash distance (bits) and thumbnail correlation between a removed copy and the kept image."""
    if not (table.hashable[member] and table.hashable[rep]):
        return {"hash_distance": None, "correlation": None}
    distance = image_hash.flip_aware_distance(int(table.phashes[member]), int(table.phashes[rep]))
    correlation = image_hash.signature_correlation(table.signatures[member], table.signatures[rep])[0]
    return {"hash_distance": distance, "correlation": round(float(correlation), 4)}


# ---------------------------------------------------------------------------------------------
# The two passes


_NO_SIGNATURE = np.zeros(image_hash.SIGNATURE_SIDE**2, np.float16)


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
        signatures=np.array(
            [f.signature if f.signature is not None else _NO_SIGNATURE for f in good], np.float16
        ).reshape(len(good), image_hash.SIGNATURE_SIDE**2),
        hashable=np.array([f.phash is not None for f in good], bool),
        pixels=np.array([f.width * f.height for f in good], np.int64),
        blur_scores=np.array([f.blur_score for f in good], np.float64),
        quantization=np.array([f.quantization for f in good], np.float64),
        bytes_per_pixel=np.array([f.bytes_per_pixel for f in good], np.float64),
        clipped=np.array([f.clipped for f in good], np.float64),
        mean_gray=np.array([f.mean_gray for f in good], np.float64),
        aspect=frame_aspect([f.width for f in good], [f.height for f in good]),
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
    bar = Progress("images checked", sum(1 for _ in manifest.read_lines(input_path)))
    for done, facts in enumerate(inspect_all(tasks(), settings), start=1):
        bar.update(done)
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
        input_path: JSONL manifest (items carry ``labelloop_id``), or a CSV/Parquet table (tabular
            data, already checked row by row at import): copied to ``kept_path`` unchanged.
        kept_path: Where the kept items go (JSONL), each image with its facts in ``labelloop``.
        rejects_path: Where every removed item goes, with a reason code.
        settings: Checks and thresholds.
        step: The name the rejects record as their producer (the calling component's).

    Returns:
        A :class:`PrefilterResult`; every input item is counted as kept or rejected.
    """
    if _is_table(input_path):
        return _pass_table_through(input_path, kept_path, rejects_path, settings, step=step)
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
    in the manifest's order."""
    decisions, groups = decide(table, settings)
    return write_outcomes(
        input_path, kept_path, rejects_path, lambda number, _: decisions[number], failed, groups, settings, step=step
    )


def write_outcomes(
    input_path: str,
    kept_path: str,
    rejects_path: str,
    decision_of: Callable[[int, dict], Decision],
    failed: dict[int, ImageFacts],
    groups: int,
    settings: PrefilterSettings,
    *,
    step: str,
) -> PrefilterResult:
    """Stream the manifest into kept and rejects, each decodable image line with
    ``decision_of(line number, record)`` (asked in line order), each ``failed`` one with its reason.
    The sharded merge passes decisions it keeps off the heap (``prefilter_merge``)."""
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
            decision = decision_of(line.number, record)
            annotated = manifest.with_extra(record, **decision.facts)
            if decision.reason_code is None:
                kept += 1
                out.write(manifest.dumps(annotated))
            else:
                rejects.reject(annotated, decision.reason_code, decision.reason, line=line.number)
        rejected = dict(rejects.counts)
    return PrefilterResult(items, kept, images, passed, rejected, groups, settings.thresholds())


def _is_table(path: str) -> bool:
    from .split import file_format

    return file_format(path) != "jsonl"


def _pass_table_through(
    input_path: str, kept_path: str, rejects_path: str, settings: PrefilterSettings, *, step: str
) -> PrefilterResult:
    """Tables have no images to check: every row is kept as is (import checked Vertex's row rules)."""
    from .split import iter_table

    rows = sum(len(chunk) for chunk in iter_table(input_path))
    with manifest.open_file(input_path, "rb") as source, manifest.atomic_writer(kept_path) as out:
        while block := source.read(1 << 20):
            out.write(block)
    with manifest.RejectsWriter(rejects_path, step):
        pass
    return PrefilterResult(rows, rows, 0, rows, {}, 0, settings.thresholds())
