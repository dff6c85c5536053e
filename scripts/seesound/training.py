"""Training a YOLO classifier on the split's folders, offline, CPU or GPU, resumable."""

from __future__ import annotations

import time
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
        # AMP on CUDA only: on a CPU, autocast would run convolutions in bfloat16, several times slower
        trainer_module.check_amp = lambda model: next(model.parameters()).device.type == "cuda"


def _use_threads_on_cpu(threads: int) -> None:
    """Ultralytics' device selection resets torch to min(8, cores - 1) threads on a CPU: one thread on a
    2-core laptop, 8 on a cluster node that gave the job 4. Make it use the job's `threads:`."""
    import torch
    import ultralytics.utils.torch_utils as torch_utils

    torch_utils.NUM_THREADS = threads
    torch.set_num_threads(threads)


def _epoch_logger(start_time: float):
    def on_fit_epoch_end(trainer):
        if trainer.epoch >= trainer.epochs:  # Ultralytics calls it again for the final validation of best.pt
            return
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


def train_classifier(dataset_dir, best_pt, model, epochs, imgsz, batch, device, patience, seed, workers, threads,
                     optimizer, lr0, resume, augment, colormap="jet", top_db=80.0) -> Path:
    """Train on `dataset_dir/{train,val}` and leave the weights at `best_pt` (…/weights/best.pt)."""
    run_dir = Path(best_pt).resolve().parent.parent
    configure_ultralytics_offline(run_dir.parent / ".ultralytics")
    import ultralytics.engine.trainer as trainer_module

    _use_threads_on_cpu(threads)
    _skip_amp_download(trainer_module)
    last_pt = run_dir / "weights" / "last.pt"
    audio_augment = AudioAugment.from_config(augment)
    # Ultralytics' own trainer unless audio augmentation or label smoothing asks for ours
    trainer = audio_aware_trainer(audio_augment, colormap, top_db, seed) if audio_augment.active else None
    device = resolve_device(device)
    start = time.time()
    if resume and last_pt.is_file():
        print(f"[seesound] resuming from {last_pt}", flush=True)
        yolo = load_classifier(last_pt)
        yolo.add_callback("on_fit_epoch_end", _epoch_logger(start))
        yolo.train(resume=True, device=device, workers=workers, trainer=trainer)
    else:
        yolo = load_classifier(model)
        yolo.add_callback("on_fit_epoch_end", _epoch_logger(start))
        yolo.train(
            data=str(Path(dataset_dir).resolve()),
            epochs=epochs,
            imgsz=imgsz,
            batch=batch,
            device=device,
            patience=patience,
            seed=seed,
            deterministic=True,
            workers=workers,
            optimizer=optimizer,
            lr0=lr0,
            # Ultralytics warms biases up from lr 0.1, an SGD setting; `auto` zeroes it when it picks AdamW,
            # and so do we for every adaptive optimizer (0.1 for ~10 epochs of warmup would swamp lr0 0.002)
            warmup_bias_lr=0.1 if optimizer in ("SGD", "MuSGD") else 0.0,
            save_dir=str(run_dir),  # not project/name: Ultralytics renames a run called "model"
            exist_ok=True,
            plots=False,  # Ultralytics' own plots fetch a font; ours are drawn by seesound.plots
            verbose=True,
            trainer=trainer,
            **ultralytics_train_args(augment),
        )
    for weights in (best_pt, last_pt):
        if not Path(weights).is_file():
            raise ModelError(f"training finished without writing {weights}")
    print(f"[seesound] training took {time.time() - start:.1f} s on device {device}", flush=True)
    return Path(best_pt)
