# The dataset: the demo recordings, the ESC-50 download, and the manifest (the clip table on disk).


rule demo_audio:
    output:
        [f"{RESULTS}/demo/audio/{c}.wav" for c in clip_table()["clip_id"]]
        if DATASET["kind"] == "demo"
        else [],
    log:
        f"{LOGS}/demo_audio.log",
    params:
        labels=list(clip_table()["label"]) if DATASET["kind"] == "demo" else [],
        duration_s=DATASET["demo"]["duration_s"],
        sample_rate=DATASET["demo"]["sample_rate"],
        seed=DATASET["demo"]["seed"],
    run:
        seesound_demo.write_demo_audio(
            output,
            params.labels,
            params.duration_s,
            params.sample_rate,
            params.seed,
        )


checkpoint download_esc50:
    output:
        str(seesound_dataset.esc50_csv(ESC50_PATH)),
    log:
        f"{LOGS}/download_esc50.log",
    params:
        url=DATASET["url"],
    run:
        # output is <dest>/meta/esc50.csv
        seesound_dataset.download_esc50(params.url, Path(output[0]).parent.parent)


# The manifest is the clip table on disk. Its params carry the dataset's identity and a fingerprint of
# its content (rows, labels, folds, groups, each audio file's content digest), so switching datasets or
# editing them rebuilds it and everything after it.
rule manifest:
    input:
        dataset_source,
    output:
        f"{RESULTS}/manifest.csv",
    log:
        f"{LOGS}/manifest.log",
    params:
        dataset=DATASET_IDENTITY,
        fingerprint=manifest_fingerprint,
    run:
        from seesound.fileio import atomic_write_text

        atomic_write_text(output[0], seesound_dataset.manifest_text(clip_table()))
