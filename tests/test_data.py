"""The data module, tested without the network: mirror, cache, corrupt files, offline errors."""

import gzip
import hashlib
import os
import urllib.error
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from tutorial_utils import data
from tutorial_utils.files import write_atomically


def iris_bytes(rows_per_class: int = 50) -> bytes:
    lines = [
        f"{5 + i / 100:.2f},{3 + c / 10:.1f},1.{c},0.{c},{name}"
        for c, name in enumerate(data.IRIS_CLASSES)
        for i in range(rows_per_class)
    ]
    return ("\n".join(lines) + "\n\n").encode()


NOVEL_BODY = "\r\nA TALE OF TWO CITIES\r\n\r\nIt was the best of times.\r\n...than I have ever known.\u201d\r\n"


@pytest.fixture
def dirs(tmp_path, monkeypatch):
    cache, mirror = tmp_path / "cache", tmp_path / "mirror"
    monkeypatch.setenv(data.CACHE_ENV_VAR, str(cache))
    monkeypatch.setenv(data.MIRROR_ENV_VAR, str(mirror))
    return cache, mirror


@pytest.fixture
def offline(monkeypatch):
    """Every download fails as it does on a machine without network; the calls are recorded."""
    calls = []

    def refuse(url):
        calls.append(url)
        raise urllib.error.URLError("network is unreachable")

    monkeypatch.setattr(data, "_download", refuse)
    return calls


def put(path: Path, content: bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content)
    return path


def test_mirror_hit_is_verified_and_cached(dirs, offline):
    cache, mirror = dirs
    put(mirror / "iris/iris.data", iris_bytes())
    path = data.fetch(data.IRIS)
    assert path == cache / "iris/iris.data" and path.read_bytes() == iris_bytes()
    assert offline == []
    features, labels = data.load_iris()
    assert features.shape == (150, 4) and np.bincount(labels).tolist() == [50, 50, 50]


def test_cache_hit_needs_neither_mirror_nor_network(dirs, offline, monkeypatch):
    cache, _ = dirs
    put(cache / "iris/iris.data", iris_bytes())
    monkeypatch.delenv(data.MIRROR_ENV_VAR)
    assert data.fetch(data.IRIS) == cache / "iris/iris.data"
    assert offline == []


def test_download_used_when_mirror_lacks_the_file(dirs, monkeypatch):
    cache, _ = dirs
    monkeypatch.setattr(data, "_download", lambda url: NOVEL_BODY.encode())
    path = data.fetch(data.NOVEL)
    assert path.read_bytes() == NOVEL_BODY.encode()


def test_corrupt_mirror_file_is_rejected_and_cache_untouched(dirs, offline):
    cache, mirror = dirs
    put(mirror / "iris/iris.data", iris_bytes(rows_per_class=49))
    with pytest.raises(data.DataUnavailableError, match=r"corrupt, rejected.*class counts \[49, 49, 49\]"):
        data.fetch(data.IRIS)
    assert not (cache / "iris").exists() or list((cache / "iris").iterdir()) == []


def test_corrupt_download_leaves_previous_cache_and_no_partial_file(dirs, monkeypatch):
    cache, _ = dirs
    stale = put(cache / "gutenberg/98-0.txt", b"an older, damaged copy")
    monkeypatch.setattr(data, "_download", lambda url: b"<html>rate limited</html>")
    with pytest.raises(data.DataUnavailableError, match="not A Tale of Two Cities"):
        data.fetch(data.NOVEL)
    assert stale.read_bytes() == b"an older, damaged copy"
    assert sorted(p.name for p in stale.parent.iterdir()) == ["98-0.txt"]


def test_interrupted_write_leaves_no_partial_file(tmp_path, monkeypatch):
    target = tmp_path / "f.bin"

    def explode(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", explode)
    with pytest.raises(OSError, match="disk full"):
        write_atomically(target, lambda stream: stream.write(b"data"))
    assert list(tmp_path.iterdir()) == []


def test_gzip_sources_are_decompressed_and_checked_by_sha256(dirs, offline):
    cache, mirror = dirs
    payload = b"\x00\x00\x08\x01" + bytes(range(10))
    remote = data.RemoteFile(
        target="MNIST/raw/tiny-labels",
        mirror_path="mnist/tiny-labels.gz",
        urls=("https://example.invalid/tiny-labels.gz",),
        verify=data._sha256_verifier(hashlib.sha256(payload).hexdigest()),
        gunzip=True,
    )
    put(mirror / "mnist/tiny-labels.gz", gzip.compress(payload))
    assert data.fetch(remote).read_bytes() == payload

    (cache / remote.target).unlink()
    put(mirror / "mnist/tiny-labels.gz", gzip.compress(payload + b"!"))
    with pytest.raises(data.DataUnavailableError, match="SHA-256 is"):
        data.fetch(remote)
    put(mirror / "mnist/tiny-labels.gz", payload)
    with pytest.raises(data.DataUnavailableError, match="not a valid gzip file"):
        data.fetch(remote)
    assert not (cache / remote.target).exists()


def test_offline_without_mirror_gives_one_clear_error(dirs, offline, monkeypatch):
    cache, _ = dirs
    monkeypatch.delenv(data.MIRROR_ENV_VAR)
    with pytest.raises(data.DataUnavailableError) as caught:
        data.fetch(data.IRIS)
    message = str(caught.value)
    assert "'iris/iris.data' is missing" in message
    assert "https://archive.ics.uci.edu/ml/machine-learning-databases/iris/iris.data" in message
    assert str(cache / "iris/iris.data") in message
    assert "TUTORIAL_DATA_MIRROR" in message and "network is unreachable" in message
    assert offline == list(data.IRIS.urls)
    assert not cache.exists() or not any(cache.rglob("*"))


def test_mnist_files_know_their_upstream_names():
    names = sorted(Path(f.target).name for f in data.MNIST_FILES)
    assert names == ["t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte", "train-images-idx3-ubyte", "train-labels-idx1-ubyte"]
    assert all(url.endswith(Path(f.mirror_path).name) for f in data.MNIST_FILES for url in f.urls)


SHARED = os.environ.get(data.MIRROR_ENV_VAR)
needs_shared = pytest.mark.skipif(not SHARED or not Path(SHARED, "README.md").exists(), reason="no offline data copy")


@needs_shared
def test_real_mirror_files_verify(tmp_path, monkeypatch, offline):
    monkeypatch.setenv(data.CACHE_ENV_VAR, str(tmp_path))
    features, labels = data.load_iris()
    assert features[37].tolist() == [4.9, 3.1, 1.5, 0.1]  # the UCI copy's transcription error is kept
    assert data.fetch(data.NOVEL).stat().st_size > 700_000
    train, test = data.load_mnist()
    assert len(train) == 60_000 and len(test) == 10_000
    assert train.targets[:10].tolist() == [5, 0, 4, 1, 9, 2, 1, 3, 1, 4]
    assert offline == []


def test_altered_registry_entry_is_rejected(dirs, offline):
    _, mirror = dirs
    put(mirror / "iris/iris.data", iris_bytes())
    strict = replace(data.IRIS, verify=data._sha256_verifier("0" * 64))
    with pytest.raises(data.DataUnavailableError, match="SHA-256"):
        data.fetch(strict)
