"""Files of a Zenodo record: find one in the record's metadata and take members out of its zip.

Two roads lead to the same members, both checked by ``zipfile`` against the zip's central
directory (CRC-32 of every member; its size is checked here too):

- **range requests**, when the server answers a range with 206: only the zip's end records,
  its central directory and the wanted members travel (a few MB of a ~940 MB archive). Zenodo
  publishes an md5 of the whole file, which this road cannot compute; it checks instead that the
  server's file is exactly as long as Zenodo lists it.
- **the whole file**, when the server ignores ranges or the caller asks for it: downloaded into
  a ``.part`` file that a later run resumes (``Range: bytes=N-``), with a progress bar, and
  refused unless its md5 is the one Zenodo publishes.

The API host is a parameter (``HEADLINE_ZENODO_URL`` in ``make data``), so tests serve it locally.
"""

from __future__ import annotations

import hashlib
import io
import shutil
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

import requests
from tqdm import tqdm

from training.loaders import DataError

TIMEOUT_S = 60
# Reads of the zip's directory and members come in blocks this large, so a member costs a few
# requests rather than one per zipfile read (zipfile reads 4-64 KiB at a time).
RANGE_BLOCK = 4 << 20
DOWNLOAD_CHUNK = 1 << 20


@dataclass(frozen=True)
class RecordFile:
    """One file of a Zenodo record, as the record's metadata describes it."""

    record: str
    key: str
    size: int  # bytes
    md5: str  # hex digest Zenodo computed when the file was deposited
    url: str


def record_file(session: requests.Session, api_url: str, record: str, key: str) -> RecordFile:
    """The file named ``key`` in Zenodo record ``record``, from ``<api_url>/api/records/<record>``."""
    url = f"{api_url.rstrip('/')}/api/records/{record}"
    response = session.get(url, timeout=TIMEOUT_S)
    response.raise_for_status()
    try:
        files = response.json()["files"]
        listed = [entry.get("key", entry.get("filename")) for entry in files]
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise DataError(f"{url}: not a Zenodo record (no list of files)") from exc
    # The records API names a file by "key" with "size" and links.self; the legacy one used
    # "filename", "filesize" and links.download. The checksum is "md5:<hex>" (legacy: bare hex).
    for name, entry in zip(listed, files):
        if name != key:
            continue
        try:
            algorithm, _, digest = entry["checksum"].rpartition(":")
            size = int(entry.get("size", entry.get("filesize")))
            link = entry["links"].get("self") or entry["links"]["download"]
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise DataError(f"{url}: the record lists {key} without a checksum, size or "
                            f"link ({exc!r})") from exc
        if algorithm not in ("", "md5"):
            raise DataError(f"{url}: {key} has a {algorithm} checksum; only md5 is checked")
        return RecordFile(record, key, size, digest, link)
    raise DataError(f"{url}: Zenodo record {record} has no file {key!r}; it lists {listed}")


class HTTPRangeFile(io.RawIOBase):
    """A read-only, seekable view of a remote file: each read is one HTTP range request.

    Wrapped in :class:`io.BufferedReader`, it is what :class:`zipfile.ZipFile` needs to read a
    remote zip without downloading it.
    """

    def __init__(self, session: requests.Session, url: str, size: int) -> None:
        super().__init__()
        self.session, self.url, self.size = session, url, size
        self.position = 0
        self.requests = 0
        self.bytes_fetched = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self.position

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self.position, io.SEEK_END: self.size}[whence]
        if base + offset < 0:
            raise ValueError(f"negative seek position {base + offset}")
        self.position = base + offset
        return self.position

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        end = min(self.position + len(buffer), self.size)
        if end <= self.position:
            return 0
        response = self.session.get(self.url, headers={"Range": f"bytes={self.position}-{end - 1}"},
                                    timeout=TIMEOUT_S)
        response.raise_for_status()
        count = end - self.position
        if response.status_code != 206 or len(response.content) != count:
            raise DataError(f"{self.url}: asked for bytes {self.position}-{end - 1}, got HTTP "
                            f"{response.status_code} with {len(response.content)} bytes")
        buffer[:count] = response.content
        self.position = end
        self.requests += 1
        self.bytes_fetched += count
        return count


def honours_ranges(session: requests.Session, file: RecordFile) -> bool:
    """Whether the server answers a range request for ``file`` with 206 and Zenodo's size."""
    with session.get(file.url, headers={"Range": "bytes=0-0"}, stream=True,
                     timeout=TIMEOUT_S) as response:
        response.raise_for_status()
        if response.status_code != 206:
            return False
        total = response.headers.get("Content-Range", "").rpartition("/")[2]
        if total != str(file.size):
            raise DataError(f"{file.url}: the server's file is {total or 'of unknown'} bytes, "
                            f"Zenodo lists {file.size}; nothing was kept")
        return True


def download_resumable(session: requests.Session, file: RecordFile, part: Path) -> None:
    """Complete ``part`` as a copy of ``file`` and refuse it unless its md5 is Zenodo's.

    A ``part`` left by an interrupted run is resumed with a range request; a server that answers
    with the whole file instead (200) starts it over. On a size or md5 mismatch the part is
    deleted and :class:`DataError` raised.
    """
    part.parent.mkdir(parents=True, exist_ok=True)
    have = part.stat().st_size if part.exists() else 0
    if have > file.size:
        have = 0
    if have < file.size:
        headers = {"Range": f"bytes={have}-"} if have else {}
        with session.get(file.url, headers=headers, stream=True, timeout=TIMEOUT_S) as response:
            response.raise_for_status()
            if response.status_code != 206:
                have = 0
            elif not response.headers.get("Content-Range", "").startswith(f"bytes {have}-"):
                raise DataError(f"{file.url}: asked to resume at byte {have}, the server sent "
                                f"{response.headers.get('Content-Range')!r}")
            with (part.open("ab" if have else "wb") as handle,
                  tqdm.wrapattr(handle, "write", total=file.size, initial=have, desc=file.key,
                                disable=None) as out):
                for block in response.iter_content(DOWNLOAD_CHUNK):
                    out.write(block)
    with part.open("rb") as handle:
        digest = hashlib.file_digest(handle, "md5").hexdigest()
    size = part.stat().st_size
    if size != file.size or digest != file.md5:
        part.unlink()
        raise DataError(
            f"{file.url}: checksum mismatch: Zenodo lists {file.size} bytes with md5 {file.md5}, "
            f"got {size} bytes with md5 {digest}; the file was not kept"
        )


def extract_members(bundle: zipfile.ZipFile, names: list[str], target: Path,
                    where: str) -> dict[str, dict]:
    """Write each member whose base name is in ``names`` to ``target/<name>``, checked.

    Members are matched by base name because releases keep them in a top folder. zipfile
    refuses a member whose CRC-32 differs from the central directory's; a size that differs is
    refused here. Returns, per name, the member's path, CRC-32 and size.
    """
    found: dict[str, zipfile.ZipInfo] = {}
    for info in bundle.infolist():
        name = PurePosixPath(info.filename).name
        if name in names and not info.is_dir():
            if name in found:
                raise DataError(f"{where}: two members named {name}: {found[name].filename} "
                                f"and {info.filename}")
            found[name] = info
    missing = [name for name in names if name not in found]
    if missing:
        raise DataError(f"{where}: the archive has no member named {', '.join(missing)}")
    members = {}
    for name, info in found.items():
        path = target / name
        try:
            with (bundle.open(info) as member, path.open("wb") as handle,
                  tqdm.wrapattr(handle, "write", total=info.file_size, desc=name,
                                disable=None) as out):
                shutil.copyfileobj(member, out, DOWNLOAD_CHUNK)
        except (zipfile.BadZipFile, zlib.error, EOFError) as exc:
            raise DataError(f"{where}: member {info.filename} is corrupt ({exc})") from exc
        if path.stat().st_size != info.file_size:
            raise DataError(f"{where}: member {info.filename} inflates to "
                            f"{path.stat().st_size} bytes, its directory entry says {info.file_size}")
        members[name] = {"member": info.filename, "crc32": f"{info.CRC:08x}",
                         "bytes": info.file_size}
    return members


def fetch_zip_members(api_url: str, record: str, key: str, names: list[str], target: Path,
                      part: Path, whole_file: bool = False) -> dict:
    """Put the members ``names`` of zip ``key`` of Zenodo record ``record`` into ``target``.

    By range requests when the server honours them and ``whole_file`` is False, else by
    downloading the whole file into ``part`` (resumable, md5 checked, deleted once read).
    Returns what was fetched and how it was verified, for the dataset's provenance.
    """
    try:
        with requests.Session() as session:
            file = record_file(session, api_url, record, key)
            if not whole_file and honours_ranges(session, file):
                remote = HTTPRangeFile(session, file.url, file.size)
                with zipfile.ZipFile(io.BufferedReader(remote, RANGE_BLOCK)) as bundle:
                    members = extract_members(bundle, names, target, file.url)
                part.unlink(missing_ok=True)  # left by an interrupted whole-file run; not needed now
                verified = (f"CRC-32 and size of each member against the zip's central directory; "
                            f"archive length {file.size} bytes as Zenodo lists it (read by "
                            f"{remote.requests} range requests, {remote.bytes_fetched} bytes; "
                            "Zenodo's md5 covers the whole archive and was not computed)")
            else:
                download_resumable(session, file, part)
                try:
                    with zipfile.ZipFile(part) as bundle:
                        members = extract_members(bundle, names, target, file.url)
                finally:
                    part.unlink()
                verified = ("md5 of the whole archive as Zenodo publishes it; CRC-32 and size "
                            "of each member against the zip's central directory")
    except zipfile.BadZipFile as exc:
        raise DataError(f"{key}: not a readable zip archive ({exc})") from exc
    return {"record": record, "file": key, "md5": file.md5, "bytes": file.size, "url": file.url,
            "members": members, "verified": verified}
