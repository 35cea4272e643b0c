"""Extraction on real sign videos (../shared/data)."""

import shutil

import cv2
import numpy as np
import pandas as pd
import pytest
from conftest import shared, video_frames

from signpose.data.dataset import Dataset
from signpose.data.labels import read_labels
from signpose.data.schema import FACE, LEFT_HAND, POSE, RIGHT_HAND
from signpose.errors import SignposeError
from signpose.extract import pose_models
from signpose.extract.holistic import extract_video
from signpose.extract.pipeline import extract_dataset


@pytest.fixture(scope="module")
def fingerspelling():
    src = shared("videos", "fingerspelling_az")
    return {name: extract_video(src / f"{name}.mp4") for name in ("A", "L", "Y")}


def test_every_frame_is_extracted_with_the_543_points(fingerspelling):
    src = shared("videos", "fingerspelling_az")
    for name, seq in fingerspelling.items():
        assert seq.frames == video_frames(src / f"{name}.mp4")[0]
        assert seq.xyz.shape == (seq.frames, 543, 3)
        assert (seq.width, seq.height) == (852, 480)
        assert seq.fps == pytest.approx(15.0)


def test_values_are_pixels_inside_the_frame(fingerspelling):
    for seq in fingerspelling.values():
        body = seq.present[:, POSE.slice].all(axis=1)
        assert body.mean() > 0.9  # one signer, always in view
        face = seq.xyz[seq.present[:, FACE.slice].all(axis=1)][:, FACE.slice]
        assert (face[..., 0] > 0).all() and (face[..., 0] < 852).all()
        assert (face[..., 1] > 0).all() and (face[..., 1] < 480).all()
        hands = seq.present[:, LEFT_HAND.start] | seq.present[:, RIGHT_HAND.start]
        assert hands.mean() > 0.7  # fingerspelling: a hand is in view in most frames
        hand_xy = seq.xyz[:, RIGHT_HAND.slice][seq.present[:, RIGHT_HAND.slice]]
        assert np.isfinite(hand_xy).all()


def test_absent_parts_are_marked_absent_not_zero(fingerspelling):
    for seq in fingerspelling.values():
        parts = seq.part_present()
        # presence is per part: a part is either fully present or fully absent in a frame
        for i, part in enumerate((POSE, FACE, LEFT_HAND, RIGHT_HAND)):
            np.testing.assert_array_equal(seq.present[:, part.slice].all(1), parts[:, i])
        absent = ~seq.present
        assert (seq.xyz[absent] == 0).all()


def test_karsl_layout_with_arabic_labels(karsl_extracted):
    manifest = pd.read_csv(karsl_extracted / "manifest.csv", dtype=str, encoding="utf-8")
    assert len(manifest) == 8 and set(manifest.status) == {"ok"}
    assert set(manifest.signer) == {"01"}
    assert sorted(manifest.sign_id.astype(int)) == list(range(1, 9))
    assert manifest.set_index("sign_id").loc["3", "sign"] == "حرف C letter C"
    assert set(manifest.subset) == {"train"}
    ds = Dataset(karsl_extracted)
    for row in ds.rows.itertuples():
        images = list(shared("karsl_layout").joinpath(row.source).glob("*.jpg"))
        assert int(row.frames) == len(images)
    assert ds.info().detected["right_hand"] > 0.5


@pytest.mark.slow
def test_rerun_resumes_and_a_bad_video_is_recorded_not_fatal(tmp_path):
    src = tmp_path / "videos"
    (src / "s1" / "hello").mkdir(parents=True)
    shutil.copy(shared("videos", "wlasl_mini", "brother", "brother_2.mp4"), src / "s1" / "hello" / "1.mp4")
    (src / "s1" / "hello" / "2.mp4").write_text("not a video")
    blank = cv2.VideoWriter(str(src / "s1" / "hello" / "3.mp4"), cv2.VideoWriter_fourcc(*"mp4v"), 10, (64, 64))
    for _ in range(5):
        blank.write(np.full((64, 64, 3), 128, np.uint8))
    blank.release()
    out = tmp_path / "ds"
    first = extract_dataset(src, out, workers=2, progress=False)
    assert first.extracted == 1 and len(first.failed) == 2
    errors = dict(first.failed)
    assert "cannot open as a video" in errors["s1/hello/2"] or "no frames" in errors["s1/hello/2"]
    assert errors["s1/hello/3"] == "no person detected in any frame"
    before = (out / "poses" / "s1" / "hello" / "1.pose").stat().st_mtime_ns
    second = extract_dataset(src, out, workers=2, progress=False)
    assert second.extracted == 0 and second.done_before == 3
    assert (out / "poses" / "s1" / "hello" / "1.pose").stat().st_mtime_ns == before
    manifest = pd.read_csv(out / "manifest.csv", dtype=str, keep_default_na=False)
    assert list(manifest.status) == ["ok", "error", "error"]


def test_pose_file_without_manifest_row_is_recovered_not_redone(tmp_path, wlasl_extracted):
    out = tmp_path / "ds"
    shutil.copytree(wlasl_extracted, out)
    manifest = pd.read_csv(out / "manifest.csv", dtype=str, keep_default_na=False)
    manifest.iloc[:2].to_csv(out / "manifest.csv", index=False)  # as if killed before the manifest caught up
    report = extract_dataset(shared("videos", "wlasl_mini"), out, workers=1, progress=False)
    assert report.extracted == 0 and report.done_before == 6


def test_wlasl_clips_keep_their_frame_counts(wlasl_extracted):
    ds = Dataset(wlasl_extracted)
    assert len(ds.rows) == 6 and ds.sign_ids == ["brother", "mother"]
    for row in ds.rows.itertuples():
        assert int(row.frames) == video_frames(shared("videos", "wlasl_mini") / row.source)[0]


def test_bad_paths_are_one_line_errors(tmp_path):
    with pytest.raises(SignposeError, match="no such folder"):
        extract_dataset(tmp_path / "missing", tmp_path / "out", progress=False)
    with pytest.raises(SignposeError, match="not in the label file"):
        src = shared("karsl_layout")
        (tmp_path / "labels.csv").write_text("SignID,Sign\n1,a\n", encoding="utf-8")
        extract_dataset(src, tmp_path / "out", layout="karsl", labels=tmp_path / "labels.csv", progress=False)


@pytest.mark.slow
def test_a_video_gives_the_same_keypoints_whatever_was_extracted_before():
    """Tracking state never leaks from one video into the next (what makes reruns,
    resumed runs and parallel runs produce identical files)."""
    from signpose.data.video import open_frames
    from signpose.extract.holistic import HolisticExtractor

    first, second = (
        shared("videos", "fingerspelling_az", "C.mp4"),
        shared("videos", "fingerspelling_az", "D.mp4"),
    )
    fresh = extract_video(second)
    with HolisticExtractor() as extractor:
        for path in (first, second):
            src = open_frames(path)
            seq = extractor.extract(src, src.fps, src.width, src.height)
    np.testing.assert_array_equal(seq.present, fresh.present)
    np.testing.assert_allclose(seq.xyz, fresh.xyz, atol=1e-3)


@pytest.mark.slow
def test_real_karsl_videos_straight_in_the_test_folder_with_the_xlsx_labels(tmp_path):
    """KArSL-502's own clips, as its mp4 copies are arranged (<signer>/test/<name>.mp4, the
    sign id in the name), named from KArSL's own labels.xlsx."""
    src = shared("karsl_real")
    report = extract_dataset(
        src,
        tmp_path / "ds",
        layout="karsl",
        labels=src / "KARSL-502_Labels.xlsx",
        workers=2,
        limit=3,
        progress=False,
    )
    assert report.extracted == 3 and not report.failed
    ds = Dataset(tmp_path / "ds")
    assert ds.signers == ["01"] and ds.sign_ids == ["1", "2", "3"]
    assert set(ds.rows.subset) == {"test"}
    labels = read_labels(src / "KARSL-502_Labels.xlsx")
    assert list(ds.rows.sign) == [labels["1"], labels["2"], labels["3"]]
    assert labels["71"] == "هيكل عظمي Skeleton"  # Arabic and English columns joined, as the seed names it
    assert ds.info().detected["left_hand"] + ds.info().detected["right_hand"] > 0.5


@pytest.mark.parametrize("complexity", [0, 1, 2])
def test_every_pose_model_extracts_offline(monkeypatch, complexity):
    """--model-complexity 0 and 2 read the lite and heavy models installed from the npm
    package; MediaPipe's run-time download is never tried (here it would fail the test)."""
    import mediapipe.python.solutions.download_utils as downloads

    from signpose.extract.holistic import ExtractionConfig

    def no_download(path):
        if not (pose_models.mediapipe_folder().parents[2] / path).is_file():
            raise AssertionError(f"MediaPipe tried to download {path}")

    monkeypatch.setattr(downloads, "download_oss_model", no_download)
    clip = shared("videos", "fingerspelling_az") / "L.mp4"
    seq = extract_video(clip, ExtractionConfig(model_complexity=complexity))
    assert seq.frames == video_frames(clip)[0]
    assert seq.present[:, POSE.slice].all(axis=1).mean() > 0.9  # the signer's body, found by each model


def test_a_missing_pose_model_is_one_line_not_a_download(monkeypatch, tmp_path):
    target, npm = tmp_path / "mediapipe", tmp_path / "npm"
    target.mkdir(), npm.mkdir()
    monkeypatch.setattr(pose_models, "mediapipe_folder", lambda: target)
    with pytest.raises(
        SignposeError, match=r"heavy pose model \(--model-complexity 2\) is not installed.*make install"
    ):
        pose_models.require(2)
    for name in ("pose_landmark_lite.tflite", "pose_landmark_full.tflite"):
        (npm / name).symlink_to(pose_models.VENDORED / name)
    (npm / "pose_landmark_heavy.tflite").write_bytes(b"not the model")
    with pytest.raises(SignposeError, match="checksum is not the one of heavy"):
        pose_models.install(npm)
    assert not (target / "pose_landmark_heavy.tflite").exists()  # a wrong file is never installed
    (npm / "pose_landmark_heavy.tflite").unlink()
    (npm / "pose_landmark_heavy.tflite").symlink_to(pose_models.VENDORED / "pose_landmark_heavy.tflite")
    assert pose_models.install(npm) == ["pose_landmark_heavy.tflite"]  # lite and full were copied before
    pose_models.require(2)


def test_karsl_frame_folders_with_sparse_numbers_keep_their_times(tmp_path):
    """KArSL releases the kept frames of a clip (_c_0001, _c_0005, _c_0006...): a frame's
    time follows its number, so the frames between are absent, not squeezed out."""
    src = shared("karsl", "frames")
    out = tmp_path / "ds"
    report = extract_dataset(src, out, layout="auto", workers=2, progress=False, limit=2)
    assert report.extracted == 2
    ds = Dataset(out)
    for row in ds.rows.itertuples():
        folder = src / row.source
        numbers = [int(p.stem.rsplit("_", 1)[1]) for p in sorted(folder.glob("*.jpg"))]
        seq = ds.read(row._asdict())
        assert seq.frames == numbers[-1] - numbers[0] + 1 > len(numbers)  # the clip's length, not the count
        kept = np.array(numbers) - numbers[0]
        seen = seq.part_present().any(axis=1)
        assert not seen[np.setdiff1d(np.arange(seq.frames), kept)].any()  # frames never released: absent
        assert seen[kept].mean() > 0.9  # the released frames: the signer
