import io

import cv2
import numpy as np
import pytest
from labelloop.components.core import image_checks
from labelloop.components.core import manifest as mf
from labelloop.components.core import prefilter as pf
from PIL import Image


def scene(seed, size=(480, 360)):
    rng = np.random.default_rng(seed)
    width, height = size
    img = np.zeros((height, width, 3), np.uint8)
    img[:] = rng.integers(0, 256, 3)
    for _ in range(25):
        color = tuple(int(c) for c in rng.integers(0, 256, 3))
        x, y = int(rng.integers(0, width)), int(rng.integers(0, height))
        if rng.random() < 0.5:
            cv2.rectangle(
                img, (x, y), (x + int(rng.integers(10, width // 2)), y + int(rng.integers(10, height // 2))), color, -1
            )
        else:
            cv2.circle(img, (x, y), int(rng.integers(5, height // 3)), color, -1)
    return img


def jpeg(array, quality=92):
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, "JPEG", quality=quality)
    return buffer.getvalue()


def png(array):
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, "PNG")
    return buffer.getvalue()


def build_dataset(tmp_path):
    """A manifest with one item of every outcome; returns its path."""
    a, b, c = scene(1), scene(2), scene(3)
    files = {
        "a": jpeg(a),
        "a_copy": jpeg(a),
        "a_small": png(cv2.resize(a, (240, 180), interpolation=cv2.INTER_AREA)),
        "a_mirror": jpeg(a[:, ::-1].copy(), quality=80),
        "a_blur": jpeg(cv2.GaussianBlur(a, (0, 0), 4)),
        "b": jpeg(b),
        "c_blur": jpeg(cv2.GaussianBlur(c, (0, 0), 4)),
        "flat": jpeg(np.full((300, 300, 3), 90, np.uint8)),
        "empty": b"",
        "truncated": jpeg(scene(4))[:2500],
        "text": b"hello, I am not a picture\n" * 40,
        "bomb": png(np.zeros((4000, 4000), np.uint8)),
        "tiny": png(cv2.resize(scene(5), (20, 15), interpolation=cv2.INTER_AREA)),
    }
    records = []
    for name, data in files.items():
        path = tmp_path / f"{name}.img"
        path.write_bytes(data)
        records.append(mf.with_id({"imageGcsUri": str(path)}, name))
    records.append(mf.with_id({"imageGcsUri": str(tmp_path / "missing.jpg")}, "missing"))
    records.append(mf.with_id({"textContent": "a caption"}, "words"))
    records.append({"imageGcsUri": str(tmp_path / "a.img")})  # no id
    records.append(mf.with_id({"imageGcsUri": ""}, "blank_uri"))
    manifest_path = tmp_path / "items.jsonl"
    mf.write_jsonl(str(manifest_path), records)
    return str(manifest_path)


EXPECTED_REJECTS = {
    "a_copy": pf.EXACT_DUPLICATE,
    "a_small": pf.NEAR_DUPLICATE,
    "a_mirror": pf.NEAR_DUPLICATE,
    "a_blur": pf.BLURRY,
    "c_blur": pf.BLURRY,
    "flat": pf.BLURRY,  # one gray level: nothing in it is sharp (score 1.0)
    "empty": image_checks.EMPTY_FILE,
    "truncated": image_checks.CORRUPT,
    "text": image_checks.NOT_AN_IMAGE,
    "bomb": image_checks.DECOMPRESSION_BOMB,
    "tiny": image_checks.TOO_SMALL,
    "missing": image_checks.UNREADABLE,
    None: pf.MISSING_ID,
    "blank_uri": pf.INVALID_URI,
}
STEP = "prefilter_images"  # the name the component passes; rejects record it
SETTINGS = pf.PrefilterSettings(limits=image_checks.DecodeLimits(max_pixels=10_000_000), workers=1)


def run(tmp_path, settings=SETTINGS):
    tmp_path.mkdir(parents=True, exist_ok=True)
    source = build_dataset(tmp_path)
    result = pf.prefilter_manifest(source, str(tmp_path / "kept"), str(tmp_path / "rejects"), settings, step=STEP)
    kept = {mf.record_name(r): r for r in mf.read_jsonl(str(tmp_path / "kept"))}
    rejects = list(mf.read_jsonl(str(tmp_path / "rejects")))
    return result, kept, rejects


def test_every_item_is_kept_or_rejected_with_the_right_reason(tmp_path):
    result, kept, rejects = run(tmp_path)
    assert set(kept) == {"a", "b", "words"}
    assert {r["id"]: r["reason_code"] for r in rejects} == EXPECTED_REJECTS
    assert result.items == len(kept) + len(rejects) == 17
    assert result.kept == 3 and result.passed_through == 1 and result.images == 14
    assert result.rejected == {
        code: list(EXPECTED_REJECTS.values()).count(code) for code in set(EXPECTED_REJECTS.values())
    }
    assert all(r["reason"] and r["step"] == STEP for r in rejects)


def test_representative_records_its_group_and_removed_copies(tmp_path):
    result, kept, rejects = run(tmp_path)
    facts = kept["a"]["labelloop"]
    assert facts["duplicate_group"] == "a"
    assert sorted(facts["duplicates"]) == ["a_blur", "a_copy", "a_mirror", "a_small"]
    assert facts["blurry"] is False and facts["blur_score"] < pf.blur.DEFAULT_THRESHOLD
    by_id = {r["id"]: r for r in rejects}
    assert by_id["a_small"]["record"]["labelloop"]["duplicate_group"] == "a"
    assert "near duplicate of a" in by_id["a_mirror"]["reason"]
    assert "byte-identical to a" in by_id["a_copy"]["reason"]
    assert by_id["c_blur"]["record"]["labelloop"]["blur_score"] >= pf.blur.DEFAULT_THRESHOLD
    assert kept["b"]["labelloop"]["duplicates"] == [] and kept["b"]["labelloop"]["duplicate_group"] == "b"
    assert by_id["flat"]["record"]["labelloop"]["blur_score"] == 1.0
    assert facts["kept_because"] and set(facts["quality"]) >= {"pixels", "blur_score", "jpeg_quantization"}
    assert by_id["a_mirror"]["record"]["labelloop"]["kept_id"] == "a"
    assert by_id["a_mirror"]["record"]["labelloop"]["hash_distance"] <= pf.DEFAULT_HAMMING_THRESHOLD
    assert kept["words"] == {"textContent": "a caption", "dataItemResourceLabels": {"labelloop_id": "words"}}
    assert result.duplicate_groups == 1


def test_reasons_name_the_file_for_broken_images(tmp_path):
    _, _, rejects = run(tmp_path)
    by_id = {r["id"]: r for r in rejects}
    assert "truncated.img" in by_id["truncated"]["reason"] and "truncated" in by_id["truncated"]["reason"]
    assert "missing.jpg" in by_id["missing"]["reason"]
    assert "0 bytes" in by_id["empty"]["reason"]
    assert "16,000,000" in by_id["bomb"]["reason"]


def test_disabled_checks_keep_blurry_and_near_duplicate_images(tmp_path):
    settings = pf.PrefilterSettings(limits=SETTINGS.limits, near_duplicates=False, blurry=False, workers=1)
    _, kept, rejects = run(tmp_path, settings)
    assert {"a", "a_small", "a_mirror", "a_blur", "c_blur", "b"} <= set(kept)
    assert {r["id"]: r["reason_code"] for r in rejects}["a_copy"] == pf.EXACT_DUPLICATE


def test_thread_pool_gives_the_same_outcome(tmp_path):
    _, kept_serial, rejects_serial = run(tmp_path / "serial")
    settings = pf.PrefilterSettings(limits=SETTINGS.limits, workers=2)
    _, kept_pool, rejects_pool = run(tmp_path / "pool", settings)
    assert {k: v.get("labelloop") for k, v in kept_pool.items()} == {
        k: v.get("labelloop") for k, v in kept_serial.items()
    }
    assert [(r["id"], r["reason_code"]) for r in rejects_pool] == [(r["id"], r["reason_code"]) for r in rejects_serial]


def test_bad_settings_are_refused():
    with pytest.raises(ValueError, match="hamming_threshold"):
        pf.PrefilterSettings(hamming_threshold=64)
    with pytest.raises(ValueError, match="blur_threshold"):
        pf.PrefilterSettings(blur_threshold=0)


def test_malformed_manifest_line_fails_with_file_and_line(tmp_path):
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"textContent": "x", "dataItemResourceLabels": {"labelloop_id": "x"}}\nnot json\n')
    with pytest.raises(mf.ManifestError, match=r"bad.jsonl:2"):
        pf.prefilter_manifest(str(bad), str(tmp_path / "kept"), str(tmp_path / "rejects"), SETTINGS, step=STEP)
    assert not (tmp_path / "kept").exists()


def test_cropped_copy_is_found_through_the_corner_crop_hashes(tmp_path):
    a = scene(10)
    height, width = a.shape[:2]
    files = {
        "a": jpeg(a),
        "a_cropped": jpeg(a[round(height * 0.05) :, round(width * 0.05) :].copy()),
        "b": jpeg(scene(2)),
    }
    records = []
    for name, data in files.items():
        (tmp_path / f"{name}.jpg").write_bytes(data)
        records.append(mf.with_id({"imageGcsUri": str(tmp_path / f"{name}.jpg")}, name))
    mf.write_jsonl(str(tmp_path / "items"), records)

    def rejected(settings):
        pf.prefilter_manifest(
            str(tmp_path / "items"), str(tmp_path / "kept"), str(tmp_path / "rejects"), settings, step=STEP
        )
        return {r["id"]: r["reason_code"] for r in mf.read_jsonl(str(tmp_path / "rejects"))}

    assert rejected(pf.PrefilterSettings(workers=1)) == {"a_cropped": pf.NEAR_DUPLICATE}
    assert rejected(pf.PrefilterSettings(cropped_copies=False, workers=1)) == {}


def test_crop_threshold_follows_the_hamming_threshold_down():
    assert pf.PrefilterSettings().crop_hamming_threshold == 5
    assert pf.PrefilterSettings(hamming_threshold=4).crop_hamming_threshold == 1
    assert pf.PrefilterSettings(hamming_threshold=2).crop_hamming_threshold == 0
    assert pf.PrefilterSettings(cropped_copies=False).crop_hamming_threshold is None
    assert pf.PrefilterSettings(near_duplicates=False).crop_hamming_threshold is None


def test_images_on_gcs_are_read_by_the_thread_pool(gcs_prefix, tmp_path):
    a = scene(1)
    files = {"a": jpeg(a), "a_small": png(cv2.resize(a, (240, 180), interpolation=cv2.INTER_AREA)), "b": jpeg(scene(2))}
    records = []
    for name, data in files.items():
        uri = f"{gcs_prefix}/images/{name}.jpg"
        with mf.open_file(uri, "wb") as handle:
            handle.write(data)
        records.append(mf.with_id({"imageGcsUri": uri}, name))
    records.append(mf.with_id({"imageGcsUri": f"{gcs_prefix}/images/missing.jpg"}, "missing"))
    source = f"{gcs_prefix}/items.jsonl"
    mf.write_jsonl(source, records)
    settings = pf.PrefilterSettings(workers=4)
    result = pf.prefilter_manifest(source, f"{gcs_prefix}/kept.jsonl", str(tmp_path / "rejects"), settings, step=STEP)
    kept = [mf.item_id(r) for r in mf.read_jsonl(f"{gcs_prefix}/kept.jsonl")]
    rejects = {r["id"]: r["reason_code"] for r in mf.read_jsonl(str(tmp_path / "rejects"))}
    assert kept == ["a", "b"]
    assert rejects == {"a_small": pf.NEAR_DUPLICATE, "missing": image_checks.UNREADABLE}
    assert result.items == 4


def test_a_table_passes_through_unchanged_with_every_row_counted(tmp_path):
    table = tmp_path / "items.csv"
    table.write_text("alcohol,cultivar,labelloop_id\n14.2,a,r1\n13.1,b,r2\n12.9,a,r3\n")
    kept, rejects = tmp_path / "kept", tmp_path / "rejects"
    result = pf.prefilter_manifest(str(table), str(kept), str(rejects), pf.PrefilterSettings(), step="prefilter")
    assert kept.read_bytes() == table.read_bytes()
    assert rejects.read_text() == ""
    assert (result.items, result.kept, result.passed_through, result.images, result.rejected) == (3, 3, 3, 0, {})


# ---------------------------------------------------------------------------------------------
# Quality order, second check and chains


def run_files(tmp_path, files, settings=None):
    """Prefilter ``files`` (name -> bytes, in manifest order); returns kept records and rejects by id."""
    records = []
    for name, data in files.items():
        (tmp_path / f"{name}.img").write_bytes(data)
        records.append(mf.with_id({"imageGcsUri": str(tmp_path / f"{name}.img")}, name))
    mf.write_jsonl(str(tmp_path / "items"), records)
    settings = settings or pf.PrefilterSettings(workers=1)
    pf.prefilter_manifest(
        str(tmp_path / "items"), str(tmp_path / "kept"), str(tmp_path / "rejects"), settings, step=STEP
    )
    kept = {mf.record_name(r): r for r in mf.read_jsonl(str(tmp_path / "kept"))}
    return kept, {r["id"]: r for r in mf.read_jsonl(str(tmp_path / "rejects"))}


def test_a_slightly_blurred_copy_listed_first_never_makes_the_sharp_original_lose(tmp_path):
    a = scene(21)
    softened = cv2.GaussianBlur(a, (0, 0), 1.2)
    kept, rejects = run_files(tmp_path, {"a_soft": jpeg(softened), "a": jpeg(a)})
    assert set(kept) == {"a"}
    assert rejects["a_soft"]["record"]["labelloop"]["kept_id"] == "a"
    assert "sharpest" in kept["a"]["labelloop"]["kept_because"]


def test_lower_jpeg_quality_loses_to_higher_whatever_the_order(tmp_path):
    a = scene(22)
    kept, rejects = run_files(tmp_path, {"a_q40": jpeg(a, quality=40), "a_q95": jpeg(a, quality=95)})
    assert set(kept) == {"a_q95"} and rejects["a_q40"]["reason_code"] == pf.NEAR_DUPLICATE
    low = pf.image_checks.jpeg_quantization(Image.open(io.BytesIO(jpeg(a, quality=40))))
    assert 0 < kept["a_q95"]["labelloop"]["quality"]["jpeg_quantization"] < low


def _unit(vector):
    vector = vector - vector.mean()
    return vector / np.linalg.norm(vector)


def _table(signatures, *, pixels=None, contents=None, aspect=None):
    """An image table over hand-made thumbnail signatures (everything else equal)."""
    n = len(signatures)
    return pf._ImageTable(
        lines=np.arange(n),
        ids=[f"i{k}" for k in range(n)],
        contents=np.array(contents if contents is not None else [f"c{k}" for k in range(n)]),
        phashes=np.zeros(n, np.uint64),
        corner_hashes=np.zeros((n, 4), np.uint64),
        signatures=np.array(signatures, np.float32),
        hashable=np.ones(n, bool),
        pixels=np.array(pixels if pixels is not None else [1000] * n),
        blur_scores=np.full(n, 0.5),
        quantization=np.zeros(n),
        bytes_per_pixel=np.ones(n),
        clipped=np.zeros(n),
        mean_gray=np.full(n, 100.0),
        aspect=np.array(aspect if aspect is not None else [0.0] * n, np.float64),
    )


def test_second_check_rejects_a_hash_match_whose_thumbnails_do_not_correlate():
    rng = np.random.default_rng(5)
    side = pf.image_hash.SIGNATURE_SIDE
    # two low-texture thumbnails: faint, unrelated ripples (their hashes may well coincide)
    first = _unit(rng.normal(0, 1, side * side))
    second = _unit(rng.normal(0, 1, side * side))
    table = _table([first, second, first])
    pairs = np.array([[0, 1], [0, 2]])
    assert pf.confirmed(table, pairs, np.array([pf._HASH, pf._HASH])).tolist() == [False, True]
    # byte-identical content is confirmed whatever the thumbnails say
    same = _table([first, second], contents=["x", "x"])
    assert pf.confirmed(same, pairs[:1], np.array([pf._EXACT])).tolist() == [True]


def test_a_chain_a_b_c_does_not_merge_a_and_c():
    rng = np.random.default_rng(7)
    side = pf.image_hash.SIGNATURE_SIDE
    e1 = _unit(rng.normal(0, 1, side * side))
    e2 = _unit(rng.normal(0, 1, side * side))
    e2 = _unit(e2 - (e2 @ e1) * e1)
    angle = np.arccos(0.65)  # A and C correlate at 0.65, B sits halfway (about 0.91 to each)
    a, c = e1, np.cos(angle) * e1 + np.sin(angle) * e2
    b = _unit(a + c)
    table = _table([a, b, c], pixels=[3000, 2000, 1000])
    corr = pf.image_hash.signature_correlation
    assert corr(a, b)[0] >= pf.MIN_CORRELATION and corr(b, c)[0] >= pf.MIN_CORRELATION
    assert corr(a, c)[0] < pf.MIN_CROP_CORRELATION
    groups = pf._resolve_component([0, 1, 2], table, np.zeros(3, bool))
    assert [(g.representative, sorted(g.members)) for g in groups] == [(0, [0, 1]), (2, [2])]


def test_kept_and_removed_records_carry_why_and_how_close(tmp_path):
    _, kept, rejects = run(tmp_path)
    facts = kept["a"]["labelloop"]
    assert set(facts["quality"]) == {
        "pixels",
        "blur_score",
        "jpeg_quantization",
        "clipped",
        "mean_gray",
        "bytes_per_pixel",
    }
    assert isinstance(facts["kept_because"], list) and facts["kept_because"]
    by_id = {r["id"]: r["record"].get("labelloop", {}) for r in rejects if r["id"]}
    for copy in ("a_small", "a_mirror"):
        assert by_id[copy]["kept_id"] == "a"
        assert 0 <= by_id[copy]["hash_distance"] <= pf.DEFAULT_HAMMING_THRESHOLD
        assert by_id[copy]["correlation"] >= pf.MIN_CROP_CORRELATION
    assert by_id["a_copy"]["kept_id"] == "a" and by_id["a_copy"]["correlation"] >= 0.99
    assert "quality" not in by_id["a_small"] and "kept_because" not in by_id["a_small"]


def test_the_original_wins_over_brightened_and_darkened_copies_listed_first(tmp_path):
    from PIL import ImageEnhance

    a = scene(23)

    def toned(factor):
        return jpeg(np.asarray(ImageEnhance.Brightness(Image.fromarray(a)).enhance(factor)))

    files = {"a_bright": toned(1.15), "a_dark": toned(0.85), "a_bright2": toned(1.1), "a": jpeg(a)}
    files["a_small"] = jpeg(cv2.resize(a, (240, 180), interpolation=cv2.INTER_AREA))
    files["a_q70"] = jpeg(a, quality=70)
    kept, rejects = run_files(tmp_path, files)
    assert set(kept) == {"a"}, {k: v["labelloop"]["quality"] for k, v in kept.items()}
    assert {r["record"]["labelloop"]["kept_id"] for r in rejects.values()} == {"a"}


def test_a_blurry_representative_never_takes_its_usable_copies_down(tmp_path):
    a = scene(24)
    big_blurred = cv2.GaussianBlur(cv2.resize(a, (960, 720), interpolation=cv2.INTER_CUBIC), (0, 0), 8)
    files = {"a_big_blur": jpeg(big_blurred), "a": jpeg(a), "a_q60": jpeg(a, quality=60)}
    kept, rejects = run_files(tmp_path, files)
    assert set(kept) == {"a"}
    assert rejects["a_big_blur"]["reason_code"] == pf.BLURRY
    assert rejects["a_q60"]["record"]["labelloop"]["kept_id"] == "a"


def test_every_removed_duplicate_names_a_kept_image(tmp_path):
    _, kept, rejects = run(tmp_path)
    duplicates = [r for r in rejects if r["reason_code"] in (pf.EXACT_DUPLICATE, pf.NEAR_DUPLICATE)]
    assert duplicates and all(r["record"]["labelloop"]["kept_id"] in kept for r in duplicates)


def smooth_textured(seed):
    """A soft scene with smooth shading: coarse JPEG blocking shows on it as new edges."""
    rng = np.random.default_rng(seed)
    shading = cv2.GaussianBlur(rng.normal(0, 1, (360, 480)), (0, 0), 2)
    soft = cv2.GaussianBlur(scene(seed).astype(np.float64), (0, 0), 2)
    return np.clip(soft + 20 * (shading / shading.std())[..., None], 0, 255).astype(np.uint8)


def test_a_coarsely_recompressed_copy_never_wins_on_the_edges_its_blocking_adds(tmp_path):
    a = smooth_textured(21)
    blocky, original = jpeg(a, quality=15), jpeg(a, quality=92)
    facts = [pf.inspect_image(0, data, pf.PrefilterSettings()) for data in (blocky, original)]
    assert facts[0].blur_score < facts[1].blur_score - pf.SHARPNESS_TOLERANCE  # blocking reads as sharper
    no_blur_check = pf.PrefilterSettings(workers=1, blurry=False)
    kept, rejects = run_files(tmp_path, {"a_q15": blocky, "a": original}, no_blur_check)
    assert set(kept) == {"a"} and rejects["a_q15"]["record"]["labelloop"]["kept_id"] == "a"
    assert "least compressed" in kept["a"]["labelloop"]["kept_because"]


def test_a_brightened_copy_that_clips_highlights_loses_even_where_it_measures_sharper(tmp_path):
    from PIL import ImageEnhance

    bright = np.clip(smooth_textured(23).astype(np.int64) // 3 + 175, 0, 255).astype(np.uint8)
    boosted = np.asarray(ImageEnhance.Brightness(Image.fromarray(bright)).enhance(1.08))
    facts = [pf.inspect_image(0, jpeg(x), pf.PrefilterSettings()) for x in (boosted, bright)]
    assert facts[0].blur_score < facts[1].blur_score - pf.SHARPNESS_TOLERANCE  # clipping reads as sharper
    assert facts[0].clipped > facts[1].clipped + pf.CLIPPED_TOLERANCE
    no_blur_check = pf.PrefilterSettings(workers=1, blurry=False)
    kept, rejects = run_files(tmp_path, {"a_bright": jpeg(boosted), "a": jpeg(bright)}, no_blur_check)
    assert set(kept) == {"a"} and rejects["a_bright"]["record"]["labelloop"]["kept_id"] == "a"
    assert "fewest clipped highlights" in kept["a"]["labelloop"]["kept_because"]


def test_the_tone_most_copies_share_wins_when_the_median_falls_between_two_tones(tmp_path):
    from PIL import ImageEnhance

    a = scene(25)

    def toned(pixels, factor):
        return np.asarray(ImageEnhance.Brightness(Image.fromarray(pixels)).enhance(factor))

    small = cv2.resize(a, (240, 180), interpolation=cv2.INTER_AREA)
    # four copies: the median tone falls halfway between the original's and the darkened copy's
    files = {"a_dark": jpeg(toned(a, 0.8)), "a_small_dark": jpeg(toned(small, 0.75))}
    files.update({"a": jpeg(a), "a_mirror": jpeg(a[:, ::-1].copy())})
    kept, rejects = run_files(tmp_path, files, pf.PrefilterSettings(workers=1, blurry=False))
    assert set(kept) == {"a"}, {k: v["labelloop"].get("quality") for k, v in kept.items()}
    assert "least shifted tone" in kept["a"]["labelloop"]["kept_because"]


def test_full_size_copies_break_a_tie_between_two_tones(tmp_path):
    from PIL import ImageEnhance

    a = scene(25)

    def toned(pixels, factor):
        return np.asarray(ImageEnhance.Brightness(Image.fromarray(pixels)).enhance(factor))

    small = cv2.resize(a, (240, 180), interpolation=cv2.INTER_AREA)
    # two copies at each tone; of the full-size ones, two keep the original's tone
    files = {"a_dark": jpeg(toned(a, 0.8)), "a_small_dark": jpeg(toned(small, 0.8))}
    files.update({"a": jpeg(a), "a_mirror": jpeg(a[:, ::-1].copy())})
    kept, _ = run_files(tmp_path, files, pf.PrefilterSettings(workers=1, blurry=False))
    assert set(kept) == {"a"}, {k: v["labelloop"].get("quality") for k, v in kept.items()}
    assert "least shifted tone" in kept["a"]["labelloop"]["kept_because"]


def test_a_hash_match_framed_differently_is_no_copy():
    rng = np.random.default_rng(9)
    first = _unit(rng.normal(0, 1, pf.image_hash.SIGNATURE_SIDE**2))
    # the same thumbnail (overlapping views of a low-texture scene), frames of different shapes
    landscape, squarer = np.log(4 / 3), np.log(4 / 3) - 2 * pf.MAX_ASPECT_CHANGE
    table = _table([first, first, first], aspect=[landscape, squarer, landscape - pf.MAX_ASPECT_CHANGE / 2])
    pairs = np.array([[0, 1], [0, 2]])
    assert pf.confirmed(table, pairs, np.array([pf._HASH, pf._CROP])).tolist() == [False, True]
    groups = pf._resolve_component([0, 1, 2], table, np.zeros(3, bool))
    assert sorted(sorted(g.members) for g in groups) == [[0, 2], [1]]
    # byte-identical content is one image whatever its shape says
    same = _table([first, first], contents=["x", "x"], aspect=[landscape, squarer])
    assert pf.confirmed(same, pairs[:1], np.array([pf._EXACT])).tolist() == [True]
