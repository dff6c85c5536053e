# Cross-validation: one split, model and evaluation per fold (the holdout rules reused with fold paths),
# then results/cv_metrics.json. `snakemake cv` builds it; `split.method: cv` makes it the default target.
# Folds are independent jobs, so --cores or a cluster trains them in parallel.

wildcard_constraints:
    fold=r"\d+",


use rule split as cv_split with:
    output:
        dataset=directory(f"{CV}/fold{{fold}}/dataset"),
        listing=f"{CV}/fold{{fold}}/split.csv",
        summary=f"{CV}/fold{{fold}}/split_summary.json",
        bad_audio=f"{CV}/fold{{fold}}/bad_audio.csv",
    params:
        results_dir=lambda wildcards, input: os.path.dirname(input.manifest),
        image_ext=IMAGE_EXT,
        n_batches=lambda wildcards: n_batches(),
        method="cv",
        test_folds=CFG["split"]["test_folds"],
        val_folds=CFG["split"]["val_folds"],
        test_ratio=CFG["split"]["test_ratio"],
        val_ratio=CFG["split"]["val_ratio"],
        seed=CFG["split"]["seed"],
        cv_fold=lambda wildcards: int(wildcards.fold),
        cv_folds=CFG["split"]["cv_folds"],
    log:
        f"logs/cv/fold{{fold}}/split.log",
    benchmark:
        f"logs/benchmarks/cv/fold{{fold}}/split.tsv"


use rule train as cv_train with:
    input:
        dataset=f"{CV}/fold{{fold}}/dataset",
        listing=f"{CV}/fold{{fold}}/split.csv",
    output:
        best=f"{CV}/fold{{fold}}/model/weights/best.pt",
        last=f"{CV}/fold{{fold}}/model/weights/last.pt",
        results_csv=f"{CV}/fold{{fold}}/model/results.csv",
    log:
        f"logs/cv/fold{{fold}}/train.log",
    benchmark:
        f"logs/benchmarks/cv/fold{{fold}}/train.tsv"


use rule evaluate as cv_evaluate with:
    input:
        weights=f"{CV}/fold{{fold}}/model/weights/{CHECKPOINT}.pt",
        listing=f"{CV}/fold{{fold}}/split.csv",
        results_csv=f"{CV}/fold{{fold}}/model/results.csv",
    output:
        metrics=f"{CV}/fold{{fold}}/metrics.json",
        predictions=f"{CV}/fold{{fold}}/test_predictions.csv",
        confusion=f"{CV}/fold{{fold}}/plots/confusion_matrix.png",
        curves=f"{CV}/fold{{fold}}/plots/training_curves.png",
        per_class=f"{CV}/fold{{fold}}/tables/per_class.csv",
        confused=f"{CV}/fold{{fold}}/tables/most_confused.csv",
        misclassified=f"{CV}/fold{{fold}}/plots/misclassified.png",
    log:
        f"logs/cv/fold{{fold}}/evaluate.log",
    benchmark:
        f"logs/benchmarks/cv/fold{{fold}}/evaluate.tsv"


rule cv_summary:
    input:
        metrics=cv_fold_files(f"{CV}/fold{{fold}}/metrics.json"),
        results_csvs=cv_fold_files(f"{CV}/fold{{fold}}/model/results.csv"),
    output:
        summary=f"{RESULTS}/cv_metrics.json",
        confusion=report(f"{RESULTS}/plots/cv_confusion_matrix.png", caption="../report/cv_confusion_matrix.rst", category="4. Evaluation", labels={"figure": "cross-validation confusion matrix"}),
        folds=report(f"{RESULTS}/plots/cv_folds.png", caption="../report/cv_folds.rst", category="4. Evaluation", labels={"figure": "cross-validation top-1 per fold"}),
    params:
        folds=lambda wildcards: cv_folds(),
    log:
        "logs/cv/summary.log",
    benchmark:
        "logs/benchmarks/cv/summary.tsv"
    conda:
        "../envs/analysis.yaml"
    script:
        "../scripts/cv_summary.py"


rule cv:
    input:
        rules.cv_summary.output,
