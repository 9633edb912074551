"""The instance task: its cache (round trip, resume after a kill), Mask R-CNN with the
attribute head (it learns visible attributes; shuffled labels do not), exact resume, and the
console scripts in fresh processes."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from dataclasses import replace

import numpy as np
import pytest
import torch

from fashionseg.checkpoint import load_checkpoint
from fashionseg.config import TrainConfig
from fashionseg.data.components import apply_rule
from fashionseg.data.formats import open_dataset
from fashionseg.data.rle import rle_decode
from fashionseg.models import build_instance_model
from fashionseg.models.normalize import MEAN, STD
from fashionseg.prepare.cache import open_cache, prepare
from fashionseg.synth.writer import synth
from fashionseg.training.engine import train
from fashionseg.training.instances.batches import attribute_vocabulary, batch


@pytest.fixture(scope="module")
def synth_photos(tmp_path_factory):
    return synth(tmp_path_factory.mktemp("isynth"), images=24, size="64x96", seed=11, workers=1)


@pytest.fixture(scope="module")
def instance_cache(synth_photos, tmp_path_factory):
    return prepare(synth_photos, tmp_path_factory.mktemp("icache"), size="64x96", workers=1,
                   task="instances")  # fmt: skip


def test_instance_cache_round_trip(synth_photos, instance_cache):
    """Each photo's instances come back at the cache's size: the same classes and
    attributes as the source rows, masks equal to the resized source masks."""
    records = {r.image_id: r for r in open_dataset(synth_photos)}
    h, w = instance_cache.size
    assert (h, w) == (96, 64)
    for row, image_id in zip(instance_cache.indices, instance_cache.ids):
        record = records[image_id]  # synth writes 64x96 photos: the cache's size
        cached = instance_cache.instances[int(row)]
        source = [i for i in record.instances if rle_decode(i.rle, h, w).any()]
        assert [(c["class_id"], tuple(c["attributes"])) for c in cached] == [
            (i.class_id, i.attributes) for i in source
        ]
        for c, i in zip(cached, source):
            mask = rle_decode(c["rle"], h, w)
            assert np.array_equal(mask, rle_decode(i.rle, h, w))
            ys, xs = np.nonzero(mask)
            assert c["box"] == [xs.min(), ys.min(), xs.max() + 1, ys.max() + 1]
    assert instance_cache.meta["task"] == "instances"


def test_components_rule_in_the_cache(tmp_path):
    """Two shoes in one Kaggle row become two instances of an instance cache."""
    root = tmp_path / "k"
    (root / "train").mkdir(parents=True)
    from PIL import Image

    Image.new("RGB", (40, 30), (90, 90, 90)).save(root / "train" / "a.jpg")
    mask = np.zeros((30, 40), bool)
    mask[20:28, 2:10] = mask[20:28, 25:35] = True
    from fashionseg.data.rle import rle_encode

    (root / "train.csv").write_text(
        f"ImageId,EncodedPixels,Height,Width,ClassId\na,{rle_encode(mask)},30,40,23\n"
    )
    rows = prepare(root, tmp_path / "r", size="40x30", workers=1, task="instances")
    parts = prepare(root, tmp_path / "c", size="40x30", workers=1, task="instances",
                    instance_rule="components")  # fmt: skip
    assert len(rows.instances[0]) == 1 and len(parts.instances[0]) == 2
    record = next(iter(open_dataset(root)))
    assert len(apply_rule(record.instances, 30, 40, "components")) == 2


KILL_AT_IMAGE_41 = """
import os, signal, sys
import fashionseg.prepare.cache as prepare
real = prepare.run_records
def dying(*args, **kwargs):
    for n, item in enumerate(real(*args, **kwargs)):
        if n == 40:
            os.kill(os.getpid(), signal.SIGKILL)
        yield item
prepare.run_records = dying
from fashionseg.cli import main
sys.exit(main(sys.argv[1:]))
"""


@pytest.mark.slow
def test_instance_cache_resumes_after_a_kill(tmp_path):
    data = synth(tmp_path / "d", images=48, size="64x96", seed=4, workers=1)
    args = ["prepare", str(data), "--out", str(tmp_path / "c"), "--size", "64x96",
            "--workers", "1", "--task", "instances"]  # fmt: skip
    # The child kills itself when asked for its 41st photo, after a flush of 32 (no timing).
    killed = subprocess.run([sys.executable, "-c", KILL_AT_IMAGE_41, *args], capture_output=True)
    assert killed.returncode == -signal.SIGKILL
    done = int((np.load(tmp_path / "c" / "status.npy") == 1).sum())
    assert 0 < done < 48
    run = subprocess.run([sys.executable, "-m", "fashionseg", *args], capture_output=True)
    assert run.returncode == 0, run.stderr
    resumed = open_cache(tmp_path / "c")
    fresh = prepare(data, tmp_path / "fresh", size="64x96", workers=1, task="instances")
    assert len(resumed) == 48 and resumed.instances == fresh.instances
    assert np.array_equal(np.asarray(resumed.images), np.asarray(fresh.images))


def _pyramid(model, cache, rows, attribute_ids):
    """The pyramid features of ``rows`` (the pretrained encoder under an untrained FPN), their
    ground-truth boxes and attributes (N, A): the attribute head's task with detection aside."""
    images, targets = batch(cache, rows, attribute_ids, torch.device("cpu"))
    x = torch.stack(images)
    x = (x - torch.tensor(MEAN)[:, None, None]) / torch.tensor(STD)[:, None, None]
    with torch.no_grad():
        features = model.backbone(x)
    boxes = [t["boxes"] for t in targets]
    shapes = [tuple(x.shape[-2:])] * len(boxes)
    return features, boxes, shapes, x, torch.cat([t["attributes"] for t in targets])


def _length_accuracy(shuffle: bool, train_set, test_set, groups, num_attributes) -> float:
    """Train a fresh attribute head on ``train_set``; for each group of columns (one length
    each), the share of held-out garments with one of its attributes whose most likely one is
    theirs; the mean over the groups."""
    torch.manual_seed(0)
    model = build_instance_model("maskrcnn", 47, num_attributes, (144, 96), width=20)
    head = model.roi_heads.attribute_head
    features, boxes, shapes, photos, attributes = train_set
    if shuffle:  # the control: attributes dealt to the wrong garments
        attributes = attributes[torch.randperm(len(attributes))]
    optimizer = torch.optim.Adam(head.parameters(), lr=1e-3)
    for _ in range(150):
        loss = torch.nn.functional.binary_cross_entropy_with_logits(
            head(features, boxes, shapes, photos), attributes
        )
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    features, boxes, shapes, photos, attributes = test_set
    with torch.no_grad():
        logits = head(features, boxes, shapes, photos)
    shares = []
    for columns in groups:
        truth, guess = attributes[:, columns], logits[:, columns]
        named = truth.sum(1) == 1
        shares.append(float((guess[named].argmax(1) == truth[named].argmax(1)).float().mean()))
    return sum(shares) / len(shares)


@pytest.mark.slow
def test_the_attribute_head_learns_visible_attributes_and_a_shuffled_control_does_not(
    tmp_path_factory,
):
    data = synth(tmp_path_factory.mktemp("attr"), images=100, size="96x144", seed=5, workers=1)
    cache = prepare(data, tmp_path_factory.mktemp("ac"), size="96x144", workers=1, task="instances")
    rows = np.asarray(cache.indices)
    ids = attribute_vocabulary(cache, rows[:75])
    # Sleeve lengths (short, elbow-length, wrist-length, sleeveless) and hem lengths (mini,
    # knee, maxi), by Fashionpedia's ids.
    lengths = [[157, 158, 160, 156], [149, 151, 154]]
    assert {a for group in lengths for a in group} <= set(ids)
    columns = [[ids.index(a) for a in group] for group in lengths]
    # The pyramid above the pretrained encoder is untrained: seeded, so the features (and the
    # figures) do not hang on what ran before in the process.
    torch.manual_seed(0)
    model = build_instance_model("maskrcnn", 47, len(ids), (144, 96), width=20, pretrained=True)
    model.eval()
    train_set = _pyramid(model, cache, rows[:75].tolist(), ids)
    test_set = _pyramid(model, cache, rows[75:].tolist(), ids)
    learned = _length_accuracy(False, train_set, test_set, columns, len(ids))
    control = _length_accuracy(True, train_set, test_set, columns, len(ids))
    # Chance is a third to a quarter; the control can still learn the commonest length.
    assert learned > 0.45 and learned > control + 0.15, (learned, control)


def _config(data, out, **kw) -> TrainConfig:
    base = dict(data=str(data), out=str(out), task="instances", model="maskrcnn", width=8,
                size="64x96", epochs=2, batch_size=4, workers=0, seed=1, tensorboard=False,
                lr=1e-3)  # fmt: skip
    return TrainConfig(**{**base, **kw})


@pytest.mark.slow
def test_an_instance_run_resumes_to_identical_weights(instance_cache, tmp_path):
    # The first epoch is all warm-up, so a run planned for 1 epoch trains it as one planned
    # for 2 (the cosine part depends on the planned length), as in the semantic engine's test.
    cfg = _config(
        instance_cache.root, tmp_path / "straight", epochs=2, schedule="cosine", warmup_epochs=1
    )
    train(cfg)
    split = replace(cfg, out=str(tmp_path / "split"))
    train(replace(split, epochs=1))
    train(split, resume=True)
    a = load_checkpoint(tmp_path / "straight" / "last.pt")
    b = load_checkpoint(tmp_path / "split" / "last.pt")
    for k in a["model"]:
        assert torch.equal(a["model"][k], b["model"][k]), k
    history = (tmp_path / "straight" / "history.csv").read_text().splitlines()
    assert history[0].split(",")[2:6] == ["val_mask_ap", "val_mask_ap50", "val_box_ap",
                                          "val_attribute_f1"]  # fmt: skip
    assert (tmp_path / "straight" / "best.pt").is_file() and len(history) == 3


@pytest.mark.slow
def test_train_evaluate_and_predict_an_instance_model_from_the_console(synth_photos, tmp_path):
    env = dict(os.environ, FASHIONSEG_CACHE=str(tmp_path / "cache"))

    def run(*args):
        done = subprocess.run([sys.executable, "-m", "fashionseg", *args], capture_output=True,
                              text=True, env=env)  # fmt: skip
        assert done.returncode == 0, done.stderr[-2000:]
        return done

    run("train", "--task", "instances", "--model", "maskrcnn", "--data", str(synth_photos),
        "--out", str(tmp_path / "run"), "--size", "64x96", "--width", "8", "--epochs", "1",
        "--batch-size", "4", "--workers", "0", "--no-tensorboard")  # fmt: skip
    model = tmp_path / "run" / "best.pt"
    ids = tmp_path / "ids.txt"
    ids.write_text("\n".join(p.stem for p in sorted((synth_photos / "train").glob("*.jpg"))[:3]))
    run("evaluate", str(model), "--data", str(synth_photos), "--ids", str(ids), "--out",
        str(tmp_path / "m.json"))  # fmt: skip
    metrics = json.loads((tmp_path / "m.json").read_text())
    assert {"mask_ap", "mask_ap50", "box_ap", "mask_ap_iou_f1", "mask_ap_f1"} <= set(metrics)
    photo = sorted((synth_photos / "train").glob("*.jpg"))[0]
    run("predict", str(model), str(photo), "--out", str(tmp_path / "p"), "--coco-results",
        str(tmp_path / "r.json"))  # fmt: skip
    doc = json.loads((tmp_path / "p" / f"{photo.stem}.json").read_text())
    assert "instances" in doc and all("attributes" in i for i in doc["instances"])
    run("score", str(tmp_path / "r.json"), "--data", str(synth_photos))
    # ONNX: exported with a parity check in ONNX Runtime, then run by predict in its place.
    exported = json.loads(run("export", str(model), "--out", str(tmp_path / "m.onnx")).stdout)
    assert exported["pixel_agreement"] > 0.99, exported
    run("predict", str(tmp_path / "m.onnx"), str(photo), "--out", str(tmp_path / "po"))
    onnx_doc = json.loads((tmp_path / "po" / f"{photo.stem}.json").read_text())
    assert [i["name"] for i in onnx_doc["instances"]] == [i["name"] for i in doc["instances"]]
    # evaluate reads the task from the ONNX metadata: the exported model is scored as the
    # instance model it is (it used to be taken for a semantic one).
    run("evaluate", str(tmp_path / "m.onnx"), "--data", str(synth_photos), "--ids", str(ids),
        "--out", str(tmp_path / "mo.json"))  # fmt: skip
    onnx_metrics = json.loads((tmp_path / "mo.json").read_text())
    assert {"mask_ap", "box_ap", "mask_ap_iou_f1"} <= set(onnx_metrics)
    assert onnx_metrics["images"] == metrics["images"] == 3


def test_an_instance_config_names_an_instance_model():
    from fashionseg.errors import ConfigError

    with pytest.raises(ConfigError, match="task instances and model unet"):
        TrainConfig(task="instances", model="unet").validate()
    with pytest.raises(ConfigError, match="not a maskrcnn backbone"):
        TrainConfig(task="instances", model="maskrcnn", encoder="vgg").validate()


@pytest.mark.slow
def test_an_instance_run_under_torchrun_with_two_cpu_processes(instance_cache, tmp_path):
    # DDP on gloo: each rank trains its shard of the same batches, rank 0 alone validates and
    # writes; bf16 autocast on the CPU rides along (the AMP path the GPU takes with CUDA).
    env = dict(os.environ, OMP_NUM_THREADS="1")
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2",
           "--master_port", "29547", "-m", "fashionseg", "train", "--task", "instances",
           "--model", "maskrcnn", "--data", str(instance_cache.root), "--out",
           str(tmp_path / "run"), "--size", "64x96", "--width", "8", "--epochs", "2",
           "--batch-size", "2", "--workers", "0", "--no-tensorboard", "--amp", "bf16",
           "--val-fraction", "0.25"]  # fmt: skip
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stderr.count("epoch 2/2:") == 1  # rank 0 alone reports
    history = (tmp_path / "run" / "history.csv").read_text().splitlines()
    assert len(history) == 3
    ckpt = load_checkpoint(tmp_path / "run" / "last.pt")
    assert ckpt["epoch"] == 2 and ckpt["config"]["amp"] == "bf16"
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert metrics["epoch"] == 2 and "mask_ap" in metrics
