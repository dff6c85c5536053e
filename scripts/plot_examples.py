"""Snakemake entry of rule `plot_examples` (rules/evaluate.smk); the logic is in seesound/plots.py."""

from seesound.plots import plot_examples_from_listing
from seesound.runner import log_path_of, output_to_log

with output_to_log(log_path_of(snakemake)):
    plot_examples_from_listing(snakemake.input.listing, snakemake.output[0], snakemake.params.settings)
