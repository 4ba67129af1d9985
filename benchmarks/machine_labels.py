"""Machine-label coverage at a precision target, on the demo's digits at the demo's resolution.

The demo writes scikit-learn's 8x8 digits as 64x64 PNGs (``core/demo_data.py``); the image
featurizer reads them at 32x32 (HOG + 16x16 pixels, ``core/features.py``). Here the same pictures
are featurized the same way; per seed, 566 items get human labels for training (the demo's count),
15 % are human-labeled validation and 15 % test, the rest is the unlabeled pool. Printed side by side
in the same run: one global confidence threshold (Wilson bound) vs per-class thresholds
(Clopper–Pearson bound) — the share of the unlabeled rest machine-labeled, the precision of those
machine labels against the true labels, and the precision on the held-out human-labeled test items.
Also: the model's test accuracy on these features vs on the raw 8x8 pixels (is the featurizer the
bottleneck?). ``--reference-accuracy`` repeats the per-class rows with human validation and test
labels that are right only that often (wrong ones moved to a random other class): the demo's
simulated crowd gives 2-3 labels an item, and its consensus test labels are about 93 % right, which
caps the precision any machine labels can show against them.
Run: ``python benchmarks/machine_labels.py [--seeds 5] [--target 0.98] [--reference-accuracy 0.93]``.
"""

from __future__ import annotations

import argparse
import warnings

import numpy as np
from labelloop.components.core import features as feats
from labelloop.components.core import machine_labels as ml
from labelloop.components.core import sample_data
from PIL import Image, ImageFilter
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

TRAIN_LABELS = 566


def demo_features() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(features at the demo resolution, raw 8x8 pixels, labels) of the 1,797 digits."""
    digits = sample_data.load_digits_images()
    spec = feats.FeatureSpec(kind="image", image_size=32)
    pictures = []
    for pixels in digits.images:  # as demo_data writes them, then as read_image reads them
        picture = Image.fromarray(pixels).resize((64, 64), Image.NEAREST).filter(ImageFilter.SMOOTH)
        pictures.append(np.asarray(picture.resize((32, 32), Image.Resampling.BILINEAR), dtype=np.uint8))
    x = feats.image_features(pictures, spec)
    return x, digits.images.reshape(len(pictures), -1).astype(np.float64), np.asarray(digits.labels)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--target", type=float, default=0.98)
    parser.add_argument("--reference-accuracy", type=float, nargs="*", default=[0.99, 0.93])
    args = parser.parse_args()
    x, raw, y = demo_features()
    noisy_names = {a: f"per-class, references {a:.0%} right" for a in args.reference_accuracy}
    rows = {"global (Wilson)": [], "per-class (Clopper-Pearson)": [], **{n: [] for n in noisy_names.values()}}
    accuracy = {"features": [], "raw 8x8": []}
    for seed in range(args.seeds):
        order = np.random.default_rng(seed).permutation(len(y))
        n_held = int(0.15 * len(y))
        train, validation = order[:TRAIN_LABELS], order[TRAIN_LABELS : TRAIN_LABELS + n_held]
        test, rest = order[TRAIN_LABELS + n_held : TRAIN_LABELS + 2 * n_held], order[TRAIN_LABELS + 2 * n_held :]
        for name, inputs in (("features", x), ("raw 8x8", raw)):
            model = make_pipeline(StandardScaler(), LogisticRegression(C=0.1, max_iter=3000))
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                model.fit(inputs[train], y[train])
            accuracy[name].append(float(np.mean(model.predict(inputs[test]) == y[test])))
            if name == "features":
                p = model.predict_proba(inputs)
                predicted, confidence = model.classes_[p.argmax(axis=1)], p.max(axis=1)
        correct = predicted == y
        choices = {
            "global (Wilson)": ml.choose_threshold(
                confidence[validation], correct[validation], target_precision=args.target
            ),
            "per-class (Clopper-Pearson)": ml.choose_class_thresholds(
                confidence[validation], predicted[validation], correct[validation], target_precision=args.target
            ),
        }
        references = {name: y for name in choices}
        for reference_accuracy, name in noisy_names.items():
            human = with_wrong_labels(y, np.r_[validation, test], reference_accuracy, seed)
            references[name] = human
            choices[name] = ml.choose_class_thresholds(
                confidence[validation],
                predicted[validation],
                predicted[validation] == human[validation],
                target_precision=args.target,
            )
        for name, choice in choices.items():
            on_rest = ml.measure_precision_of(confidence[rest], predicted[rest], correct[rest], choice)
            agrees = predicted == references[name]
            on_test = ml.measure_precision_of(confidence[test], predicted[test], agrees[test], choice)
            rows[name].append(
                (on_rest.coverage, on_rest.accepted, on_rest.precision * on_rest.accepted)
                + (on_test.coverage, on_test.accepted, on_test.precision * on_test.accepted)
            )
    print(
        f"demo digits at 64 px read at 32 px: {len(y)} items, {TRAIN_LABELS} human training labels, "
        f"{n_held} validation, {n_held} test, {len(rest)} unlabeled rest; target precision {args.target}; "
        f"{args.seeds} seeds (means)"
    )
    print(
        f"model test accuracy: logistic regression on the image features {np.mean(accuracy['features']):.4f}, "
        f"on the raw 8x8 pixels {np.mean(accuracy['raw 8x8']):.4f}"
    )
    print(
        f"{'thresholds':<34}{'rest covered':>13}{'rest precision':>15}{'test covered':>13}{'test precision':>15}"
        "   per seed: rest covered"
    )
    for name, values in rows.items():
        values = np.asarray(values)
        precision = values[:, 2].sum() / max(values[:, 1].sum(), 1)  # pooled over seeds' machine labels
        per_seed = " ".join(f"{v:.0%}" for v in values[:, 0])
        test_precision = values[:, 5].sum() / max(values[:, 4].sum(), 1)
        print(
            f"{name:<34}{values[:, 0].mean():>13.1%}{precision:>15.4f}{values[:, 3].mean():>13.1%}"
            f"{test_precision:>15.4f}   {per_seed}"
        )
    print(
        "rest precision: against the true labels; test precision: against the (human) test labels. "
        "target: >= 30 % of the rest machine-labeled at >= 0.98 precision"
    )


def with_wrong_labels(y: np.ndarray, rows: np.ndarray, accuracy: float, seed: int) -> np.ndarray:
    """``y`` with each of ``rows`` moved to a random other class with probability ``1 - accuracy``."""
    rng = np.random.default_rng(1000 + seed)
    out = y.copy()
    classes = np.unique(y)
    for row in rows[rng.random(len(rows)) > accuracy]:
        out[row] = rng.choice(classes[classes != y[row]])
    return out


if __name__ == "__main__":
    main()
