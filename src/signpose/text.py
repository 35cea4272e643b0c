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


def is_rtl_paragraph(text: str) -> bool:
    """Whether text starts right to left (its first strong character is Arabic, Hebrew...),
    by the Unicode bidi algorithm's rules P2-P3."""
    from bidi import get_base_level

    return get_base_level(text) == 1


def _draw(draw, xy: tuple[int, int], text: str, font, fill, direction: str) -> tuple[int, int, int, int]:
    box = draw.textbbox(xy, text, font=font, direction=direction)
    draw.text(xy, text, font=font, fill=fill, direction=direction)
    return box


def draw_caption(
    rgb: np.ndarray,
    name: str,
    value: str = "",
    xy: tuple[int, int] = (10, 10),
    size: int = 28,
    fill: tuple[int, int, int] = (255, 255, 255),
    box: tuple[int, int, int] | None = (0, 0, 0),
) -> tuple[np.ndarray, dict[str, tuple[int, int, int, int]]]:
    """Draw a sign name (any script, shaped and ordered by raqm's bidi) and a value such as
    "55%" beside it, on an RGB frame; returns the new frame and each part's box.

    The value is its own left-to-right run, on the far side of the name's reading
    direction: after an Arabic name the bidi algorithm would draw "55%" as "%55" (an
    Arabic context turns the number's percent sign around)."""
    from PIL import Image, ImageDraw

    image = Image.fromarray(rgb)
    draw = ImageDraw.Draw(image)
    font = _font(size)
    rtl = is_rtl_paragraph(name)
    gap = size // 2
    direction = "rtl" if rtl else "ltr"
    name_w = draw.textbbox((0, 0), name, font=font, direction=direction)[2]
    value_w = draw.textbbox((0, 0), value, font=font, direction="ltr")[2] if value else 0
    x, y = xy
    name_x = x + value_w + gap if (rtl and value) else x
    value_x = x if rtl else x + name_w + gap
    if box is not None:
        total = name_w + (value_w + gap if value else 0)
        height = draw.textbbox((x, y), name + value, font=font)[3]
        draw.rectangle((x - 6, y - 6, x + total + 6, height + 6), fill=box)
    boxes = {"name": _draw(draw, (name_x, y), name, font, fill, direction)}
    if value:
        boxes["value"] = _draw(draw, (value_x, y), value, font, fill, "ltr")
    return np.asarray(image), boxes


def draw_text(
    rgb: np.ndarray,
    text: str,
    xy: tuple[int, int],
    size: int = 28,
    fill: tuple[int, int, int] = (255, 255, 255),
    box: tuple[int, int, int] | None = (0, 0, 0),
) -> np.ndarray:
    """Draw text (any script, shaped, in its own reading direction) onto an RGB frame."""
    return draw_caption(rgb, text, "", xy, size, fill, box)[0]
