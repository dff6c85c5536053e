"""Splits: folds, grouped ratio split, determinism, stability when recordings come and go."""

import pandas as pd
import pytest

from seesound.split import SplitError, SplitSettings, assign_splits, check_split, cv_folds_of, resolve_method


def table(n_groups=300, clips_per_group=2, classes=("a", "b", "c"), folds=None):
    rows = []
    for g in range(n_groups):
        for k in range(clips_per_group):
            rows.append(
                {
                    "clip_id": f"g{g}_{k}",
                    "label": classes[g % len(classes)],
                    "group": f"src{g}",
                    "fold": (g % folds + 1) if folds else pd.NA,
                    "audio": "",
                }
            )
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


def test_classes_missing_from_val_are_one_warning_naming_them():
    t = table(n_groups=60, classes=tuple("abcdefghij"))
    one_val_group = assign_splits(t, "cv", [5], [4], 0.2, 0.1, 0, cv_fold=1, cv_folds=5, cv_val_ratio=0.001)
    (warning,) = check_split(t, one_val_group)
    assert warning.startswith("9 of 10 classes have no clip in the val split: ") and warning.endswith(", ...")
    t = table(n_groups=30, folds=5)
    t.loc[t.label == "c", "fold"] = 2
    s = assign_splits(t, "folds", [5], [4], 0.2, 0.1, 0)
    assert check_split(t, s) == ["class 'c' has no clip in the val split", "class 'c' has no clip in the test split"]


def test_missing_fold_with_folds_method_is_a_clear_error():
    t = table(folds=5)
    t.loc[3, "fold"] = pd.NA
    with pytest.raises(SplitError, match="has no fold"):
        assign_splits(t, "folds", [5], [4], 0.2, 0.1, 0)


def test_cv_uses_the_datasets_own_folds_when_it_has_them():
    t = table(folds=5)
    for k in range(1, 6):
        s = assign_splits(t, "cv", [5], [4], 0.2, 0.5, 0, cv_fold=k, cv_folds=5, cv_val_ratio=0.1)
        assert set(t.fold[s == "test"]) == {k}
        assert k not in set(t.fold[s != "test"])
        # val: split.cv_val_ratio of the training folds (val_ratio, 0.5 here, is the ratio split's)
        assert 0.05 < (s == "val").sum() / (s != "test").sum() < 0.15


def test_cv_folds_without_dataset_folds_are_stratified_and_keep_groups_whole():
    t = table(n_groups=100, clips_per_group=3)
    folds = cv_folds_of(t, 5, seed=0)
    assert (t.assign(f=folds).groupby("group")["f"].nunique() == 1).all()
    counts = pd.crosstab(t["label"], folds)
    assert list(counts.columns) == [1, 2, 3, 4, 5]
    # 33 or 34 groups per class dealt to 5 folds: 6 or 7 groups (18 to 21 clips) each
    assert counts.values.min() >= 18 and counts.values.max() <= 21
    assert not cv_folds_of(t, 5, seed=1).equals(folds)
    tests = [
        set(t.clip_id[assign_splits(t, "cv", [5], [4], 0.2, 0.5, 0, cv_fold=k, cv_folds=5, cv_val_ratio=0.1) == "test"])
        for k in range(1, 6)
    ]
    assert sum(len(x) for x in tests) == len(t) and set().union(*tests) == set(t.clip_id)  # each clip tested once


def test_cv_fold_without_clips_is_a_clear_error():
    with pytest.raises(SplitError, match="fold 7 has no clips"):
        assign_splits(table(folds=5), "cv", [5], [4], 0.2, 0.1, 0, cv_fold=7, cv_folds=5, cv_val_ratio=0.1)


def test_cv_val_share_too_small_for_any_group_still_takes_one_group():
    t = table(n_groups=20, clips_per_group=2, folds=5)  # 16 training groups: 2 % catches none of them
    for k in range(1, 6):
        s = assign_splits(t, "cv", [5], [4], 0.2, 0.1, 0, cv_fold=k, cv_folds=5, cv_val_ratio=0.02)
        assert t.group[s == "val"].nunique() == 1 and (s == "val").sum() == 2
        assert set(t.fold[s == "val"]) != {k}
    big = table(n_groups=1000, clips_per_group=1, folds=5)
    s = assign_splits(big, "cv", [5], [4], 0.2, 0.1, 0, cv_fold=1, cv_folds=5, cv_val_ratio=0.02)
    assert 8 <= (s == "val").sum() <= 28  # the share itself where it catches groups (800 x 0.02 = 16)


def test_cv_val_share_is_a_cv_setting_only():
    section = {"test_folds": [5], "val_folds": [4], "test_ratio": 0.2, "val_ratio": 0.1, "seed": 0}
    holdout = SplitSettings.holdout({**section, "cv_folds": 5, "cv_val_ratio": 0.02}, "ratio")
    assert "cv_val_ratio" not in holdout.as_dict()  # changing it never reruns a holdout split
    fold = holdout.for_fold({"cv_folds": 5, "cv_val_ratio": 0.03}, 2)
    assert fold.as_dict()["cv_val_ratio"] == 0.03 and fold.cv_fold == 2


def test_cv_without_its_val_share_is_a_clear_error():
    with pytest.raises(SplitError, match="val share"):
        assign_splits(table(folds=5), "cv", [5], [4], 0.2, 0.1, 0, cv_fold=1, cv_folds=5)
