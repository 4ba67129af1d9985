import cv2
import numpy as np
import pytest

from labelloop.components.core import image_hash as ih


def scene(seed, size=(480, 360)):
    rng = np.random.default_rng(seed)
    width, height = size
    img = np.full((height, width), int(rng.integers(0, 256)), np.uint8)
    for _ in range(25):
        x, y = int(rng.integers(0, width)), int(rng.integers(0, height))
        color = int(rng.integers(0, 256))
        cv2.rectangle(img, (x, y), (x + int(rng.integers(10, width // 2)), y + int(rng.integers(10, height // 2))), color, -1)
    return img


def test_content_hash_matches_item_ids():
    assert ih.content_hash(b"abc") == "ba7816bf8f01cfea414140de5dae2223"


def test_mirror_inverts_exactly_the_mirror_mask():
    for seed in range(10):
        image = scene(seed)
        assert ih.perceptual_hash(image[:, ::-1]) == ih.perceptual_hash(image) ^ ih.MIRROR_MASK


def test_mirror_mask_has_the_32_odd_frequency_bits():
    assert ih.MIRROR_MASK.bit_count() == 32


def test_resized_and_flipped_copies_are_close_distinct_scenes_are_far():
    a, b = scene(1), scene(2)
    half = cv2.resize(a, (240, 180), interpolation=cv2.INTER_AREA)
    assert ih.hamming(ih.perceptual_hash(a), ih.perceptual_hash(half)) <= 4
    assert ih.flip_aware_distance(ih.perceptual_hash(a), ih.perceptual_hash(a[:, ::-1])) == 0
    assert ih.hamming(ih.perceptual_hash(a), ih.perceptual_hash(a[:, ::-1])) > 10
    assert ih.flip_aware_distance(ih.perceptual_hash(a), ih.perceptual_hash(b)) > 12


def test_hash_is_a_64_bit_int_and_brightness_changes_little():
    a = scene(3)
    h = ih.perceptual_hash(a)
    assert 0 <= h < 2**64
    brighter = np.clip(a.astype(int) + 30, 0, 255).astype(np.uint8)
    assert ih.hamming(h, ih.perceptual_hash(brighter)) <= 6


def test_flat_images_are_recognised():
    assert ih.is_flat(np.full((100, 100), 200, np.uint8))
    assert not ih.is_flat(scene(4))


def test_rejects_colour_arrays():
    with pytest.raises(ValueError, match="2-D"):
        ih.perceptual_hash(np.zeros((10, 10, 3), np.uint8))
