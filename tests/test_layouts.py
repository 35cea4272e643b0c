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
