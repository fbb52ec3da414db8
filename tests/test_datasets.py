"""``make data``: copying from HEADLINE_DATA_DIR, downloading with checksums, building horne2017.

Downloads go to a real HTTP server on 127.0.0.1 started by the test, never to the internet.
"""

from __future__ import annotations

import dataclasses
import functools
import gzip
import hashlib
import http.server
import io
import json
import re
import socket
import threading
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from training.datasets import (
    DatasetSpec,
    dataset_source,
    fetch_all,
    fetch_dataset,
    load_dataset,
    load_manifest,
    main,
)
from training.loaders import DataError, read_table
from training.train import load_sources


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def lines_gz(*headlines: str) -> bytes:
    return gzip.compress(("\n\n".join(headlines) + "\n").encode("utf-8"), mtime=0)


BAIT = lines_gz("You Won't Believe This", "17 Facts About Cats", "This Dog Is A Hero")
NEWS = lines_gz("Senate passes budget", "Rail strike called off", "Court rules on tax")


def lines_spec(url_base: str | None = None, bait: bytes = BAIT, news: bytes = NEWS,
               checksums: str = "exact") -> DatasetSpec:
    files = []
    for name, label, content in (("bait.gz", 1, bait), ("news.gz", 0, news)):
        entry = {"path": name, "label": label, "sha256": sha256(content)}
        if url_base is not None:
            entry["url"] = f"{url_base}/{name}"
        files.append(entry)
    return DatasetSpec(name="tiny", format="lines", files=files, checksums=checksums)


def write_source(root: Path, files: dict[str, bytes]) -> Path:
    folder = root / "tiny"
    folder.mkdir(parents=True)
    for name, content in files.items():
        (folder / name).write_bytes(content)
    return root


@pytest.fixture(autouse=True)
def no_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    """Requests to the test's own server must never go through a proxy from the environment."""
    for name in ("http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "all_proxy",
                 "ALL_PROXY"):
        monkeypatch.delenv(name, raising=False)


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[Path, str]]:
    """A folder and the http://127.0.0.1:<port> address that serves it."""
    folder = tmp_path / "served"
    folder.mkdir()
    handler = functools.partial(QuietHandler, directory=str(folder))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                              daemon=True)
    thread.start()
    try:
        yield folder, f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.rglob("*")) if folder.exists() else []


# ------------------------------------------------------------------- from HEADLINE_DATA_DIR

def test_copies_a_dataset_from_the_data_dir_and_then_finds_it_present(tmp_path: Path) -> None:
    source = write_source(tmp_path / "shared", {"bait.gz": BAIT, "news.gz": NEWS,
                                                 "LICENSE": b"MIT"})
    raw = tmp_path / "raw"
    spec = lines_spec()

    assert fetch_dataset(spec, raw, source).startswith("copied from")
    assert (raw / "tiny" / "bait.gz").read_bytes() == BAIT
    assert (raw / "tiny" / "news.gz").read_bytes() == NEWS
    assert (raw / "tiny" / "LICENSE").read_bytes() == b"MIT"
    assert fetch_dataset(spec, raw, source) == "present"
    assert len(load_dataset(spec, raw)) == 6
    assert not [n for n in leftovers(raw) if n.startswith(".part")]

    # The model manifest's dataset entry says where the files came from.
    record = load_sources([spec], raw, [], [])[0].record
    assert record["source"] == dataset_source(spec, raw)
    assert record["source"]["origin"] == "HEADLINE_DATA_DIR"
    assert record["source"]["path"] == str(source / "tiny")
    assert record["source"]["sha256_as_listed"] is True


def test_checksum_mismatch_in_the_data_dir_is_an_error(tmp_path: Path) -> None:
    tampered = lines_gz("You Won't Believe This", "Tampered Line")
    source = write_source(tmp_path / "shared", {"bait.gz": tampered, "news.gz": NEWS})
    raw = tmp_path / "raw"
    with pytest.raises(DataError) as caught:
        fetch_dataset(lines_spec(), raw, source)
    message = str(caught.value)
    assert "bait.gz" in message and "checksum mismatch" in message
    assert sha256(BAIT) in message and sha256(tampered) in message
    assert not (raw / "tiny" / "bait.gz").exists()


def test_reference_checksums_accept_a_different_copy_with_a_note(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    other = lines_gz("You Won't Believe This", "A Longer Copy", "Of The Dataset")
    source = write_source(tmp_path / "shared", {"bait.gz": other, "news.gz": NEWS})
    raw = tmp_path / "raw"
    fetch_dataset(lines_spec(checksums="reference"), raw, source)
    assert (raw / "tiny" / "bait.gz").read_bytes() == other
    assert "differs from the reference copy" in capsys.readouterr().err
    provenance = dataset_source(lines_spec(), raw)
    assert provenance is not None and provenance["sha256_as_listed"] is False
    assert "differs from the reference copy" in provenance["summary"]


# ------------------------------------------------------------------------------ downloads

def test_download_with_good_checksums_materialises_the_files(
        tmp_path: Path, served: tuple[Path, str]) -> None:
    folder, url = served
    (folder / "bait.gz").write_bytes(BAIT)
    (folder / "news.gz").write_bytes(NEWS)
    raw = tmp_path / "raw"
    spec = lines_spec(url)

    assert fetch_dataset(spec, raw, None) == "downloaded"
    assert (raw / "tiny" / "bait.gz").read_bytes() == BAIT
    assert leftovers(raw / "tiny") == ["SOURCE.json", "bait.gz", "news.gz"]
    assert dataset_source(spec, raw)["urls"] == [f"{url}/bait.gz", f"{url}/news.gz"]
    assert fetch_dataset(spec, raw, None) == "present"


def test_download_with_a_bad_checksum_keeps_nothing(tmp_path: Path,
                                                    served: tuple[Path, str]) -> None:
    folder, url = served
    (folder / "bait.gz").write_bytes(BAIT + b"tampered")
    (folder / "news.gz").write_bytes(NEWS)
    raw = tmp_path / "raw"

    with pytest.raises(DataError) as caught:
        fetch_dataset(lines_spec(url), raw, None)
    assert f"{url}/bait.gz: checksum mismatch" in str(caught.value)
    assert "not kept" in str(caught.value)
    assert leftovers(raw) in ([], ["tiny"])  # no file, no .part file


def test_server_down_gives_one_message_saying_to_set_the_data_dir(tmp_path: Path) -> None:
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    raw = tmp_path / "raw"
    with pytest.raises(DataError) as caught:
        fetch_all([lines_spec(f"http://127.0.0.1:{port}")], raw, None)
    message = str(caught.value)
    assert message.count("download failed") == 1
    assert "set HEADLINE_DATA_DIR" in message
    assert not [n for n in leftovers(raw) if n.startswith(".part")]

    # HEADLINE_DATA_DIR set, but to a folder without this dataset: the message says so.
    wrong = tmp_path / "wrong-folder"
    with pytest.raises(DataError, match=f"HEADLINE_DATA_DIR={re.escape(str(wrong))} has no tiny/"):
        fetch_all([lines_spec(f"http://127.0.0.1:{port}")], raw, wrong)


def test_dataset_without_download_address_says_what_to_set(tmp_path: Path) -> None:
    webis = next(s for s in load_manifest() if s.name == "webis-clickbait-17")
    assert not any("url" in f for f in webis.files)
    for source in (None, tmp_path / "empty-shared"):
        with pytest.raises(DataError) as caught:
            fetch_dataset(webis, tmp_path / "raw", source)
        message = str(caught.value)
        assert "webis-clickbait-17: not found" in message
        assert "HEADLINE_DATA_DIR" in message
        assert "Zenodo" in message


# ------------------------------------------------------------------------- horne2017 zip

HORNE_TITLES = {
    "Public Data/Random Poltical News Dataset/Fake_titles/1_Fake.txt":
        "Obama’s Secret Plan EXPOSED!".encode("cp1252"),  # Windows-1252 curly apostrophe
    "Public Data/Random Poltical News Dataset/Fake_titles/2_Fake.txt":
        b'"Ted Cruz Seen Buying Bleach\n',
    "Public Data/Random Poltical News Dataset/Real_titles/1_Real.txt":
        b"Senate confirms new trade envoy",
    "Public Data/Buzzfeed Political News Dataset/Fake_titles/3_Fake.txt":
        b'Clinton REVEALED "This Could END It!"',
    "Public Data/Buzzfeed Political News Dataset/Real_titles/2_Real.txt":
        "\ufeffHouse passes spending bill".encode(),
    "Public Data/Random Poltical News Dataset/Satire_titles/1_Satire.txt":
        b"Satire is left out",
}


def horne_zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as bundle:
        for name, content in HORNE_TITLES.items():
            bundle.writestr(name, content)
    return buffer.getvalue()


def horne_spec(url: str, archive: bytes) -> DatasetSpec:
    real = next(s for s in load_manifest() if s.name == "horne2017")
    return dataclasses.replace(real, archive=dict(real.archive, url=url, sha256=sha256(archive)))


def test_horne2017_is_built_from_its_zip_archive(tmp_path: Path, served: tuple[Path, str]) -> None:
    folder, url = served
    archive = horne_zip()
    (folder / "horne.zip").write_bytes(archive)
    raw = tmp_path / "raw"  # does not exist yet, as on a fresh clone
    spec = horne_spec(f"{url}/horne.zip", archive)

    assert fetch_dataset(spec, raw, None) == "downloaded"

    data = read_table("horne2017", raw / "horne2017" / "titles.tsv", "text", "label")
    assert dict(zip(data.texts, data.labels.tolist())) == {
        "Obama’s Secret Plan EXPOSED!": 1,
        '"Ted Cruz Seen Buying Bleach': 1,
        "Senate confirms new trade envoy": 0,
        'Clinton REVEALED "This Could END It!"': 1,
        "House passes spending bill": 0,
    }
    assert load_dataset(spec, raw).texts == data.texts
    # no archive or scratch left behind
    assert leftovers(raw) == ["SOURCE.json", "horne2017", "titles.tsv"]
    assert dataset_source(spec, raw)["sha256"] == sha256(archive)


def test_horne2017_archive_with_a_bad_checksum_builds_nothing(
        tmp_path: Path, served: tuple[Path, str]) -> None:
    folder, url = served
    archive = horne_zip()
    (folder / "horne.zip").write_bytes(archive + b"x")
    raw = tmp_path / "raw"
    with pytest.raises(DataError, match="checksum mismatch"):
        fetch_dataset(horne_spec(f"{url}/horne.zip", archive), raw, None)
    assert not (raw / "horne2017" / "titles.tsv").exists()
    assert [n for n in leftovers(raw) if n != "horne2017"] == []


# -------------------------------------------------------------------------------- the CLI

def test_make_data_fills_the_raw_dir_given_and_reports_failures(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    source = write_source(tmp_path / "shared", {"bait.gz": BAIT, "news.gz": NEWS})
    manifest = tmp_path / "datasets.json"
    spec = lines_spec()
    manifest.write_text(json.dumps({"datasets": [dataclasses.asdict(spec)]}))
    monkeypatch.setenv("HEADLINE_DATA_DIR", str(source))
    raw = tmp_path / "raw"

    assert main(["--raw-dir", str(raw), "--manifest", str(manifest)]) == 0
    assert (raw / "tiny" / "news.gz").read_bytes() == NEWS

    (source / "tiny" / "news.gz").write_bytes(BAIT)
    assert main(["--raw-dir", str(tmp_path / "raw2"), "--manifest", str(manifest)]) == 1
    assert "error: could not get every dataset" in capsys.readouterr().err
