"""Shared test helpers: synthetic audio in any WAV encoding, and running the real workflow."""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import struct
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml

# The environment as the user gave it. Importing ultralytics (tests of seesound.model do) sets
# OMP_NUM_THREADS=1 in this process; child processes must not inherit that (it made `nproc` say 1 in
# tests/slurm/start-slurm.sh, and a 1-CPU node never runs a 2-CPU job).
PRISTINE_ENV = dict(os.environ)

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"


def tone(freq=440.0, seconds=1.0, rate=16000, amplitude=0.5):
    t = np.arange(int(round(seconds * rate))) / rate
    return (amplitude * np.sin(2 * np.pi * freq * t)).astype(np.float64)


def g711_table(law: str) -> np.ndarray:
    """Decoding table of 8-bit A-law / mu-law (ITU-T G.711) to float in [-1, 1] (to encode test files)."""
    codes = np.arange(256, dtype=np.int32)
    if law == "mulaw":
        u = ~codes & 0xFF
        exponent = (u >> 4) & 0x07
        mantissa = u & 0x0F
        magnitude = (((mantissa << 3) + 0x84) << exponent) - 0x84
        values = np.where(u & 0x80, -magnitude, magnitude) / 32768.0
    else:
        a = codes ^ 0x55
        exponent = (a >> 4) & 0x07
        mantissa = a & 0x0F
        magnitude = np.where(exponent == 0, (mantissa << 4) + 8, ((mantissa << 4) + 0x108) << (exponent - 1))
        values = np.where(a & 0x80, magnitude, -magnitude) / 32768.0
    return values.astype(np.float32)


def encode_wav(samples, rate, encoding="pcm16", extensible=False) -> bytes:
    """WAV bytes of float samples in [-1, 1], mono (n,) or (n, channels), in the given encoding.

    encodings: pcm8, pcm16, pcm24, pcm32, float32, float64, mulaw, alaw, or adpcm (header only: a codec
    we do not decode).
    """
    x = np.asarray(samples, dtype=np.float64)
    if x.ndim == 1:
        x = x[:, None]
    channels = x.shape[1]
    if encoding == "pcm8":
        tag, bits, data = 1, 8, (np.clip(x, -1, 127 / 128) * 128 + 128).round().astype(np.uint8).tobytes()
    elif encoding == "pcm16":
        tag, bits, data = 1, 16, (np.clip(x, -1, 1 - 2**-15) * 2**15).round().astype("<i2").tobytes()
    elif encoding == "pcm24":
        v = (np.clip(x, -1, 1 - 2**-23) * 2**23).round().astype("<i4")
        tag, bits, data = 1, 24, v.view(np.uint8).reshape(-1, 4)[:, :3].tobytes()
    elif encoding == "pcm32":
        tag, bits, data = 1, 32, (np.clip(x, -1, 1 - 2**-31) * 2**31).round().astype("<i4").tobytes()
    elif encoding == "float32":
        tag, bits, data = 3, 32, x.astype("<f4").tobytes()
    elif encoding == "float64":
        tag, bits, data = 3, 64, x.astype("<f8").tobytes()
    elif encoding in ("mulaw", "alaw"):
        codes = np.arange(256, dtype=np.uint8)
        table = g711_table(encoding)
        nearest = np.abs(x.reshape(-1, 1) - table[None, :]).argmin(axis=1)  # brute-force encoder for tests
        tag, bits, data = (7 if encoding == "mulaw" else 6), 8, codes[nearest].tobytes()
    elif encoding == "adpcm":
        tag, bits, data = 0x11, 4, bytes(256)
    else:
        raise ValueError(encoding)
    block = max(1, bits // 8) * channels
    if extensible:
        guid = struct.pack("<H", tag) + b"\x00\x00\x00\x00\x10\x00\x80\x00\x00\xaa\x00\x38\x9b\x71"
        fmt = struct.pack("<HHIIHHHHI", 0xFFFE, channels, rate, rate * block, block, bits, 22, bits, 0) + guid
    else:
        fmt = struct.pack("<HHIIHH", tag, channels, rate, rate * block, block, bits)
    body = b"WAVE" + b"fmt " + struct.pack("<I", len(fmt)) + fmt + b"data" + struct.pack("<I", len(data)) + data
    if len(data) % 2:
        body += b"\x00"
    return b"RIFF" + struct.pack("<I", len(body)) + body


def write_wav_file(path, samples, rate=16000, encoding="pcm16", **kw) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(encode_wav(samples, rate, encoding, **kw))
    return path


def snakemake_cmd():
    return [sys.executable, "-m", "snakemake"]


def start_interruptible(cmd, **kwargs) -> subprocess.Popen:
    """Start `cmd` in its own process group, with Ctrl-C (SIGINT) acted on as at a terminal.

    A shell without job control starts background commands (`pytest ... &`, nohup in a script) with SIGINT
    ignored, and every child inherits that (POSIX): Snakemake then renders and trains on through a Ctrl-C.
    That made the Ctrl-C tests fail only when the suite ran in the background (2026-12-03).
    """
    import signal

    return subprocess.Popen(
        cmd,
        start_new_session=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
        env=no_slurm_env(),
        **kwargs,
    )


def no_slurm_env() -> dict:
    """The environment with an `scontrol` that fails at once.

    The SLURM executor plugin runs `scontrol show config` whenever Snakemake starts; with SLURM's client
    installed (tests/test_slurm.py installs it) but no controller running, that call waits ~9 s. Tests
    that do not use SLURM should not pay that on every Snakemake start.
    """
    import tempfile

    shim = Path(tempfile.gettempdir()) / "seesound-no-slurm"
    shim.mkdir(exist_ok=True)
    scontrol = shim / "scontrol"
    if not scontrol.exists():
        scontrol.write_text("#!/bin/sh\necho 'no SLURM controller in these tests' >&2\nexit 1\n")
        scontrol.chmod(0o755)
    return {**PRISTINE_ENV, "PATH": f"{shim}{os.pathsep}{PRISTINE_ENV.get('PATH', '')}"}


def run_snakemake(workdir, *args, check=True, timeout=900, env=None):
    """Run the real workflow in `workdir` (its config.yaml is merged over the repository's)."""
    env = env or no_slurm_env()
    cmd = snakemake_cmd() + ["-s", str(REPO / "Snakefile"), "-d", str(workdir)]
    if (Path(workdir) / "config.yaml").exists():
        cmd += [f"--configfile={Path(workdir) / 'config.yaml'}"]  # '=': nargs='+' must not swallow targets
    cmd += list(args)
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env)
    if check and proc.returncode != 0:
        raise AssertionError(f"snakemake failed ({proc.returncode}):\n{proc.stdout[-5000:]}\n{proc.stderr[-5000:]}")
    return proc


def write_config(workdir, config: dict) -> None:
    Path(workdir).mkdir(parents=True, exist_ok=True)
    (Path(workdir) / "config.yaml").write_text(yaml.safe_dump(config, sort_keys=False))


TINY_TRAIN = {"epochs": 1, "batch": 8, "workers": 0, "threads": 2, "patience": 5}
TINY_SPECTROGRAM = {"image_size": 64, "n_fft": 256, "hop_length": 128, "n_mels": 32}


def make_class_folders(root, classes=("low", "high", "noise"), per_class=6, seconds=0.5, rate=8000) -> Path:
    """A folder dataset of clearly different synthetic sounds, one sub-folder per class."""
    rng = np.random.default_rng(0)
    for c, label in enumerate(classes):
        for i in range(per_class):
            if label == "noise":
                x = 0.3 * rng.standard_normal(int(seconds * rate))
            else:
                x = tone(300 * (c + 1) + 20 * i, seconds, rate)
            write_wav_file(Path(root) / label / f"{label}_{i}.wav", x, rate)
    return Path(root)


needs_shared_data = pytest.mark.skipif(
    not (SHARED_DATA / "esc10" / "esc10.csv").is_file(), reason="../shared/data/esc10 is not present"
)


TINY_SPLIT = {"test_ratio": 0.25, "val_ratio": 0.25}  # 18 clips: every split gets some


def planned_jobs(workdir, *args) -> dict:
    """{rule: count} from `snakemake -n`'s job stats table."""
    out = run_snakemake(workdir, *args, "-n", "--quiet", "rules").stdout
    jobs = {}
    for line in out.splitlines():
        m = re.match(r"^(\w+)\s+(\d+)$", line.strip())
        if m and m.group(1) != "total":
            jobs[m.group(1)] = int(m.group(2))
    return jobs


def fingerprints(root: Path) -> dict:
    """{relative path: sha1} of every file below root (symlinks by their target)."""
    out = {}
    for p in sorted(Path(root).rglob("*")):
        if p.is_symlink():
            out[str(p.relative_to(root))] = "->" + os.readlink(p)
        elif p.is_file():
            out[str(p.relative_to(root))] = hashlib.sha1(p.read_bytes()).hexdigest()
    return out


def tree_state(root, skip=("results", ".snakemake")) -> dict:
    """{relative path: (kind, size, mtime_ns)} of everything below root, except the top-level entries in
    `skip`: what a run must neither create, remove nor change outside its results_dir."""
    state = {}
    for dirpath, dirnames, filenames in os.walk(root):
        rel = Path(dirpath).relative_to(root)
        if rel == Path("."):
            dirnames[:] = [d for d in dirnames if d not in skip]
            filenames = [f for f in filenames if f not in skip]
        for name in dirnames + filenames:
            st = os.lstat(Path(dirpath) / name)
            kind = "link" if os.path.islink(Path(dirpath) / name) else "dir" if name in dirnames else "file"
            state[str(rel / name)] = (
                kind,
                None if kind == "dir" else st.st_size,
                None if kind == "dir" else st.st_mtime_ns,
            )
    return state


def edit_config(work: Path, section: str, **values) -> None:
    config = yaml.safe_load((Path(work) / "config.yaml").read_text())
    config.setdefault(section, {}).update(values)
    write_config(work, config)


@pytest.fixture(scope="session")
def finished_run(tmp_path_factory):
    """A complete run on a folder dataset with a prediction input; tests work on copies (`work`)."""
    work = tmp_path_factory.mktemp("finished")
    make_class_folders(work / "data", per_class=6)
    write_wav_file(work / "new" / "query.wav", tone(600, 1.5, 8000), 8000)
    write_config(
        work,
        {
            "dataset": {"kind": "folder", "path": "data"},
            "spectrogram": TINY_SPECTROGRAM,
            "split": TINY_SPLIT,
            "train": TINY_TRAIN,
            "predict": {"inputs": ["new"]},
        },
    )
    run_snakemake(work, "--cores", "2")
    return work


@pytest.fixture
def work(finished_run, tmp_path):
    copy = tmp_path / "work"
    shutil.copytree(finished_run, copy, symlinks=True)  # copy2 keeps mtimes, so Snakemake sees the same state
    return copy


@pytest.fixture(scope="session")
def demo_run(tmp_path_factory):
    """A complete run of the demo dataset with a 3 s recording to predict (tests/test_workflow.py, and
    tests/test_report.py on a copy)."""
    work = tmp_path_factory.mktemp("demo")
    write_wav_file(work / "inbox" / "long recording.wav", np.concatenate([tone(400, 2.0), np.zeros(16000)]), 16000)
    write_config(
        work,
        {
            "dataset": {"demo": {"clips_per_class": 6, "duration_s": 1.0}},
            "spectrogram": TINY_SPECTROGRAM,
            "train": TINY_TRAIN,
            "predict": {"inputs": ["inbox"], "hop_s": 0.5},
        },
    )
    run_snakemake(work, "--cores", "2")
    return work
