"""Trained models as portable files, and classifying images with them.

A seesound model file is an Ultralytics classification checkpoint (`.pt`) or its ONNX export (`.onnx`)
that carries a *model card*: the analysis sample rate, every spectrogram setting, the class names in
order, the prediction window, the input size and the seesound version. Evaluation and prediction read
the card, never config.yaml, so a model copied to another machine classifies exactly as it did here.

An ensemble (`train.ensemble` > 1) is one such file too: the first member's checkpoint with the other
members' networks under ENSEMBLE_KEY (its ONNX export: one graph averaging them), and `members` on its
card. Ultralytics itself loads the first member only; `Classifier` averages them all.

`Classifier` runs either file on the CPU or a GPU with the preprocessing Ultralytics uses for
classification (shorter side resized to imgsz, centre crop, RGB scaled to [0, 1]), without Ultralytics'
per-image predictor overhead.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import numpy as np

CARD_KEY = "seesound"  # the checkpoint dict's key, and the ONNX metadata key, that hold the card
ENSEMBLE_KEY = "seesound_members"  # the checkpoint dict's key of an ensemble's networks after the first


class ModelError(ValueError):
    pass


def configure_ultralytics_offline(config_dir=None) -> None:
    """No hub, no telemetry, no update checks; call before `import ultralytics`."""
    os.environ.setdefault("YOLO_OFFLINE", "1")
    if config_dir is not None:
        os.environ.setdefault("YOLO_CONFIG_DIR", str(Path(config_dir).resolve()))
    os.environ.setdefault("YOLO_AUTOINSTALL", "false")


def resolve_device(device: str) -> str:
    """`auto` is the first GPU when torch sees one, else the CPU."""
    if device != "auto":
        return device
    import torch

    return "0" if torch.cuda.is_available() else "cpu"


@dataclass(frozen=True)
class ModelCard:
    """What applying a model needs besides its weights."""

    classes: list
    spectrogram: dict  # SpectrogramSettings.as_dict(): the analysis rate and every image setting
    window_s: float  # the training clips' duration: prediction windows have this length
    imgsz: int
    renderer: int  # seesound.render.RENDERER_VERSION the training images were made with
    seesound_version: str
    trained: dict = field(default_factory=dict)  # what it was trained on and how (for people, not code)
    # the circular time shift of its training clips (train.augment.time_shift, a fraction of the width): a
    # rolled window is one it learnt from when the roll is at most this (older cards: 0, never rolled)
    time_shift: float = 0.0
    members: int = 1  # networks whose probabilities are averaged (train.ensemble; older cards: 1)

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2, sort_keys=False, default=str)

    @classmethod
    def from_dict(cls, data: dict) -> ModelCard:
        return cls(**{k: data[k] for k in cls.__dataclass_fields__ if k in data})

    def settings(self):
        from .spectrogram import SpectrogramSettings

        return SpectrogramSettings(**self.spectrogram)


def card_from_training(
    classes, spectrogram: dict, window_s: float, imgsz: int, trained: dict, time_shift: float = 0.0
) -> ModelCard:
    from . import __version__
    from .render import RENDERER_VERSION

    return ModelCard(
        list(classes),
        dict(spectrogram),
        float(window_s),
        int(imgsz),
        RENDERER_VERSION,
        __version__,
        trained,
        float(time_shift),
    )


def usable_time_rolls(time_rolls: int, time_shift: float) -> int:
    """How many evenly spaced circular time rolls to average for a model trained with `time_shift`: all of
    `time_rolls` when every one of them is a shift it learnt from (the largest, half the width for an even
    count, must be within ±time_shift), else 1 (the image as it is)."""
    time_rolls = max(int(time_rolls), 1)
    return time_rolls if (time_rolls // 2) / time_rolls <= time_shift else 1


def _load_checkpoint(path) -> dict:
    import torch

    configure_ultralytics_offline()
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=False)
    except Exception as e:  # a truncated or foreign file raises whatever the unpickler meets
        raise ModelError(f"{path} cannot be read as a model checkpoint ({type(e).__name__}: {e})") from None
    if not isinstance(ckpt, dict) or (ckpt.get("ema") is None and ckpt.get("model") is None):
        raise ModelError(f"{path} is not an Ultralytics checkpoint")
    return ckpt


def checkpoint_networks(ckpt: dict, path) -> list:
    """The networks of a loaded checkpoint: its own (the EMA weights Ultralytics saves, else the model), then
    an ensemble's other members."""
    members = ckpt.get(ENSEMBLE_KEY) or []
    if not isinstance(members, list):
        raise ModelError(f"{path}: its {ENSEMBLE_KEY!r} entry is not a list of networks")
    return [ckpt.get("ema") or ckpt["model"], *members]


def _save_checkpoint(ckpt: dict, dest) -> None:
    import io

    import torch

    from .fileio import atomic_write_bytes

    buf = io.BytesIO()
    torch.save(ckpt, buf)
    atomic_write_bytes(dest, buf.getvalue())


def write_card_into_checkpoint(src, dest, card: ModelCard) -> None:
    """Copy checkpoint `src` to `dest` (atomically) with the card inside it."""
    ckpt = _load_checkpoint(src)
    ckpt[CARD_KEY] = json.loads(card.to_json())
    _save_checkpoint(ckpt, dest)


def ensemble_card(cards: list[ModelCard]) -> ModelCard:
    """The card of the members' average: theirs, which must agree on everything applying them needs, with
    `members` counted and each member's `trained` kept (its seed, date, device)."""
    first = cards[0]
    applying = ("classes", "spectrogram", "window_s", "imgsz", "renderer", "time_shift")
    for i, card in enumerate(cards[1:], 2):
        differs = [k for k in applying if getattr(card, k) != getattr(first, k)]
        if differs:
            raise ModelError(
                f"ensemble member {i} differs from member 1 in {', '.join(differs)}: they cannot be averaged"
            )
    members = [m for card in cards for m in (card.trained.get("members") or [card.trained])]
    trained = {k: v for k, v in first.trained.items() if k not in ("members", "seed", "date")}
    return replace(first, members=len(members), trained=trained | {"members": members})


def write_ensemble_checkpoint(member_paths, dest, card: ModelCard) -> None:
    """One model file of several trainings (atomically): the first member's checkpoint, which Ultralytics can
    still load, with every other member's network under ENSEMBLE_KEY and `card` (ensemble_card)."""
    ckpts = [_load_checkpoint(p) for p in member_paths]
    nets = [net for ckpt, path in zip(ckpts, member_paths) for net in checkpoint_networks(ckpt, path)]
    ckpt = ckpts[0]
    ckpt[ENSEMBLE_KEY] = nets[1:]
    ckpt[CARD_KEY] = json.loads(card.to_json())
    _save_checkpoint(ckpt, dest)


def read_card(path) -> ModelCard:
    """The card of a seesound model file (.pt or .onnx); ModelError when it has none."""
    path = str(path)
    if not os.path.isfile(path):
        raise ModelError(f"model file {path!r} does not exist")
    if path.endswith(".onnx"):
        import onnx

        meta = {p.key: p.value for p in onnx.load(path, load_external_data=False).metadata_props}
        data = json.loads(meta[CARD_KEY]) if CARD_KEY in meta else None
    else:
        data = _load_checkpoint(path).get(CARD_KEY)
    if not data:
        raise ModelError(
            f"{path} has no seesound model card (it was not trained by this version of seesound): "
            f"its sample rate, spectrogram settings and classes are unknown, so it cannot be applied"
        )
    return ModelCard.from_dict(data)


def class_names(model) -> list[str]:
    return [model.names[i] for i in range(len(model.names))]


def load_classifier(model_path):
    """An Ultralytics YOLO classification model from a `.pt` checkpoint or a `.yaml` architecture (training).

    `.pt` files are Python pickles: loading one can run code, so load only checkpoints you trust.
    """
    configure_ultralytics_offline()
    from ultralytics import YOLO

    name = str(model_path)
    if name.endswith(".pt") and not Path(name).is_file() and (os.sep in name or "/" in name):
        raise ModelError(f"train.model {name!r}: no such checkpoint file")
    try:
        model = YOLO(name, task="classify")
    except Exception as e:  # Ultralytics raises many types for unusable files
        raise ModelError(
            f"train.model {name!r} cannot be loaded as an Ultralytics model ({type(e).__name__}: {e})"
        ) from None
    if model.task != "classify":
        raise ModelError(f"train.model {name!r} is a {model.task!r} model, not an Ultralytics classification model")
    return model


def preprocess(images, imgsz: int) -> np.ndarray:
    """RGB uint8 images (H, W, 3) -> float32 (N, H, W, 3) in [0, 1] at imgsz x imgsz, as Ultralytics'
    classify_transforms (torchvision Resize of the shorter side, CenterCrop) would give them."""
    from PIL import Image

    out = np.empty((len(images), imgsz, imgsz, 3), np.float32)
    for i, im in enumerate(images):
        h, w = im.shape[:2]
        if (h, w) != (imgsz, imgsz):
            short, long = (h, w) if h <= w else (w, h)
            size = (imgsz, int(imgsz * long / short)) if h <= w else (int(imgsz * long / short), imgsz)
            resized = Image.fromarray(im).resize((size[1], size[0]), Image.Resampling.BILINEAR)
            top, left = int(round((size[0] - imgsz) / 2.0)), int(round((size[1] - imgsz) / 2.0))
            im = np.asarray(resized)[top : top + imgsz, left : left + imgsz]
        np.divide(im, 255.0, out=out[i], dtype=np.float32)
    return out


class Classifier:
    """A seesound model file ready to classify RGB images: `.probabilities(images)` -> (N, classes).

    An ensemble's probabilities are the mean of its members'.

    With `time_rolls` > 1 each image is classified at that many evenly spaced circular time rolls and the
    probabilities averaged (test-time augmentation: +1.5 points top-1 on ESC-50, README "Accuracy"), when
    the model learnt such rolls (`usable_time_rolls`); `self.time_rolls` is the count really used.
    """

    def __init__(self, path, device: str = "cpu", time_rolls: int = 1):
        self.path = str(path)
        self.card = read_card(self.path)
        self.classes = list(self.card.classes)
        self.imgsz = int(self.card.imgsz)
        self.device = resolve_device(device)
        self.time_rolls = usable_time_rolls(time_rolls, self.card.time_shift)
        if self.path.endswith(".onnx"):
            self._run = self._onnx_runner()
        else:
            self._run = self._torch_runner()

    def _torch_runner(self):
        import torch

        nets = checkpoint_networks(_load_checkpoint(self.path), self.path)
        if len(nets) != self.card.members:
            raise ModelError(f"{self.path}: holds {len(nets)} networks where its card says {self.card.members}")
        device = torch.device("cpu" if self.device == "cpu" else f"cuda:{self.device.split(',')[0]}")
        prepared = []
        for net in nets:
            net = net.float().eval()
            names = [net.names[i] for i in range(len(net.names))] if isinstance(net.names, dict) else list(net.names)
            if names != self.classes:
                raise ModelError(f"{self.path}: the weights' classes {names} are not the card's {self.classes}")
            net = net.fuse(verbose=False) if hasattr(net, "fuse") else net
            # channels-last convolutions are ~1.6x faster on a CPU here; the images arrive in that layout
            prepared.append(net.to(device, memory_format=torch.channels_last))

        def probabilities_of(net, x):
            y = net(x)
            return y[0] if isinstance(y, (list, tuple)) else y  # (probabilities, logits) in eval mode

        def run(batch: np.ndarray) -> np.ndarray:
            x = torch.from_numpy(batch).to(device).permute(0, 3, 1, 2)  # NHWC memory: channels-last already
            with torch.inference_mode():
                y = torch.stack([probabilities_of(net, x).float() for net in prepared]).mean(0)
            return y.cpu().numpy()

        return run

    def _onnx_runner(self):
        import onnxruntime

        options = onnxruntime.SessionOptions()
        threads = int(os.environ.get("OMP_NUM_THREADS", "0") or 0)
        if threads:
            options.intra_op_num_threads = threads
        providers = (
            ["CUDAExecutionProvider", "CPUExecutionProvider"] if self.device != "cpu" else ["CPUExecutionProvider"]
        )
        available = set(onnxruntime.get_available_providers())
        session = onnxruntime.InferenceSession(self.path, options, providers=[p for p in providers if p in available])
        name = session.get_inputs()[0].name

        def run(batch: np.ndarray) -> np.ndarray:
            return session.run(None, {name: np.ascontiguousarray(batch.transpose(0, 3, 1, 2))})[0]

        return run

    def probabilities(self, images, batch: int = 32) -> np.ndarray:
        """Class probabilities (N, classes) of RGB uint8 images (the mean over `self.time_rolls` rolls)."""
        out = []
        for i in range(0, len(images), batch):
            x = preprocess(images[i : i + batch], self.imgsz)
            width = x.shape[2]
            rolls = [self._run(np.roll(x, k * width // self.time_rolls, axis=2)) for k in range(1, self.time_rolls)]
            out.append(np.mean([self._run(x), *rolls], axis=0, dtype=np.float32) if rolls else self._run(x))
        return np.concatenate(out) if out else np.zeros((0, len(self.classes)), np.float32)


def write_untrained_model(path, card: ModelCard, architecture: str = "yolov8n-cls.yaml") -> None:
    """A seesound model file with freshly initialised weights (benchmarks and tests: the speed and the file
    format of a real model without training one)."""
    configure_ultralytics_offline()
    from ultralytics.nn.tasks import ClassificationModel

    net = ClassificationModel(architecture, nc=len(card.classes), verbose=False)
    net.names = dict(enumerate(card.classes))
    ckpt = {"model": net, "ema": None, "train_args": {"task": "classify", "imgsz": card.imgsz}}
    _save_checkpoint(ckpt | {CARD_KEY: json.loads(card.to_json())}, path)
