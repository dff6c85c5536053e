# One job per recording: read, resample to the analysis rate, STFT, dB, levels, write the square image.
# `run:` keeps the job inside Snakemake's process (with the profile's force-use-threads), so a job costs
# milliseconds instead of a Python start-up.


rule spectrograms:
    input:
        spectrogram_job_outputs,


# No `log:` directive: Snakemake would create an empty log per clip. A clip that fails writes its reason
# to `failure_log` (and the error names the file and the reason).
rule spectrogram:
    input:
        audio=clip_audio,
    output:
        f"{RESULTS}/spectrograms/{{clip_id}}.{IMAGE_EXT}",
    resources:
        mem_mb=300,
        runtime=2,
    params:
        **RENDER_PARAMS,
        on_bad_audio=DATASET["on_bad_audio"],
        failure_log=lambda wildcards: f"{LOGS}/spectrogram/{wildcards.clip_id}.log",
        audio_digest=lambda wildcards: file_digests([clip_audio(wildcards)]),
    run:
        from seesound.render import render_clips_job

        render_clips_job(
            [input.audio],
            [output[0]],
            params.settings,
            params.on_bad_audio,
            params.failure_log,
        )


# spectrogram.clips_per_job > 1: one job renders a batch of clips into its own folder (see layout.py).
rule spectrogram_batch:
    input:
        audio=batch_audio,
    output:
        directory(f"{RESULTS}/spectrograms/batch{{batch}}"),
    log:
        f"{LOGS}/spectrogram/batch{{batch}}.log",
    resources:
        mem_mb=500,
        runtime=30,
    params:
        **RENDER_PARAMS,
        on_bad_audio=DATASET["on_bad_audio"],
        clips=batch_clips,
        audio_digest=lambda wildcards: file_digests(batch_audio(wildcards)),
    run:
        from seesound.render import render_batch_job

        render_batch_job(
            output[0],
            input.audio,
            params.clips,
            IMAGE_EXT,
            params.settings,
            params.on_bad_audio,
            log[0],
        )
