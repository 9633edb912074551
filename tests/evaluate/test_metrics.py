import numpy as np
import pytest
import torch
from PIL import Image
from torchmetrics.classification import MulticlassAccuracy, MulticlassJaccardIndex, MulticlassRecall

from conftest import CCP, need
from fashionseg.cli import main
from fashionseg.evaluate.metrics import ConfusionMatrix, metrics_from_confusion


def test_against_torchmetrics():
    g = torch.Generator().manual_seed(1)
    c = 6
    target = torch.randint(0, c, (4, 20, 20), generator=g)
    pred = torch.where(
        torch.rand(4, 20, 20, generator=g) < 0.6,
        target,
        torch.randint(0, c, (4, 20, 20), generator=g),
    )
    target[0, :3] = 255
    cm = ConfusionMatrix(c)
    cm.update(pred, target)
    m = cm.compute()
    valid = target != 255
    p, t = pred[valid], target[valid]
    assert m["pixel_accuracy"] == pytest.approx(float(MulticlassAccuracy(c, average="micro")(p, t)))
    assert m["miou"] == pytest.approx(
        float(MulticlassJaccardIndex(c, average="macro")(p, t)), abs=1e-6
    )
    assert m["mean_class_accuracy"] == pytest.approx(
        float(MulticlassRecall(c, average="macro")(p, t)), abs=1e-6
    )
    per = MulticlassJaccardIndex(c, average="none")(p, t)
    assert np.allclose(list(m["per_class_iou"].values()), per.numpy(), atol=1e-6)
    freq = torch.bincount(t, minlength=c).double() / len(t)
    assert m["fw_iou"] == pytest.approx(float((freq * per).sum()), abs=1e-6)
    garment = ((p > 0) & (t > 0)).sum() / ((p > 0) | (t > 0)).sum()
    assert m["binary_iou"] == pytest.approx(float(garment))


def test_absent_classes_are_null_and_not_averaged():
    cm = torch.tensor([[5, 1, 0], [0, 2, 0], [0, 0, 0]])
    m = metrics_from_confusion(cm, ["background", "a", "b"])
    assert m["per_class_iou"]["b"] is None
    assert m["miou"] == pytest.approx((5 / 6 + 2 / 3) / 2)
    assert m["binary_iou"] == pytest.approx(2 / 3)  # truth a: 2, predicted garment: 3


def _tiny_data(tmp_path):
    from fashionseg.data.rle import rle_encode

    (tmp_path / "d" / "train").mkdir(parents=True)
    Image.new("RGB", (4, 3)).save(tmp_path / "d" / "train" / "a.jpg")
    truth = np.zeros((3, 4), bool)
    truth[0, :2] = True  # class 0 ("shirt, blouse") -> label 1
    (tmp_path / "d" / "train.csv").write_text(
        f"ImageId,EncodedPixels,Height,Width,ClassId,AttributesIds\na,{rle_encode(truth)},3,4,0,\n"
    )
    return tmp_path / "d"


def test_score_hand_made(tmp_path, capsys):
    data = _tiny_data(tmp_path)
    pred = np.zeros((3, 4), np.uint8)
    pred[0, 0] = 1  # one of the two shirt pixels
    pred[2, 3] = 2  # a false "top" pixel
    (tmp_path / "p").mkdir()
    Image.fromarray(pred).save(tmp_path / "p" / "a.png")
    assert (
        main(["score", str(tmp_path / "p"), "--data", str(data), "--out", str(tmp_path / "m.json")])
        == 0
    )
    import json

    m = json.loads((tmp_path / "m.json").read_text())
    assert m["pixel_accuracy"] == pytest.approx(10 / 12)
    assert m["per_class_iou"]["shirt, blouse"] == pytest.approx(0.5)
    assert m["per_class_iou"]["top, t-shirt, sweatshirt"] == 0.0
    assert m["per_class_iou"]["background"] == pytest.approx(9 / 11)
    assert m["binary_iou"] == pytest.approx(1 / 3)
    assert m["miou"] == pytest.approx((0.5 + 0 + 9 / 11) / 3)


def test_score_wrong_size_is_one_line(tmp_path, capsys):
    data = _tiny_data(tmp_path)
    (tmp_path / "p").mkdir()
    Image.fromarray(np.zeros((5, 5), np.uint8)).save(tmp_path / "p" / "a.png")
    assert main(["score", str(tmp_path / "p"), "--data", str(data)]) == 2
    assert "differs from the image" in capsys.readouterr().err


@pytest.mark.slow
def test_all_background_on_real_photos(tmp_path):
    """The issue's baseline: background everywhere scores high accuracy and near-zero mIoU."""
    (tmp_path / "empty").mkdir()
    main(
        [
            "score",
            str(tmp_path / "empty"),
            "--data",
            str(need(CCP)),
            "--out",
            str(tmp_path / "m.json"),
        ]
    )
    import json

    m = json.loads((tmp_path / "m.json").read_text())
    assert m["pixel_accuracy"] == pytest.approx(0.82, abs=0.01)
    assert m["miou"] == pytest.approx(0.033, abs=0.005)
    assert m["binary_iou"] == 0.0 and m["missing"] == 799


@pytest.mark.slow
def test_masks_score_perfectly(tmp_path):
    data = need(CCP)
    main(["masks", str(data), "--out", str(tmp_path / "gt"), "--workers", "2"])
    main(["score", str(tmp_path / "gt"), "--data", str(data), "--out", str(tmp_path / "m.json")])
    import json

    m = json.loads((tmp_path / "m.json").read_text())
    assert m["pixel_accuracy"] == 1.0 and m["miou"] == 1.0 and m["binary_iou"] == 1.0


def test_channel_argmax_equals_argmax_ties_included():
    from fashionseg.inference.labels import channel_argmax

    scores = torch.randn(7, 13, 11)
    scores[3, :4] = scores[5, :4] = 9.0  # ties go to the first channel
    assert torch.equal(channel_argmax(scores), scores.argmax(0))
