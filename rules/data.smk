# The dataset: the demo recordings, the ESC-50 download, and the manifest (the clip table on disk).


rule demo_audio:
    output:
        [f"{RESULTS}/demo/audio/{c}.wav" for c in clip_table()["clip_id"]] if DATASET["kind"] == "demo" else [],
    params:
        labels=list(clip_table()["label"]) if DATASET["kind"] == "demo" else [],
        duration_s=DATASET["demo"]["duration_s"],
        sample_rate=DATASET["demo"]["sample_rate"],
        seed=DATASET["demo"]["seed"],
    log:
        "logs/demo_audio.log",
    run:
        seesound_dataset.write_demo_audio(output, params.labels, params.duration_s, params.sample_rate, params.seed)


checkpoint download_esc50:
    output:
        str(seesound_dataset.esc50_csv(ESC50_PATH)),
    params:
        url=DATASET["url"],
    log:
        "logs/download_esc50.log",
    run:
        # output is <dest>/meta/esc50.csv
        seesound_dataset.download_esc50(params.url, Path(output[0]).parent.parent)


rule manifest:
    input:
        dataset_source,
    output:
        f"{RESULTS}/manifest.csv",
    params:
        fingerprint=manifest_fingerprint,
    log:
        "logs/manifest.log",
    run:
        from seesound.fileio import atomic_write_text

        atomic_write_text(output[0], seesound_dataset.manifest_text(clip_table()))
