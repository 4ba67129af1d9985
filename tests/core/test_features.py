"""Featurizers: fixed-width image features, colour detection, HOG sanity and table specs."""

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
    uris = lambda p: [r["imageGcsUri"] for r in manifest.read_jsonl(p)]
    assert not features.image_spec_for(uris(grey)).color
    spec = features.image_spec_for(uris(colour))
    assert spec.color
    assert features.image_features(np.zeros((1, 20, 20, 3), np.uint8), spec).shape[1] == features.image_feature_width(spec)


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


def test_minilm_without_packages_says_what_to_install():
    try:
        import sentence_transformers  # noqa: F401
        pytest.skip("sentence-transformers is installed")
    except ImportError:
        pass
    with pytest.raises(features.EmbeddingsUnavailable, match="text-embeddings"):
        features.sentence_embeddings(["hello"])
