"""The page on the signer's own device: what a page needs to classify there (the model's
description, `device_description`), and `export_site`, the page as a static site with the
model inside (`signpose export RUN --web DIR`): MediaPipe Holistic and ONNX Runtime Web
from the site itself, a service worker and a manifest so that it installs and works
offline after the first visit. Any static file server can host it, at any path."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

from .. import __version__
from ..errors import SignposeError
from ..extract.pose_models import POSE_MODELS
from ..recognise.decoder import LiveConfig
from ..recognise.recognizer import Recognizer
from ..text import font_path
from ..util import atomic_write_bytes, check_output_folder

STATIC = Path(__file__).parent / "static"
HOLISTIC_JS = STATIC / "vendor" / "holistic"  # installed by `make` from npm (@mediapipe/holistic)
ORT_WEB = STATIC / "vendor" / "ort"  # likewise (onnxruntime-web): the WebAssembly build only
PAGE_FILES = ("app.js", "device.js", "i18n.js", "style.css")
SITE_MARKER = "model.json"  # what makes a folder an exported site (a re-export replaces it)


def device_description(rec: Recognizer, run: str, live: LiveConfig, accuracy: dict | None) -> dict:
    """The model's description for the page's own stage 1 and stream decoder, with the live
    settings and what the page shows about the run."""
    return {
        **rec.model_description(),
        "run": run,
        "model": rec.config.model,
        "feature_set": rec.config.features.features,
        "live": live.model_dump(),
        "accuracy": accuracy,
        "version": __version__,
    }


def check_site_assets() -> None:
    missing = [p for p in (HOLISTIC_JS / "holistic.js", ORT_WEB / "ort.wasm.min.js") if not p.is_file()]
    if missing:
        raise SignposeError(
            f"{missing[0]} is missing: the page's MediaPipe and ONNX Runtime Web come from npm at build time; "
            "run `make web` (or `make install`)"
        )


def _check_target(out: Path, run: Path) -> None:
    check_output_folder(out, "--web", (run,))
    if out.exists() and not out.is_dir():
        raise SignposeError(f"{out}: is a file; --web needs a folder for the site")
    if out.is_dir() and any(out.iterdir()) and not (out / SITE_MARKER).is_file():
        raise SignposeError(f"{out}: not empty and not a site signpose exported; choose an empty or new folder")


def export_site(run: str | Path, out: str | Path, live: LiveConfig | None = None) -> dict:
    """The page, MediaPipe, ONNX Runtime Web and this run's model as a static site in `out`.
    Returns what was written: {"out", "files", "bytes", "signs"}."""
    run, out = Path(run), Path(out)
    _check_target(out, run)
    check_site_assets()
    rec = Recognizer.from_run(run)
    description = device_description(rec, run.name, live or LiveConfig(), None)
    out.mkdir(parents=True, exist_ok=True)
    model = rec.onnx_bytes()
    atomic_write_bytes(out / "model.onnx", model)
    # MediaPipe's files less the pose models this run's extraction does not use (the heavy
    # one alone is 28 MB) and the package's own docs; a re-export starts them afresh.
    pose_model = POSE_MODELS[rec.extraction.model_complexity][0]
    unused = {name for name, _ in POSE_MODELS.values() if name != pose_model} | {
        "README.md",
        "index.d.ts",
        "package.json",
    }
    for vendor in ("holistic", "ort"):
        shutil.rmtree(out / "vendor" / vendor, ignore_errors=True)
    shutil.copytree(HOLISTIC_JS, out / "vendor" / "holistic", ignore=lambda _, names: [n for n in names if n in unused])
    shutil.copytree(ORT_WEB, out / "vendor" / "ort")
    (out / "static").mkdir(exist_ok=True)
    for name in PAGE_FILES:
        atomic_write_bytes(out / "static" / name, (STATIC / name).read_bytes())
    page = (STATIC / "index.html").read_text("utf-8")
    # The page learns it is a static site (no server: classify here, no uploads) from this tag.
    page = page.replace("<head>", '<head>\n  <meta name="signpose-site" content="static">', 1)
    page = page.replace("<head>", '<head>\n  <link rel="manifest" href="manifest.webmanifest">', 1)
    atomic_write_bytes(out / "index.html", page.encode("utf-8"))
    atomic_write_bytes(out / "font.ttf", font_path().read_bytes())  # shapes Arabic, as the server's /font.ttf
    manifest = {
        "name": f"signpose: {len(rec.classes)} signs",
        "short_name": "signpose",
        "start_url": "./",
        "scope": "./",
        "display": "standalone",
        "background_color": "#ffffff",
        "theme_color": "#1f5fa8",
        "icons": [{"src": "static/icon.svg", "sizes": "any", "type": "image/svg+xml"}],
    }
    atomic_write_bytes(out / "static" / "icon.svg", ICON.encode("utf-8"))
    atomic_write_bytes(out / "manifest.webmanifest", json.dumps(manifest, indent=2).encode("utf-8"))
    atomic_write_bytes(out / SITE_MARKER, json.dumps(description, ensure_ascii=False, indent=1).encode("utf-8"))
    files = sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file() and p.name != "sw.js")
    # The cache's name changes with the files' contents: a re-export is picked up, not stale.
    digest = hashlib.sha256()
    for name in files:
        digest.update(name.encode() + (out / name).read_bytes())
    worker = SERVICE_WORKER.replace("__CACHE__", f"signpose-{digest.hexdigest()[:16]}").replace(
        "__FILES__", json.dumps(["./", *files])
    )
    atomic_write_bytes(out / "sw.js", worker.encode("utf-8"))
    size = sum((out / name).stat().st_size for name in files)
    return {"out": str(out), "files": len(files) + 1, "bytes": size, "signs": len(rec.classes)}


ICON = """<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 64 64"><rect width="64" height="64" rx="12"
fill="#1f5fa8"/><path d="M22 50V26a4 4 0 0 1 8 0v10V16a4 4 0 0 1 8 0v20-14a4 4 0 0 1 8 0v22c0 8-6 12-12 12h-2
c-5 0-8-3-10-6l-6-10a4 4 0 0 1 6-4z" fill="#fff"/></svg>
"""

# Cache first: the whole site is fetched into the cache when the worker installs, so the
# page works offline from the second visit on (and installs as an app).
SERVICE_WORKER = """// signpose: the exported site, offline after the first visit (written by signpose export --web).
const CACHE = "__CACHE__";
const FILES = __FILES__;
self.addEventListener("install", (event) => {
  event.waitUntil(caches.open(CACHE).then((cache) => cache.addAll(FILES)).then(() => self.skipWaiting()));
});
self.addEventListener("activate", (event) => {
  const old = (keys) => Promise.all(keys.filter((k) => k !== CACHE).map((k) => caches.delete(k)));
  event.waitUntil(caches.keys().then(old).then(() => self.clients.claim()));
});
self.addEventListener("fetch", (event) => {
  if (event.request.method !== "GET") return;
  event.respondWith(caches.match(event.request, { ignoreSearch: true }).then((hit) => hit || fetch(event.request)));
});
"""
