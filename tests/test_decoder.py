"""The stream decoder on made-up streams whose truth is known: a classifier that reads the
sign from the frames (each sign's frames carry its number), so every rule of the decoder
can be checked frame by frame."""

import re

import numpy as np
import pytest

from signpose.data.schema import (
    LEFT_HAND,
    LEFT_SHOULDER,
    LEFT_WRIST,
    POSE,
    RIGHT_HAND,
    RIGHT_SHOULDER,
    RIGHT_WRIST,
)
from signpose.errors import SignposeError
from signpose.recognise.decoder import LiveConfig, StreamDecoder, signing_frames
from signpose.settings import build

CLASSES = ["0", "1", "2"]
NAMES = ["أم mother", "b", "c"]
FPS = 30.0


def frame(sign: int | None, hand_y: float = 200.0) -> tuple[np.ndarray, np.ndarray]:
    """A person (shoulders 100 px apart at y=250), with the right hand (and its arm) up at
    `hand_y` carrying sign's number in its z, or (None) with no hand seen and both arms down."""
    xyz = np.zeros((543, 3), np.float32)
    present = np.zeros(543, bool)
    present[POSE.slice] = True
    xyz[LEFT_SHOULDER] = (370, 250, 0)
    xyz[RIGHT_SHOULDER] = (270, 250, 0)
    xyz[LEFT_WRIST], xyz[RIGHT_WRIST] = (370, 600, 0), (270, 600, 0)
    if sign is not None:
        present[RIGHT_HAND.slice] = True
        xyz[RIGHT_HAND.slice] = (300, hand_y, sign)
        xyz[RIGHT_WRIST] = (300, hand_y, 0)
    return xyz, present


class ReadsTheSign:
    """A classifier that sees which sign each frame of the window carries: the share of
    the window's hand frames of each sign is its probability (a window that holds one whole
    sign is sure of it; one that runs into the next sign is less and less sure)."""

    def __init__(self, unsure: bool = False):
        self.unsure, self.windows = unsure, []

    def __call__(self, seq):
        hands = seq.present[:, RIGHT_HAND.start]
        self.windows.append(seq.frames)
        if not hands.any():
            return None
        if self.unsure:
            return np.full(len(CLASSES), 1 / len(CLASSES))
        signs = seq.xyz[hands, RIGHT_HAND.start, 2].astype(int)
        return np.bincount(signs, minlength=len(CLASSES)) / len(signs)


def decode(frames, unsure: bool = False, **config):
    classify = ReadsTheSign(unsure)
    decoder = StreamDecoder(LiveConfig(**config), FPS, classify, CLASSES, NAMES, top_k=2)
    events = [e for xyz, present in frames for e in decoder.push(xyz, present, 640, 480)] + decoder.finish()
    return decoder, events, classify


def commits(events):
    return [(e["sign"], e["start_frame"], e["end_frame"]) for e in events if e["type"] == "commit"]


def stream(*parts):
    """("rest"|sign, frames) pairs -> frames."""
    return [frame(None if what == "rest" else what) for what, n in parts for _ in range(n)]


def test_three_signs_with_rest_between_come_out_in_order_with_their_spans():
    frames = stream(("rest", 20), (0, 30), ("rest", 20), (2, 25), ("rest", 20), (1, 40), ("rest", 20))
    decoder, events, _ = decode(frames)
    assert [c[0] for c in commits(events)] == ["أم mother", "c", "b"]
    spans = [(s, e) for _, s, e in commits(events)]
    truth = [(20, 49), (70, 94), (115, 154)]
    for (s, e), (ts, te) in zip(spans, truth, strict=True):
        assert s == ts and te - 4 <= e <= te  # starts where the hand came up; ends at the last reading inside
    commit_frames = [e["frame"] for e in events if e["type"] == "commit"]
    gap = LiveConfig().frames(LiveConfig().gap, FPS)
    assert commit_frames == [te + gap for _, te in truth]  # decided a gap after the hand went down
    first = next(e for e in events if e["type"] == "commit")
    assert first["start"] == pytest.approx(20 / FPS) and first["time"] == pytest.approx(first["frame"] / FPS)
    assert decoder.summary() == f"{len(frames)} frames, {decoder.windows} windows classified, 3 signs: أم mother, c, b"


def test_a_still_person_and_frames_without_hands_commit_nothing():
    decoder, events, classify = decode(stream(("rest", 200)))
    assert events == [] and classify.windows == []
    assert (
        decoder.summary()
        == "200 frames, 0 windows classified: no sign recognised (no hand came into the signing space)"
    )
    resting = [frame(0, hand_y=600.0) for _ in range(100)]  # a hand seen, but down in the lap
    _, events, classify = decode(resting)
    assert events == [] and classify.windows == []


def test_frames_marked_signing_from_elsewhere_open_and_close_the_signs():
    """A frame tagger's decision replaces the hands' height: a hand held up through the
    whole stream gives two signs where the tagger marks two spans, none where it marks none."""
    frames = stream((0, 40), (2, 40))  # no rest: the height rule sees one long span
    tagged = [True] * 30 + [False] * 20 + [True] * 30
    classify = ReadsTheSign()
    decoder = StreamDecoder(LiveConfig(), FPS, classify, CLASSES, NAMES, top_k=2)
    pushed = [
        decoder.push(xyz, present, 640, 480, signing=up) for (xyz, present), up in zip(frames, tagged, strict=True)
    ]
    events = [e for step in pushed for e in step] + decoder.finish()
    found = commits(events)
    assert [c[0] for c in found] == ["أم mother", "c"]
    assert found[0][1] == 0 and found[1][1] == 50  # the second opens where the tagger said signing again
    decoder = StreamDecoder(LiveConfig(), FPS, ReadsTheSign(), CLASSES, NAMES, top_k=2)
    assert [e for xyz, present in frames for e in decoder.push(xyz, present, 640, 480, signing=False)] == []


def test_one_long_sign_is_one_commit():
    _, events, _ = decode(stream(("rest", 10), (1, 150), ("rest", 20)))  # 5 s, longer than max_sign
    assert [c[0] for c in commits(events)] == ["b"]


def test_signs_straight_through_are_split_where_a_rival_takes_over():
    frames = stream(("rest", 10), (0, 30), (1, 30), (2, 30), ("rest", 20))
    _, events, _ = decode(frames)
    got = commits(events)
    assert [c[0] for c in got] == ["أم mother", "b", "c"]
    assert got[0][2] <= 40 and got[1][1] == got[0][2] + 1  # the next sign begins after the peak


def test_a_repeated_sign_needs_a_pause_and_an_unsure_segment_is_no_sign():
    _, events, _ = decode(stream(("rest", 10), (0, 30), ("rest", 15), (0, 30), ("rest", 20)))
    assert [c[0] for c in commits(events)] == ["أم mother", "أم mother"]
    decoder, events, _ = decode(stream(("rest", 10), (0, 30), ("rest", 20)), unsure=True)
    assert commits(events) == []
    (no_sign,) = [e for e in events if e["type"] == "no_sign"]
    assert no_sign["start"] == pytest.approx(10 / FPS) and no_sign["best"]["probability"] == pytest.approx(1 / 3)
    assert decoder.summary().endswith("no sign passed the threshold 0.5; best was أم mother at 0.33")


def test_a_short_flick_is_not_a_sign():
    shortest = LiveConfig().frames(LiveConfig().min_sign, FPS)
    _, events, classify = decode(stream(("rest", 10), (0, shortest - 1), ("rest", 30)))  # just under min_sign
    assert events == [] and classify.windows == []
    _, events, _ = decode(stream(("rest", 10), (0, shortest), ("rest", 30)))  # long enough
    assert commits(events) == [("أم mother", 10, 10 + shortest - 1)]


def test_predictions_carry_the_window_and_its_top_signs():
    _, events, classify = decode(stream(("rest", 10), (0, 30), ("rest", 20)), stride=5)
    predictions = [e for e in events if e["type"] == "prediction"]
    assert predictions and all(p["start_frame"] == 10 for p in predictions)
    assert [p["frame"] - p["start_frame"] + 1 for p in predictions] == classify.windows
    assert predictions[0]["top"][0] == {"sign_id": "0", "sign": "أم mother", "probability": 1.0}
    assert len(predictions[0]["top"]) == 2


def test_hold_mode_is_the_sliding_window_with_hold_to_commit():
    frames = stream(("rest", 5), (0, 40), (1, 40))
    decoder, events, classify = decode(frames, mode="hold", window=10, stride=2, hold=3, cooldown=0)
    assert set(classify.windows) == {10}
    got = [(e["sign"], e["frame"]) for e in events if e["type"] == "commit"]
    assert [g[0] for g in got] == ["أم mother", "b"]
    assert got[0][1] == 9 + 2 * 2  # the first full window (hands in it from frame 5), held 3 windows
    # each prediction carries the server's own hold state, which the page shows
    predictions = [e for e in events if e["type"] == "prediction"]
    holds = [e["hold"] for e in predictions]
    committed_at = next(i for i, e in enumerate(predictions) if e["frame"] == got[0][1])
    assert [h["held"] for h in holds[: committed_at + 1]] == [1, 2, 3] and holds[0]["need"] == 3
    assert holds[committed_at + 1]["sign"] == "أم mother" and holds[committed_at + 1]["repeat"]  # added: not again
    short = decode(stream((0, 8)), mode="hold")[0]
    assert short.summary() == "8 frames, 0 windows classified: the stream was shorter than one window (30 frames)"


def test_the_signing_space_is_above_the_rest_line():
    xyz = np.stack([frame(0, y)[0] for y in (100, 300, 400, 500)])
    present = np.stack([frame(0, y)[1] for y in (100, 300, 400, 500)])
    assert signing_frames(xyz, present, 1.5).tolist() == [True, True, True, False]  # line at 250 + 150
    assert signing_frames(xyz, present, 0.0).tolist() == [True, False, False, False]
    present[:, LEFT_SHOULDER] = False  # no shoulders: any hand seen is signing
    assert signing_frames(xyz, present, 0.0).tolist() == [True] * 4
    present[:, RIGHT_HAND.slice] = False
    present[:, LEFT_HAND.slice] = True
    assert signing_frames(xyz, present, 0.0).tolist() == [True] * 4  # either hand


def test_an_arm_still_up_keeps_a_sign_whose_hand_the_hand_model_lost():
    def arm(sign: int | None, wrist_y: float) -> tuple[np.ndarray, np.ndarray]:
        xyz, present = frame(sign)
        xyz[RIGHT_WRIST], xyz[LEFT_WRIST] = (300, wrist_y, 0), (370, 600, 0)  # the left arm down
        return xyz, present

    # one sign whose hand is lost for 0.6 s (longer than the gap) while its arm stays up
    frames = [arm(None, 600)] * 20 + [arm(0, 200)] * 20 + [arm(None, 200)] * 18 + [arm(0, 200)] * 20
    frames += [arm(None, 600)] * 20  # then the arm goes down
    _, events, _ = decode(frames, arms=False)  # by the hands alone: two signs
    assert [c[0] for c in commits(events)] == ["أم mother", "أم mother"]
    _, events, _ = decode(frames)  # arms is the default
    assert commits(events) == [("أم mother", 20, 77)]
    # an arm up never starts a sign by itself, and an arm below the rest line keeps nothing going
    _, events, classify = decode([arm(None, 200)] * 60)
    assert events == [] and classify.windows == []
    down = [arm(None, 600)] * 18
    _, events, _ = decode(frames[:40] + down + frames[58:])
    assert [c[0] for c in commits(events)] == ["أم mother", "أم mother"]


def test_reset_forgets_the_open_sign_and_threshold_changes_apply():
    decoder = StreamDecoder(LiveConfig(), FPS, ReadsTheSign(), CLASSES, NAMES)
    for xyz, present in stream(("rest", 5), (0, 20)):
        decoder.push(xyz, present, 640, 480)
    decoder.reset()
    assert decoder.finish() == [] and decoder.frames == 25
    decoder.set_threshold(0.9)
    assert decoder.config.threshold == 0.9


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"min_sign": 2.0, "max_sign": 1.0}, "min_sign (2 s) must not be longer than max_sign (1 s)"),
        ({"mode": "hold", "stride": 40, "window": 30}, "stride (40) must not be larger than window (30)"),
        ({"gap": -1}, "gap"),
        ({"mode": "sliding"}, "mode"),
    ],
)
def test_bad_settings_answer_in_one_line(values, message):
    with pytest.raises(SignposeError, match=re.escape(message)) as e:
        build(LiveConfig, values)
    assert "\n" not in str(e.value)


def test_a_setting_of_the_other_mode_is_refused_not_ignored():
    assert LiveConfig.from_given({"mode": "hold", "window": 10}).window == 10
    with pytest.raises(SignposeError, match=r"^--window, --hold: only for --mode hold; drop them or pass that mode$"):
        LiveConfig.from_given({"window": 10, "hold": 2})
    with pytest.raises(SignposeError, match=r"^--gap: only for --mode segment"):
        LiveConfig.from_given({"mode": "hold", "gap": 0.2})
