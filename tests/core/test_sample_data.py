"""Offline sample data sets load with the right shapes and turn into readable manifests."""

import numpy as np
import pandas as pd
import pytest
from labelloop.components.core import manifest, sample_data
from PIL import Image


def test_digits_are_uint8_images_with_ten_labels():
    data = sample_data.load_digits_images()
    assert data.images.shape == (1797, 8, 8) and data.images.dtype == np.uint8
    assert data.images.max() == 255
    assert sorted(set(data.labels)) == [str(d) for d in range(10)]


def test_fashion_mnist_sample_is_reproducible_and_sized():
    first = sample_data.load_fashion_mnist(300, seed=3)
    again = sample_data.load_fashion_mnist(300, seed=3)
    assert first.images.shape == (300, 28, 28)
    assert np.array_equal(first.images, again.images) and first.labels == again.labels
    assert set(first.labels) <= set(sample_data.FASHION_MNIST_CLASSES)


def test_fashion_mnist_missing_folder_says_what_to_install(tmp_path):
    with pytest.raises(sample_data.SampleDataMissing, match="apt-get install -y dataset-fashion-mnist"):
        sample_data.load_fashion_mnist(10, folder=str(tmp_path))


def test_fashion_mnist_refuses_more_than_available():
    with pytest.raises(ValueError, match="t10k has 10000"):
        sample_data.load_fashion_mnist(10001, part="t10k")


def test_text_sets_have_their_classes():
    bbc = sample_data.load_bbc_news()
    assert len(bbc.texts) == 2225
    assert sorted(set(bbc.labels)) == ["business", "entertainment", "politics", "sports", "tech"]
    assert all(bbc.texts)
    reviews = sample_data.load_film_reviews()
    assert set(reviews.labels) == {"fresh", "rotten"} and len(reviews.texts) == len(reviews.labels)


def test_tabular_sets():
    wine = sample_data.load_wine()
    assert wine.frame.shape == (178, 14) and wine.frame[wine.target].nunique() == 3
    diamonds = sample_data.load_diamonds(500, seed=1, target="cut")
    assert len(diamonds.frame) == 500 and diamonds.target in diamonds.frame
    with pytest.raises(ValueError, match="target must be"):
        sample_data.load_diamonds(target="carat")


def test_assign_ml_uses_counts_and_rejects_bad_fractions():
    uses = sample_data.assign_ml_uses(101, (0.6, 0.2, 0.2), seed=0)
    assert len(uses) == 101
    assert uses.count("validation") == 20 and uses.count("test") == 20 and uses.count("training") == 61
    with pytest.raises(ValueError, match="summing to 1"):
        sample_data.assign_ml_uses(10, (0.5, 0.2, 0.2))


def test_image_manifest_round_trip(tmp_path):
    data = sample_data.load_digits_images()
    labels = list(data.labels[:6])
    labels[2] = None
    labels[3] = ["3", "odd"]
    path = sample_data.write_image_manifest(data.images[:6], labels, str(tmp_path), ml_uses=["training"] * 5 + ["test"])
    records = list(manifest.read_jsonl(path))
    assert len(records) == 6
    assert manifest.labels_of(records[0]) == [data.labels[0]]
    assert manifest.labels_of(records[2]) == []
    assert manifest.labels_of(records[3]) == ["3", "odd"]
    assert manifest.ml_use_of(records[5]) == "test"
    pixels = np.asarray(Image.open(records[1]["imageGcsUri"]))
    assert np.array_equal(pixels, data.images[1])
    with open(records[1]["imageGcsUri"], "rb") as handle:
        assert manifest.item_id(records[1]) == manifest.content_id(handle.read())


def test_writers_refuse_mismatched_lengths(tmp_path):
    with pytest.raises(ValueError, match="labels has 1 entries but there are 2 items"):
        sample_data.write_text_manifest(["a", "b"], ["x"], str(tmp_path / "m.jsonl"))


def test_text_manifest_and_csv(tmp_path):
    path = sample_data.write_text_manifest(
        ["hello", "world"], ["a", "b"], str(tmp_path / "t.jsonl"), ml_uses=["training", "test"]
    )
    records = list(manifest.read_jsonl(path))
    assert records[1]["textContent"] == "world" and manifest.label_of(records[1]) == "b"
    assert manifest.item_id(records[0]) == manifest.content_id("hello")
    wine = sample_data.load_wine()
    csv = sample_data.write_tabular_csv(wine.frame, str(tmp_path / "w.csv"), ml_uses=sample_data.assign_ml_uses(178))
    frame = pd.read_csv(csv)
    assert list(frame.columns)[-1] == "ml_use" and len(frame) == 178
