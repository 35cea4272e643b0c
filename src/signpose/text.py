"""Sign names on images: Arabic shaped and right-to-left, in plots and on video frames.

Pillow's wheels carry raqm, which shapes and orders text itself; so does matplotlib from
3.11 on. Older matplotlib does not shape, so there labels go through arabic-reshaper and
python-bidi first. The font is
DejaVu Sans, which ships inside matplotlib and has Arabic glyphs: nothing to download.
"""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path

import numpy as np

_RTL = re.compile(r"[\u0590-\u08FF\uFB1D-\uFDFF\uFE70-\uFEFF]")


def has_rtl(text: str) -> bool:
    return bool(_RTL.search(text))


def font_path() -> Path:
    import matplotlib

    return Path(matplotlib.get_data_path()) / "fonts" / "ttf" / "DejaVuSans.ttf"


@lru_cache(maxsize=1)
def matplotlib_shapes_text() -> bool:
    """matplotlib 3.11+ lays text out with raqm itself; older releases draw raw codepoints."""
    from matplotlib.ft2font import FT2Font

    return hasattr(FT2Font, "_layout")


def for_matplotlib(text: str) -> str:
    """Text as matplotlib must receive it to show Arabic joined and right-to-left.

    Shaping it twice (ours, then matplotlib's raqm) would reverse it again, so this only
    reshapes for a matplotlib that does not shape.
    """
    if not has_rtl(text) or matplotlib_shapes_text():
        return text
    import arabic_reshaper
    from bidi import get_display

    return get_display(arabic_reshaper.reshape(text))


@lru_cache(maxsize=8)
def _font(size: int):
    from PIL import ImageFont

    return ImageFont.truetype(str(font_path()), size, layout_engine=ImageFont.Layout.RAQM)


def draw_text(
    rgb: np.ndarray,
    text: str,
    xy: tuple[int, int],
    size: int = 28,
    fill: tuple[int, int, int] = (255, 255, 255),
    box: tuple[int, int, int] | None = (0, 0, 0),
) -> np.ndarray:
    """Draw text (any script) onto an RGB frame with Pillow + raqm; returns a new frame."""
    from PIL import Image, ImageDraw

    image = Image.fromarray(rgb)
    draw = ImageDraw.Draw(image)
    font = _font(size)
    direction = "rtl" if has_rtl(text) and not re.search(r"[A-Za-z]", text) else None
    bbox = draw.textbbox(xy, text, font=font, direction=direction)
    if box is not None:
        draw.rectangle((bbox[0] - 6, bbox[1] - 6, bbox[2] + 6, bbox[3] + 6), fill=box)
    draw.text(xy, text, font=font, fill=fill, direction=direction)
    return np.asarray(image)
