# Evaluation on held-out data, and the figures and tables the report shows.


rule evaluate:
    input:
        weights=MODEL["installed"][CHECKPOINT],
        listing=f"{RESULTS}/split.csv",
        results_csv=MODEL["installed"]["results_csv"],
    output:
        metrics=f"{RESULTS}/metrics.json",
        predictions=report(
            f"{RESULTS}/test_predictions.csv",
            caption="../report/test_predictions.rst",
            category=CATEGORY["evaluation"],
            labels={"figure": "every val/test clip"},
        ),
        confusion=report(
            f"{RESULTS}/plots/confusion_matrix.png",
            caption="../report/confusion_matrix.rst",
            category=CATEGORY["evaluation"],
            labels={"figure": "confusion matrix"},
        ),
        curves=report(
            f"{RESULTS}/plots/training_curves.png",
            caption="../report/training_curves.rst",
            category=CATEGORY["training"],
            labels={"figure": "training curves"},
        ),
        per_class=report(
            f"{RESULTS}/tables/per_class.csv",
            caption="../report/per_class.rst",
            category=CATEGORY["evaluation"],
            labels={"figure": "per-class scores"},
        ),
        confused=report(
            f"{RESULTS}/tables/most_confused.csv",
            caption="../report/most_confused.rst",
            category=CATEGORY["evaluation"],
            labels={"figure": "most confused pairs"},
        ),
        misclassified=report(
            f"{RESULTS}/plots/misclassified.png",
            caption="../report/misclassified.rst",
            category=CATEGORY["evaluation"],
            labels={"figure": "misclassified clips"},
        ),
    log:
        f"{LOGS}/evaluate.log",
    benchmark:
        f"{LOGS}/benchmarks/evaluate.tsv"
    conda:
        "../envs/train.yaml"
    threads: TRAIN["threads"]
    resources:
        mem_mb=4000,
        runtime=60,
    params:
        batch=TRAIN["batch"],
        device=TRAIN["device"],
        settings=RUN_SETTINGS,
        time_rolls=PREDICT["time_rolls"],
    script:
        "../scripts/evaluate.py"


rule plot_examples:
    input:
        listing=f"{RESULTS}/split.csv",
    output:
        report(
            f"{RESULTS}/plots/example_spectrograms.png",
            caption="../report/example_spectrograms.rst",
            category=CATEGORY["spectrograms"],
            labels={"figure": "one example per class"},
        ),
    log:
        f"{LOGS}/plot_examples.log",
    benchmark:
        f"{LOGS}/benchmarks/plot_examples.tsv"
    conda:
        "../envs/analysis.yaml"
    params:
        settings=SPECTROGRAM,
    script:
        "../scripts/plot_examples.py"


rule plot_dataset:
    input:
        summary=f"{RESULTS}/split_summary.json",
    output:
        report(
            f"{RESULTS}/plots/dataset.png",
            caption="../report/dataset.rst",
            category=CATEGORY["dataset"],
            labels={"figure": "clips per class and split"},
        ),
    log:
        f"{LOGS}/plot_dataset.log",
    benchmark:
        f"{LOGS}/benchmarks/plot_dataset.tsv"
    conda:
        "../envs/analysis.yaml"
    script:
        "../scripts/plot_dataset.py"
