import inspect
import json

import cv2
import numpy as np
from kfp import dsl, local
from labelloop.components.core import manifest as mf
from labelloop.components.core.prefilter import PrefilterSettings
from labelloop.components.prefilter_images import prefilter_images
from PIL import Image


def scene(seed, size=(480, 360)):
    rng = np.random.default_rng(seed)
    width, height = size
    img = np.zeros((height, width, 3), np.uint8)
    img[:] = rng.integers(0, 256, 3)
    for _ in range(25):
        x, y = int(rng.integers(0, width)), int(rng.integers(0, height))
        color = tuple(int(c) for c in rng.integers(0, 256, 3))
        cv2.circle(img, (x, y), int(rng.integers(5, height // 3)), color, -1)
    return img


def write_items(tmp_path):
    def save(name, array):
        path = tmp_path / f"{name}.jpg"
        Image.fromarray(array).save(path, "JPEG", quality=92)
        return mf.with_id({"imageGcsUri": str(path)}, name)

    a = scene(1)
    records = [
        save("a", a),
        save("a_half", cv2.resize(a, (240, 180), interpolation=cv2.INTER_AREA)),
        save("b_blurry", cv2.GaussianBlur(scene(2), (0, 0), 4)),
        save("c", scene(3)),
        mf.with_id({"textContent": "not an image"}, "t"),
    ]
    (tmp_path / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 broken")
    records.append(mf.with_id({"imageGcsUri": str(tmp_path / "broken.jpg")}, "broken"))
    mf.write_jsonl(str(tmp_path / "items"), records)


def artifact(cls, tmp_path, name):
    return cls(name=name, uri=str(tmp_path / name), metadata={})


def test_python_func_writes_kept_rejects_and_stats(tmp_path):
    write_items(tmp_path)
    outputs = {
        name: artifact(cls, tmp_path, name)
        for name, cls in (("kept", dsl.Dataset), ("rejects", dsl.Dataset), ("metrics", dsl.Metrics))
    }
    prefilter_images.python_func(items=artifact(dsl.Dataset, tmp_path, "items"), workers=1, **outputs)
    kept = {mf.item_id(r): r for r in mf.read_jsonl(outputs["kept"].path)}
    rejects = {r["id"]: r["reason_code"] for r in mf.read_jsonl(outputs["rejects"].path)}
    assert {r["step"] for r in mf.read_jsonl(outputs["rejects"].path)} == {"prefilter_images"}
    assert set(kept) == {"a", "c", "t"}
    assert rejects == {"a_half": "near_duplicate", "b_blurry": "blurry", "broken": "corrupt"}
    assert kept["a"]["labelloop"]["duplicates"] == ["a_half"]
    stats = outputs["metrics"].metadata
    assert stats["items"] == 6 and stats["kept"] == 3 and stats["rejected_blurry"] == 1
    assert stats["hamming_threshold"] == 8 and stats["blur_threshold"] == 0.944
    assert outputs["rejects"].metadata["counts_by_reason"] == {"blurry": 1, "corrupt": 1, "near_duplicate": 1}


def test_component_defaults_are_the_core_defaults():
    defaults = {name: p.default for name, p in inspect.signature(prefilter_images.python_func).parameters.items()}
    core_defaults = PrefilterSettings()
    assert defaults["hamming_threshold"] == core_defaults.hamming_threshold
    assert defaults["check_cropped_copies"] == core_defaults.cropped_copies
    assert defaults["blur_threshold"] == core_defaults.blur_threshold
    assert defaults["max_pixels"] == core_defaults.limits.max_pixels


def test_runs_in_a_local_pipeline(tmp_path):
    write_items(tmp_path)
    local.init(runner=local.SubprocessRunner(use_venv=False), pipeline_root=str(tmp_path / "root"))

    @dsl.pipeline
    def prefilter_only(source: str) -> dsl.Dataset:
        items = dsl.importer(artifact_uri=source, artifact_class=dsl.Dataset)
        return prefilter_images(items=items.output, hamming_threshold=6).outputs["kept"]

    kept = prefilter_only(source=str(tmp_path / "items"))
    ids = [json.loads(line)["dataItemResourceLabels"]["labelloop_id"] for line in open(kept.output.path)]
    assert ids == ["a", "c", "t"]
