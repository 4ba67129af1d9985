"""Manifest validation throughput: labelloop's validator beside jsonschema and bare JSON parsers.

Generates a Vertex image-classification manifest (~150 MB by default, 1 bad line in 1,000: wrong
values, and 1% of them lines Arrow cannot read at all: broken JSON or a wrong JSON type), then
prints MB/s, all measured in this run on the same bytes:

* labelloop ``validate.check_manifest``: every record rule plus duplicate URIs/ids, streamed;
* ``jsonschema.validate`` per line (schema re-checked and validator rebuilt each call, as commonly
  written) and a precompiled ``Draft202012Validator`` with an honest schema for the same rules
  (plus a dict for duplicate URIs, which JSON Schema cannot express); the slow ones on a prefix;
* bare ``json.loads`` and ``orjson.loads`` per line (parsing only, no rules).

The labelloop validator is timed again on a manifest where *every* bad line is unreadable to Arrow
(one per ~1,000 lines, so every block is re-parsed in pieces), to show how it degrades.
Then file existence checks, separately: one listing per folder (``sources.file_sizes``) against
one ``info`` call per file, on a local folder tree and on a real local GCS emulator (HTTP per call).

Wall-clock MB/s swings with other load on a shared machine, so CPU MB/s (process CPU time, all threads)
is printed beside it and fast contenders run several rounds, best kept.

Usage: python benchmarks/validate_manifest.py [--mb 150] [--jsonschema-mb 0.3] [--compiled-mb 10] [--rounds 3]
"""

from __future__ import annotations

import argparse
import io
import json
import os
import random
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable

import orjson
from labelloop.components.core import sources, validate
from labelloop.components.core.manifest import ID_KEY, ML_USE_KEY, ML_USES

LABELS = ("cat", "dog", "bird", "fish", "horse", "none_of_the_above")


def make_record(i: int, rng: random.Random) -> dict:
    """One realistic valid line: image URI, label with resource labels, split, team label, extra facts."""
    record = {
        "imageGcsUri": f"gs://acme-vision-data/images/batch_{i % 500:03d}/img_{i:09d}.jpg",
        "classificationAnnotation": {
            "displayName": rng.choice(LABELS),
            "annotationResourceLabels": {"labelloop_source": "import", validate.ANNOTATION_SET_KEY: "species"},
        },
        "dataItemResourceLabels": {ML_USE_KEY: rng.choice(ML_USES), "team": "vision-a", ID_KEY: f"{i:032x}"},
        "labelloop": {"camera": rng.choice(["front", "rear"]), "exposure": round(rng.random(), 3)},
    }
    if i % 7 == 0:
        record.pop("classificationAnnotation")
        record["classificationAnnotations"] = [{"displayName": "cat"}, {"displayName": "dog"}]
    return record


def corrupt(record: dict, rng: random.Random, unreadable_share: float) -> dict | bytes:
    """A bad line: a wrong value, or (``unreadable_share`` of them) broken JSON or a wrong JSON type."""
    kind = rng.choice([4, 5]) if rng.random() < unreadable_share else rng.randrange(4)
    if kind == 0:
        return {**record, "imageGcsUri": record["imageGcsUri"].replace(".jpg", ".tiff")}
    if kind == 1:
        return {**record, "classificationAnnotation": {"displayName": "unicorn"}}
    if kind == 2:
        return {**record, "dataItemResourceLabels": {ML_USE_KEY: "train"}}
    if kind == 3:
        return {**record, "dataItemResourceLabels": {"Team": "vision-a"}}
    if kind == 4:
        return {**record, "classificationAnnotation": {"displayName": 42}}  # Arrow cannot type the block
    return orjson.dumps(record)[:-5]


def generate(path: str, megabytes: float, unreadable_share: float, seed: int = 0) -> tuple[int, int]:
    """Write the manifest (1 bad line in 1,000); returns (lines, bad lines)."""
    rng = random.Random(seed)
    target = int(megabytes * 1e6)
    written = lines = bad = 0
    with open(path, "wb") as handle:
        while written < target:
            record = make_record(lines, rng)
            if rng.random() < 0.001:
                record = corrupt(record, rng, unreadable_share)
                bad += 1
            data = (record if isinstance(record, bytes) else orjson.dumps(record)) + b"\n"
            handle.write(data)
            written += len(data)
            lines += 1
    return lines, bad


def honest_schema(allowed_labels: tuple[str, ...]) -> dict:
    """The same per-record rules as JSON Schema (Unicode letter classes approximated by ranges)."""
    intl = "\u00c0-\uffff"
    key_pattern = f"^[a-z{intl}][a-z0-9_\\-{intl}]{{0,63}}$"
    value = {"type": "string", "pattern": f"^[a-z0-9_\\-{intl}]{{0,64}}$"}
    name = {
        "type": "string",
        "minLength": 1,
        "maxLength": validate.MAX_DISPLAY_NAME_CHARS,
        "pattern": "\\S",
        "enum": list(allowed_labels),
    }
    annotation = {
        "type": "object",
        "required": ["displayName"],
        "properties": {
            "displayName": name,
            "annotationResourceLabels": {
                "type": "object",
                "properties": {
                    validate.ANNOTATION_SET_KEY: {"type": "string", "minLength": 1, "maxLength": 128, "pattern": "\\S"}
                },
                "patternProperties": {key_pattern: value},
                "additionalProperties": False,
            },
        },
    }
    extensions = "|".join(e.lstrip(".") for e in validate.VERTEX_IMAGE_EXTENSIONS)
    return {
        "type": "object",
        "required": ["imageGcsUri"],
        "properties": {
            "imageGcsUri": {
                "type": "string",
                "allOf": [{"pattern": validate.GS_URI_PATTERN}, {"pattern": f"(?i)\\.({extensions})$"}],
            },
            "textContent": False,
            "textGcsUri": False,
            "classificationAnnotation": annotation,
            "classificationAnnotations": {"type": "array", "items": annotation, "uniqueItems": True},
            "dataItemResourceLabels": {
                "type": "object",
                "properties": {ML_USE_KEY: {"enum": list(ML_USES)}},
                "patternProperties": {key_pattern: value},
                "additionalProperties": False,
            },
        },
        "not": {"required": ["classificationAnnotation", "classificationAnnotations"]},
    }


def prefix(data: bytes, megabytes: float) -> bytes:
    cut = data.rfind(b"\n", 0, int(megabytes * 1e6))
    return data[: cut + 1] if cut >= 0 else data


def timed(data: bytes, run: Callable[[bytes], int]) -> tuple[float, float, int]:
    """``(wall MB/s, CPU MB/s, errors)``: CPU time (all threads) is steadier on a shared machine."""
    wall, cpu = time.perf_counter(), time.process_time()
    errors = run(data)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    return len(data) / wall / 1e6, len(data) / max(cpu, 1e-9) / 1e6, errors


def run_labelloop(rules: validate.Rules) -> Callable[[bytes], int]:
    def run(data: bytes) -> int:
        return sum(len(b.problems) for b in validate.check_manifest(io.BytesIO(data), rules))

    return run


def run_jsonschema(schema: dict, compiled: bool) -> Callable[[bytes], int]:
    import jsonschema

    validator = jsonschema.Draft202012Validator(schema)

    def run(data: bytes) -> int:
        errors, seen = 0, {}
        for number, line in enumerate(data.splitlines(), start=1):
            try:
                record = json.loads(line)
                if compiled:
                    if not validator.is_valid(record):
                        errors += 1
                        continue
                else:
                    jsonschema.validate(record, schema)
            except (ValueError, jsonschema.ValidationError):
                errors += 1
                continue
            if seen.setdefault(record["imageGcsUri"], number) != number:
                errors += 1
        return errors

    return run


def run_parser(loads) -> Callable[[bytes], int]:
    def run(data: bytes) -> int:
        errors = 0
        for line in data.splitlines():
            try:
                loads(line)
            except ValueError:
                errors += 1
        return errors

    return run


def existence_benchmark(root: str, files: int, folders: int) -> None:
    """One listing per folder (``sources.file_sizes``) against one ``info`` call per file, same URIs."""
    fs, base = sources.filesystem(root)
    uris = []
    for i in range(files):
        path = f"{base}/batch_{i % folders:03d}/img_{i:07d}.jpg"
        fs.makedirs(path.rsplit("/", 1)[0], exist_ok=True)
        fs.pipe_file(path, b"\xff\xd8\xff" + i.to_bytes(4, "big"))
        uris.append(sources.uri_of(fs, path))
    uris.append(sources.uri_of(fs, f"{base}/batch_000/missing.jpg"))
    fs.invalidate_cache()
    start = time.perf_counter()
    sizes = sources.file_sizes(uris)
    listing = time.perf_counter() - start
    fs.invalidate_cache()  # gcsfs would otherwise answer info() from the listing just made
    start = time.perf_counter()
    per_item = {}
    for uri in uris:
        try:
            per_item[uri] = fs.info(uri)["size"]
        except FileNotFoundError:
            per_item[uri] = None
    stat = time.perf_counter() - start
    assert sizes == per_item, "listing and per-item stat disagree"
    where = "gs:// (local emulator)" if root.startswith("gs://") else "local"
    print(
        f"existence, {len(uris):,} {where} files in {folders} folders: listing per folder {len(uris) / listing:,.0f} "
        f"files/s, one info() per file {len(uris) / stat:,.0f} files/s (listing/per-file speed: {stat / listing:.1f}x)"
    )


def start_gcs_emulator(bucket: str) -> subprocess.Popen:
    """A real gcp-storage-emulator on a free local port, with fsspec pointed at it (dev extra needed)."""
    os.environ["GCSFS_EXPERIMENTAL_ZB_HNS_SUPPORT"] = "false"
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    command = [
        os.path.join(os.path.dirname(sys.executable), "gcp-storage-emulator"),
        "start",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--default-bucket",
        bucket,
        "--in-memory",
        "--quiet",
    ]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    endpoint = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            urllib.request.urlopen(f"{endpoint}/storage/v1/b/{bucket}", timeout=1).close()
            break
        except OSError:
            if time.monotonic() > deadline or process.poll() is not None:
                process.kill()
                raise RuntimeError(f"gcp-storage-emulator did not start on {endpoint}") from None
            time.sleep(0.1)
    os.environ["STORAGE_EMULATOR_HOST"] = endpoint
    import fsspec.config

    fsspec.config.conf.setdefault("gs", {})["token"] = "anon"
    return process


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mb", type=float, default=150, help="manifest size in MB")
    parser.add_argument("--jsonschema-mb", type=float, default=0.3, help="prefix for jsonschema.validate per line")
    parser.add_argument("--compiled-mb", type=float, default=10, help="prefix for the precompiled validator")
    parser.add_argument("--rounds", type=int, default=3, help="repeats of the fast contenders (best is printed)")
    parser.add_argument("--files", type=int, default=5_000, help="files for the local existence benchmark")
    parser.add_argument(
        "--gcs-files",
        type=int,
        default=500,
        help="files for the existence benchmark on a local GCS emulator (0 to skip)",
    )
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="labelloop-bench-") as tmp:
        path = os.path.join(tmp, "manifest.jsonl")
        lines, bad = generate(path, args.mb, unreadable_share=0.01)
        with open(path, "rb") as handle:
            data = handle.read()
        print(
            f"manifest: {len(data) / 1e6:.1f} MB, {lines:,} lines, {bad:,} bad; cores: {os.cpu_count()}, "
            f"load average: {os.getloadavg()[0]:.1f}"
        )
        rules = validate.Rules("image", allowed_labels=LABELS)
        schema = honest_schema(LABELS)
        run_labelloop(rules)(prefix(data, 1))  # warm up Arrow's kernels once
        rounds = args.rounds
        results = [
            ("labelloop check_manifest (every rule)", data, run_labelloop(rules), rounds),
            (
                "jsonschema.validate per line",
                prefix(data, args.jsonschema_mb),
                run_jsonschema(schema, compiled=False),
                1,
            ),
            (
                "jsonschema Draft202012Validator, precompiled",
                prefix(data, args.compiled_mb),
                run_jsonschema(schema, compiled=True),
                1,
            ),
            ("json.loads per line (no rules)", data, run_parser(json.loads), rounds),
            ("orjson.loads per line (no rules)", data, run_parser(orjson.loads), rounds),
        ]
        figures = {}
        print(f"{'':48s} {'wall MB/s':>10s} {'CPU MB/s':>10s}   (best of {args.rounds} rounds where repeated)")
        for label, sample, run, rounds in results:
            runs = [timed(sample, run) for _ in range(rounds)]
            rate, cpu_rate, errors = max(r[0] for r in runs), max(r[1] for r in runs), runs[0][2]
            figures[label] = (rate, cpu_rate)
            print(
                f"{label:48s} {rate:10.2f} {cpu_rate:10.2f}  on {len(sample) / 1e6:6.1f} MB, {errors:,} bad lines found"
            )
        names = [label for label, _, _, _ in results]
        for column, kind in ((0, "wall"), (1, "CPU")):
            mine = figures[names[0]][column]
            print(
                f"labelloop vs precompiled jsonschema ({kind}): {mine / figures[names[2]][column]:.1f}x; "
                f"vs json.loads: {mine / figures[names[3]][column]:.2f}x; vs orjson.loads: "
                f"{mine / figures[names[4]][column]:.2f}x; >= 100 MB/s: {'met' if mine >= 100 else 'NOT met'}"
            )
        generate(path, args.mb / 3, unreadable_share=1.0, seed=1)
        with open(path, "rb") as handle:
            typed = handle.read()
        rate, cpu_rate, errors = timed(typed, run_labelloop(rules))
        print(
            f"{'labelloop, an unreadable line every ~1,000':48s} {rate:10.2f} {cpu_rate:10.2f}  on "
            f"{len(typed) / 1e6:6.1f} MB, {errors:,} bad lines found"
        )
        existence_benchmark(os.path.join(tmp, "files"), args.files, folders=100)
        if args.gcs_files:
            emulator = start_gcs_emulator("labelloop-bench")
            try:
                existence_benchmark("gs://labelloop-bench/files", args.gcs_files, folders=10)
            finally:
                emulator.terminate()
                emulator.wait(timeout=10)


if __name__ == "__main__":
    main()
