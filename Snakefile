# seesound: audio -> spectrogram images -> YOLO classifier.  See README.md for the map of the repository.
from snakemake.utils import min_version

min_version("9.0")


configfile: os.path.join(workflow.basedir, "config.yaml")


report: "report/workflow.rst"


include: "rules/common.smk"
include: "rules/data.smk"
include: "rules/spectrograms.smk"
include: "rules/split.smk"
include: "rules/train.smk"
include: "rules/evaluate.smk"
include: "rules/predict.smk"
include: "rules/run_info.smk"
include: "rules/cv.smk"


# cheap bookkeeping and small plots run where Snakemake runs (on a cluster: never submitted, so they
# never wait in a queue; the download needs the network a login node has)
localrules:
    all,
    cv,
    cv_summary,
    demo_audio,
    download_esc50,
    install_model,
    cv_install_model,
    manifest,
    model,
    plot_dataset,
    plot_examples,
    run_info,


onstart:
    try:
        RESULTS_LOCK.acquire()
    except safety.SafetyError as e:
        stop(e)
    CONTENT_DIGESTS.save()  # the digests this DAG build read, before a run that a kill -9 could end


rule all:
    default_target: True
    input:
        final_outputs(),
