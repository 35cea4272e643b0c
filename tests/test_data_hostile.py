"""Datasets and imports against hostile and careless input (the round-one probes D1-D3, D27,
D33-D35, each on its own reproduction): ids from file contents stay inside the dataset,
ids given twice are kept, sources never overwrite each other, cells that do not fit fail
their sample."""

from __future__ import annotations

import shutil

import numpy as np
import pandas as pd
import pytest
from conftest import files_under, shared, slice_npz

from signpose.data.dataset import Dataset, check_sample_id, sample_id
from signpose.data.importers import import_kaggle, import_mpdata, import_npz, import_pose
from signpose.errors import SignposeError


def test_d1_ids_from_file_contents_never_leave_the_dataset(tmp_path):
    src = slice_npz(tmp_path / "t.npz", 3, label=["../../../ESCAPED", "/abs", ".."], signer=["a", "..", "b/c"])
    out = tmp_path / "work" / "ds"
    report = import_npz(src, out, progress=False)
    assert report.imported == 3
    assert files_under(tmp_path) - {"t.npz"} == {f"work/ds/{f}" for f in files_under(out)}  # nothing outside --out
    for row in Dataset(out).rows.itertuples():
        assert (out / row.file).resolve().is_relative_to((out / "poses").resolve())
    assert set(Dataset(out).rows.sign_id) == {"../../../ESCAPED", "/abs", ".."}  # the names themselves are kept


def test_d1_kaggle_and_pose_mapping_ids_stay_inside(tmp_path, synth_small):
    src = tmp_path / "kag"
    shutil.copytree(shared("kaggle_asl_signs"), src)
    table = pd.read_csv(src / "train.csv", dtype=str).iloc[:2]
    table.loc[0, "participant_id"] = "../../ESCAPED_K"
    table.loc[1, "sequence_id"] = "../../../x"
    table.to_csv(src / "train.csv", index=False)
    out = tmp_path / "k" / "ds"
    assert import_kaggle(src, out, progress=False).imported == 2
    assert not (tmp_path / "ESCAPED_K").exists() and all(f.startswith("ds/") for f in files_under(tmp_path / "k"))
    pose = synth_small / Dataset(synth_small).rows.file.iloc[0]
    (tmp_path / "p").mkdir()
    shutil.copy(pose, tmp_path / "p" / "good.pose")
    pd.DataFrame({"file": ["good.pose", "../outside.pose"], "signer": ["../../PIMP", "s"], "sign": ["a", "b"]}).to_csv(
        tmp_path / "map.csv", index=False
    )
    report = import_pose(tmp_path / "p", tmp_path / "pd" / "ds", tmp_path / "map.csv", progress=False)
    assert report.imported == 1 and "without '..'" in report.failed[0][1]
    assert not (tmp_path / "PIMP").exists() and all(f.startswith("ds/") for f in files_under(tmp_path / "pd"))


def test_sample_id_rule():
    assert sample_id("../x", "..", ".", "a/b\\c") == ".._x/__/_/a_b_c"
    long = sample_id("y" * 400)
    assert len(long.encode()) <= 200 and long != sample_id("y" * 399)  # shortened, still distinct
    for bad in ("../a", "/a", "a//b", "a/./b", "a\\b", ""):
        with pytest.raises(SignposeError, match="outside the dataset"):
            check_sample_id(bad)


def test_d2_ids_given_twice_are_both_kept_and_counted(tmp_path):
    src = slice_npz(tmp_path / "dup.npz", 4, label=["hello"] * 4, recorder=["a"] * 4, seq=np.zeros(4, int))
    report = import_npz(src, tmp_path / "ds", progress=False)
    assert report.imported == 4 and len(report.renamed) == 3 and "given twice" in report.summary()
    rows = Dataset(tmp_path / "ds").rows
    assert len(rows) == 4 and rows["sample"].is_unique
    seqs = Dataset(tmp_path / "ds").load()[0]
    assert len({s.xyz.tobytes() for s in seqs}) == 4  # four different recordings, none overwritten


def test_d3_append_never_overwrites_another_sources_samples(tmp_path):
    first = slice_npz(tmp_path / "a.npz", 2, label=["1", "1"], signer=["signer1"] * 2, seq=[1, 2])
    out = tmp_path / "ds"
    import_npz(first, out, progress=False)
    before = {f: (out / "poses" / f).read_bytes() for f in files_under(out / "poses")}
    (tmp_path / "other").mkdir()
    with np.load(shared("keypoints", "mp_data_3recorders_1662.npz")) as z:
        np.savez(tmp_path / "other" / "a.npz", X=z["X"][10:12], label=["1", "1"], signer=["signer1"] * 2, seq=[1, 2])
    with pytest.raises(SignposeError, match="--append"):
        import_npz(tmp_path / "other" / "a.npz", out, progress=False)
    report = import_npz(tmp_path / "other" / "a.npz", out, progress=False, append=True)
    assert report.imported == 2
    assert {f: (out / "poses" / f).read_bytes() for f in before} == before  # the first source's files untouched
    assert len(Dataset(out).rows) == 4
    import_npz(tmp_path / "other" / "a.npz", out, progress=False, append=True)  # a rerun updates, adds nothing
    assert len(Dataset(out).rows) == 4 and len(Dataset(out).meta["sources"]) == 2


def test_d27_d35_kaggle_cells_that_do_not_fit_fail_their_sample(tmp_path):
    src = tmp_path / "kag"
    shutil.copytree(shared("kaggle_asl_signs"), src)
    table = pd.read_csv(src / "train.csv", dtype=str).iloc[:3]
    table.loc[0, "path"] = ""
    for i, index in ((1, 21), (2, -1)):  # a hand has points 0-20
        path = src / table.loc[i, "path"]
        df = pd.read_parquet(path)
        df.loc[df.index[df.type == "right_hand"][0], "landmark_index"] = index
        df.to_parquet(path)
    table.to_csv(src / "train.csv", index=False)
    report = import_kaggle(src, tmp_path / "ds", progress=False)
    errors = [e for _, e in report.failed]
    assert report.imported == 0 and errors[0] == "empty path cell"
    assert "landmark_index 21 is outside right_hand's 0-20" in errors[1]
    assert "landmark_index -1 is outside right_hand's 0-20" in errors[2]


def test_d34_import_pose_does_not_advise_deleting_the_users_file(tmp_path):
    (tmp_path / "p").mkdir()
    (tmp_path / "p" / "mine.pose").write_bytes(b"not a pose file")
    pd.DataFrame({"file": ["mine.pose"], "signer": ["s"], "sign": ["a"]}).to_csv(tmp_path / "map.csv", index=False)
    report = import_pose(tmp_path / "p", tmp_path / "ds", tmp_path / "map.csv", progress=False)
    assert "delete" not in report.failed[0][1] and "holistic .pose file" in report.failed[0][1]
    assert (tmp_path / "p" / "mine.pose").read_bytes() == b"not a pose file"


def test_d33_an_empty_first_sequence_folder_does_not_change_the_layout(tmp_path):
    src = tmp_path / "MP_Data"
    shutil.copytree(shared("mp_data", "recorder_c", "MP_Data"), src)
    first_sign = sorted(p for p in src.iterdir() if p.is_dir())[0]
    (first_sign / "0").mkdir(exist_ok=True)  # "0" sorts first; empty
    for f in (first_sign / "0").iterdir():
        f.unlink()
    report = import_mpdata(src, tmp_path / "ds", signer="c", progress=False)
    assert report.imported >= 89 and Dataset(tmp_path / "ds").signers == ["c"]
