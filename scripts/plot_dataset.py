"""Snakemake entry of rule `plot_dataset` (rules/evaluate.smk); the logic is in seesound/plots.py."""

from seesound.plots import plot_dataset_summary
from seesound.runner import log_path_of, output_to_log

with output_to_log(log_path_of(snakemake)):
    plot_dataset_summary(snakemake.input.summary, snakemake.output[0])
