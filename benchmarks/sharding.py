"""Figures for the sharded prefilter: per-shard throughput, and the merge's time and peak memory.

1. Per shard: the prefilter corpus (``benchmarks/image_corpus.py``: photographs with planted
   copies, blurred and broken files) is split into shards; each shard's pass one
   (``prefilter_shards.inspect_shard`` + ``write_shard_facts``) is timed, beside the unsharded
   ``prefilter_manifest`` on the same manifest in the same run (the baseline). Also the facts
   file's bytes per image (what a shard sends to the merge).
2. Merge: synthetic shard facts files (10 shards) of 1,000,000 and 10,000,000 images with a
   realistic duplicate structure (exact copies, near copies of 1-4 bits, mirrored copies, copies
   cropped by a few percent whose hash lies near one of the original's corner-crop hashes, flat
   images; thumbnails that copies share with their original) and their source manifest go
   through the whole merge step, ``prefilter_shards.merge_shards`` (read the facts, exact, near
   and corner-crop searches with 4 crop queries per image, confirmation, decisions, kept and
   rejects written), in a fresh process: wall and CPU time, peak RSS of the process and with its
   search worker processes, time and peak per phase. The merge as it was before (every image's
   facts as objects, the whole table, ``write_decisions``) runs on the same files as the
   baseline at the sizes in ``--old-merge-sizes`` (1M by default: at 10M it took 475-940 s and
   6.3-9.5 GB), and both outputs must be identical.

Target (issue 18): merge <= 60 s and <= 2 GB at 10M on 2 cores. The machine is shared: the load
average is printed beside every figure.

    python benchmarks/sharding.py [--corpus benchmarks/out/prefilter_corpus] [--shards 4]
        [--merge-sizes 1000000 10000000] [--old-merge-sizes 1000000] [--facts-dir DIR] [--skip-per-shard]
"""

from __future__ import annotations

import argparse
import hashlib
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
from labelloop.components.core import image_hash, manifest, prefilter, shards
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


def _sample_schema() -> tuple[dict[str, str], set[str]]:
    """The facts file's schema and column names, from real ImageFacts (a flat and a textured image)."""
    sample = [
        prefilter.ImageFacts(1, content="0" * 32, width=8, height=8, blur_score=0.5),
        prefilter.ImageFacts(
            2,
            content="1" * 32,
            phash=2**63 + 1,
            corner_hashes=(1, 2, 3, 4),
            signature=np.zeros(SIDE, np.float16),
            width=8,
            height=8,
            blur_score=0.5,
        ),
    ]
    columns, schema = ps.facts_columns(sample)
    return schema, set(columns)


SIDE = image_hash.SIGNATURE_SIDE**2


def write_synthetic_facts(n: int, count: int, work: pathlib.Path) -> dict:
    """A manifest of ``n`` synthetic images and ``count`` shard facts files, written column by column
    in the facts file format (the schema taken from real ``ImageFacts``, so a new field fails here).

    Thumbnails: random rows that planted copies share with their original (correlation 1), zeros
    for flat images."""
    columns = synthetic_columns(n)
    template = manifest.dumps(manifest.with_id({"imageGcsUri": "gs://bucket/0.jpg"}, "img000000000"))
    template = template.replace(b"0.jpg", b"%d.jpg").replace(b"img000000000", b"img%09d")
    with open(work / "items.jsonl", "wb") as handle:
        for start in range(0, n, 100_000):
            handle.write(b"".join(template % (i, i) for i in range(start, min(start + 100_000, n))))
    schema, expected_columns = _sample_schema()
    rng = np.random.default_rng(2)
    planted = columns["planted"]
    owner = np.arange(n) % count
    for shard in range(count):
        rows = np.flatnonzero(owner == shard)
        sources = np.where(planted[rows] >= 0, planted[rows], rows)  # a copy shares its original's thumbnail
        signatures = np.empty((len(rows), SIDE), np.float16)
        for first in range(0, len(rows), 65536):
            chunk = sources[first : first + 65536]
            signatures[first : first + 65536] = _rows_for(chunk)
        flat = ~columns["hashable"][rows]
        signatures[flat] = 0
        cols = {
            "line/values": rows + 1,
            "reason_code/null": np.ones(len(rows), bool),
            "reason/values": np.zeros(len(rows), "U1"),
            "content/values": columns["contents"][rows],
            "phash/values": columns["phashes"][rows],
            "phash/null": flat,
            "corner_hashes/values": columns["corner_hashes"][rows],
            "corner_hashes/lengths": np.where(flat, 0, 4).astype(np.int16),
            "signature/values": signatures,
            "signature/null": flat,
            "width/values": columns["pixels"][rows] // 1000,
            "height/values": np.full(len(rows), 1000, np.int64),
            "blur_score/values": columns["blur_scores"][rows],
            **{
                f"{name}/values": rng.uniform(0, 1, len(rows))
                for name in ("quantization", "bytes_per_pixel", "clipped", "mean_gray")
            },
        }
        if set(cols) != expected_columns:
            raise SystemExit(f"facts columns changed: {sorted(set(cols) ^ expected_columns)}; update this benchmark")
        header = {"format": ps.FORMAT, "shard": shard, "shards": count, "fields": schema}
        cols["__schema__"] = np.array(json.dumps(header))
        cols["__ids__"] = np.char.add("img", np.char.zfill(rows.astype(str), 9))
        with open(work / f"facts-{shard}.npz", "wb") as handle:
            ps.write_columns(handle, cols, stored={"signature/values"})
    return {"images": n, "planted": int((planted >= 0).sum())}


def _rows_for(sources: np.ndarray) -> np.ndarray:
    """A random-looking thumbnail per source index, the same for the same index (any chunk, any shard)."""
    mixed = (sources.astype(np.uint64)[:, None] * np.uint64(0x9E3779B97F4A7C15)) ^ np.arange(SIDE, dtype=np.uint64)
    mixed = (mixed ^ (mixed >> np.uint64(29))) * np.uint64(0xBF58476D1CE4E5B9)
    mixed ^= mixed >> np.uint64(32)
    return ((mixed & np.uint64(0xFFFF)).astype(np.float32) / 32768.0 - 1.0).astype(np.float16)


def _cpu_s() -> float:
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def merge_child(n: int, count: int, work: pathlib.Path, old: bool) -> dict:
    """One merge over the files :func:`write_synthetic_facts` wrote, in this (fresh) process: the
    columnar merge (``merge_shards``), or the previous one (``old``: every shard's facts as
    ``ImageFacts``, the whole table, ``write_decisions``)."""
    paths = [str(work / f"facts-{shard}.npz") for shard in range(count)]
    args = (str(work / "items.jsonl"), paths, str(work / "kept"), str(work / "rejects"), prefilter.PrefilterSettings())
    phases, last = [], [time.perf_counter()]

    def phase_done(name: str) -> None:
        now = time.perf_counter()
        phases.append((name, now - last[0], resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024))
        last[0] = now

    start, cpu = time.perf_counter(), _cpu_s()
    if old:
        result = old_merge(*args)
    else:
        result = ps.merge_shards(*args, step="benchmark", phase_done=phase_done)
    merged = time.perf_counter() - start
    own, tree = peak_rss_mb()
    rejected = [json.loads(line) for line in open(work / "rejects")]
    removed = {r["id"] for r in rejected if r["reason_code"] in ("exact_duplicate", "near_duplicate")}
    return {
        "images": n,
        "merge_s": merged,
        "cpu_s": _cpu_s() - cpu,
        "kept": result.kept,
        "removed_as_copies": len(removed),
        "groups": result.duplicate_groups,
        "facts_mb": sum(os.path.getsize(path) for path in paths) / 2**20,
        "peak_rss_mb": own,
        "peak_tree_rss_mb": tree,
        "phases": phases,
        "kept_sha": hashlib.sha256((work / "kept").read_bytes()).hexdigest()[:16],
        "rejects_sha": hashlib.sha256((work / "rejects").read_bytes()).hexdigest()[:16],
        "load": load(),
    }


def old_merge(input_path, paths, kept_path, rejects_path, settings):
    """The merge as it was before the columnar one: every image's facts as a Python object."""
    parts = [ps.read_shard_facts(path) for path in paths]
    ids, good, failed = {}, [], {}
    for part in parts:
        for facts, item_id in zip(part.facts, part.ids):
            ids[facts.line] = item_id
            (good.append(facts) if facts.reason_code is None else failed.__setitem__(facts.line, facts))
    del parts
    good.sort(key=lambda facts: facts.line)
    table = prefilter.image_table(good, ids)
    del good
    return prefilter.write_decisions(input_path, kept_path, rejects_path, table, failed, settings, step="benchmark")


def in_fresh_process(kind: str, n: int, count: int = 10, work: str = "") -> dict:
    """Run one measurement in a new interpreter so its peak RSS is its own."""
    command = [sys.executable, __file__, "--child", kind, str(n), str(count), work]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        return {"images": n, "error": done.stderr.strip().splitlines()[-1:] or [f"exit {done.returncode}"]}
    return json.loads(done.stdout.strip().splitlines()[-1])


def print_merge(label: str, f: dict) -> None:
    if "error" in f:
        print(f"{label}, {f['images']:,} images: FAILED {f['error']}")
        return
    print(
        f"{label}, {f['images']:,} images ({f['facts_mb']:.0f} MB of facts in 10 files -> kept/rejects): "
        f"{f['merge_s']:.1f} s wall, {f['cpu_s']:.1f} s CPU; peak RSS {f['peak_rss_mb']:.0f} MB "
        f"(with worker processes {f['peak_tree_rss_mb']:.0f} MB); kept {f['kept']:,}, removed as copies "
        f"{f['removed_as_copies']:,}, groups {f['groups']:,}; output {f['kept_sha']}/{f['rejects_sha']}; {f['load']}"
    )
    for name, seconds, peak in f["phases"]:
        print(f"    {name:<48} {seconds:6.1f} s   peak so far {peak:6.0f} MB")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpus", default=str(HERE / "out" / "prefilter_corpus"))
    parser.add_argument("--shards", type=int, default=4)
    parser.add_argument("--merge-sizes", type=int, nargs="*", default=[1_000_000, 10_000_000])
    parser.add_argument("--old-merge-sizes", type=int, nargs="*", default=[1_000_000])
    parser.add_argument("--work", default="", help="folder for the synthetic facts (default: a temporary one)")
    parser.add_argument(
        "--facts-dir", default="", help="keep the synthetic facts in <dir>/<images>/ and reuse them in later runs"
    )
    parser.add_argument("--skip-per-shard", action="store_true")
    parser.add_argument("--child", nargs=4, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        TreeSampler().start()
        kind, n, count, work = args.child[0], int(args.child[1]), int(args.child[2]), pathlib.Path(args.child[3])
        children = {
            "setup": lambda: write_synthetic_facts(n, count, work),
            "merge": lambda: merge_child(n, count, work, old=False),
            "old": lambda: merge_child(n, count, work, old=True),
        }
        print(json.dumps(children[kind]()))
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
    for n in args.merge_sizes:
        with tempfile.TemporaryDirectory(dir=args.work or None) as scratch:
            work = os.path.join(args.facts_dir, str(n)) if args.facts_dir else scratch
            if os.path.exists(os.path.join(work, "facts-9.npz")):
                print(f"synthetic facts, {n:,} images: reused from {work}")
            else:
                os.makedirs(work, exist_ok=True)
                setup = in_fresh_process("setup", n, work=work)
                if "error" in setup:
                    print(f"synthetic facts, {n:,} images: FAILED {setup['error']}")
                    continue
                print(f"synthetic facts, {n:,} images: {setup['planted']:,} planted copies")
            new = in_fresh_process("merge", n, work=work)
            print_merge("merge (columnar)", new)
            if n in args.old_merge_sizes:
                old = in_fresh_process("old", n, work=work)
                print_merge("merge before (baseline, same files)", old)
                if "error" not in old and "error" not in new:
                    same = (new["kept_sha"], new["rejects_sha"]) == (old["kept_sha"], old["rejects_sha"])
                    wall = new["merge_s"] / old["merge_s"]
                    memory = new["peak_tree_rss_mb"] / old["peak_tree_rss_mb"]
                    print(
                        f"    columnar / before: {wall:.2f}x wall, {memory:.2f}x peak memory; identical output: {same}"
                    )
            else:
                print("    (the merge before is not run at this size: 475-940 s and 6.3-9.5 GB measured at 10M)")
    print("target at 10,000,000: merge <= 60 s and <= 2048 MB on 2 cores")


if __name__ == "__main__":
    main()
