"""Snakemake entry of rule `split` (rules/split.smk); the logic is in seesound/split.py."""

from seesound.runner import log_path_of, output_to_log
from seesound.split import make_split

with output_to_log(log_path_of(snakemake)):
    make_split(
        snakemake.input.manifest,
        snakemake.output.dataset,
        snakemake.output.listing,
        snakemake.output.summary,
        snakemake.output.bad_audio,
        **dict(snakemake.params.items()),
    )
