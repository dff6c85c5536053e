"""Snakemake entry of rule `combine_members` (rules/train.smk); the logic is in seesound/training.py."""

from seesound.runner import log_path_of, output_to_log
from seesound.training import combine_members

keys = list(snakemake.params.member_keys)
files = list(snakemake.input.members)  # member by member, each in `keys` order (ensemble_member_files)
members = [dict(zip(keys, files[i : i + len(keys)], strict=True)) for i in range(0, len(files), len(keys))]
with output_to_log(log_path_of(snakemake)):
    combine_members(members, dict(snakemake.output.items()))
