"""Benchmark the image prefilter against imagededup (PHash), CleanVision and a Laplacian check.

Everything runs in this one process tree, on the same files, on this machine (2 cores):

* labelloop ``prefilter_manifest`` (2 worker threads): images/s, duplicate / blur / corrupt
  precision and recall, mirrored-copy recall, blur precision/recall per source set (opencv-doc vs
  scikit-image) to show the default threshold is not fitted to one of them;
* imagededup PHash (threshold 10, its default) and CleanVision (all its default issue checks);
* a plain OpenCV variance-of-Laplacian blur check at the customary threshold of 100;
* the decode-only floor: PIL with JPEG draft mode to the same working size, on 2 processes;
* the peak memory of rejecting a decompression bomb, and near-duplicate search on 1,000,000 hashes.

Every speed figure has its CPU seconds beside its wall time (this process, the children it waited
for and the pool workers), and the ratios are also given in CPU seconds: on a shared machine the
wall clock measures the other users too (the load average is printed; a quiet-machine figure is
only what a quiet machine measures). Which copy a group keeps is reported by category: a
byte-identical copy counts as the original's content (same bytes, same content id, nothing to
tell them apart), a mirrored copy as a tie (see :func:`kept_copy_stats`).

Duplicates are scored on pairs: two files are a true pair when they derive from the same original
(blurred copies and corrupt files are left out of duplicate scoring). Builds the corpus first if
it is missing (``benchmarks/image_corpus.py``).

    python benchmarks/prefilter.py [--corpus DIR] [--tuning-wallpapers DIR] [--heldout DIR]
        [--heldout-20k DIR] [--skip-20k] [--skip-million] [--skip-laplacian]
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import importlib.util
import io
import itertools
import json
import logging
import multiprocessing
import os
import pathlib
import resource
import subprocess
import sys
import time
import types
from dataclasses import dataclass

import numpy as np
from labelloop.components.core import image_checks, manifest, near_duplicates, prefilter
from labelloop.components.core.image_hash import MIRROR_MASK
from sklearn.metrics import roc_auc_score

HERE = pathlib.Path(__file__).parent
DECODE_CODES = {
    image_checks.CORRUPT,
    image_checks.EMPTY_FILE,
    image_checks.NOT_AN_IMAGE,
    image_checks.DECOMPRESSION_BOMB,
    image_checks.UNREADABLE,
}


# ---------------------------------------------------------------------------------------------
# Clocks


def _own_and_children_cpu() -> float:
    """CPU seconds (user + system) of this process and of its children that have been waited for."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def _process_cpu(pid: int) -> float:
    """CPU seconds (user + system) a live process has used so far, from ``/proc/<pid>/stat`` (Linux)."""
    fields = pathlib.Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@dataclass
class Clock:
    """Wall seconds and CPU seconds of this process tree: this process, the children it waited for
    (a ``fork`` pool that is joined) and any live workers named by pid (a ``forkserver`` pool's
    workers are the fork server's children, not ours, so they are read from /proc before they exit)."""

    wall: float = 0.0
    cpu: float = 0.0

    def __enter__(self) -> Clock:
        self._wall, self._cpu = time.perf_counter(), _own_and_children_cpu()
        self._workers: dict[int, float] = {}
        return self

    def watch(self, pids: list[int]) -> None:
        """Count the CPU these live worker processes use from now on."""
        self._workers.update({pid: _process_cpu(pid) for pid in pids})

    def stop_watching(self) -> None:
        self.cpu += sum(_process_cpu(pid) - start for pid, start in self._workers.items())
        self._workers = {}

    def __exit__(self, *_) -> None:
        self.wall = time.perf_counter() - self._wall
        self.cpu += _own_and_children_cpu() - self._cpu

    def __str__(self) -> str:
        return f"{self.wall:.1f} s wall, {self.cpu:.1f} s CPU"


# ---------------------------------------------------------------------------------------------
# Scoring


def true_pairs(truth: dict, names: list[str]) -> set[frozenset]:
    """Pairs of scored files (not blurred, not corrupt) derived from the same original."""
    groups: dict[str, list[str]] = {}
    for name in names:
        facts = truth[name]
        if facts["group"] and not facts["blurry"]:
            groups.setdefault(facts["group"], []).append(name)
    return {frozenset(p) for members in groups.values() for p in itertools.combinations(members, 2)}


def pairs_from_groups(label_of: dict[str, str], scored: set[str]) -> set[frozenset]:
    groups: dict[str, list[str]] = {}
    for name, label in label_of.items():
        if name in scored:
            groups.setdefault(label, []).append(name)
    return {frozenset(p) for members in groups.values() for p in itertools.combinations(members, 2)}


def precision_recall(predicted: set, actual: set) -> tuple[float, float]:
    hits = len(predicted & actual)
    return (hits / len(predicted) if predicted else 1.0), (hits / len(actual) if actual else 1.0)


def blur_pr(flagged: dict[str, bool], truth: dict, names) -> tuple[float, float]:
    predicted = {n for n in names if flagged.get(n)}
    actual = {n for n in names if truth[n]["blurry"]}
    return precision_recall(predicted, actual)


def fmt(pr: tuple[float, float]) -> str:
    return f"P {pr[0]:.3f} / R {pr[1]:.3f}"


# ---------------------------------------------------------------------------------------------
# Contenders


def run_labelloop(files: pathlib.Path, names: list[str], work: pathlib.Path) -> dict:
    records = [manifest.with_id({"imageGcsUri": str(files / n)}, n) for n in names]
    manifest.write_jsonl(str(work / "items.jsonl"), records)
    settings = prefilter.PrefilterSettings(workers=2)  # component defaults otherwise
    with Clock() as clock, contextlib.redirect_stderr(io.StringIO()):  # no progress lines in the report
        result = prefilter.prefilter_manifest(
            str(work / "items.jsonl"),
            str(work / "kept.jsonl"),
            str(work / "rejects.jsonl"),
            settings,
            step="prefilter_images",
        )
    groups, blurry, scores, reasons, kept_ids = {}, {}, {}, {}, {}
    for record in manifest.read_jsonl(str(work / "kept.jsonl")):
        name = manifest.item_id(record)
        groups[name] = record["labelloop"]["duplicate_group"]
        blurry[name] = record["labelloop"]["blurry"]
        scores[name] = record["labelloop"]["blur_score"]
    for reject in manifest.read_jsonl(str(work / "rejects.jsonl")):
        name = reject["id"]
        reasons[name] = reject["reason_code"]
        facts = reject["record"].get("labelloop") or {}
        if reject["reason_code"] in (prefilter.EXACT_DUPLICATE, prefilter.NEAR_DUPLICATE):
            kept_ids[name] = facts.get("kept_id")
        if "duplicate_group" in facts:
            groups[name] = facts["duplicate_group"]
            blurry[name] = facts["blurry"]
            scores[name] = facts["blur_score"]
    return {
        "seconds": clock.wall,
        "clock": clock,
        "groups": groups,
        "blurry": blurry,
        "scores": scores,
        "reasons": reasons,
        "kept_ids": kept_ids,
        "result": result,
    }


@contextlib.contextmanager
def quiet():
    """Silence a contender's own logging and progress bars (stdout, stderr and the logging module)."""
    with open(os.devnull, "w") as sink, contextlib.redirect_stdout(sink), contextlib.redirect_stderr(sink):
        logging.disable(logging.CRITICAL)
        try:
            yield
        finally:
            logging.disable(logging.NOTSET)


def load_imagededup_phash():
    """imagededup's PHash, imported without its CNN half (that needs torchvision, which has no
    CPU wheel matching torch 2.13 here); the hashing code itself is imagededup's, unchanged."""
    spec = importlib.util.find_spec("imagededup")
    if spec is None:
        return None
    root = pathlib.Path(spec.origin).parent
    for package in ("imagededup.methods", "imagededup.utils"):
        module = types.ModuleType(package)
        module.__path__ = [str(root / package.split(".")[1])]
        sys.modules.setdefault(package, module)
    from imagededup.methods.hashing import PHash

    return PHash


def run_imagededup(files: pathlib.Path) -> dict:
    phash_class = load_imagededup_phash()
    if phash_class is None:
        return {"error": "imagededup is not installed (pip install imagededup)"}
    with Clock() as clock, quiet():  # it logs a line per unreadable file; its fork pool is joined
        phash = phash_class(verbose=False)
        encodings = phash.encode_images(image_dir=str(files), num_enc_workers=2)
        duplicates = phash.find_duplicates(encoding_map=encodings, max_distance_threshold=10)
    pairs = {frozenset((a, b)) for a, others in duplicates.items() for b in others}
    return {"seconds": clock.wall, "clock": clock, "pairs": pairs, "encoded": len(encodings)}


def run_cleanvision(paths: list[str]) -> dict:
    try:
        from cleanvision import Imagelab
    except ImportError:
        return {"error": "cleanvision is not installed (pip install cleanvision)"}
    start = time.perf_counter()
    try:
        with quiet():  # progress bars
            lab = Imagelab(filepaths=paths)
            lab.find_issues(n_jobs=2, verbose=False)
    except Exception as err:  # noqa: BLE001 - recording how a contender fails is the point
        return {"error": f"{type(err).__name__}: {str(err)[:120]}", "seconds": time.perf_counter() - start}
    seconds = time.perf_counter() - start
    issues = lab.issues
    pairs = set()
    for kind in ("exact_duplicates", "near_duplicates"):
        for members in lab.info.get(kind, {}).get("sets", []):
            names = [pathlib.Path(m).name for m in members]
            pairs |= {frozenset(p) for p in itertools.combinations(names, 2)}
    blurry = {pathlib.Path(p).name: bool(flag) for p, flag in issues["is_blurry_issue"].items()}
    return {"seconds": seconds, "pairs": pairs, "blurry": blurry}


def _laplacian_variance(path: str) -> float | None:
    import cv2

    gray = cv2.imread(path, cv2.IMREAD_GRAYSCALE)
    return None if gray is None else float(cv2.Laplacian(gray, cv2.CV_64F).var())


def _decode_only(path: str) -> bool:
    from PIL import Image

    try:
        with Image.open(path) as image:
            image.draft("L", image_checks.working_size(*image.size, image_checks.DecodeLimits().working_side))
            image.convert("L")
        return True
    except Exception:  # noqa: BLE001 - the floor only times decoding
        return False


def _silence_worker() -> None:
    """libjpeg prints "Premature end of JPEG file" from C and PIL warns about big images: mute both."""
    import warnings

    warnings.simplefilter("ignore")
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 2)


def timed_pool(function, paths: list[str]) -> tuple[Clock, list]:
    """``function`` over ``paths`` on 2 worker processes: the clock (wall, and CPU of this process and
    the workers) and the results."""
    with multiprocessing.get_context("forkserver").Pool(2, initializer=_silence_worker) as pool:
        pool.map(abs, [1, 2])  # start the workers before the clock
        with Clock() as clock:
            clock.watch([worker.pid for worker in pool._pool])
            results = pool.map(function, paths, chunksize=16)
            clock.stop_watching()
        return clock, results


def bomb_peak_memory(corpus: pathlib.Path) -> tuple[str, float] | None:
    """Peak RSS (MB) of a fresh process that reads and rejects one decompression bomb."""
    bombs = sorted(corpus.glob("files/*decompression_bomb*"))
    if not bombs:
        return None
    # VmHWM, not getrusage's ru_maxrss: Linux carries ru_maxrss over fork and exec, so a child of
    # this (large) process would report this process's peak.
    code = (
        "import sys\n"
        "from labelloop.components.core import image_checks as ic\n"
        "out = ic.decode_image(open(sys.argv[1], 'rb').read(), ic.DecodeLimits())\n"
        "peak = next(line for line in open('/proc/self/status') if line.startswith('VmHWM:'))\n"
        "print(out.reason_code, int(peak.split()[1]) / 1024)\n"
    )
    output = subprocess.run([sys.executable, "-c", code, str(bombs[0])], capture_output=True, text=True, check=True)
    reason, megabytes = output.stdout.split()
    return reason, float(megabytes)


@dataclass(frozen=True)
class MillionSearch:
    full_seconds: float
    crop_seconds: float
    pairs: int
    crop_pairs: int
    plan: near_duplicates.SearchPlan


def million_hash_search(threshold: int, crop_threshold: int) -> MillionSearch:
    """The prefilter's two searches over 1,000,000 images: their own hashes against each other
    (mirror-aware), and their 4,000,000 corner-crop hashes against those, with planted near pairs."""
    rng = np.random.default_rng(0)
    n = 1_000_000
    hashes = rng.integers(0, 2**64, n, dtype=np.uint64)
    copies = rng.integers(0, n, 50_000)
    hashes[rng.integers(0, n, 50_000)] = hashes[copies] ^ np.uint64(0b1011)  # planted near pairs
    corners = rng.integers(0, 2**64, (n, 4), dtype=np.uint64)
    cropped = rng.integers(0, n, 50_000)
    corners[rng.integers(0, n, 50_000), rng.integers(0, 4, 50_000)] = hashes[cropped] ^ np.uint64(
        0b101
    )  # planted crops
    plan = near_duplicates.plan_search(n, threshold, flip=True)
    start = time.perf_counter()
    pairs = near_duplicates.near_duplicate_pairs(hashes, threshold, flip_mask=MIRROR_MASK, plan=plan)
    middle = time.perf_counter()
    crop_pairs = near_duplicates.pairs_between(corners.ravel(), hashes, crop_threshold, flip_mask=MIRROR_MASK)
    end = time.perf_counter()
    return MillionSearch(middle - start, end - middle, len(pairs), len(crop_pairs), plan)


# ---------------------------------------------------------------------------------------------


ORIGINAL = "original, its own line"
ORIGINAL_BYTES = "original's bytes on another line (byte-identical copy)"
MIRRORED = "mirrored copy (a tie: same pixels mirrored, same encoder and quality)"
BLURRY_ORIGINAL = "original flagged blurry (a blur false flag, not a choice between copies)"
LOST = "empty: lost to a rejected representative"
MERGED = "empty: merged into another group's kept image (false pairs)"


def kept_copy_stats(
    truth: dict, names: list[str], kept: set[str], reasons: dict[str, str], kept_ids: dict[str, str] | None = None
) -> dict[str, list[str]]:
    """Which copy each planted group that contains its original keeps, as category -> group names.

    Categories: the original on its own line; the original's bytes on another line (a byte-identical
    copy has the same content id, and labelloop keys items by content, so it *is* the original's
    content: the pixels are indistinguishable; the prefilter keeps the earliest of identical lines,
    as validate keeps the first line of a repeated id); a mirrored copy (in these corpora made from
    the original's uncompressed pixels with the same encoder and quality, so it ties on every
    quality measure and carries no trace of an edit, not even a shifted JPEG grid: no image-only
    rule can pick the original, and the earliest line decides); the original flagged blurry (a blur
    false flag, for the blur check, not the choice between copies); a degraded copy (named by kind:
    a wrong choice); only a blurred copy; nothing. A group that keeps nothing is "merged into another
    group" when its members were removed as duplicates of a kept image outside the group (false
    pairs, a precision error: ``kept_ids`` says which image each duplicate was removed for), "lost
    to a rejected representative" when a member was removed as a duplicate of an image that is not
    kept (data loss), and "every member rejected on its own" when each was rejected for its own
    reason (blur, corrupt)."""
    kept_ids = kept_ids or {}
    groups: dict[str, list[str]] = collections.defaultdict(list)
    for name in names:
        if truth[name]["group"]:
            groups[truth[name]["group"]].append(name)
    stats: dict[str, list[str]] = collections.defaultdict(list)
    for group, members in sorted(groups.items()):
        by_kind = {truth[n]["kind"]: n for n in members}
        if "original" not in by_kind:
            continue
        kinds = {truth[n]["kind"] for n in members if n in kept}
        usable = any(not truth[n]["blurry"] for n in members)
        if "original" in kinds:
            category = ORIGINAL
        elif "exact" in kinds:
            category = ORIGINAL_BYTES
        elif reasons.get(by_kind["original"]) == prefilter.BLURRY:
            category = BLURRY_ORIGINAL
        elif "flipped" in kinds:
            category = MIRRORED
        elif kinds and all(k.startswith("blur_") for k in kinds):
            category = "only a blurred copy"
        elif kinds:
            category = "degraded copy: " + ",".join(sorted(kinds))
        elif any(reasons.get(n) in (prefilter.EXACT_DUPLICATE, prefilter.NEAR_DUPLICATE) for n in members):
            removed_for = {kept_ids.get(n) for n in members if n in kept_ids}
            category = MERGED if removed_for and removed_for <= kept - set(members) else LOST
        elif usable:
            category = "empty: every member rejected on its own (a truly sharp one among them)"
        else:
            category = "empty: every member truly unusable"
        stats[category].append(group)
    return dict(stats)


def print_kept_copies(stats: dict[str, list[str]]) -> None:
    """The kept-copy figures: the original's content kept, among groups whose original is usable."""
    count = {category: len(groups) for category, groups in stats.items()}
    groups = sum(count.values())
    judged = groups - count.get(BLURRY_ORIGINAL, 0)
    content = count.get(ORIGINAL, 0) + count.get(ORIGINAL_BYTES, 0)
    print(
        f"  which copy is kept, of {groups} planted groups with their original: "
        + "; ".join(f"{category} {number}" for category, number in sorted(count.items(), key=lambda kv: -kv[1]))
    )
    print(
        f"    original's content kept in {content}/{judged} groups whose original is not flagged blurry = "
        f"{content / max(judged, 1):.1%} (target >= 98%; own line {count.get(ORIGINAL, 0)}, byte-identical line "
        f"{count.get(ORIGINAL_BYTES, 0)}); counting mirrored ties as kept: "
        f"{(content + count.get(MIRRORED, 0)) / max(judged, 1):.1%}; strictly its own line, of all groups: "
        f"{count.get(ORIGINAL, 0) / max(groups, 1):.1%}"
    )
    for category, names in sorted(stats.items()):
        if category.startswith(("degraded", "only", "empty")) or category == BLURRY_ORIGINAL:
            print(f"      {category}: {', '.join(names[:6])}{' ...' if len(names) > 6 else ''}")


def load_average() -> str:
    return "load average " + " ".join(f"{v:.2f}" for v in os.getloadavg())


def run_corpus(label: str, corpus: pathlib.Path, *, order_seed: int, contenders: bool, laplacian: bool = True) -> None:
    """Every figure for one corpus, with imagededup and the decode floor measured in the same run."""
    truth = json.loads((corpus / "truth.json").read_text())
    files = corpus / "files"
    names = sorted(truth)
    np.random.default_rng(order_seed).shuffle(names)  # manifest order favours neither originals nor copies
    paths = [str(files / n) for n in names]
    clean = [n for n in names if truth[n]["corrupt"] is None]
    scored = set(n for n in clean if not truth[n]["blurry"])
    actual_pairs = true_pairs(truth, names)
    for path in paths:  # warm the page cache, so no contender pays for the first read from disk
        pathlib.Path(path).read_bytes()
    work = HERE / "out" / f"prefilter_run_{corpus.name}"
    work.mkdir(parents=True, exist_ok=True)
    print(
        f"\n=== {label}: {corpus} — {len(names)} files ({len(clean)} decodable, {len(names) - len(clean)} corrupt), "
        f"{len(actual_pairs)} true duplicate pairs, {sum(truth[n]['blurry'] for n in names)} blurry; "
        f"manifest in shuffled order (seed {order_seed}); 2 cores, {load_average()}"
    )
    ours = run_labelloop(files, names, work)
    our_pairs = pairs_from_groups(ours["groups"], scored)
    ours_rate = len(names) / ours["seconds"]
    corrupt = [n for n in names if truth[n]["corrupt"]]
    caught = sum(ours["reasons"].get(n) in DECODE_CODES for n in corrupt)
    false_corrupt = sum(ours["reasons"].get(n) in DECODE_CODES for n in clean)
    print(
        f"labelloop prefilter: {ours_rate:.0f} images/s ({ours['clock']} = "
        f"{ours['clock'].cpu / ours['clock'].wall:.2f} cores busy on average, "
        f"{ours['clock'].cpu / len(names) * 1000:.1f} CPU ms/file); {load_average()}"
    )
    precision, recall = precision_recall(our_pairs, actual_pairs)
    wrong = our_pairs - actual_pairs
    cross_photo = sum(
        len({truth[n].get("source") or truth[n].get("source_set") for n in pair}) > 1
        or len({truth[n]["group"].rsplit("-", 1)[0] for n in pair}) > 1
        for pair in wrong
    )
    print(
        f"  duplicates P {precision:.4f} / R {recall:.4f} ({len(wrong)} false pairs, {cross_photo} of them "
        f"across different source photos)"
    )
    kinds = sorted({truth[n]["kind"] for n in scored} - {"original"})
    recalls = []
    for kind in kinds:
        subset = {p for p in actual_pairs if any(truth[n]["kind"] == kind for n in p)}
        recalls.append(f"{kind} {precision_recall(our_pairs, subset)[1]:.3f}")
    print("    recall by copy kind: " + ", ".join(recalls))
    kept = {n for n in names if n in ours["groups"] and n not in ours["reasons"]}
    stats = kept_copy_stats(truth, names, kept, ours["reasons"], ours["kept_ids"])
    print_kept_copies(stats)
    orphaned = sum(kept_id not in kept for kept_id in ours["kept_ids"].values())
    on_own = len(stats.get("empty: every member rejected on its own (a truly sharp one among them)", []))
    print(
        f"    groups that lost a usable member to a rejected representative: "
        f"{len(stats.get(LOST, []))} (target 0); duplicates removed in favour "
        f"of an image that is not kept: {orphaned} (target 0); groups whose every member was rejected on its "
        f"own (blur false flags): {on_own}; groups merged into another group's kept image (false pairs): "
        f"{len(stats.get(MERGED, []))}"
    )
    unscored = sum(ours["scores"].get(n) is None for n in clean if n in ours["scores"])
    default = prefilter.blur.DEFAULT_THRESHOLD
    print(
        f"  blur {fmt(blur_pr(ours['blurry'], truth, clean))} at the default threshold {default}; "
        f"images with no score: {unscored}"
    )
    for kind in ("blur_gaussian", "blur_motion"):
        subset = [n for n in clean if truth[n]["kind"] == kind]
        flagged = sum(bool(ours["blurry"].get(n)) for n in subset)
        print(f"    {kind[5:]:<9} recall {flagged / max(len(subset), 1):.3f} ({flagged}/{len(subset)})")
    false_flags = collections.Counter(
        (truth[n].get("source") or truth[n].get("source_set") or "?")
        for n in clean
        if ours["blurry"].get(n) and not truth[n]["blurry"]
    )
    print(f"    false blur flags by source photo: {dict(false_flags.most_common(6))}")
    scores = {n: s for n, s in ours["scores"].items() if s is not None}
    best = max(
        (2 * p * r / (p + r) if p + r else 0.0, t, p, r)
        for t in np.round(np.arange(0.60, 1.001, 0.002), 3)
        for p, r in [blur_pr({n: s >= t for n, s in scores.items()}, truth, clean)]
    )
    with_score = [n for n in clean if n in scores]
    auc = roc_auc_score([bool(truth[n]["blurry"]) for n in with_score], [scores[n] for n in with_score])
    print(
        f"    best threshold on this corpus: {best[1]:.3f} (F1 {best[0]:.3f}, P {best[2]:.3f} / R {best[3]:.3f}); "
        f"ROC AUC of the score {auc:.3f}"
    )
    for threshold in (default - 0.02, default - 0.01, default + 0.01, default + 0.02):
        flagged = {n: s >= threshold for n, s in scores.items()}
        print(f"    threshold {threshold:.3f}: blur {fmt(blur_pr(flagged, truth, clean))}")
    print(
        f"  corrupt: {caught}/{len(corrupt)} rejected with a reason, {false_corrupt} good files called corrupt; "
        f"reasons {dict(sorted(collections.Counter(ours['reasons'].get(n) for n in corrupt).items()))}"
    )
    if not contenders:
        return
    dedup = run_imagededup(files)
    dedup_rate = None
    if "error" in dedup:
        print(f"imagededup PHash: not run: {dedup['error']}")
    else:
        dedup_rate = len(names) / dedup["seconds"]
        dedup_pairs = {p for p in dedup["pairs"] if p <= scored}
        print(
            f"imagededup PHash (threshold 10): {dedup_rate:.0f} images/s ({dedup['clock']}, "
            f"{dedup['clock'].cpu / len(names) * 1000:.1f} CPU ms/file); "
            f"duplicates {fmt(precision_recall(dedup_pairs, actual_pairs))}; encoded {dedup['encoded']} files"
        )
    if laplacian:
        clock, variances = timed_pool(_laplacian_variance, paths)
        flagged = {n: v is not None and v < 100 for n, v in zip(names, variances)}
        print(
            f"OpenCV variance of Laplacian < 100: {len(names) / clock.wall:.0f} images/s ({clock}); "
            f"blur {fmt(blur_pr(flagged, truth, clean))}"
        )
    clock, _ = timed_pool(_decode_only, paths)
    floor = len(names) / clock.wall
    print(
        f"decode-only floor (PIL, JPEG draft to the working size, 2 processes): {floor:.0f} images/s ({clock}, "
        f"{clock.cpu / len(names) * 1000:.1f} CPU ms/file); {load_average()}"
    )
    speed = f"  speed: {ours_rate:.0f} images/s = {ours_rate / floor:.2f}x the decode floor (target >= 0.8x)"
    if dedup_rate:
        speed += f", {ours_rate / dedup_rate:.2f}x imagededup (target >= 3x)"
    cpu = ours["clock"].cpu
    speed += f"; by CPU seconds: {clock.cpu / cpu:.2f}x the decode floor" + (
        f", {dedup['clock'].cpu / cpu:.2f}x imagededup" if dedup_rate else ""
    )
    print(speed)
    busy = os.getloadavg()[0] / (os.cpu_count() or 1)
    if busy > 0.75:
        print(
            f"  the machine was busy ({load_average()} on {os.cpu_count()} cores): wall-clock rates are shared "
            f"with other work; a quiet-machine figure was not measured, compare the CPU-second ratios"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", default=str(HERE / "out" / "prefilter_corpus"), help="the tuning corpus")
    parser.add_argument(
        "--tuning-wallpapers",
        default=str(HERE / "out" / "tuning_wallpapers"),
        help="the second tuning corpus (heldout_corpus.py --photos tuning)",
    )
    parser.add_argument("--heldout", default=str(HERE / "out" / "heldout_2k"), help="the held-out corpus (2k)")
    parser.add_argument("--heldout-20k", default=str(HERE / "out" / "heldout_20k"), help="the 20k held-out corpus")
    parser.add_argument("--skip-20k", action="store_true", help="skip the 20k corpus")
    parser.add_argument("--skip-million", action="store_true", help="skip the 1,000,000-hash search")
    parser.add_argument(
        "--skip-laplacian", action="store_true", help="skip the (slow) OpenCV variance-of-Laplacian contender"
    )
    args = parser.parse_args()
    corpus = pathlib.Path(args.corpus)
    if not (corpus / "truth.json").exists():
        import image_corpus

        image_corpus.build(corpus)
    wallpapers = pathlib.Path(args.tuning_wallpapers)
    if not (wallpapers / "truth.json").exists():
        import heldout_corpus

        heldout_corpus.build(wallpapers, files=1400, seed=7, photos="tuning")
    heldout = pathlib.Path(args.heldout)
    if not (heldout / "truth.json").exists():
        import heldout_corpus

        heldout_corpus.build(heldout, files=2900)
    run_corpus(
        "tuning corpus (opencv-doc + scikit-image photos; the blur threshold was chosen on it and the next, pooled)",
        corpus,
        order_seed=0,
        contenders=True,
        laplacian=not args.skip_laplacian,
    )
    run_corpus(
        "second tuning corpus (lomiri-wallpapers-16.04 photographs, the held-out corpus's recipe)",
        wallpapers,
        order_seed=0,
        contenders=True,
        laplacian=not args.skip_laplacian,
    )
    run_corpus(
        "held-out corpus (Debian wallpaper photographs; never tuned on)",
        heldout,
        order_seed=0,
        contenders=True,
        laplacian=not args.skip_laplacian,
    )
    big = pathlib.Path(args.heldout_20k)
    if not args.skip_20k:
        if not (big / "truth.json").exists():
            import heldout_corpus

            heldout_corpus.build(big, files=24000, max_overlap=0.8)
        run_corpus(
            "held-out corpus, large (same photos, more overlapping crops)",
            big,
            order_seed=0,
            contenders=True,
            laplacian=not args.skip_laplacian,
        )

    print("\nother checks")
    bomb = bomb_peak_memory(corpus)
    if bomb:
        print(f"  decompression bomb: {bomb[0]} with peak RSS {bomb[1]:.0f} MB (target <= 500 MB)")
    if not args.skip_million:
        defaults = prefilter.PrefilterSettings()
        threshold, crop_threshold = defaults.hamming_threshold, defaults.crop_hamming_threshold
        search = million_hash_search(threshold, crop_threshold)
        print(
            f"  near-duplicate search over 1,000,000 images (mirror-aware): "
            f"{search.full_seconds + search.crop_seconds:.1f} s (target <= 30 s) = "
            f"{search.full_seconds:.1f} s for their hashes at {threshold} bits ({search.pairs} pairs, bands "
            f"{search.plan.bands}) + {search.crop_seconds:.1f} s for 4,000,000 corner-crop hashes at "
            f"{crop_threshold} bits ({search.crop_pairs} pairs)"
        )


if __name__ == "__main__":
    main()
