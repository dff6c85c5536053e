"""Where each clip's image lives, with one job per clip or several clips per job.

With `spectrogram.clips_per_job` > 1, clips are assigned to batches by a hash of their id, into a
power-of-two number of batches: adding or removing a clip changes one batch (one job), and clips are
regrouped only when the collection crosses a power-of-two size.
"""

from __future__ import annotations

import hashlib


def batch_count(n_clips: int, clips_per_job: int) -> int:
    """0 means one job per clip; otherwise the smallest power of two >= n_clips / clips_per_job."""
    if clips_per_job <= 1:
        return 0
    needed = max(1, -(-n_clips // clips_per_job))
    return 1 << (needed - 1).bit_length()


def batch_of(clip_id: str, n_batches: int) -> int:
    return int.from_bytes(hashlib.sha1(clip_id.encode("utf-8")).digest()[:8], "big") % n_batches


def batch_name(batch: int) -> str:
    return f"batch{batch:05d}"


def image_path(results_dir: str, clip_id: str, ext: str, n_batches: int) -> str:
    if n_batches == 0:
        return f"{results_dir}/spectrograms/{clip_id}.{ext}"
    return f"{results_dir}/spectrograms/{batch_name(batch_of(clip_id, n_batches))}/{clip_id}.{ext}"
