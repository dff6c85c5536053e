# One job per WAV: read, STFT, dB, colormap, write the square training image.
# `run:` keeps the job inside Snakemake's process (with the profile's force-use-threads), so a job costs
# milliseconds instead of a Python start-up.


rule spectrograms:
    input:
        all_spectrogram_images,


rule spectrogram:
    input:
        wav=clip_audio,
    output:
        f"{RESULTS}/spectrograms/{{clip_id}}.{IMAGE_EXT}",
    params:
        settings=SPECTROGRAM,
    resources:
        mem_mb=500,
        runtime=5,
    run:
        from seesound.spectrogram import write_clip_image

        write_clip_image(input.wav, output[0], SpectrogramSettings(**params.settings))
