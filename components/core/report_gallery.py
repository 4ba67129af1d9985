"""Galleries for the run report: small embedded thumbnails of items, with a caption per tile.

A person curating data wants to *see* what was removed, so the report shows items, not only
counts. Images are read from local paths or ``gs://`` (:func:`manifest.open_file`), decoded safely
with Pillow (bounded bytes, bounded pixels, never a decompression bomb) and re-encoded as small
PNG or JPEG thumbnails inlined as ``data:`` URIs, so the page stays one self-contained file.
Text items and table rows get a text snippet instead; an item that cannot be shown gets a
placeholder tile with its reason, never a broken image. One bad item never fails the report.
"""

from __future__ import annotations

import base64
import html
import io
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from . import manifest

#: Reasons whose bytes are not decoded again: a step already found them unsafe (a decompression
#: bomb) or undecodable, so the tile is a placeholder naming the reason.
NOT_DECODED = frozenset(
    {"decompression_bomb", "empty_file", "unreadable", "invalid_uri", "missing_id", "corrupt", "not_an_image"}
)


@dataclass(frozen=True)
class GalleryLimits:
    """How much a gallery may hold.

    Attributes:
        tiles: Most tiles per gallery (groups count as one tile each).
        side: Thumbnail side in pixels (small images are scaled up with nearest-neighbour so they stay crisp).
        max_file_bytes: Files larger than this are not read (a placeholder says so).
        max_pixels: Images declaring more pixels are not decoded.
        gallery_bytes: Most thumbnail bytes per gallery; tiles beyond it become placeholders.
        text_chars: Longest text snippet.
    """

    tiles: int = 24
    side: int = 96
    max_file_bytes: int = 20_000_000
    max_pixels: int = 40_000_000
    gallery_bytes: int = 600_000
    text_chars: int = 220

    def __post_init__(self) -> None:
        if self.tiles < 1 or self.side < 16 or self.gallery_bytes < 1 or self.text_chars < 10:
            raise ValueError(f"gallery limits too small: {self}")


@dataclass(frozen=True)
class Preview:
    """What a tile shows: a thumbnail ``data:`` URI, a text snippet, or a placeholder reason."""

    data_uri: str = ""
    text: str = ""
    placeholder: str = ""

    @property
    def size(self) -> int:
        return len(self.data_uri) + len(self.text)


@dataclass(frozen=True)
class Tile:
    """One gallery tile: a preview plus a title (the item id) and caption lines."""

    preview: Preview
    title: str
    caption: tuple[str, ...] = ()
    tone: str = ""  # "", "kept" or "removed": the frame colour


# ---------------------------------------------------------------------------------------------
# Previews


def thumbnail_data_uri(data: bytes, limits: GalleryLimits) -> str:
    """A small PNG or JPEG ``data:`` URI of image bytes (whichever encoding is smaller).

    Raises:
        ValueError: when the bytes are not a decodable image within the limits.
    """
    from PIL import Image, ImageOps

    if not data:
        raise ValueError("empty file")
    with Image.open(io.BytesIO(data)) as image:
        if image.width * image.height > limits.max_pixels:
            raise ValueError(f"{image.width}x{image.height} pixels is over the report's limit")
        image.draft("RGB", (limits.side * 2, limits.side * 2))  # JPEG: decode at a reduced size
        image = ImageOps.exif_transpose(image)
        image = image.convert("RGBA" if image.mode in ("RGBA", "LA", "P") else "RGB")
        if image.mode == "RGBA":
            background = Image.new("RGB", image.size, (255, 255, 255))
            background.paste(image, mask=image.getchannel("A"))
            image = background
        scale = limits.side / max(image.width, image.height)
        size = (max(1, round(image.width * scale)), max(1, round(image.height * scale)))
        resample = Image.NEAREST if scale >= 2 else Image.LANCZOS
        image = image.resize(size, resample)
    encoded = []
    for fmt, mime, options in (("PNG", "image/png", {"optimize": True}), ("JPEG", "image/jpeg", {"quality": 80})):
        buffer = io.BytesIO()
        image.save(buffer, format=fmt, **options)
        encoded.append((len(buffer.getvalue()), mime, buffer.getvalue()))
    _, mime, best = min(encoded)
    return f"data:{mime};base64,{base64.b64encode(best).decode('ascii')}"


def read_bounded(uri: str, max_bytes: int) -> bytes:
    """The bytes of a local or ``gs://`` file, refusing files larger than ``max_bytes``."""
    with manifest.open_file(uri, "rb") as handle:
        data = handle.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise ValueError(f"file is larger than {max_bytes} bytes")
    return data


def image_preview(uri: str, limits: GalleryLimits) -> Preview:
    """A thumbnail of the image at ``uri``, or a placeholder saying why it cannot be shown."""
    try:
        return Preview(data_uri=thumbnail_data_uri(read_bounded(uri, limits.max_file_bytes), limits))
    except Exception as err:  # noqa: BLE001 - any unreadable image becomes a placeholder, never a failure
        return Preview(placeholder=f"cannot show ({type(err).__name__})")


def snippet(text: str, limit: int) -> str:
    """``text`` on one line, cut to ``limit`` characters with an ellipsis."""
    flat = " ".join(str(text).split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def record_preview(record: object, limits: GalleryLimits, *, reason_code: str = "") -> Preview:
    """The preview of a manifest record: image thumbnail, text snippet or the row's values."""
    if not isinstance(record, dict):
        return Preview(text=snippet(repr(record), limits.text_chars))
    uri = record.get("imageGcsUri")
    if isinstance(uri, str) and uri:
        if reason_code in NOT_DECODED:
            return Preview(placeholder=reason_code.replace("_", " "))
        return image_preview(uri, limits)
    if isinstance(record.get("textContent"), str):
        text = snippet(record["textContent"], limits.text_chars)
        return Preview(text=text) if text else Preview(placeholder="empty text")
    uri = record.get("textGcsUri")
    if isinstance(uri, str) and uri:
        try:
            raw = read_bounded_prefix(uri, limits.text_chars * 4)
            return Preview(text=snippet(raw.decode("utf-8", errors="replace"), limits.text_chars))
        except Exception as err:  # noqa: BLE001
            return Preview(placeholder=f"cannot read text ({type(err).__name__})")
    values = {k: v for k, v in record.items() if k not in ("dataItemResourceLabels", "labelloop")}
    if isinstance(record.get("tableRow"), dict):  # a table row item: its columns, not the wrapper
        values = record["tableRow"]
    if not values:
        return Preview(placeholder="no content")
    return Preview(text=snippet(", ".join(f"{k}={v}" for k, v in values.items()), limits.text_chars))


def read_bounded_prefix(uri: str, max_bytes: int) -> bytes:
    """The first ``max_bytes`` of a file (text snippets need no more)."""
    with manifest.open_file(uri, "rb") as handle:
        return handle.read(max_bytes)


# ---------------------------------------------------------------------------------------------
# Galleries


def bounded(tiles: Iterable[Tile], limits: GalleryLimits) -> list[Tile]:
    """At most ``limits.tiles`` tiles; thumbnails past the byte budget become placeholders."""
    out, used = [], 0
    for tile in tiles:
        if len(out) >= limits.tiles:
            break
        if tile.preview.data_uri and used + tile.preview.size > limits.gallery_bytes:
            tile = Tile(
                Preview(placeholder="thumbnail left out (gallery size limit)"), tile.title, tile.caption, tile.tone
            )
        used += tile.preview.size
        out.append(tile)
    return out


def tile_html(tile: Tile) -> str:
    """One tile: the picture (or snippet or placeholder) over its title and caption lines."""
    preview = tile.preview
    if preview.data_uri:
        body = f'<img src="{preview.data_uri}" alt="{html.escape(tile.title, quote=True)}">'
    elif preview.text:
        body = f'<div class="snippet">{html.escape(preview.text)}</div>'
    else:
        body = (
            '<div class="placeholder" role="img" aria-label="not shown"><span class="icon">⚠</span>'
            f"{html.escape(preview.placeholder)}</div>"
        )
    lines = "".join(f"<span>{html.escape(line)}</span>" for line in tile.caption)
    tone = (f" {tile.tone}" if tile.tone else "") + (" text" if preview.text else "")
    return (
        f'<figure class="tile{tone}">{body}<figcaption><b title="{html.escape(tile.title, quote=True)}">'
        f"{html.escape(short_id(tile.title))}</b>{lines}</figcaption></figure>"
    )


def gallery_html(tiles: Sequence[Tile], *, more: int = 0, empty: str = "nothing to show") -> str:
    """A wrapping grid of tiles, with a note of how many more were left out."""
    if not tiles:
        return f'<p class="muted">{html.escape(empty)}</p>'
    note = f'<p class="muted">… and {more} more not shown.</p>' if more > 0 else ""
    return '<div class="gallery">' + "".join(tile_html(t) for t in tiles) + "</div>" + note


def group_html(kept: Tile, removed: Sequence[Tile], *, more: int = 0) -> str:
    """A duplicate group: the kept copy, an arrow, then the removed copies (and how many more)."""
    rest = f'<span class="muted">+{more} more</span>' if more > 0 else ""
    return (
        '<div class="group">'
        + tile_html(kept)
        + '<span class="arrow" aria-hidden="true">→</span>'
        + "".join(tile_html(t) for t in removed)
        + rest
        + "</div>"
    )


def short_id(item_id: str) -> str:
    """Content ids are 32 hex digits; the first 10 are enough to tell items apart on a page."""
    if len(item_id) > 14 and all(c in "0123456789abcdef" for c in item_id.lower()):
        return item_id[:10] + "…"
    return item_id


def captions(values: Mapping[str, object]) -> tuple[str, ...]:
    """``name: value`` caption lines for the values that are set."""
    return tuple(f"{k}: {v}" for k, v in values.items() if v not in (None, ""))
