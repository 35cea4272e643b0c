"""One live WebSocket client, as an object with its state: landmarks are handled as they
come; frames (frames mode) go through a one-frame slot, so a frame arriving while the last
is still in MediaPipe replaces the waiting one (dropped) instead of queueing."""

from __future__ import annotations

import asyncio
import io
import json
import time
from concurrent.futures import Future

import numpy as np
from fastapi import WebSocket

from ..errors import SignposeError
from ..extract.holistic import HolisticExtractor
from .server import Server
from .stream import CLIENT_FPS, LiveStream, RateLimit, arrays_to_parts, landmarks_to_arrays

MAX_ERRORS = 20  # invalid live messages before the server closes the connection


class LiveConnection:
    """One client until it disconnects: its stream decoder, its counts, and in frames mode
    the frame waiting for MediaPipe and its own MediaPipe graph (tracking runs across its
    frames)."""

    def __init__(self, ws: WebSocket, server: Server, mode: str, recognizer=None):
        config = server.config
        self.ws, self.server, self.mode = ws, server, mode
        rec = recognizer or server.recognizer
        self.stream = LiveStream(rec, config.live, config.recognition.top_k, CLIENT_FPS[mode])
        self.limit = RateLimit(config.max_live_fps)
        self.counts = {"received": 0, "processed": 0, "dropped": 0, "invalid": 0}
        self.latest: tuple[bytes, float] | None = None  # the frame waiting for MediaPipe
        self.ready = asyncio.Event()
        self.extractor: HolisticExtractor | None = None  # this stream's graph, once it has one
        self.in_mediapipe: Future | None = None  # this stream's pass on its graph, while one runs

    async def run(self) -> None:
        config = self.server.config
        await self.ws.send_json(
            {"type": "hello", "mode": self.mode, "live": config.live.model_dump(), "top_k": config.recognition.top_k}
        )
        worker = asyncio.create_task(self.process_frames()) if self.mode == "frames" else None
        try:
            while True:
                message = await self.ws.receive()
                if message["type"] == "websocket.disconnect":
                    return
                self.counts["received"] += 1
                if message.get("bytes") is not None:
                    if self.mode != "frames":
                        if await self.invalid("binary frames need mode=frames"):
                            return
                    elif worker.done():
                        return
                    else:
                        self.counts["dropped"] += self.latest is not None
                        self.latest = (message["bytes"], time.time())
                        self.ready.set()
                    continue
                if await self.on_text(message.get("text") or ""):
                    return
        finally:
            if worker is not None:
                worker.cancel()
            self.give_back_graph()

    async def on_text(self, text: str) -> bool:
        """One JSON message; True when the connection was closed (too many invalid ones)."""
        loop = asyncio.get_running_loop()
        stream, counts = self.stream, self.counts
        try:
            # parsed off the event loop when large, so one client cannot stall the others
            data = await loop.run_in_executor(None, _parse, text) if len(text) > 4096 else _parse(text)
            if not isinstance(data, dict):
                raise SignposeError("a message must be a JSON object with a 'type'")
            kind = data.get("type")
            if kind == "landmarks":
                if not self.limit.allow():
                    counts["dropped"] += 1
                    return False
                xyz, present, w, h = landmarks_to_arrays(data)
                counts["processed"] += 1
                await self.send_all(await loop.run_in_executor(None, stream.push, xyz, present, w, h))
            elif kind == "config":
                await self.ws.send_json({"type": "config", **stream.configure(data), **counts})
            elif kind == "reset":
                stream.reset()
            elif kind == "end":
                await self.send_all(stream.finish())
                await self.ws.send_json({"type": "end", "frames": stream.frames, **counts})
            else:
                raise SignposeError("'type' must be landmarks, config, reset or end")
        except (SignposeError, ValueError) as e:
            return await self.invalid(str(e))
        return False

    async def invalid(self, message: str) -> bool:
        """Answers an invalid message; True when there have been too many (then closed)."""
        self.counts["invalid"] += 1
        await self.ws.send_json({"type": "error", "message": message, **self.counts})
        if self.counts["invalid"] > MAX_ERRORS:
            await self.ws.close(code=1008, reason="too many invalid messages")
            return True
        return False

    async def send_all(self, messages: list[dict]) -> None:
        for message in messages:
            await self.ws.send_json({**message, **self.counts})

    async def process_frames(self) -> None:
        """Frames mode: the waiting frame through MediaPipe whenever a worker is free."""
        loop, server = asyncio.get_running_loop(), self.server
        while True:
            await self.ready.wait()
            self.ready.clear()
            item, self.latest = self.latest, None
            if item is None:
                continue
            data, sent = item
            if not server.try_slot():  # every MediaPipe worker busy: this frame is dropped
                self.counts["dropped"] += 1
                continue
            self.in_mediapipe = server.pool.submit(self.frame_points, data)
            self.in_mediapipe.add_done_callback(lambda _f: server.free_slot())
            try:
                result = await asyncio.wrap_future(self.in_mediapipe)
            except Exception as e:  # the stream goes on: an unforeseen frame is one invalid message
                result = f"a frame could not be processed ({type(e).__name__})"
            if isinstance(result, str):
                if await self.invalid(result):
                    return
                continue
            xyz, present, w, h = result
            self.counts["processed"] += 1
            parts = arrays_to_parts(xyz, present, w, h)
            await self.ws.send_json({"type": "landmarks", "sent": sent, "parts": parts, **self.counts})
            await self.send_all(await loop.run_in_executor(None, self.stream.push, xyz, present, w, h))

    def frame_points(self, data: bytes):
        """Runs in the pool: one JPEG through this stream's own MediaPipe graph. A message
        (str) when the bytes are not a usable image."""
        import cv2
        from PIL import Image, UnidentifiedImageError

        side = self.server.config.max_frame_side
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
        if self.extractor is None:
            self.extractor = self.server.extractors.take()
        h, w = image.shape[:2]
        rgb = np.ascontiguousarray(image[..., ::-1])
        xyz, present = self.extractor.frame_arrays(self.extractor.process_frame(rgb), w, h)[:2]
        return xyz, present, w, h

    def give_back_graph(self) -> None:
        """The stream's graph goes back to the pool once the pass running on it has ended:
        never reset by one thread while another is inside it (that crashed the server), and
        never lost when the client leaves before the pass has taken its graph."""

        def give(_future=None) -> None:
            if self.extractor is not None:
                self.server.extractors.give(self.extractor)
                self.extractor = None

        running = self.in_mediapipe
        if running is not None and not running.done():
            running.add_done_callback(give)
        else:
            give()


def _parse(text: str):
    try:
        return json.loads(text)
    except RecursionError:  # '[[[[...' nested past Python's limit
        raise ValueError("a message must be a JSON object, not nested this deep") from None
