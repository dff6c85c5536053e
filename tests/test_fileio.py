"""seesound.fileio.ContentDigests: a job's files of the user's are judged by their bytes, read once."""

import json
import os
import shutil

from seesound.fileio import ContentDigests

OLD_NS = 946684800 * 10**9  # 2000-01-01


def test_a_digest_follows_the_bytes_not_the_time_or_the_copy(tmp_path):
    a, b = tmp_path / "a.wav", tmp_path / "b.wav"
    a.write_bytes(b"RIFF" + bytes(range(200)))
    digests = ContentDigests()
    first = digests.digest(a)
    os.utime(a)  # touch
    shutil.copy(a, b)  # a copy that did not keep times
    assert digests.digest(a) == digests.digest(b) == first
    b.write_bytes(b"RIFF" + bytes(range(1, 201)))  # same size, other bytes ...
    os.utime(b, ns=(OLD_NS, OLD_NS))  # ... dated back
    assert digests.digest(b) != first
    assert digests.digest(tmp_path / "missing.wav") is None


def test_the_cache_is_trusted_only_while_stat_says_nothing_changed(tmp_path):
    audio, cache = tmp_path / "a.wav", tmp_path / "results" / ".seesound.digests.json"
    audio.write_bytes(b"one" * 100)
    digests = ContentDigests(cache)
    old = digests.digest(audio)
    digests.save()
    entry = json.loads(cache.read_text())["files"][str(audio)]
    assert entry[5] == old
    # a cached digest is returned without reading the file: prove it with a planted one
    planted = json.loads(cache.read_text())
    planted["files"][str(audio)][5] = "planted"
    cache.write_text(json.dumps(planted))
    assert ContentDigests(cache).digest(audio) == "planted"
    # new bytes of the same size, the mtime put back: the ctime moved, so the file is read again
    st = audio.stat()
    audio.write_bytes(b"two" * 100)
    os.utime(audio, ns=(st.st_atime_ns, st.st_mtime_ns))
    again = ContentDigests(cache)
    assert again.digest(audio) not in ("planted", old)
    again.save()
    assert json.loads(cache.read_text())["files"][str(audio)][5] == again.digest(audio)


def test_a_damaged_or_foreign_cache_is_rebuilt_not_trusted(tmp_path):
    audio, cache = tmp_path / "a.wav", tmp_path / "digests.json"
    audio.write_bytes(b"x" * 50)
    expected = ContentDigests().digest(audio)
    foreign = json.dumps({"version": 1, "files": {str(audio): 3}})
    for text in ("{not json", '{"version": 99, "files": {}}', "[1, 2]", foreign):
        cache.write_text(text)
        digests = ContentDigests(cache)
        assert digests.digest(audio) == expected
        digests.save()
        assert json.loads(cache.read_text())["files"][str(audio)][5] == expected


def test_nothing_is_written_when_nothing_new_was_read(tmp_path):
    audio, cache = tmp_path / "a.wav", tmp_path / "digests.json"
    audio.write_bytes(b"x" * 50)
    digests = ContentDigests(cache)
    digests.digest(audio)
    digests.save()
    mtime = cache.stat().st_mtime_ns
    os.utime(cache, ns=(OLD_NS, OLD_NS))
    later = ContentDigests(cache)
    later.digest(audio)
    later.save()
    assert cache.stat().st_mtime_ns == OLD_NS != mtime


def test_a_saved_cache_forgets_files_that_are_gone_and_keeps_those_not_asked_about(tmp_path):
    kept, gone, new, cache = (tmp_path / n for n in ("kept.wav", "gone.wav", "new.wav", "digests.json"))
    for f in (kept, gone, new):
        f.write_bytes(f.name.encode() * 10)
    first = ContentDigests(cache)
    first.digest(kept), first.digest(gone)
    first.save()
    gone.unlink()
    later = ContentDigests(cache)
    later.digest(new)  # kept and gone are not asked about this time
    later.save()
    assert set(json.loads(cache.read_text())["files"]) == {str(kept), str(new)}


def test_digests_read_on_threads_are_those_read_one_by_one(tmp_path):
    files = []
    for i in range(40):
        files.append(tmp_path / f"{i}.wav")
        files[-1].write_bytes(bytes([i]) * (1000 + 37 * i))
    files.append(tmp_path / "missing.wav")
    one_by_one = [ContentDigests().digest(f) for f in files]
    cache = tmp_path / "digests.json"
    threaded = ContentDigests(cache)
    assert threaded.digest_all(files, workers=4) == one_by_one
    threaded.save()
    assert len(json.loads(cache.read_text())["files"]) == 40
    assert ContentDigests(cache).digest_all(files, workers=4) == one_by_one
