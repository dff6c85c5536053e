# Training: a YOLO classification model on the split's folders (CPU, or a GPU when train.device allows).
#
# Three places (rules/common.smk: model_files): Ultralytics works in model/checkpoints/ (no declared
# output, so Snakemake never deletes it and `train.resume` can continue after an interruption); a finished
# training's files are the train rule's outputs in model/trained/; install_model then puts them in
# model/weights/, which evaluation and prediction read. Snakemake deletes a job's outputs before it runs,
# so a training that fails removes only model/trained/: the installed model and its metrics stay.
# With train.ensemble N > 1, train_member trains members 2..N (seed train.seed + k - 1) in model/members/<k>/
# beside the train rule's first member, and combine_members averages them into model/ensemble/: one model
# file (seesound.model), which install_model installs. Members are independent jobs (parallel with --cores
# or a cluster); changing N trains only the members not yet trained.


wildcard_constraints:
    member=r"[2-9]|[1-9]\d+",


rule train:
    input:
        **STARTING_WEIGHTS,
        dataset=f"{RESULTS}/dataset",
        listing=f"{RESULTS}/split.csv",
        summary=f"{RESULTS}/split_summary.json",
    output:
        **MODEL["first"],
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


use rule train as train_member with:
    output:
        **MODEL["member"],
    log:
        f"{LOGS}/train_member{{member}}.log",
    benchmark:
        f"{LOGS}/benchmarks/train_member{{member}}.tsv"
    params:
        **STARTING_WEIGHTS_DIGEST,
        settings=lambda wildcards: TRAINING.for_member(int(wildcards.member)).as_dict(),
        checkpoints=lambda wildcards: MODEL["member_checkpoints"].format(
            member=wildcards.member
        ),


rule combine_members:
    input:
        members=ensemble_member_files(MODEL),
    output:
        **MODEL["ensemble"],
    log:
        f"{LOGS}/combine_members.log",
    benchmark:
        f"{LOGS}/benchmarks/combine_members.tsv"
    conda:
        "../envs/train.yaml"
    resources:
        mem_mb=4000,
    params:
        member_keys=list(MODEL["first"]),
    script:
        "../scripts/combine_members.py"


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
