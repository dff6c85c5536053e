"""Snakemake entry of rule `train` (rules/train.smk); the logic is in seesound/training.py."""
from seesound.runner import log_path_of, output_to_log
from seesound.training import train_classifier

with output_to_log(log_path_of(snakemake)):
    train_classifier(snakemake.input.dataset, snakemake.output.best, **dict(snakemake.params.items()))
