"""The web app: a page, an HTTP API and a live WebSocket around one trained run.

    GET  /                 the page
    GET  /api/health       status, run, model, classes, backend, version, modes, accuracy
    GET  /api/signs        [{sign_id, sign}] (Arabic names intact, UTF-8)
    GET  /api/protocol     the live WebSocket's messages, both ways
    GET  /docs             the API in Swagger UI (served from the package: works offline)
    POST /api/predict      a video (multipart field `video`) -> top-k, frames, hands share,
                           timings; ?annotate=1 adds the URL of the annotated video
    WS   /ws/live?mode=landmarks|frames
                           landmarks: the browser runs MediaPipe and sends each frame's
                           points (JSON); frames: it sends JPEG frames (binary) and the
                           server runs MediaPipe. Either way the server answers with
                           predictions and committed signs (and, for frames, the points).

MediaPipe work (uploads, frames-mode streams) runs in a bounded pool: an upload that finds
it full gets 503 with Retry-After, a live frame that finds its stream busy is dropped, so
nothing queues up behind a slow machine.
"""

from __future__ import annotations

import asyncio
import atexit
import io
import json
import queue
import shutil
import tempfile
import threading
import time
import uuid
from collections import OrderedDict
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import asynccontextmanager
from pathlib import Path
from urllib.parse import urlsplit

import numpy as np
from fastapi import FastAPI, Request, WebSocket, WebSocketDisconnect
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel, Field
from starlette.datastructures import UploadFile as StarletteUpload
from starlette.exceptions import HTTPException as StarletteHTTPException

from .. import __version__
from ..data.dataset import read_meta
from ..data.video import open_frames
from ..errors import SignposeError, is_environment_error
from ..extract.holistic import HolisticExtractor
from ..recognise.annotate import annotate_video
from ..recognise.recognizer import Recognizer
from ..recognise.transcribe import transcribe_sequence
from ..text import font_path
from .config import ServeConfig
from .stream import CLIENT_FPS, PROTOCOL, LiveStream, RateLimit, arrays_to_parts, landmarks_to_arrays

STATIC = Path(__file__).parent / "static"
HOLISTIC_JS = STATIC / "vendor" / "holistic"  # installed by `make` from npm (@mediapipe/holistic)
SWAGGER_UI = STATIC / "vendor" / "swagger-ui"  # likewise (swagger-ui-dist): /docs without a CDN
KEEP_ANNOTATED = 20  # annotated videos kept for playback; older ones are deleted
MAX_ERRORS = 20  # invalid live messages before the server closes the connection


# The request body of POST /api/predict, for the OpenAPI schema ("Try it out" in /docs):
# the handler reads the multipart body itself, bounded and timed, so FastAPI cannot infer it.
PREDICT_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "properties": {"video": {"type": "string", "format": "binary", "description": "a video file"}},
                    "required": ["video"],
                }
            }
        },
    }
}


class ErrorReply(BaseModel):
    """Every error, whatever its status: one line a person can act on."""

    error: str


class SignScore(BaseModel):
    sign_id: str
    sign: str
    probability: float


class PredictReply(BaseModel):
    """The sign in an uploaded video, and its signs one after another."""

    status: str = Field(description="ok, or no_sign (no hands seen, or nothing above the threshold)")
    top: list[SignScore] = Field(description="the most likely signs, best first")
    frames: int
    hands_share: float = Field(description="share of the frames with a hand seen")
    transcript: dict = Field(description="text, signs [{sign_id, sign, start, end, probability}], no_sign, duration")
    timing: dict = Field(description="seconds: MediaPipe, classification, total")
    source: str
    annotated_url: str | None = Field(None, description="with ?annotate=1: the video with the landmarks and sign")
    message: str | None = Field(None, description="why there is no sign, when status is no_sign")

    model_config = {"extra": "allow"}


ERRORS = {
    status: {"model": ErrorReply, "description": meaning}
    for status, meaning in {
        400: "not a multipart upload with a file in the field `video`, or an empty file",
        403: "another web origin or host name (see --allow-origins)",
        408: "the upload took longer than --upload-seconds",
        413: "larger than --max-upload-mb, longer than --max-upload-frames, frames larger than --max-frame-side "
        "or more pixels than --max-upload-megapixels",
        415: "not a video this server can decode",
        503: "every MediaPipe worker is busy (Retry-After), or the server is shutting down",
        507: "the server's disk is full",
        422: "a query parameter of the wrong type (annotate is true or false)",
    }.items()
}


class ApiError(Exception):
    """An error answered as JSON {"error": message} with an HTTP status."""

    def __init__(self, status: int, message: str, headers: dict | None = None):
        super().__init__(message)
        self.status, self.message, self.headers = status, message, headers


class Extractors:
    """MediaPipe graphs, built when first needed and reused: an upload holds one for its
    video, a frames-mode stream for its connection (tracking runs across its frames)."""

    def __init__(self, recognizer: Recognizer):
        self.config = recognizer.extraction
        self.free: queue.Queue[HolisticExtractor] = queue.Queue()
        self.made = 0
        self.lock = threading.Lock()

    def take(self) -> HolisticExtractor:
        try:
            return self.free.get_nowait()
        except queue.Empty:
            with self.lock:
                self.made += 1
            return HolisticExtractor(self.config)

    def give(self, extractor: HolisticExtractor) -> None:
        extractor.forget_tracking()  # the next user starts from a fresh detection
        self.free.put(extractor)

    def close(self) -> None:
        while not self.free.empty():
            self.free.get_nowait().close()


class UploadBudget:
    """An upload's limits: frames (--max-upload-frames), frame side (--max-frame-side, the
    same as frames mode's) and decoded pixels (--max-upload-megapixels); 413 past any."""

    def __init__(self, config: ServeConfig):
        self.config, self.frames = config, 0

    def frame(self, width: int, height: int, count: int = 1) -> None:
        side, frames = self.config.max_frame_side, self.config.max_upload_frames
        budget = self.config.max_upload_megapixels * 1e6
        if max(width, height) > side:
            raise ApiError(
                413,
                f"the video's frames are {width}x{height}, larger than {side} pixels a side "
                "(--max-frame-side); send a smaller video",
            )
        if count > frames:
            raise ApiError(413, f"the video is longer than {frames} frames (--max-upload-frames); send a shorter one")
        if count * width * height > budget:
            raise ApiError(
                413,
                f"the video holds {count * width * height / 1e6:,.0f} megapixels in {count} frames, more than "
                f"{budget / 1e6:,.0f} (--max-upload-megapixels); send a shorter or smaller video",
            )

    def decoded(self, frame: np.ndarray) -> None:
        """One more decoded frame, checked with the count so far."""
        self.frames += 1
        self.frame(frame.shape[1], frame.shape[0], self.frames)


class Server:
    """What the app holds: the run, the MediaPipe pool and the temporary folder."""

    def __init__(self, run: str | Path, config: ServeConfig):
        import torch

        torch.set_num_threads(1)  # one request's classification is small; many run side by side
        self.config = config
        self.recognizer = Recognizer(run, backend=config.backend)
        self.pool = ThreadPoolExecutor(config.workers, thread_name_prefix="mediapipe")
        self.slots = config.workers  # free MediaPipe slots (uploads and frames-mode frames)
        self.slot_lock = threading.Lock()
        self.extractors = Extractors(self.recognizer)
        self.pool.submit(lambda: self.extractors.give(self.extractors.take()))  # one graph ready early
        self.frame_streams = 0
        self.tmp = Path(tempfile.mkdtemp(prefix="signpose-serve-"))
        atexit.register(shutil.rmtree, self.tmp, True)  # also when the process ends without a clean shutdown
        self.annotated: OrderedDict[str, Path] = OrderedDict()
        self.live_clients = 0
        self.accuracy = _measured_accuracy(Path(run), self.recognizer.info.dataset_path(Path(run)))
        self.cancels: set[threading.Event] = set()  # one per upload in MediaPipe: set when it should stop
        self.closing = False  # Ctrl+C or SIGTERM came: uploads in MediaPipe stop at their next frame

    def workdir(self) -> Path:
        """A fresh folder for one upload; the server's temp folder is made again if something
        deleted it (a /tmp cleaner), instead of failing every upload from then on."""
        self.tmp.mkdir(parents=True, exist_ok=True)
        return Path(tempfile.mkdtemp(dir=self.tmp))

    def try_slot(self) -> bool:
        with self.slot_lock:
            if self.slots == 0:
                return False
            self.slots -= 1
            return True

    def free_slot(self) -> None:
        with self.slot_lock:
            self.slots += 1

    def stop_work(self) -> None:
        """The process is asked to end: every upload in MediaPipe stops at its next frame
        and answers 503 (waiting for a whole video would hold the exit for minutes)."""
        self.closing = True
        for cancel in list(self.cancels):
            cancel.set()

    def close(self) -> None:
        """Shut down without waiting for uploads in MediaPipe: they stop at their next frame."""
        self.stop_work()
        self.pool.shutdown(wait=False, cancel_futures=True)
        self.extractors.close()
        shutil.rmtree(self.tmp, ignore_errors=True)

    # -- uploads ---------------------------------------------------------------------------

    def predict_file(self, path: Path, annotate: bool, cancel: threading.Event) -> dict:
        """Runs in the pool: the sign in one uploaded video, at most `max_upload_frames`
        frames long; stops at the next frame once `cancel` is set (the client left)."""
        import cv2

        unreadable = ApiError(415, "the upload is not a video this server can decode (no frame could be read)")
        try:
            source = open_frames(path, fps=self.recognizer.extraction.fps)
        except SignposeError:
            raise unreadable from None
        # What the container declares is checked before a single frame is decoded: a 3 MB
        # file can declare 16000x16000 frames, gigabytes once decoded.
        check = UploadBudget(self.config)
        check.frame(source.width, source.height, source.frame_count)
        capture = cv2.VideoCapture(str(path))
        readable = capture.isOpened() and capture.read()[0]
        capture.release()
        if not readable:
            raise unreadable

        def frames():
            for frame in source:
                if cancel.is_set():
                    if self.closing:
                        raise ApiError(503, "the server is shutting down; send the video again when it is back")
                    raise ApiError(499, "the client left before the result")
                check.decoded(frame)  # a container that declared less than it holds
                yield frame

        extractor = self.extractors.take()
        try:
            start = time.perf_counter()
            seq = extractor.extract(frames(), source.fps, source.width, source.height)
            timing = dict(extractor.last_timing)
        except (SignposeError, ApiError) as e:
            extractor.close()  # a graph stopped mid-video is not reused
            if isinstance(e, ApiError):
                raise
            raise ApiError(415, str(e).removeprefix(f"{path}: ")) from None
        else:
            self.extractors.give(extractor)
        pred = self.recognizer.predict_sequence(seq, top_k=self.config.top_k)
        hands = seq.hands_per_frame()
        transcript = transcribe_sequence(self.recognizer, seq, self.config.live, "upload").as_dict()
        result = {
            **pred.as_dict(),
            # the signs one after another, as `signpose transcribe` reads them
            "transcript": {k: transcript[k] for k in ("text", "signs", "no_sign", "duration")},
            "source": "upload",
            "hands_share": round(float(hands.mean()) if seq.frames else 0.0, 4),
            "timing": {**{k: round(v, 4) for k, v in {**timing, **pred.timing}.items()}},
        }
        if annotate:
            name = f"{uuid.uuid4().hex}.webm"
            self.tmp.mkdir(parents=True, exist_ok=True)
            annotate_video(path, seq, pred.label, self.tmp / name, fps=self.recognizer.extraction.fps)
            self.annotated[name] = self.tmp / name
            while len(self.annotated) > KEEP_ANNOTATED:
                self.annotated.popitem(last=False)[1].unlink(missing_ok=True)
            result["annotated_url"] = f"/api/annotated/{name}"
        result["timing"]["total"] = round(time.perf_counter() - start, 4)
        return result


def _measured_accuracy(run: Path, dataset: Path) -> dict | None:
    """The run's accuracy on its unseen test signer, from metrics.json (None if absent),
    and what it was measured on: `data` is synthetic (made by `signpose synth`, as the
    demo's is), recorded, or unknown (the dataset is not where the run says)."""
    try:
        metrics = json.loads((run / "metrics.json").read_text("utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(metrics, dict):  # damaged: the page just shows no accuracy
        return None
    keys = ("accuracy", "accuracy_ci95", "samples", "signer")
    try:
        made_by = read_meta(dataset).get("created_by") if dataset.is_dir() else None
        data = "unknown" if not dataset.is_dir() else "synthetic" if made_by == "synth" else "recorded"
    except SignposeError:
        data = "unknown"
    return {**{k: metrics.get(k) for k in keys}, "data": data}


LOOPBACK = {"localhost", "127.0.0.1", "::1"}
WS_MAX_BYTES = 1 << 20  # one live message: a landmarks message is ~20 KB, a camera JPEG ~100 KB


class SameOrigin:
    """Only this server's own pages (and `allow_origins`) may call it from a browser: a
    request whose Origin is another site is refused, so a page the user visits cannot
    stream to or upload to their local server. Bound to this machine only, the Host must
    be a loopback name too, so DNS rebinding cannot turn another name into this server."""

    def __init__(self, app, config: ServeConfig):
        self.app = app
        self.allowed = {o.rstrip("/").lower() for o in config.allow_origins}
        self.loopback_only = config.host in LOOPBACK

    def problem(self, host: str, origin: str | None) -> str | None:
        name = urlsplit(f"//{host}").hostname or ""
        if self.loopback_only and name not in LOOPBACK:
            return f"this server answers to localhost only, not to the host {host!r}"
        if origin is not None and origin.rstrip("/").lower() not in self.allowed | {
            f"http://{host}".lower(),
            f"https://{host}".lower(),
        }:
            return f"requests from pages of {origin} are not allowed (serve --allow-origins {origin} allows them)"
        return None

    async def __call__(self, scope, receive, send):
        if scope["type"] in ("http", "websocket"):
            headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
            problem = self.problem(headers.get("host", ""), headers.get("origin"))
            if problem is not None:
                if scope["type"] == "websocket":  # closing before accepting answers 403
                    await send({"type": "websocket.close", "code": 1008, "reason": problem[:120]})
                else:
                    await JSONResponse({"error": problem}, status_code=403)(scope, receive, send)
                return
        await self.app(scope, receive, send)


def server_config(app: FastAPI, config: ServeConfig):
    """uvicorn's settings for the app: small WebSocket messages, a bounded shutdown."""
    import uvicorn

    return uvicorn.Config(
        app,
        host=config.host,
        port=config.port,
        log_level="warning",
        ws_max_size=WS_MAX_BYTES,
        timeout_graceful_shutdown=3,  # Ctrl+C and SIGTERM stop it even while clients are connected
    )


def make_server(app: FastAPI, config: ServeConfig):
    """The uvicorn server of the app. Ctrl+C or SIGTERM first stops the uploads in
    MediaPipe (they answer 503 at their next frame), then uvicorn's bounded shutdown
    follows: uvicorn alone would wait for each video to the end, then exit mid-reply."""
    import uvicorn

    class Server(uvicorn.Server):
        def handle_exit(self, sig, frame) -> None:
            app.state.server.stop_work()
            super().handle_exit(sig, frame)

    return Server(server_config(app, config))


def _bounded(request: Request, limit: int, too_large: ApiError) -> Request:
    """The same request, whose body stops with `too_large` once more than `limit` bytes
    have come (whatever its headers say: a chunked body declares no length)."""
    received = 0

    async def receive():
        nonlocal received
        message = await request.receive()
        if message["type"] == "http.request":
            received += len(message.get("body", b""))
            if received > limit:
                raise too_large
        return message

    return Request(request.scope, receive)


def create_app(run: str | Path, config: ServeConfig | None = None) -> FastAPI:
    """The FastAPI app serving `run` (loaded once, here)."""
    config = config or ServeConfig()
    server = Server(run, config)

    @asynccontextmanager
    async def lifespan(_app: FastAPI):
        yield
        server.close()

    app = FastAPI(
        title="signpose",
        version=__version__,
        lifespan=lifespan,
        description="Sign recognition with one trained run. The live WebSocket's messages: GET /api/protocol.",
        docs_url=None,  # served below from the package's own copy of Swagger UI, not a CDN
        redoc_url=None,
    )
    app.state.server = server
    app.add_middleware(SameOrigin, config=config)

    # One error shape for every error: {"error": message}, FastAPI's own (404, 405, 422) too.
    @app.exception_handler(ApiError)
    async def _api_error(_request: Request, e: ApiError):
        return JSONResponse({"error": e.message}, status_code=e.status, headers=e.headers)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(_request: Request, e: StarletteHTTPException):
        return JSONResponse({"error": str(e.detail)}, status_code=e.status_code, headers=e.headers)

    @app.exception_handler(RequestValidationError)
    async def _invalid(_request: Request, e: RequestValidationError):
        first = e.errors()[0] if e.errors() else {}
        where = ".".join(str(x) for x in first.get("loc", ()))
        return JSONResponse({"error": f"{where}: {first.get('msg', 'invalid request')}"}, status_code=422)

    @app.get("/docs", include_in_schema=False)
    async def docs():
        if not (SWAGGER_UI / "swagger-ui-bundle.js").is_file():
            raise ApiError(404, "the API docs need Swagger UI: run `make web` (it fetches swagger-ui-dist from npm)")
        return get_swagger_ui_html(
            openapi_url="/openapi.json",
            title="signpose API",
            swagger_js_url="/vendor/swagger-ui/swagger-ui-bundle.js",
            swagger_css_url="/vendor/swagger-ui/swagger-ui.css",
            swagger_favicon_url="/vendor/swagger-ui/favicon-32x32.png",
        )

    @app.get("/api/protocol")
    async def protocol():
        """The live WebSocket's messages, both ways (the page is one client; write another)."""
        return PROTOCOL

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    async def page():
        return HTMLResponse((STATIC / "index.html").read_text("utf-8"))

    app.mount("/static", StaticFiles(directory=STATIC), name="static")

    @app.get("/font.ttf", include_in_schema=False)
    async def font():
        # the font that shapes Arabic in the confusion matrices and annotated videos
        return FileResponse(font_path(), media_type="font/ttf")

    @app.get("/api/health")
    async def health():
        """The run served (model, features, signs, measured accuracy), the live settings and how
        busy the MediaPipe workers are."""
        rec = server.recognizer
        return {
            "status": "ok",
            "run": rec.run.name,
            "model": rec.config.model,
            "models": len(rec.models),  # more than 1: an ensemble (train --seeds) or fused streams
            "weights": [round(float(w), 4) for w in rec.weights],  # each model's share of the probabilities
            "features": rec.config.features.features,
            "classes": len(rec.classes),
            "backend": config.backend,
            "version": __version__,
            "modes": ["landmarks", "frames"] if (HOLISTIC_JS / "holistic.js").is_file() else ["frames"],
            "accuracy": server.accuracy,
            "live": config.live.model_dump(),
            "extraction": rec.extraction.model_dump(),
            "workers": config.workers,
            "busy": config.workers - server.slots,
            "graphs": {"made": server.extractors.made, "free": server.extractors.free.qsize()},  # MediaPipe
            "live_clients": server.live_clients,
            "protocol": "/api/protocol",  # the live WebSocket's messages
        }

    @app.get("/api/signs")
    async def signs():
        """The signs the model knows, in class order, with their names (Arabic kept as UTF-8)."""
        rec = server.recognizer
        return [{"sign_id": i, "sign": n} for i, n in zip(rec.classes, rec.names, strict=True)]

    # documented, not enforced: the reply is built by predict_file (the docs showed "string")
    @app.post("/api/predict", openapi_extra=PREDICT_BODY, responses={200: {"model": PredictReply}, **ERRORS})
    async def predict(request: Request, annotate: bool = False):
        """The sign in one uploaded video (multipart field `video`), with its signs one after
        another (`transcript`); `?annotate=1` adds the URL of the video with the landmarks drawn."""
        # The body is read first, counted and timed (a chunked body has no declared length,
        # a slow client must not hold a MediaPipe slot); only then is a slot taken.
        limit = int(config.max_upload_mb * 1024 * 1024)
        too_large = ApiError(413, f"the upload is larger than {config.max_upload_mb:g} MB (--max-upload-mb)")
        declared = request.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > limit + 64 * 1024:
            raise too_large
        folder = server.workdir()
        form = None
        try:
            try:
                # wait_for, not asyncio.timeout: that is Python 3.11+, and 3.10 is supported
                body = _bounded(request, limit + 64 * 1024, too_large).form(max_files=1, max_fields=10)
                form = await asyncio.wait_for(body, config.upload_seconds)
            except asyncio.TimeoutError:  # noqa: UP041  (in Python 3.10 not the builtin TimeoutError)
                raise ApiError(
                    408, f"the upload took longer than {config.upload_seconds:g} s (--upload-seconds)"
                ) from None
            except ApiError:
                raise
            except Exception as e:  # a body that is not multipart at all
                if is_environment_error(e):  # the server's disk, not the client's request
                    raise
                raise ApiError(400, f"send the video as multipart/form-data in the field 'video' ({e})") from None
            video = form.get("video")
            if not isinstance(video, StarletteUpload):
                raise ApiError(400, "send the video as multipart/form-data in the field 'video'")
            path, size = folder / "upload", 0
            with path.open("wb") as out:
                while chunk := await video.read(1 << 20):
                    size += len(chunk)
                    if size > limit:
                        raise too_large
                    out.write(chunk)
            if size == 0:
                raise ApiError(400, "the upload is empty; send a video file in the field 'video'")
            if not server.try_slot():
                raise ApiError(503, "the server is busy with other videos; try again shortly", {"Retry-After": "2"})
            cancel = threading.Event()
            server.cancels.add(cancel)
            try:
                work = asyncio.ensure_future(
                    asyncio.get_running_loop().run_in_executor(server.pool, server.predict_file, path, annotate, cancel)
                )
                while not (await asyncio.wait({work}, timeout=0.5))[0]:
                    if await request.is_disconnected():  # nobody waits for the answer: stop the work
                        cancel.set()
                return await work
            finally:
                if not work.done():  # cancelled here (a forced shutdown): the pass stops too
                    cancel.set()
                server.cancels.discard(cancel)
                server.free_slot()
        except OSError as e:
            if not is_environment_error(e):
                raise
            # a full or unwritable temp folder (or annotated video) is the server's problem: 507
            raise ApiError(
                507,
                "the server has no room to store this video (its disk is full); try again later or tell its operator",
            ) from None
        finally:
            if form is not None:
                await form.close()
            shutil.rmtree(folder, ignore_errors=True)

    @app.get("/api/annotated/{name}")
    async def annotated(name: str):
        """An annotated video named by an upload's `annotated_url` (the latest ones are kept)."""
        path = server.annotated.get(name)
        if path is None or not path.is_file():
            raise ApiError(404, "no such annotated video (only the latest ones are kept)")
        return FileResponse(path, media_type="video/webm")

    @app.websocket("/ws/live")
    async def live(ws: WebSocket, mode: str = "landmarks"):
        await ws.accept()
        if mode not in ("landmarks", "frames"):
            await ws.send_json({"type": "error", "message": "mode must be landmarks or frames"})
            await ws.close(code=1008)
            return
        if mode == "frames" and server.frame_streams >= config.max_frame_streams:
            # each frames-mode stream holds a MediaPipe graph: their number is bounded
            await ws.send_json({"type": "error", "message": "the server is full for frames mode; use landmarks mode"})
            await ws.close(code=1013, reason="try again later")
            return
        server.live_clients += 1
        server.frame_streams += mode == "frames"
        try:
            await _live(ws, server, mode)
        except WebSocketDisconnect:
            pass
        finally:
            server.live_clients -= 1
            server.frame_streams -= mode == "frames"

    if HOLISTIC_JS.is_dir():
        app.mount("/vendor/holistic", StaticFiles(directory=HOLISTIC_JS), name="holistic")
    if SWAGGER_UI.is_dir():
        app.mount("/vendor/swagger-ui", StaticFiles(directory=SWAGGER_UI), name="swagger-ui")
    return app


async def _live(ws: WebSocket, server: Server, mode: str) -> None:
    """One live client until it disconnects. Landmarks are handled as they come; frames
    go through a one-frame slot, so a frame arriving while the last is still in MediaPipe
    replaces the waiting one (dropped) instead of queueing."""
    config = server.config
    stream = LiveStream(server.recognizer, config.live, config.top_k, CLIENT_FPS[mode])
    limit = RateLimit(config.max_live_fps)
    counts = {"received": 0, "processed": 0, "dropped": 0, "invalid": 0}
    loop = asyncio.get_running_loop()
    await ws.send_json({"type": "hello", "mode": mode, "live": config.live.model_dump(), "top_k": config.top_k})

    latest: list[tuple[bytes, float] | None] = [None]
    ready = asyncio.Event()
    extractor: list[HolisticExtractor | None] = [None]
    in_mediapipe: list[Future | None] = [None]  # this stream's pass on its graph, while one runs

    async def invalid(message: str) -> bool:
        """Answers an invalid message; True when there have been too many (then closed)."""
        counts["invalid"] += 1
        await ws.send_json({"type": "error", "message": message, **counts})
        if counts["invalid"] > MAX_ERRORS:
            await ws.close(code=1008, reason="too many invalid messages")
            return True
        return False

    async def send_all(messages: list[dict]) -> None:
        for message in messages:
            await ws.send_json({**message, **counts})

    async def process_frames() -> None:
        while True:
            await ready.wait()
            ready.clear()
            item, latest[0] = latest[0], None
            if item is None:
                continue
            data, sent = item
            if not server.try_slot():  # every MediaPipe worker busy: this frame is dropped
                counts["dropped"] += 1
                continue
            in_mediapipe[0] = server.pool.submit(_frame_points, server, extractor, data)
            in_mediapipe[0].add_done_callback(lambda _f: server.free_slot())
            try:
                result = await asyncio.wrap_future(in_mediapipe[0])
            except Exception as e:  # the stream goes on: an unforeseen frame is one invalid message
                result = f"a frame could not be processed ({type(e).__name__})"
            if isinstance(result, str):
                if await invalid(result):
                    return
                continue
            xyz, present, w, h = result
            counts["processed"] += 1
            await ws.send_json(
                {"type": "landmarks", "sent": sent, "parts": arrays_to_parts(xyz, present, w, h), **counts}
            )
            await send_all(await loop.run_in_executor(None, stream.push, xyz, present, w, h))

    worker = asyncio.create_task(process_frames()) if mode == "frames" else None
    try:
        while True:
            message = await ws.receive()
            if message["type"] == "websocket.disconnect":
                return
            counts["received"] += 1
            if message.get("bytes") is not None:
                if mode != "frames":
                    if await invalid("binary frames need mode=frames"):
                        return
                elif worker.done():
                    return
                else:
                    if latest[0] is not None:
                        counts["dropped"] += 1
                    latest[0] = (message["bytes"], time.time())
                    ready.set()
                continue
            try:
                text = message.get("text") or ""
                # parsed off the event loop when large, so one client cannot stall the others
                data = await loop.run_in_executor(None, _parse, text) if len(text) > 4096 else _parse(text)
                if not isinstance(data, dict):
                    raise SignposeError("a message must be a JSON object with a 'type'")
                kind = data.get("type")
                if kind == "landmarks":
                    if not limit.allow():
                        counts["dropped"] += 1
                        continue
                    xyz, present, w, h = landmarks_to_arrays(data)
                    counts["processed"] += 1
                    await send_all(await loop.run_in_executor(None, stream.push, xyz, present, w, h))
                elif kind == "config":
                    await ws.send_json({"type": "config", **stream.configure(data), **counts})
                elif kind == "reset":
                    stream.reset()
                elif kind == "end":
                    await send_all(stream.finish())
                    await ws.send_json({"type": "end", "frames": stream.frames, **counts})
                else:
                    raise SignposeError("'type' must be landmarks, config, reset or end")
            except (SignposeError, ValueError) as e:
                if await invalid(str(e)):
                    return
    finally:
        if worker is not None:
            worker.cancel()
        _give_back_after(in_mediapipe[0], server, extractor)


def _give_back_after(running: Future | None, server: Server, extractor: list) -> None:
    """A stream's graph goes back to the pool once the pass running on it has finished:
    never reset by one thread while another is inside it (that crashed the server), and
    never lost when the client leaves before the pass has taken its graph."""

    def give(_future=None) -> None:
        if extractor[0] is not None:
            server.extractors.give(extractor[0])
            extractor[0] = None

    if running is not None and not running.done():
        running.add_done_callback(give)
    else:
        give()


def _parse(text: str):
    try:
        return json.loads(text)
    except RecursionError:  # '[[[[...' nested past Python's limit
        raise ValueError("a message must be a JSON object, not nested this deep") from None


def _frame_points(server: Server, extractor: list, data: bytes):
    """Runs in the pool: one JPEG through this stream's own MediaPipe graph (tracking
    continues across its frames). A message (str) when the bytes are not a usable image."""
    import cv2
    from PIL import Image, UnidentifiedImageError

    side = server.config.max_frame_side
    too_large = f"is larger than {side} pixels a side (--max-frame-side); send camera-sized frames"
    try:  # the header alone: a small file can declare gigapixels
        width, height = Image.open(io.BytesIO(data)).size
    except Image.DecompressionBombError:  # PIL's own refusal, past ~179 megapixels
        return f"a frame {too_large}"
    except (UnidentifiedImageError, OSError, ValueError):
        return "a frame could not be decoded as JPEG"
    if max(width, height) > side:
        return f"a frame of {width}x{height} {too_large}"
    image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    if image is None:
        return "a frame could not be decoded as JPEG"
    if extractor[0] is None:
        extractor[0] = server.extractors.take()
    h, w = image.shape[:2]
    rgb = np.ascontiguousarray(image[..., ::-1])
    xyz, present = extractor[0].frame_arrays(extractor[0].process_frame(rgb), w, h)[:2]
    return xyz, present, w, h


def serve(run: str | Path, config: ServeConfig | None = None, announce=print) -> None:
    """Run the app with uvicorn until interrupted; `announce` gets the address once the
    run is loaded and the port is free."""
    import socket

    config = config or ServeConfig()
    app = create_app(run, config)
    try:  # a port in use is one line, before uvicorn would log a traceback-like error
        with socket.create_server((config.host, config.port)):
            pass
    except OSError as e:
        reason = (e.strerror or str(e)).split(" (")[0]
        raise SignposeError(f"cannot listen on {config.host}:{config.port} ({reason}); choose another --port") from None
    host = "localhost" if config.host in ("127.0.0.1", "::1") else config.host
    announce(f"http://{host}:{config.port}/")

    make_server(app, config).run()
