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


# cheap bookkeeping runs where Snakemake runs (on a cluster: never submitted; the download needs network)
localrules:
    all,
    demo_audio,
    download_esc50,
    manifest,
    run_info,


rule all:
    default_target: True
    input:
        final_outputs(),
