"""Audio-aware training augmentation: on the spectrogram's dB levels, never on the coloured pixels.

The images are the clip's normalised dB levels (0 = `top_db` below the peak, 1 = the peak) looked up in a
256-colour table: seesound's palette PNGs store the levels themselves, and other lossless images give them
back through the table (`levels_from_rgb`). Training
recovers them, shifts and masks them in time and frequency, offsets them in dB, mixes two clips' powers,
and colours the result again with the same table. Ultralytics' image transforms run after that as usual.
Style `resolutions` images hold three planes of levels (one STFT size each) as R, G and B: every step
applies to the three planes alike, and the planes are the colours. Style `ramp` images are made from one
plane of levels (`ramp_planes`): that plane is augmented, and the other two are made from it again.

Everything here is off by default in the code (the config's defaults are the measured best) and is
wired into Ultralytics through `audio_aware_trainer`, a ClassificationTrainer whose training dataset
and loss know about it.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from functools import lru_cache

import numpy as np

from .spectrogram import PLANE_STYLES, colormap_lut, levels_to_rgb, ramp_planes


@dataclass(frozen=True)
class AudioAugment:
    time_shift: float = 0.0  # roll the clip circularly in time by up to this fraction of its length
    time_stretch: float = 0.0  # play it up to (1 + this) times slower or faster (log-uniform), circularly
    freq_shift: float = 0.0  # move every band up or down by up to this fraction of the height
    time_masks: int = 0  # SpecAugment: this many time stripes set to the floor
    time_mask_width: float = 0.1  # ... each up to this fraction of the width
    freq_masks: int = 0  # SpecAugment: this many frequency stripes set to the floor
    freq_mask_width: float = 0.1  # ... each up to this fraction of the height
    gain_db: float = 0.0  # add a uniform random offset in [-gain_db, +gain_db] dB to every level
    filter_db: float = 0.0  # a random frequency response: a gain in [-filter_db, +filter_db] dB per band
    mixup: float = 0.0  # probability of mixing a clip with one of another class (powers added)
    mixup_alpha: float = 0.4  # the mixing weight is Beta(alpha, alpha), labels weighted the same
    label_smoothing: float = 0.0  # cross-entropy label smoothing

    @classmethod
    def from_config(cls, augment: dict) -> AudioAugment:
        return cls(**{f.name: augment[f.name] for f in fields(cls) if f.name in augment})

    @property
    def changes_images(self) -> bool:
        return any(getattr(self, key) for key in IMAGE_AUGMENTATIONS)

    @property
    def active(self) -> bool:
        return self.changes_images or self.label_smoothing > 0


# the keys that change a training image's levels (the rest change the loss): they need levels to work on
IMAGE_AUGMENTATIONS = (
    "time_shift",
    "time_stretch",
    "freq_shift",
    "time_masks",
    "freq_masks",
    "gain_db",
    "filter_db",
    "mixup",
)

# per dataloader process: 256 MiB holds the levels of ~5000 images of 224 x 224
LEVELS_CACHE_BYTES = 256 * 2**20


@lru_cache(maxsize=8)
def _colour_levels(colormap: str) -> tuple[np.ndarray, np.ndarray]:
    """The table's distinct colours as sorted 24-bit codes, and the level each stands for."""
    lut = colormap_lut(colormap).astype(np.int64)
    table = (lut[:, 0] << 16) | (lut[:, 1] << 8) | lut[:, 2]
    colours = np.unique(table)
    # a repeated colour stands for the middle of its run of levels (runs are contiguous in these maps)
    return colours, np.array([np.flatnonzero(table == c).mean() for c in colours]).round().astype(np.int64)


def levels_from_rgb(rgb: np.ndarray, colormap: str) -> np.ndarray:
    """The 0..255 level of every pixel of an image coloured with `colormap` (H x W uint8).

    Exact for colours in the table (PNG) except where the 8-bit table repeats a colour (jet: levels 28-31
    are one blue), which gives the middle of that run. Other colours (JPEG noise) take the nearest entry.
    """
    colours, colour_level = _colour_levels(colormap)
    codes = (rgb[..., 0].astype(np.int64) << 16) | (rgb[..., 1].astype(np.int64) << 8) | rgb[..., 2]
    pos = np.clip(np.searchsorted(colours, codes), 0, len(colours) - 1)
    levels = colour_level[pos]
    miss = colours[pos] != codes
    if miss.any():
        lut = colormap_lut(colormap).astype(np.int64)
        px = rgb[miss].astype(np.int64)
        levels[miss] = np.argmin(((px[:, None, :] - lut[None, :, :]) ** 2).sum(axis=2), axis=1)
    return levels.astype(np.uint8)


def level_indices(levels: np.ndarray) -> np.ndarray:
    """Levels in [0, 1] -> the 0..255 entry of the colour table each one takes."""
    return np.clip((levels * 255.0 + 0.5).astype(np.int32), 0, 255)


def recolour(levels: np.ndarray, colormap: str) -> np.ndarray:
    """Levels in [0, 1] -> RGB uint8 through the same table the spectrogram stage uses (three planes of
    levels, 3 x H x W, are the channels themselves)."""
    return levels_to_rgb(level_indices(levels).astype(np.uint8), colormap)


def tensor_table(colormap: str, mean, std, style: str = "direct") -> np.ndarray:
    """The colour table as the 3 x 256 float32 channel values Ultralytics' ToTensor + Normalize give each
    entry's pixel (the same torch operations, so a pixel's value is bit-identical). For PLANE_STYLES entry v
    of channel c is the value of level v in channel c (a grey table)."""
    import torch

    lut = np.repeat(np.arange(256, dtype=np.uint8)[:, None], 3, axis=1) if style in PLANE_STYLES else None
    table = torch.from_numpy(colormap_lut(colormap) if lut is None else lut).float().div(255)
    table = table.sub(torch.tensor(mean, dtype=torch.float32)).div(torch.tensor(std, dtype=torch.float32))
    return np.ascontiguousarray(table.numpy().T)


def table_lookup(table: np.ndarray, indices: np.ndarray) -> np.ndarray:
    """A 3 x 256 table applied to H x W entries (every channel from the same entry) or to 3 x H x W entries
    (channel c from plane c)."""
    if indices.ndim == 3:
        return table[np.arange(3)[:, None, None], indices]
    return table[:, indices]


def transforms_are_tensor_only(args) -> bool:
    """True when Ultralytics' training transforms do nothing to a square image of `args.imgsz` but turn it
    into a normalised tensor: no flip, colour jitter, auto-augment, erasing or crop (scale 0 keeps the whole
    image: RandomResizedCrop then returns it as it is). Its random draws are the only other effect."""
    return (
        not args.fliplr
        and not args.flipud
        and not args.auto_augment
        and not (args.hsv_h or args.hsv_s or args.hsv_v)
        and not args.erasing
        and not args.scale
    )


def mix_levels(a: np.ndarray, b: np.ndarray, weight_a: float, top_db: float) -> np.ndarray:
    """Two clips heard at once: their powers added with weights (levels are dB / top_db above the floor)."""
    scale = np.float32(top_db / 10.0)  # single precision: a level step is 1/255, far above its rounding
    power = np.float32(weight_a) * np.power(np.float32(10.0), a * scale, dtype=np.float32) + np.float32(
        1.0 - weight_a
    ) * np.power(np.float32(10.0), b * scale, dtype=np.float32)
    return np.clip(np.log10(power) / scale, 0.0, 1.0)


def stretch_time(levels: np.ndarray, factor: float, shift: int = 0) -> np.ndarray:
    """The clip played `factor` times slower (> 1) or faster (< 1), then rolled `shift` columns later, at the
    same width: column j shows the clip's time ((j - shift) mod width) / factor, nearest column, wrapping
    round (a faster clip repeats from its start, a slower one shows its first 1 / factor). One gather does
    both: a stretch followed by np.roll would copy the image twice."""
    width = levels.shape[-1]
    source = np.floor(((np.arange(width) - shift) % width) / factor).astype(np.int64) % width
    return np.take(levels, source, axis=-1)


def shift_bands(levels: np.ndarray, rows: int) -> np.ndarray:
    """Every band moved `rows` image rows up (towards high frequencies, > 0) or down; the bands moved in at
    the edge are silence (the floor). On a mel or log scale this is close to a pitch shift."""
    if rows == 0:
        return levels
    out = np.zeros_like(levels)
    # row 0 is the top of the image (the highest band)
    if rows > 0:
        out[..., :-rows, :] = levels[..., rows:, :]
    else:
        out[..., -rows:, :] = levels[..., :rows, :]
    return out


def random_filter(height: int, max_db: float, rng: np.random.Generator) -> np.ndarray:
    """A random frequency response in dB for `height` rows: gains drawn in [-max_db, +max_db] at 3 to 6
    points spread over the rows (the first and last rows among them), joined by straight lines. FilterAugment
    (Nam et al., 2022, "linear type"): the same source heard through another microphone, room or distance
    weighs its bands differently, which a uniform gain does not imitate."""
    points = int(rng.integers(3, 7))
    at = np.concatenate([[0.0], np.sort(rng.uniform(0.0, 1.0, points - 2)), [1.0]]) * (height - 1)
    return np.interp(np.arange(height), at, rng.uniform(-max_db, max_db, points)).astype(np.float32)


def augment_levels(levels: np.ndarray, aug: AudioAugment, top_db: float, rng: np.random.Generator) -> np.ndarray:
    """Time stretch and shift, band shift, dB offset, random filter and time/frequency masks on (height = frequency,
    width = time) levels, or on (planes, height, width) levels with every plane changed alike."""
    out = np.array(levels, dtype=np.float32)
    height, width = out.shape[-2:]
    if aug.time_stretch or aug.time_shift:
        factor = float(np.exp(rng.uniform(-1.0, 1.0) * np.log1p(aug.time_stretch))) if aug.time_stretch else 1.0
        limit = int(aug.time_shift * width)
        out = stretch_time(out, factor, int(rng.integers(-limit, limit + 1)) if aug.time_shift else 0)
    if aug.freq_shift:
        out = shift_bands(out, int(rng.integers(-int(aug.freq_shift * height), int(aug.freq_shift * height) + 1)))
    if aug.gain_db:
        out = np.clip(out + rng.uniform(-aug.gain_db, aug.gain_db) / top_db, 0.0, 1.0)
    if aug.filter_db:
        # the floor (0) stays silence: below it the clip's levels are unknown, so nothing there is raised
        gains = random_filter(height, aug.filter_db, rng)[:, None] / np.float32(top_db)
        out = np.where(out > 0.0, np.clip(out + gains, 0.0, 1.0), out)
    for axis, count, max_fraction in (
        (-1, aug.time_masks, aug.time_mask_width),
        (-2, aug.freq_masks, aug.freq_mask_width),
    ):
        size = out.shape[axis]
        for _ in range(count):
            w = int(rng.integers(0, int(max_fraction * size) + 1))
            start = int(rng.integers(0, size - w + 1))
            if axis == -1:
                out[..., start : start + w] = 0.0
            else:
                out[..., start : start + w, :] = 0.0
    return out


def soft_target_loss(label_smoothing: float):
    """Cross-entropy that takes class indices (validation) or class probabilities (mixed clips)."""
    import torch.nn.functional as F

    def loss(preds, batch):
        preds = preds[1] if isinstance(preds, (list, tuple)) else preds
        value = F.cross_entropy(preds, batch["cls"], reduction="mean", label_smoothing=label_smoothing)
        return value, {"loss": value.detach()}

    return loss


def audio_augmented_dataset(aug: AudioAugment, colormap: str, top_db: float, seed: int, style: str = "direct"):
    """An Ultralytics ClassificationDataset class that augments each training image's levels with `aug`.

    Items carry class probabilities (one-hot, or two classes weighted when clips are mixed).
    """
    import torch
    from PIL import Image
    from ultralytics.data.augment import DEFAULT_MEAN, DEFAULT_STD
    from ultralytics.data.dataset import ClassificationDataset

    from .render import read_levels

    class AudioAugmentedDataset(ClassificationDataset):
        def __init__(self, root, args, augment=False, prefix="", **kwargs):
            super().__init__(root, args, augment=augment, prefix=prefix, **kwargs)
            self.labels = np.array([s[1] for s in self.samples])
            self.n_classes = len(self.base.classes)
            self.cached_levels: dict[int, np.ndarray] = {}
            self.cached_bytes = 0
            # on a CPU this runs in series with the network (Ultralytics loads data in the training process):
            # when the photo transforms would only make a tensor, go from levels to the tensor in one lookup
            self.imgsz = args.imgsz
            tensor_only = transforms_are_tensor_only(args)
            self.table = tensor_table(colormap, DEFAULT_MEAN, DEFAULT_STD, style) if tensor_only else None

        def levels(self, i: int) -> np.ndarray:
            # decoding and inverting the colormap is most of an item's cost and is the same every epoch:
            # keep the levels (1 byte a pixel) in each worker, up to a memory budget
            levels = self.cached_levels.get(i)
            if levels is None:
                levels = read_levels(self.samples[i][0], colormap, style)  # exact from seesound's PNGs
                if style == "ramp":  # the clip's own plane; the others are made from it after augmenting
                    levels = np.ascontiguousarray(levels[0])
                if self.cached_bytes + levels.nbytes <= LEVELS_CACHE_BYTES:
                    self.cached_levels[i] = levels
                    self.cached_bytes += levels.nbytes
            return levels.astype(np.float32) * np.float32(1 / 255)

        def __getitem__(self, i: int) -> dict:
            # a generator per (item, draw): reproducible under the trainer's seed, independent across workers
            rng = np.random.default_rng([seed, i, int(torch.randint(0, 2**31 - 1, (1,)))])
            levels = augment_levels(self.levels(i), aug, top_db, rng)
            target = np.zeros(self.n_classes, np.float32)
            target[self.labels[i]] = 1.0
            others = np.flatnonzero(self.labels != self.labels[i])
            if aug.mixup and len(others) and rng.random() < aug.mixup:
                j = int(rng.choice(others))
                weight = float(rng.beta(aug.mixup_alpha, aug.mixup_alpha))
                levels = mix_levels(levels, augment_levels(self.levels(j), aug, top_db, rng), weight, top_db)
                target *= weight
                target[self.labels[j]] += 1.0 - weight
            if style == "ramp":
                levels = ramp_planes(level_indices(levels).astype(np.uint8)) * np.float32(1 / 255)
            if self.table is not None and levels.shape[-2:] == (self.imgsz, self.imgsz):
                image = torch.from_numpy(table_lookup(self.table, level_indices(levels)))
            else:
                image = self.torch_transforms(Image.fromarray(recolour(levels, colormap)))
            return {"img": image, "cls": torch.from_numpy(target)}

    return AudioAugmentedDataset


def audio_aware_trainer(aug: AudioAugment, colormap: str, top_db: float, seed: int, style: str = "direct"):
    """A ClassificationTrainer class whose training set applies `aug` and whose loss smooths labels."""
    from ultralytics.models.yolo.classify import ClassificationTrainer
    from ultralytics.utils.torch_utils import unwrap_model

    dataset_class = audio_augmented_dataset(aug, colormap, top_db, seed, style)

    class AudioAwareTrainer(ClassificationTrainer):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            if aug.label_smoothing or aug.mixup:
                # on_train_start: after the model is built (or rebuilt by a resume); checkpoints never keep it
                self.add_callback(
                    "on_train_start",
                    lambda trainer: setattr(
                        unwrap_model(trainer.model), "criterion", soft_target_loss(aug.label_smoothing)
                    ),
                )

        def build_dataset(self, img_path, mode="train", batch=None):
            if mode == "train" and aug.changes_images:
                return dataset_class(root=img_path, args=self.args, augment=True, prefix=mode)
            return super().build_dataset(img_path, mode, batch)

    return AudioAwareTrainer
