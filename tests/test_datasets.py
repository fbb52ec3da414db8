"""``make data``: copying from HEADLINE_DATA_DIR, downloading with checksums, building horne2017,
and taking Webis-Clickbait-17 out of its zip on Zenodo (by range requests or whole).

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
import random
import re
import socket
import threading
import zipfile
import zlib
from collections.abc import Iterator
from pathlib import Path

import pytest

from training.datasets import (
    DatasetSpec,
    count_webis_posts,
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
    assert record["source"]["path"] == "HEADLINE_DATA_DIR/tiny"  # no path of this machine
    assert str(tmp_path) not in json.dumps(record)
    assert record["source"]["sha256_as_listed"] is True
    assert record["source"]["summary"] == ("HEADLINE_DATA_DIR copy (HEADLINE_DATA_DIR/tiny), "
                                           "sha256 as listed in data/datasets.json")
    fetch_dataset(lines_spec(checksums="reference"), tmp_path / "raw2", source)
    assert dataset_source(spec, tmp_path / "raw2")["summary"].endswith(
        "sha256 of the reference copy in data/datasets.json")


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
    spec = dataclasses.replace(lines_spec(), manual_download="Get it by hand; point HEADLINE_DATA_DIR at it.")
    assert not any("url" in f for f in spec.files)
    for source in (None, tmp_path / "empty-shared"):
        with pytest.raises(DataError) as caught:
            fetch_dataset(spec, tmp_path / "raw", source)
        message = str(caught.value)
        assert "tiny: not found" in message
        assert "HEADLINE_DATA_DIR" in message
        assert "Get it by hand; point HEADLINE_DATA_DIR at it." in message


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


# ------------------------------------------------------------- webis-clickbait-17 on Zenodo

RECORD = "5530410"
RELEASE = "clickbait17-train-170630.zip"
WEBIS_INSTANCES = b"".join(json.dumps(row).encode() + b"\n" for row in (
    # the release's rows carry more fields than the loader reads
    {"id": "101", "postText": ["You won't believe what this senator said"], "postMedia": [
        "media/photo_101.jpg"], "targetTitle": "Senator speaks", "postTimestamp": "Tue Jun 27"},
    {"id": "102", "postText": ["Senate passes the budget bill"], "postMedia": [],
     "targetTitle": "Budget passes", "postTimestamp": "Tue Jun 27"},
    {"id": "103", "postText": ["This dog is a hero"], "postMedia": [], "targetTitle": "Dog",
     "postTimestamp": "Wed Jun 28"},
))
WEBIS_TRUTH = b"".join(json.dumps(row).encode() + b"\n" for row in (
    {"id": "101", "truthMean": 0.8, "truthClass": "clickbait", "truthJudgments": [1, 1, 0.66, 0.66, 0.66]},
    {"id": "102", "truthMean": 0.0, "truthClass": "no-clickbait", "truthJudgments": [0, 0, 0, 0, 0]},
    {"id": "103", "truthMean": 0.6, "truthClass": "clickbait", "truthJudgments": [1, 0.66, 0.66, 0.33, 0.33]},
))
MEDIA_BYTES = 3 << 20  # what the range road must not fetch


def webis_zip(corrupt: bool = False) -> bytes:
    """A small stand-in for the release: the two files in a top folder, and a media folder.

    ``corrupt`` stores instances.jsonl uncompressed with one byte flipped after the zip was
    written, so it still reads but its CRC-32 differs from the central directory's.
    """
    top = RELEASE.removesuffix(".zip")
    media = random.Random(5).randbytes(MEDIA_BYTES)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as bundle:
        bundle.writestr(f"{top}/media/photo_101.jpg", media, zipfile.ZIP_STORED)
        bundle.writestr(f"{top}/instances.jsonl", WEBIS_INSTANCES,
                        zipfile.ZIP_STORED if corrupt else zipfile.ZIP_DEFLATED)
        bundle.writestr(f"{top}/truth.jsonl", WEBIS_TRUTH)
        bundle.writestr(f"{top}/README.txt", b"Webis-Clickbait-17 training release")
    data = bytearray(buffer.getvalue())
    if corrupt:
        at = bytes(data).index(b"senator said")
        data[at] ^= 0x20
    return bytes(data)


@dataclasses.dataclass
class ZenodoStandIn:
    """What the local Zenodo serves, and what it saw."""

    url: str
    archive: bytes = b""
    md5: str = ""
    size: int | None = None  # the size the record lists, when it should lie
    legacy: bool = False  # the legacy API's field names
    ranges: bool = True
    cut_after: int | None = None  # drop the connection after this many bytes, once
    ranges_asked: list[str | None] = dataclasses.field(default_factory=list)
    bytes_sent: int = 0

    def serve(self, archive: bytes, **changes: object) -> None:
        self.archive, self.md5 = archive, hashlib.md5(archive).hexdigest()
        for name, value in changes.items():
            setattr(self, name, value)

    def record(self) -> dict:
        content = f"{self.url}/api/records/{RECORD}/files/{RELEASE}/content"
        size = len(self.archive) if self.size is None else self.size
        if self.legacy:
            files = [{"filename": RELEASE, "filesize": size, "checksum": self.md5,
                      "links": {"download": content}}]
        else:
            files = [{"key": "README.md", "size": 10, "checksum": "md5:0",
                      "links": {"self": f"{self.url}/nowhere"}},
                     {"key": RELEASE, "size": size, "checksum": f"md5:{self.md5}",
                      "links": {"self": content}}]
        return {"id": int(RECORD), "metadata": {"title": "Webis Clickbait Corpus 2017"},
                "files": files}


class ZenodoHandler(http.server.BaseHTTPRequestHandler):
    """Zenodo's record API and file storage: metadata, a redirect, then the bytes."""

    server: http.server.ThreadingHTTPServer
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: object) -> None:
        pass

    def send(self, status: int, body: bytes, headers: dict[str, str]) -> None:
        self.send_response(status)
        for name, value in {**headers, "Content-Length": str(len(body))}.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:  # noqa: N802 (the name http.server calls)
        zenodo: ZenodoStandIn = self.server.zenodo  # type: ignore[attr-defined]
        if self.path == f"/api/records/{RECORD}":
            self.send(200, json.dumps(zenodo.record()).encode(),
                      {"Content-Type": "application/json"})
        elif self.path == f"/api/records/{RECORD}/files/{RELEASE}/content":
            self.send(302, b"", {"Location": f"/storage/{RELEASE}"})  # as Zenodo does
        elif self.path == f"/storage/{RELEASE}":
            self.send_archive(zenodo)
        else:
            self.send(404, b"not found", {})

    def send_archive(self, zenodo: ZenodoStandIn) -> None:
        asked = self.headers.get("Range")
        zenodo.ranges_asked.append(asked)
        data, status, headers = zenodo.archive, 200, {"Accept-Ranges": "bytes"}
        if asked and zenodo.ranges:
            first, _, last = asked.removeprefix("bytes=").partition("-")
            start, end = int(first), int(last) + 1 if last else len(data)
            data, status = data[start:end], 206
            headers["Content-Range"] = f"bytes {start}-{end - 1}/{len(zenodo.archive)}"
        elif not zenodo.ranges:
            headers = {}
        self.send_response(status)
        for name, value in {**headers, "Content-Length": str(len(data))}.items():
            self.send_header(name, value)
        self.end_headers()
        if zenodo.cut_after is not None:
            data, zenodo.cut_after = data[:zenodo.cut_after], None
            self.close_connection = True
        self.wfile.write(data)
        zenodo.bytes_sent += len(data)


@pytest.fixture
def zenodo() -> Iterator[ZenodoStandIn]:
    """A stand-in for zenodo.org on 127.0.0.1, serving record 5530410."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), ZenodoHandler)
    stand_in = ZenodoStandIn(url=f"http://127.0.0.1:{server.server_address[1]}")
    server.zenodo = stand_in  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                              daemon=True)
    thread.start()
    try:
        yield stand_in
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def webis_spec(posts: int = 3) -> DatasetSpec:
    """The manifest's webis entry, expecting the stand-in release's post count."""
    real = next(s for s in load_manifest() if s.name == "webis-clickbait-17")
    assert real.zenodo == {"url": "https://zenodo.org", "record": RECORD, "file": RELEASE,
                           "posts": 19538}
    return dataclasses.replace(real, zenodo=dict(real.zenodo, posts=posts))


@pytest.mark.parametrize("legacy", [False, True], ids=["records-api", "legacy-api"])
def test_webis_members_are_read_from_zenodo_by_range_requests(
        tmp_path: Path, zenodo: ZenodoStandIn, legacy: bool) -> None:
    archive = webis_zip()
    zenodo.serve(archive, legacy=legacy)
    raw = tmp_path / "raw"
    raw.mkdir()
    (raw / f"{RELEASE}.part").write_bytes(archive[:100])  # an earlier whole-file run's, stopped
    spec = webis_spec()

    assert fetch_dataset(spec, raw, None, zenodo_url=zenodo.url) == "downloaded"

    folder = raw / "webis-clickbait-17"
    assert (folder / "instances.jsonl").read_bytes() == WEBIS_INSTANCES
    assert (folder / "truth.jsonl").read_bytes() == WEBIS_TRUTH
    assert leftovers(raw) == ["SOURCE.json", "instances.jsonl", "truth.jsonl",
                              "webis-clickbait-17"]  # no zip, part, media or scratch
    # Every read of the archive was a range, and the media were never sent.
    assert all(asked and asked.startswith("bytes=") for asked in zenodo.ranges_asked)
    assert zenodo.bytes_sent < MEDIA_BYTES / 2 < len(archive) / 2

    data = load_dataset(spec, raw)
    assert data.texts == ["You won't believe what this senator said",
                          "Senate passes the budget bill", "This dog is a hero"]
    assert data.targets.tolist() == [0.8, 0.0, 0.6]
    source = dataset_source(spec, raw)
    assert source["summary"] == (f"Zenodo record {RECORD}, {RELEASE} "
                                 f"(md5 {hashlib.md5(archive).hexdigest()}), 3 posts")
    assert source["posts"] == 3 and source["bytes"] == len(archive)
    assert source["members"]["instances.jsonl"] == {
        "member": "clickbait17-train-170630/instances.jsonl",
        "crc32": f"{zlib.crc32(WEBIS_INSTANCES):08x}", "bytes": len(WEBIS_INSTANCES)}
    assert "CRC-32" in source["verified"] and "md5 covers the whole archive" in source["verified"]

    asked = len(zenodo.ranges_asked)
    assert fetch_dataset(spec, raw, None, zenodo_url=zenodo.url) == "present"
    assert len(zenodo.ranges_asked) == asked


def test_without_range_support_the_whole_release_is_downloaded_and_md5_checked(
        tmp_path: Path, zenodo: ZenodoStandIn) -> None:
    archive = webis_zip()
    zenodo.serve(archive, ranges=False)
    raw = tmp_path / "raw"

    assert fetch_dataset(webis_spec(), raw, None, zenodo_url=zenodo.url) == "downloaded"

    assert (raw / "webis-clickbait-17" / "instances.jsonl").read_bytes() == WEBIS_INSTANCES
    assert leftovers(raw) == ["SOURCE.json", "instances.jsonl", "truth.jsonl",
                              "webis-clickbait-17"]  # the downloaded zip is gone
    assert zenodo.bytes_sent >= len(archive)
    assert dataset_source(webis_spec(), raw)["verified"].startswith(
        "md5 of the whole archive as Zenodo publishes it")


def test_a_release_whose_md5_differs_from_zenodos_is_refused(
        tmp_path: Path, zenodo: ZenodoStandIn) -> None:
    archive = webis_zip()
    zenodo.serve(archive, ranges=False, md5="0" * 32)
    raw = tmp_path / "raw"
    with pytest.raises(DataError) as caught:
        fetch_dataset(webis_spec(), raw, None, zenodo_url=zenodo.url)
    message = str(caught.value)
    assert "checksum mismatch" in message and "not kept" in message
    assert "0" * 32 in message and hashlib.md5(archive).hexdigest() in message
    assert leftovers(raw) == []  # no .part, no members


@pytest.mark.parametrize("ranges", [True, False], ids=["range-requests", "whole-file"])
def test_a_corrupt_member_is_named_and_nothing_is_kept(
        tmp_path: Path, zenodo: ZenodoStandIn, ranges: bool) -> None:
    zenodo.serve(webis_zip(corrupt=True), ranges=ranges)  # Zenodo's md5 is of the corrupt zip
    raw = tmp_path / "raw"
    with pytest.raises(DataError) as caught:
        fetch_dataset(webis_spec(), raw, None, zenodo_url=zenodo.url)
    message = str(caught.value)
    assert "clickbait17-train-170630/instances.jsonl is corrupt" in message
    assert "Bad CRC-32" in message
    assert leftovers(raw) == []


@pytest.mark.parametrize("ranges", [True, False], ids=["resumed", "server-ignores-ranges"])
def test_an_interrupted_download_is_resumed_on_the_next_run(
        tmp_path: Path, zenodo: ZenodoStandIn, ranges: bool) -> None:
    archive = webis_zip()
    zenodo.serve(archive, ranges=ranges, cut_after=len(archive) // 2)
    raw = tmp_path / "raw"
    spec = webis_spec()

    with pytest.raises(DataError, match="download failed"):
        fetch_dataset(spec, raw, None, zenodo_url=zenodo.url, whole_files=True)
    # What arrived stays (whole chunks of it), ready to be resumed.
    have = len((raw / f"{RELEASE}.part").read_bytes())
    assert 0 < have <= len(archive) // 2
    assert (raw / f"{RELEASE}.part").read_bytes() == archive[:have]
    assert not (raw / "webis-clickbait-17").exists()

    zenodo.bytes_sent = 0
    assert fetch_dataset(spec, raw, None, zenodo_url=zenodo.url, whole_files=True) == "downloaded"
    assert zenodo.ranges_asked == [None, f"bytes={have}-"]
    # A server that honours the range sends the rest; one that ignores it, all of it again.
    assert zenodo.bytes_sent == (len(archive) - have if ranges else len(archive))
    assert (raw / "webis-clickbait-17" / "truth.jsonl").read_bytes() == WEBIS_TRUTH
    assert not (raw / f"{RELEASE}.part").exists()


def test_a_release_of_another_size_or_post_count_is_refused(
        tmp_path: Path, zenodo: ZenodoStandIn) -> None:
    archive = webis_zip()
    zenodo.serve(archive, size=len(archive) + 1)
    raw = tmp_path / "raw"
    with pytest.raises(DataError, match=f"Zenodo lists {len(archive) + 1}"):
        fetch_dataset(webis_spec(), raw, None, zenodo_url=zenodo.url)
    assert leftovers(raw) == []

    zenodo.serve(archive, size=None)
    with pytest.raises(DataError, match="3 posts, the manifest expects 19,538; nothing was kept"):
        fetch_dataset(webis_spec(posts=19538), raw, None, zenodo_url=zenodo.url)
    assert leftovers(raw) == []


def test_a_record_without_the_release_says_what_it_lists(
        tmp_path: Path, zenodo: ZenodoStandIn) -> None:
    zenodo.serve(webis_zip())
    spec = webis_spec()
    spec = dataclasses.replace(spec, zenodo=dict(spec.zenodo, file="clickbait17-train-170331.zip"))
    with pytest.raises(DataError) as caught:
        fetch_dataset(spec, tmp_path / "raw", None, zenodo_url=zenodo.url)
    assert (f"Zenodo record {RECORD} has no file 'clickbait17-train-170331.zip'; it lists "
            f"['README.md', '{RELEASE}']") in str(caught.value)
    assert leftovers(tmp_path / "raw") == []


def test_instances_and_truth_must_list_the_same_posts(tmp_path: Path) -> None:
    instances, truth = tmp_path / "instances.jsonl", tmp_path / "truth.jsonl"
    instances.write_bytes(WEBIS_INSTANCES)
    truth.write_bytes(WEBIS_TRUTH)
    assert count_webis_posts(instances, truth) == 3

    truth.write_bytes(WEBIS_TRUTH.splitlines(keepends=True)[0] * 2 + WEBIS_TRUTH)
    with pytest.raises(DataError, match="truth.jsonl: 2 repeated ids"):
        count_webis_posts(instances, truth)
    truth.write_bytes(b"".join(WEBIS_TRUTH.splitlines(keepends=True)[:2]))
    with pytest.raises(DataError, match="1 only in instances.jsonl, 0 only in truth.jsonl"):
        count_webis_posts(instances, truth)


def test_webis_download_failing_says_what_to_set(tmp_path: Path) -> None:
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(DataError) as caught:
        fetch_dataset(webis_spec(), tmp_path / "raw", None, zenodo_url=f"http://127.0.0.1:{port}")
    message = str(caught.value)
    assert "webis-clickbait-17: download failed" in message
    assert "set HEADLINE_DATA_DIR" in message
    assert "clickbait17-train-170630.zip from Zenodo record 5530410" in message
    assert leftovers(tmp_path / "raw") == []


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


def test_make_data_reads_webis_from_the_zenodo_host_in_the_environment(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, zenodo: ZenodoStandIn) -> None:
    zenodo.serve(webis_zip())
    manifest = tmp_path / "datasets.json"
    manifest.write_text(json.dumps({"datasets": [dataclasses.asdict(webis_spec())]}))
    monkeypatch.delenv("HEADLINE_DATA_DIR", raising=False)
    monkeypatch.setenv("HEADLINE_ZENODO_URL", zenodo.url)

    assert main(["--raw-dir", str(tmp_path / "raw"), "--manifest", str(manifest)]) == 0
    assert zenodo.ranges_asked[0] == "bytes=0-0"  # members read by range requests

    zenodo.ranges_asked.clear()
    assert main(["--raw-dir", str(tmp_path / "raw2"), "--manifest", str(manifest),
                 "--whole-files"]) == 0
    assert zenodo.ranges_asked == [None]  # one plain download of the whole file
    assert dataset_source(webis_spec(), tmp_path / "raw2")["verified"].startswith("md5")
