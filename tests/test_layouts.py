import pandas as pd
import pytest
from conftest import shared

from signpose.data.labels import read_labels
from signpose.data.layouts import discover
from signpose.errors import SignposeError


def _touch(path):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"")
    return path


def test_karsl_release_layout_on_real_fixture():
    specs = discover(shared("karsl_layout"), "karsl")
    assert len(specs) == 8
    assert {s.signer for s in specs} == {"01"}
    assert sorted(int(s.sign_id) for s in specs) == list(range(1, 9))
    assert {s.subset for s in specs} == {"train"} and all(s.is_frames for s in specs)


def test_karsl_seed_variant_reads_sign_id_from_third_field(tmp_path):
    _touch(tmp_path / "01" / "01_01_0071_(1).mp4")
    _touch(tmp_path / "01" / "sub" / "01_02_0072_x.mp4")
    _touch(tmp_path / "02" / "test" / "0071" / "02_01_0071_a.mp4")
    specs = discover(tmp_path, "karsl")
    assert [(s.signer, s.sign_id, s.subset) for s in specs] == [
        ("01", "71", ""),
        ("01", "72", ""),
        ("02", "71", "test"),
    ]


def test_unparseable_names_get_one_line_errors_with_the_pattern(tmp_path):
    _touch(tmp_path / "01" / "clip.mp4")
    with pytest.raises(SignposeError, match=r"clip.mp4: cannot read the sign id .*<sign id>"):
        discover(tmp_path, "karsl")
    (tmp_path / "01" / "clip.mp4").unlink()
    _touch(tmp_path / "01" / "train" / "hello" / "x.mp4")
    with pytest.raises(SignposeError, match="sign folder name is not a sign id"):
        discover(tmp_path, "karsl")


def test_folders_layouts(tmp_path):
    _touch(tmp_path / "a" / "s1" / "hello" / "1.mp4")
    _touch(tmp_path / "a" / "s2" / "hello" / "2.mp4")
    _touch(tmp_path / "a" / "s2" / "bye" / "3.mp4")
    assert [(s.signer, s.sign_id, s.repetition) for s in discover(tmp_path / "a")] == [
        ("s1", "hello", 1),
        ("s2", "bye", 1),
        ("s2", "hello", 1),
    ]
    _touch(tmp_path / "b" / "hello" / "1.mp4")
    _touch(tmp_path / "b" / "hello" / "2.mp4")
    _touch(tmp_path / "b" / "bye" / "1.mp4")
    assert [(s.signer, s.sign_id, s.repetition) for s in discover(tmp_path / "b", signer="me")] == [
        ("me", "bye", 1),
        ("me", "hello", 1),
        ("me", "hello", 2),
    ]
    _touch(tmp_path / "c" / "A.mp4")
    assert [s.sign_id for s in discover(tmp_path / "c")] == ["A"]


def test_missing_and_empty_folders(tmp_path):
    with pytest.raises(SignposeError, match="no such folder"):
        discover(tmp_path / "nope")
    (tmp_path / "empty").mkdir()
    with pytest.raises(SignposeError, match="no sign videos or frame folders found"):
        discover(tmp_path / "empty")


def test_labels_csv_keeps_arabic_and_xlsx_joins_columns(tmp_path):
    labels = read_labels(shared("karsl_layout", "labels.csv"))
    assert labels["1"] == "حرف A letter A" and len(labels) == 8
    pd.DataFrame(
        {
            "SignID": [71, 72],
            "Sign-Arabic": ["هيكل عظمي", "جهاز تنفسي"],
            "Sign-English": ["skeleton", "respiratory system"],
        }
    ).to_excel(tmp_path / "labels.xlsx", index=False)
    xl = read_labels(tmp_path / "labels.xlsx")
    assert xl == {"71": "هيكل عظمي skeleton", "72": "جهاز تنفسي respiratory system"}
    (tmp_path / "bad.csv").write_text("a,b\n1,2\n")
    with pytest.raises(SignposeError, match="no sign id column"):
        read_labels(tmp_path / "bad.csv")


def test_a_signer_folder_of_clips_named_by_sign_is_not_taken_for_one_sign(tmp_path):
    """<root>/<signer>/<sign>.mp4 reads as <root>/<sign>/<sample>: all clips one sign. That is
    refused with the command that reads it right."""
    for letter in "ABC":
        _touch(tmp_path / "root" / "anna" / f"{letter}.mp4")
    with pytest.raises(
        SignposeError,
        match=r"3 clips as samples of one sign \('anna'\).*extract .*anna --layout folders --signer anna",
    ):
        discover(tmp_path / "root")
    assert [(s.signer, s.sign_id) for s in discover(tmp_path / "root" / "anna", signer="anna")] == [
        ("anna", "A"),
        ("anna", "B"),
        ("anna", "C"),
    ]


def test_karsl_videos_directly_in_train_and_test_folders(tmp_path):
    """KArSL's mp4 copies often sit straight in <signer>/test/; mixed with frame folders too."""
    _touch(tmp_path / "k" / "01" / "test" / "01_01_0001_(10_11_16)_c.mp4")
    _touch(tmp_path / "k" / "01" / "test" / "01_01_0012_(10_11_17)_c.mp4")
    _touch(tmp_path / "k" / "01" / "train" / "0003" / "s1" / "frame_1.jpg")
    specs = discover(tmp_path / "k", layout="karsl")
    assert [(s.signer, s.sign_id, s.subset) for s in specs] == [
        ("01", "1", "test"),
        ("01", "12", "test"),
        ("01", "3", "train"),
    ]
    _touch(tmp_path / "k" / "01" / "test" / "badname.mp4")
    with pytest.raises(SignposeError, match="badname.mp4: cannot read the sign id"):
        discover(tmp_path / "k", layout="karsl")


# --- the field's data sets, each in its exact structure, made from real clips -------------


def _clips():
    """Two short real clips (320x240): the sign fixtures link to them under each layout's names."""
    return shared("videos", "wlasl_mini", "brother", "brother_3.mp4"), shared(
        "videos", "wlasl_mini", "mother", "mother_2.mp4"
    )


def _link(path, target):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.symlink_to(target)
    return path


def make_lsa64(root):
    a, b = _clips()
    for sign, clip in (("001", a), ("002", b)):
        for signer in ("001", "002"):
            _link(root / f"{sign}_{signer}_00{1 if signer == '001' else 3}.mp4", clip)
    return root


def make_autsl(root):
    a, b = _clips()
    rows = {"train": [], "val": [], "test": []}
    for n, (split, signer, clip, cls) in enumerate(
        [("train", 0, a, 0), ("train", 0, b, 1), ("val", 5, a, 0), ("test", 9, b, 1)], start=1
    ):
        _link(root / split / f"signer{signer}_sample{n}_color.mp4", clip)
        (root / split / f"signer{signer}_sample{n}_depth.mp4").write_bytes(b"")  # not a sign clip: ignored
        rows[split].append(f"signer{signer}_sample{n},{cls}")
    for split, lines in rows.items():
        (root / f"{split}_labels.csv").write_text("\n".join(lines) + "\n")
    (root / "SignList_ClassId_TR_EN.csv").write_text("ClassId,TR,EN\n0,abla,sister\n1,anne,mother\n", "utf-8")
    return root


def make_wlasl(root):
    import json

    a, b = _clips()
    _link(root / "videos" / "00001.mp4", a)
    _link(root / "videos" / "00002.mp4", b)
    _link(root / "videos" / "00003.mp4", a)
    instances = {
        "brother": [
            {"video_id": "00001", "signer_id": 12, "split": "train", "frame_start": 1, "frame_end": -1},
            {"video_id": "00003", "signer_id": 40, "split": "test", "frame_start": 11, "frame_end": 30},
            {"video_id": "99999", "signer_id": 40, "split": "val", "frame_start": 1, "frame_end": -1},  # gone
        ],
        "mother": [{"video_id": "00002", "signer_id": 12, "split": "train", "frame_start": 1, "frame_end": -1}],
    }
    glosses = [{"gloss": g, "instances": i} for g, i in instances.items()]
    (root / "WLASL_v0.3.json").write_text(json.dumps(glosses))
    return root


def make_include(root):
    a, b = _clips()
    _link(root / "People" / "1. brother" / "MVI_0001.MOV.mp4", a)
    _link(root / "People" / "1. brother" / "MVI_0002.mp4", a)
    _link(root / "People" / "2. mother" / "MVI_0003.mp4", b)
    (root / "include_train.csv").write_text("FilePath,Label\nPeople/1. brother/MVI_0001.MOV.mp4,brother\n")
    (root / "include_test.csv").write_text("FilePath,Label\nPeople/2. mother/MVI_0003.mp4,mother\n")
    return root


def make_asl_citizen(root):
    a, b = _clips()
    _link(root / "videos" / "111-BROTHER.mp4", a)
    _link(root / "videos" / "222-MOTHER.mp4", b)
    _link(root / "videos" / "333-BROTHER.mp4", a)
    (root / "splits").mkdir()
    header = "Participant ID,Video file,Gloss,ASL-LEX Code\n"
    (root / "splits" / "train.csv").write_text(header + "P1,111-BROTHER.mp4,BROTHER,x\nP1,222-MOTHER.mp4,MOTHER,y\n")
    (root / "splits" / "test.csv").write_text(header + "P7,333-BROTHER.mp4,BROTHER,x\n")
    return root


# layout: (maker, expected (signer, sign id, subset, repetition) per sample in sample order)
FIELD = {
    "lsa64": (make_lsa64, [("001", "1", "", 1), ("002", "1", "", 3), ("001", "2", "", 1), ("002", "2", "", 3)]),
    "autsl": (
        make_autsl,
        [
            ("signer9", "1", "test", 1),
            ("signer0", "0", "train", 1),
            ("signer0", "1", "train", 1),
            ("signer5", "0", "val", 1),
        ],
    ),
    "wlasl": (make_wlasl, [("12", "brother", "train", 1), ("12", "mother", "train", 1), ("40", "brother", "test", 1)]),
    "include": (make_include, [("ds", "brother", "train", 1), ("ds", "brother", "", 2), ("ds", "mother", "test", 1)]),
    "asl-citizen": (
        make_asl_citizen,
        [("P1", "BROTHER", "train", 1), ("P1", "MOTHER", "train", 1), ("P7", "BROTHER", "test", 1)],
    ),
}


@pytest.mark.parametrize("layout", list(FIELD))
def test_each_layout_reads_its_data_sets_structure_and_auto_finds_it(tmp_path, layout):
    from signpose.data.layouts import detect_layout

    make, expected = FIELD[layout]
    root = make(tmp_path / "ds")
    specs = discover(root, layout)
    assert [(s.signer, s.sign_id, s.subset, s.repetition) for s in specs] == expected
    assert detect_layout(root) == layout
    other = next(name for name in FIELD if name != layout)
    with pytest.raises(SignposeError, match=f"the {other} layout expects .*{FIELD_HINT[other]}"):
        discover(root, other)


FIELD_HINT = {
    "lsa64": "001_001_001.mp4",
    "autsl": "signer<N>_sample<M>_color",
    "wlasl": "WLASL_v0.3.json",
    "include": "N. word",
    "asl-citizen": "Participant ID",
}


@pytest.mark.slow
@pytest.mark.parametrize("layout", ["lsa64", "include", "asl-citizen"])
def test_each_layout_goes_through_extract(tmp_path, layout):
    """The manifest `extract` writes keeps each sample's signer, sign, repetition and the
    official subset (autsl and wlasl: below, with their names and frame ranges)."""
    from signpose.data.dataset import Dataset
    from signpose.extract.pipeline import extract_dataset

    make, expected = FIELD[layout]
    report = extract_dataset(make(tmp_path / "ds"), tmp_path / "out", layout=layout, workers=2, progress=False)
    assert report.extracted == len(expected) and not report.failed
    rows = Dataset(tmp_path / "out").rows
    assert list(zip(rows.signer, rows.sign_id, rows.subset, rows.repetition, strict=True)) == expected


@pytest.mark.slow
def test_the_field_layouts_extract_with_names_subsets_and_frame_ranges(tmp_path):
    """Through `extract` (MediaPipe on the real clips): names from the layouts' own files,
    the official subsets in the manifest, a WLASL frame range cut from its video."""
    from signpose.data.dataset import Dataset
    from signpose.extract.pipeline import extract_dataset

    autsl = extract_dataset(make_autsl(tmp_path / "autsl"), tmp_path / "a", layout="auto", workers=2, progress=False)
    assert autsl.extracted == 4
    ds = Dataset(tmp_path / "a")
    assert ds.sign_names == {"0": "sister (abla)", "1": "mother (anne)"}
    assert sorted(ds.rows.subset) == ["test", "train", "train", "val"]
    from signpose.learn.evaluation import evaluate
    from signpose.learn.training import train
    from signpose.model.config import TrainConfig

    config = TrainConfig(model="cnn", split="official", recipe={"epochs": 1}, features={"frames": 16})
    info = train(tmp_path / "a", tmp_path / "run", config, progress=False)
    assert info.split == "official" and info.samples == {"train": 2, "val": 1, "test": 1}
    assert evaluate(tmp_path / "run").samples == 1  # AUTSL's test clip
    wlasl = extract_dataset(make_wlasl(tmp_path / "wlasl"), tmp_path / "w", layout="wlasl", workers=2, progress=False)
    assert wlasl.extracted == 3
    rows = Dataset(tmp_path / "w").rows.set_index("sample")
    assert rows.loc["videos/00003", "frames"] == 20  # frames 11-30 of an 81-frame clip
    assert rows.loc["videos/00001", "frames"] == 81
    assert set(rows.signer) == {"12", "40"} and set(rows.sign) == {"brother", "mother"}


def test_a_wlasl_video_id_cannot_reach_outside_its_videos(tmp_path):
    import json

    root = make_wlasl(tmp_path / "ds")
    glosses = json.loads((root / "WLASL_v0.3.json").read_text())
    glosses[0]["instances"][0]["video_id"] = "../../outside"
    (root / "WLASL_v0.3.json").write_text(json.dumps(glosses))
    with pytest.raises(
        SignposeError, match=r"video_id '../../outside' must be a file name inside .*without '/' or '..'"
    ):
        discover(root, "wlasl")


def test_auto_refuses_a_folder_two_layouts_claim(tmp_path):
    from signpose.data.layouts import detect_layout

    root = make_autsl(tmp_path / "ds")
    make_wlasl(root)  # a WLASL index beside AUTSL's split folders
    with pytest.raises(SignposeError, match=r"looks like more than one layout \(autsl, wlasl\); pass --layout"):
        detect_layout(root)
    (tmp_path / "empty").mkdir()
    with pytest.raises(SignposeError, match="no layout recognises this folder; `signpose layouts`"):
        detect_layout(tmp_path / "empty")


def test_the_official_split_trains_on_train_and_tests_on_test(tmp_path):
    from signpose.learn.splits import official_split

    rows = pd.DataFrame(
        {
            "sign_id": ["a", "b", "a", "b", "a", "b", "c"],
            "signer": ["s1", "s1", "s2", "s2", "s3", "s3", "s3"],
            "subset": ["train", "train", "train", "train", "val", "test", "test"],
        }
    )
    split = official_split(rows)
    assert list(split.train) == [0, 1, 2, 3] and list(split.val) == [4] and list(split.test) == [5]
    assert split.classes == ["a", "b"] and split.dropped_from_test == ["c"]  # no training sample of c
    with pytest.raises(SignposeError, match="no official train and test split"):
        official_split(rows.assign(subset=""))


def test_label_files_in_other_encodings_are_read_or_refused_in_one_line(tmp_path):
    text = "SignID,Sign\n71,أسد lion\n72,بيت house\n"
    (tmp_path / "utf16.csv").write_bytes(text.encode("utf-16"))  # with its byte-order mark: unambiguous
    assert read_labels(tmp_path / "utf16.csv") == {"71": "أسد lion", "72": "بيت house"}
    (tmp_path / "cp1256.csv").write_bytes(text.encode("cp1256"))
    with pytest.raises(SignposeError, match=r"cp1256.csv: .*not UTF-8.*save it as UTF-8"):
        read_labels(tmp_path / "cp1256.csv")
