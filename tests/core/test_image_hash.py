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
        cv2.rectangle(
            img, (x, y), (x + int(rng.integers(10, width // 2)), y + int(rng.integers(10, height // 2))), color, -1
        )
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


def test_fingerprint_holds_the_hash_and_four_corner_crop_hashes():
    image = scene(5)
    hashes = ih.fingerprint(image)
    assert hashes.phash == ih.perceptual_hash(image)
    assert len(hashes.corner_hashes) == 4
    assert ih.fingerprint(np.full((100, 100), 7, np.uint8)) is None


@pytest.mark.parametrize("seed", range(6))
def test_a_cropped_copy_hashes_like_a_corner_crop_of_its_original(seed):
    image = scene(seed)
    height, width = image.shape
    dy, dx = round(height * 0.04), round(width * 0.04)
    cropped = image[dy:, dx:]  # 4% off the top and the left
    original = ih.fingerprint(image)
    copy_hash = ih.perceptual_hash(cropped)
    nearest_corner = min(ih.hamming(corner, copy_hash) for corner in original.corner_hashes)
    assert nearest_corner <= 5  # the prefilter's default crop threshold
    assert nearest_corner < ih.hamming(original.phash, copy_hash)


def test_corner_crops_cut_the_share_at_each_corner():
    image = np.arange(100 * 200).reshape(100, 200)
    crops = ih.corner_crops(image, share=0.1)
    assert [c.shape for c in crops] == [(90, 180)] * 4
    assert [(int(c[0, 0]), int(c[-1, -1])) for c in crops] == [
        (image[0, 0], image[89, 179]),
        (image[0, 20], image[89, 199]),
        (image[10, 0], image[99, 179]),
        (image[10, 20], image[99, 199]),
    ]
