"""Loading and augmentation speed, in one run on the same generated data (issue: keypoint data).

1. Loading 1,000+ sequences of 30 frames for training: signpose (cold: reading the .pose
   files and preparing points; warm: the dataset's cache) against the seed notebook's
   `load_features` loop over its one-`.npy`-per-frame layout. Target >= 50x.
2. Augmenting a batch: signpose's vectorised augmenter against the notebook's rotation and
   scale functions on the same array. Target >= 100x.
3. Does the loader keep training busy? Samples per second of loading + augmentation
   against the training throughput of the default model.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).parent))
from common import report  # noqa: E402
from seed_reference import seed_augment_rotation, seed_augment_scale  # noqa: E402

from signpose.data.dataset import Dataset, ManifestRow  # noqa: E402
from signpose.data.keypoints import KeypointSequence  # noqa: E402
from signpose.data.schema import to_seed_vectors  # noqa: E402
from signpose.data.synth import synth_dataset  # noqa: E402
from signpose.data.writer import DatasetWriter  # noqa: E402
from signpose.learn.augmentation import AugmentConfig, Augmenter  # noqa: E402
from signpose.learn.batches import Collate, PointBatches  # noqa: E402
from signpose.model.architectures import SignClassifier  # noqa: E402
from signpose.model.features import FeatureConfig, FeaturePipeline, feature_set  # noqa: E402

SIGNERS, SIGNS, REPS, FRAMES = (
    1,
    50,
    20,
    30,
)  # 1,000 sequences for one signer, like one notebook load


def make_data(tmp: Path) -> tuple[Path, Path]:
    """The same 1,000 sequences of 30 frames as a signpose dataset and as the seed's MP_Data."""
    synth = synth_dataset(tmp / "synth", signers=SIGNERS, signs=SIGNS, reps=REPS, progress=False)
    source = Dataset(synth)
    seqs, rows, _ = source.load()
    out, mp_data = tmp / "ds", tmp / "MP_Data" / "signer1"
    with DatasetWriter(out, {"created_by": "benchmark"}, source.sign_names) as writer:
        for seq, row in zip(seqs, rows.to_dict("records"), strict=True):
            idx = np.linspace(0, seq.frames - 1, FRAMES).round().astype(int)
            s30 = KeypointSequence(seq.xyz[idx], seq.present[idx], seq.fps, seq.width, seq.height)
            writer.add(
                ManifestRow(row["sample"], row["signer"], row["sign_id"], repetition=row["repetition"]),
                s30,
            )
            vectors = to_seed_vectors(s30.image_normalised(), s30.present)
            folder = mp_data / str(int(row["sign_id"]) + 69).zfill(4) / str(row["repetition"])
            folder.mkdir(parents=True, exist_ok=True)
            for f in range(FRAMES):
                np.save(folder / f"{f + 1}.npy", vectors[f].astype(np.float64))
    return out, mp_data


def seed_load_features(path: Path, include_non_manual: bool = True):
    """The notebook's `load_features`, as written there (its sign ids 70..169, 50 reps)."""
    sequences, labels = [], []
    for action in range(70, 70 + SIGNS):
        for sequence in range(1, REPS + 1):
            window = []
            for frame_num in range(1, FRAMES + 1):
                res1 = np.load(os.path.join(path, str(action).zfill(4), str(sequence), f"{frame_num}.npy"))
                lh_rh = res1[1536:]
                pose = res1[0:132]
                for z in range(2, lh_rh.shape[0], 3):
                    lh_rh[z] = None
                for z in range(2, pose.shape[0], 3):
                    pose[z] = None
                for z in range(2, pose.shape[0], 4):
                    pose[z] = None
                lh_rh = lh_rh[np.logical_not(np.isnan(lh_rh))]
                pose = pose[np.logical_not(np.isnan(pose))]
                features = np.concatenate([pose, lh_rh]) if include_non_manual else lh_rh
                window.append(features)
            sequences.append(window)
            labels.append(action - 70)
    return np.array(sequences), np.array(labels)


def main() -> None:
    torch.set_num_threads(os.cpu_count() or 1)
    tmp = Path(tempfile.mkdtemp(prefix="bench-data-"))
    try:
        ds_path, mp_data = make_data(tmp)
        pipeline = FeaturePipeline(FeatureConfig(features="pose_hands"))
        t = time.perf_counter()
        X_seed, _ = seed_load_features(mp_data)
        seed_s = time.perf_counter() - t
        shutil.rmtree(ds_path / "cache", ignore_errors=True)
        t = time.perf_counter()
        data = pipeline.load(Dataset(ds_path))
        cold_s = time.perf_counter() - t
        warm = []
        for _ in range(5):  # warm: the cache is there; the median of a few loads, each a fresh Dataset
            t = time.perf_counter()
            data = pipeline.load(Dataset(ds_path))
            warm.append(time.perf_counter() - t)
        warm_s = float(np.median(warm))
        n = len(data)
        assert X_seed.shape == (n, FRAMES, 150) and data.points.shape[:2] == (n, FRAMES)
        rows = [
            {
                "load": "seed load_features (one .npy per frame)",
                "sequences": n,
                "seconds": seed_s,
                "speed-up": 1.0,
            },
            {
                "load": "signpose, cold (read .pose files, prepare)",
                "sequences": n,
                "seconds": cold_s,
                "speed-up": seed_s / cold_s,
            },
            {
                "load": "signpose, warm (dataset cache)",
                "sequences": n,
                "seconds": warm_s,
                "speed-up": seed_s / warm_s,
            },
        ]
        report("loading", rows)

        # Augmentation: the same batch of 256 sequences (84 hand values, as the notebook augments).
        pts = FeaturePipeline(FeatureConfig(features="hands")).load(Dataset(ds_path)).points[:256]
        x_seed = pts.reshape(len(pts), FRAMES, 84).astype(np.float64)
        rng = np.random.default_rng(0)
        t = time.perf_counter()
        seed_augment_rotation(x_seed, rng)
        seed_augment_scale(x_seed, rng)
        seed_aug_s = time.perf_counter() - t
        full = AugmentConfig.preset("full").replace(mirror_p=0.5)  # every transform
        augmenter = Augmenter(full, feature_set("hands"), seed=0)
        p_t, m_t = torch.from_numpy(pts), torch.ones(pts.shape[:3], dtype=torch.bool)
        augmenter(p_t, m_t)
        reps = 20
        t = time.perf_counter()
        for _ in range(reps):
            augmenter(p_t, m_t)
        ours_s = (time.perf_counter() - t) / reps
        seed_only = Augmenter(AugmentConfig(name="seed"), feature_set("hands"), seed=0)
        t = time.perf_counter()
        for _ in range(reps):
            seed_only(p_t, m_t)
        seed_vec_s = (time.perf_counter() - t) / reps
        report(
            "augmentation",
            [
                {
                    "augment 256 x 30 x 84": "seed rotation + scale (Python loops)",
                    "ms": seed_aug_s * 1e3,
                    "speed-up": 1.0,
                },
                {
                    "augment 256 x 30 x 84": "signpose: the same two, vectorised",
                    "ms": seed_vec_s * 1e3,
                    "speed-up": seed_aug_s / seed_vec_s,
                },
                {
                    "augment 256 x 30 x 84": "signpose default (affine, time warp, dropout, mirror)",
                    "ms": ours_s * 1e3,
                    "speed-up": seed_aug_s / ours_s,
                },
            ],
        )

        # Loader against training throughput, default model, default features.
        rich = FeaturePipeline(FeatureConfig(features="rich"))
        data = rich.load(Dataset(ds_path))
        labels = np.array([int(s) - 1 for s in data.rows.sign_id])
        source = PointBatches(data, labels, np.arange(len(labels)))
        collate = Collate(source, Augmenter(AugmentConfig.preset("full"), feature_set("rich"), seed=0))
        batches = [list(range(i, i + 64)) for i in range(0, len(labels) - 63, 64)]
        t = time.perf_counter()
        for b in batches:
            collate(b)
        load_rate = len(batches) * 64 / (time.perf_counter() - t)
        model = SignClassifier("islr", rich, SIGNS)
        opt = torch.optim.Adam(model.parameters(), 1e-3)
        t = time.perf_counter()
        for b in batches[:6]:
            pts_b, mask_b, y_b = collate(b)
            loss = torch.nn.functional.cross_entropy(model(pts_b, mask_b), y_b)
            opt.zero_grad()
            loss.backward()
            opt.step()
        train_rate = 6 * 64 / (time.perf_counter() - t)
        report(
            "loader_vs_training",
            [
                {"stage": "load + augment (one process)", "samples/s": load_rate},
                {"stage": "train step, islr (forward + backward)", "samples/s": train_rate},
            ],
            {"loader / training": load_rate / train_rate},
        )
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
