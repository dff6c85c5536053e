"""seesound: classify sounds by rendering spectrogram images and training a YOLO classifier on them.

The Snakemake rules in ../../rules call these modules; each module is importable and unit-tested alone.
"""

__version__ = "0.3.0"  # written into every model card (seesound.model); bump when a model's meaning changes
