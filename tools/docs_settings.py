"""Write docs/settings.md from the settings' declarations (`make docs`).

A test fails when the file no longer matches what `signpose settings` prints.
"""

import subprocess
import sys
from pathlib import Path

DOC = Path(__file__).resolve().parents[1] / "docs" / "settings.md"
HEAD = """# Settings

Every setting of every command, generated from its declaration (`make docs`, or
`signpose settings`): its flag, its place in a config file, what it allows, its default
and what it means. A bad value stops with one line naming the setting, its flag and what
it allows, before any data is loaded.

"""

if __name__ == "__main__":
    body = subprocess.run(
        [sys.executable, "-m", "signpose.cli", "settings"], capture_output=True, text=True, check=True
    ).stdout
    text = HEAD + body
    old = DOC.read_text("utf-8") if DOC.is_file() else ""
    DOC.parent.mkdir(exist_ok=True)
    DOC.write_text(text, "utf-8")
    print("docs/settings.md " + ("updated" if text != old else "already current"))
