"""Figures for the sharded prefilter: per-shard throughput, and the merge's time and peak memory.

1. Per shard: the prefilter corpus (``benchmarks/image_corpus.py``: photographs with planted
   copies, blurred and broken files) is split into shards; each shard's pass one
   (``prefilter_shards.inspect_shard`` + ``write_shard_facts``) is timed, beside the unsharded
   ``prefilter_manifest`` on the same manifest in the same run (the baseline). Also the facts
   file's bytes per image (what a shard sends to the merge).
2. Merge, global search: a synthetic image table of 1,000,000 and 10,000,000 images with a
   realistic duplicate structure (exact copies, near copies of 1-4 bits, mirrored copies, copies
   cropped by a few percent whose hash lies near one of the original's corner-crop hashes, flat
   images) goes through ``prefilter.duplicate_groups`` (exact, near and corner-crop searches: the
   4 corner-crop queries per image included). Time and peak RSS in a fresh process, table
   included; the planted copies must all be found.
3. Merge, whole step: ``prefilter_shards.merge_shards`` (read every shard's facts file, rebuild
   the table, decide, stream the source manifest into kept and rejects) at 1,000,000 images
   (``--full-merge-sizes`` for more), in a fresh process.

Target (issue 18): merge <= 60 s and <= 2 GB at 10M on 2 cores. The machine is shared: the load
average is printed beside every figure.

    python benchmarks/sharding.py [--corpus benchmarks/out/prefilter_corpus] [--shards 4]
        [--search-sizes 1000000 10000000] [--full-merge-sizes 1000000]
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import pathlib
import resource
import subprocess
import sys
import tempfile
import threading
import time

import numpy as np
from labelloop.components.core import manifest, prefilter, shards
from labelloop.components.core import prefilter_shards as ps
from labelloop.components.core.image_hash import MIRROR_MASK

HERE = pathlib.Path(__file__).parent
#: Shares of the synthetic images (the rest are distinct originals).
EXACT, NEAR, MIRRORED, CROPPED, FLAT = 0.03, 0.05, 0.01, 0.02, 0.01


def load() -> str:
    one, five, fifteen = os.getloadavg()
    return f"load average {one:.1f} / {five:.1f} / {fifteen:.1f} (1/5/15 min) on {os.cpu_count()} cores"


def peak_rss_mb() -> tuple[float, float]:
    """Peak resident memory of this process, and the peak sum over it and all its descendants
    (the search's worker processes start from a fork server, so RUSAGE_CHILDREN misses them), MB."""
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return own, max(own, TreeSampler.peak_mb)


class TreeSampler(threading.Thread):
    """Samples the resident memory of this process and its descendants (from /proc) every 50 ms."""

    peak_mb = 0.0

    def __init__(self) -> None:
        super().__init__(daemon=True)

    @staticmethod
    def tree_rss_mb() -> float:
        parents: dict[int, int] = {}
        rss: dict[int, int] = {}
        for entry in os.listdir("/proc"):
            if entry.isdigit():
                try:
                    with open(f"/proc/{entry}/stat") as handle:
                        fields = handle.read().rsplit(")", 1)[1].split()
                    parents[int(entry)], rss[int(entry)] = int(fields[1]), int(fields[21])
                except (OSError, IndexError, ValueError):
                    continue
        tree, frontier = {os.getpid()}, [os.getpid()]
        while frontier:
            parent = frontier.pop()
            children = [pid for pid, ppid in parents.items() if ppid == parent and pid not in tree]
            tree.update(children)
            frontier += children
        return sum(rss.get(pid, 0) for pid in tree) * os.sysconf("SC_PAGE_SIZE") / 2**20

    def run(self) -> None:
        while True:
            TreeSampler.peak_mb = max(TreeSampler.peak_mb, self.tree_rss_mb())
            time.sleep(0.05)


# ---------------------------------------------------------------------------------------------
# 1. Per-shard throughput


def corpus_manifest(corpus: pathlib.Path, work: pathlib.Path) -> str:
    files = sorted((corpus / "files").iterdir())
    records = [manifest.with_id({"imageGcsUri": str(path)}, path.name) for path in files]
    path = work / "items.jsonl"
    manifest.write_jsonl(str(path), records)
    return str(path)


def per_shard(corpus: pathlib.Path, count: int) -> dict:
    settings = prefilter.PrefilterSettings(workers=2)
    with tempfile.TemporaryDirectory() as tmp:
        work = pathlib.Path(tmp)
        items = corpus_manifest(corpus, work)
        start = time.perf_counter()
        prefilter.prefilter_manifest(items, str(work / "kept"), str(work / "rejects"), settings, step="benchmark")
        unsharded = time.perf_counter() - start
        images = sum(1 for _ in manifest.read_lines(items))
        plan = shards.split_manifest(items, str(work / "shards"), shards=count)
        rates, sizes, paths = [], [], []
        for shard in plan.shard_numbers:
            start = time.perf_counter()
            found = ps.inspect_shard(str(work / "shards"), shard, settings)
            path = str(work / f"facts-{shard}.npz")
            ps.write_shard_facts(path, found)
            rates.append(plan.counts[shard] / (time.perf_counter() - start))
            sizes.append(os.path.getsize(path))
            paths.append(path)
        start = time.perf_counter()
        ps.merge_shards(items, paths, str(work / "k2"), str(work / "r2"), settings, step="benchmark")
        merge = time.perf_counter() - start
        identical = (work / "k2").read_bytes() == (work / "kept").read_bytes()
    return {
        "images": images,
        "unsharded_images_per_s": images / unsharded,
        "shard_images_per_s": rates,
        "facts_bytes_per_image": sum(sizes) / images,
        "merge_s": merge,
        "identical_kept": identical,
        "load": load(),
    }


# ---------------------------------------------------------------------------------------------
# 2. and 3. Synthetic tables


def synthetic_columns(n: int, seed: int = 0) -> dict[str, np.ndarray]:
    """Hashes, contents and sizes of ``n`` images with planted copies; ``planted`` marks each copy's original."""
    rng = np.random.default_rng(seed)
    phashes = rng.integers(0, 2**64, n, dtype=np.uint64)
    corners = rng.integers(0, 2**64, (n, 4), dtype=np.uint64)
    contents = rng.integers(0, 2**63, (n, 2), dtype=np.int64)
    hashable = np.ones(n, bool)
    planted = np.full(n, -1, np.int64)
    copies = rng.permutation(n)[: int(n * (EXACT + NEAR + MIRRORED + CROPPED + FLAT))]
    originals = rng.integers(0, n, len(copies))
    keep = ~np.isin(originals, copies)  # copy of an original, never of another copy
    copies, originals = copies[keep], originals[keep]
    bounds = np.cumsum([0, EXACT, NEAR, MIRRORED, CROPPED, FLAT]) * n
    kinds = np.searchsorted(bounds[1:], np.arange(len(copies)) * (bounds[-1] / max(len(copies), 1)), side="right")

    def flips(count: int, most: int) -> np.ndarray:
        bits = rng.integers(0, 64, (count, most)).astype(np.uint64)
        used = rng.integers(1, most + 1, count)
        masks = np.zeros(count, np.uint64)
        for column in range(most):
            masks |= np.where(column < used, np.uint64(1) << bits[:, column], np.uint64(0))
        return masks

    exact, near, mirrored, cropped, flat = (kinds == k for k in range(5))
    phashes[copies[exact]] = phashes[originals[exact]]
    contents[copies[exact]] = contents[originals[exact]]
    phashes[copies[near]] = phashes[originals[near]] ^ flips(int(near.sum()), 4)
    phashes[copies[mirrored]] = phashes[originals[mirrored]] ^ np.uint64(MIRROR_MASK) ^ flips(int(mirrored.sum()), 2)
    corner = rng.integers(0, 4, int(cropped.sum()))
    phashes[copies[cropped]] = corners[originals[cropped], corner] ^ flips(int(cropped.sum()), 2)
    hashable[copies[flat]] = False
    phashes[copies[flat]] = 0
    corners[copies[flat]] = 0
    planted[copies[~flat]] = originals[~flat]
    hex_contents = np.char.add(
        np.char.zfill(np.char.mod("%x", contents[:, 0]), 16), np.char.zfill(np.char.mod("%x", contents[:, 1]), 16)
    )
    return {
        "phashes": phashes,
        "corner_hashes": corners,
        "contents": hex_contents.astype("U32"),
        "hashable": hashable,
        "pixels": rng.integers(200_000, 12_000_000, n),
        "blur_scores": rng.uniform(0.1, 0.95, n),
        "planted": planted,
    }


def synthetic_table(columns: dict[str, np.ndarray]):
    """The prefilter's image table over synthetic columns.

    The table's layout is taken from :func:`prefilter.image_table` on one sample image, so fields the
    prefilter adds are filled too: per-image vectors (e.g. thumbnail signatures) with random rows that
    planted copies share with their original, other new columns with zeros.
    """
    n = len(columns["phashes"])
    sample = prefilter.image_table(
        [
            prefilter.ImageFacts(
                1, content="0" * 32, phash=1, corner_hashes=(1, 2, 3, 4), width=8, height=8, blur_score=0.5
            )
        ],
        {1: "sample"},
    )
    given = {
        "lines": np.arange(1, n + 1, dtype=np.int64),
        "ids": columns["contents"],  # an id per row, indexed like a list
        **{name: columns[name] for name in ("contents", "phashes", "corner_hashes", "hashable", "pixels")},
        "blur_scores": columns["blur_scores"],
    }
    rng = np.random.default_rng(1)
    copies = np.flatnonzero(columns["planted"] >= 0)
    values = {}
    for field in dataclasses.fields(prefilter._ImageTable):
        like = getattr(sample, field.name)
        if field.name in given:
            value = given[field.name]
            values[field.name] = value.tolist() if isinstance(like, list) and field.name != "ids" else value
        elif isinstance(like, np.ndarray) and like.ndim == 2:
            rows = rng.standard_normal((n, like.shape[1])).astype(like.dtype)
            rows[copies] = rows[columns["planted"][copies]]
            values[field.name] = rows
        elif isinstance(like, np.ndarray):
            values[field.name] = np.zeros(n, like.dtype)
        else:
            raise SystemExit(f"the prefilter's image table has a field {field.name!r} this benchmark cannot fill")
    return prefilter._ImageTable(**values)


def search_child(n: int) -> dict:
    """One global search in this (fresh) process; returns its figures."""
    start = time.perf_counter()
    columns = synthetic_columns(n)
    table = synthetic_table(columns)
    built = time.perf_counter() - start
    settings = prefilter.PrefilterSettings()
    start = time.perf_counter()
    groups = prefilter.duplicate_groups(table, settings)
    searched = time.perf_counter() - start
    copies = np.flatnonzero(columns["planted"] >= 0)
    found = groups[copies] == groups[columns["planted"][copies]]
    own, children = peak_rss_mb()
    return {
        "images": n,
        "build_s": built,
        "search_s": searched,
        "planted_copies": len(copies),
        "planted_found": float(found.mean()),
        "groups_of_two_or_more": int((np.bincount(groups) >= 2).sum()),
        "peak_rss_mb": own,
        "peak_tree_rss_mb": children,
        "load": load(),
    }


def merge_setup_child(n: int, count: int, work: pathlib.Path) -> dict:
    """Write a manifest of ``n`` synthetic images and ``count`` shard facts files for them into ``work``."""
    columns = synthetic_columns(n)
    with open(work / "items.jsonl", "wb") as handle:
        for i in range(n):
            handle.write(manifest.dumps(manifest.with_id({"imageGcsUri": f"gs://bucket/{i}.jpg"}, f"img{i:09d}")))
    owner = np.arange(n) % count
    for shard in range(count):
        rows = np.flatnonzero(owner == shard)
        hashable = columns["hashable"]
        facts = [
            prefilter.ImageFacts(
                int(row) + 1,
                content=str(columns["contents"][row]),
                phash=int(columns["phashes"][row]) if hashable[row] else None,
                corner_hashes=tuple(int(h) for h in columns["corner_hashes"][row]) if hashable[row] else (),
                width=int(columns["pixels"][row] // 1000),
                height=1000,
                blur_score=float(columns["blur_scores"][row]),
            )
            for row in rows
        ]
        ids = [f"img{row:09d}" for row in rows]
        ps.write_shard_facts(str(work / f"facts-{shard}.npz"), ps.ShardFacts(shard, count, facts, ids))
    return {"images": n}


def merge_child(n: int, count: int, work: pathlib.Path) -> dict:
    """``merge_shards`` over the files :func:`merge_setup_child` wrote, in this (fresh) process."""
    paths = [str(work / f"facts-{shard}.npz") for shard in range(count)]
    start = time.perf_counter()
    result = ps.merge_shards(
        str(work / "items.jsonl"),
        paths,
        str(work / "kept"),
        str(work / "rejects"),
        prefilter.PrefilterSettings(),
        step="benchmark",
    )
    merged = time.perf_counter() - start
    own, children = peak_rss_mb()
    facts_mb = sum(os.path.getsize(path) for path in paths) / 2**20
    return {
        "images": n,
        "merge_s": merged,
        "kept": result.kept,
        "facts_mb": facts_mb,
        "peak_rss_mb": own,
        "peak_tree_rss_mb": children,
        "load": load(),
    }


def in_fresh_process(kind: str, n: int, count: int = 10, work: str = "") -> dict:
    """Run one measurement in a new interpreter so its peak RSS is its own."""
    command = [sys.executable, __file__, "--child", kind, str(n), str(count), work]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        return {"images": n, "error": done.stderr.strip().splitlines()[-1:] or [f"exit {done.returncode}"]}
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpus", default=str(HERE / "out" / "prefilter_corpus"))
    parser.add_argument("--shards", type=int, default=4)
    parser.add_argument("--search-sizes", type=int, nargs="*", default=[1_000_000, 10_000_000])
    parser.add_argument("--full-merge-sizes", type=int, nargs="*", default=[1_000_000])
    parser.add_argument("--skip-per-shard", action="store_true")
    parser.add_argument("--child", nargs=4, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        TreeSampler().start()
        kind, n, count, work = args.child[0], int(args.child[1]), int(args.child[2]), pathlib.Path(args.child[3])
        children = {"search": lambda: search_child(n), "setup": lambda: merge_setup_child(n, count, work)}
        print(json.dumps(children.get(kind, lambda: merge_child(n, count, work))()))
        return
    print(f"# sharding benchmark, {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; {load()}")
    if not args.skip_per_shard:
        corpus = pathlib.Path(args.corpus)
        if not (corpus / "files").exists():
            subprocess.run([sys.executable, str(HERE / "image_corpus.py"), "--out", str(corpus)], check=True)
        figures = per_shard(corpus, args.shards)
        print(
            f"per shard ({figures['images']} corpus images, {args.shards} shards, 2 threads): "
            f"{', '.join(f'{r:.0f}' for r in figures['shard_images_per_s'])} images/s; unsharded prefilter "
            f"(baseline, same run) {figures['unsharded_images_per_s']:.0f} images/s; facts "
            f"{figures['facts_bytes_per_image']:.0f} bytes/image; merge {figures['merge_s']:.2f} s; kept identical: "
            f"{figures['identical_kept']}; {figures['load']}"
        )
    for n in args.search_sizes:
        f = in_fresh_process("search", n)
        if "error" in f:
            print(f"global search, {n:,} images: FAILED {f['error']}")
            continue
        print(
            f"global search, {n:,} images (exact + near + 4 corner-crop queries each): {f['search_s']:.1f} s "
            f"(+ {f['build_s']:.1f} s synthesising the table), peak RSS {f['peak_rss_mb']:.0f} MB "
            f"(with its worker processes {f['peak_tree_rss_mb']:.0f} MB); planted copies found "
            f"{f['planted_found']:.4f} of {f['planted_copies']:,}; {f['load']}"
        )
    for n in args.full_merge_sizes:
        with tempfile.TemporaryDirectory() as work:
            f = in_fresh_process("setup", n, work=work)
            if "error" not in f:
                f = in_fresh_process("merge", n, work=work)
        if "error" in f:
            print(f"whole merge step, {n:,} images: FAILED {f['error']}")
            continue
        print(
            f"whole merge step (10 facts files, {f['facts_mb']:.0f} MB -> kept/rejects), {n:,} images: "
            f"{f['merge_s']:.1f} s, peak RSS {f['peak_rss_mb']:.0f} MB (with workers {f['peak_tree_rss_mb']:.0f} MB); "
            f"{f['load']}"
        )
    print("target at 10,000,000: merge <= 60 s and <= 2048 MB on 2 cores")


if __name__ == "__main__":
    main()
