# Cross-validation: one split, model and evaluation per fold (the holdout rules reused with fold paths),
# then results/cv_metrics.json. `snakemake cv` builds it; `split.method: cv` makes it the default target.
# Folds are independent jobs, so --cores or a cluster trains them in parallel.


wildcard_constraints:
    fold=r"\d+",


FOLD = f"{CV}/fold{{fold}}"
FOLD_MODEL = model_files(FOLD)


use rule split as cv_split with:
    output:
        dataset=directory(f"{FOLD}/dataset"),
        listing=f"{FOLD}/split.csv",
        summary=f"{FOLD}/split_summary.json",
        bad_audio=f"{FOLD}/bad_audio.csv",
    log:
        f"{LOGS}/cv/fold{{fold}}/split.log",
    benchmark:
        f"{LOGS}/benchmarks/cv/fold{{fold}}/split.tsv"
    params:
        settings=lambda wildcards: SPLIT.for_fold(
            CFG["split"], wildcards.fold
        ).as_dict(),


use rule train as cv_train with:
    input:
        **STARTING_WEIGHTS,
        dataset=f"{FOLD}/dataset",
        listing=f"{FOLD}/split.csv",
        summary=f"{FOLD}/split_summary.json",
    output:
        **FOLD_MODEL["first"],
    log:
        f"{LOGS}/cv/fold{{fold}}/train.log",
    benchmark:
        f"{LOGS}/benchmarks/cv/fold{{fold}}/train.tsv"
    params:
        **STARTING_WEIGHTS_DIGEST,
        settings=TRAINING.as_dict(),
        checkpoints=lambda wildcards: FOLD_MODEL["checkpoints"].format(
            fold=wildcards.fold
        ),


use rule train_member as cv_train_member with:
    input:
        **STARTING_WEIGHTS,
        dataset=f"{FOLD}/dataset",
        listing=f"{FOLD}/split.csv",
        summary=f"{FOLD}/split_summary.json",
    output:
        **FOLD_MODEL["member"],
    log:
        f"{LOGS}/cv/fold{{fold}}/train_member{{member}}.log",
    benchmark:
        f"{LOGS}/benchmarks/cv/fold{{fold}}/train_member{{member}}.tsv"
    params:
        **STARTING_WEIGHTS_DIGEST,
        settings=lambda wildcards: TRAINING.for_member(int(wildcards.member)).as_dict(),
        checkpoints=lambda wildcards: FOLD_MODEL["member_checkpoints"].format(
            fold=wildcards.fold, member=wildcards.member
        ),


use rule combine_members as cv_combine_members with:
    input:
        members=ensemble_member_files(FOLD_MODEL),
    output:
        **FOLD_MODEL["ensemble"],
    log:
        f"{LOGS}/cv/fold{{fold}}/combine_members.log",
    benchmark:
        f"{LOGS}/benchmarks/cv/fold{{fold}}/combine_members.tsv"


use rule install_model as cv_install_model with:
    input:
        **FOLD_MODEL["trained"],
    output:
        **FOLD_MODEL["installed"],
    log:
        f"{LOGS}/cv/fold{{fold}}/install_model.log",


use rule evaluate as cv_evaluate with:
    input:
        weights=FOLD_MODEL["installed"][CHECKPOINT],
        listing=f"{FOLD}/split.csv",
        results_csv=FOLD_MODEL["installed"]["results_csv"],
    output:
        metrics=f"{FOLD}/metrics.json",
        predictions=f"{FOLD}/test_predictions.csv",
        confusion=f"{FOLD}/plots/confusion_matrix.png",
        curves=f"{FOLD}/plots/training_curves.png",
        per_class=f"{FOLD}/tables/per_class.csv",
        confused=f"{FOLD}/tables/most_confused.csv",
        misclassified=f"{FOLD}/plots/misclassified.png",
    log:
        f"{LOGS}/cv/fold{{fold}}/evaluate.log",
    benchmark:
        f"{LOGS}/benchmarks/cv/fold{{fold}}/evaluate.tsv"


rule cv_summary:
    input:
        metrics=cv_fold_files(f"{FOLD}/metrics.json"),
        results_csvs=cv_fold_files(FOLD_MODEL["installed"]["results_csv"]),
    output:
        summary=f"{RESULTS}/cv_metrics.json",
        confusion=report(
            f"{RESULTS}/plots/cv_confusion_matrix.png",
            caption="../report/cv_confusion_matrix.rst",
            category=CATEGORY["evaluation"],
            labels={"figure": "cross-validation confusion matrix"},
        ),
        folds=report(
            f"{RESULTS}/plots/cv_folds.png",
            caption="../report/cv_folds.rst",
            category=CATEGORY["evaluation"],
            labels={"figure": "cross-validation top-1 per fold"},
        ),
    log:
        f"{LOGS}/cv/summary.log",
    benchmark:
        f"{LOGS}/benchmarks/cv/summary.tsv"
    conda:
        "../envs/analysis.yaml"
    params:
        folds=lambda wildcards: cv_folds(),
    script:
        "../scripts/cv_summary.py"


rule cv:
    input:
        rules.cv_summary.output,
