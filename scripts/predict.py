"""Snakemake entry of rule `predict` (rules/predict.smk); the logic is in seesound/prediction.py."""

from seesound.prediction import predict_from_rule
from seesound.runner import log_path_of, output_to_log, use_cpu_threads

use_cpu_threads(snakemake.threads)

with output_to_log(log_path_of(snakemake)):
    predict_from_rule(
        snakemake.input.weights,
        snakemake.input.summary,
        list(snakemake.input.audio),
        snakemake.output.table,
        snakemake.output.timelines,
        **dict(snakemake.params.items()),
    )
