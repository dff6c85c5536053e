# Evaluation on held-out data, and the plots that go with it.


rule evaluate:
    input:
        best=f"{RESULTS}/model/weights/best.pt",
        listing=f"{RESULTS}/split.csv",
        results_csv=f"{RESULTS}/model/results.csv",
    output:
        metrics=f"{RESULTS}/metrics.json",
        predictions=f"{RESULTS}/test_predictions.csv",
        confusion=f"{RESULTS}/plots/confusion_matrix.png",
        curves=f"{RESULTS}/plots/training_curves.png",
    params:
        imgsz=IMGSZ,
        batch=TRAIN["batch"],
        device=TRAIN["device"],
        settings=RUN_SETTINGS,
    threads: TRAIN["threads"]
    resources:
        mem_mb=4000,
        runtime=60,
    log:
        "logs/evaluate.log",
    benchmark:
        "logs/benchmarks/evaluate.tsv"
    conda:
        "../envs/train.yaml"
    script:
        "../scripts/evaluate.py"


rule plot_examples:
    input:
        listing=f"{RESULTS}/split.csv",
    output:
        f"{RESULTS}/plots/example_spectrograms.png",
    params:
        settings=SPECTROGRAM,
    log:
        "logs/plot_examples.log",
    benchmark:
        "logs/benchmarks/plot_examples.tsv"
    conda:
        "../envs/analysis.yaml"
    script:
        "../scripts/plot_examples.py"
