# The split: train/val/test by the dataset's folds or a grouped ratio split, laid out for Ultralytics.


rule split:
    input:
        manifest=f"{RESULTS}/manifest.csv",
        images=all_spectrogram_images,
    output:
        dataset=directory(f"{RESULTS}/dataset"),
        listing=f"{RESULTS}/split.csv",
        summary=f"{RESULTS}/split_summary.json",
    params:
        method=CFG["split"]["method"],
        test_folds=CFG["split"]["test_folds"],
        val_folds=CFG["split"]["val_folds"],
        test_ratio=CFG["split"]["test_ratio"],
        val_ratio=CFG["split"]["val_ratio"],
        seed=CFG["split"]["seed"],
    log:
        "logs/split.log",
    run:
        from seesound.split import make_split

        with open(log[0], "w") as log_file:
            make_split(input.manifest, list(input.images), output.dataset, output.listing, output.summary,
                       **params, log=lambda m: print(m, file=log_file, flush=True))
