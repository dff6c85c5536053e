# The split: train/val/test by the dataset's folds or a grouped ratio split, laid out for Ultralytics.


rule split:
    input:
        manifest=f"{RESULTS}/manifest.csv",
        images=spectrogram_job_outputs,
    output:
        dataset=directory(f"{RESULTS}/dataset"),
        listing=report(f"{RESULTS}/split.csv", caption="../report/split.rst", category="1. Dataset", labels={"figure": "split listing"}),
        summary=f"{RESULTS}/split_summary.json",
        bad_audio=report(f"{RESULTS}/bad_audio.csv", caption="../report/bad_audio.rst", category="1. Dataset", labels={"figure": "files skipped as bad audio"}),
    params:
        results_dir=lambda wildcards, input: os.path.dirname(input.manifest),  # where the images are
        image_ext=IMAGE_EXT,
        n_batches=lambda wildcards: n_batches(),
        method=HOLDOUT_METHOD,
        test_folds=CFG["split"]["test_folds"],
        val_folds=CFG["split"]["val_folds"],
        test_ratio=CFG["split"]["test_ratio"],
        val_ratio=CFG["split"]["val_ratio"],
        seed=CFG["split"]["seed"],
    log:
        "logs/split.log",
    benchmark:
        "logs/benchmarks/split.tsv"
    conda:
        "../envs/analysis.yaml"
    script:
        "../scripts/split.py"
