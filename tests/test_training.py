"""Training helpers: what a resume may continue from, the per-epoch table it continues, and the schedule."""

import math

import pandas as pd
import pytest

from conftest import TINY_TRAIN, edit_config, run_snakemake
from seesound.training import (
    completed_epochs,
    ema_decay,
    ema_over_steps,
    install_model,
    resolve_precision,
    training_fingerprint,
    trim_results_csv,
)


def test_the_fingerprint_changes_with_any_setting_and_with_the_split(tmp_path):
    listing = tmp_path / "split.csv"
    listing.write_text("clip_id,label,split\na,dog,train\n")
    settings = {"epochs": 3, "augment": {"mixup": 0.3}}
    base = training_fingerprint(settings, listing)
    assert training_fingerprint(dict(reversed(list(settings.items()))), listing) == base
    assert training_fingerprint({"epochs": 4, "augment": {"mixup": 0.3}}, listing) != base
    listing.write_text("clip_id,label,split\na,dog,val\n")
    assert training_fingerprint(settings, listing) != base


def test_rows_beyond_the_checkpoint_are_dropped_before_a_resume(tmp_path):
    csv = tmp_path / "results.csv"
    csv.write_text("epoch,time,train/loss\n1,1.5,0.9\n2,3.0,0.8\n3,4.5,0.7\n")
    trim_results_csv(csv, 2)
    assert csv.read_text() == "epoch,time,train/loss\n1,1.5,0.9\n2,3.0,0.8\n"
    trim_results_csv(tmp_path / "absent.csv", 2)  # nothing to trim


def test_an_unreadable_checkpoint_is_not_resumed_from(tmp_path):
    (tmp_path / "last.pt").write_bytes(b"\x80\x04 cut short")
    assert completed_epochs(tmp_path / "last.pt") is None


def test_installing_copies_so_the_installed_files_are_newer_than_their_inputs(tmp_path):
    src = {"last": tmp_path / "trained" / "last.pt", "results_csv": tmp_path / "trained" / "results.csv"}
    for path in src.values():
        path.parent.mkdir(exist_ok=True)
        path.write_bytes(b"weights")
    dest = {"last": tmp_path / "weights" / "last.pt", "results_csv": tmp_path / "results.csv"}
    install_model(src, dest)
    for key in src:
        assert dest[key].read_bytes() == b"weights" and dest[key].stat().st_ino != src[key].stat().st_ino


def test_auto_is_ultralytics_choice_with_a_floor_on_adamw_rate():
    from seesound.training import AUTO_MIN_LR, auto_optimizer

    assert AUTO_MIN_LR == 0.000714
    assert auto_optimizer(10, 288, 32, 90, 64) == {"optimizer": "AdamW", "lr0": 0.000714, "momentum": 0.9}
    assert auto_optimizer(5, 144, 32, 90, 64)["lr0"] == 0.001111  # fewer classes: Ultralytics' higher rate
    assert auto_optimizer(50, 1283, 32, 90, 64)["lr0"] == 0.000714  # not its 0.000185
    assert auto_optimizer(50, 100_000, 32, 90, 64) == {"optimizer": "auto"}  # 140 670 iterations: Ultralytics' MuSGD
    assert auto_optimizer(50, 6000, 32, 90, 64)["optimizer"] == "AdamW"  # 8 460 steps of 64 images
    assert auto_optimizer(50, 6000, 32, 90, 32) == {"optimizer": "auto"}  # 16 920 steps of 32


def test_for_ten_classes_or_fewer_auto_builds_the_optimizer_ultralytics_auto_builds():
    """seesound spells `auto` out as AdamW with a rate and beta1; up to 10 classes that must be exactly
    Ultralytics' own `auto` (a newer Ultralytics that changes its rule fails here)."""
    from types import SimpleNamespace

    import torch
    from ultralytics.engine.trainer import BaseTrainer

    from seesound.training import auto_optimizer

    model = torch.nn.Sequential(
        torch.nn.Conv2d(3, 4, 3), torch.nn.BatchNorm2d(4), torch.nn.Flatten(), torch.nn.Linear(4, 2)
    )
    for classes, images, epochs in ((3, 40, 5), (10, 288, 90), (50, 1283, 90)):
        iterations = -(-images // 64) * epochs

        def build(name, lr, momentum, classes=classes, iterations=iterations):
            trainer = SimpleNamespace(
                args=SimpleNamespace(optimizer=name, lr0=lr, warmup_bias_lr=0.1), data={"nc": classes}
            )
            return BaseTrainer.build_optimizer(trainer, model, name, lr, momentum, 5e-4, iterations)

        ours = auto_optimizer(classes, images, 32, epochs, 64)  # Ultralytics' default nbs
        spelled = build(ours["optimizer"], ours["lr0"], ours["momentum"])
        theirs = build("auto", 0.01, 0.937)
        assert type(spelled) is type(theirs) is torch.optim.AdamW
        same = [
            g["lr"] == t["lr"] and g["betas"] == t["betas"] for g, t in zip(spelled.param_groups, theirs.param_groups)
        ]
        assert all(same) == (classes <= 10), (classes, spelled.param_groups[0]["lr"], theirs.param_groups[0]["lr"])


def test_the_schedule_nominal_batch_weight_decay_and_dropout_reach_ultralytics(work):
    """Ultralytics scales each epoch's rate by lf(epoch), linear or cosine from 1 to lrf (0.01); warmup
    multiplies both alike, so the two runs' logged rates differ by exactly the ratio of the two curves. The
    nominal batch, weight decay and dropout are in the arguments Ultralytics trained with (its checkpoint's
    train_args), and the dropout is in the saved model."""
    import torch

    epochs, lrf = 4, 0.01
    rates, trained_with, dropout_p = {}, {}, {}
    runs = {"linear": (64, 0.0005, 0.0), "cosine": (8, 0.05, 0.25)}
    for schedule, (nominal_batch, weight_decay, dropout) in runs.items():
        train = TINY_TRAIN | {"epochs": epochs, "patience": 0, "lr_schedule": schedule, "nominal_batch": nominal_batch}
        ema_steps = 4 if schedule == "cosine" else None
        edit_config(work, "train", **train, weight_decay=weight_decay, dropout=dropout, ema_steps=ema_steps)
        run_snakemake(work, "--cores", "2", "model")
        log = (work / "results" / "logs" / "train.log").read_text()
        assert ("average about the last 4 steps" in log) == (ema_steps == 4), log[-2000:]
        table = pd.read_csv(work / "results" / "model" / "results.csv").rename(columns=str.strip)
        rates[schedule] = table["lr/pg1"].to_numpy()
        checkpoint = torch.load(
            work / "results" / "model" / "weights" / "last.pt", map_location="cpu", weights_only=False
        )
        trained_with[schedule] = tuple(checkpoint["train_args"][k] for k in ("nbs", "weight_decay", "dropout"))
        dropout_p[schedule] = [m.p for m in checkpoint["model"].modules() if isinstance(m, torch.nn.Dropout)]
    assert trained_with == runs
    assert dropout_p == {"linear": [0.0], "cosine": [0.25]}
    for epoch in range(epochs):
        linear = (1 - epoch / epochs) * (1 - lrf) + lrf
        cosine = (1 - math.cos(epoch * math.pi / epochs)) / 2 * (lrf - 1) + 1
        assert rates["cosine"][epoch] / rates["linear"][epoch] == pytest.approx(cosine / linear, rel=1e-3)


def test_ema_steps_make_the_saved_weights_an_average_of_the_last_steps():
    """Ultralytics' ModelEMA with our decay: after many updates towards 1.0 from 0.0 the average sits where an
    exponential average over `steps` steps would, not at the last step's value (Ultralytics' own ramp, 2000
    steps to reach 0.9999, leaves a 1 500-step training barely averaged)."""
    from types import SimpleNamespace

    import torch
    from ultralytics.utils.torch_utils import ModelEMA

    assert ema_decay(200)(10**6) == pytest.approx(0.995)
    assert ema_decay(200)(0) == 0.0
    model = torch.nn.Linear(1, 1, bias=False)
    trainer = SimpleNamespace(ema=ModelEMA(model))
    ema_over_steps(10)(trainer)
    with torch.no_grad():
        model.weight.fill_(0.0)
        for _ in range(200):
            trainer.ema.update(model)
        model.weight.fill_(1.0)
        for _ in range(10):
            trainer.ema.update(model)
    # ten steps at 1.0 after a settled average of 0.0: 1 - 0.9 ** 10 of the way there
    assert trainer.ema.ema.weight.item() == pytest.approx(1 - 0.9**10, rel=1e-3)


def test_auto_precision_is_bfloat16_only_on_a_cpu_that_has_it_and_amp_on_a_gpu(monkeypatch):
    import seesound.training as training

    for native, on_cpu in ((True, "bf16"), (False, "fp32")):
        monkeypatch.setattr(training, "cpu_has_native_bf16", lambda native=native: native)
        assert resolve_precision("auto", "cpu") == on_cpu
        assert resolve_precision("auto", "0") == "fp16"  # Ultralytics' AMP on CUDA, as before
        assert resolve_precision("auto", "mps") == "fp32"
        # what the config asks for is what it gets, on any device
        assert [resolve_precision(p, d) for p in ("fp32", "bf16") for d in ("cpu", "0")] == ["fp32"] * 2 + ["bf16"] * 2


def test_bf16_autocast_reaches_ultralytics_on_the_cpu():
    """Ultralytics' own autocast() raises for bfloat16 off CUDA; the trainer module's is replaced by one that
    gives torch's CPU autocast (a convolution's output in bfloat16) and leaves everything else to Ultralytics."""
    from types import SimpleNamespace

    import torch
    from ultralytics.utils.torch_utils import autocast as ultralytics_autocast

    from seesound.training import _allow_bf16_autocast_on_cpu

    with pytest.raises(RuntimeError), ultralytics_autocast(torch.bfloat16, device="cpu"):
        pass
    module = SimpleNamespace(autocast=ultralytics_autocast)
    _allow_bf16_autocast_on_cpu(module)
    _allow_bf16_autocast_on_cpu(module)  # twice: still one layer over Ultralytics' own
    assert module.autocast.__wrapped__ is ultralytics_autocast
    conv, x = torch.nn.Conv2d(3, 4, 3), torch.rand(1, 3, 8, 8)
    with module.autocast(torch.bfloat16, device="cpu"):
        assert conv(x).dtype == torch.bfloat16
    with module.autocast(False, device="cpu"):
        assert conv(x).dtype == torch.float32


@pytest.mark.parametrize("precision", ["fp32", "bf16"])
def test_the_precision_reaches_ultralytics_and_the_model_card(work, precision):
    """`train.precision` is the `amp` Ultralytics trains with (its checkpoint's train_args) and the card says
    what the training ran in; the weights are saved in a layout any machine loads (evaluation ran on them)."""
    import json

    import torch

    edit_config(work, "train", **TINY_TRAIN, precision=precision)
    run_snakemake(work, "--cores", "2", "evaluate")
    results = work / "results"
    checkpoint = torch.load(results / "model" / "weights" / "last.pt", map_location="cpu", weights_only=False)
    assert checkpoint["train_args"]["amp"] == {"fp32": False, "bf16": "bf16"}[precision]
    card = json.loads((results / "model" / "model_card.json").read_text())
    assert card["trained"]["precision"] == precision
    assert f"in {precision}" in (results / "logs" / "train.log").read_text()
    metrics = json.loads((results / "metrics.json").read_text())
    assert metrics["training"]["precision"] == precision and 0 <= metrics["test"]["top1"] <= 1
