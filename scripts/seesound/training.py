"""Training a YOLO classifier on the split's folders, offline, CPU or GPU, resumable."""

from __future__ import annotations

import logging
import math
import re
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

from .augment import AudioAugment, audio_aware_trainer
from .model import ModelError, configure_ultralytics_offline, load_classifier, resolve_device


def ultralytics_train_args(augment: dict) -> dict:
    """Spectrogram-safe defaults map onto Ultralytics' classification augmentation arguments.

    A flip reverses time, hue jitter changes what a colour means and a random crop cuts frequencies
    away, so the config turns those off unless a user asks for them.
    """
    return {
        "fliplr": augment["fliplr"],
        "flipud": 0.0,
        "hsv_h": augment["hsv_h"],
        "hsv_s": augment["hsv_s"],
        "hsv_v": augment["hsv_v"],
        "auto_augment": augment["auto_augment"],
        "scale": augment["crop_scale"],  # RandomResizedCrop keeps (1 - scale, 1) of the area; 0 keeps all
        "erasing": augment["erasing"],
    }


def _skip_amp_download(trainer_module) -> None:
    """Ultralytics' AMP check downloads yolo26n.pt; offline, trust AMP on the GPU instead of waiting."""
    from ultralytics.utils import WEIGHTS_DIR

    if not (WEIGHTS_DIR / "yolo26n.pt").is_file():
        # float16 AMP on CUDA only (a CPU gets bfloat16 or nothing: `train.precision`)
        trainer_module.check_amp = lambda model: next(model.parameters()).device.type == "cuda"


def cpu_has_native_bf16() -> bool:
    """Whether this CPU multiplies bfloat16 in hardware (AVX512-BF16 or AMX: recent AMD EPYC/Ryzen, Intel Xeon
    since Cooper Lake). Elsewhere oneDNN emulates it, slower than float32."""
    import torch

    checks = ("_is_avx512_bf16_supported", "_is_amx_tile_supported")
    return any(getattr(torch.cpu, name, lambda: False)() for name in checks)


def resolve_precision(precision: str, device: str) -> str:
    """What `train.precision` means for a training on `device` (a resolved device: cpu, mps, 0, 0,1):
    fp32; bf16 (bfloat16 autocast, float32 weights and optimizer); or fp16 (Ultralytics' AMP, CUDA only).
    `auto` is bf16 on a CPU with native bfloat16 (1.6 times the training images a second here:
    bench/bench_train_loader.py), Ultralytics' AMP on a CUDA GPU, float32 elsewhere."""
    if precision != "auto":
        return precision
    if str(device).lower() == "cpu":
        return "bf16" if cpu_has_native_bf16() else "fp32"
    return "fp32" if str(device).lower().startswith("mps") else "fp16"


ULTRALYTICS_AMP = {"fp32": False, "fp16": True, "bf16": "bf16"}  # resolved precision -> Ultralytics' `amp`


def _allow_bf16_autocast_on_cpu(trainer_module) -> None:
    """Ultralytics' autocast() refuses bfloat16 anywhere but CUDA; torch's CPU autocast supports it (convolutions
    and matrix products in bfloat16, losses and weights in float32)."""
    import torch

    original = getattr(trainer_module.autocast, "__wrapped__", trainer_module.autocast)

    def autocast(enabled, device="cuda"):
        if enabled is torch.bfloat16 and device == "cpu":
            return torch.amp.autocast("cpu", dtype=torch.bfloat16)
        return original(enabled, device)

    autocast.__wrapped__ = original
    trainer_module.autocast = autocast


def cpu_memory_format():
    """The memory layout a training on this CPU keeps its model in: channels-last (NHWC) on x86, where
    oneDNN's convolutions ran faster here in float32 and in bfloat16 (a training step timed alone) and
    prediction already uses it; Ultralytics turns it on for CUDA only."""
    import platform

    import torch

    return torch.channels_last if platform.machine().lower() in ("x86_64", "amd64") else torch.contiguous_format


def _channels_last_on_cpu(trainer) -> None:
    if trainer.device.type == "cpu":
        # in place: the optimizer and the EMA keep the same parameters; the saved weights load anywhere
        trainer.model.to(memory_format=cpu_memory_format())


def _use_threads_on_cpu(threads: int) -> None:
    """Ultralytics' device selection resets torch to min(8, cores - 1) threads on a CPU: one thread on a
    2-core laptop, 8 on a cluster node that gave the job 4. Make it use the job's `threads:`."""
    import torch
    import ultralytics.utils.torch_utils as torch_utils

    torch_utils.NUM_THREADS = threads
    torch.set_num_threads(threads)


class _AtomicPath(type(Path())):
    """A path whose write_bytes replaces the file atomically: Ultralytics writes last.pt in place every
    epoch, and a kill during that write would leave a checkpoint that cannot be resumed from."""

    def write_bytes(self, data):
        from .fileio import atomic_write_bytes

        atomic_write_bytes(self, data)
        return len(data)


def _atomic_checkpoints(trainer) -> None:
    trainer.last, trainer.best = _AtomicPath(trainer.last), _AtomicPath(trainer.best)


def _epoch_logger(start_time: float):
    """One clean line per epoch: loss, val loss, val top-1/top-5 and train top-1 where it was measured."""
    printed = set()

    def on_fit_epoch_end(trainer):
        # Ultralytics calls this again for the final validation of best.pt (also after an early stop, with the
        # epoch counter one past the last epoch): those metrics have no val loss
        if trainer.epoch >= trainer.epochs or trainer.epoch in printed or "val/loss" not in trainer.metrics:
            return
        printed.add(trainer.epoch)
        m = trainer.metrics
        losses = trainer.label_loss_items(trainer.tloss, prefix="train") if trainer.tloss is not None else {}
        loss = float(sum(float(v) for v in losses.values())) if losses else float("nan")
        print(
            f"[seesound] epoch {trainer.epoch + 1}/{trainer.epochs}  train_loss {loss:.4f}  "
            f"val_loss {m.get('val/loss', float('nan')):.4f}  top1 {m.get('metrics/accuracy_top1', 0):.3f}  "
            f"top5 {m.get('metrics/accuracy_top5', 0):.3f}  elapsed {time.time() - start_time:.0f} s",
            flush=True,
        )

    return on_fit_epoch_end


ANSI_ESCAPE = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


class _PlainText(logging.Filter):
    """Ultralytics colours its messages with ANSI codes; a log file gets them as plain text."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = ANSI_ESCAPE.sub("", str(record.msg))
        return True


def _plain_ultralytics_log(level: int) -> None:
    """Ultralytics' messages at `level` and above, as plain text. At WARNING, its per-epoch tables and its
    progress bars (redrawn with carriage returns; off above INFO, ultralytics.utils.tqdm) give way to
    _epoch_logger's one line per epoch; its warnings and errors stay."""
    from ultralytics.utils import LOGGER

    LOGGER.setLevel(level)
    for handler in LOGGER.handlers:
        if not any(isinstance(f, _PlainText) for f in handler.filters):
            handler.addFilter(_PlainText())


def _optimizer_line(trainer) -> None:
    """What Ultralytics decided (its own INFO lines are off): the optimizer, images and input size."""
    group = trainer.optimizer.param_groups[0] if trainer.optimizer else {}
    print(
        f"[seesound] {type(trainer.optimizer).__name__} lr {group.get('lr', float('nan')):.6g}, "
        f"{len(trainer.train_loader.dataset)} train and {len(trainer.test_loader.dataset)} val images at "
        f"{trainer.args.imgsz} px, {trainer.epochs} epochs, device {trainer.device}",
        flush=True,
    )


STATE_FILE = "seesound_training.json"


def ema_decay(steps: int):
    """The weight average's decay after `updates` optimizer steps: 1 - 1/steps, ramped in over the first
    ~`steps` steps as Ultralytics ramps its own (an early average would drag in the random start)."""
    top = 1.0 - 1.0 / steps
    return lambda updates: top * (1.0 - math.exp(-updates / steps))


def ema_over_steps(steps: int):
    """An on_train_start callback: the trainer's EMA (made, and on a resume loaded, by then) averages over
    about `steps` steps. Ultralytics' decay 0.9999 * (1 - exp(-updates / 2000)) is 0.54 after a 50-class
    ESC-50 fold's ~1 530 steps: its saved weights are nearly the last step's."""

    def callback(trainer):
        trainer.ema.decay = ema_decay(steps)
        print(f"[seesound] the saved weights average about the last {steps} steps (EMA decay {1 - 1 / steps:.4g})")

    return callback


def training_fingerprint(settings: dict, listing_csv) -> str:
    """What a training depends on: its settings and the exact split (which clip, which label, which split)."""
    import hashlib
    import json

    digest = hashlib.sha1(json.dumps(settings, sort_keys=True, default=str).encode("utf-8"))
    digest.update(Path(listing_csv).read_bytes())
    return digest.hexdigest()


def _read_state(checkpoints_dir: Path) -> dict:
    import json

    try:
        return json.loads((checkpoints_dir / STATE_FILE).read_text())
    except (OSError, ValueError):
        return {}


def _write_state(checkpoints_dir: Path, fingerprint: str, finished: bool) -> None:
    import json

    from .fileio import atomic_write_text

    atomic_write_text(
        checkpoints_dir / STATE_FILE, json.dumps({"fingerprint": fingerprint, "finished": finished}) + "\n"
    )


def completed_epochs(last_pt: Path) -> int | None:
    """Epochs a resumable checkpoint holds (None if it cannot be read, e.g. cut short by a kill)."""
    import torch

    try:
        epoch = torch.load(last_pt, map_location="cpu", weights_only=False).get("epoch", -1)
    except Exception as e:  # a half-written file raises whatever the unpickler meets
        print(f"[seesound] cannot read {last_pt}: {type(e).__name__}: {e}", flush=True)
        return None
    return None if epoch is None or epoch < 0 else int(epoch) + 1


def trim_results_csv(results_csv: Path, epochs: int) -> None:
    """Keep the rows of the epochs a checkpoint holds: Ultralytics appends an epoch's row before saving
    its checkpoint, so an interruption between the two leaves a row that the resumed run would repeat."""
    from .fileio import atomic_write_text

    if not results_csv.is_file():
        return
    header, *rows = results_csv.read_text().splitlines()
    kept = [r for r in rows if r.strip() and int(float(r.split(",")[0])) <= epochs]
    atomic_write_text(results_csv, "\n".join([header, *kept]) + "\n")


def _fresh_checkpoints_dir(checkpoints_dir: Path) -> None:
    """Empty the working folder (only ever one that seesound made) for a training from epoch 1."""
    import shutil

    from .safety import MARKER, mark_directory

    if checkpoints_dir.exists():
        if not (checkpoints_dir / MARKER).is_file():
            raise ModelError(f"{checkpoints_dir} exists but was not made by seesound; move it away")
        shutil.rmtree(checkpoints_dir)
    mark_directory(checkpoints_dir)


def _install(src: Path, dest) -> None:
    """Copy a finished file into a declared output (atomically; the working copy may be rewritten later)."""
    from .fileio import atomic_write_bytes

    atomic_write_bytes(dest, src.read_bytes())


# Ultralytics' `optimizer: auto` (BaseTrainer.build_optimizer) takes AdamW at lr 0.002 * 5 / (4 + classes),
# betas (0.9, 0.999), up to 10 000 iterations, and MuSGD beyond. Its rate falls with the class count: 50
# classes get 0.000185, which leaves ESC-50 undertrained after 90 epochs (README "Accuracy: ESC-50": fold 1
# 67.5 % at 0.000185, 72.5 % at 0.000714). seesound's `auto` is Ultralytics' choice with AdamW's rate never
# below the one it gives 10 classes, so ten classes or fewer (ESC-10, the demo) train exactly as before.
def _ultralytics_auto_lr(classes: int) -> float:
    return round(0.002 * 5 / (4 + classes), 6)


AUTO_MIN_LR = _ultralytics_auto_lr(10)  # 0.000714
AUTO_RULE = "ultralytics auto, AdamW lr at least 0.000714"  # in TrainSettings: a new rule retrains `auto` runs


def auto_optimizer(classes: int, train_images: int, batch: int, epochs: int, nominal_batch: int) -> dict:
    """The optimizer arguments seesound's `optimizer: auto` gives Ultralytics' trainer: AdamW with its rate
    and momentum (beta1) spelled out, or `auto` itself where Ultralytics would pick MuSGD (many iterations)."""
    iterations = math.ceil(train_images / max(batch, nominal_batch)) * epochs  # Ultralytics' own count
    if iterations > 10_000:
        return {"optimizer": "auto"}
    return {"optimizer": "AdamW", "lr0": max(_ultralytics_auto_lr(classes), AUTO_MIN_LR), "momentum": 0.9}


@dataclass(frozen=True)
class TrainSettings:
    """Every setting that changes a trained model (the `train` section, the input size and the image settings
    the model card carries); built once in rules/common.smk and passed whole."""

    model: str = "yolov8n-cls.yaml"
    epochs: int = 120
    imgsz: int = 224
    batch: int = 32
    nominal_batch: int = 64
    device: str = "auto"
    patience: int = 0
    seed: int = 0
    workers: int = 2
    optimizer: str = "auto"
    lr0: float = 0.01
    lr_schedule: str = "linear"
    weight_decay: float = 0.5
    dropout: float = 0.0
    ema_steps: int | None = None
    precision: str = "auto"
    augment: dict = field(default_factory=dict)
    spectrogram: dict = field(default_factory=dict)
    export: bool = False
    auto_rule: str | None = None  # what `optimizer: auto` means (AUTO_RULE), when it is asked for

    @classmethod
    def from_config(cls, train: dict, spectrogram: dict, imgsz: int) -> TrainSettings:
        keys = (
            "model",
            "epochs",
            "batch",
            "nominal_batch",
            "device",
            "patience",
            "seed",
            "workers",
            "optimizer",
            "lr0",
            "lr_schedule",
            "weight_decay",
            "dropout",
            "ema_steps",
            "precision",
            "augment",
            "export",
        )
        auto_rule = AUTO_RULE if train["optimizer"] == "auto" else None
        return cls(imgsz=imgsz, spectrogram=dict(spectrogram), auto_rule=auto_rule, **{k: train[k] for k in keys})

    def as_dict(self) -> dict:
        return asdict(self)

    def for_member(self, member: int) -> TrainSettings:
        """Member `member` (1..train.ensemble) of an ensemble: these settings with seed `seed + member - 1`
        (other initial weights, data order and augmentation draws), so member 1 is the single model."""
        return replace(self, seed=self.seed + member - 1)

    def resume_fields(self) -> dict:
        """What a checkpoint must have been trained with to be resumed: every field but the image settings
        only the model card carries and the export, plus the image settings the augmentation reads."""
        fields = {k: v for k, v in self.as_dict().items() if k not in ("spectrogram", "export")}
        return fields | {k: self.spectrogram[k] for k in ("colormap", "top_db", "style")}


def train_classifier(
    dataset_dir, listing_csv, summary_json, checkpoints_dir, outputs: dict, settings: dict, threads: int, resume: bool
) -> Path:
    """Train on `dataset_dir/{train,val}`; leave the weights (with their model card) and the per-epoch table
    at `outputs` (keys best, last, results_csv, card, and best_onnx/last_onnx when `settings.export`).

    Ultralytics works in `checkpoints_dir`, which is no declared output, so Snakemake never deletes it:
    after an interruption, `resume` continues from its last completed epoch when the settings and the
    split are the same as when it started (anything else trains from epoch 1).
    """
    t = TrainSettings(**settings)
    model, epochs, imgsz, batch, device, patience = t.model, t.epochs, t.imgsz, t.batch, t.device, t.patience
    seed, workers, optimizer, lr0, augment, export = t.seed, t.workers, t.optimizer, t.lr0, t.augment, t.export
    spectrogram = t.spectrogram
    colormap, top_db = spectrogram["colormap"], spectrogram["top_db"]
    checkpoints_dir = Path(checkpoints_dir).resolve()
    configure_ultralytics_offline(checkpoints_dir.parent.parent / ".ultralytics")
    import ultralytics.engine.trainer as trainer_module

    _plain_ultralytics_log(logging.WARNING)

    _use_threads_on_cpu(threads)
    _skip_amp_download(trainer_module)
    _allow_bf16_autocast_on_cpu(trainer_module)
    device = resolve_device(device)
    precision = resolve_precision(t.precision, device)
    fingerprint = training_fingerprint(t.resume_fields(), listing_csv)
    state = _read_state(checkpoints_dir)
    work_last, work_best = checkpoints_dir / "weights" / "last.pt", checkpoints_dir / "weights" / "best.pt"
    same = state.get("fingerprint") == fingerprint
    start = time.time()
    if resume and same and state.get("finished") and work_last.is_file() and work_best.is_file():
        print(
            f"[seesound] a training with these settings and this split already finished in {checkpoints_dir}; "
            f"using its weights",
            flush=True,
        )
    else:
        audio_augment = AudioAugment.from_config(augment)
        # Ultralytics' own trainer unless audio augmentation or label smoothing asks for ours
        trainer = (
            audio_aware_trainer(audio_augment, colormap, top_db, seed, spectrogram["style"])
            if audio_augment.active
            else None
        )
        done = completed_epochs(work_last) if resume and same and work_last.is_file() else None
        if resume:
            reason = (
                "no checkpoint of an earlier run"
                if not work_last.is_file()
                else "the checkpoint was made with other settings or another split"
                if not same
                else "the checkpoint cannot be read (cut short?)"
                if done is None
                else None
            )
            if reason:
                print(f"[seesound] not resuming ({reason}): training from epoch 1", flush=True)
        if done is None:
            _fresh_checkpoints_dir(checkpoints_dir)
            _write_state(checkpoints_dir, fingerprint, finished=False)
        else:
            print(f"[seesound] resuming from epoch {done + 1} of {epochs} ({done} done, {work_last})", flush=True)
            trim_results_csv(checkpoints_dir / "results.csv", done)
        yolo = load_classifier(model if done is None else work_last)
        yolo.add_callback("on_pretrain_routine_start", _atomic_checkpoints)
        yolo.add_callback("on_fit_epoch_end", _epoch_logger(start))
        yolo.add_callback("on_train_start", _optimizer_line)
        yolo.add_callback("on_pretrain_routine_end", _channels_last_on_cpu)
        if t.ema_steps:
            yolo.add_callback("on_train_start", ema_over_steps(t.ema_steps))
        if done is None:
            optimizer_args = (  # a resume takes the optimizer from its checkpoint
                auto_optimizer(*_train_classes_and_images(dataset_dir), batch, epochs, t.nominal_batch)
                if optimizer == "auto"
                else {"optimizer": optimizer, "lr0": lr0}
            )
            yolo.train(
                data=str(Path(dataset_dir).resolve()),
                epochs=epochs,
                imgsz=imgsz,
                batch=batch,
                nbs=t.nominal_batch,  # Ultralytics steps the optimizer every round(nbs / batch) batches
                device=device,
                amp=ULTRALYTICS_AMP[precision],
                patience=patience,
                seed=seed,
                deterministic=True,
                workers=workers,
                **optimizer_args,
                cos_lr=t.lr_schedule == "cosine",  # both fall to lr0 * lrf (0.01) at the last epoch
                # on weights only (not biases or BatchNorm); AdamW's is decoupled: each step takes lr * decay
                weight_decay=t.weight_decay,
                dropout=t.dropout,  # before the classifier's last layer
                # Ultralytics warms biases up from lr 0.1, an SGD setting; `auto` zeroes it when it picks AdamW,
                # and so do we for every adaptive optimizer (0.1 for ~10 epochs of warmup would swamp lr0 0.002)
                warmup_bias_lr=0.1 if optimizer_args["optimizer"] in ("SGD", "MuSGD") else 0.0,
                save_dir=str(checkpoints_dir),  # not project/name: Ultralytics renames a run called "model"
                exist_ok=True,
                plots=False,  # Ultralytics' own plots fetch a font; ours are drawn by seesound.plots
                verbose=True,
                trainer=trainer,
                **ultralytics_train_args(augment),
            )
        else:
            # this folder and this dataset, even when results_dir was moved since the checkpoint was written
            yolo.train(
                resume=True,
                data=str(Path(dataset_dir).resolve()),
                save_dir=str(checkpoints_dir),
                device=device,
                workers=workers,
                trainer=trainer,
            )
        _plain_ultralytics_log(logging.INFO)  # back to Ultralytics' default for what follows in this process
        for weights in (work_best, work_last):
            if not weights.is_file():
                raise ModelError(f"training finished without writing {weights}")
        _write_state(checkpoints_dir, fingerprint, finished=True)
        print(f"[seesound] training took {time.time() - start:.1f} s on device {device} in {precision}", flush=True)
    classes = check_classes(work_last, listing_csv)
    card = training_card(
        classes,
        spectrogram,
        summary_json,
        imgsz,
        model,
        epochs,
        device,
        augment.get("time_shift", 0.0),
        precision,
        seed,
    )
    from .fileio import atomic_write_text
    from .model import write_card_into_checkpoint

    write_card_into_checkpoint(work_best, outputs["best"], card)
    write_card_into_checkpoint(work_last, outputs["last"], card)
    _install(checkpoints_dir / "results.csv", outputs["results_csv"])
    atomic_write_text(outputs["card"], card.to_json() + "\n")
    if export:
        for which in ("best", "last"):
            export_onnx(outputs[which], outputs[f"{which}_onnx"], card, imgsz)
    return Path(outputs["last"])


def _train_classes_and_images(dataset_dir) -> tuple[int, int]:
    """The class count and training images Ultralytics will see: the class folders of train/ and their files."""
    folders = [d for d in (Path(dataset_dir) / "train").iterdir() if d.is_dir()]
    return len(folders), sum(1 for d in folders for f in d.iterdir() if not f.name.startswith("."))


def effective_imgsz(imgsz: int, stride: int = 32) -> int:
    """The input size Ultralytics really trains at: it rounds imgsz up to a multiple of the model's stride
    (32), so a 48 px image is seen at 64 px (ultralytics.utils.checks.check_imgsz)."""
    return max(-(-int(imgsz) // stride) * stride, stride)


def training_card(
    classes,
    spectrogram: dict,
    summary_json,
    imgsz: int,
    model: str,
    epochs: int,
    device: str = "",
    time_shift: float = 0.0,
    precision: str = "",
    seed: int | None = None,
):
    """The model card: what prediction needs to render windows exactly like the training clips, and the time
    shift it learnt (which test-time rolls it may be given)."""
    import json
    import time as clock

    from .model import card_from_training

    imgsz = effective_imgsz(imgsz)
    summary = json.loads(Path(summary_json).read_text())
    window_s = spectrogram["duration_s"] or summary["median_duration_s"]
    trained = {
        "model": model,
        "epochs": epochs,
        "clips": summary.get("clips_per_split", {}),
        "device": device,
        "precision": precision,
        "seed": seed,
        "date": clock.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }
    return card_from_training(classes, spectrogram, window_s, imgsz, trained, time_shift)


def export_onnx(weights_pt, onnx_path, card, imgsz: int) -> None:
    """Ultralytics' ONNX exporter (dynamic batch), then the model card into the file's metadata."""
    import shutil
    import tempfile

    import onnx

    with tempfile.TemporaryDirectory(dir=Path(onnx_path).parent, prefix=".export-") as tmp:
        copy = Path(tmp) / "model.pt"
        shutil.copyfile(weights_pt, copy)
        exported = load_classifier(copy).export(
            format="onnx", imgsz=imgsz, dynamic=True, simplify=False, device="cpu", verbose=False
        )
        _write_onnx_with_card(onnx.load(exported), onnx_path, card)


def _write_onnx_with_card(graph, onnx_path, card) -> None:
    from .fileio import atomic_write_bytes
    from .model import CARD_KEY

    entry = next((p for p in graph.metadata_props if p.key == CARD_KEY), None) or graph.metadata_props.add()
    entry.key, entry.value = CARD_KEY, card.to_json()
    atomic_write_bytes(onnx_path, graph.SerializeToString())


def average_onnx_members(member_onnx: list, onnx_path, card) -> None:
    """One ONNX graph of an ensemble's exports: every member's graph (its names prefixed m1_, m2_, ...) fed
    the one input, their probabilities averaged by a Mean node; the first member's metadata, `card` in it."""
    import onnx
    from onnx import compose, helper

    graphs = [onnx.load(p) for p in member_onnx]
    first = graphs[0].graph
    nodes, initializers, value_info, outputs = [], [], [], []
    for i, member in enumerate(graphs, 1):
        prefixed = compose.add_prefix(member, f"m{i}_").graph
        own_input = prefixed.input[0].name
        for node in prefixed.node:  # the member reads the ensemble's input, not a prefixed copy of it
            renamed = [first.input[0].name if name == own_input else name for name in node.input]
            del node.input[:]
            node.input.extend(renamed)
        nodes += prefixed.node
        initializers += prefixed.initializer
        value_info += prefixed.value_info
        outputs.append(prefixed.output[0].name)
    nodes.append(helper.make_node("Mean", outputs, [first.output[0].name]))
    graph = helper.make_graph(
        nodes, "seesound_ensemble", [first.input[0]], [first.output[0]], initializer=initializers, value_info=value_info
    )
    model = helper.make_model(graph, opset_imports=graphs[0].opset_import, producer_name="seesound")
    model.ir_version = graphs[0].ir_version
    model.metadata_props.extend(graphs[0].metadata_props)
    onnx.checker.check_model(model)
    _write_onnx_with_card(model, onnx_path, card)


def combine_members(members: list[dict], outputs: dict) -> None:
    """The combine_members rule (train.ensemble > 1): each finished member's weights (train's outputs: best,
    last, results_csv, card, and best_onnx/last_onnx) become one model file per checkpoint that averages
    their probabilities (seesound.model), with the ensemble's card and the members' per-epoch tables one
    after another (a `member` column; crossval.epoch_table)."""
    import pandas as pd

    from .crossval import epoch_table
    from .fileio import atomic_write_text
    from .model import ensemble_card, read_card, write_ensemble_checkpoint

    card = ensemble_card([read_card(member["last"]) for member in members])
    for which in ("best", "last"):
        write_ensemble_checkpoint([member[which] for member in members], outputs[which], card)
        if f"{which}_onnx" in outputs:
            average_onnx_members([member[f"{which}_onnx"] for member in members], outputs[f"{which}_onnx"], card)
    tables = [epoch_table(member["results_csv"]).assign(member=k) for k, member in enumerate(members, 1)]
    table = pd.concat(tables, ignore_index=True)
    atomic_write_text(outputs["results_csv"], table[["member", *table.columns.drop("member")]].to_csv(index=False))
    atomic_write_text(outputs["card"], card.to_json() + "\n")


def check_classes(weights_pt, listing_csv) -> list[str]:
    """The model's classes are the split's classes, in the same order (the metrics rely on it)."""
    import pandas as pd

    from .model import class_names

    expected = sorted(pd.read_csv(listing_csv, dtype={"label": str})["label"].unique())
    found = class_names(load_classifier(weights_pt))
    if found != expected:
        raise ModelError(f"the trained model's classes {found} are not the split's classes {expected}")
    return found


def install_model(trained: dict, installed: dict) -> None:
    """The install_model rule: the finished training's files become the model evaluation and prediction use.

    A separate step, so that Snakemake removes the previous model only once a new one exists: a training
    that fails leaves the old model, and the metrics that describe it, in place. Copies, not hard links:
    a link would share its input's modification time, which Snakemake reads as an output older than
    its inputs.
    """
    for key, src in trained.items():
        _install(Path(src), installed[key])
