"""Config validation: the JSON schema, its defaults, and the checks a schema cannot express.

Every error is one sentence that names the key, e.g. "config key 'train.epochs': -1 is less than the
minimum of 1".
"""

from __future__ import annotations

import copy
import os
import re
from pathlib import Path

import yaml

from .augment import IMAGE_AUGMENTATIONS
from .spectrogram import PLANE_STYLES

SCHEMA_PATH = Path(__file__).resolve().parents[2] / "schemas" / "config.schema.yaml"


class ConfigError(ValueError):
    pass


def load_schema(path=SCHEMA_PATH) -> dict:
    with open(path, encoding="utf-8") as f:
        return yaml.safe_load(f)


def _fill_defaults(config: dict, schema: dict) -> None:
    for key, sub in schema.get("properties", {}).items():
        if key not in config and "default" in sub:
            config[key] = copy.deepcopy(sub["default"])
        if isinstance(config.get(key), dict) and sub.get("type") == "object":
            _fill_defaults(config[key], sub)


def _nested_key_hint(unknown: str, value, schema: dict) -> str | None:
    """`--config epochs=5` or `--config train.epochs=5`: say how a nested key is given on the command line."""
    sections = {
        name: sub.get("properties", {})
        for name, sub in schema.get("properties", {}).items()
        if sub.get("type") == "object"
    }
    section, _, sub = unknown.partition(".")
    if sub and section in sections and sub in sections[section]:
        return (
            f"config key {unknown!r}: nested keys are not given with a dot; on the command line write "
            f"--config {section}='{{{sub}: {value}}}' (or put them in a --configfile)"
        )
    owners = [name for name, keys in sections.items() if unknown in keys]
    if owners:
        return (
            f"config key {unknown!r} is unknown at the top level; it belongs to {' and '.join(map(repr, owners))}: "
            f"--config {owners[0]}='{{{unknown}: {value}}}'"
        )
    return None


def _sentence(error, schema: dict) -> str:
    key = ".".join(str(p) for p in error.absolute_path) or "(top level)"
    if error.validator == "additionalProperties" and not error.absolute_path:
        for unknown in sorted(set(error.instance) - set(error.schema.get("properties", {}))):
            hint = _nested_key_hint(unknown, error.instance[unknown], schema)
            if hint:
                return hint
    if error.validator == "additionalProperties":
        allowed = sorted(error.schema.get("properties", {}))
        unknown = sorted(set(error.instance) - set(allowed))
        prefix = f"{key}." if error.absolute_path else ""
        names = ", ".join(f"'{prefix}{u}'" for u in unknown)
        section = f"'{key}'" if error.absolute_path else "the top level"
        return f"config key {names} is unknown (allowed in {section}: {', '.join(allowed)})"
    if error.validator == "enum":
        return f"config key '{key}': {error.instance!r} is not one of {', '.join(map(repr, error.validator_value))}"
    return f"config key '{key}': {error.message}"


_JSON_TYPES = {
    "integer": int,
    "number": (int, float),
    "boolean": bool,
    "null": type(None),
    "array": list,
    "object": dict,
}


def _coerce_strings(value, schema: dict):
    """Undo Snakemake's `--config key='{a: 1}'`, which passes nested values as strings ('1', 'true', 'null')."""
    if isinstance(value, dict):
        props = schema.get("properties", {})
        return {k: _coerce_strings(v, props.get(k, {})) for k, v in value.items()}
    if isinstance(value, list):
        return [_coerce_strings(v, schema.get("items", {})) for v in value]
    if not isinstance(value, str):
        return value
    types = schema.get("type", [])
    types = [types] if isinstance(types, str) else list(types)
    if "string" in types or (not types and "enum" not in schema):
        return value
    try:
        parsed = yaml.safe_load(value)
    except yaml.YAMLError:
        return value
    if "enum" in schema:
        return parsed if parsed in schema["enum"] else value
    if isinstance(parsed, (int, float)) and not isinstance(parsed, bool) and {"integer", "number"} & set(types):
        return parsed  # 5.5 where an integer is wanted is reported as the number it is, not as '5.5'
    if any(
        isinstance(parsed, _JSON_TYPES[t]) and not (t in ("integer", "number") and isinstance(parsed, bool))
        for t in types
    ):
        return _coerce_strings(parsed, schema)
    return value


def validate_config(config: dict, schema: dict | None = None) -> dict:
    """Return a validated copy of `config` with defaults filled in; raise ConfigError otherwise."""
    import jsonschema

    schema = schema or load_schema()
    config = _coerce_strings(copy.deepcopy(dict(config)), schema)
    validator = jsonschema.Draft202012Validator(schema)
    errors = sorted(
        validator.iter_errors(config), key=lambda e: (len(e.absolute_path), list(map(str, e.absolute_path)))
    )
    if errors:
        raise ConfigError(_sentence(jsonschema.exceptions.best_match(errors), schema))
    _fill_defaults(config, schema)
    if config["spectrogram"]["style"] == "seed":  # the old name of the tutorial's rendering (config_notes says so)
        config["spectrogram"]["style"] = "tutorial"
    _check_relations(config)
    return _in_schema_order(config, schema)


def _in_schema_order(config, schema: dict):
    """Keys in the schema's order: rules take config sections as params, and Snakemake compares params
    as written, so the same values in another order (another config file's) would rerun jobs."""
    if not isinstance(config, dict):
        return config
    props = schema.get("properties", {})
    order = [k for k in props if k in config] + sorted(k for k in config if k not in props)
    return {k: _in_schema_order(config[k], props.get(k, {})) for k in order}


def _check_frequency_range(spec: dict) -> None:
    from .spectrogram import LOG_SCALE_FLOOR_HZ

    rate = spec["sample_rate"]
    if spec["fmin"] >= rate / 2:
        raise ConfigError(
            f"config key 'spectrogram.fmin': {spec['fmin']:g} Hz is not below the Nyquist frequency "
            f"({rate / 2:g} Hz) of the analysis rate spectrogram.sample_rate ({rate} Hz); every image "
            f"would be blank"
        )
    top = min(x for x in (spec["fmax"], rate / 2) if x is not None)
    if spec["freq_scale"] == "log" and top <= max(spec["fmin"], LOG_SCALE_FLOOR_HZ):
        raise ConfigError(
            f"config key 'spectrogram.fmax': the log scale starts at {LOG_SCALE_FLOOR_HZ:g} Hz (or fmin) "
            f"and needs a top frequency above it, not {top:g} Hz"
        )


def _check_colormap(name: str) -> None:
    import matplotlib  # the registry only (the spectrogram jobs load it anyway)

    if name not in matplotlib.colormaps:
        import difflib

        close = difflib.get_close_matches(name, list(matplotlib.colormaps), n=3)
        hint = f"; did you mean {' or '.join(map(repr, close))}?" if close else " (see matplotlib.colormaps)"
        raise ConfigError(f"config key 'spectrogram.colormap': {name!r} is not a matplotlib colormap{hint}")


# Ultralytics downloads its published checkpoints by name (yolov8n-cls.pt, yolo11s-cls.pt) when online
_DOWNLOADABLE_CHECKPOINT = re.compile(r"^yolo(v\d+|\d+)[nsmlx]-cls\.pt$")


def model_problem(name: str) -> str | None:
    """Why `train.model` cannot be trained from, as far as can be told without loading it (None if fine)."""
    path = Path(name).expanduser()
    if path.is_file():
        return None
    if name.endswith(".pt"):
        if _DOWNLOADABLE_CHECKPOINT.match(name):
            return None  # Ultralytics downloads it (needs the network at training time)
        return "is not a file (a .pt checkpoint must exist; give its path)"
    if name.endswith((".yaml", ".yml")):
        if os.sep in name or "/" in name:
            return "is not a file"
        if _ultralytics_architecture(name):
            return None
        return "is neither a file nor an Ultralytics architecture (e.g. yolov8n-cls.yaml, yolo11s-cls.yaml)"
    return "must be a .pt checkpoint or a .yaml architecture (e.g. yolov8n-cls.yaml)"


def _ultralytics_architecture(name: str) -> bool:
    """Whether Ultralytics' own cfg/ has this architecture (the scale letter taken out, as Ultralytics does)."""
    import importlib.util

    spec = importlib.util.find_spec("ultralytics")
    if spec is None or not spec.submodule_search_locations:
        return False
    cfg = Path(next(iter(spec.submodule_search_locations))) / "cfg"
    unified = re.sub(r"(\d+)([nslmx])(.+)?$", r"\1\3", name)
    return any(next(cfg.rglob(n), None) is not None for n in {name, unified})


def config_notes(config: dict) -> list[str]:
    """Deprecations in a user's (validated) config, said once at start-up."""
    notes = []
    if config.get("spectrogram", {}).get("style") == "seed":
        notes.append("spectrogram.style 'seed' is now called 'tutorial' (the old name still works)")
    return notes


def _check_relations(config: dict) -> None:
    spec, split, dataset = config["spectrogram"], config["split"], config["dataset"]
    if spec["sample_rate"] is None:
        raise ConfigError(
            "config key 'spectrogram.sample_rate': null no longer keeps each file's rate; every model "
            "has one analysis rate that all audio is resampled to: give it in Hz (default 16000)"
        )
    if spec["hop_length"] > spec["n_fft"]:
        raise ConfigError(
            f"config key 'spectrogram.hop_length': {spec['hop_length']} is larger than spectrogram.n_fft "
            f"({spec['n_fft']}), which would skip audio between frames"
        )
    if spec["style"] == "resolutions" and spec["hop_length"] > spec["n_fft"] // 2:
        raise ConfigError(
            f"config key 'spectrogram.hop_length': {spec['hop_length']} is larger than half of spectrogram.n_fft "
            f"({spec['n_fft'] // 2}, the shortest STFT of style 'resolutions'), which would skip audio between frames"
        )
    if spec["fmax"] is not None and spec["fmax"] <= spec["fmin"]:
        raise ConfigError(
            f"config key 'spectrogram.fmax': {spec['fmax']:g} Hz must be larger than spectrogram.fmin "
            f"({spec['fmin']:g} Hz)"
        )
    _check_frequency_range(spec)
    _check_colormap(spec["colormap"])
    if split["test_ratio"] + split["val_ratio"] >= 1:
        raise ConfigError("config keys 'split.test_ratio' + 'split.val_ratio' must add up to less than 1")
    if set(split["test_folds"]) & set(split["val_folds"]):
        raise ConfigError("config keys 'split.test_folds' and 'split.val_folds' must not share a fold")
    if dataset["kind"] in ("folder", "csv") and not dataset["path"]:
        raise ConfigError(f"config key 'dataset.path': required when dataset.kind is {dataset['kind']!r}")
    problem = model_problem(config["train"]["model"])
    if problem:
        raise ConfigError(f"config key 'train.model': {config['train']['model']!r} {problem}")
    augment = config["train"]["augment"]
    audio_augment = [k for k in IMAGE_AUGMENTATIONS if augment[k]]
    if audio_augment and spec["style"] not in ("direct", *PLANE_STYLES):
        raise ConfigError(
            f"config key 'train.augment.{audio_augment[0]}': audio augmentation works on the spectrogram's levels, "
            f"which only spectrogram.style 'direct', 'resolutions' and 'ramp' images keep; set it to 0 or change "
            f"the style"
        )
    predict = config["predict"]
    if predict["hop_s"] is not None and predict["window_s"] is not None and predict["hop_s"] > predict["window_s"]:
        raise ConfigError("config key 'predict.hop_s': must not be larger than predict.window_s")
    if predict["model"] is not None:
        if not predict["model"].endswith((".pt", ".onnx")):
            raise ConfigError(
                f"config key 'predict.model': {predict['model']!r} must be a seesound model file (.pt or .onnx)"
            )
        if not Path(predict["model"]).is_file():
            raise ConfigError(f"config key 'predict.model': {predict['model']!r} is not a file")
    elif predict["engine"] == "onnx" and not config["train"]["export"]:
        raise ConfigError(
            "config key 'predict.engine': 'onnx' needs the ONNX export of the model: set train.export: true"
        )
