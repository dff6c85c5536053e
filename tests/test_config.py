"""Config validation: defaults fill gaps, a wrong value is one sentence naming the key."""

import copy

import pytest
import yaml

from conftest import REPO
from seesound.config import ConfigError, validate_config


def defaults():
    return yaml.safe_load((REPO / "config.yaml").read_text())


def test_the_shipped_config_is_valid_and_complete():
    cfg = validate_config(defaults())
    assert cfg == validate_config({})  # config.yaml holds exactly the schema's defaults


@pytest.mark.parametrize(
    "patch, message",
    [
        ({"train": {"epochs": -1}}, "'train.epochs': -1 is less than the minimum of 1"),
        ({"train": {"epochs": "many"}}, "'train.epochs': 'many' is not of type 'integer'"),
        ({"spectrogram": {"image_size": 0}}, "'spectrogram.image_size'"),
        ({"spectrogram": {"hop_length": 2048}}, "'spectrogram.hop_length': 2048 is larger than spectrogram.n_fft"),
        ({"spectrogram": {"freq_scale": "bark"}}, "'spectrogram.freq_scale': 'bark' is not one of"),
        (
            {"spectrogram": {"style": "resolutions", "hop_length": 768}},
            "'spectrogram.hop_length': 768 is larger than half of spectrogram.n_fft",
        ),
        ({"train": {"epoch": 3}}, "'train.epoch' is unknown"),
        ({"trian": {}}, "'trian' is unknown"),
        ({"split": {"test_ratio": 0.6, "val_ratio": 0.5}}, "split.test_ratio"),
        ({"dataset": {"kind": "folder"}}, "'dataset.path': required"),
        ({"train": {"optimizer": "adam_w"}}, "'train.optimizer': 'adam_w' is not one of 'auto'"),
        # checked at start-up, not in the first job (issue 14, defects 5 and 8)
        (
            {"spectrogram": {"colormap": "jett"}},
            "'spectrogram.colormap': 'jett' is not a matplotlib colormap; did you mean 'jet'",
        ),
        (
            {"spectrogram": {"fmin": 5000, "fmax": 4000}},
            "'spectrogram.fmax': 4000 Hz must be larger than spectrogram.fmin",
        ),
        ({"spectrogram": {"fmin": 9000}}, "'spectrogram.fmin': 9000 Hz is not below the Nyquist frequency (8000 Hz)"),
        ({"spectrogram": {"sample_rate": 8000, "fmin": 4000}}, "'spectrogram.fmin': 4000 Hz is not below the Nyquist"),
        ({"spectrogram": {"freq_scale": "log", "fmax": 15}}, "'spectrogram.fmax': the log scale starts at 20 Hz"),
        ({"train": {"model": "missing/nothere.pt"}}, "'train.model': 'missing/nothere.pt' is not a file"),
        (
            {"train": {"model": "yolov9000x-cls.yaml"}},
            "'train.model': 'yolov9000x-cls.yaml' is neither a file nor an Ultralytics architecture",
        ),
        ({"train": {"model": "resnet"}}, "'train.model': 'resnet' must be a .pt checkpoint or a .yaml architecture"),
        # one analysis rate per model (issue 15)
        ({"spectrogram": {"sample_rate": None}}, "'spectrogram.sample_rate': null no longer keeps each file's rate"),
        ({"predict": {"model": "elsewhere/model.pt"}}, "'predict.model': 'elsewhere/model.pt' is not a file"),
        ({"predict": {"model": "model.h5"}}, "'predict.model': 'model.h5' must be a seesound model file"),
        (
            {"predict": {"engine": "onnx"}},
            "'predict.engine': 'onnx' needs the ONNX export of the model: set train.export",
        ),
        (
            {"predict": {"class_thresholds": {"dog": 1.5}}},
            "'predict.class_thresholds.dog': 1.5 is greater than the maximum of 1",
        ),
        # command-line habits get the right form (issue 16)
        (
            {"epochs": 5},
            "config key 'epochs' is unknown at the top level; it belongs to 'train': --config train='{epochs: 5}'",
        ),
        (
            {"train.epochs": 5},
            "config key 'train.epochs': nested keys are not given with a dot; on the command line write --config train='{epochs: 5}'",
        ),
        ({"train": {"epochs": "5.5"}}, "'train.epochs': 5.5 is not of type 'integer'"),
    ],
)
def test_bad_values_are_rejected_naming_the_key(patch, message):
    import re

    cfg = copy.deepcopy(patch)
    with pytest.raises(ConfigError, match=re.escape(message)):
        validate_config(cfg)


def test_the_old_name_of_the_tutorial_style_still_works_and_is_noted():
    from seesound.augment import IMAGE_AUGMENTATIONS
    from seesound.config import config_notes

    raw = {"spectrogram": {"style": "seed"}, "train": {"augment": dict.fromkeys(IMAGE_AUGMENTATIONS, 0)}}
    assert validate_config(raw)["spectrogram"]["style"] == "tutorial"
    assert "'seed' is now called 'tutorial'" in config_notes(raw)[0]


def test_partial_sections_are_completed_from_defaults():
    cfg = validate_config({"train": {"epochs": 3}})
    assert cfg["train"]["epochs"] == 3 and cfg["train"]["batch"] == 32 and cfg["spectrogram"]["n_fft"] == 1024


def test_values_from_the_command_line_arrive_as_strings_and_are_typed_by_the_schema():
    cfg = validate_config(
        {
            "train": {"epochs": "5", "resume": "true", "augment": {"auto_augment": "null"}},
            "spectrogram": {"fmax": "8000.5"},
            "split": {"test_folds": ["1", "2"]},
        }
    )
    assert cfg["train"]["epochs"] == 5 and cfg["train"]["resume"] is True
    assert cfg["train"]["augment"]["auto_augment"] is None and cfg["spectrogram"]["fmax"] == 8000.5
    assert cfg["split"]["test_folds"] == [1, 2]
    assert validate_config({"train": {"device": "0"}})["train"]["device"] == "0"  # a string key keeps its string


def test_key_order_in_a_config_file_does_not_change_the_validated_config():
    # rules get config sections as params; Snakemake would rerun a job whose params dict merely reordered
    reference = validate_config({})
    train = reference["train"]
    augment = {"mixup": train["augment"]["mixup"], "fliplr": train["augment"]["fliplr"]}
    # the defaults' own values, given in another order than config.yaml's
    shuffled = {"train": {"lr0": train["lr0"], "augment": augment, "epochs": train["epochs"]}, "split": {"seed": 0}}
    cfg = validate_config(shuffled)
    assert list(cfg) == list(reference) and list(cfg["train"]) == list(reference["train"])
    assert list(cfg["train"]["augment"]) == list(reference["train"]["augment"])
    assert repr(cfg) == repr(reference)


@pytest.mark.parametrize("model", ["yolov8n-cls.yaml", "yolo11s-cls.yaml", "yolov8n-cls.pt"])
def test_known_architectures_and_downloadable_checkpoints_pass_the_start_up_check(model):
    assert validate_config({"train": {"model": model}})["train"]["model"] == model
