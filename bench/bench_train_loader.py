#!/usr/bin/env python3
"""Benchmark of training throughput: seesound's training against a bare PyTorch loop over the same model.

On a CPU, Ultralytics loads the data in the training process (it sets workers to 0), so every image's PNG
decode, level recovery, audio augmentation and tensor conversion runs in series with the network. This
measures, in one run on one machine, with the config.yaml defaults (YOLOv8n-cls from scratch, batch 32,
224 px, the audio augmentation, `train.threads` torch threads):
  (a) the bare loop: forward, cross-entropy, backward and AdamW step on batches already in memory
      (images per second; the ceiling for this model, batch and thread count);
  (b) seesound's training (`seesound.training.train_classifier`, exactly what the train rule runs) on
      demo spectrograms: images per second of the training part of each epoch (validation excluded),
      epochs after the first; and, inside those epochs, the seconds spent waiting for the next batch
      (data loading), measured between Ultralytics' batch callbacks;
  (c) the same training with the levels made into an image and through Ultralytics' photo transforms (the
      path before the one-lookup tensor; still taken when a photo augmentation is configured).
(a), (b) and (c) run in the precision `train.precision` gives on this machine (bfloat16 autocast on a CPU
with native bfloat16) and the model in the training's memory layout (channels-last on x86); when that is
not float32, (a32) and (b32) measure the bare loop in float32 (contiguous, as Ultralytics' CPU training
keeps it) and the training with `precision: fp32`: what the precision buys.
Prints the table with (b)/(a) and (c)/(a) and writes it to bench/train_loader_results.csv.

    python bench/bench_train_loader.py               # ~4 min on 2 cores
    python bench/bench_train_loader.py --clips-per-class 60 --epochs 3
"""

from __future__ import annotations

import argparse
import csv
import dataclasses
import subprocess
import tempfile
import time
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]

from bench_spectrograms import ENV, snakemake  # noqa: E402  (the scontrol shim; the snakemake command)

from seesound.model import resolve_device  # noqa: E402
from seesound.training import (  # noqa: E402
    TrainSettings,
    cpu_memory_format,
    effective_imgsz,
    resolve_precision,
    train_classifier,
)


def make_split(work: Path, clips_per_class: int) -> Path:
    """The demo dataset's spectrograms and split, made by the workflow itself."""
    results = work / "results"
    demo = f"dataset={{kind: demo, demo: {{clips_per_class: {clips_per_class}}}}}"
    command = snakemake(work, "--cores", "2", "split", "--quiet", "all", "--config", f"results_dir={results}", demo)
    subprocess.run(command, env=ENV, check=True, stdout=subprocess.DEVNULL)
    return results


class TrainingClock:
    """Ultralytics callbacks that time each epoch's training part and the waits for batches inside it."""

    def __init__(self):
        self.epochs: list[dict] = []

    EVENTS = ("on_train_epoch_start", "on_train_batch_start", "on_train_batch_end", "on_train_epoch_end")

    def register(self) -> None:
        from ultralytics.utils import callbacks

        self.added = {}
        for event in self.EVENTS:
            # a plain function: Ultralytics deep-copies the default callbacks, and a bound method's copy
            # would carry a copy of this clock
            method = getattr(self, event)
            self.added[event] = lambda trainer, method=method: method(trainer)
            callbacks.default_callbacks[event].append(self.added[event])

    def unregister(self) -> None:
        from ultralytics.utils import callbacks

        for event, function in self.added.items():
            callbacks.default_callbacks[event].remove(function)

    def on_train_epoch_start(self, trainer):
        now = time.perf_counter()
        self.epochs.append({"start": now, "last": now, "wait": 0.0, "images": 0})

    def on_train_batch_start(self, trainer):
        e = self.epochs[-1]
        e["wait"] += time.perf_counter() - e["last"]

    def on_train_batch_end(self, trainer):
        e = self.epochs[-1]
        e["last"] = time.perf_counter()
        e["images"] += int(trainer.batch_size)

    def on_train_epoch_end(self, trainer):
        e = self.epochs[-1]
        e["seconds"] = time.perf_counter() - e["start"]
        e["images"] = len(trainer.train_loader.dataset)


def bare_loop(
    classes: int, batch: int, imgsz: int, threads: int, images: int, repeats: int, precision: str = "fp32", layout=None
) -> float:
    """Images per second of forward + loss + backward + step on in-memory batches: the same batches per
    epoch as the training (full ones, then the rest), mean over `repeats` epochs after a warm-up epoch; in
    `precision` (fp32 or bf16: bfloat16 autocast, as the training's) with the model in memory `layout`."""
    import torch
    import torch.nn.functional as F
    from ultralytics.nn.tasks import ClassificationModel

    torch.set_num_threads(threads)
    torch.manual_seed(0)
    model = ClassificationModel("yolov8n-cls.yaml", nc=classes, verbose=False).train()
    model.to(memory_format=layout or torch.contiguous_format)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
    sizes = [batch] * (images // batch) + ([images % batch] if images % batch else [])
    batches = [(torch.rand(n, 3, imgsz, imgsz), torch.randint(0, classes, (n,))) for n in sorted(set(sizes))]
    by_size = {len(y): (x, y) for x, y in batches}
    seconds = 0.0
    for repeat in range(repeats + 1):  # the first epoch warms up (allocator, kernels) and is not counted
        start = time.perf_counter()
        for n in sizes:
            x, y = by_size[n]
            optimizer.zero_grad()
            with torch.autocast("cpu", dtype=torch.bfloat16, enabled=precision == "bf16"):
                loss = F.cross_entropy(model(x).float(), y)
            loss.backward()
            optimizer.step()
        if repeat:
            seconds += time.perf_counter() - start
    return repeats * images / seconds


def train_and_time(results: Path, work: Path, settings: TrainSettings, threads: int) -> dict:
    """One seesound training; images per second of the counted epochs and the loading waits inside them."""
    clock = TrainingClock()
    clock.register()
    out = work / "trained"
    out.mkdir(parents=True, exist_ok=True)
    try:
        train_classifier(
            results / "dataset",
            results / "split.csv",
            results / "split_summary.json",
            work / "checkpoints",
            {
                "best": out / "best.pt",
                "last": out / "last.pt",
                "results_csv": out / "results.csv",
                "card": out / "card.json",
            },
            settings.as_dict(),
            threads=threads,
            resume=False,
        )
    finally:
        clock.unregister()
    counted = [e for e in clock.epochs[1:] if "seconds" in e]
    images = len(counted) * counted[0]["images"]
    seconds, wait = sum(e["seconds"] for e in counted), sum(e["wait"] for e in counted)
    return {
        "epoch_images": counted[0]["images"],
        "epochs": len(counted),
        "ips": images / seconds,
        "wait_ms": 1000 * wait / images,
        "wait_share": 100 * wait / seconds,
        "step_ms": 1000 * (seconds - wait) / images,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clips-per-class", type=int, default=100, help="demo clips per class (5 classes)")
    parser.add_argument("--epochs", type=int, default=6, help="training epochs (the first is not counted)")
    parser.add_argument("--out", type=Path, default=REPO / "bench" / "train_loader_results.csv")
    args = parser.parse_args()

    import seesound.augment

    config = yaml.safe_load((REPO / "config.yaml").read_text())
    train, spectrogram = config["train"], config["spectrogram"]
    imgsz = effective_imgsz(train["imgsz"] or spectrogram["image_size"])
    settings = TrainSettings.from_config({**train, "epochs": args.epochs, "patience": args.epochs}, spectrogram, imgsz)
    precision = resolve_precision(settings.precision, resolve_device(settings.device))
    layout = cpu_memory_format()
    in_fp32 = dataclasses.replace(settings, precision="fp32")

    with tempfile.TemporaryDirectory(prefix="seesound-bench-train-") as tmp:
        work = Path(tmp)
        print(f"making the demo split ({5 * args.clips_per_class} clips) ...", flush=True)
        results = make_split(work, args.clips_per_class)
        # the machine's speed drifts over minutes (shared cores): the bare loop runs before and after the
        # trainings, and (a) is the mean of the two
        print("(a) bare PyTorch loop ...", flush=True)
        epoch_images = sum(1 for _ in (results / "dataset" / "train").glob("*/*"))
        bare = (5, train["batch"], imgsz, train["threads"], epoch_images, args.epochs - 1)
        bare_before = bare_loop(*bare, precision, layout)
        print(f"(b) seesound training in {precision}, {args.epochs} epochs ...", flush=True)
        direct = train_and_time(results, work / "direct", settings, train["threads"])
        if precision != "fp32":
            print("(a32), (b32): the bare loop and the training in float32 ...", flush=True)
            bare_fp32 = bare_loop(*bare)
            direct_fp32 = train_and_time(results, work / "fp32", in_fp32, train["threads"])
        print(f"(c) the same through PIL and Ultralytics' transforms, {args.epochs} epochs ...", flush=True)
        tensor_only = seesound.augment.transforms_are_tensor_only
        seesound.augment.transforms_are_tensor_only = lambda ultralytics_args: False
        try:
            via_pil = train_and_time(results, work / "pil", settings, train["threads"])
        finally:
            seesound.augment.transforms_are_tensor_only = tensor_only
        print("(a) bare PyTorch loop, again ...", flush=True)
        bare_after = bare_loop(*bare, precision, layout)
        bare_ips = (bare_before + bare_after) / 2

    rows = [
        (f"(a) bare loop: model + loss + backward + AdamW, batches in memory, {precision}", bare_ips, ""),
        ("(a) before the trainings, after them (images/s)", "", f"{bare_before:.1f} {bare_after:.1f}"),
        ("(b) seesound training (train part of each epoch after the first)", direct["ips"], ""),
        ("(b) of which waiting for batches (loading, augmentation), ms per image", "", direct["wait_ms"]),
        ("(b) share of the epoch spent loading (%)", "", direct["wait_share"]),
        (
            "(b) the rest (Ultralytics' step: forward, loss, backward, optimizer, EMA), ms per image",
            "",
            direct["step_ms"],
        ),
        ("(a) the same in the bare loop, ms per image", "", 1000 / bare_ips),
        ("(b) / (a) (%)", "", 100 * direct["ips"] / bare_ips),
        ("(c) levels -> PIL image -> Ultralytics' transforms (before)", via_pil["ips"], ""),
        ("(c) of which waiting for batches, ms per image", "", via_pil["wait_ms"]),
        ("(c) / (a) (%)", "", 100 * via_pil["ips"] / bare_ips),
    ]
    if precision != "fp32":
        rows += [
            ("(a32) bare loop in float32, contiguous (Ultralytics' own CPU training)", bare_fp32, ""),
            ("(b32) seesound training in float32 (train.precision: fp32)", direct_fp32["ips"], ""),
            ("(b32) of which waiting for batches, ms per image", "", direct_fp32["wait_ms"]),
            ("(b) / (b32): what the precision buys (x)", "", direct["ips"] / direct_fp32["ips"]),
            ("(a) / (a32) (x)", "", bare_ips / bare_fp32),
        ]
    print(
        f"\n{direct['epoch_images']} training images, batch {train['batch']}, {imgsz} px, {train['threads']} threads, "
        f"{direct['epochs']} epochs counted, train.precision {settings.precision} = {precision}, layout {layout}"
    )
    for name, ips, value in rows:
        print(
            f"{name:<75} {f'{ips:8.1f} images/s' if ips != '' else value if isinstance(value, str) else f'{value:8.1f}'}"
        )
    with open(args.out, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["measurement", "images_per_s", "value"])
        for name, ips, value in rows:
            writer.writerow(
                [name, f"{ips:.1f}" if ips != "" else "", f"{value:.2f}" if isinstance(value, float) else value]
            )
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
