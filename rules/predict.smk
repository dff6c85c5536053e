# Prediction: classify recordings of any length, format and sample rate with a seesound model file (the
# workflow's own, or predict.model). One job per recording (or predict.recordings_per_job per job), in
# Snakemake's process so that the model is loaded once, then one gather of the combined tables.


# `snakemake predict`: the combined tables, or one sentence when there is nothing to classify
rule predict:
    input:
        lambda wildcards: (
            prediction_outputs()
            if RECORDINGS or UNUSABLE_RECORDINGS
            else stop(
                "predict.inputs is empty and no earlier prediction run is on record: nothing to classify. Give "
                "recordings, e.g. --config predict='{inputs: [field_recordings/]}' (earlier predictions are never deleted)"
            )
        ),


rule predict_recording:
    input:
        audio=lambda wildcards: users_file(RECORDINGS[wildcards.recording]),
        model=PREDICT_MODEL,
    output:
        **recording_outputs(PREDICTIONS, "{recording}"),
    threads: TRAIN["threads"]
    resources:
        mem_mb=2000,
        runtime=60,
    params:
        settings=PREDICT,
        device=TRAIN["device"],
        on_bad_audio=DATASET["on_bad_audio"],
        failure_log=lambda wildcards: f"{LOGS}/predict/{wildcards.recording}.log",
        files_digest=lambda wildcards: file_digests(
            [RECORDINGS[wildcards.recording], *USER_PREDICT_MODEL]
        ),
    run:
        from seesound.prediction import predict_recordings_job

        predict_recordings_job(
            input.model,
            [input.audio],
            [wildcards.recording],
            [dict(output.items())],
            params.settings,
            params.device,
            params.on_bad_audio,
            params.failure_log,
            threads=threads,
        )


# predict.recordings_per_job > 1: one job classifies a batch of recordings into its own folder (layout.py)
rule predict_batch:
    input:
        audio=lambda wildcards: [
            users_file(RECORDINGS[r]) for r in batch_recordings(wildcards)
        ],
        model=PREDICT_MODEL,
    output:
        directory(f"{PREDICTIONS}/batch{{batch}}"),
    log:
        f"{LOGS}/predict/batch{{batch}}.log",
    threads: TRAIN["threads"]
    resources:
        mem_mb=2000,
        runtime=120,
    params:
        settings=PREDICT,
        device=TRAIN["device"],
        on_bad_audio=DATASET["on_bad_audio"],
        recordings=batch_recordings,
        files_digest=lambda wildcards: file_digests(
            [
                *(RECORDINGS[r] for r in batch_recordings(wildcards)),
                *USER_PREDICT_MODEL,
            ]
        ),
    run:
        from seesound.prediction import predict_batch_job

        predict_batch_job(
            output[0],
            input.model,
            input.audio,
            params.recordings,
            params.settings,
            params.device,
            params.on_bad_audio,
            log_path=log[0],
            threads=threads,
        )


rule gather_predictions:
    input:
        tables=prediction_job_outputs,
        model=PREDICT_MODEL,
    output:
        predictions=report(
            f"{RESULTS}/predictions.csv",
            caption="../report/predictions.rst",
            category=CATEGORY["prediction"],
            labels={"figure": "predictions table"},
        ),
        detections=report(
            f"{RESULTS}/detections.csv",
            caption="../report/detections.rst",
            category=CATEGORY["prediction"],
            labels={"figure": "detections"},
        ),
        summary=report(
            f"{RESULTS}/tables/predictions_summary.csv",
            caption="../report/predictions_summary.rst",
            category=CATEGORY["prediction"],
            labels={"figure": "what each recording holds"},
        ),
        bad=f"{RESULTS}/tables/bad_recordings.csv",
        inputs=PREDICTION_INPUTS_CSV,
        timelines=report(
            directory(f"{RESULTS}/plots/timelines"),
            patterns=["{name}.png"],
            caption="../report/timeline.rst",
            category=CATEGORY["prediction"],
            labels={"figure": "timeline", "file": "{name}"},
        ),
    log:
        f"{LOGS}/predictions.log",
    benchmark:
        f"{LOGS}/benchmarks/predictions.tsv"
    resources:
        mem_mb=4000,
        runtime=60,
    params:
        settings=PREDICT,
        recordings=lambda wildcards: [
            (rid, recording_outputs(recording_folder(rid), rid)) for rid in RECORDINGS
        ],
        unusable=UNUSABLE_RECORDINGS,
    run:
        from seesound.prediction import gather_predictions
        from seesound.runner import file_logger

        gather_predictions(
            params.recordings,
            params.unusable,
            dict(output.items()),
            params.settings,
            input.model,
            file_logger(log[0]),
        )
