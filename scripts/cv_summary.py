"""Snakemake entry of rule `cv_summary` (rules/cv.smk); the logic is in seesound/crossval.py."""

from seesound.crossval import write_cv_summary
from seesound.runner import log_path_of, output_to_log

with output_to_log(log_path_of(snakemake)):
    write_cv_summary(
        snakemake.params.folds,
        snakemake.input.metrics,
        snakemake.input.results_csvs,
        snakemake.output.summary,
        snakemake.output.confusion,
        snakemake.output.folds,
    )
