"""seesound: classify sounds by rendering spectrogram images and training a YOLO classifier on them.

The Snakemake rules in ../../rules call these modules; each module is importable and unit-tested alone.
"""
