"""The page's own messages (t("...") in the page's scripts) each have their Arabic: a
message without one would show English on an Arabic page."""

from __future__ import annotations

import re
from pathlib import Path

import signpose.serve

STATIC = Path(signpose.serve.__file__).parent / "static"
STRING = r'"((?:[^"\\]|\\.)*)"'


def test_every_message_of_the_page_has_its_arabic():
    dictionary = STATIC.joinpath("i18n.js").read_text("utf-8")
    arabic = set(re.findall(rf"^\s*{STRING}:", dictionary, re.M))
    assert len(arabic) > 50  # the dictionary was read
    used = {}
    for script in ("app.js", "device.js"):
        source = STATIC.joinpath(script).read_text("utf-8")
        for call in re.finditer(rf"(?<![\w.$])t\(\s*({STRING}(?:\s*\+\s*{STRING})*)", source):
            key = "".join(re.findall(STRING, call.group(1)))  # "a " + "b": one message
            used.setdefault(key, script)
    assert len(used) > 40  # the messages were found
    missing = {k: s for k, s in used.items() if k not in arabic}
    assert missing == {}, f"messages without their Arabic in i18n.js: {missing}"
    # and no message of the page is built without t(): a template string of words shown as a status
    app = STATIC.joinpath("app.js").read_text("utf-8")
    templates = re.findall(r"(?:setStatus|setCounts|announce|recordStatus)\(`([^`]*)`", app)
    worded = [x for x in templates if re.search(r"\b[a-z]{3,}\b", re.sub(r"\$\{[^}]*\}", "", x))]
    assert worded == [], "messages built without t()"
