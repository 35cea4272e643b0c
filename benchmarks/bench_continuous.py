"""Continuous signing on real people never seen (issue 29): streams of 2-6 signs made from
each test person's own isolated clips, decoded by the stream decoder and by hold-to-commit.

The people and their models: the 22 recorders (people22, 5 person-grouped folds) and the 6
asl-signs participants (one left out at a time) use the accuracy study's default runs
(bench_people.py: `islr` default, 30 fixed epochs, seed 0; trained here when missing);
the two KArSL-100 signers (7 signs) are each tested on a model of the other one. A person's
streams only use signs their fold's model knows.

Each stream starts and ends with the person at rest, and its signs (in random order, no
sign twice in a row) are joined three ways:
  rest        the person's own rest frames between signs, 0.5-1.0 s: frames of their clips
              with no hand seen and no arm (the pose's wrists) in the signing space; where a
              person has too few, their body from a clip with the hands out of view. (The
              first version took any frame without a hand, and most of those were frames where
              the hand model had lost a raised hand mid-sign: not rest. BENCH_REST=clip-gaps
              builds those streams again.)
  transition  a 0.2 s linear interpolation from one clip's last frame to the next's first
  back-to-back the clips one after another
The truth is each clip's span in the stream. Figures, per joining and configuration:
  SER        sign error rate: (substitutions + insertions + deletions) / signs, pooled over
             streams (as word error rate is counted); per person too, with a 95% bootstrap
             interval over people
  boundary F1  a sign's start and end each count as a boundary; a decoded one matches a true
             one within 5 frames (one to one)
  delay      from a sign's true end to the moment it was committed, for correctly decoded
             signs (median, seconds)

Each setting is also compared with the default, paired by person: the mean over people of
(its SER - the default's), all joinings together, with a 95% bootstrap interval.

    python benchmarks/bench_continuous.py                    # train what is missing, decode, report
    BENCH_STREAMS=5 python benchmarks/bench_continuous.py    # streams per person and joining (default 15)
    BENCH_SWEEP=0 ...                                        # the default and hold-to-commit only
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
import bench_people  # noqa: E402
from common import OUT, report, require_shared  # noqa: E402

from signpose.data.dataset import Dataset  # noqa: E402
from signpose.data.importers import import_npz  # noqa: E402
from signpose.data.keypoints import KeypointSequence  # noqa: E402
from signpose.data.schema import LEFT_HAND, POSE_HANDS, RIGHT_HAND  # noqa: E402
from signpose.learn.training import cross_validate  # noqa: E402
from signpose.recognise.decoder import LiveConfig, StreamDecoder, signing_frames  # noqa: E402,F401
from signpose.recognise.recognizer import Recognizer  # noqa: E402

RUNS = OUT / "continuous-runs"
STREAMS = int(os.environ.get("BENCH_STREAMS", 15))
JOININGS = ("rest", "transition", "back-to-back")
TOLERANCE = 5  # frames, for boundary F1
KARSL_FPS = 15.0  # KArSL's release kept 18 of each clip's ~24-47 frames at 30 fps: about 15 a second
DRAWS = 10_000

HOLD = {"mode": "hold"}  # 0.3's hold-to-commit, at its own settings
# The decoder's settings varied one at a time around the starting point (LiveConfig's own
# defaults): the default is chosen on every person and joining pooled, never per fold.
SWEEP: dict[str, dict] = {
    "segment (defaults)": {},
    "hands only (arms off)": {"arms": False},
    "threshold 0.3": {"threshold": 0.3},
    "gap 0.3 s": {"gap": 0.3},
    "gap 0.5 s": {"gap": 0.5},
    "min_sign 0.3 s": {"min_sign": 0.3},
    "max_sign 3 s": {"max_sign": 3.0},
}
# whether rest frames must be at rest (False: any frame without hands, as the first version had it)
AT_REST = os.environ.get("BENCH_REST", "at-rest") == "at-rest"
ORACLE = "each true span alone (floor)"  # the classifier on each clip's own frames: no decoder errors


# -- models ---------------------------------------------------------------------------------


def karsl_dataset() -> Path:
    path = OUT / "continuous" / "data" / "karsl"
    if not (path / "manifest.csv").is_file():
        import_npz(require_shared("karsl", "karsl7_signers02_03_258.npz"), path, fps=KARSL_FPS, progress=False)
    return path


def fold_folders() -> dict[str, tuple[Path, Path]]:
    """set -> (dataset, the folder of its fold runs), each trained when missing."""
    sets = bench_people.datasets()
    config = bench_people.settings(bench_people.CANDIDATES[bench_people.DEFAULT], 0)
    out = {}
    for name in ("people22", "asl-signs"):
        folder = bench_people.run_folder(name, bench_people.DEFAULT, config)
        if not (folder / "cv.json").is_file():
            cross_validate(sets[name], folder, config, progress=False, folds=bench_people.folds_of(name))
        out[name] = (sets[name], folder)
    karsl = karsl_dataset()
    folder = RUNS / "karsl" / "default-seed0"
    if not (folder / "cv.json").is_file():
        cross_validate(karsl, folder, config, progress=False)
    out["karsl"] = (karsl, folder)
    return out


# -- streams --------------------------------------------------------------------------------


@dataclass
class Stream:
    person: str
    joining: str
    seq: KeypointSequence
    signs: list[str]  # sign ids, in order
    spans: list[tuple[int, int]]  # each sign's first and last frame


def rest_frames(clips: list[KeypointSequence]) -> tuple[np.ndarray, np.ndarray]:
    """The person's own frames at rest: no hand seen and no arm in the signing space (a
    frame where only the hand model lost a raised hand is not rest). Where they have fewer
    than a second's worth, their body from their clips' first frames with the hands out of
    view (the hand model's hands and the pose's wrists and fingers taken away)."""
    xyz = np.concatenate([c.xyz for c in clips])
    present = np.concatenate([c.present for c in clips])
    rest = ~np.concatenate([c.hands_per_frame() for c in clips])
    if AT_REST:
        rest &= ~signing_frames(xyz, present, LiveConfig().rest_line, arms=True)
    if rest.sum() >= clips[0].fps:
        return xyz[rest], present[rest]
    xyz, present = np.stack([c.xyz[0] for c in clips]), np.stack([c.present[0] for c in clips])
    for hand in (LEFT_HAND, RIGHT_HAND):
        present[:, hand.slice] = False
    if AT_REST:
        present[:, POSE_HANDS] = False
    return xyz, present


def make_streams(
    person: str, clips: dict[str, list[KeypointSequence]], joining: str, n: int, seed: int
) -> list[Stream]:
    """`n` streams of one person: 2-6 of their signs, no sign twice in a row, each a
    different clip, joined as `joining`; rest before the first and after the last."""
    rng = np.random.default_rng([seed, int(hashlib.sha1(person.encode()).hexdigest()[:8], 16), JOININGS.index(joining)])
    all_clips = [c for cs in clips.values() for c in cs]
    fps = all_clips[0].fps
    rest_xyz, rest_present = rest_frames(all_clips)
    signs = sorted(clips)

    def rest(seconds: float) -> tuple[np.ndarray, np.ndarray]:
        count = max(1, round(seconds * fps))
        start = rng.integers(0, max(1, len(rest_xyz) - count))
        idx = (start + np.arange(count)) % len(rest_xyz)
        return rest_xyz[idx], rest_present[idx]

    out = []
    for _ in range(n):
        k = int(rng.integers(2, 7))
        order: list[str] = []
        while len(order) < k:
            choice = [s for s in signs if not order or s != order[-1]]
            order.append(str(rng.choice(choice)))
        used: dict[str, set] = {}
        parts: list[tuple[np.ndarray, np.ndarray]] = [rest(rng.uniform(0.5, 1.0))]
        spans, cursor = [], len(parts[0][0])
        previous: KeypointSequence | None = None
        for i, sign in enumerate(order):
            free = [j for j in range(len(clips[sign])) if j not in used.setdefault(sign, set())] or list(
                range(len(clips[sign]))
            )
            j = int(rng.choice(free))
            used[sign].add(j)
            clip = clips[sign][j]
            if i > 0:
                if joining == "rest":
                    between = rest(rng.uniform(0.5, 1.0))
                elif joining == "transition":
                    between = interpolate(previous, clip, max(1, round(0.2 * fps)))
                else:
                    between = None
                if between is not None:
                    parts.append(between)
                    cursor += len(between[0])
            parts.append((clip.xyz, clip.present))
            spans.append((cursor, cursor + clip.frames - 1))
            cursor += clip.frames
            previous = clip
        parts.append(rest(rng.uniform(0.5, 1.0)))
        xyz = np.concatenate([p[0] for p in parts])
        present = np.concatenate([p[1] for p in parts])
        seq = KeypointSequence(xyz, present, fps, all_clips[0].width, all_clips[0].height)
        out.append(Stream(person, joining, seq, order, spans))
    return out


def interpolate(a: KeypointSequence, b: KeypointSequence, frames: int) -> tuple[np.ndarray, np.ndarray]:
    """From a's last frame to b's first: points seen in both move in a straight line; a
    point seen in only one is absent."""
    w = (np.arange(1, frames + 1) / (frames + 1))[:, None, None]
    xyz = (1 - w) * a.xyz[-1] + w * b.xyz[0]
    present = np.repeat((a.present[-1] & b.present[0])[None], frames, 0)
    return xyz.astype(np.float32), present


# -- decoding and scoring -------------------------------------------------------------------


class CachedClassifier:
    """A recogniser's probabilities, remembered per window (configurations share most)."""

    def __init__(self, rec: Recognizer):
        self.rec, self.cache, self.calls = rec, {}, 0

    def __call__(self, seq: KeypointSequence) -> np.ndarray | None:
        key = hashlib.blake2b(seq.xyz.tobytes() + seq.present.tobytes(), digest_size=16).digest()
        if key not in self.cache:
            self.calls += 1
            self.cache[key] = self.rec.sign_probabilities(seq)
        return self.cache[key]


def oracle(rec: Recognizer, classify, stream: Stream) -> list[dict]:
    """Each true span classified alone: what a perfect segmenter would get from this classifier."""
    commits = []
    for a, b in stream.spans:
        seq = stream.seq
        probs = classify(KeypointSequence(seq.xyz[a : b + 1], seq.present[a : b + 1], seq.fps, seq.width, seq.height))
        if probs is not None:
            i = int(np.argmax(probs))
            commits.append({"sign_id": rec.classes[i], "start_frame": a, "end_frame": b, "frame": b})
    return commits


def decode(rec: Recognizer, classify, stream: Stream, config: LiveConfig) -> list[dict]:
    decoder = StreamDecoder(config, stream.seq.fps, classify, rec.classes, rec.names, top_k=1)
    events = []
    for xyz, present in zip(stream.seq.xyz, stream.seq.present, strict=True):
        events += decoder.push(xyz, present, stream.seq.width, stream.seq.height)
    events += decoder.finish()
    return [e for e in events if e["type"] == "commit"]


def align(ref: list[str], hyp: list[str]) -> tuple[int, list[tuple[int, int]]]:
    """Edit distance, and the pairs (ref index, hyp index) aligned as correct."""
    n, m = len(ref), len(hyp)
    d = np.zeros((n + 1, m + 1), int)
    d[:, 0], d[0, :] = np.arange(n + 1), np.arange(m + 1)
    for i in range(1, n + 1):
        for j in range(1, m + 1):
            d[i, j] = min(d[i - 1, j] + 1, d[i, j - 1] + 1, d[i - 1, j - 1] + (ref[i - 1] != hyp[j - 1]))
    pairs, i, j = [], n, m
    while i > 0 and j > 0:
        if d[i, j] == d[i - 1, j - 1] + (ref[i - 1] != hyp[j - 1]):
            if ref[i - 1] == hyp[j - 1]:
                pairs.append((i - 1, j - 1))
            i, j = i - 1, j - 1
        elif d[i, j] == d[i - 1, j] + 1:
            i -= 1
        else:
            j -= 1
    return int(d[n, m]), pairs[::-1]


def boundary_matches(ref: list[int], hyp: list[int], tolerance: int) -> int:
    """One-to-one matches of boundary frames within `tolerance`, nearest first."""
    pairs = sorted((abs(r - h), i, j) for i, r in enumerate(ref) for j, h in enumerate(hyp) if abs(r - h) <= tolerance)
    used_r, used_h, count = set(), set(), 0
    for _, i, j in pairs:
        if i not in used_r and j not in used_h:
            used_r.add(i)
            used_h.add(j)
            count += 1
    return count


def score(stream: Stream, commits: list[dict]) -> dict:
    hyp = [c["sign_id"] for c in commits]
    edits, pairs = align(stream.signs, hyp)
    ref_b = [f for span in stream.spans for f in span]
    hyp_b = [f for c in commits for f in (c["start_frame"], c["end_frame"])]
    delays = [(commits[j]["frame"] - stream.spans[i][1]) / stream.seq.fps for i, j in pairs]
    return {
        "person": stream.person,
        "signs": len(stream.signs),
        "edits": edits,
        "committed": len(hyp),
        "matched": boundary_matches(ref_b, hyp_b, TOLERANCE),
        "ref_b": len(ref_b),
        "hyp_b": len(hyp_b),
        "delays": delays,
    }


def summarise(scores: list[dict], rng) -> dict:
    signs = sum(s["signs"] for s in scores)
    edits = sum(s["edits"] for s in scores)
    matched = sum(s["matched"] for s in scores)
    precision = matched / max(1, sum(s["hyp_b"] for s in scores))
    recall = matched / max(1, sum(s["ref_b"] for s in scores))
    delays = [d for s in scores for d in s["delays"]]
    people = sorted({s["person"] for s in scores})
    per_person = np.array(
        [
            sum(s["edits"] for s in scores if s["person"] == p) / sum(s["signs"] for s in scores if s["person"] == p)
            for p in people
        ]
    )
    draws = per_person[rng.integers(0, len(people), (DRAWS, len(people)))].mean(1)
    return {
        "SER": edits / signs,
        "SER per person": f"{per_person.mean():.3f} [{np.quantile(draws, 0.025):.3f}, {np.quantile(draws, 0.975):.3f}]",
        "boundary F1": 2 * precision * recall / max(1e-9, precision + recall),
        "delay median s": float(np.median(delays)) if delays else float("nan"),
        "signs": signs,
        "people": len(people),
    }


def paired_difference(results: dict, name: str, baseline: str, rng) -> str:
    """Mean over people of (name's SER - baseline's SER), every joining together, with a 95%
    bootstrap interval over people (a person's streams are the same for both)."""
    per: dict[tuple[str, str], np.ndarray] = {}  # (set, person) -> [edits, signs] of name and baseline
    for (set_name, _, config), scores in results.items():
        if config in (name, baseline):
            for s in scores:
                counts = per.setdefault((set_name, s["person"]), np.zeros((2, 2)))
                counts[int(config == baseline)] += (s["edits"], s["signs"])
    diffs = np.array([c[0, 0] / c[0, 1] - c[1, 0] / c[1, 1] for c in per.values()])
    draws = diffs[rng.integers(0, len(diffs), (DRAWS, len(diffs)))].mean(1)
    low, high = np.quantile(draws, [0.025, 0.975])
    return f"{diffs.mean():+.3f} [{low:+.3f}, {high:+.3f}] over {len(diffs)} people"


# -- the benchmark --------------------------------------------------------------------------


def people_streams(dataset: Path, folder: Path) -> list[tuple[Path, list[Stream]]]:
    """Every fold run and the streams of its test people (each joining, STREAMS each)."""
    data = Dataset(dataset)
    out = []
    for run in sorted(p for p in folder.glob("test-*") if (p / "run.json").is_file()):
        info = json.loads((run / "run.json").read_text("utf-8"))
        known = set(info["classes"])
        streams = []
        for person in info["test_signer"].split(","):
            rows = data.rows[(data.rows.signer == person) & data.rows.sign_id.isin(known)]
            seqs, loaded, _ = data.load(rows)
            clips: dict[str, list[KeypointSequence]] = {}
            for seq, sign in zip(seqs, loaded.sign_id, strict=True):
                clips.setdefault(sign, []).append(seq)
            if len(clips) < 2:  # one sign only: no order to get right
                print(f"  {person}: only {len(clips)} known sign(s), no streams", file=sys.stderr)
                continue
            for joining in JOININGS:
                streams += make_streams(person, clips, joining, STREAMS, seed=0)
        out.append((run, streams))
    return out


def main() -> None:
    logging.getLogger("lightning").setLevel(logging.ERROR)
    configs = {"hold-to-commit (0.3)": HOLD, **SWEEP}
    if os.environ.get("BENCH_SWEEP", "1") != "1":
        configs = {"hold-to-commit (0.3)": HOLD, "segment (defaults)": {}}
    results: dict[tuple[str, str, str], list[dict]] = {}  # (set, joining, config) -> scores
    timing = {"frames": 0, "decode_s": 0.0, "classify_calls": 0}
    for set_name, (dataset, folder) in fold_folders().items():
        for run, streams in people_streams(dataset, folder):
            rec = Recognizer(run)
            classify = CachedClassifier(rec)
            print(f"{set_name} {run.name}: {len(streams)} streams", file=sys.stderr, flush=True)
            for name, values in configs.items():
                config = LiveConfig(**values)
                for stream in streams:
                    commits = decode(rec, classify, stream, config)
                    results.setdefault((set_name, stream.joining, name), []).append(score(stream, commits))
            for stream in streams:
                results.setdefault((set_name, stream.joining, ORACLE), []).append(
                    score(stream, oracle(rec, classify, stream))
                )
                # the decoder's own cost: every window is in the cache now, so this is the
                # decoder (and a cache lookup), not the model
                start = time.perf_counter()
                decode(rec, classify, stream, LiveConfig())
                timing["decode_s"] += time.perf_counter() - start
                timing["frames"] += stream.seq.frames
            timing["classify_calls"] += classify.calls
    rng = np.random.default_rng(0)
    rows = []
    for joining in JOININGS:
        for name in [*configs, ORACLE]:
            row = {"joining": joining, "decoder": name}
            for set_name in ("people22", "asl-signs", "karsl"):
                scores = results.get((set_name, joining, name), [])
                if scores:
                    s = summarise(scores, rng)
                    row[f"{set_name} SER"] = round(s["SER"], 3)
            pooled = [s for (st, j, c), v in results.items() if j == joining and c == name for s in v]
            s = summarise(pooled, rng)
            row.update(
                {
                    "pooled SER": round(s["SER"], 3),
                    "SER per person [95%]": s["SER per person"],
                    "boundary F1": round(s["boundary F1"], 3),
                    "delay median s": round(s["delay median s"], 3),
                }
            )
            rows.append(row)
    default = "segment (defaults)"
    paired = {
        f"{name} - default, SER per person [95%]": paired_difference(results, name, default, rng)
        for name in [*configs, ORACLE]
        if name != default
    }
    timing["decoder ms per frame (model excluded)"] = round(1000 * timing["decode_s"] / max(1, timing["frames"]), 4)
    report("continuous", rows, {"streams per person and joining": STREAMS, **paired, **timing})


if __name__ == "__main__":
    main()
