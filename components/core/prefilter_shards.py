"""The image prefilter split over machines: per-shard image work, one global decision.

The prefilter's cost is pass one, reading and inspecting every image (:func:`prefilter.inspect_all`);
the decision over all images (duplicate groups, representatives) needs only each image's facts. So:

* :func:`inspect_shard` runs pass one on one shard (from :mod:`shards`) and writes its
  :class:`prefilter.ImageFacts` as a compact columnar file (``.npz``: hashes, sizes, scores; no
  image data), keyed by the item's line in the SOURCE manifest;
* :func:`merge_shards` reads every shard's facts, rebuilds the prefilter's image table in source
  line order (:func:`prefilter.image_table`) and runs the unsharded pass two
  (:func:`prefilter.write_decisions`) over the source manifest.

Pass one is per image and the table is rebuilt in the same order, so the kept and rejected items
are identical to :func:`prefilter.prefilter_manifest`'s, down to which copy is kept and the order
of the output lines. The facts are stored field by field from the dataclass's own fields
(:func:`facts_columns`), so a field added to ``ImageFacts`` travels without changes here.
"""

from __future__ import annotations

import dataclasses
import json
import zipfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from . import image_checks, manifest, prefilter, prefilter_merge, shards

FORMAT = 1
#: Most worker processes the merge's searches and decisions use: each search worker builds its own
#: band tables (about 1.25 GB per 10 million images, measured).
MAX_MERGE_WORKERS = 8
_SCHEMA_KEY = "__schema__"
_IDS_KEY = "__ids__"


def settings_from(
    *,
    hamming_threshold: int,
    blur_threshold: float,
    min_width: int,
    min_height: int,
    max_pixels: int,
    check_exact_duplicates: bool,
    check_near_duplicates: bool,
    check_cropped_copies: bool,
    check_blur: bool,
    workers: int = 0,
) -> prefilter.PrefilterSettings:
    """The prefilter settings from the flat parameters the shard and merge components share."""
    return prefilter.PrefilterSettings(
        limits=image_checks.DecodeLimits(min_width=min_width, min_height=min_height, max_pixels=max_pixels),
        hamming_threshold=hamming_threshold,
        blur_threshold=blur_threshold,
        exact_duplicates=check_exact_duplicates,
        near_duplicates=check_near_duplicates,
        cropped_copies=check_cropped_copies,
        blurry=check_blur,
        workers=workers,
    )


# ---------------------------------------------------------------------------------------------
# ImageFacts as columns


def _kind(values: list) -> str:
    """How a column of non-None field values is stored."""
    if not values:
        return "none"
    if all(isinstance(v, bool) for v in values):
        return "bool"
    if all(isinstance(v, int) and not isinstance(v, bool) for v in values):
        return "uint64" if min(values) >= 0 and max(values) >= 2**63 else "int64"
    if all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values):
        return "float"
    if all(isinstance(v, str) for v in values):
        return "str"
    if all(isinstance(v, tuple) and all(isinstance(x, int) for x in v) for v in values):
        return "int_tuple"
    if all(isinstance(v, np.ndarray) for v in values) and len({(v.shape, v.dtype.str) for v in values}) == 1:
        return "array"
    raise TypeError(
        f"cannot store ImageFacts values of types {sorted({type(v).__name__ for v in values})} in a shard "
        f"facts file; add the type to prefilter_shards._kind"
    )


def _encode(values: list, kind: str) -> dict[str, np.ndarray]:
    present = [v for v in values if v is not None]
    nulls = np.array([v is None for v in values], bool)
    columns = {"null": nulls} if nulls.any() else {}
    if kind == "none":
        return columns
    if kind == "int_tuple":
        width = max((len(v) for v in present), default=0)
        table = np.zeros((len(values), width), np.uint64)
        lengths = np.zeros(len(values), np.int16)
        for row, value in enumerate(values):
            if value:
                table[row, : len(value)] = np.array(value, np.uint64)
                lengths[row] = len(value)
        return {**columns, "values": table, "lengths": lengths}
    if kind == "array":
        blank = np.zeros_like(present[0])
        return {**columns, "values": np.stack([blank if v is None else v for v in values])}
    dtype = {"bool": bool, "int64": np.int64, "uint64": np.uint64, "float": np.float64, "str": str}[kind]
    filler = {"str": ""}.get(kind, 0)
    return {**columns, "values": np.array([filler if v is None else v for v in values], dtype)}


def _decode(columns: dict[str, np.ndarray], kind: str, rows: int) -> list:
    nulls = columns.get("null", np.zeros(rows, bool))
    if kind == "none":
        return [None] * rows
    values = columns["values"]
    if kind == "int_tuple":
        lengths = columns["lengths"]
        out = [tuple(int(x) for x in row[:length]) for row, length in zip(values, lengths)]
    elif kind == "array":
        out = list(values)
    else:
        out = values.tolist()  # numpy scalars back to Python bool/int/float/str
    return [None if null else value for value, null in zip(out, nulls)]


def facts_columns(facts: Sequence[prefilter.ImageFacts]) -> tuple[dict[str, np.ndarray], dict[str, str]]:
    """Columns (``<field>/values``, ``/null``, ``/lengths``) and each field's storage kind."""
    columns, schema = {}, {}
    for field in dataclasses.fields(prefilter.ImageFacts):
        values = [getattr(f, field.name) for f in facts]
        schema[field.name] = _kind([v for v in values if v is not None])
        for part, column in _encode(values, schema[field.name]).items():
            columns[f"{field.name}/{part}"] = column
    return columns, schema


def facts_from_columns(columns: dict[str, np.ndarray], schema: dict[str, str], rows: int) -> list[prefilter.ImageFacts]:
    """The :class:`prefilter.ImageFacts` that :func:`facts_columns` stored, with Python-typed values."""
    known = {field.name for field in dataclasses.fields(prefilter.ImageFacts)}
    unknown = set(schema) - known
    if unknown:
        raise ValueError(
            f"shard facts have fields {sorted(unknown)} that this ImageFacts lacks; run every shard and the "
            f"merge with the same labelloop version"
        )
    fields = {}
    for name, kind in schema.items():
        parts = {key.split("/", 1)[1]: value for key, value in columns.items() if key.split("/", 1)[0] == name}
        fields[name] = _decode(parts, kind, rows)
    return [prefilter.ImageFacts(**dict(zip(fields, row))) for row in zip(*fields.values())]


# ---------------------------------------------------------------------------------------------
# Per shard


@dataclass(frozen=True)
class ShardFacts:
    """One shard's pass-one facts: every inspected image's facts and item id, in the shard's order."""

    shard: int
    shards: int
    facts: list[prefilter.ImageFacts]
    ids: list[str]


def inspect_shard(folder: str, shard: int, settings: prefilter.PrefilterSettings) -> ShardFacts:
    """Pass one of the prefilter over one shard written by :func:`shards.split_manifest`."""
    with open(f"{folder}/{shards.INDEX_FILE}") as handle:
        count = json.load(handle)["shards"]
    ids: dict[int, str] = {}
    tasks = []
    for line in shards.read_shard(folder, shard):
        uri = prefilter.inspectable_uri(line.record)
        if uri is not None:
            ids[line.number] = manifest.item_id(line.record)
            tasks.append((line.number, uri))
    facts = list(prefilter.inspect_all(iter(tasks), settings))
    return ShardFacts(shard, count, facts, [ids[f.line] for f in facts])


def write_shard_facts(path: str, shard_facts: ShardFacts) -> None:
    """Write one shard's facts as a columnar ``.npz`` (no pickles)."""
    columns, schema = facts_columns(shard_facts.facts)
    header = {"format": FORMAT, "shard": shard_facts.shard, "shards": shard_facts.shards, "fields": schema}
    columns[_SCHEMA_KEY] = np.array(json.dumps(header))
    columns[_IDS_KEY] = np.array(shard_facts.ids, dtype=str)
    stored = {f"{name}/values" for name, kind in schema.items() if kind == "array"}
    with manifest.atomic_writer(path) as handle:
        write_columns(handle, columns, stored=stored)


def write_columns(handle, columns: dict[str, np.ndarray], *, stored: set[str] = frozenset()) -> None:
    """Columns as an ``.npz`` (``np.load`` reads it): each one deflated, except those in ``stored``
    (e.g. thumbnails: float16 noise that barely compresses), which the merge then reads at disk speed."""
    with zipfile.ZipFile(handle, "w", allowZip64=True) as archive:
        for name, column in columns.items():
            info = zipfile.ZipInfo(f"{name}.npy", date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_STORED if name in stored else zipfile.ZIP_DEFLATED
            with archive.open(info, "w", force_zip64=True) as member:
                np.lib.format.write_array(member, np.asanyarray(column), allow_pickle=False)


def read_shard_facts(path: str) -> ShardFacts:
    """One shard's facts as :func:`write_shard_facts` wrote them."""
    with manifest.open_file(path, "rb") as handle, np.load(handle, allow_pickle=False) as data:
        header = json.loads(str(data[_SCHEMA_KEY]))
        if header.get("format") != FORMAT:
            raise ValueError(f"{path}: shard facts format {header.get('format')}, expected {FORMAT}")
        ids = data[_IDS_KEY].tolist()
        columns = {key: data[key] for key in data.files if key not in (_SCHEMA_KEY, _IDS_KEY)}
    facts = facts_from_columns(columns, header["fields"], len(ids))
    return ShardFacts(header["shard"], header["shards"], facts, ids)


# ---------------------------------------------------------------------------------------------
# Merge


def _check_complete(headers: list[dict], paths: Sequence[str]) -> None:
    """Every shard of one split exactly once, or an error naming what is missing or repeated."""
    if not headers:
        raise ValueError("no shard facts to merge; the fan-out produced no shards")
    for header, path in zip(headers, paths):
        if header.get("format") != FORMAT:
            raise ValueError(f"{path}: shard facts format {header.get('format')}, expected {FORMAT}")
    counts = {header["shards"] for header in headers}
    if len(counts) != 1:
        raise ValueError(f"shard facts come from splits into {sorted(counts)} shards; merge one split's shards only")
    seen: dict[int, str] = {}
    for header, path in zip(headers, paths):
        if header["shard"] in seen:
            raise ValueError(f"shard {header['shard']} appears twice ({seen[header['shard']]} and {path})")
        seen[header["shard"]] = path
    missing = sorted(set(range(counts.pop())) - set(seen))
    if missing:
        raise ValueError(f"shard facts missing for shards {missing[:10]}; re-run those shards before the merge")


def merge_shards(
    input_path: str,
    facts_paths: Sequence[str],
    kept_path: str,
    rejects_path: str,
    settings: prefilter.PrefilterSettings,
    *,
    step: str,
    workers: int | None = None,
    phase_done: Callable[[str], None] = lambda name: None,
) -> prefilter.PrefilterResult:
    """Decide over every shard's facts and write kept and rejects exactly as the unsharded prefilter.

    The work runs on columns (:mod:`prefilter_merge`): only the images in a candidate duplicate
    pair are read in full and decided by the prefilter's rules; the rest are lone images.

    Args:
        input_path: The manifest that was split (pass two streams it in its own order).
        facts_paths: One facts file per shard (:func:`write_shard_facts`), in any order.
        kept_path: Where the kept items go.
        rejects_path: Where every removed item goes, with a reason code.
        settings: The settings the shards ran with (their thresholds decide here).
        step: The name the rejects record as their producer.
        workers: Processes the duplicate searches may use (None: one per CPU).
        phase_done: Called with each merge phase's name as it ends (benchmarks time them).
    """
    headers = []
    for path in facts_paths:
        with prefilter_merge.FactsFile(path) as facts:
            headers.append(facts.header)
    _check_complete(headers, facts_paths)
    return prefilter_merge.merge(
        input_path, facts_paths, kept_path, rejects_path, settings, step=step, workers=workers, phase_done=phase_done
    )
