"""Bad JSONL manifests: each malformed line is one reject with its line number and code, the rest is
kept unchanged, and nothing crashes, hangs or is silently altered."""

from __future__ import annotations

import pytest
from hostile import jsonl, run_import, without_id
from labelloop.components.core import manifest, validate

OK = {"textContent": "a fine document", "classificationAnnotation": {"displayName": "pos"}}


def text(value="some text", **fields) -> dict:
    return {"textContent": value, **fields}


def label(name) -> dict:
    return {"displayName": name}


DEEP = b"[" * 100_000 + b"]" * 100_000
BIG = 123456789012345678901234567890

# (case id, line 2 of a 3-line text manifest, expected reject code or None for "accepted unchanged")
LINE_CASES = [
    ("not-utf8-byte", b'{"textContent": "caf\xe9"}', "not_utf8"),
    ("latin1-line", '{"textContent": "na\u00efve r\u00e9sum\u00e9"}'.encode("latin-1"), "not_utf8"),
    ("overlong-utf8", b'{"textContent": "\xc0\xaf"}', "not_utf8"),
    ("deep-brackets-100k", DEEP, "too_deeply_nested"),
    ("deep-inside-object", b'{"textContent": "x", "extra": ' + DEEP + b"}", "too_deeply_nested"),
    ("deep-braces", b'{"a":' * 50_000 + b"1" + b"}" * 50_000, "too_deeply_nested"),
    ("depth-128-accepted", b'{"textContent": "x", "extra": ' + b"[" * 127 + b"]" * 127 + b"}", None),
    ("depth-129-rejected", b'{"textContent": "x", "extra": ' + b"[" * 128 + b"]" * 128 + b"}", "too_deeply_nested"),
    ("depth-300-rejected", b'{"textContent": "x", "extra": ' + b"[" * 300 + b"]" * 300 + b"}", "too_deeply_nested"),
    ("wide-not-deep-accepted", jsonl(text(extra=[[n] for n in range(500)]))[:-1], None),
    ("huge-line-2mb", b'{"textContent": "' + b"x" * (2 << 20) + b'"}', "line_too_long"),
    ("nan", b'{"textContent": "x", "score": NaN}', "invalid_json"),
    ("infinity", b'{"textContent": "x", "score": Infinity}', "invalid_json"),
    ("trailing-comma", b'{"textContent": "x",}', "invalid_json"),
    ("single-quotes", b"{'textContent': 'x'}", "invalid_json"),
    ("truncated", b'{"textContent": "x"', "invalid_json"),
    ("bom-mid-file", b'\xef\xbb\xbf{"textContent": "x"}', "invalid_json"),
    ("nul-byte-raw", b'{"textContent": "a\x00b"}', "invalid_json"),
    ("top-level-array", b'["textContent", "x"]', "not_an_object"),
    ("top-level-string", b'"textContent"', "not_an_object"),
    ("top-level-null", b"null", "not_an_object"),
    ("top-level-number", b"42", "not_an_object"),
    ("big-int-extra", jsonl(text(extra={"n": BIG, "m": -BIG, "l": [BIG, 1.5]}))[:-1], None),
    ("escaped-nul-accepted", b'{"textContent": "a\\u0000b"}', None),
    ("unicode-accepted", jsonl(text("\u65e5\u672c\u8a9e \U0001f600"))[:-1], None),
    ("blank-text", jsonl(text("   "))[:-1], "empty_text"),
    ("text-is-number", jsonl(text(5))[:-1], "wrong_type"),
    ("text-is-list", jsonl(text(["a"]))[:-1], "wrong_type"),
    ("two-contents", jsonl(text(textGcsUri="gs://bucket-a/x.txt"))[:-1], "ambiguous_content"),
    ("image-field-in-text", jsonl({"imageGcsUri": "gs://bucket-a/x.jpg"})[:-1], "wrong_content_field"),
    ("no-content", jsonl({"classificationAnnotation": label("pos")})[:-1], "missing_content"),
    ("label-129-chars", jsonl(text(classificationAnnotation=label("x" * 129)))[:-1], "bad_label_name"),
    ("label-blank", jsonl(text(classificationAnnotation=label(" ")))[:-1], "bad_label_name"),
    ("label-missing-name", jsonl(text(classificationAnnotation={}))[:-1], "missing_label_name"),
    ("label-name-number", jsonl(text(classificationAnnotation=label(3)))[:-1], "wrong_type"),
    ("annotation-not-object", jsonl(text(classificationAnnotation="pos"))[:-1], "wrong_type"),
    ("annotations-not-list", jsonl(text(classificationAnnotations=label("pos")))[:-1], "wrong_type"),
    (
        "both-annotation-forms",
        jsonl(text(classificationAnnotation=label("a"), classificationAnnotations=[label("b")]))[:-1],
        "ambiguous_labels",
    ),
    ("same-label-twice", jsonl(text(classificationAnnotations=[label("a"), label("a")]))[:-1], "duplicate_label"),
    (
        "reserved-key",
        jsonl(text(dataItemResourceLabels={"aiplatform.googleapis.com/x": "y"}))[:-1],
        "reserved_label_key",
    ),
    ("bad-ml-use", jsonl(text(dataItemResourceLabels={manifest.ML_USE_KEY: "train"}))[:-1], "bad_resource_label"),
    ("label-value-upper", jsonl(text(dataItemResourceLabels={"team": "Red"}))[:-1], "bad_resource_label"),
    ("label-key-digit-first", jsonl(text(dataItemResourceLabels={"1team": "red"}))[:-1], "bad_resource_label"),
    ("resource-labels-list", jsonl(text(dataItemResourceLabels=["a"]))[:-1], "wrong_type"),
    ("bogus-carried-id", jsonl(text(dataItemResourceLabels={manifest.ID_KEY: "0" * 32}))[:-1], "id_mismatch"),
    (
        "stale-carried-id",
        jsonl(text("edited text", dataItemResourceLabels={manifest.ID_KEY: manifest.content_id("some text")}))[:-1],
        "id_mismatch",
    ),
    (
        "true-carried-id",
        jsonl(text(dataItemResourceLabels={manifest.ID_KEY: manifest.content_id("some text")}))[:-1],
        None,
    ),
    ("FILE-scheme", jsonl({"textGcsUri": "FILE:///tmp/a.txt"})[:-1], "bad_uri"),
    ("GS-scheme", jsonl({"textGcsUri": "GS://bucket-a/a.txt"})[:-1], "bad_uri"),
    ("relative-path", jsonl({"textGcsUri": "docs/a.txt"})[:-1], "bad_uri"),
    ("http-scheme", jsonl({"textGcsUri": "http://example.test/a.txt"})[:-1], "uri_scheme_not_allowed"),
    ("gs-bucket-only", jsonl({"textGcsUri": "gs://bucket-a/"})[:-1], "bad_uri"),
    ("gs-bad-bucket", jsonl({"textGcsUri": "gs://B/a.txt"})[:-1], "bad_uri"),
]


@pytest.mark.parametrize("line, code", [c[1:] for c in LINE_CASES], ids=[c[0] for c in LINE_CASES])
def test_one_bad_line_is_one_reject_and_the_rest_is_kept_unchanged(tmp_path, line, code):
    source = tmp_path / "m.jsonl"
    source.write_bytes(jsonl(OK) + line + b"\n" + jsonl(text("third line")))
    outcome = run_import(tmp_path, str(source), "text", inputs=3)
    assert outcome.codes == ({2: code} if code else {})
    originals = [OK, None, text("third line")]
    if code is None:
        originals[1] = without_id(line)
    kept = [r for r in originals if r is not None]
    assert [without_id(raw) for raw in outcome.kept] == kept  # accepted lines come out unchanged
    if code:
        (reject,) = outcome.rejects
        assert reject["line"] == 2 and reject["step"] == "import_dataset" and len(reject["reason"]) > 20


def test_a_big_integer_survives_import_digit_for_digit(tmp_path):
    source = tmp_path / "m.jsonl"
    source.write_bytes(jsonl(text(extra={"n": BIG})))
    outcome = run_import(tmp_path, str(source), "text", inputs=1)
    assert str(BIG).encode() in outcome.kept[0] and b"e+29" not in outcome.kept[0]


def test_bom_at_the_start_keeps_the_first_line(tmp_path):
    source = tmp_path / "m.jsonl"
    source.write_bytes(manifest.BOM + jsonl(OK, text("second")))
    outcome = run_import(tmp_path, str(source), "text", inputs=2)
    assert outcome.codes == {} and without_id(outcome.kept[0]) == OK


def test_crlf_and_blank_lines_are_read_as_lines(tmp_path):
    source = tmp_path / "m.jsonl"
    source.write_bytes(b'{"textContent": "a"}\r\n\r\n   \n{"textContent": "b"}\r\n{bad\r\n')
    outcome = run_import(tmp_path, str(source), "text", inputs=3)
    assert outcome.codes == {5: "invalid_json"}


def test_a_huge_last_line_without_newline_is_bounded_and_rejected(tmp_path):
    source = tmp_path / "m.jsonl"
    source.write_bytes(jsonl(OK) + b'{"textContent": "' + b"y" * (5 << 20))
    outcome = run_import(tmp_path, str(source), "text", inputs=2)
    assert outcome.codes == {2: "line_too_long"}
    assert len(outcome.rejects[0]["record"]) <= validate.MAX_LINE_BYTES + 1  # never held whole


def test_a_huge_line_between_good_lines_keeps_the_line_numbers(tmp_path):
    source = tmp_path / "m.jsonl"
    source.write_bytes(jsonl(OK) + b"z" * (3 << 20) + b"\n" + jsonl(text("after"), b"{bad"))
    outcome = run_import(tmp_path, str(source), "text", inputs=4)
    assert outcome.codes == {2: "line_too_long", 4: "invalid_json"}


def test_many_bad_lines_in_a_large_block_are_each_one_reject(tmp_path):
    """Thousands of lines (the block is split for the exact path) with every hostile kind mixed in."""
    lines = [jsonl(text(f"doc {n}"))[:-1] for n in range(6000)]
    bad = {
        100: (b'{"textContent": "\xff"}', "not_utf8"),
        2500: (DEEP, "too_deeply_nested"),
        4000: (b"[]", "not_an_object"),
    }
    for index, (line, _) in bad.items():
        lines[index] = line
    source = tmp_path / "m.jsonl"
    source.write_bytes(b"\n".join(lines) + b"\n")
    outcome = run_import(tmp_path, str(source), "text", inputs=6000)
    assert outcome.codes == {index + 1: code for index, (_, code) in bad.items()}


def test_duplicate_text_with_the_same_carried_id_is_a_duplicate_id(tmp_path):
    record = text(dataItemResourceLabels={manifest.ID_KEY: manifest.content_id("some text")})
    source = tmp_path / "m.jsonl"
    source.write_bytes(jsonl(record, record))
    outcome = run_import(tmp_path, str(source), "text", inputs=2)
    assert outcome.codes == {2: "duplicate_id"}


def test_an_empty_manifest_fails_with_a_clear_summary(tmp_path):
    source = tmp_path / "m.jsonl"
    source.write_bytes(b"\n\n")
    outcome = run_import(tmp_path, str(source), "text", inputs=0)
    assert "nothing valid remains of 0 input item(s)" in outcome.summary


@pytest.mark.parametrize(
    "line",
    [
        b'{"textContent": "a", "textContent": "b"}',
        b'{"textContent": "a", "extra": {"k": 1, "k": 2}}',
        b'{"textContent": "a", "classificationAnnotation": {"displayName": "pos", "displayName" : "neg"}}',
    ],
)
def test_a_repeated_key_is_a_reject_not_a_silent_choice(tmp_path, line):
    source = tmp_path / "m.jsonl"
    source.write_bytes(jsonl(OK) + line + b"\n")
    outcome = run_import(tmp_path, str(source), "text", inputs=2)
    assert outcome.codes == {2: "duplicate_key"}


def test_a_colon_inside_a_string_is_not_a_repeated_key(tmp_path):
    source = tmp_path / "m.jsonl"
    source.write_bytes(jsonl(text('say "k": twice "k": ok', extra={"k": 1})))
    assert run_import(tmp_path, str(source), "text", inputs=1).codes == {}
