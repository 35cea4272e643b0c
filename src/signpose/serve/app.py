"""The web app: a page, an HTTP API and a live WebSocket around one trained run.

    GET  /                 the page
    GET  /api/health       status, run, model, classes, backend, version, modes, accuracy,
                           MediaPipe workers and graphs, threads by pool
    GET  /api/signs        [{sign_id, sign}] (Arabic names intact, UTF-8)
    GET  /api/protocol     the live WebSocket's messages, both ways
    GET  /api/device       what a page needs to classify on its own device (features, signs, layout)
    GET  /api/model.onnx   the run's models as one ONNX graph, for ONNX Runtime Web
    GET  /api/record       (serve --dataset) the takes recorded so far; POST /api/record/takes
                           adds one (landmarks), DELETE removes one, GET /api/record/frames replays one
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

One job a file: this one the routes; `server` the run, the MediaPipe pool and an upload's
work; `live` one live client; `guards` who may call and how much; `api` the replies' shapes;
`site` the page on the device (its model description, and the page as a static site).
"""

from __future__ import annotations

import asyncio
import errno
import shutil
import threading
from contextlib import asynccontextmanager
from pathlib import Path
from typing import TypeVar

from fastapi import FastAPI, Request, WebSocket, WebSocketDisconnect
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.datastructures import UploadFile as StarletteUpload
from starlette.exceptions import HTTPException as StarletteHTTPException

from .. import __version__
from ..errors import SignposeError, is_environment_error
from ..text import font_path
from .api import ERRORS, PREDICT_BODY, ApiError, PredictReply
from .config import ServeConfig
from .guards import WS_MAX_BYTES, SameOrigin, bounded, json_object
from .live import LiveConnection
from .record import Recorder
from .server import Server, thread_census
from .site import ORT_WEB, device_description
from .stream import CLIENT_FPS, PROTOCOL
from .trainjob import TrainJob

STATIC = Path(__file__).parent / "static"
TAKE_MAX_BYTES = 32 * 2**20  # a take's landmarks as JSON: ~25 kB a frame
HOLISTIC_JS = STATIC / "vendor" / "holistic"  # installed by `make` from npm (@mediapipe/holistic)
SWAGGER_UI = STATIC / "vendor" / "swagger-ui"  # likewise (swagger-ui-dist): /docs without a CDN


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


Part = TypeVar("Part")


def needs_dataset(part: Part | None, missing: str) -> Part:
    """The Record view's and the Train button's parts exist only with `serve --dataset`:
    without it, each of their routes is one 404 that says how to get them."""
    if part is None:
        raise ApiError(404, f"this server {missing}; start it with --dataset DIR")
    return part


def create_app(run: str | Path | list[str | Path], config: ServeConfig | None = None) -> FastAPI:
    """The FastAPI app serving `run`, or several runs (loaded once, here; the first is the
    default, and `?run=NAME` picks another on every route)."""
    config = config or ServeConfig()
    server = Server(run, config)

    @asynccontextmanager
    async def lifespan(_app: FastAPI):
        yield
        if app.state.train_job is not None:  # a training process does not outlive the server
            app.state.train_job.close()
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
    async def health(run: str | None = None):
        """The run served (model, features, signs, measured accuracy; `?run=` another of the
        runs served), the live settings and how busy the MediaPipe workers are."""
        name, rec = server.pick(run)
        return {
            "status": "ok",
            "run": name,
            "runs": list(server.recognizers),  # the runs this server offers (the first is the default)
            "model": rec.config.model,
            "models": len(rec.models),  # more than 1: an ensemble (train --seeds) or fused streams
            "weights": [round(float(w), 4) for w in rec.weights],  # each model's share of the probabilities
            "features": rec.config.features.features,
            "classes": len(rec.classes),
            "backend": config.recognition.backend,
            "version": __version__,
            "modes": ["landmarks", "frames"] if (HOLISTIC_JS / "holistic.js").is_file() else ["frames"],
            "accuracy": server.accuracies[name],
            "live": config.live.model_dump(),
            "extraction": rec.extraction.model_dump(),
            "workers": config.workers,
            "busy": config.workers - server.slots,
            "graphs": {"made": server.extractors.made, "free": server.extractors.free.qsize()},  # MediaPipe
            "live_clients": server.live_clients,
            "threads": thread_census(config.workers),  # by pool, with caps: a leak shows outside them
            "protocol": "/api/protocol",  # the live WebSocket's messages
            "recording": config.dataset is not None,  # the page's Record view (serve --dataset)
        }

    models: dict[str, asyncio.Future] = {}  # each run's ONNX graph, exported once when first asked for
    recorder = Recorder(config.dataset, server.recognizer.extraction) if config.dataset else None
    job = TrainJob(Path(config.dataset), server.add_run) if config.dataset else None
    app.state.train_job = job

    def the_job() -> TrainJob:
        return needs_dataset(job, "trains nothing")

    @app.post("/api/train", status_code=202)
    async def train_start(request: Request):
        """Train on the recorded takes ({"epochs": N}, default 30): one job at a time (409
        while one runs); when it ends, the new run is served (`?run=` its name)."""
        job = the_job()
        body = await json_object(request, 4096, 'the body ({"epochs": N})', empty={})
        epochs = body.get("epochs", 30)
        if isinstance(epochs, bool) or not isinstance(epochs, int) or not 1 <= epochs <= 1000:
            raise ApiError(422, "'epochs' must be a whole number from 1 to 1000")
        try:
            return await asyncio.to_thread(job.start, epochs)
        except SignposeError as e:
            raise ApiError(409, str(e)) from None

    @app.get("/api/train")
    async def train_status():
        """The training job: idle, running (epoch of epochs, losses), done (the run served), failed or cancelled."""
        return the_job().status()

    @app.delete("/api/train")
    async def train_cancel():
        """Stop the running job (its run folder stays, resumable)."""
        try:
            return the_job().cancel()
        except SignposeError as e:
            raise ApiError(409, str(e)) from None

    def the_recorder() -> Recorder:
        return needs_dataset(recorder, "records no takes")

    @app.get("/api/record")
    async def record_state():
        """The dataset the page records into, and its takes so far (a reload resumes the count)."""
        rec = the_recorder()
        return {"dataset": rec.root.name, "takes": await asyncio.to_thread(rec.takes)}

    @app.post("/api/record/takes", status_code=201)
    async def record_take(request: Request):
        """One take the page recorded: {"signer", "sign", "fps", "frames": [{"w", "h", "parts"}, ...]}
        (landmarks only), written as one sample; 422 when no hand was seen in it."""
        rec = the_recorder()
        message = await json_object(request, TAKE_MAX_BYTES, "a take")
        try:
            return await asyncio.to_thread(rec.add, message)
        except SignposeError as e:
            raise ApiError(422, str(e)) from None
        except OSError as e:
            raise unwritable_dataset(e, "keep this take") from None

    @app.get("/api/record/frames")
    async def record_frames(sample: str):
        """A take's points, to replay it as a skeleton."""
        try:
            return await asyncio.to_thread(the_recorder().frames, sample)
        except KeyError:
            raise ApiError(404, f"no take {sample!r}") from None

    @app.delete("/api/record/takes")
    async def record_delete(sample: str):
        """Delete one take (its sample and pose file)."""
        try:
            removed = await asyncio.to_thread(the_recorder().delete, sample)
        except SignposeError as e:
            raise ApiError(400, str(e)) from None
        except OSError as e:
            raise unwritable_dataset(e, "delete this take") from None
        if not removed:
            raise ApiError(404, f"no take {sample!r}")
        return {"deleted": sample}

    @app.get("/api/device")
    async def device(run: str | None = None):
        """What a page needs to classify on its own device: the first feature stage's settings
        and points, the signs, the 543 points' layout and the live settings
        (the graph itself: /api/model.onnx)."""
        name, rec = server.pick(run)
        return device_description(rec, name, config.live, server.accuracies[name]) | {"fps": CLIENT_FPS["landmarks"]}

    @app.get("/api/model.onnx", responses={200: {"content": {"application/octet-stream": {}}}})
    async def model_onnx(run: str | None = None):
        """The run's models as one ONNX graph (prepared points in, logits out), for ONNX
        Runtime Web on the signer's device: exported once, then served from memory."""
        name, rec = server.pick(run)
        if name not in models:
            models[name] = asyncio.ensure_future(asyncio.to_thread(rec.onnx_bytes))
        try:
            data = await asyncio.shield(models[name])
        except SignposeError as e:
            models.pop(name, None)
            raise ApiError(409, str(e)) from None
        return Response(data, media_type="application/octet-stream", headers={"Cache-Control": "no-cache"})

    @app.get("/api/signs")
    async def signs(run: str | None = None):
        """The signs the model knows, in class order, with their names (Arabic kept as UTF-8)."""
        rec = server.pick(run)[1]
        return [{"sign_id": i, "sign": n} for i, n in zip(rec.classes, rec.names, strict=True)]

    # documented, not enforced: the reply is built by predict_file (the docs showed "string")
    @app.post("/api/predict", openapi_extra=PREDICT_BODY, responses={200: {"model": PredictReply}, **ERRORS})
    async def predict(request: Request, annotate: bool = False, run: str | None = None):
        """The sign in one uploaded video (multipart field `video`), with its signs one after
        another (`transcript`); `?annotate=1` adds the URL of the video with the landmarks drawn."""
        # The body is read first, counted and timed (a chunked body has no declared length,
        # a slow client must not hold a MediaPipe slot); only then is a slot taken.
        recognizer = server.pick(run)[1]
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
                body = bounded(request, limit + 64 * 1024, too_large).form(max_files=1, max_fields=10)
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
                    asyncio.get_running_loop().run_in_executor(
                        server.pool, server.predict_file, path, annotate, cancel, recognizer
                    )
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
    async def live(ws: WebSocket, mode: str = "landmarks", run: str | None = None):
        await ws.accept()
        try:
            recognizer = server.pick(run)[1]
        except ApiError as e:
            await ws.send_json({"type": "error", "message": e.message})
            await ws.close(code=1008)
            return
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
            await LiveConnection(ws, server, mode, recognizer).run()
        except WebSocketDisconnect:
            pass
        finally:
            server.live_clients -= 1
            server.frame_streams -= mode == "frames"

    if HOLISTIC_JS.is_dir():
        app.mount("/vendor/holistic", StaticFiles(directory=HOLISTIC_JS), name="holistic")
    if SWAGGER_UI.is_dir():
        app.mount("/vendor/swagger-ui", StaticFiles(directory=SWAGGER_UI), name="swagger-ui")
    if ORT_WEB.is_dir():
        app.mount("/vendor/ort", StaticFiles(directory=ORT_WEB), name="ort")
    return app


def unwritable_dataset(error: OSError, what: str) -> ApiError:
    """A full or unwritable dataset disk is the server's problem (507), said in one line; the
    takes written before stay (each is written whole or not at all)."""
    if not is_environment_error(error):
        raise error
    why = "its disk is full" if error.errno in (errno.ENOSPC, errno.EDQUOT) else "its dataset folder cannot be written"
    return ApiError(507, f"the server cannot {what}: {why}; the takes before it are kept; tell the server's operator")


def serve(run: str | Path | list[str | Path], config: ServeConfig | None = None, announce=print) -> None:
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
