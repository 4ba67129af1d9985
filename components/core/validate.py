"""Record rules for image and text manifests in the Vertex AI import schema, fast.

Every rule lives once, in :func:`check_record` (one dict, the exact reason). Manifests are checked
block by block: a block is parsed with ``pyarrow.json`` and screened column-wise (RE2 regexes,
``is_in``, lengths); only lines the screen does not clear, and whole blocks it cannot screen
(mixed types, nulls, NaN, lines that are not objects), go through :func:`check_record`. The
screen only ever clears lines that :func:`check_record` accepts, so every rejected line still gets
its exact line number and reason.

Rules (sources: /work/shared/reference/vertex-datasets-labeling-automl-guide.md and the
``DataLabelingJob`` label rules in rest-datalabelingjob-resource.txt):

* content: image items need ``imageGcsUri``; text items exactly one of ``textContent`` /
  ``textGcsUri``; values are strings, inline text is not blank.
* URIs: scheme in ``allowed_uri_schemes`` (``gs`` on Vertex; ``file`` = absolute local paths or
  ``file://`` in the local target); ``gs://`` URIs name a valid bucket and an object; image URIs end
  in an import format Vertex reads (PNG, JPEG, GIF, BMP, ICO).
* classification labels: ``classificationAnnotation`` (one) or ``classificationAnnotations`` (a
  list), not both; ``displayName`` a non-blank string of at most 128 characters (the limit Vertex
  documents for display names; the reference documents no tighter one), in ``allowed_labels`` when
  given, no name twice on one item.
* resource labels (``dataItemResourceLabels``, ``annotationResourceLabels``): string keys and
  values of at most 64 characters from lowercase letters, digits, ``_`` and ``-`` (international
  letters allowed); keys start with a letter. ``aiplatform.googleapis.com/`` keys are reserved:
  only ``ml_use`` (``training``/``validation``/``test``) on items and ``annotation_set_name`` (a
  non-blank name of at most 128 characters) on annotations are accepted.
* duplicates: the same URI twice, or the same carried ``labelloop_id`` twice; the later line is
  rejected naming the first. Identical *content* under different URIs is not an error here.
* boxes (``boundingBoxAnnotations``, Vertex's image bounding box import schema, and the older
  ``objectAnnotations`` with ``boundingBox.normalizedVertices``): a list of objects, each with a
  valid ``displayName`` and normalized coordinates, numbers in [0, 1] with min < max.
  https://cloud.google.com/vertex-ai/docs/image-data/object-detection/prepare-data
* every unknown field is carried through unchecked and untouched.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import numpy as np
import orjson
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.json as pa_json

from .manifest import BOM, ID_KEY, ML_USE_KEY, ML_USES
from .manifest import loads as json_loads

RESERVED_PREFIX = "aiplatform.googleapis.com/"
ANNOTATION_SET_KEY = RESERVED_PREFIX + "annotation_set_name"
#: Image formats Vertex imports (it also *outputs* TIFF and WEBP, which it does not import).
VERTEX_IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".gif", ".bmp", ".ico")
DATA_TYPES = ("image", "text")
URI_SCHEMES = ("gs", "file")
MAX_LABEL_CHARS = 64
MAX_DISPLAY_NAME_CHARS = 128
#: Vertex's limits for text classification (the reference, section "TextDataset").
TEXT_MAX_DOCUMENTS = 1_000_000
TEXT_MIN_ITEMS_PER_LABEL = 10

# Unicode categories allowed in resource label keys/values besides "_" and "-": lowercase and
# caseless ("international") letters, their marks, and decimal digits. Shared by both paths.
_LABEL_CATEGORIES = ("Ll", "Lo", "Lm", "Mn", "Mc", "Nd")
_LABEL_KEY_FIRST_CATEGORIES = ("Ll", "Lo")
# The common all-ASCII case of the label value rule, for the column-wise screen.
RE2_ASCII_LABEL_VALUE = rf"^[a-z0-9_-]{{0,{MAX_LABEL_CHARS}}}$"

# URI shapes, ASCII-only so Python's re and Arrow's RE2 read them the same way.
GS_URI_PATTERN = r"^gs://[a-z0-9][a-z0-9._-]{1,220}[a-z0-9]/[^\r\n]*[^/\r\n]$"
FILE_URI_PATTERN = r"^(?:file://)?/[^\r\n]*[^/\r\n]$"
# The screen's versions: RE2 is slow on bounded repeats, so the bucket length bound is left out and
# URIs longer than SCREEN_MAX_URI_CHARS (which could hide a too-long bucket) go to the exact path.
_SCREEN_URI_PREFIXES = {"gs": r"gs://[a-z0-9][a-z0-9._-]+[a-z0-9]/", "file": r"(?:file://)?/"}
SCREEN_MAX_URI_CHARS = 200
_GS_RE = re.compile(GS_URI_PATTERN)
_FILE_RE = re.compile(FILE_URI_PATTERN)
_SCHEME_RE = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*)://")
# A block holding a JSON null goes to the exact path, since Arrow reads null as "absent". The plain
# substring test runs first (fast); the pattern confirms it is a value, not text inside a string.
_NULL_VALUE_RE = re.compile(rb"[:\[,]\s*null")

DEFAULT_BLOCK_BYTES = 4 << 20
#: The longest manifest line read (a Vertex record is well under 100 KB); a longer one is one
#: ``line_too_long`` reject, and only its first MAX_LINE_BYTES + 1 bytes are ever held in memory.
MAX_LINE_BYTES = 1 << 20
#: The deepest nesting a record may have: a Vertex record needs about 6 levels, and every later step
#: must be able to write the record back (orjson writes at most 255 levels).
MAX_JSON_DEPTH = 128
#: Lines with more brackets than this never reach Arrow's JSON reader, whose recursion crashed the
#: process (a segfault) on a 100k-deep line; they take the exact path, where orjson stops at depth
#: 1024 with an error and the depth is then measured against MAX_JSON_DEPTH.
ARROW_MAX_BRACKETS = MAX_JSON_DEPTH
#: Lines Arrow cannot read that are patched out of a block before it is split instead.
MAX_REPAIRS = 8
ARROW_PIECE_BYTES = 1 << 20
_ARROW_ROW_RE = re.compile(r"in row (\d+)")
#: A block Arrow cannot screen is cut into SPLIT_WAYS pieces, recursively, down to MIN_SPLIT_LINES
#: lines, which are checked line by line.
MIN_SPLIT_LINES = 2048
SPLIT_WAYS = 8


class ValidationError(ValueError):
    """Validation cannot run at all (bad parameters); the message says which and how to fix it."""


@dataclass(frozen=True)
class Rules:
    """What a valid record looks like for one import.

    Attributes:
        data_type: ``image`` or ``text``.
        allowed_uri_schemes: ``gs`` (Vertex) and/or ``file`` (absolute local paths, local target).
        allowed_labels: the class names accepted; empty accepts any valid name.
        image_extensions: lowercase file suffixes accepted for ``imageGcsUri``.
        max_display_name_chars: the longest accepted class name.
    """

    data_type: str
    allowed_uri_schemes: tuple[str, ...] = ("gs",)
    allowed_labels: tuple[str, ...] = ()
    image_extensions: tuple[str, ...] = VERTEX_IMAGE_EXTENSIONS
    max_display_name_chars: int = MAX_DISPLAY_NAME_CHARS

    def __post_init__(self) -> None:
        if self.data_type not in DATA_TYPES:
            raise ValidationError(f"data_type must be one of {DATA_TYPES} for manifests, got {self.data_type!r}")
        unknown = sorted(set(self.allowed_uri_schemes) - set(URI_SCHEMES))
        if unknown or not self.allowed_uri_schemes:
            raise ValidationError(
                f"allowed_uri_schemes must be a non-empty subset of {URI_SCHEMES}, got {list(self.allowed_uri_schemes)}"
            )
        object.__setattr__(self, "allowed_uri_schemes", tuple(self.allowed_uri_schemes))
        object.__setattr__(self, "allowed_labels", tuple(self.allowed_labels))
        object.__setattr__(self, "image_extensions", tuple(e.lower() for e in self.image_extensions))

    @property
    def content_fields(self) -> tuple[str, ...]:
        return ("imageGcsUri",) if self.data_type == "image" else ("textContent", "textGcsUri")


@dataclass(frozen=True)
class Problem:
    """Why one line was rejected: a machine-readable code and a sentence a person can act on."""

    line: int
    code: str
    reason: str


@dataclass(frozen=True)
class Block:
    """One checked block of a manifest.

    Attributes:
        first_line: the 1-based line number of ``raw_lines[0]``.
        raw_lines: every line of the block as read (without its newline).
        accepted: indices into ``raw_lines`` of the accepted lines, in file order.
        problems: every rejected line with its reason, in file order.
        exact_lines: how many lines went through the exact per-line path (for benchmarks).
    """

    first_line: int
    raw_lines: list[bytes]
    accepted: np.ndarray
    problems: tuple[Problem, ...]
    exact_lines: int = 0

    def kept_lines(self) -> Iterator[tuple[int, bytes]]:
        """``(line_number, raw_bytes)`` of every accepted line."""
        for index in self.accepted.tolist():
            yield self.first_line + index, self.raw_lines[index]


# ---------------------------------------------------------------------------------------------
# The exact path: one record, the exact reason


def uri_problem(uri: str, rules: Rules, field_name: str) -> tuple[str, str] | None:
    """``(code, reason)`` when ``uri`` is not an accepted URI for ``field_name``, else None."""
    match = _SCHEME_RE.match(uri)
    scheme = match.group(1).lower() if match else ("file" if uri.startswith("/") else None)
    if scheme is None:
        return "bad_uri", f"{field_name} {uri[:200]!r} is a relative path; use a gs:// URI or an absolute path"
    if scheme not in rules.allowed_uri_schemes:
        return "uri_scheme_not_allowed", (
            f"{field_name} {uri[:200]!r} has scheme {scheme!r}; allowed: {', '.join(rules.allowed_uri_schemes)}"
            + (" (pass allowed_uri_schemes including 'file' for local runs)" if scheme == "file" else "")
        )
    if match and match.group(1) != scheme:
        return "bad_uri", (
            f"{field_name} {uri[:200]!r} writes the scheme as {match.group(1)!r}; schemes are lowercase: {scheme}://"
        )
    pattern = _GS_RE if scheme == "gs" else _FILE_RE
    if not pattern.match(uri):
        shape = "gs://BUCKET/OBJECT with a valid bucket name" if scheme == "gs" else "an absolute file path"
        return "bad_uri", f"{field_name} {uri[:200]!r} is not {shape}"
    if field_name == "imageGcsUri" and not uri.lower().endswith(rules.image_extensions):
        return "unsupported_image_format", (
            f"imageGcsUri {uri[:200]!r} is not a format Vertex imports ({', '.join(rules.image_extensions)})"
        )
    return None


def label_text_problem(text: object, what: str, *, is_key: bool) -> str | None:
    """Why ``text`` breaks Vertex's resource label rules, or None when it follows them."""
    if not isinstance(text, str):
        return f"{what} must be a string, got {type(text).__name__}"
    if len(text) > MAX_LABEL_CHARS:
        return f"{what} {text[:80]!r} is longer than {MAX_LABEL_CHARS} characters"
    if is_key and not text:
        return f"{what} is empty"
    if is_key and unicodedata.category(text[0]) not in _LABEL_KEY_FIRST_CATEGORIES:
        return f"{what} {text!r} must start with a lowercase letter"
    for char in text:
        if char not in "_-" and unicodedata.category(char) not in _LABEL_CATEGORIES:
            return f"{what} {text!r} has {char!r}; use lowercase letters, digits, '_' and '-'"
    return None


def resource_labels_problem(labels: object, where: str, reserved: dict[str, object]) -> tuple[str, str] | None:
    """``(code, reason)`` when a resource-label map breaks the rules; ``reserved`` maps allowed keys to a checker."""
    if not isinstance(labels, dict):
        return "wrong_type", f"{where} must be an object, got {type(labels).__name__}"
    for key, value in labels.items():
        if key.startswith(RESERVED_PREFIX):
            check = reserved.get(key)
            if check is None:
                return "reserved_label_key", (
                    f"{where} key {key!r} is reserved by Vertex; accepted here: {', '.join(reserved) or 'none'}"
                )
            reason = check(value)
            if reason:
                return "bad_resource_label", f"{where} {key}: {reason}"
            continue
        reason = label_text_problem(key, f"{where} key", is_key=True) or label_text_problem(
            value, f"{where} value of {key!r}", is_key=False
        )
        if reason:
            return "bad_resource_label", reason
    return None


def _ml_use_problem(value: object) -> str | None:
    return None if value in ML_USES else f"value {value!r} is not one of {', '.join(ML_USES)}"


def _annotation_set_problem(value: object) -> str | None:
    if isinstance(value, str) and value.strip() and len(value) <= MAX_DISPLAY_NAME_CHARS:
        return None
    return f"value {value!r} must be a non-blank string of at most {MAX_DISPLAY_NAME_CHARS} characters"


_ITEM_RESERVED = {ML_USE_KEY: _ml_use_problem}
_ANNOTATION_RESERVED = {ANNOTATION_SET_KEY: _annotation_set_problem}


def _content_problem(record: dict, rules: Rules) -> tuple[str, str] | None:
    present = [name for name in ("imageGcsUri", "textContent", "textGcsUri") if name in record]
    wrong = [name for name in present if name not in rules.content_fields]
    if wrong:
        return "wrong_content_field", f"{wrong[0]} does not belong in a {rules.data_type} manifest"
    if not present:
        return "missing_content", f"no {' or '.join(rules.content_fields)}; a {rules.data_type} item needs one"
    if len(present) > 1:
        return "ambiguous_content", f"both {present[0]} and {present[1]}; give exactly one"
    name = present[0]
    value = record[name]
    if not isinstance(value, str):
        return "wrong_type", f"{name} must be a string, got {type(value).__name__}"
    if name == "textContent":
        return None if value.strip() else ("empty_text", "textContent is blank; give the text or remove the line")
    return uri_problem(value, rules, name)


def _annotation_problem(annotation: object, where: str, rules: Rules) -> tuple[str, str] | None:
    if not isinstance(annotation, dict):
        return "wrong_type", f"{where} must be an object, got {type(annotation).__name__}"
    name = annotation.get("displayName")
    if not isinstance(name, str):
        code = "missing_label_name" if name is None else "wrong_type"
        return code, f"{where}.displayName must be a string, got {type(name).__name__}"
    if not name.strip() or len(name) > rules.max_display_name_chars:
        return "bad_label_name", (
            f"{where}.displayName {name[:80]!r} must be non-blank and at most {rules.max_display_name_chars} characters"
        )
    if rules.allowed_labels and name not in rules.allowed_labels:
        return "unknown_label", f"label {name!r} is not an allowed class ({', '.join(rules.allowed_labels)})"
    if "annotationResourceLabels" in annotation:
        return resource_labels_problem(
            annotation["annotationResourceLabels"], f"{where}.annotationResourceLabels", _ANNOTATION_RESERVED
        )
    return None


def _labels_problem(record: dict, rules: Rules) -> tuple[str, str] | None:
    single, many = "classificationAnnotation" in record, "classificationAnnotations" in record
    if single and many:
        return "ambiguous_labels", "both classificationAnnotation and classificationAnnotations; give one"
    if single:
        return _annotation_problem(record["classificationAnnotation"], "classificationAnnotation", rules)
    if many:
        annotations = record["classificationAnnotations"]
        if not isinstance(annotations, list):
            return "wrong_type", f"classificationAnnotations must be a list, got {type(annotations).__name__}"
        for index, annotation in enumerate(annotations):
            problem = _annotation_problem(annotation, f"classificationAnnotations[{index}]", rules)
            if problem:
                return problem
        names = [a["displayName"] for a in annotations]
        repeated = sorted({n for n in names if names.count(n) > 1})
        if repeated:
            return "duplicate_label", f"label {repeated[0]!r} appears more than once on the item"
    return None


#: Box fields checked by :func:`_boxes_problem`; the fast screen sends every line holding one to it.
BOX_FIELDS = ("boundingBoxAnnotations", "objectAnnotations")
_CORNERS = (("xMin", "xMax"), ("yMin", "yMax"))


def _coordinate_problem(value: object, where: str) -> str | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return f"{where} must be a number, got {type(value).__name__} {str(value)[:40]!r}"
    if not 0.0 <= value <= 1.0:
        return f"{where} {value} is outside [0, 1]; Vertex takes coordinates normalized by the image size"
    return None


def _box_problem(box: dict, where: str) -> str | None:
    """Why one box's coordinates are wrong: xMin/yMin/xMax/yMax, or boundingBox.normalizedVertices."""
    if "boundingBox" in box:
        outline = box["boundingBox"]
        vertices = outline.get("normalizedVertices") if isinstance(outline, dict) else None
        if not isinstance(vertices, list) or len(vertices) < 2:
            return f"{where}.boundingBox.normalizedVertices must be a list of at least 2 {{x, y}} points"
        for index, vertex in enumerate(vertices):
            if not isinstance(vertex, dict):
                return f"{where}.boundingBox.normalizedVertices[{index}] must be an object, got {type(vertex).__name__}"
            for axis in ("x", "y"):
                reason = _coordinate_problem(
                    vertex.get(axis, 0.0), f"{where}.boundingBox.normalizedVertices[{index}].{axis}"
                )
                if reason:
                    return reason
        for axis in ("x", "y"):
            values = [vertex.get(axis, 0.0) for vertex in vertices]
            if min(values) >= max(values):
                return f"{where}.boundingBox has no extent along {axis}; a box needs min < max"
        return None
    for low, high in _CORNERS:
        for name in (low, high):
            if name not in box:
                return f"{where} lacks {name}; a box needs xMin, yMin, xMax and yMax"
            reason = _coordinate_problem(box[name], f"{where}.{name}")
            if reason:
                return reason
        if box[low] >= box[high]:
            return f"{where}.{low} {box[low]} is not below {high} {box[high]}; swap them or fix the box"
    return None


def _boxes_problem(record: dict, rules: Rules) -> tuple[str, str] | None:
    for name in BOX_FIELDS:
        if name not in record:
            continue
        boxes = record[name]
        if not isinstance(boxes, list):
            return "wrong_type", f"{name} must be a list of boxes, got {type(boxes).__name__}"
        for index, box in enumerate(boxes):
            where = f"{name}[{index}]"
            problem = _annotation_problem(box, where, rules)
            if problem:
                return problem
            reason = _box_problem(box, where)
            if reason:
                return "bad_box", reason
    return None


def check_record(record: object, rules: Rules) -> tuple[str, str] | None:
    """Every per-record rule; ``(code, reason)`` for the first one ``record`` breaks, else None."""
    if not isinstance(record, dict):
        return "not_an_object", f"expected a JSON object, got {type(record).__name__}"
    problem = _content_problem(record, rules) or _labels_problem(record, rules) or _boxes_problem(record, rules)
    if problem is None and "dataItemResourceLabels" in record:
        problem = resource_labels_problem(record["dataItemResourceLabels"], "dataItemResourceLabels", _ITEM_RESERVED)
    return problem


def parse_line(raw: bytes, *, check_keys: bool = True) -> tuple[dict | None, tuple[str, str] | None]:
    """``(record, None)`` for a line holding a JSON value, else ``(None, (code, reason))``.

    Never raises: a line too long, not UTF-8, nested too deep, not JSON or (with ``check_keys``)
    repeating a key is a reason, and integers beyond 64 bits stay exact. Lines :func:`check_manifest`
    accepted were checked already, so they may skip the key check.
    """
    if len(raw) > MAX_LINE_BYTES:
        return None, (
            "line_too_long",
            f"line is longer than {MAX_LINE_BYTES:,} bytes; a Vertex record is a few KB: is the file JSONL?",
        )
    too_deep = (
        "too_deeply_nested",
        f"JSON nested deeper than {MAX_JSON_DEPTH} levels (a Vertex record needs about 6); fix or remove the line",
    )
    try:
        value = json_loads(raw)
    except orjson.JSONDecodeError as err:  # orjson refuses any byte that is not UTF-8: say so first
        try:
            raw.decode("utf-8")
        except UnicodeDecodeError as bad:
            return None, (
                "not_utf8",
                f"byte {bad.start} ({raw[bad.start : bad.start + 1]!r}) is not UTF-8; save the manifest as UTF-8",
            )
        if "depth" in str(err) or "recursion" in str(err).lower():
            return None, too_deep
        return None, ("invalid_json", f"not valid JSON ({err}); fix or remove the line")
    if raw.count(b"[") + raw.count(b"{") > MAX_JSON_DEPTH and json_depth(value) > MAX_JSON_DEPTH:
        return None, too_deep
    repeated = repeated_key(raw, value) if check_keys else None
    if repeated is not None:
        return None, (
            "duplicate_key",
            f"key {repeated[:80]!r} appears twice in one object; JSON readers disagree on which one counts, "
            "so keep one",
        )
    return value, None


_KEY_TOKEN_RE = re.compile(rb'"\s*:')


def repeated_key(raw: bytes, value: object) -> str | None:
    """A key that appears twice in one object of the line, else None.

    orjson keeps the last of two equal keys silently (Arrow refuses the line), so a line could say
    two things. Counting ``"key":`` tokens against the keys parsed is cheap; only a line with more
    tokens than keys (a duplicate, or ``":`` inside a string) is read again to find the key.
    """
    try:  # the same count over the parsed value written back: one token per key it kept
        kept = len(_KEY_TOKEN_RE.findall(orjson.dumps(value)))
    except TypeError:  # an integer beyond 64 bits: count the keys by walking
        kept = _count_keys(value)
    if len(_KEY_TOKEN_RE.findall(raw)) <= kept:
        return None
    found: list[str] = []

    def pairs(items: list[tuple[str, object]]) -> dict:
        keys = [key for key, _ in items]
        if len(set(keys)) != len(keys) and not found:
            found.append(next(key for key in keys if keys.count(key) > 1))
        return dict(items)

    import json

    json.loads(raw, object_pairs_hook=pairs)
    return found[0] if found else None


def _count_keys(value: object) -> int:
    count, stack = 0, [value]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            count += len(item)
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return count


def json_depth(value: object) -> int:
    """How deeply lists and objects nest in ``value`` (a scalar is 0), without recursion."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, depth = stack.pop()
        children = item.values() if isinstance(item, dict) else item if isinstance(item, list) else None
        if children is None:
            continue
        deepest = max(deepest, depth)
        stack.extend((child, depth + 1) for child in children)
    return deepest


# ---------------------------------------------------------------------------------------------
# Cross-line rules: duplicates


def string_hashes(values: pa.Array) -> np.ndarray:
    """A 64-bit hash of each string (0 for null or empty).

    Python's string hash (SipHash) is stable within one process, which is all one pass over a
    manifest needs; two different URIs share it with probability ~2⁻⁶⁴ per pair.
    """
    hashes = np.fromiter(map(hash, values.to_pylist()), dtype=np.int64, count=len(values))
    if values.null_count:
        hashes[np.asarray(values.is_null().to_numpy(zero_copy_only=False), dtype=bool)] = 0
    return hashes


@dataclass
class DuplicateTracker:
    """Remembers the first line of every URI and carried id seen so far, keyed by 64-bit hashes.

    Hashes (see :func:`string_hashes`) keep memory to ~100 bytes per item for multi-GB manifests;
    for a million items the chance that any two different URIs collide is about 3e-8.
    """

    uris: dict[int, int] = field(default_factory=dict)
    ids: dict[int, int] = field(default_factory=dict)

    @staticmethod
    def repeats(seen: dict[int, int], hashes: np.ndarray, numbers: np.ndarray) -> list[tuple[int, int]]:
        """``(position, first_line)`` of each hash already seen on an earlier line (0 = no value); records new ones."""
        present = np.flatnonzero(hashes != 0)
        keys, lines = hashes[present].tolist(), numbers[present].tolist()
        firsts = np.fromiter(map(seen.setdefault, keys, lines), dtype=np.int64, count=len(keys))
        repeated = np.flatnonzero(firsts != numbers[present])
        return [(int(present[i]), int(firsts[i])) for i in repeated]


def _duplicate_problems(
    tracker: DuplicateTracker, numbers: np.ndarray, uris: pa.Array, ids: pa.Array
) -> dict[int, Problem]:
    """Problems for lines whose URI or carried id already appeared on an earlier accepted line."""
    problems: dict[int, Problem] = {}
    for seen, values, code, what in (
        (tracker.uris, uris, "duplicate_uri", "URI"),
        (tracker.ids, ids, "duplicate_id", ID_KEY),
    ):
        for position, first in tracker.repeats(seen, string_hashes(values), numbers):
            number = int(numbers[position])
            if number not in problems:
                value = values[position].as_py()
                problems[number] = Problem(
                    number, code, f"{what} {str(value)[:200]!r} already on line {first}; remove one"
                )
    return problems


# ---------------------------------------------------------------------------------------------
# The fast screen: a whole block, column-wise


def _is_string_like(arrow_type: pa.DataType) -> bool:
    return pa.types.is_string(arrow_type) or pa.types.is_large_string(arrow_type) or pa.types.is_null(arrow_type)


def _as_bool(mask: pa.ChunkedArray | pa.Array) -> np.ndarray:
    return np.asarray(pc.fill_null(mask, False).to_numpy(zero_copy_only=False), dtype=bool)


def _column(array: pa.Array | pa.ChunkedArray, name: str):
    """A struct child by name (None when the struct has no such field)."""
    struct_type = array.type
    if struct_type.get_field_index(name) < 0:
        return None
    return pc.struct_field(array, name)


def _label_values_ok(values, present: np.ndarray) -> np.ndarray:
    """Rows whose value follows the resource-label value rule.

    An ASCII RE2 pattern clears the common case; the few other values (international letters, or
    wrong) get the exact Python rule, since RE2 takes ~0.1 s to compile Unicode classes.
    """
    good = _as_bool(pc.match_substring_regex(values, RE2_ASCII_LABEL_VALUE))
    retry = np.flatnonzero(present & ~good)
    if len(retry):
        subset = pc.take(values, pa.array(retry, pa.int64())).to_pylist()
        good[retry] = [label_text_problem(value, "value", is_key=False) is None for value in subset]
    return good


def _label_map_ok(array, n: int, reserved: dict[str, object]) -> np.ndarray | None:
    """Rows whose resource-label struct passes every rule; None when the struct is not screenable."""
    if pa.types.is_null(array.type):
        return np.ones(n, dtype=bool)
    if not pa.types.is_struct(array.type):
        return None
    ok = np.ones(n, dtype=bool)
    for index in range(array.type.num_fields):
        child_field = array.type.field(index)
        if not _is_string_like(child_field.type):
            return None
        values = pc.struct_field(array, index)
        present = _as_bool(pc.is_valid(values))
        key = child_field.name
        if key.startswith(RESERVED_PREFIX):
            if key == ML_USE_KEY and key in reserved:
                good = _as_bool(pc.is_in(values, value_set=pa.array(ML_USES)))
            elif key == ANNOTATION_SET_KEY and key in reserved:
                length = _as_bool(pc.less_equal(pc.utf8_length(values), MAX_DISPLAY_NAME_CHARS))
                blank = _as_bool(pc.equal(pc.utf8_length(pc.utf8_trim_whitespace(values)), 0))
                good = length & ~blank
            else:
                good = np.zeros(n, dtype=bool)
        elif label_text_problem(key, "key", is_key=True):
            good = np.zeros(n, dtype=bool)
        else:
            good = _label_values_ok(values, present)
        ok &= ~present | good
    return ok


def _annotations_ok(struct_array, n: int, rules: Rules) -> np.ndarray | None:
    """Rows whose annotation structs (displayName + resource labels) pass; None when not screenable."""
    if pa.types.is_null(struct_array.type):
        return np.ones(n, dtype=bool)
    if not pa.types.is_struct(struct_array.type):
        return None
    names = _column(struct_array, "displayName")
    present = _as_bool(pc.is_valid(struct_array))
    if names is None or not _is_string_like(names.type):
        return None if present.any() else np.ones(n, dtype=bool)
    good = _as_bool(pc.is_valid(names))
    good &= _as_bool(pc.less_equal(pc.utf8_length(names), rules.max_display_name_chars))
    good &= _as_bool(pc.greater(pc.utf8_length(pc.utf8_trim_whitespace(names)), 0))
    if rules.allowed_labels:
        good &= _as_bool(pc.is_in(names, value_set=pa.array(rules.allowed_labels, pa.string())))
    resource = _column(struct_array, "annotationResourceLabels")
    if resource is not None:
        labels_ok = _label_map_ok(resource, n, _ANNOTATION_RESERVED)
        if labels_ok is None:
            return None
        good &= labels_ok
    return ~present | good


def _multi_labels_ok(list_array, n: int, rules: Rules) -> np.ndarray | None:
    """Rows whose ``classificationAnnotations`` list passes; None when not screenable."""
    if pa.types.is_null(list_array.type):
        return np.ones(n, dtype=bool)
    if not pa.types.is_list(list_array.type):
        return None
    list_array = list_array.combine_chunks() if isinstance(list_array, pa.ChunkedArray) else list_array
    flat = list_array.flatten()
    parents = np.asarray(pc.list_parent_indices(list_array).to_numpy(zero_copy_only=False))
    ok = np.ones(n, dtype=bool)
    if len(flat) == 0:
        return ok
    flat_ok = _annotations_ok(flat, len(flat), rules)
    if flat_ok is None:
        return None
    flat_ok &= _as_bool(pc.is_valid(flat))
    np.logical_and.at(ok, parents, flat_ok)
    names = _column(flat, "displayName")
    if names is None:
        return None
    codes = np.asarray(pc.dictionary_encode(names).indices.to_numpy(zero_copy_only=False), dtype=np.int64)
    pairs = parents.astype(np.int64) * (int(codes.max(initial=0)) + 1) + codes
    unique, counts = np.unique(pairs, return_counts=True)
    if (counts > 1).any():
        ok[(unique[counts > 1] // (int(codes.max(initial=0)) + 1)).astype(np.int64)] = False
    return ok


def _screen_uri_pattern(rules: Rules, field_name: str) -> str:
    """One RE2 pattern for an accepted URI: an allowed scheme's prefix, then (images) a known extension."""
    prefixes = "|".join(_SCREEN_URI_PREFIXES[scheme] for scheme in rules.allowed_uri_schemes)
    if field_name == "imageGcsUri":
        extensions = "|".join(re.escape(e) for e in rules.image_extensions)
        return rf"^(?:{prefixes})[^\r\n]*(?i:{extensions})$"
    return rf"^(?:{prefixes})[^\r\n]*[^/\r\n]$"


def _content_ok(table: pa.Table, n: int, rules: Rules) -> np.ndarray | None:
    """Rows with exactly one valid content field for the data type; None when not screenable."""
    present_count = np.zeros(n, dtype=np.int64)
    good = np.zeros(n, dtype=bool)
    for name in ("imageGcsUri", "textContent", "textGcsUri"):
        if name not in table.column_names:
            continue
        values = table.column(name)
        if not _is_string_like(values.type):
            return None
        present = _as_bool(pc.is_valid(values))
        if name not in rules.content_fields:
            good &= ~present
            present_count += present * 2  # any wrong field fails the row
            continue
        present_count += present
        if name == "textContent":
            value_ok = _as_bool(pc.greater(pc.utf8_length(pc.utf8_trim_whitespace(values)), 0))
        else:
            value_ok = _as_bool(pc.match_substring_regex(values, _screen_uri_pattern(rules, name)))
            value_ok &= _as_bool(pc.less_equal(pc.utf8_length(values), SCREEN_MAX_URI_CHARS))
        good |= present & value_ok
    return good & (present_count == 1)


def screen_table(table: pa.Table, rules: Rules) -> np.ndarray | None:
    """Rows of a parsed block that pass every per-record rule; None when the block needs the exact path."""
    n = table.num_rows
    ok = _content_ok(table, n, rules)
    if ok is None:
        return None
    names = table.column_names
    for name in BOX_FIELDS:  # boxes are checked on the exact path only
        if name in names:
            ok &= ~_as_bool(pc.is_valid(table.column(name)))
    if "classificationAnnotation" in names and "classificationAnnotations" in names:
        ok &= ~(
            _as_bool(pc.is_valid(table.column("classificationAnnotation")))
            & _as_bool(pc.is_valid(table.column("classificationAnnotations")))
        )
    checks = (
        ("classificationAnnotation", lambda col: _annotations_ok(col, n, rules)),
        ("classificationAnnotations", lambda col: _multi_labels_ok(col, n, rules)),
        ("dataItemResourceLabels", lambda col: _label_map_ok(col, n, _ITEM_RESERVED)),
    )
    for name, check in checks:
        if name in names:
            column = table.column(name).combine_chunks()
            column_ok = check(column)
            if column_ok is None:
                return None
            ok &= column_ok
    return ok


def _keys_of(table: pa.Table, rows: np.ndarray, rules: Rules) -> tuple[pa.Array, pa.Array]:
    """URIs and carried ids of the given rows as string arrays (null where a row has none)."""
    take = pa.array(rows, pa.int64())
    uris = pa.nulls(len(rows), pa.string())
    for name in ("imageGcsUri", "textGcsUri"):
        if name in rules.content_fields and name in table.column_names:
            values = pc.cast(table.column(name).combine_chunks().take(take), pa.string())
            uris = pc.coalesce(uris, values)
    ids = pa.nulls(len(rows), pa.string())
    if "dataItemResourceLabels" in table.column_names:
        labels = table.column("dataItemResourceLabels").combine_chunks()
        if pa.types.is_struct(labels.type) and labels.type.get_field_index(ID_KEY) >= 0:
            ids = pc.cast(pc.struct_field(labels, ID_KEY).take(take), pa.string())
    return uris, ids


def _keys_of_record(record: dict, rules: Rules) -> tuple[str | None, str | None]:
    uri = next((record[f] for f in ("imageGcsUri", "textGcsUri") if f in rules.content_fields and f in record), None)
    carried = (record.get("dataItemResourceLabels") or {}).get(ID_KEY)
    return uri, carried


# ---------------------------------------------------------------------------------------------
# Blocks


def _parse_block(data: bytes, raw_lines: list[bytes]) -> tuple[pa.Table | None, list[int]]:
    """The block as an Arrow table (None when Arrow cannot be trusted to screen it) and repaired lines.

    A line Arrow cannot read (broken JSON, a value of another type) fails the whole parse; its row
    is in the error, so it is swapped for ``{}`` and the parse retried, up to ``MAX_REPAIRS`` times.
    The returned indices (into ``raw_lines``) must go through the exact path.
    """
    if b"null" in data and _NULL_VALUE_RE.search(data):
        return None, []
    repaired = unsafe_lines(data, raw_lines)
    patched = raw_lines
    if repaired:
        patched = list(raw_lines)
        for index in repaired:
            patched[index] = b"{}"
        data = b"\n".join(patched) + b"\n"
    positions = None
    # Arrow parses 1 MiB pieces in parallel, but then an error's row counts from the start of its
    # piece; after a first failure, the block is read as one piece so the row is the block's.
    piece_bytes = ARROW_PIECE_BYTES
    while True:
        try:
            options = pa_json.ReadOptions(block_size=piece_bytes, use_threads=True)
            table = pa_json.read_json(pa.BufferReader(data), read_options=options)
            return (None if _has_non_finite(table) else table), repaired
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as err:
            if piece_bytes < len(data):
                piece_bytes = len(data) + 1
                continue
            match = _ARROW_ROW_RE.search(str(err))
            if match is None or len(repaired) >= MAX_REPAIRS:
                return None, repaired
            positions = positions or [i for i, raw in enumerate(raw_lines) if raw.strip()]
            row = int(match.group(1))
            if row >= len(positions) or positions[row] in repaired:
                return None, repaired
            repaired.append(positions[row])
            patched = list(patched) if patched is raw_lines else patched
            patched[positions[row]] = b"{}"
            data = b"\n".join(patched) + b"\n"


def unsafe_lines(data: bytes, raw_lines: list[bytes]) -> list[int]:
    """Indices of lines Arrow must not parse: not UTF-8, longer than MAX_LINE_BYTES, or with more
    than ARROW_MAX_BRACKETS opening brackets (possibly deep enough to overflow Arrow's recursive reader).

    A clean block costs one UTF-8 decode and a few vectorised byte scans (numpy), no per-line Python.
    """
    unsafe: set[int] = set()
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        unsafe.update(i for i, raw in enumerate(raw_lines) if not _is_utf8(raw))
    codes = np.frombuffer(data, dtype=np.uint8)
    newlines = np.flatnonzero(codes == ord("\n"))
    ends = np.append(newlines, len(data))[: len(raw_lines)]
    starts = np.concatenate(([0], newlines + 1))[: len(raw_lines)]
    unsafe.update(np.flatnonzero(ends - starts > MAX_LINE_BYTES).tolist())
    opening = np.flatnonzero((codes == ord("[")) | (codes == ord("{")))
    if len(opening) > ARROW_MAX_BRACKETS:
        per_line = np.bincount(np.searchsorted(newlines, opening), minlength=len(raw_lines) + 1)
        unsafe.update(np.flatnonzero(per_line[: len(raw_lines)] > ARROW_MAX_BRACKETS).tolist())
    return sorted(unsafe)


def _is_utf8(raw: bytes) -> bool:
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def _has_non_finite(table: pa.Table) -> bool:
    """Whether Arrow read NaN or Infinity anywhere: it accepts them, JSON (and orjson) does not."""

    def visit(array) -> bool:
        kind = array.type
        if pa.types.is_floating(kind):
            return bool(pc.any(pc.invert(pc.is_finite(array))).as_py())
        if pa.types.is_struct(kind):
            return any(visit(pc.struct_field(array, i)) for i in range(kind.num_fields))
        if pa.types.is_list(kind) or pa.types.is_large_list(kind):
            return visit(array.flatten())
        return False

    return any(visit(column.combine_chunks()) for column in table.columns)


def _row_positions(raw_lines: list[bytes], table: pa.Table | None) -> list[int] | None:
    """Index into ``raw_lines`` of each table row; None means row i is line i (no blank lines)."""
    if table is not None and table.num_rows == len(raw_lines):
        return None
    return [i for i, raw in enumerate(raw_lines) if raw.strip()]


@dataclass(frozen=True)
class _Parsed:
    """A block split into lines and read by Arrow (``table`` None when it could not be)."""

    raw_lines: list[bytes]
    table: pa.Table | None
    repaired: list[int]


def parse_block(data: bytes) -> _Parsed:
    """Split a block into lines and parse it with Arrow: the part of checking that can run ahead."""
    raw_lines = data.split(b"\n")
    if raw_lines and raw_lines[-1] == b"":
        raw_lines.pop()
    table, repaired = _parse_block(data, raw_lines) if raw_lines else (None, [])
    return _Parsed(raw_lines, table, repaired)


def check_block(data: bytes, first_line: int, rules: Rules, tracker: DuplicateTracker) -> Block:
    """Check one block of whole lines starting at line ``first_line`` (1-based).

    Lines the screen clears are accepted unless they repeat a URI or id; every other line is
    checked exactly by :func:`check_record`.
    """
    return check_parsed(parse_block(data), first_line, rules, tracker)


def check_parsed(parsed: _Parsed, first_line: int, rules: Rules, tracker: DuplicateTracker) -> Block:
    """:func:`check_block` for a block already through :func:`parse_block`."""
    raw_lines, table, repaired = parsed.raw_lines, parsed.table, parsed.repaired
    if table is None and len(raw_lines) > MIN_SPLIT_LINES:
        return _split_and_check(raw_lines, first_line, rules, tracker)
    positions = _row_positions(raw_lines, table)
    n_rows = len(raw_lines) if positions is None else len(positions)
    if table is not None and table.num_rows != n_rows:
        table = None
    screened = screen_table(table, rules) if table is not None and n_rows else None
    if screened is not None and repaired:
        row_of = {index: row for row, index in enumerate(positions)} if positions is not None else None
        screened[[index if row_of is None else row_of[index] for index in repaired]] = False
    problems: dict[int, Problem] = {}
    accepted = np.zeros(0, dtype=np.int64)  # indices into raw_lines
    uris = ids = pa.nulls(0, pa.string())
    if screened is not None:
        cleared = np.flatnonzero(screened)
        accepted = cleared if positions is None else np.asarray(positions, dtype=np.int64)[cleared]
        uris, ids = _keys_of(table, cleared, rules)
        exact_rows = np.flatnonzero(~screened).tolist()
    else:
        exact_rows = list(range(n_rows))
    exact_index, exact_uris, exact_ids = [], [], []
    for row in exact_rows:
        index = row if positions is None else positions[row]
        record, problem = parse_line(raw_lines[index])
        problem = problem or check_record(record, rules)
        if problem:
            problems[first_line + index] = Problem(first_line + index, *problem)
            continue
        uri, carried = _keys_of_record(record, rules)
        exact_index.append(index)
        exact_uris.append(uri)
        exact_ids.append(carried)
    if exact_index:
        accepted = np.concatenate([accepted, np.asarray(exact_index, dtype=np.int64)])
        uris = pa.concat_arrays([uris, pa.array(exact_uris, pa.string())])
        ids = pa.concat_arrays([ids, pa.array(exact_ids, pa.string())])
        order = np.argsort(accepted, kind="stable")
        accepted, uris, ids = accepted[order], uris.take(pa.array(order)), ids.take(pa.array(order))
    numbers = accepted + first_line
    duplicates = _duplicate_problems(tracker, numbers, uris, ids)
    problems.update(duplicates)
    if duplicates:
        accepted = accepted[~np.isin(numbers, np.fromiter(duplicates, dtype=np.int64))]
    return Block(
        first_line=first_line,
        raw_lines=raw_lines,
        accepted=accepted,
        problems=tuple(problems[k] for k in sorted(problems)),
        exact_lines=len(exact_rows),
    )


def _split_and_check(raw_lines: list[bytes], first_line: int, rules: Rules, tracker: DuplicateTracker) -> Block:
    """Check a block Arrow could not screen as ``SPLIT_WAYS`` pieces, so one odd line costs only its piece."""
    size = -(-len(raw_lines) // SPLIT_WAYS)
    pieces = [
        check_block(b"\n".join(raw_lines[start : start + size]) + b"\n", first_line + start, rules, tracker)
        for start in range(0, len(raw_lines), size)
    ]
    return Block(
        first_line=first_line,
        raw_lines=raw_lines,
        accepted=np.concatenate([piece.accepted + (piece.first_line - first_line) for piece in pieces]),
        problems=tuple(problem for piece in pieces for problem in piece.problems),
        exact_lines=sum(piece.exact_lines for piece in pieces),
    )


def iter_blocks(
    handle, block_bytes: int = DEFAULT_BLOCK_BYTES, *, max_line_bytes: int = MAX_LINE_BYTES
) -> Iterator[bytes]:
    """Pieces of a binary stream of about ``block_bytes``, each ending on a line boundary (newline).

    A UTF-8 byte order mark at the start of the stream is dropped (editors on Windows write one).
    A line longer than ``max_line_bytes`` is cut to its first ``max_line_bytes + 1`` bytes (so it is
    still one line, and still too long) and the rest of it is skipped unread into memory.
    """
    carry = b""
    skipping, first = False, True
    while True:
        chunk = handle.read(block_bytes)
        if not chunk:
            break
        if first:
            chunk, first = chunk.removeprefix(BOM), False
        if skipping:
            cut = chunk.find(b"\n")
            if cut < 0:
                continue
            chunk, skipping = chunk[cut + 1 :], False
        data = carry + chunk if carry else chunk
        cut = data.rfind(b"\n")
        if cut < 0:
            carry = data
            if len(carry) > max_line_bytes:
                yield carry[: max_line_bytes + 1] + b"\n"
                carry, skipping = b"", True
            continue
        carry = data[cut + 1 :]
        if len(carry) > max_line_bytes:
            yield data[: cut + 1] + carry[: max_line_bytes + 1] + b"\n"
            carry, skipping = b"", True
            continue
        yield data[: cut + 1] if carry else data
    if carry:
        yield carry + b"\n"


def check_manifest(
    handle, rules: Rules, *, block_bytes: int = DEFAULT_BLOCK_BYTES, tracker: DuplicateTracker | None = None
) -> Iterator[Block]:
    """Check a JSONL manifest streamed from a binary file handle, one :class:`Block` at a time.

    The next block is parsed by Arrow (which releases the GIL) on a helper thread while the current
    one is screened, so on two cores parsing and checking overlap. At most three blocks are in memory.
    """
    tracker = tracker or DuplicateTracker()
    first_line = 1
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="labelloop-parse") as pool:
        ahead = None
        for data in iter_blocks(handle, block_bytes):
            future = pool.submit(parse_block, data)
            if ahead is not None:
                block = check_parsed(ahead.result(), first_line, rules, tracker)
                first_line += len(block.raw_lines)
                yield block
            ahead = future
        if ahead is not None:
            yield check_parsed(ahead.result(), first_line, rules, tracker)


# ---------------------------------------------------------------------------------------------
# Dataset-level rules


@dataclass(frozen=True)
class DatasetIssue:
    """A rule about the whole dataset; ``severity`` is ``error`` (the import fails) or ``warning``."""

    code: str
    message: str
    severity: str


def label_count_issues(
    label_counts: dict[str, int], data_type: str, min_items_per_label: int, severity: str
) -> list[DatasetIssue]:
    """Vertex's per-label minimum (10 documents per label for text classification) and label-count limits."""
    if severity not in ("error", "warning"):
        raise ValidationError(f"label count severity must be 'error' or 'warning', got {severity!r}")
    issues = []
    small = {name: count for name, count in sorted(label_counts.items()) if count < min_items_per_label}
    if small and label_counts:
        listed = ", ".join(f"{name} ({count})" for name, count in list(small.items())[:20])
        issues.append(
            DatasetIssue(
                "too_few_items_per_label",
                f"{len(small)} label(s) have fewer than {min_items_per_label} labeled items, Vertex's minimum for "
                f"{data_type} classification: {listed}. Label more items or lower min_items_per_label for a demo.",
                severity,
            )
        )
    if data_type == "text" and label_counts and not 2 <= len(label_counts) <= 5000:
        issues.append(
            DatasetIssue(
                "label_count_out_of_range",
                f"text classification needs 2 to 5,000 distinct labels; found {len(label_counts)}",
                severity,
            )
        )
    return issues


def item_count_issues(kept: int, data_type: str, max_items: int = TEXT_MAX_DOCUMENTS) -> list[DatasetIssue]:
    """Vertex's dataset size limit for text (1,000,000 documents)."""
    if data_type == "text" and kept > max_items:
        return [
            DatasetIssue(
                "too_many_documents",
                f"{kept:,} documents exceed Vertex's text dataset limit of {max_items:,}; split the import",
                "error",
            )
        ]
    return []


def rules_from(
    data_type: str,
    allowed_uri_schemes: Iterable[str] = ("gs",),
    allowed_labels: Iterable[str] = (),
) -> Rules:
    """:class:`Rules` from plain parameters (lists as they arrive from a component)."""
    return Rules(
        data_type=data_type, allowed_uri_schemes=tuple(allowed_uri_schemes), allowed_labels=tuple(allowed_labels)
    )
