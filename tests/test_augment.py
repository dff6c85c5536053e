"""Audio-aware augmentation: levels recovered exactly from the images, then shifted, masked, offset, mixed."""

import numpy as np
import pytest

from conftest import PRISTINE_ENV  # noqa: F401  (conftest puts scripts/ on the path)
from seesound.augment import (
    IMAGE_AUGMENTATIONS,
    AudioAugment,
    audio_augmented_dataset,
    augment_levels,
    level_indices,
    levels_from_rgb,
    mix_levels,
    random_filter,
    recolour,
    shift_bands,
    stretch_time,
)
from seesound.config import ConfigError, validate_config
from seesound.spectrogram import colorize, to_levels

TOP_DB = 80.0


def random_unit(shape=(48, 64), seed=0):
    return np.random.default_rng(seed).random(shape).astype(np.float32)


@pytest.mark.parametrize("colormap", ["jet", "gray", "viridis", "magma"])
def test_levels_come_back_exactly_from_a_lossless_image(colormap):
    unit = random_unit()
    rgb = colorize(to_levels(unit), colormap)
    expected = np.clip((unit[::-1] * 255 + 0.5).astype(int), 0, 255)  # colorize puts low frequencies at the bottom
    levels = levels_from_rgb(rgb, colormap).astype(int)
    # where the 8-bit table repeats a colour (jet: 4 levels, viridis: 2) those levels cannot be told apart
    assert np.abs(levels - expected).max() <= {"jet": 2, "viridis": 1}.get(colormap, 0)
    assert (levels == expected).mean() > 0.98
    assert np.array_equal(recolour(levels / 255.0, colormap), rgb)


def test_colours_off_the_table_take_the_nearest_level():
    unit = random_unit()
    rgb = colorize(to_levels(unit), "gray").astype(int)
    noisy = np.clip(rgb + np.random.default_rng(1).integers(-2, 3, rgb.shape), 0, 255).astype(np.uint8)
    levels = levels_from_rgb(noisy, "gray").astype(int)
    assert np.abs(levels - rgb[..., 0]).max() <= 2


def test_no_augmentation_changes_nothing():
    unit = random_unit()
    aug = AudioAugment()
    assert not aug.active and not aug.changes_images
    assert np.array_equal(augment_levels(unit, aug, TOP_DB, np.random.default_rng(0)), unit)


def test_time_shift_rolls_columns_and_keeps_every_value():
    unit = random_unit()
    out = augment_levels(unit, AudioAugment(time_shift=0.5), TOP_DB, np.random.default_rng(3))
    shift = next(s for s in range(unit.shape[1]) if np.array_equal(np.roll(unit, s, axis=1), out))
    assert shift != 0
    assert np.array_equal(np.sort(out, axis=None), np.sort(unit, axis=None))


def test_masks_set_whole_stripes_to_the_floor_within_their_width():
    unit = random_unit() * 0.5 + 0.5  # nothing on the floor before
    rng = np.random.default_rng(5)
    for _ in range(20):
        out = augment_levels(unit, AudioAugment(time_masks=2, time_mask_width=0.1), TOP_DB, rng)
        floor_columns = np.flatnonzero((out == 0).all(axis=0))
        assert (out == 0).sum() == len(floor_columns) * unit.shape[0]
        assert len(floor_columns) <= 2 * int(0.1 * unit.shape[1])
        out = augment_levels(unit, AudioAugment(freq_masks=1, freq_mask_width=0.25), TOP_DB, rng)
        floor_rows = np.flatnonzero((out == 0).all(axis=1))
        assert (out == 0).sum() == len(floor_rows) * unit.shape[1]
        assert len(floor_rows) <= int(0.25 * unit.shape[0])


def test_time_stretch_plays_the_clip_slower_or_faster_at_the_same_width():
    unit = random_unit((6, 40))
    slower = stretch_time(unit, 2.0)  # every column twice, the clip's first half fills the width
    assert np.array_equal(slower[:, 0::2], unit[:, :20]) and np.array_equal(slower[:, 1::2], unit[:, :20])
    faster = stretch_time(unit, 0.5)  # every second column, then again from the start
    assert np.array_equal(faster[:, :20], unit[:, 0::2]) and np.array_equal(faster[:, 20:], unit[:, 0::2])
    assert np.array_equal(stretch_time(unit, 1.0), unit)
    for shift in (-7, 0, 13):  # the shift after the stretch is a roll
        assert np.array_equal(stretch_time(unit, 2.0, shift), np.roll(slower, shift, axis=1))
    seen_steps = set()
    for s in range(20):  # factors within [1 / 1.5, 1.5]: a column shown at most twice, at most one skipped
        out = augment_levels(unit, AudioAugment(time_stretch=0.5), TOP_DB, np.random.default_rng(s))
        assert out.shape == unit.shape
        shown = [next(c for c in range(40) if np.array_equal(out[:, j], unit[:, c])) for j in range(40)]
        steps = set(np.diff(shown)[np.diff(shown) > -20].tolist())  # leave out the wrap round to the start
        assert steps <= {0, 1, 2} and not {0, 2} <= steps  # slower (repeats) or faster (skips), never both
        seen_steps |= steps
    assert seen_steps == {0, 1, 2}  # both slower and faster draws


def test_band_shift_moves_every_band_and_fills_the_edge_with_silence():
    unit = random_unit((10, 8)) * 0.5 + 0.5  # nothing on the floor before
    up = shift_bands(unit, 3)  # row 0 is the top: the highest band
    assert np.array_equal(up[:7], unit[3:]) and (up[7:] == 0).all()
    down = shift_bands(unit, -3)
    assert np.array_equal(down[3:], unit[:7]) and (down[:3] == 0).all()
    shifts = set()
    for s in range(60):
        out = augment_levels(unit, AudioAugment(freq_shift=0.2), TOP_DB, np.random.default_rng(s))
        floor_rows = np.flatnonzero((out == 0).all(axis=1))
        assert len(floor_rows) <= 2 and (out == 0).sum() == len(floor_rows) * 8
        shifts.add(-len(floor_rows) if 0 in floor_rows else len(floor_rows))
    assert shifts == {-2, -1, 0, 1, 2}


def test_gain_offsets_levels_by_at_most_gain_db():
    unit = np.full((8, 8), 0.5, np.float32)
    offsets = {
        float(augment_levels(unit, AudioAugment(gain_db=8.0), TOP_DB, np.random.default_rng(s))[0, 0]) - 0.5
        for s in range(50)
    }
    assert max(abs(o) for o in offsets) <= 8.0 / TOP_DB + 1e-6
    assert len(offsets) > 10


def test_mixing_adds_powers():
    loud, silent = np.full((4, 4), 1.0), np.zeros((4, 4))
    assert np.allclose(mix_levels(loud, silent, 1.0, TOP_DB), loud)
    assert np.allclose(mix_levels(silent, loud, 0.0, TOP_DB), loud)
    # half the power of the loud clip plus half of (nearly) nothing: 3 dB down
    assert np.allclose(mix_levels(loud, silent, 0.5, TOP_DB), 1.0 - 10 * np.log10(2) / TOP_DB, atol=1e-4)
    a, b = random_unit(seed=1), random_unit(seed=2)
    assert np.allclose(mix_levels(a, b, 0.3, TOP_DB), mix_levels(b, a, 0.7, TOP_DB))


def test_planes_of_the_resolutions_style_are_shifted_masked_and_offset_alike():
    plane = random_unit((16, 20))
    aug = AudioAugment(time_shift=0.5, time_stretch=0.3, freq_shift=0.2, time_masks=2, freq_masks=2, gain_db=6.0)
    out = augment_levels(np.stack([plane] * 3), aug, TOP_DB, np.random.default_rng(3))
    assert out.shape == (3, 16, 20)
    assert np.array_equal(out[0], out[1]) and np.array_equal(out[0], out[2])
    assert np.array_equal(out[0], augment_levels(plane, aug, TOP_DB, np.random.default_rng(3)))
    validate_config({"spectrogram": {"style": "resolutions"}, "train": {"augment": {"time_shift": 0.2}}})


def test_audio_augmentation_is_refused_for_tutorial_style_images():
    with pytest.raises(ConfigError, match="train.augment.time_shift"):
        validate_config({"spectrogram": {"style": "tutorial"}, "train": {"augment": {"time_shift": 0.2}}})
    with pytest.raises(ConfigError, match="train.augment.freq_shift"):
        validate_config(
            {
                "spectrogram": {"style": "tutorial"},
                "train": {"augment": {"time_shift": 0, "time_stretch": 0, "freq_shift": 0.1}},
            }
        )
    no_audio_augment = dict.fromkeys(IMAGE_AUGMENTATIONS, 0)
    validate_config(
        {"spectrogram": {"style": "seed"}, "train": {"augment": no_audio_augment | {"label_smoothing": 0.1}}}
    )


def three_class_images(folder, size=32):
    from PIL import Image
    from ultralytics.cfg import get_cfg

    for c, label in enumerate(["a", "b", "c"]):
        (folder / label).mkdir()
        for i in range(3):
            Image.fromarray(
                colorize(to_levels(random_unit((size, size), seed=10 * c + i) * 0.5 + 0.25 * c), "jet")
            ).save(folder / label / f"{i}.png")
    return get_cfg(
        overrides={
            "imgsz": size,
            "fliplr": 0.0,
            "hsv_h": 0.0,
            "hsv_s": 0.0,
            "hsv_v": 0.0,
            "erasing": 0.0,
            "scale": 0.0,
            "auto_augment": None,
        }
    )


def test_the_training_dataset_gives_augmented_images_and_mixed_labels(tmp_path):
    args = three_class_images(tmp_path)
    aug = AudioAugment(time_shift=0.3, time_masks=1, mixup=1.0)
    dataset = audio_augmented_dataset(aug, "jet", TOP_DB, seed=0)(
        root=str(tmp_path), args=args, augment=True, prefix="train"
    )
    item = dataset[0]
    assert tuple(item["img"].shape) == (3, 32, 32)
    target = item["cls"].numpy()
    assert target.shape == (3,) and abs(target.sum() - 1) < 1e-6
    assert (target > 0).sum() == 2 and target[dataset.labels[0]] > 0  # mixed with a clip of another class
    plain = audio_augmented_dataset(AudioAugment(), "jet", TOP_DB, seed=0)(
        root=str(tmp_path), args=args, augment=True, prefix="train"
    )
    assert np.array_equal(plain[0]["cls"].numpy(), np.eye(3)[plain.labels[0]])


def test_the_training_dataset_keeps_decoded_levels_within_its_memory_budget(tmp_path, monkeypatch):
    from PIL import Image

    import seesound.augment as augment_module

    args = three_class_images(tmp_path)
    monkeypatch.setattr(augment_module, "LEVELS_CACHE_BYTES", 4 * 32 * 32)  # room for four images
    dataset = audio_augmented_dataset(AudioAugment(time_shift=0.3), "jet", TOP_DB, seed=0)(
        root=str(tmp_path), args=args, augment=True, prefix="train"
    )
    for i in range(len(dataset.samples)):
        first, again = dataset.levels(i), dataset.levels(i)
        with Image.open(dataset.samples[i][0]) as im:
            fresh = levels_from_rgb(np.asarray(im.convert("RGB")), "jet") / 255.0
        assert np.array_equal(first, again) and np.allclose(first, fresh)
    assert len(dataset.cached_levels) == 4 and dataset.cached_bytes == 4 * 32 * 32


def test_levels_go_straight_to_the_tensor_ultralytics_transforms_would_make(tmp_path):
    """The one-lookup path (no photo transform asked for) gives bit-identical tensors to PIL + Ultralytics'
    transforms; any photo transform switches it off."""
    import torch
    from PIL import Image

    args = three_class_images(tmp_path)
    dataset = audio_augmented_dataset(AudioAugment(time_shift=0.3), "jet", TOP_DB, seed=0)(
        root=str(tmp_path), args=args, augment=True, prefix="train"
    )
    assert dataset.table is not None
    levels = random_unit((32, 32), seed=5)
    direct = torch.from_numpy(dataset.table[:, level_indices(levels)])
    through_pil = dataset.torch_transforms(Image.fromarray(recolour(levels, "jet")))
    assert direct.dtype == through_pil.dtype and torch.equal(direct, through_pil)
    assert tuple(dataset[0]["img"].shape) == (3, 32, 32)
    for photo in ({"fliplr": 0.5}, {"hsv_v": 0.4}, {"scale": 0.5}, {"erasing": 0.4}, {"auto_augment": "randaugment"}):
        flipped = audio_augmented_dataset(AudioAugment(time_shift=0.3), "jet", TOP_DB, seed=0)(
            root=str(tmp_path), args=copy_with(args, **photo), augment=True, prefix="train"
        )
        assert flipped.table is None, photo


def copy_with(args, **overrides):
    from types import SimpleNamespace

    return SimpleNamespace(**{**vars(args), **overrides})


def test_resolutions_style_levels_go_straight_to_the_tensor_ultralytics_transforms_would_make(tmp_path):
    """Three planes of levels (the image's R, G, B): the one-lookup path and PIL + Ultralytics' transforms give
    the same tensor, and the dataset reads the planes back from the RGB PNGs."""
    import torch
    from PIL import Image

    from seesound.augment import table_lookup

    args = three_class_images(tmp_path)
    for png in tmp_path.glob("*/*.png"):  # rewrite them as three planes of levels
        planes = np.stack([to_levels(random_unit((32, 32), seed=hash(png.name + str(c)) % 1000)) for c in range(3)])
        Image.fromarray(np.moveaxis(planes, 0, -1)).save(png)
    dataset = audio_augmented_dataset(AudioAugment(time_shift=0.3), "jet", TOP_DB, seed=0, style="resolutions")(
        root=str(tmp_path), args=args, augment=True, prefix="train"
    )
    with Image.open(dataset.samples[0][0]) as im:
        assert np.array_equal(np.rint(dataset.levels(0) * 255), np.moveaxis(np.asarray(im), -1, 0))
    levels = random_unit((3, 32, 32), seed=6)
    direct = torch.from_numpy(table_lookup(dataset.table, level_indices(levels)))
    through_pil = dataset.torch_transforms(Image.fromarray(recolour(levels, "jet")))
    assert direct.dtype == through_pil.dtype and torch.equal(direct, through_pil)
    assert tuple(dataset[0]["img"].shape) == (3, 32, 32)


def test_ramp_style_augments_the_clip_and_never_the_frequency_ramp(tmp_path):
    """Style `ramp`: the clip's plane is shifted, masked, offset and mixed; the loudest-half plane is made from
    it again and the ramp (B) reaches the network unchanged, on the one-lookup path and through PIL alike."""
    from PIL import Image

    from seesound.augment import table_lookup
    from seesound.render import read_levels
    from seesound.spectrogram import ramp_planes

    args = three_class_images(tmp_path)
    for png in tmp_path.glob("*/*.png"):  # rewrite them as style `ramp` images
        levels = read_levels(png, "jet")
        Image.fromarray(np.moveaxis(ramp_planes(levels), 0, -1)).save(png)
    aug = AudioAugment(time_shift=0.5, freq_shift=0.2, time_masks=2, freq_masks=2, gain_db=6.0, mixup=1.0)
    dataset = audio_augmented_dataset(aug, "jet", TOP_DB, seed=0, style="ramp")(
        root=str(tmp_path), args=args, augment=True, prefix="train"
    )
    assert dataset.levels(0).shape == (32, 32)  # the clip's own plane only
    stored = np.moveaxis(np.asarray(Image.open(dataset.samples[0][0])), -1, 0)
    ramp = torch_image(dataset.table, stored)[2]
    for _ in range(5):
        image = dataset[0]["img"].numpy()
        assert np.array_equal(image[2], ramp)
        assert not np.array_equal(image[0], torch_image(dataset.table, stored)[0])
        red = np.rint(levels_of_channel(dataset.table, image[0]))  # the augmented clip ...
        assert np.array_equal(
            image[1], torch_image(dataset.table, ramp_planes(red.astype(np.uint8)))[1]
        )  # ... and G from it
    photo = audio_augmented_dataset(aug, "jet", TOP_DB, seed=0, style="ramp")(
        root=str(tmp_path), args=copy_with(args, hsv_v=0.0, erasing=0.4), augment=True, prefix="train"
    )
    assert photo.table is None and tuple(photo[0]["img"].shape) == (3, 32, 32)
    assert table_lookup(dataset.table, stored).shape == (3, 32, 32)


def torch_image(table, planes):
    from seesound.augment import table_lookup

    return table_lookup(table, planes.astype(np.int64))


def levels_of_channel(table, channel):
    """The level (0..255) behind each value of one channel of a grey-table image."""
    return np.interp(channel, table[0], np.arange(256))


def test_the_random_filter_is_a_piecewise_linear_response_within_filter_db():
    for s in range(20):
        gains = random_filter(224, 6.0, np.random.default_rng(s))
        assert gains.shape == (224,) and np.abs(gains).max() <= 6.0
        # straight lines between 3 to 6 points: the second difference is zero except at 1 to 4 bends
        bends = np.count_nonzero(np.abs(np.diff(gains, 2)) > 1e-3)
        assert bends <= 8, bends  # a bend between two rows shows in the two second differences around it
    assert np.ptp(random_filter(224, 6.0, np.random.default_rng(0))) > 0  # not a uniform gain


def test_the_filter_changes_bands_differently_and_keeps_the_floor_silent():
    unit = np.full((64, 32), 0.5, np.float32)
    unit[:, :4] = 0.0  # silence
    out = augment_levels(unit, AudioAugment(filter_db=6.0), TOP_DB, np.random.default_rng(3))
    assert np.all(out[:, :4] == 0.0)
    per_row_db = (out[:, 4:] - 0.5).mean(axis=1) * TOP_DB
    assert np.abs(per_row_db).max() <= 6.0 + 1e-4 and np.ptp(per_row_db) > 0.5
    assert np.allclose(out[:, 4:], out[:, 4:5])  # one response for the whole clip: the same in every column
    assert AudioAugment(filter_db=6.0).changes_images
