"""Issue 29's learned option, measured: a small per-frame sign / not-sign tagger in place of
the decoder's hand rule, on the continuous benchmark's streams (bench_continuous.py).

The tagger follows the design of Moryossef et al. 2023 (sign language segmentation: a
small model tags every frame from the body's points) at the size that isolated clips can
train. For each fold it learns from the fold's training people only (never the test
person): streams made the benchmark's way from their own clips (the three joinings, 10
streams a person and joining, another seed than the test streams), each frame labelled
"sign" inside a clip's active span (its first to its last frame with a hand in the signing
space) and "none" elsewhere (rest, the synthetic transitions, a clip's lead-in and
lead-out). Its input per frame: each hand seen or not, the hands' centres and the pose's
wrists and elbows relative to the shoulders (in shoulder widths), and their motion since
the frame before. Its model: a causal temporal convolution (receptive field 0.5 s at 30
frames/s, so it can run live), 2 layers of 32 channels.

The decoder then opens and closes segments on the tagger ("sign" above 0.5) instead of
on the hands; everything else (the confidence peak, the split) is the default decoder's.
Reported: SER per joining for the default and the tagger at three gaps (the tagger marks
transitions as none, so a shorter gap than the hand rule's may split there), and the
paired difference to the default over people, all joinings together.

    python benchmarks/bench_tagger.py     # needs bench_continuous's runs (trains them when missing)
"""

from __future__ import annotations

import json
import logging
import sys
import time
from pathlib import Path

import numpy as np
import torch
from torch import nn

sys.path.insert(0, str(Path(__file__).parent))
import bench_continuous as bc  # noqa: E402
from common import report  # noqa: E402

from signpose.data.dataset import Dataset  # noqa: E402
from signpose.data.keypoints import KeypointSequence  # noqa: E402
from signpose.data.schema import LEFT_HAND, LEFT_SHOULDER, RIGHT_HAND, RIGHT_SHOULDER, point  # noqa: E402
from signpose.recognise.decoder import LiveConfig, StreamDecoder, signing_frames  # noqa: E402
from signpose.recognise.recognizer import Recognizer  # noqa: E402

TRAIN_STREAMS = 10
EPOCHS = 30
ARMS = [point("pose", n) for n in ("LEFT_WRIST", "RIGHT_WRIST", "LEFT_ELBOW", "RIGHT_ELBOW")]
GAPS = (0.1, 0.2, 0.4)


def frame_features(xyz: np.ndarray, present: np.ndarray) -> np.ndarray:
    """(T, 543, 3), (T, 543) -> (T, 26) float32: hands seen, the hands' centres and the arms'
    points relative to the shoulders' middle in shoulder widths (0 where unseen), and the
    change of those positions since the frame before."""
    shoulders = present[:, [LEFT_SHOULDER, RIGHT_SHOULDER]].all(1)
    mid = (xyz[:, LEFT_SHOULDER, :2] + xyz[:, RIGHT_SHOULDER, :2]) / 2
    width = np.linalg.norm(xyz[:, LEFT_SHOULDER, :2] - xyz[:, RIGHT_SHOULDER, :2], axis=1)
    width = np.where(shoulders & (width > 1e-6), width, 1.0)[:, None]
    seen, places = [], []
    for hand in (LEFT_HAND, RIGHT_HAND):
        mask = present[:, hand.slice]
        count = mask.sum(1)
        centre = (xyz[:, hand.slice, :2] * mask[..., None]).sum(1) / np.maximum(count, 1)[:, None]
        seen.append(count > 0)
        places.append(np.where((count > 0)[:, None], (centre - mid) / width, 0.0))
    for p in ARMS:
        places.append(np.where(present[:, p, None], (xyz[:, p, :2] - mid) / width, 0.0))
    where = np.concatenate(places, 1) * shoulders[:, None]
    motion = np.diff(where, axis=0, prepend=where[:1])
    return np.concatenate([np.stack(seen, 1), where, np.clip(motion, -1, 1)], 1).astype(np.float32)


class Tagger(nn.Module):
    """Causal temporal convolution: each frame's "sign" logit from it and the 15 before."""

    def __init__(self, features: int = 26, width: int = 32):
        super().__init__()
        self.pad = (7, 8)  # left padding of the two layers (kernel 8, then kernel 9)
        self.one = nn.Conv1d(features, width, 8)
        self.two = nn.Conv1d(width, width, 9)
        self.out = nn.Conv1d(width, 1, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (B, T, F) -> (B, T)
        h = x.transpose(1, 2)
        h = torch.relu(self.one(nn.functional.pad(h, (self.pad[0], 0))))
        h = torch.relu(self.two(nn.functional.pad(h, (self.pad[1], 0))))
        return self.out(h)[:, 0]


def labels(stream: bc.Stream) -> np.ndarray:
    """Frames inside a clip's active span: from its first to its last frame with a hand up."""
    y = np.zeros(stream.seq.frames, np.float32)
    up = signing_frames(stream.seq.xyz, stream.seq.present, LiveConfig().rest_line, arms=False)
    for a, b in stream.spans:
        inside = np.flatnonzero(up[a : b + 1])
        if len(inside):
            y[a + inside[0] : a + inside[-1] + 1] = 1
    return y


def training_streams(dataset: Path, run: Path) -> list[bc.Stream]:
    info = json.loads((run / "run.json").read_text("utf-8"))
    data, known = Dataset(dataset), set(info["classes"])
    out = []
    for person in [*info["train_signers"], *info.get("validation_signers", [])]:
        rows = data.rows[(data.rows.signer == person) & data.rows.sign_id.isin(known)]
        seqs, loaded, _ = data.load(rows)
        clips: dict[str, list[KeypointSequence]] = {}
        for seq, sign in zip(seqs, loaded.sign_id, strict=True):
            clips.setdefault(sign, []).append(seq)
        if len(clips) >= 2:
            for joining in bc.JOININGS:
                out += bc.make_streams(person, clips, joining, TRAIN_STREAMS, seed=1)
    return out


def train(streams: list[bc.Stream], seed: int = 0) -> Tagger:
    torch.manual_seed(seed)
    xs = [torch.from_numpy(frame_features(s.seq.xyz, s.seq.present)) for s in streams]
    ys = [torch.from_numpy(labels(s)) for s in streams]
    x = nn.utils.rnn.pad_sequence(xs, batch_first=True)
    y = nn.utils.rnn.pad_sequence(ys, batch_first=True)
    mask = nn.utils.rnn.pad_sequence([torch.ones(len(v)) for v in ys], batch_first=True)
    model = Tagger(x.shape[-1])
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3, weight_decay=1e-3)
    order = np.random.default_rng(seed)
    for _ in range(EPOCHS):
        for batch in np.array_split(order.permutation(len(xs)), max(1, len(xs) // 32)):
            logits = model(x[batch])
            loss = nn.functional.binary_cross_entropy_with_logits(logits, y[batch], reduction="none") * mask[batch]
            loss = loss.sum() / mask[batch].sum()
            opt.zero_grad()
            loss.backward()
            opt.step()
    return model.eval()


def tag(model: Tagger, seq: KeypointSequence) -> np.ndarray:
    with torch.no_grad():
        return torch.sigmoid(model(torch.from_numpy(frame_features(seq.xyz, seq.present))[None]))[0].numpy()


def decode_tagged(rec: Recognizer, classify, stream: bc.Stream, signing: np.ndarray, gap: float) -> list[dict]:
    """The default decoder with the tagger's frames (causal: frame t's tag needs no later
    frame) opening and closing its segments."""
    decoder = StreamDecoder(LiveConfig(gap=gap), stream.seq.fps, classify, rec.classes, rec.names, top_k=1)
    events = []
    for xyz, present, up in zip(stream.seq.xyz, stream.seq.present, signing, strict=True):
        events += decoder.push(xyz, present, stream.seq.width, stream.seq.height, signing=bool(up))
    events += decoder.finish()
    return [e for e in events if e["type"] == "commit"]


def main() -> None:
    logging.getLogger("lightning").setLevel(logging.ERROR)
    torch.set_num_threads(1)
    results: dict[tuple[str, str, str], list[dict]] = {}
    frame_accuracy = []
    started = time.perf_counter()
    for set_name, (dataset, folder) in bc.fold_folders().items():
        for run, streams in bc.people_streams(dataset, folder):
            model = train(training_streams(dataset, run))
            rec = Recognizer(run)
            classify = bc.CachedClassifier(rec)
            for stream in streams:
                signing = tag(model, stream.seq) > 0.5
                frame_accuracy.append((signing == (labels(stream) > 0)).mean())
                key = (set_name, stream.joining)
                results.setdefault((*key, "segment (defaults)"), []).append(
                    bc.score(stream, bc.decode(rec, classify, stream, LiveConfig()))
                )
                for gap in GAPS:
                    commits = decode_tagged(rec, classify, stream, signing, gap)
                    results.setdefault((*key, f"tagger, gap {gap:g} s"), []).append(bc.score(stream, commits))
            print(f"{set_name} {run.name}: {time.perf_counter() - started:.0f} s", file=sys.stderr, flush=True)
    rng = np.random.default_rng(0)
    names = ["segment (defaults)", *(f"tagger, gap {g:g} s" for g in GAPS)]
    rows = []
    for joining in bc.JOININGS:
        for name in names:
            scores = [s for (st, j, c), v in results.items() if j == joining and c == name for s in v]
            summary = bc.summarise(scores, rng)
            rows.append(
                {
                    "joining": joining,
                    "decoder": name,
                    "pooled SER": round(summary["SER"], 3),
                    "boundary F1": round(summary["boundary F1"], 3),
                    "delay median s": round(summary["delay median s"], 3),
                }
            )
    notes = {f"{n} - default, SER per person [95%]": bc.paired_difference(results, n, names[0], rng) for n in names[1:]}
    notes["tagger frame accuracy on the test streams"] = round(float(np.mean(frame_accuracy)), 3)
    report("tagger", rows, notes)


if __name__ == "__main__":
    main()
