# Training: a YOLO classification model on the split's folders (CPU, or a GPU when train.device allows).
#
# Three places (rules/common.smk: model_files): Ultralytics works in model/checkpoints/ (no declared
# output, so Snakemake never deletes it and `train.resume` can continue after an interruption); a finished
# training's files are the train rule's outputs in model/trained/; install_model then puts them in
# model/weights/, which evaluation and prediction read. Snakemake deletes a job's outputs before it runs,
# so a training that fails removes only model/trained/: the installed model and its metrics stay.


rule train:
    input:
        **STARTING_WEIGHTS,
        dataset=f"{RESULTS}/dataset",
        listing=f"{RESULTS}/split.csv",
        summary=f"{RESULTS}/split_summary.json",
    output:
        **MODEL["trained"],
    log:
        f"{LOGS}/train.log",
    benchmark:
        f"{LOGS}/benchmarks/train.tsv"
    conda:
        "../envs/train.yaml"
    threads: TRAIN["threads"]
    resources:
        **GPU_REQUEST,
        mem_mb=TRAIN["mem_mb"],
        runtime=TRAIN["runtime"],
    params:
        **STARTING_WEIGHTS_DIGEST,
        settings=TRAINING.as_dict(),
        checkpoints=MODEL["checkpoints"],
    script:
        "../scripts/train.py"


rule install_model:
    input:
        **MODEL["trained"],
    output:
        **MODEL["installed"],
    log:
        f"{LOGS}/install_model.log",
    run:
        from seesound.training import install_model

        install_model(dict(input.items()), dict(output.items()))


# `snakemake model`: train (if needed) and install the model that evaluation and prediction use
rule model:
    input:
        MODEL["installed"].values(),
