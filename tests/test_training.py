"""Training helpers: what a resume may continue from, and the per-epoch table it continues."""

from seesound.training import completed_epochs, install_model, training_fingerprint, trim_results_csv


def test_the_fingerprint_changes_with_any_setting_and_with_the_split(tmp_path):
    listing = tmp_path / "split.csv"
    listing.write_text("clip_id,label,split\na,dog,train\n")
    settings = {"epochs": 3, "augment": {"mixup": 0.3}}
    base = training_fingerprint(settings, listing)
    assert training_fingerprint(dict(reversed(list(settings.items()))), listing) == base
    assert training_fingerprint({"epochs": 4, "augment": {"mixup": 0.3}}, listing) != base
    listing.write_text("clip_id,label,split\na,dog,val\n")
    assert training_fingerprint(settings, listing) != base


def test_rows_beyond_the_checkpoint_are_dropped_before_a_resume(tmp_path):
    csv = tmp_path / "results.csv"
    csv.write_text("epoch,time,train/loss\n1,1.5,0.9\n2,3.0,0.8\n3,4.5,0.7\n")
    trim_results_csv(csv, 2)
    assert csv.read_text() == "epoch,time,train/loss\n1,1.5,0.9\n2,3.0,0.8\n"
    trim_results_csv(tmp_path / "absent.csv", 2)  # nothing to trim


def test_an_unreadable_checkpoint_is_not_resumed_from(tmp_path):
    (tmp_path / "last.pt").write_bytes(b"\x80\x04 cut short")
    assert completed_epochs(tmp_path / "last.pt") is None


def test_installing_copies_so_the_installed_files_are_newer_than_their_inputs(tmp_path):
    src = {"last": tmp_path / "trained" / "last.pt", "results_csv": tmp_path / "trained" / "results.csv"}
    for path in src.values():
        path.parent.mkdir(exist_ok=True)
        path.write_bytes(b"weights")
    dest = {"last": tmp_path / "weights" / "last.pt", "results_csv": tmp_path / "results.csv"}
    install_model(src, dest)
    for key in src:
        assert dest[key].read_bytes() == b"weights" and dest[key].stat().st_ino != src[key].stat().st_ino
