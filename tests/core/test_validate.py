"""Record rules for image/text manifests: every rule, bad inputs on purpose, fast screen == exact path."""

from __future__ import annotations

import io
import random

import orjson
import pytest
from labelloop.components.core import validate as v
from labelloop.components.core.manifest import ID_KEY, ML_USE_KEY

IMAGE = v.Rules("image", allowed_uri_schemes=("gs", "file"))
TEXT = v.Rules("text", allowed_uri_schemes=("gs",))


def image(uri: str = "gs://bucket-a/img/cat_1.jpg", **extra) -> dict:
    return {"imageGcsUri": uri, **extra}


def labeled(name: str, **annotation) -> dict:
    return {"classificationAnnotation": {"displayName": name, **annotation}}


def jsonl(records: list) -> bytes:
    return b"".join(orjson.dumps(r) + b"\n" for r in records)


def check(data: bytes, rules: v.Rules = IMAGE, block_bytes: int = 1 << 20) -> tuple[list[int], dict[int, str]]:
    kept, problems = [], {}
    for block in v.check_manifest(io.BytesIO(data), rules, block_bytes=block_bytes):
        kept += [number for number, _ in block.kept_lines()]
        problems.update({p.line: p.code for p in block.problems})
    return kept, problems


# ---------------------------------------------------------------------------------------------
# check_record: one rule at a time


@pytest.mark.parametrize(
    ("record", "code"),
    [
        (["not", "an", "object"], "not_an_object"),
        ({"classificationAnnotation": {"displayName": "cat"}}, "missing_content"),
        (image(textContent="hi"), "wrong_content_field"),
        (image(uri=42), "wrong_type"),
        (image(uri=None), "wrong_type"),
        (image(uri="img/cat.jpg"), "bad_uri"),
        (image(uri="gs://Bad_Bucket/cat.jpg"), "bad_uri"),
        (image(uri="gs://bucket-a/"), "bad_uri"),
        (image(uri="s3://bucket-a/cat.jpg"), "uri_scheme_not_allowed"),
        (image(uri="gs://bucket-a/cat.tiff"), "unsupported_image_format"),
        (image(uri="gs://bucket-a/cat.webp"), "unsupported_image_format"),
        ({**image(), **labeled("cat"), "classificationAnnotations": []}, "ambiguous_labels"),
        ({**image(), "classificationAnnotation": "cat"}, "wrong_type"),
        ({**image(), "classificationAnnotation": {}}, "missing_label_name"),
        ({**image(), **labeled(7)}, "wrong_type"),
        ({**image(), **labeled("   ")}, "bad_label_name"),
        ({**image(), **labeled("x" * 129)}, "bad_label_name"),
        ({**image(), "classificationAnnotations": "cat"}, "wrong_type"),
        ({**image(), "classificationAnnotations": [{"displayName": "a"}, {"displayName": "a"}]}, "duplicate_label"),
        ({**image(), **labeled("cat", annotationResourceLabels={"Env": "prod"})}, "bad_resource_label"),
        ({**image(), **labeled("cat", annotationResourceLabels={"env": "Prod"})}, "bad_resource_label"),
        ({**image(), **labeled("cat", annotationResourceLabels={ML_USE_KEY: "training"})}, "reserved_label_key"),
        ({**image(), **labeled("cat", annotationResourceLabels={v.ANNOTATION_SET_KEY: " "})}, "bad_resource_label"),
        (image(dataItemResourceLabels=["x"]), "wrong_type"),
        (image(dataItemResourceLabels={ML_USE_KEY: "train"}), "bad_resource_label"),
        (image(dataItemResourceLabels={"aiplatform.googleapis.com/other": "x"}), "reserved_label_key"),
        (image(dataItemResourceLabels={"1team": "a"}), "bad_resource_label"),
        (image(dataItemResourceLabels={"team": "a" * 65}), "bad_resource_label"),
        (image(dataItemResourceLabels={"k" * 65: "a"}), "bad_resource_label"),
        (image(dataItemResourceLabels={"team": 3}), "bad_resource_label"),
        (image(dataItemResourceLabels={"team": None}), "bad_resource_label"),
        (image(dataItemResourceLabels={"team": "a b"}), "bad_resource_label"),
        (image(dataItemResourceLabels={"": "a"}), "bad_resource_label"),
    ],
)
def test_check_record_rejects_each_broken_rule(record, code):
    problem = v.check_record(record, IMAGE)
    assert problem is not None and problem[0] == code, problem


def test_check_record_accepts_every_documented_shape():
    good = [
        image(),
        image(uri="gs://bucket-a/deep/dir/Cat 1.JPEG"),
        image(uri="/data/img/cat.png"),
        image(uri="file:///data/img/cat.gif"),
        {
            **image(),
            **labeled(
                "Cat Siamese",
                annotationResourceLabels={
                    v.ANNOTATION_SET_KEY: "displayName",
                    "env": "prod",
                    "labelloop_source": "human",
                },
            ),
        },
        {**image(), "classificationAnnotations": [{"displayName": "a"}, {"displayName": "b"}]},
        {**image(), "classificationAnnotations": []},
        image(dataItemResourceLabels={ML_USE_KEY: "test", ID_KEY: "ab" * 16, "équipe": "日本-1", "team": ""}),
        {
            **image(),
            "objectAnnotations": [
                {
                    "displayName": "ANY thing",
                    "boundingBox": {"normalizedVertices": [{"x": 0.1, "y": 0.2}, {"x": 0.3, "y": 0.4}]},
                }
            ],
            "custom": {"x": [1]},
        },
        {**image(), "boundingBoxAnnotations": [{"displayName": "box", "xMin": 0, "yMin": 0.1, "xMax": 1, "yMax": 0.5}]},
    ]
    for record in good:
        assert v.check_record(record, IMAGE) is None, record


def test_text_rules_need_exactly_one_non_blank_text_field():
    assert v.check_record({"textContent": "a review"}, TEXT) is None
    assert v.check_record({"textGcsUri": "gs://bucket-a/doc.txt"}, TEXT) is None
    assert v.check_record({"textContent": "  \n"}, TEXT)[0] == "empty_text"
    assert v.check_record({"textContent": "a", "textGcsUri": "gs://bucket-a/d.txt"}, TEXT)[0] == "ambiguous_content"
    assert v.check_record({"imageGcsUri": "gs://bucket-a/x.png"}, TEXT)[0] == "wrong_content_field"
    assert v.check_record({"textGcsUri": "/local/doc.txt"}, TEXT)[0] == "uri_scheme_not_allowed"


def test_unknown_label_names_the_allowed_set():
    rules = v.Rules("image", allowed_labels=("cat", "dog"))
    code, reason = v.check_record({**image(), **labeled("cow")}, rules)
    assert code == "unknown_label" and "cat, dog" in reason and "'cow'" in reason
    code, _ = v.check_record(
        {**image(), "classificationAnnotations": [{"displayName": "cat"}, {"displayName": "cow"}]}, rules
    )
    assert code == "unknown_label"


def test_local_scheme_refusal_says_how_to_allow_it():
    code, reason = v.check_record(image(uri="/data/cat.jpg"), v.Rules("image"))
    assert code == "uri_scheme_not_allowed" and "allowed_uri_schemes" in reason


def test_rules_reject_bad_parameters():
    with pytest.raises(v.ValidationError, match="data_type"):
        v.Rules("video")
    with pytest.raises(v.ValidationError, match="allowed_uri_schemes"):
        v.Rules("image", allowed_uri_schemes=("s3",))
    with pytest.raises(v.ValidationError, match="allowed_uri_schemes"):
        v.Rules("image", allowed_uri_schemes=())


# ---------------------------------------------------------------------------------------------
# Manifests: line numbers, malformed lines, duplicates, blocks


def test_malformed_lines_are_rejected_with_their_line_numbers():
    data = (
        jsonl([image(uri="gs://bucket-a/1.jpg")])
        + b"{not json\n"
        + b"\n"
        + b"[1, 2]\n"
        + jsonl([image(uri="gs://bucket-a/2.jpg")])
        + b'{"imageGcsUri": "gs://bucket-a/3.jpg", "x": NaN}\n'
        + b"\xff\xfe\n"
        + b'{"imageGcsUri": "gs://bucket-a/4.jpg"}'  # no final newline
    )
    kept, problems = check(data)
    assert kept == [1, 5, 8]
    assert problems == {2: "invalid_json", 4: "not_an_object", 6: "invalid_json", 7: "not_utf8"}


def test_duplicate_uri_rejects_the_later_line_naming_the_first():
    data = jsonl([image(uri="gs://bucket-a/a.jpg"), image(uri="gs://bucket-a/b.jpg"), image(uri="gs://bucket-a/a.jpg")])
    blocks = list(v.check_manifest(io.BytesIO(data), IMAGE))
    problems = [p for b in blocks for p in b.problems]
    assert [(p.line, p.code) for p in problems] == [(3, "duplicate_uri")]
    assert "line 1" in problems[0].reason


def test_duplicates_are_found_across_blocks_and_after_rejected_lines():
    rows = [image(uri=f"gs://bucket-a/{i}.jpg") for i in range(300)]
    rows.insert(0, image(uri="gs://bucket-a/5.jpg", classificationAnnotation={"displayName": ""}))  # rejected
    rows.append(image(uri="gs://bucket-a/7.jpg"))
    kept, problems = check(jsonl(rows), block_bytes=1024)
    assert problems == {1: "bad_label_name", 302: "duplicate_uri"}
    assert len(kept) == 300 and 7 in kept  # line 7 (uri 5.jpg) kept: its first copy was rejected


def test_duplicate_carried_ids_are_rejected_but_equal_text_is_not():
    rows = [
        {"textContent": "same words", "dataItemResourceLabels": {ID_KEY: "a1"}},
        {"textContent": "same words", "dataItemResourceLabels": {ID_KEY: "b2"}},
        {"textContent": "other", "dataItemResourceLabels": {ID_KEY: "a1"}},
    ]
    kept, problems = check(jsonl(rows), TEXT)
    assert kept == [1, 2] and problems == {3: "duplicate_id"}


def test_blank_and_crlf_lines_keep_numbering():
    data = b"\r\n" + jsonl([image()]).replace(b"\n", b"\r\n") + b"   \n" + jsonl([image(uri="gs://bucket-a/z.png")])
    kept, problems = check(data)
    assert kept == [2, 4] and problems == {}


def test_empty_manifest_gives_no_lines():
    assert check(b"") == ([], {})
    assert check(b"\n\n") == ([], {})


def test_kept_lines_are_the_original_bytes():
    line = b'{"imageGcsUri":"gs://bucket-a/a.jpg","custom":{"n":1.50,"deep":[{"z":null}]}}'
    blocks = list(v.check_manifest(io.BytesIO(line + b"\n"), IMAGE))
    assert [raw for b in blocks for _, raw in b.kept_lines()] == [line]


# ---------------------------------------------------------------------------------------------
# The column-wise screen must agree with the exact path, line for line


def _mutations(rng: random.Random) -> list:
    """Valid records and small corruptions of them, mixed."""
    base = [
        {
            **image(uri="gs://bucket-a/p/{i}.png"),
            **labeled("cat", annotationResourceLabels={"labelloop_source": "human"}),
            "dataItemResourceLabels": {ML_USE_KEY: "training", "team": "vision"},
        },
        {
            **image(uri="gs://bucket-a/q/{i}.jpg"),
            "classificationAnnotations": [{"displayName": "dog"}, {"displayName": "cat"}],
        },
        image(uri="gs://bucket-a/r/{i}.bmp", dataItemResourceLabels={"équipe": "日本"}),
    ]
    corruptions = [
        lambda r: {
            **r,
            "imageGcsUri": r["imageGcsUri"].replace(".png", ".tif").replace(".jpg", ".webp").replace(".bmp", ".txt"),
        },
        lambda r: {**r, "imageGcsUri": r["imageGcsUri"].replace("gs://", "s3://")},
        lambda r: {**r, "imageGcsUri": r["imageGcsUri"].replace("gs://bucket-a", "gs://B")},
        lambda r: {**r, **labeled("")},
        lambda r: {**r, **labeled("cow")},
        lambda r: {**r, "classificationAnnotations": [{"displayName": "cat"}, {"displayName": "cat"}]},
        lambda r: {**r, "dataItemResourceLabels": {ML_USE_KEY: "train"}},
        lambda r: {**r, "dataItemResourceLabels": {"Team": "x"}},
        lambda r: {**r, "dataItemResourceLabels": {"team": "X"}},
        lambda r: {**r, "dataItemResourceLabels": {"team": "ü" * 65}},
        lambda r: {**r, "dataItemResourceLabels": {"aiplatform.googleapis.com/x": "a"}},
        lambda r: {**r, **labeled("cat", annotationResourceLabels={v.ANNOTATION_SET_KEY: "Set One"})},
        lambda r: {**r, **labeled("cat", annotationResourceLabels={ML_USE_KEY: "test"})},
        lambda r: {**r, "textContent": "x"},
        lambda r: {k: val for k, val in r.items() if k != "imageGcsUri"},
    ]
    records = []
    for i in range(600):
        record = orjson.loads(orjson.dumps(rng.choice(base)).replace(b"{i}", str(i).encode()))
        if rng.random() < 0.15:
            record = rng.choice(corruptions)(record)
        records.append(record)
    return records


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_screen_agrees_with_exact_path(seed):
    rules = v.Rules("image", allowed_labels=("cat", "dog"))
    records = _mutations(random.Random(seed))
    kept, problems = check(jsonl(records), rules, block_bytes=4096)
    expected = {i + 1: p[0] for i, r in enumerate(records) if (p := v.check_record(r, rules))}
    assert problems == expected
    assert sorted(kept + list(problems)) == list(range(1, len(records) + 1))
    blocks = list(v.check_manifest(io.BytesIO(jsonl(records)), rules, block_bytes=4096))
    assert sum(b.exact_lines for b in blocks) < len(records)  # the screen did clear most lines


def test_screen_clears_every_line_of_a_clean_block():
    rows = [{**image(uri=f"gs://bucket-a/{i}.jpg"), **labeled("cat")} for i in range(100)]
    (block,) = list(v.check_manifest(io.BytesIO(jsonl(rows)), IMAGE))
    assert block.exact_lines == 0 and len(block.accepted) == 100


# ---------------------------------------------------------------------------------------------
# Dataset-level rules


def test_label_count_issues_name_small_labels_with_the_chosen_severity():
    (issue,) = v.label_count_issues({"a": 12, "b": 3}, "text", 10, "warning")
    assert issue.code == "too_few_items_per_label" and "b (3)" in issue.message and issue.severity == "warning"
    issues = v.label_count_issues({"a": 12}, "text", 10, "error")
    assert [i.code for i in issues] == ["label_count_out_of_range"] and issues[0].severity == "error"
    assert v.label_count_issues({}, "text", 10, "error") == []
    with pytest.raises(v.ValidationError):
        v.label_count_issues({"a": 1}, "text", 10, "fatal")


def test_item_count_issue_over_the_text_limit():
    assert v.item_count_issues(5, "text", max_items=4)[0].code == "too_many_documents"
    assert v.item_count_issues(5, "image", max_items=4) == []


def test_a_type_anomaly_sends_only_its_neighbourhood_to_the_exact_path():
    rows = [{**image(uri=f"gs://bucket-a/{i}.jpg"), **labeled("cat")} for i in range(4000)]
    rows[1234] = {**image(uri="gs://bucket-a/odd.jpg"), **labeled(5)}  # Arrow cannot type this column
    rows[3000] = {**image(uri="gs://bucket-a/null.jpg"), "x": None}  # null: exact path, and accepted
    (block,) = list(v.check_manifest(io.BytesIO(jsonl(rows)), IMAGE, block_bytes=1 << 24))
    assert [(p.line, p.code) for p in block.problems] == [(1235, "wrong_type")]
    assert len(block.accepted) == 3999 and 3001 in {n for n, _ in block.kept_lines()}
    assert block.exact_lines <= 2 * v.MIN_SPLIT_LINES


def test_long_bucket_names_and_non_finite_numbers_are_caught_in_a_screened_block():
    long_bucket = "gs://" + "b" * 230 + "/x.jpg"  # bucket names are at most 222 characters
    rows = [image(uri=f"gs://bucket-a/{i}.jpg") for i in range(50)]
    data = jsonl(rows + [image(uri=long_bucket)]) + b'{"imageGcsUri": "gs://bucket-a/z.jpg", "m": [1.0, -Infinity]}\n'
    kept, problems = check(data)
    assert problems == {51: "bad_uri", 52: "invalid_json"} and len(kept) == 50
