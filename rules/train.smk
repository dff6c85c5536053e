# Training: a YOLO classification model on the split's folders (CPU, or a GPU when train.device allows).


rule train:
    input:
        dataset=f"{RESULTS}/dataset",
        listing=f"{RESULTS}/split.csv",
    output:
        best=f"{RESULTS}/model/weights/best.pt",
        last=f"{RESULTS}/model/weights/last.pt",
        results_csv=f"{RESULTS}/model/results.csv",
    params:
        model=TRAIN["model"],
        epochs=TRAIN["epochs"],
        imgsz=IMGSZ,
        batch=TRAIN["batch"],
        device=TRAIN["device"],
        patience=TRAIN["patience"],
        seed=TRAIN["seed"],
        workers=TRAIN["workers"],
        optimizer=TRAIN["optimizer"],
        lr0=TRAIN["lr0"],
        augment=TRAIN["augment"],
        # audio augmentation recovers levels through the colormap and mixes powers over top_db
        colormap=CFG["spectrogram"]["colormap"],
        top_db=CFG["spectrogram"]["top_db"],
    threads: TRAIN["threads"]
    resources:
        mem_mb=TRAIN["mem_mb"],
        runtime=TRAIN["runtime"],
        **GPU_REQUEST,
    log:
        "logs/train.log",
    benchmark:
        "logs/benchmarks/train.tsv"
    conda:
        "../envs/train.yaml"
    script:
        "../scripts/train.py"
