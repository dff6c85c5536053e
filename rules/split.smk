# The split: train/val/test by the dataset's folds or a grouped ratio split, laid out for Ultralytics.


rule split:
    input:
        manifest=f"{RESULTS}/manifest.csv",
        images=spectrogram_job_outputs,
    output:
        dataset=directory(f"{RESULTS}/dataset"),
        listing=report(
            f"{RESULTS}/split.csv",
            caption="../report/split.rst",
            category=CATEGORY["dataset"],
            labels={"figure": "split listing"},
        ),
        summary=f"{RESULTS}/split_summary.json",
        bad_audio=report(
            f"{RESULTS}/bad_audio.csv",
            caption="../report/bad_audio.rst",
            category=CATEGORY["dataset"],
            labels={"figure": "files skipped as bad audio"},
        ),
    log:
        f"{LOGS}/split.log",
    benchmark:
        f"{LOGS}/benchmarks/split.tsv"
    conda:
        "../envs/analysis.yaml"
    params:
        settings=SPLIT.as_dict(),
    script:
        "../scripts/split.py"
