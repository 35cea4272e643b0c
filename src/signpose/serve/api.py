"""The HTTP API's shapes, for its docs and its one error shape: every error is
{"error": message} with its status (FastAPI's own 404, 405 and 422 included)."""

from __future__ import annotations

from pydantic import BaseModel, Field

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
