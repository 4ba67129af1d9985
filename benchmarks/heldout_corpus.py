"""Build the prefilter's held-out corpus: real photographs the prefilter was never tuned on.

The tuning corpus (``image_corpus.py``) comes from opencv-doc's samples and scikit-image /
scikit-learn's bundled images; this one comes only from photographs shipped by Debian wallpaper
packages (``apt-get install mate-backgrounds plasma-workspace-wallpapers lomiri-wallpapers-20.04``),
so the two share no source photo. Artwork and renders in those packages are left out by name
(:data:`PHOTOS` lists the photographs).

Each source photo gives many distinct originals: random crops (of 12-60 % of its sides, rescaled to
0.3-1 MP, enlarged at most 1.8x), each overlapping every earlier crop of the photo by at most :data:`MAX_OVERLAP` of the
smaller one's area, so two originals never show mostly the same scene. Each original gets 3-6
planted copies: exact (byte-identical), resized, JPEG re-encoded (q30-70), cropped 2-5 %,
brightened, combined (cropped + resized + JPEG + brightness) and mirrored; some get a Gaussian
(sigma 0.4-1 % of the longer side) or a motion-blurred (1.5-4 % of the longer side, any angle) copy.
Corrupt files (truncated, empty, random bytes, decompression bombs) are added. ``truth.json`` has,
per file: group, kind of copy, blurry, corruption, source photo.

``--photos tuning`` builds the blur measure's second tuning corpus by the same recipe from other
photographs (``apt-get install lomiri-wallpapers-16.04``, :data:`TUNING_PHOTOS`; about 1,170 files
before its photos run out of distinct crops), so the held-out corpus stays unseen.

    python benchmarks/heldout_corpus.py [--out benchmarks/out/heldout_2k] [--files 2000] [--seed 1]
        [--photos heldout|tuning]
"""

from __future__ import annotations

import argparse
import glob
import json
import multiprocessing
import os
import pathlib
import time

import cv2
import numpy as np
from image_corpus import blurred_copy, corrupt_file, near_copy
from PIL import Image, ImageEnhance

#: The photographs (not artwork or renders) among the wallpapers, by path under /usr/share.
PHOTOS = (
    "backgrounds/mate/nature/*.jpg",
    "backgrounds/Kleiber_by_Lukas_Baubkus.jpg",
    "backgrounds/Infinite-Sea_by_Aury88.jpg",
    *(
        f"wallpapers/{name}/contents/images/*.jpg"
        for name in (
            "BytheWater",
            "ColdRipple",
            "ColorfulCups",
            "DarkestHour",
            "EveningGlow",
            "FallenLeaf",
            "Grey",
            "Kite",
            "OneStandsOut",
            "Path",
            "summer_1am",
            "Volna",
        )
    ),
)
#: The second tuning corpus's photographs (Ubuntu 16.04's wallpapers; an abstract pattern and a
#: colour gradient left out), none of them in :data:`PHOTOS`.
TUNING_PHOTOS = tuple(
    f"backgrounds/{name}.jpg"
    for name in (
        "Bridge_by_Sander_Klootwijk",
        "Dragonfly_by_Bolly",
        "Picture_0B_by_freespace",
        "Picture_1A_by_freespace",
        "Wine_by_Jakkub_Mede",
        "aitzgorri_by_Aitzol_Berasategi",
        "free_by_Peter_Nerlich",
        "friends_by_Aitzol_Berasategi",
        "greentock_by_Peter_Nerlich",
        "life_by_Aitzol_Berasategi",
        "picosdeeuropa_by_Aitzol_Berasategi",
        "seeding_by_Clements_Engelhardt",
        "sunset_by_Aitzol_Berasategi",
    )
)
#: Which photographs a corpus is built from, and the package that ships them.
PHOTO_SETS = {
    "heldout": (PHOTOS, "mate-backgrounds plasma-workspace-wallpapers lomiri-wallpapers-20.04"),
    "tuning": (TUNING_PHOTOS, "lomiri-wallpapers-16.04"),
}
COPY_KINDS = ("exact", "resized", "reencoded", "cropped", "brightened", "combined", "flipped")
#: Largest share of the smaller crop's area that two originals from one photo may share.
MAX_OVERLAP = 0.5
#: Most a crop is enlarged (linear), so no original is visibly soft from upscaling; smallest crop.
MAX_UPSCALE = 1.8
MIN_CROP_PIXELS = 300_000 / MAX_UPSCALE**2
#: Files per original, on average (the original, its copies and blurred copies).
FILES_PER_ORIGINAL = 6.2


def source_paths(photos: str = "heldout") -> list[str]:
    """The largest file of each listed photo (a plasma wallpaper ships one photo at several sizes)."""
    patterns, packages = PHOTO_SETS[photos]
    found: dict[str, str] = {}
    for pattern in patterns:
        for path in sorted(glob.glob(os.path.join("/usr/share", pattern))):
            key = path.split("/contents/")[0] if "/contents/" in path else path
            if key not in found or os.path.getsize(path) > os.path.getsize(found[key]):
                found[key] = path
    if len(found) < 10:
        raise SystemExit(f"{photos} photos missing: apt-get install {packages}")
    return sorted(found.values())


def _overlap(a: tuple[int, int, int, int], b: tuple[int, int, int, int]) -> float:
    """Intersection of two (x, y, w, h) boxes over the smaller box's area."""
    width = min(a[0] + a[2], b[0] + b[2]) - max(a[0], b[0])
    height = min(a[1] + a[3], b[1] + b[3]) - max(a[1], b[1])
    if width <= 0 or height <= 0:
        return 0.0
    return width * height / min(a[2] * a[3], b[2] * b[3])


#: A crop must have a visible edge: its strongest 0.5 % of neighbour steps, at 384 pixels on the
#: longer side, reach this many gray levels (a patch of plain sky or sand is no photo to label).
MIN_EDGE_LEVELS = 16


def has_structure(view: np.ndarray) -> bool:
    """True when a crop shows something: a patch of plain sky, sand or bokeh does not."""
    gray = cv2.cvtColor(view, cv2.COLOR_RGB2GRAY)
    scale = 384 / max(gray.shape)
    small = cv2.resize(gray, (round(gray.shape[1] * scale), round(gray.shape[0] * scale)), interpolation=cv2.INTER_AREA)
    steps = np.abs(np.diff(small.astype(np.int16), axis=1))
    return float(np.percentile(steps, 99.5)) >= MIN_EDGE_LEVELS


def random_crops(
    pixels: np.ndarray, count: int, rng: np.random.Generator, max_overlap: float = MAX_OVERLAP
) -> list[np.ndarray]:
    """Up to ``count`` crops that overlap each other by at most ``max_overlap``, each at 0.3-1 MP."""
    height, width = pixels.shape[:2]
    boxes: list[tuple[int, int, int, int]] = []
    crops = []
    for _ in range(count * 200):
        if len(crops) == count:
            break
        side = rng.uniform(0.12, 0.6)
        aspect = rng.uniform(0.66, 1.5)
        w = min(width, round(width * side * aspect**0.5))
        h = min(height, round(height * side / aspect**0.5))
        if w < 200 or h < 200 or w * h < MIN_CROP_PIXELS:
            continue
        box = (int(rng.integers(0, width - w + 1)), int(rng.integers(0, height - h + 1)), w, h)
        if any(_overlap(box, other) > max_overlap for other in boxes):
            continue
        view = pixels[box[1] : box[1] + h, box[0] : box[0] + w]
        if not has_structure(view):
            continue
        boxes.append(box)
        factor = (min(rng.uniform(0.3e6, 1.0e6), w * h * MAX_UPSCALE**2) / (w * h)) ** 0.5
        size = (round(w * factor), round(h * factor))
        crops.append(cv2.resize(view, size, interpolation=cv2.INTER_AREA if factor < 1 else cv2.INTER_LANCZOS4))
    return crops


def _jpeg(pixels: np.ndarray, quality: int = 92) -> bytes:
    import io

    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, "JPEG", quality=quality)
    return buffer.getvalue()


def combined_copy(pixels: np.ndarray, rng: np.random.Generator) -> bytes:
    """Cropped 2-4 %, resized to 50-85 %, brightness x0.85-1.2 and JPEG q50-85, all at once."""
    height, width = pixels.shape[:2]
    share = rng.uniform(0.02, 0.04)
    dx, dy = round(width * share), round(height * share)
    x0, y0 = int(rng.integers(0, dx + 1)), int(rng.integers(0, dy + 1))
    view = pixels[y0 : y0 + height - dy, x0 : x0 + width - dx]
    factor = rng.uniform(0.5, 0.85)
    small = cv2.resize(
        view, (round(view.shape[1] * factor), round(view.shape[0] * factor)), interpolation=cv2.INTER_AREA
    )
    bright = np.asarray(ImageEnhance.Brightness(Image.fromarray(small)).enhance(rng.uniform(0.85, 1.2)))
    return _jpeg(bright, int(rng.integers(50, 86)))


def _photo_files(task: tuple[str, int, int]) -> list[tuple[str, bytes, dict]]:
    """Every file planted from one source photo: (name, bytes, truth facts)."""
    path, originals, seed, max_overlap = task
    rng = np.random.default_rng(seed)
    pixels = np.asarray(Image.open(path).convert("RGB"))
    stem = pathlib.Path(path.split("/contents/")[0]).stem.replace("_", "")
    out = []
    for index, crop in enumerate(random_crops(pixels, originals, rng, max_overlap)):
        group = f"{stem}-{index:03d}"
        common = {"group": group, "source": stem, "blurry": False, "corrupt": None}
        original = _jpeg(crop)
        out.append((f"{group}.jpg", original, {"kind": "original", **common}))
        for kind in rng.choice(COPY_KINDS, size=int(rng.integers(3, 7)), replace=False):
            kind = str(kind)
            if kind == "exact":
                data = original
            elif kind == "combined":
                data = combined_copy(crop, rng)
            else:
                data = near_copy(crop, kind, rng)
            extension = "png" if data.startswith(b"\x89PNG") else "jpg"
            out.append((f"{group}-{kind}.{extension}", data, {"kind": kind, **common}))
        for kind in ("gaussian", "motion"):
            if rng.random() < 0.45:
                out.append(
                    (
                        f"{group}-blur-{kind}.jpg",
                        blurred_copy(crop, kind, rng),
                        {**common, "kind": f"blur_{kind}", "blurry": True},
                    )
                )
    return out


def build(
    out: pathlib.Path,
    files: int = 2000,
    seed: int = 1,
    workers: int = 2,
    max_overlap: float = MAX_OVERLAP,
    photos: str = "heldout",
) -> dict:
    """Write up to ``files`` files and ``truth.json`` under ``out``; returns the truth.

    The photos run out of distinct crops near 1,600 files at the default ``max_overlap``; the 20k
    corpus lets originals of one photo share more (``--max-overlap 0.7``).
    """
    sources = source_paths(photos)
    corrupt_count = max(36, files // 55)
    wanted = (files - corrupt_count) / FILES_PER_ORIGINAL
    areas = np.array([np.prod(Image.open(path).size) for path in sources], np.float64)
    per_photo = np.maximum(1, np.round(wanted * areas / areas.sum())).astype(int)  # big photos give more crops
    folder = out / "files"
    folder.mkdir(parents=True, exist_ok=True)
    truth: dict[str, dict] = {}
    tasks = [(path, int(per_photo[index]), seed * 1000 + index, max_overlap) for index, path in enumerate(sources)]
    samples: list[bytes] = []
    with multiprocessing.get_context("forkserver").Pool(workers) as pool:
        for planted in pool.imap_unordered(_photo_files, tasks):
            for name, data, facts in planted:
                (folder / name).write_bytes(data)
                truth[name] = facts
                if facts["kind"] == "original" and len(samples) < 200:
                    samples.append(data)
    rng = np.random.default_rng(seed)
    for index in range(corrupt_count):
        kind = ("truncated", "zero_bytes", "random_bytes", "decompression_bomb")[index % 4]
        data = corrupt_file(kind, samples[int(rng.integers(len(samples)))], rng)
        name = f"corrupt-{index:04d}-{kind}.jpg"
        (folder / name).write_bytes(data)
        truth[name] = {"group": None, "kind": "corrupt", "source": None, "blurry": False, "corrupt": kind}
    (out / "truth.json").write_text(json.dumps(truth, indent=1, sort_keys=True))
    return truth


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=None)
    parser.add_argument("--files", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--max-overlap", type=float, default=MAX_OVERLAP)
    parser.add_argument("--photos", choices=sorted(PHOTO_SETS), default="heldout")
    args = parser.parse_args()
    default = f"heldout_{args.files // 1000}k" if args.photos == "heldout" else "tuning_wallpapers"
    out = pathlib.Path(args.out or pathlib.Path(__file__).parent / "out" / default)
    start = time.perf_counter()
    truth = build(out, args.files, args.seed, max_overlap=args.max_overlap, photos=args.photos)
    kinds: dict[str, int] = {}
    for facts in truth.values():
        kinds[facts["kind"]] = kinds.get(facts["kind"], 0) + 1
    print(f"{len(truth)} files in {out} ({time.perf_counter() - start:.0f} s): {dict(sorted(kinds.items()))}")


if __name__ == "__main__":
    main()
