import cv2
import numpy as np
import pytest
from labelloop.components.core import blur


def scene(seed, size=(384, 288)):
    rng = np.random.default_rng(seed)
    width, height = size
    img = np.full((height, width), int(rng.integers(0, 256)), np.uint8)
    for _ in range(25):
        x, y = int(rng.integers(0, width)), int(rng.integers(0, height))
        cv2.circle(img, (x, y), int(rng.integers(5, height // 3)), int(rng.integers(0, 256)), -1)
    return img


def motion(image, length):
    kernel = np.zeros((length, length), np.float32)
    kernel[length // 2, :] = 1.0 / length
    return cv2.filter2D(image, -1, kernel)


@pytest.mark.parametrize("seed", range(5))
def test_sharp_scenes_score_low_and_blurred_copies_high(seed):
    sharp = scene(seed)
    assert blur.blur_score(sharp) < blur.DEFAULT_THRESHOLD
    assert blur.is_blurry(blur.blur_score(cv2.GaussianBlur(sharp, (0, 0), 2.5)))
    assert blur.is_blurry(blur.blur_score(motion(sharp, 11)))


def test_score_ignores_contrast():
    sharp = scene(7)
    low_contrast = (sharp.astype(np.float32) * 0.25 + 100).astype(np.float32)
    assert abs(blur.blur_score(sharp) - blur.blur_score(low_contrast)) < 0.02


def test_large_flat_areas_do_not_make_a_sharp_image_blurry():
    canvas = np.full((288, 384), 128, np.uint8)
    canvas[200:, 250:] = scene(8, (134, 88))
    assert not blur.is_blurry(blur.blur_score(canvas))


def test_uniform_image_scores_as_having_nothing_sharp():
    score = blur.blur_score(np.full((288, 384), 17, np.uint8))
    assert score == blur.NO_DETAIL_SCORE and blur.is_blurry(score)


def test_rejects_colour_arrays():
    with pytest.raises(ValueError, match="2-D"):
        blur.blur_score(np.zeros((50, 50, 3), np.uint8))


def test_sharp_subject_on_a_soft_background_is_sharp():
    soft = cv2.GaussianBlur(scene(9), (0, 0), 4)
    soft[100:180, 150:260] = scene(10, (110, 80))
    assert not blur.is_blurry(blur.blur_score(soft))


def test_score_is_measured_on_the_strongest_edges_only():
    sharp = scene(11)
    noisy_soft_area = sharp.copy()
    noisy_soft_area[:, :200] = cv2.GaussianBlur(sharp, (0, 0), 3)[:, :200]
    assert abs(blur.blur_score(sharp) - blur.blur_score(noisy_soft_area)) < 0.1


def test_smooth_ramp_has_nothing_sharp():
    gradient = np.tile(np.linspace(100, 110, 384), (288, 1))
    score = blur.blur_score(gradient)
    assert score > 0.99 and blur.is_blurry(score)


@pytest.mark.parametrize("seed", range(3))
def test_faint_images_are_scored_after_stretching_their_contrast(seed):
    sharp = scene(seed).astype(np.float32)
    faint = np.rint(sharp / 255 * 2 + 120).astype(np.uint8)  # strongest steps of 1-2 gray levels
    assert not blur.is_blurry(blur.blur_score(faint))


def test_every_image_gets_a_score_between_0_and_1():
    rng = np.random.default_rng(0)
    images = [
        np.full((64, 64), 3, np.uint8),
        rng.integers(0, 256, (40, 50), dtype=np.uint8),
        np.zeros((3, 90), np.uint8),
    ]
    for image in images:
        score = blur.blur_score(image)
        assert isinstance(score, float) and 0.0 <= score <= 1.0
