# Prediction: classify new recordings of any length with sliding windows.


rule predict:
    input:
        weights=MODEL["installed"][CHECKPOINT],
        summary=f"{RESULTS}/split_summary.json",
        audio=predict_audio_files(),
    output:
        table=report(f"{RESULTS}/predictions.csv", caption="../report/predictions.rst", category="5. Prediction", labels={"figure": "predictions table"}),
        timelines=report(directory(f"{RESULTS}/plots/timelines"), patterns=["{name}.png"], caption="../report/timeline.rst", category="5. Prediction", labels={"figure": "timeline", "file": "{name}"}),
    params:
        settings=SPECTROGRAM,
        window_s=CFG["predict"]["window_s"],
        hop_s=CFG["predict"]["hop_s"],
        top_k=CFG["predict"]["top_k"],
        batch=CFG["predict"]["batch"],
        imgsz=IMGSZ,
        device=TRAIN["device"],
    threads: TRAIN["threads"]
    resources:
        mem_mb=4000,
        runtime=60,
    log:
        f"{LOGS}/predict.log",
    benchmark:
        f"{LOGS}/benchmarks/predict.tsv"
    conda:
        "../envs/train.yaml"
    script:
        "../scripts/predict.py"
