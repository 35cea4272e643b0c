import numpy as np
import pandas as pd
import pytest
from conftest import shared

from signpose.data.dataset import Dataset
from signpose.data.importers import import_kaggle, import_mpdata, import_npz, import_pose, seed_vectors_to_sequence
from signpose.data.labels import read_labels
from signpose.data.schema import LEFT_HAND, POSE, RIGHT_HAND, to_seed_vectors
from signpose.errors import SignposeError
from signpose.learn.arrays import export_arrays
from signpose.model.features import FeatureConfig, FeaturePipeline

RIGHT_HAND_SEED = slice(1662 - 63, 1662)  # the last 63 floats of a seed vector


@pytest.mark.slow
def test_mpdata_raw_layout_equals_the_npz_arrays(tmp_path):
    report = import_mpdata(
        shared("mp_data", "recorder_c", "MP_Data"),
        tmp_path / "ds",
        signer="recorder_c",
        progress=False,
    )
    assert report.imported == 90 and not report.failed
    ds = Dataset(report.out)
    assert ds.signers == ["recorder_c"] and ds.sign_ids == ["hello", "iloveyou", "thanks"]
    with np.load(shared("keypoints", "mp_data_3recorders_1662.npz")) as z:
        sel = z["recorder"] == "recorder_c"
        X, label, seqno = z["X"][sel], z["label"][sel], z["seq"][sel]
    seqs, rows, problems = ds.load()
    assert not problems and len(seqs) == 90
    for seq, row in zip(seqs, rows.itertuples(), strict=True):
        i = np.flatnonzero((label == row.sign_id) & (seqno == int(row.sample.split("/")[-1])))[0]
        assert seq.frames == 30
        # exact but for pose visibilities below 1e-4, stored as 1e-4 (0 would mean "absent")
        np.testing.assert_allclose(to_seed_vectors(seq.xyz, seq.present, seq.visibility), X[i], atol=1e-4)
        xyz_only = np.delete(X[i], np.arange(3, 132, 4), axis=-1)
        np.testing.assert_array_equal(
            np.delete(to_seed_vectors(seq.xyz, seq.present, seq.visibility), np.arange(3, 132, 4), axis=-1),
            xyz_only,
        )


def test_mpdata_frames_are_ordered_numerically(tmp_path):
    src = tmp_path / "MP_Data" / "0071" / "1"
    src.mkdir(parents=True)
    for f in range(12):  # "10" sorts before "2" as a string
        v = np.zeros(1662)
        v[0] = f + 1
        np.save(src / f"{f}.npy", v)
    ds = Dataset(import_mpdata(tmp_path / "MP_Data", tmp_path / "ds", signer="s", progress=False).out)
    seq = ds.read(ds.rows.iloc[0])
    np.testing.assert_array_equal(seq.xyz[:, 0, 0], np.arange(1, 13))
    assert ds.sign_ids == ["71"] and not seq.present[:, LEFT_HAND.slice].any()


@pytest.mark.slow
def test_kaggle_parquet_nan_becomes_absent(tmp_path):
    src = shared("kaggle_asl_signs")
    ds = Dataset(import_kaggle(src, tmp_path / "ds", progress=False).out)
    table = pd.read_csv(src / "train.csv")
    assert len(ds.rows) == len(table)
    assert ds.sign_ids == ["hello", "thankyou"] and len(ds.signers) == 6
    row = ds.rows.iloc[0]
    seq = ds.read(row)
    raw = pd.read_parquet(src / row.source)
    assert seq.frames == raw.frame.nunique()
    lh = raw[raw.type == "left_hand"].groupby("frame").x.apply(lambda x: x.notna().all()).to_numpy()
    np.testing.assert_array_equal(seq.present[:, LEFT_HAND.start], lh)
    lengths = [s.frames for s in ds.load()[0]]
    assert min(lengths) < 30 < max(lengths)  # variable lengths survive


def test_pose_import_and_export_arrays(tmp_path, synth_small):
    ds = Dataset(synth_small)
    mapping = pd.DataFrame(
        {
            "file": [f.removeprefix("poses/") for f in ds.rows.file[:6]],
            "signer": ds.rows.signer[:6],
            "sign": ds.rows.sign[:6],
        }
    )
    mapping.to_csv(tmp_path / "map.csv", index=False)
    out = Dataset(import_pose(synth_small / "poses", tmp_path / "ds", tmp_path / "map.csv", progress=False).out)
    assert len(out.rows) == 6 and set(out.rows.sign) <= set(ds.rows.sign)
    result = export_arrays(synth_small, tmp_path / "arrays", FeatureConfig(features="pose_hands"))
    X, y = np.load(tmp_path / "arrays" / "X.npy"), np.load(tmp_path / "arrays" / "y.npy")
    assert X.shape == (len(ds.rows), 30, 150) and result["classes"] == 5
    assert set(np.load(tmp_path / "arrays" / "signer.npy")) == {"signer1", "signer2", "signer3"}
    assert y.max() == 4 and np.isfinite(X).all()
    (tmp_path / "bad.csv").write_text("file,who\n")
    with pytest.raises(SignposeError, match="columns"):
        import_pose(synth_small / "poses", tmp_path / "ds2", tmp_path / "bad.csv", progress=False)


@pytest.fixture(scope="module")
def people22(tmp_path_factory):
    """The 22-person file, imported once (its X is zero-padded after each `length`)."""
    path = shared("keypoints", "asl_recorders_22_258.npz")
    out = tmp_path_factory.mktemp("people22") / "ds"
    report = import_npz(path, out, progress=False)
    assert report.imported == 2916
    with np.load(path) as z:
        ids = [f"{s}/{label}/{n}" for s, label, n in zip(z["signer"], z["label"], z["seq"], strict=True)]
        lengths = dict(zip(ids, z["length"], strict=True))
    return Dataset(out), lengths, report


def test_npz_import_says_which_person_saved_pixels(people22):
    """One of the 22 recorders (s04) saved x, y in pixels where the format has frame units:
    the import says so, for that person only, and keeps the samples."""
    ds, _, report = people22
    assert list(report.off_frame) == ["s04"]
    count, largest = report.off_frame["s04"]
    assert count == (ds.rows["signer"] == "s04").sum() == 40 and largest > 1000
    line = next(line for line in report.summary().splitlines() if "s04" in line)
    assert line.startswith("  40 samples of s04 have x, y up to") and "pixels" in line


def test_npz_import_honours_each_sequences_length(people22):
    ds, lengths, _ = people22
    seqs, rows, problems = ds.load()
    assert not problems and len(seqs) == 2916 and len(set(lengths.values())) > 5  # lengths really vary
    assert [s.frames for s in seqs] == [lengths[sample] for sample in rows["sample"]]
    # padding is all zeros, so a padded frame shows no body: half of the stored frames are
    # padding, and among the imported frames almost none lacks a body (5 real misses)
    assert 1 - sum(lengths.values()) / (2916 * 60) > 0.4
    assert np.mean(np.concatenate([~s.present[:, 0] for s in seqs])) < 0.001
    assert ds.info().padding.startswith("trimmed")
    points = FeaturePipeline(FeatureConfig(features="hands", dominant_hand="as-recorded")).load(ds)
    assert points.mask.any(axis=2).mean() > 0.7  # the resampled frames come from the sign, not the padding


def test_npz_without_length_keeps_every_frame(tmp_path):
    with np.load(shared("keypoints", "mp_data_3recorders_1662.npz")) as z:
        np.savez(tmp_path / "a.npz", X=z["X"][:3], label=z["label"][:3], recorder=z["recorder"][:3])
    ds = Dataset(import_npz(tmp_path / "a.npz", tmp_path / "ds", progress=False).out)
    assert [s.frames for s in ds.load()[0]] == [30, 30, 30] and ds.info().padding == ""


@pytest.mark.parametrize(
    ("arrays", "message"),
    [
        ({"X": np.zeros((3, 5, 258)), "label": np.array(["a", "b"]), "signer": np.array(["s"] * 3)}, "label has shape"),
        (
            {
                "X": np.zeros((2, 5, 258)),
                "label": np.array(["a"] * 2),
                "signer": np.array(["s"] * 2),
                "length": np.array([3, 9]),
            },
            "length must be whole numbers from 0 to 5",
        ),
        (
            {"X": np.zeros((2, 5, 258), object), "label": np.array(["a"] * 2), "signer": np.array(["s"] * 2)},
            "not Python objects",
        ),
    ],
)
def test_npz_arrays_that_do_not_fit_are_one_line(tmp_path, arrays, message):
    np.savez(tmp_path / "bad.npz", **arrays)
    with pytest.raises(SignposeError, match=message):
        import_npz(tmp_path / "bad.npz", tmp_path / "ds", progress=False)
    assert not (tmp_path / "ds").exists()


def test_npz_that_is_not_a_zip_and_zero_length_sequences(tmp_path):
    (tmp_path / "not.npz").write_text("hello")
    with pytest.raises(SignposeError, match="cannot read as .npz"):
        import_npz(tmp_path / "not.npz", tmp_path / "ds", progress=False)
    np.savez(
        tmp_path / "z.npz",
        X=np.full((2, 4, 258), 0.5, np.float32),
        label=np.array(["a", "b"]),
        signer=np.array(["s", "s"]),
        length=np.array([0, 4]),
    )
    report = import_npz(tmp_path / "z.npz", tmp_path / "ds", progress=False)
    assert report.imported == 1 and report.failed[0][1] == "no frames (length 0)"


def test_nan_keypoints_are_absent_not_numbers(tmp_path):
    with np.load(shared("keypoints", "mp_data_3recorders_1662.npz")) as z:
        X = z["X"][z["recorder"] == "recorder_b"][:2].copy()
    clean = seed_vectors_to_sequence(X[0])
    assert clean.present[:, RIGHT_HAND.slice].any()
    X[:, :, RIGHT_HAND_SEED] = np.nan
    seq = seed_vectors_to_sequence(X[0])
    assert np.isfinite(seq.xyz).all() and not seq.present[:, RIGHT_HAND.slice].any()
    np.testing.assert_array_equal(seq.present[:, POSE.slice], clean.present[:, POSE.slice])


def test_names_from_data_are_no_formulas_in_any_csv_and_read_back_as_given(tmp_path):
    """A sign named `=cmd|' /C calc'!A0` was a formula in every CSV a spreadsheet opens,
    and a NUL cut "a\\x00b" to "a" in some files and not in others."""
    import csv

    from signpose.learn.evaluation import evaluate
    from signpose.learn.training import train
    from signpose.model.config import TrainConfig

    labels = ["=cmd|' /C calc'!A0", '+HYPERLINK("http://x")', "a\x00b", "ok", "'quoted", "-0.5"]
    signers = ["@SUM(1)", "-2+3"]
    rng = np.random.default_rng(0)
    np.savez(
        tmp_path / "names.npz",
        X=rng.random((24, 20, 258), np.float32),
        label=np.array(labels * 4),
        signer=np.array([signers[i % 2] for i in range(24)]),
    )
    import_npz(tmp_path / "names.npz", tmp_path / "ds", progress=False)
    run = tmp_path / "run"
    train(tmp_path / "ds", run, TrainConfig(model="cnn", split="mixed", recipe={"epochs": 1}), progress=False)
    evaluate(run)  # per_class.csv, predictions.csv
    files = [tmp_path / "ds" / "signs.csv", tmp_path / "ds" / "manifest.csv", run / "per_class.csv"]
    files.append(run / "predictions.csv")
    for path in files:
        with open(path, encoding="utf-8", newline="") as f:
            cells = [cell for row in csv.reader(f) for cell in row]
        assert "\x00" not in "".join(cells), path
        formulas = [
            c for c in cells if c[:1] in ("=", "+", "@") or (c[:1] == "-" and not c[1:].replace(".", "").isdigit())
        ]
        assert not formulas, (path, formulas)
    ds = Dataset(tmp_path / "ds")
    assert set(ds.sign_names.values()) == {*labels[:2], "a\ufffdb", *labels[3:]}  # read back as given
    assert set(ds.signers) == set(signers)
    assert set(pd.read_csv(run / "per_class.csv", dtype=str).sign) == {"'" + n for n in labels[:2]} | {
        "a\ufffdb", "ok", "''quoted", "-0.5"
    }  # fmt: skip


def test_npz_import_takes_karsls_sign_names(tmp_path):
    """`import npz --labels` was accepted and ignored: KArSL's signs became "71", "72"..."""
    import subprocess

    from conftest import cli

    source, labels = shared("karsl", "karsl7_signers02_03_258.npz"), shared("karsl", "KARSL-100_Labels.xlsx")
    done = subprocess.run(
        cli("import", "npz", source, "--out", tmp_path / "ds", "--labels", labels), capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr[-1000:]
    names = Dataset(tmp_path / "ds").sign_names
    assert sorted(names, key=int) == [str(n) for n in range(71, 78)]
    assert all(any("\u0600" <= c <= "\u06ff" for c in name) for name in names.values())  # Arabic, as the xlsx has it
    assert names == {k: v for k, v in read_labels(labels).items() if k in names}
    refused = subprocess.run(
        cli("import", "kaggle", tmp_path, "--out", tmp_path / "k", "--labels", labels), capture_output=True, text=True
    )
    assert refused.returncode == 2 and "--labels applies to import mpdata and npz" in refused.stderr
