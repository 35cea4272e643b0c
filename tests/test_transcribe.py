"""Continuous recognition on real people: a stream of one KArSL signer's own clips, decoded
by a model that never saw that signer, through every entry point that decodes streams
(`transcribe`, the server's live stream, the decoder itself)."""

import json
import re

import numpy as np
import pytest
from conftest import shared

from signpose.cli import main
from signpose.data.dataset import SIGNS, Dataset
from signpose.data.keypoints import KeypointSequence, write_pose
from signpose.data.labels import read_labels
from signpose.data.schema import LEFT_HAND, POSE_HANDS, RIGHT_HAND
from signpose.recognise.decoder import LiveConfig
from signpose.recognise.recognizer import Recognizer
from signpose.recognise.transcribe import Transcript, decode_sequence, output_names, transcribe_sequence

FPS = 15.0  # KArSL's release kept 18 of each clip's ~24-47 frames at 30 fps


@pytest.fixture(scope="module")
def karsl(tmp_path_factory):
    """(dataset, run): the 7 real KArSL-100 signs, a small model trained on signer 02 only."""
    from signpose.data.importers import import_npz
    from signpose.learn.training import train
    from signpose.model.config import TrainConfig

    root = tmp_path_factory.mktemp("karsl")
    import_npz(shared("karsl", "karsl7_signers02_03_258.npz"), root / "data", fps=FPS, progress=False)
    names = read_labels(shared("karsl", "KARSL-100_Labels.xlsx"))  # Arabic and English
    ids = Dataset(root / "data").sign_ids
    (root / "data" / SIGNS).write_text("sign_id,sign\n" + "".join(f'{i},"{names[i]}"\n' for i in ids), encoding="utf-8")
    config = TrainConfig(
        model="islr",
        split="signer",
        test_signer="03",
        val_fraction=0.0,
        recipe={"epochs": 20, "batch_size": 32, "lr": 2e-3},
        features={"features": "pose_hands"},
        model_options={"dim": 48, "groups": 1, "conv_blocks": 1},
    )
    train(root / "data", root / "run", config, progress=False)
    return Dataset(root / "data"), root / "run"


def rest_frames(clip: KeypointSequence, n: int) -> tuple[np.ndarray, np.ndarray]:
    """The signer's body from a clip's first frame, hands down out of sight (the hand model's
    and the pose's points of both hands gone), `n` times."""
    present = clip.present[0].copy()
    present[LEFT_HAND.slice] = present[RIGHT_HAND.slice] = present[POSE_HANDS] = False
    return np.repeat(clip.xyz[:1], n, 0), np.repeat(present[None], n, 0)


def joined(clips: list[KeypointSequence], rest: tuple[np.ndarray, np.ndarray]) -> tuple[KeypointSequence, list[int]]:
    """The clips with the rest frames before, between and after them; and where each starts."""
    parts, starts, at = [rest], [], len(rest[0])
    for clip in clips:
        starts.append(at)
        parts += [(clip.xyz, clip.present), rest]
        at += clip.frames + len(rest[0])
    xyz = np.concatenate([p[0] for p in parts])
    present = np.concatenate([p[1] for p in parts])
    return KeypointSequence(xyz, present, FPS, clips[0].width, clips[0].height), starts


def three_sign_stream(dataset: Dataset, rec: Recognizer) -> tuple[KeypointSequence, list[str], list[int]]:
    """Three clips of signer 03 (unseen in training), of three different signs, each one the
    model reads right as a stream of its own (at rest, the sign, at rest: what a classifier
    gets wrong is not the decoder's doing), joined by 0.7 s of the signer at rest; with
    the signs and the frame each clip starts at."""
    rows = dataset.rows[dataset.rows["signer"] == "03"]
    clips, signs = [], []
    for sign_id in dataset.sign_ids[::2][:3]:
        name = rec.names[rec.classes.index(sign_id)]
        for _, row in rows[rows["sign_id"] == sign_id].iterrows():
            seq = dataset.read(row)
            alone = transcribe_sequence(rec, joined([seq], rest_frames(seq, int(0.7 * FPS)))[0])
            if [s["sign"] for s in alone.signs] == [name]:
                clips.append(seq)
                signs.append(name)
                break
    assert len(clips) == 3, "the model should read at least one clip of each of the three signs alone"
    seq, starts = joined(clips, rest_frames(clips[0], int(0.7 * FPS)))
    return seq, signs, starts


def test_three_real_signs_of_an_unseen_signer_come_out_in_order(karsl):
    dataset, run = karsl
    rec = Recognizer.from_run(run)
    seq, signs, starts = three_sign_stream(dataset, rec)
    transcript = transcribe_sequence(rec, seq)
    assert [s["sign"] for s in transcript.signs] == signs
    for sign, start in zip(transcript.signs, starts, strict=True):
        assert abs(sign["start_frame"] - start) <= 2  # where the hands came up
        assert sign["time"] - sign["end"] < 0.5  # decided within half a second of its end
    assert transcript.no_sign == []


def transcribe(capsys, *args) -> tuple[int, list[str], list[str]]:
    """`signpose transcribe ARGS` in this process: exit code, stdout and stderr lines."""
    capsys.readouterr()
    code = main(["transcribe", *map(str, args)])
    captured = capsys.readouterr()
    return code, captured.out.strip().splitlines(), captured.err.strip().splitlines()


def test_transcribe_command_and_server_stream_give_the_decoders_commits(karsl, tmp_path, capsys):
    from signpose.serve.stream import LiveStream

    dataset, run = karsl
    rec = Recognizer.from_run(run)
    seq, signs, _ = three_sign_stream(dataset, rec)
    write_pose(tmp_path / "sentence.pose", seq)
    events = [e for e in decode_sequence(rec, seq) if e["type"] == "commit"]
    keys = ("sign", "frame", "start_frame", "end_frame")

    stream = LiveStream(rec, LiveConfig(), top_k=1, fps=FPS)
    served = [m for xyz, present in zip(seq.xyz, seq.present, strict=True) for m in stream.push(xyz, present, 1, 1)]
    served += stream.finish()
    assert [{k: m[k] for k in keys} for m in served if m["type"] == "commit"] == [
        {k: e[k] for k in keys} for e in events
    ]

    out = tmp_path / "out"
    code, lines, _ = transcribe(capsys, run, tmp_path / "sentence.pose", "--out", out)
    assert code == 0 and lines == [f"{tmp_path / 'sentence.pose'}: " + ", ".join(
        f"{e['sign']} ({e['start']:.2f}-{e['end']:.2f} s)" for e in events
    )]  # fmt: skip
    written = json.loads((out / "sentence.json").read_text(encoding="utf-8"))
    assert [{k: s[k] for k in keys} for s in written["signs"]] == [{k: e[k] for k in keys} for e in events]
    assert written["text"] == " ".join(signs) and written["settings"] == LiveConfig().model_dump()
    vtt = (out / "sentence.vtt").read_text(encoding="utf-8")
    cues = re.findall(r"(\d\d:\d\d:\d\d\.\d{3}) --> (\d\d:\d\d:\d\d\.\d{3})\n(.+)", vtt)
    assert [c[2] for c in cues] == ["\u200f" + s for s in signs]  # Arabic names, marked right to left
    assert vtt.startswith("WEBVTT\n")

    # a rerun with the same settings skips the recording; other settings redo it
    stamp = (out / "sentence.json").stat().st_mtime_ns
    transcribe(capsys, run, tmp_path / "sentence.pose", "--out", out)
    assert (out / "sentence.json").stat().st_mtime_ns == stamp
    transcribe(capsys, run, tmp_path / "sentence.pose", "--out", out, "--gap", "0.5")
    assert json.loads((out / "sentence.json").read_text(encoding="utf-8"))["settings"]["gap"] == 0.5


def test_annotate_draws_the_running_transcript(karsl, tmp_path, capsys):
    import cv2

    dataset, run = karsl
    rec = Recognizer.from_run(run)
    seq, signs, _ = three_sign_stream(dataset, rec)
    write_pose(tmp_path / "s.pose", seq)
    transcribe(capsys, run, tmp_path / "s.pose", "--out", tmp_path / "out", "--annotate")
    cap = cv2.VideoCapture(str(tmp_path / "out" / "s.mp4"))
    frames = []
    while True:
        ok, bgr = cap.read()
        if not ok:
            break
        frames.append(bgr)
    assert len(frames) == seq.frames
    bottom = np.array([f[-40:].mean() for f in frames])
    first = json.loads((tmp_path / "out" / "s.json").read_text(encoding="utf-8"))["signs"][0]["frame"]
    assert bottom[:first].max() < bottom[first:].min()  # the caption strip appears with the first sign


def test_unreadable_recordings_and_bad_settings_answer_in_one_line(karsl, tmp_path, capsys):
    _, run = karsl
    (tmp_path / "broken.pose").write_bytes(b"not a pose file")
    (tmp_path / "broken.mp4").write_bytes(b"not a video")
    code, out, _ = transcribe(capsys, run, tmp_path / "broken.pose", tmp_path / "broken.mp4", "--out", tmp_path / "out")
    assert code == 1 and len(out) == 2
    assert all(line.startswith(str(tmp_path / "broken.")) for line in out)
    assert not list((tmp_path / "out").glob("*.json"))  # nothing written for what failed
    code, _, err = transcribe(capsys, run, tmp_path / "broken.pose", "--out", tmp_path / "o2", "--min-sign", "9")
    assert code == 2 and len(err) == 1 and "min_sign" in err[0].replace("-", "_")
    assert not (tmp_path / "o2").exists()  # refused before any work


def test_outputs_never_overwrite_an_input_or_the_run(karsl, tmp_path, capsys):
    dataset, run = karsl
    rec = Recognizer.from_run(run)
    seq, _, _ = three_sign_stream(dataset, rec)
    write_pose(tmp_path / "s.pose", seq)
    video = tmp_path / "talk.mp4"
    video.write_bytes(b"a recording")  # its annotated video would be talk.mp4 in the same folder
    code, _, err = transcribe(capsys, run, video, "--out", tmp_path, "--annotate")
    assert code == 2 and len(err) == 1 and "is one of the recordings" in err[0]
    assert video.read_bytes() == b"a recording"
    before = (run / "run.json").read_bytes()
    (tmp_path / "run.pose").write_bytes((tmp_path / "s.pose").read_bytes())  # would write run.json
    code, _, err = transcribe(capsys, run, tmp_path / "run.pose", "--out", run)
    assert code == 2 and len(err) == 1 and "run's own folder" in err[0]
    assert (run / "run.json").read_bytes() == before
    code, _, err = transcribe(capsys, run, tmp_path / "s.pose", "--out", tmp_path / "s.pose")
    assert code == 2 and len(err) == 1 and "is a file" in err[0]
    (tmp_path / "locked").mkdir()
    (tmp_path / "locked" / "file").write_text("")
    code, _, err = transcribe(capsys, run, tmp_path / "s.pose", "--out", tmp_path / "locked" / "file" / "out")
    assert code == 2 and len(err) == 1 and "choose a place you can write to" in err[0]  # not a traceback


def test_output_names_stay_unique():
    names = output_names(["a/x/clip.mp4", "b/x/clip.mp4", "c/other.pose", "a/x/clip.mp4"])
    assert len(set(names.values())) == len(names) == 3
    assert names["c/other.pose"] == "other"


def test_webvtt_keeps_arabic_and_escapes_markup():
    t = Transcript("x", frames=60, fps=30.0, signs=[
        {"sign": "هيكل عظمي", "start": 0.2, "end": 0.3, "time": 0.6},
        {"sign": "a<b>&c", "start": 1.0, "end": 1.5, "time": 1.8},
    ])  # fmt: skip
    vtt = t.webvtt()
    assert "00:00:00.200 --> 00:00:00.700\n\u200fهيكل عظمي" in vtt
    assert "00:00:01.000 --> 00:00:01.500\na&lt;b&gt;&amp;c" in vtt
