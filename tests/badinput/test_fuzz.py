"""Property-based fuzzing of manifest and CSV parsing: whatever the bytes, the import never crashes,
and every input line or row is kept or rejected exactly once.

CI runs a bounded number of examples (profile ``ci``); ``make fuzz`` runs many more (profile ``fuzz``).
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

import pytest

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402
from labelloop.components.core import import_data, manifest, validate  # noqa: E402

settings.register_profile("ci", max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("fuzz", max_examples=1000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile(os.environ.get("LABELLOOP_FUZZ_PROFILE", "ci"))

json_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**40), max_value=10**40),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=20),
)
json_values = st.recursive(
    json_scalars,
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=8), inner, max_size=4)),
    max_leaves=12,
)
label_names = st.one_of(st.sampled_from(["pos", "neg", "cat"]), st.text(max_size=12))
records = st.fixed_dictionaries(
    {"textContent": st.one_of(st.text(max_size=40), json_scalars)},
    optional={
        "classificationAnnotation": st.one_of(st.fixed_dictionaries({"displayName": label_names}), json_values),
        "classificationAnnotations": st.lists(st.fixed_dictionaries({"displayName": label_names}), max_size=3),
        "dataItemResourceLabels": st.dictionaries(st.text(max_size=10), st.text(max_size=10), max_size=3),
        "extra": json_values,
        "textGcsUri": st.sampled_from(["gs://bucket-a/x.txt", "FILE:///x", "rel/x.txt", ""]),
    },
)


def record_line(record: dict) -> bytes:
    return json.dumps(record, ensure_ascii=False).encode()


def mutated(line: bytes, cut: int, junk: bytes) -> bytes:
    cut = cut % (len(line) + 1)
    return line[:cut] + junk + line[cut:]


lines = st.one_of(
    records.map(record_line),
    st.builds(mutated, records.map(record_line), st.integers(0, 200), st.binary(min_size=1, max_size=4)),
    st.binary(max_size=80).map(lambda b: b.replace(b"\n", b"")),
    st.integers(1, 5000).map(lambda n: b"[" * n + b"]" * n),
    st.integers(1, 3000).map(lambda n: b'{"textContent": "x", "e": ' + b"[" * n + b"]" * n + b"}"),
    st.just(b""),
)
manifests = st.builds(
    lambda body, bom, crlf, final: (manifest.BOM if bom else b"")
    + (b"\r\n" if crlf else b"\n").join(body)
    + (b"\n" if final else b""),
    st.lists(lines, max_size=25),
    st.booleans(),
    st.booleans(),
    st.booleans(),
)


def import_bytes(data: bytes, name: str, data_type: str, **options) -> tuple[import_data.ImportResult, list[dict]]:
    with tempfile.TemporaryDirectory() as folder:
        source = Path(folder) / name
        source.write_bytes(data)
        opts = import_data.options_from(str(source), data_type, min_items_per_label=0, max_reject_rate=1.0, **options)
        result = import_data.import_items(opts, f"{folder}/items", f"{folder}/rejects", step="import_dataset")
        rejects = [json.loads(line) for line in Path(f"{folder}/rejects").read_bytes().splitlines()]
        kept = Path(f"{folder}/items").read_bytes()
    if result.output_format == "jsonl":
        for line in kept.splitlines():
            assert isinstance(manifest.loads(line), dict)  # every kept line is a JSON object with an id
            assert manifest.item_id(manifest.loads(line))
    return result, rejects


@given(manifests)
def test_any_manifest_bytes_are_accounted_line_by_line(data):
    result, rejects = import_bytes(data, "m.jsonl", "text", allowed_uri_schemes=("gs", "file"))
    body = data.removeprefix(manifest.BOM).split(b"\n")
    if body and body[-1] == b"":
        body.pop()
    numbers = [n for n, raw in enumerate(body, start=1) if raw.strip()]
    assert result.total == len(numbers) == result.kept + result.rejected
    lines = [r["line"] for r in rejects]
    assert len(set(lines)) == len(lines) and set(lines) <= set(numbers)


@given(st.lists(st.binary(max_size=60), max_size=20))
def test_parse_line_never_raises(raws):
    for raw in raws:
        record, problem = validate.parse_line(raw)
        assert problem is None or (record is None and problem[0] and problem[1])


@given(st.dictionaries(st.text(max_size=8), json_values, max_size=5))
def test_manifest_lines_round_trip_exactly(record):
    assert manifest.loads(manifest.dumps(record)) == record


cells = st.one_of(
    st.text(alphabet=st.characters(blacklist_characters=',"\r\n', blacklist_categories=("Cs",)), max_size=8),
    st.text(max_size=8).map(lambda t: '"' + t.replace('"', '""') + '"'),
)
rows = st.lists(
    st.builds(
        lambda first, rest, junk: ",".join([first, *rest]).encode() + junk,
        st.text(alphabet="abcxyz0123456789", min_size=1, max_size=5),
        st.lists(cells, max_size=4),
        st.one_of(
            st.just(b""),
            st.binary(min_size=1, max_size=2).filter(lambda b: b"\n" not in b and b"\r" not in b and b'"' not in b),
        ),
    ),
    max_size=30,
)


@given(rows)
def test_any_csv_rows_are_accounted_row_by_row(body):
    data = b"a,b,target\n" + b"".join(row + b"\n" for row in body)
    result, rejects = import_bytes(data, "t.csv", "tabular")
    assert result.total == result.kept + result.rejected
    numbers = [r["line"] for r in rejects]
    assert len(set(numbers)) == len(numbers) and all(1 <= n <= result.total for n in numbers)
    assert result.total == len(body)
