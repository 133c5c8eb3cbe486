"""Fetching data: mirror, cache and downloads, tested against a local HTTP server that misbehaves."""

import errno
import gzip
import hashlib
import http.server
import os
import subprocess
import sys
import threading
import time
import zlib
from pathlib import Path

import pytest

from tutorial_utils.datasets import fetch as fetching
from tutorial_utils.datasets.fetch import DataSettingError, DataUnavailableError, RemoteFile, fetch, sha256_verifier

PAYLOAD = b"\x00\x00\x08\x01" + bytes(range(200)) * 50
PAYLOAD_SHA = hashlib.sha256(PAYLOAD).hexdigest()


class Handler(http.server.BaseHTTPRequestHandler):
    """/good.gz, /damaged.gz (broken deflate), /bomb.gz, /cut.gz and /cut.txt (connection dropped mid-body), /plain.txt, /trickle.gz."""

    def log_message(self, *args):
        pass

    def do_GET(self):
        good = gzip.compress(PAYLOAD)
        if self.path == "/good.gz":
            body, length = good, len(good)
        elif self.path == "/damaged.gz":
            body = good[:20] + bytes(b ^ 0xFF for b in good[20:60]) + good[60:]
            length = len(body)
        elif self.path == "/bomb.gz":
            body = gzip.compress(b"\x00" * (5 * 1024 * 1024))  # 5 KiB that inflate to 5 MiB
            length = len(body)
        elif self.path == "/cut.gz":
            body, length = good[: len(good) // 2], len(good)
        elif self.path == "/cut.txt":
            body, length = PAYLOAD[: len(PAYLOAD) // 2], len(PAYLOAD)
        elif self.path == "/plain.txt":
            body, length = PAYLOAD, len(PAYLOAD)
        elif self.path == "/trickle.gz":
            self.send_response(200)
            self.send_header("Content-Length", str(len(good)))
            self.end_headers()
            for byte in good:
                self.wfile.write(bytes([byte]))
                self.wfile.flush()
                time.sleep(0.05)
            return
        else:
            self.send_error(404)
            return
        self.send_response(200)
        self.send_header("Content-Length", str(length))
        self.end_headers()
        self.wfile.write(body)


@pytest.fixture(scope="module")
def server():
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    httpd.daemon_threads = True
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()


@pytest.fixture
def dirs(tmp_path, monkeypatch):
    cache, mirror = tmp_path / "cache", tmp_path / "mirror"
    mirror.mkdir()
    monkeypatch.setenv(fetching.CACHE_ENV_VAR, str(cache))
    monkeypatch.setenv(fetching.MIRROR_ENV_VAR, str(mirror))
    monkeypatch.setattr(fetching, "DEADLINE_S", 1.0)
    monkeypatch.setattr(fetching, "READ_TIMEOUT_S", 0.5)
    return cache, mirror


def remote(*urls, max_bytes=len(PAYLOAD), sha256=PAYLOAD_SHA):
    return RemoteFile(target="tiny/labels", mirror_path="tiny/labels.gz", urls=urls or ("https://example.invalid/labels.gz",),
                      verify=sha256_verifier(PAYLOAD_SHA), max_bytes=max_bytes, sha256=sha256, gunzip=True)


def put(path: Path, content: bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content)
    return path


def test_mirror_copy_is_verified_cached_and_then_used_offline(dirs, monkeypatch):
    cache, mirror = dirs
    put(mirror / "tiny/labels.gz", gzip.compress(PAYLOAD, mtime=0))
    path = fetch(remote())
    assert path == cache / "tiny/labels" and path.read_bytes() == PAYLOAD
    monkeypatch.delenv(fetching.MIRROR_ENV_VAR)
    assert fetch(remote()).read_bytes() == PAYLOAD  # the cache alone serves it now


def test_download_when_the_mirror_lacks_the_file(dirs, server):
    assert fetch(remote(f"{server}/good.gz")).read_bytes() == PAYLOAD


def test_a_damaged_deflate_stream_falls_through_to_the_next_url(dirs, server):
    assert fetch(remote(f"{server}/damaged.gz", f"{server}/good.gz")).read_bytes() == PAYLOAD


def test_a_connection_dropped_mid_body_falls_through_to_the_next_url(dirs, server):
    assert fetch(remote(f"{server}/cut.gz", f"{server}/good.gz")).read_bytes() == PAYLOAD


def test_a_trickling_server_hits_the_total_deadline_and_is_named(dirs, server):
    start = time.monotonic()
    with pytest.raises(DataUnavailableError, match=r"/trickle\.gz: stalled: .* in 1 s"):
        fetch(remote(f"{server}/trickle.gz"))
    assert time.monotonic() - start < 3


def test_a_gzip_bomb_stops_at_the_expected_size(dirs, server):
    with pytest.raises(DataUnavailableError, match=r"/bomb\.gz: corrupt, rejected \(inflates past 10,004 bytes"):
        fetch(remote(f"{server}/bomb.gz"))


def test_gunzip_bounded_never_produces_more_than_its_limit():
    bomb = gzip.compress(b"\x00" * (20 * 1024 * 1024))
    with pytest.raises(fetching.CorruptDataError, match="inflates past 1,000 bytes"):
        fetching.gunzip_bounded(bomb, 1000)
    with pytest.raises(fetching.CorruptDataError, match="truncated"):
        fetching.gunzip_bounded(gzip.compress(PAYLOAD)[:-10], len(PAYLOAD))
    assert fetching.gunzip_bounded(gzip.compress(PAYLOAD), len(PAYLOAD)) == PAYLOAD


def test_a_corrupt_mirror_copy_is_rejected_and_the_next_source_used(dirs, server):
    cache, mirror = dirs
    put(mirror / "tiny/labels.gz", gzip.compress(PAYLOAD + b"!"))
    assert fetch(remote(f"{server}/good.gz")).read_bytes() == PAYLOAD


def test_a_corrupt_cached_copy_is_replaced(dirs):
    cache, mirror = dirs
    put(cache / "tiny/labels", b"damaged")
    put(mirror / "tiny/labels.gz", gzip.compress(PAYLOAD))
    assert fetch(remote()).read_bytes() == PAYLOAD


def test_everything_corrupt_leaves_no_file_and_says_what_each_source_did(dirs, server):
    cache, mirror = dirs
    put(mirror / "tiny/labels.gz", PAYLOAD)  # not gzip
    with pytest.raises(DataUnavailableError) as caught:
        fetch(remote(f"{server}/missing.gz"))
    message = str(caught.value)
    assert "mirror file" in message and "not a valid gzip stream" in message and "HTTP Error 404" in message
    assert "missing.gz and decompress it (gunzip)" in message and ".gz.gz" not in message
    assert not (cache / "tiny").exists() or not any((cache / "tiny").iterdir())


def test_offline_error_names_the_file_its_urls_and_both_ways_out(dirs, monkeypatch):
    cache, _ = dirs
    monkeypatch.delenv(fetching.MIRROR_ENV_VAR)
    with pytest.raises(DataUnavailableError) as caught:
        fetch(remote("https://127.0.0.1:9/labels.gz"))
    message = str(caught.value)
    assert "'tiny/labels' is missing" in message and "https://127.0.0.1:9/labels.gz" in message
    assert str(cache / "tiny/labels") in message and "TUTORIAL_DATA_MIRROR to the absolute path" in message


def test_cached_files_follow_the_umask(dirs):
    cache, mirror = dirs
    put(mirror / "tiny/labels.gz", gzip.compress(PAYLOAD))
    previous = os.umask(0o022)
    try:
        path = fetch(remote())
    finally:
        os.umask(previous)
    assert path.stat().st_mode & 0o777 == 0o644


@pytest.mark.parametrize("setting", [fetching.MIRROR_ENV_VAR, fetching.CACHE_ENV_VAR])
def test_relative_settings_are_refused_by_name(dirs, monkeypatch, setting):
    monkeypatch.setenv(setting, "../shared/data")
    with pytest.raises(DataSettingError, match=f"{setting}='../shared/data' is a relative path.*absolute path"):
        fetch(remote())


def test_a_cache_setting_that_names_a_file_is_refused(dirs, monkeypatch, tmp_path):
    monkeypatch.setenv(fetching.CACHE_ENV_VAR, str(put(tmp_path / "a-file", b"")))
    with pytest.raises(DataSettingError, match="TUTORIAL_DATA_DIR=.*a-file' is a file, not a folder"):
        fetch(remote())


def test_a_mirror_setting_that_is_not_a_folder_is_refused(dirs, monkeypatch, tmp_path):
    monkeypatch.setenv(fetching.MIRROR_ENV_VAR, str(tmp_path / "nowhere"))
    with pytest.raises(DataSettingError, match="TUTORIAL_DATA_MIRROR=.*nowhere' is not a folder"):
        fetch(remote())


def test_a_folder_where_the_file_belongs_is_refused(dirs):
    cache, _ = dirs
    (cache / "tiny/labels").mkdir(parents=True)
    with pytest.raises(DataSettingError, match="is a folder where the data file belongs.*TUTORIAL_DATA_DIR"):
        fetch(remote())


def test_an_unwritable_cache_names_the_setting(dirs, monkeypatch):
    _, mirror = dirs
    put(mirror / "tiny/labels.gz", gzip.compress(PAYLOAD))

    def refuse(*args, **kwargs):
        raise PermissionError(13, "Permission denied", "/read-only/tiny")

    monkeypatch.setattr(fetching.Path, "write_bytes", refuse)
    with pytest.raises(DataSettingError, match="Permission denied: /read-only/tiny.*set TUTORIAL_DATA_DIR"):
        fetch(remote())


def test_an_unreadable_cached_copy_is_fetched_again(dirs, monkeypatch):
    cache, mirror = dirs
    put(cache / "tiny/labels", PAYLOAD)
    put(mirror / "tiny/labels.gz", gzip.compress(PAYLOAD))
    real_access = os.access
    monkeypatch.setattr(fetching.os, "access", lambda path, mode: False if str(path).endswith("labels") else real_access(path, mode))
    assert fetch(remote()).read_bytes() == PAYLOAD


def test_two_processes_fill_an_empty_cache_at_once(dirs):
    cache, mirror = dirs
    put(mirror / "tiny/labels.gz", gzip.compress(PAYLOAD))
    code = (
        "import hashlib, sys; sys.path.insert(0, sys.argv[1]); import test_fetch as t; "
        "from tutorial_utils.datasets.fetch import fetch; print(hashlib.sha256(fetch(t.remote()).read_bytes()).hexdigest())"
    )
    env = {**os.environ}
    processes = [subprocess.Popen([sys.executable, "-c", code, str(Path(__file__).parent)], env=env, stdout=subprocess.PIPE, text=True)
                 for _ in range(2)]
    outputs = [process.communicate(timeout=60)[0].strip() for process in processes]
    assert [process.returncode for process in processes] == [0, 0] and outputs == [PAYLOAD_SHA, PAYLOAD_SHA]
    assert sorted(p.name for p in (cache / "tiny").iterdir()) == ["labels"]


def test_a_file_that_fails_its_sha256_verifier_is_rejected(dirs):
    _, mirror = dirs
    put(mirror / "tiny/labels.gz", gzip.compress(PAYLOAD))
    strict = RemoteFile(target="tiny/labels", mirror_path="tiny/labels.gz", urls=("https://example.invalid/x",),
                        verify=sha256_verifier("0" * 64), max_bytes=len(PAYLOAD), gunzip=True)
    with pytest.raises(DataUnavailableError, match="SHA-256 is"):
        fetch(strict)


def test_zlib_errors_are_corruption_not_crashes():
    with pytest.raises(fetching.CorruptDataError, match="not a valid gzip stream"):
        fetching.gunzip_bounded(b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\x03" + b"\xff" * 20, 100)


def plain_remote(*urls):
    """A file fetched as it is served, checked only for its size, as a reader that cannot tell a prefix from the file would."""
    return RemoteFile(target="tiny/plain", mirror_path="tiny/plain", urls=urls, verify=lambda content: None, max_bytes=len(PAYLOAD))


def test_a_download_cut_short_of_its_content_length_is_a_failed_source(dirs, server):
    with pytest.raises(DataUnavailableError, match=r"/cut\.txt: cut short: 5,002 of the 10,004 bytes the server announced"):
        fetch(plain_remote(f"{server}/cut.txt"))
    assert fetch(plain_remote(f"{server}/cut.txt", f"{server}/plain.txt")).read_bytes() == PAYLOAD


def refuse_new_entries(monkeypatch, folder: Path) -> None:
    """Make ``folder`` read-only for this process, as ``chmod a-w`` does for every user but root."""
    real_open, real_mkdir = os.open, os.mkdir
    inside = lambda path: Path(os.path.abspath(path)).is_relative_to(folder)  # noqa: E731

    def guarded_open(path, flags, *args, **kwargs):
        if flags & os.O_CREAT and inside(path):
            raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), str(path))
        return real_open(path, flags, *args, **kwargs)

    def guarded_mkdir(path, *args, **kwargs):
        if inside(path) and not os.path.isdir(path):
            raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), str(path))
        return real_mkdir(path, *args, **kwargs)

    monkeypatch.setattr(os, "open", guarded_open)
    monkeypatch.setattr(os, "mkdir", guarded_mkdir)


def test_a_read_only_cache_names_the_folder_and_the_os_error(dirs, monkeypatch):
    cache, mirror = dirs
    put(mirror / "tiny/labels.gz", gzip.compress(PAYLOAD))
    (cache / "tiny").mkdir(parents=True)
    refuse_new_entries(monkeypatch, cache)
    with pytest.raises(DataSettingError) as caught:
        fetch(remote())
    message = str(caught.value)
    assert f"cannot use the data cache {cache} (Permission denied: {cache}" in message and "None" not in message
    assert "set TUTORIAL_DATA_DIR to a folder you can write to" in message


def test_a_read_only_cache_still_serves_the_files_it_holds(dirs, monkeypatch):
    cache, mirror = dirs
    put(cache / "tiny/labels", PAYLOAD)
    refuse_new_entries(monkeypatch, cache)
    assert fetch(remote()).read_bytes() == PAYLOAD
    assert fetch(remote(sha256=None)).read_bytes() == PAYLOAD


def test_a_reader_never_finds_a_corrupt_copy_gone_while_another_process_replaces_it(dirs, monkeypatch):
    """A corrupt cached copy checked by a reader at the moment another process obtains its replacement:
    the copy stays in place until the new one is renamed over it, so the reader reads either."""
    cache, mirror = dirs
    put(cache / "tiny/labels", b"damaged")
    put(mirror / "tiny/labels.gz", gzip.compress(PAYLOAD))
    checked = remote(sha256=None)  # checked by its content, as Iris and the novel are
    replacing, reader_done = threading.Event(), threading.Event()
    results = {}

    def other_process():
        try:
            results["other"] = fetch(checked).read_bytes()
        except Exception as error:  # reported by the assertion below
            results["other"] = error

    other = threading.Thread(target=other_process)
    real_sources, real_access = fetching.SourceChain.sources, os.access

    def sources(self):  # the other process pauses while it obtains the new copy
        found = real_sources(self)
        if threading.current_thread() is other:
            def paused(read=found[0][1]):
                replacing.set()
                reader_done.wait(10)
                return read()
            found[0] = (found[0][0], paused)
        return found

    def access(path, mode):  # the reader has found the file and may read it: now the other process starts
        allowed = real_access(path, mode)
        if threading.current_thread() is threading.main_thread() and not other.is_alive() and "other" not in results:
            other.start()
            replacing.wait(10)
        return allowed

    monkeypatch.setattr(fetching.SourceChain, "sources", sources)
    monkeypatch.setattr(fetching.os, "access", access)
    try:
        assert fetch(checked).read_bytes() == PAYLOAD
    finally:
        reader_done.set()
        other.join(10)
    assert results["other"] == PAYLOAD
    assert sorted(p.name for p in (cache / "tiny").iterdir()) == ["labels"]
