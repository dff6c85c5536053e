"""Splits: folds, grouped ratio split, determinism, stability when recordings come and go."""

import numpy as np
import pandas as pd
import pytest

from seesound.split import SplitError, assign_splits, check_split, resolve_method


def table(n_groups=300, clips_per_group=2, classes=("a", "b", "c"), folds=None):
    rows = []
    for g in range(n_groups):
        for k in range(clips_per_group):
            rows.append({"clip_id": f"g{g}_{k}", "label": classes[g % len(classes)], "group": f"src{g}",
                         "fold": (g % folds + 1) if folds else pd.NA, "audio": ""})
    t = pd.DataFrame(rows)
    t["fold"] = t["fold"].astype("Int64")
    return t


def ratio(t, seed=0):
    return assign_splits(t, "ratio", [5], [4], 0.2, 0.1, seed)


def test_folds_put_test_and_val_folds_where_asked():
    t = table(folds=5)
    s = assign_splits(t, "folds", [5], [4], 0.2, 0.1, 0)
    assert set(t.fold[s == "test"]) == {5} and set(t.fold[s == "val"]) == {4} and set(t.fold[s == "train"]) == {1, 2, 3}


def test_auto_uses_folds_only_when_every_clip_has_one():
    assert resolve_method("auto", table(folds=5)) == "folds"
    assert resolve_method("auto", table()) == "ratio"


def test_ratio_split_never_splits_a_group():
    t = table()
    s = ratio(t)
    assert (t.assign(s=s).groupby("group")["s"].nunique() == 1).all()


def test_ratio_split_is_stratified_within_tolerance():
    t = table(n_groups=3000)
    s = ratio(t)
    for label in "abc":
        share = s[t.label == label].value_counts(normalize=True)
        assert abs(share["test"] - 0.2) < 0.04 and abs(share["val"] - 0.1) < 0.03


def test_ratio_split_is_deterministic_and_seeded():
    t = table()
    assert (ratio(t) == ratio(t)).all()
    assert (ratio(t, seed=1) != ratio(t)).any()


def test_adding_or_removing_recordings_moves_no_other_recording():
    t = table()
    before = ratio(t).set_axis(t.clip_id)
    more = pd.concat([t, table(n_groups=320).iloc[600:]], ignore_index=True)
    after = ratio(more).set_axis(more.clip_id)
    assert (after[before.index] == before).all()
    fewer = t.iloc[50:]
    assert (ratio(fewer).set_axis(fewer.clip_id) == before[fewer.clip_id]).all()


def test_a_class_with_no_training_clip_is_named():
    t = table(n_groups=30, folds=5)
    t.loc[t.label == "c", "fold"] = 5
    s = assign_splits(t, "folds", [5], [4], 0.2, 0.1, 0)
    with pytest.raises(SplitError, match="class 'c' has no clip in the train split"):
        check_split(t, s)


def test_missing_fold_with_folds_method_is_a_clear_error():
    t = table(folds=5)
    t.loc[3, "fold"] = pd.NA
    with pytest.raises(SplitError, match="has no fold"):
        assign_splits(t, "folds", [5], [4], 0.2, 0.1, 0)
