"""predict's sinks are declared once (use/predict/sinks/): a sink added to the list alone gets
its keyword, its flag, its place in the output plan and Ray's refusal; a failed run leaves no
half-written sink behind."""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path

import pytest

from fashionseg.cli import build_parser, main
from fashionseg.errors import FashionsegError, UsageError
from fashionseg.use.predict import ray_data
from fashionseg.use.predict.folder import predict
from fashionseg.use.predict.sinks import SINKS, SinkSpec

SAMPLE = Path(str(resources.files("fashionseg") / "sample" / "ccp" / "train"))


def _bundled() -> Path:
    from fashionseg.bundled import bundled_model

    return bundled_model()


class PhotoList:
    """A toy sink: the stems and garment counts, one line per photo."""

    opened: list[PhotoList] = []

    def __init__(self, path, context):
        self.path, self.lines, self.aborted = path, [], False
        self.model = context.predictor.name
        PhotoList.opened.append(self)

    def add(self, stem, doc):
        if stem == "boom":
            raise RuntimeError("the sink failed")
        self.lines.append(f"{stem} {len(doc['garments'])}")

    def close(self):
        self.path.write_text("\n".join(self.lines) + "\n")

    def abort(self):
        self.aborted = True


@pytest.fixture
def photo_list(monkeypatch):
    spec = SinkSpec("photo_list", "FILE.txt", "the photos and garment counts", PhotoList)
    monkeypatch.setitem(SINKS, "photo_list", spec)
    PhotoList.opened.clear()
    return spec


def test_a_sink_in_the_list_is_a_keyword_a_flag_a_planned_output_and_refused_by_ray(
    photo_list, tmp_path
):
    args = build_parser().parse_args(["predict", "p.jpg", "--out", "o", "--photo-list", "l.txt"])
    assert args.photo_list == "l.txt"

    photos = sorted(SAMPLE.glob("*.jpg"))[:3]
    listed = tmp_path / "photos.txt"
    done = predict(_bundled(), photos, tmp_path / "o", device="cpu", photo_list=listed)
    assert done["written"] == 3
    lines = listed.read_text().split()
    assert lines[::2] == [p.stem for p in photos]
    for stem, count in zip(lines[::2], lines[1::2]):
        doc = json.loads((tmp_path / "o" / f"{stem}.json").read_text())
        assert int(count) == len(doc["garments"])

    # A file of the user's at its path: the run is refused before any work, the flag named.
    mine = tmp_path / "mine.txt"
    mine.write_text("my notes\n")
    with pytest.raises(FashionsegError, match="--photo-list"):
        predict(_bundled(), photos, tmp_path / "o2", device="cpu", photo_list=mine)
    assert mine.read_text() == "my notes\n" and not list(tmp_path.glob("o2/*"))

    # Ray does not write it (ray=False): refused, named, before Ray is even imported.
    with pytest.raises(UsageError, match=r"--photo-list: local predict's .*--table"):
        ray_data.segment(photos, out=tmp_path / "r", photo_list=tmp_path / "r.txt")


def test_a_failed_run_leaves_no_sink_half_written(photo_list, tmp_path):
    boom = tmp_path / "in" / "boom.jpg"
    boom.parent.mkdir()
    boom.write_bytes((SAMPLE / "ccp0003.jpg").read_bytes())
    table = tmp_path / "garments.parquet"
    with pytest.raises(RuntimeError, match="the sink failed"):
        predict(
            _bundled(), [boom], tmp_path / "o", device="cpu", photo_list=tmp_path / "l.txt",
            table=table,
        )  # fmt: skip
    assert [s.aborted for s in PhotoList.opened] == [True]
    assert not (tmp_path / "l.txt").exists() and not table.exists()
    assert not list(tmp_path.glob("*.parquet*"))  # nor the table's temporary file


def test_ray_names_the_sinks_it_does_not_write(tmp_path, capsys):
    photo = SAMPLE / "ccp0003.jpg"
    code = main(
        ["predict", str(photo), "--out", str(tmp_path / "o"), "--coco-results",
         str(tmp_path / "c.json"), "--labelstudio", str(tmp_path / "t.json"), "--ray"]
    )  # fmt: skip
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1, err
    assert (
        "--coco-results, --labelstudio: local predict's (Ray writes the per-photo files, " in err[0]
    )
    assert "--kaggle-csv" in err[0] and "--table" in err[0]
    assert not (tmp_path / "o").exists()


def test_sink_names_are_not_option_names():
    from dataclasses import fields

    from fashionseg.use.predict.options import PredictOptions

    assert not set(SINKS) & {f.name for f in fields(PredictOptions)}


def test_a_sink_that_cannot_write_its_file_drops_the_others_behind_it():
    from fashionseg.use.predict.sinks import Sinks

    class Recorder:
        def __init__(self, fails=False):
            self.fails, self.state = fails, "open"

        def add(self, stem, doc):
            pass

        def close(self):
            if self.fails:
                raise OSError("disk full")
            self.state = "written"

        def abort(self):
            self.state = "dropped"

    first, broken, last = Recorder(), Recorder(fails=True), Recorder()
    with pytest.raises(OSError, match="disk full"):
        with Sinks([first, broken, last]):
            pass
    assert (first.state, broken.state, last.state) == ("written", "open", "dropped")
