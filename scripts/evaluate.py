"""Snakemake entry of rule `evaluate` (rules/evaluate.smk); the logic is in seesound/evaluation.py."""

from seesound.evaluation import evaluate_model
from seesound.runner import log_path_of, output_to_log, use_cpu_threads

use_cpu_threads(snakemake.threads)

with output_to_log(log_path_of(snakemake)):
    evaluate_model(
        snakemake.input.weights,
        snakemake.input.listing,
        snakemake.output.metrics,
        snakemake.output.predictions,
        snakemake.output.confusion,
        snakemake.output.curves,
        snakemake.input.results_csv,
        snakemake.output.per_class,
        snakemake.output.confused,
        snakemake.output.misclassified,
        **dict(snakemake.params.items()),
    )
