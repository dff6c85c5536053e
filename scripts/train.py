"""Snakemake entry of rule `train` (rules/train.smk); the logic is in seesound/training.py."""

from seesound.runner import log_path_of, output_to_log
from seesound.training import train_classifier

params = dict(snakemake.params.items())
params.pop("starting_weights_digest", None)  # for Snakemake's params trigger only (rules/common.smk)
with output_to_log(log_path_of(snakemake)):
    train_classifier(
        snakemake.input.dataset,
        snakemake.input.listing,
        snakemake.input.summary,
        params.pop("checkpoints"),
        dict(snakemake.output.items()),
        **params,
        threads=snakemake.threads,
        # read from the config, not params: switching resume on or off must not retrain a finished model
        resume=str(snakemake.config.get("train", {}).get("resume", False)).lower() == "true",
    )
