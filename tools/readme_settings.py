"""Rewrite the README's settings table from the settings' declarations (`make readme`).

The table sits between <!-- settings:start --> and <!-- settings:end -->; a test fails
when it no longer matches what `signpose settings` prints.
"""

import re
import subprocess
import sys
from pathlib import Path

README = Path(__file__).resolve().parents[1] / "README.md"

if __name__ == "__main__":
    table = subprocess.run(
        [sys.executable, "-m", "signpose.cli", "settings"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    text = README.read_text("utf-8")
    new = re.sub(
        r"<!-- settings:start -->\n.*?\n<!-- settings:end -->",
        lambda _: f"<!-- settings:start -->\n{table}\n<!-- settings:end -->",
        text,
        flags=re.S,
    )
    README.write_text(new, "utf-8")
    print("README.md: settings table " + ("updated" if new != text else "already current"))
