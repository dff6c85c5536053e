"""Loading a YOLO classifier offline and classifying images given as arrays.

Training, evaluation and prediction all go through `classify_rgb`, so a clip gets the same answer
whether its image comes from a file or from a window rendered in memory.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np


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


def load_classifier(model_path):
    """A YOLO classification model from a `.pt` checkpoint or a `.yaml` architecture.

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
        raise ModelError(f"train.model {name!r} cannot be loaded as an Ultralytics model ({type(e).__name__}: {e})") from None
    if model.task != "classify":
        raise ModelError(f"train.model {name!r} is a {model.task!r} model, not an Ultralytics classification model")
    return model


def classify_rgb(model, images, imgsz: int, batch: int = 32, device: str = "cpu") -> np.ndarray:
    """Class probabilities (N, classes) for RGB uint8 arrays, through Ultralytics' own preprocessing."""
    out = []
    for start in range(0, len(images), batch):
        # Ultralytics takes numpy images as BGR (OpenCV's order); ours are RGB
        chunk = [np.ascontiguousarray(im[..., ::-1]) for im in images[start : start + batch]]
        for result in model.predict(chunk, imgsz=imgsz, device=device, verbose=False, batch=len(chunk)):
            out.append(result.probs.data.float().cpu().numpy())
    n_classes = len(model.names)
    return np.stack(out) if out else np.zeros((0, n_classes), np.float32)


def class_names(model) -> list[str]:
    return [model.names[i] for i in range(len(model.names))]
