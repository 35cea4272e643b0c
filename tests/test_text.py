"""Arabic sign names on images: shaped, right to left, and the probability left to right."""

import numpy as np

from signpose.text import draw_caption, draw_text, is_rtl_paragraph


def _ink_columns(rgb: np.ndarray) -> np.ndarray:
    return np.flatnonzero(rgb.max(axis=(0, 2)) > 0)


def test_the_probability_after_an_arabic_name_reads_left_to_right():
    canvas = np.zeros((80, 500, 3), np.uint8)
    drawn, boxes = draw_caption(canvas, "أم mother", "55%", (10, 10), size=32, box=None)
    name, value = boxes["name"], boxes["value"]
    assert value[2] < name[0]  # an Arabic name reads from the right: the value sits on its left
    # read the value back from the pixels: the same ink as "55%" drawn alone, left to right
    alone = draw_text(np.zeros_like(canvas), "55%", (value[0], 10), size=32, box=None)
    crop = slice(value[0], value[2] + 1)
    np.testing.assert_array_equal(drawn[:, crop], alone[:, crop])
    # whereas one bidi paragraph would draw the percent sign first ("%55"): not what we drew
    together = draw_text(np.zeros_like(canvas), "أم mother 55%", (10, 10), size=32, box=None)
    assert not np.array_equal(together[:, crop], alone[:, crop])


def test_latin_names_keep_the_value_on_the_right_and_arabic_is_shaped():
    canvas = np.zeros((80, 500, 3), np.uint8)
    _, boxes = draw_caption(canvas, "mother", "55%", (10, 10), size=32, box=None)
    assert boxes["name"][2] < boxes["value"][0]
    assert is_rtl_paragraph("هيكل عظمي skeleton") and not is_rtl_paragraph("skeleton هيكل")
    # shaped: the joined word is narrower than its letters drawn one by one
    word = _ink_columns(draw_text(canvas, "هيكل", (10, 10), size=32, box=None))
    letters = sum(len(_ink_columns(draw_text(canvas, c, (10, 10), size=32, box=None))) for c in "هيكل")
    assert len(word) < letters
