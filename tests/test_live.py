"""Hold-to-commit: one sign is reported once, when it has won for a while."""

import pytest

from signpose.recognise.window import Committer, LiveConfig


def _run(tops, **config):
    committer = Committer(LiveConfig(**config))
    events = [committer.update(frame, 10.0, top) for frame, top in enumerate(tops)]
    return committer, [e for e in events if e is not None]


def test_a_sign_held_is_reported_once():
    a = ("1", "أم mother", 0.8)
    committer, events = _run([a] * 10, hold=3, cooldown=0, threshold=0.5)
    assert [(e["frame"], e["sign"]) for e in events] == [(2, "أم mother")]
    assert events[0]["time"] == 0.2 and events[0]["probability"] == pytest.approx(0.8)


def test_flicker_and_low_confidence_are_not_reported():
    a, b = ("1", "a", 0.9), ("2", "b", 0.9)
    _, events = _run([a, b, a, b, a, b], hold=2, cooldown=0)
    assert events == []
    committer, events = _run([("1", "a", 0.4)] * 6, hold=2, threshold=0.5)
    assert events == [] and committer.summary(60).endswith("best was a at 0.40")


def test_the_same_sign_again_after_something_else_and_the_cooldown():
    a, b = ("1", "a", 0.9), ("2", "b", 0.9)
    _, events = _run([a, a, None, a, a, b, b], hold=2, cooldown=0)
    assert [(e["frame"], e["sign"]) for e in events] == [(1, "a"), (4, "a"), (6, "b")]
    _, events = _run([a, a, b, b, b, b], hold=2, cooldown=3)
    assert [(e["frame"], e["sign"]) for e in events] == [
        (1, "a"),
        (4, "b"),
    ]  # b waits for the cooldown


def test_summaries():
    committer, _ = _run([None] * 4)
    assert committer.summary(40) == "40 frames, 4 windows classified: no sign recognised (no hands detected)"
    assert Committer(LiveConfig()).summary(12) == (
        "12 frames, 0 windows classified: the stream was shorter than one window (30 frames)"
    )
    committer, _ = _run([("1", "a", 0.9)] * 3 + [("2", "b", 0.9)] * 3, hold=2, cooldown=0)
    assert committer.summary(60) == "60 frames, 6 windows classified, 2 signs: a, b"


def test_the_window_is_due_on_the_stride_grid_and_numbers_frames_from_0():
    import numpy as np

    from signpose.recognise.window import LiveWindow

    window = LiveWindow(LiveConfig(window=4, stride=2, hold=1, threshold=0.0, cooldown=0), fps=20.0)
    xyz, present = np.zeros((543, 3), np.float32), np.ones(543, bool)
    due, times = [], []
    for i in range(9):
        seq = window.push(xyz + i, present, 640, 480)
        if seq is not None:
            due.append(window.frame)
            assert seq.frames == 4 and seq.xyz[-1, 0, 0] == i and seq.fps == 20.0  # the last 4 frames, in order
            times.append(window.commit((str(i), "a", 0.9))["time"])
    assert due == [3, 5, 7] and times == [3 / 20, 5 / 20, 7 / 20]
    window.reset()
    assert window.push(xyz, present, 640, 480) is None and window.frames == 10  # a new window, the same count
