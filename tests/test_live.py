"""Hold-to-commit: one sign is reported once, when it has won for a while."""

import pytest

from signpose.recognise.decoder import Committer, LiveConfig


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
    assert events == [] and committer.best == ("1", "a", 0.4)


def test_the_same_sign_again_after_something_else_and_the_cooldown():
    a, b = ("1", "a", 0.9), ("2", "b", 0.9)
    _, events = _run([a, a, None, a, a, b, b], hold=2, cooldown=0)
    assert [(e["frame"], e["sign"]) for e in events] == [(1, "a"), (4, "a"), (6, "b")]
    _, events = _run([a, a, b, b, b, b], hold=2, cooldown=3)
    assert [(e["frame"], e["sign"]) for e in events] == [
        (1, "a"),
        (4, "b"),
    ]  # b waits for the cooldown
