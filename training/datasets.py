"""The dataset manifest and ``make data``: materialise every dataset into ``data/raw/``.

Each dataset is copied from ``HEADLINE_DATA_DIR/<name>/`` when that is set, or else downloaded
from its public address with its sha256 checked (a mismatch is an error, never a retry), or,
for a dataset published as a zip on Zenodo, taken out of that zip (see :mod:`training.zenodo`).
Files are written to a temporary name and renamed, so an interrupted run leaves no half file.
Next to the files, ``SOURCE.json`` says where they came from; the model manifest records it.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import io
import json
import os
import shutil
import sys
import tempfile
import urllib.error
import urllib.request
import zipfile
from dataclasses import dataclass
from pathlib import Path

from headline_scorer.artifact import sha256_of as sha256_file
from headline_scorer.paths import DATASET_MANIFEST as MANIFEST_PATH
from headline_scorer.paths import RAW_DIR
from headline_scorer.text import normalise_text
from training.loaders import DataError, LabelledSet, read_lines, read_table, read_webis
from training.zenodo import fetch_zip_members

DOWNLOAD_TIMEOUT_S = 60
OPTIONAL_FILES = ("LICENSE", "README.txt")
SOURCE_FILE = "SOURCE.json"
ZENODO_URL_ENV = "HEADLINE_ZENODO_URL"


@dataclass(frozen=True)
class DatasetSpec:
    """One entry of ``data/datasets.json``."""

    name: str
    format: str
    files: list[dict]
    evaluation: str = "split"
    licence: str = ""
    citation: str = ""
    homepage: str = ""
    description: str = ""
    checksums: str = "exact"
    archive: dict | None = None
    zenodo: dict | None = None  # url, record, file and expected posts of a zip on Zenodo
    manual_download: str = ""
    text_column: str | None = None
    label_column: str | None = None

    @classmethod
    def from_dict(cls, entry: dict) -> DatasetSpec:
        known = set(cls.__dataclass_fields__)
        return cls(**{k: v for k, v in entry.items() if k in known})


def load_manifest(path: Path = MANIFEST_PATH) -> list[DatasetSpec]:
    """The datasets listed in the manifest at ``path``."""
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise DataError(f"{path}: cannot read the dataset manifest ({exc})") from exc
    return [DatasetSpec.from_dict(entry) for entry in document["datasets"]]


def _log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _atomic_copy(source: Path, target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    with (tempfile.NamedTemporaryFile(dir=target.parent, delete=False, prefix=".part-") as tmp,
          source.open("rb") as handle):
        shutil.copyfileobj(handle, tmp)
    os.replace(tmp.name, target)


def download(url: str, target: Path, sha256: str) -> None:
    """Fetch ``url`` into ``target``, refusing it unless its sha256 is ``sha256``."""
    target.parent.mkdir(parents=True, exist_ok=True)
    digest = hashlib.sha256()
    tmp = tempfile.NamedTemporaryFile(dir=target.parent, delete=False, prefix=".part-")  # noqa: SIM115
    try:
        with tmp, urllib.request.urlopen(url, timeout=DOWNLOAD_TIMEOUT_S) as response:
            for block in iter(lambda: response.read(1 << 20), b""):
                digest.update(block)
                tmp.write(block)
        if digest.hexdigest() != sha256:
            raise DataError(
                f"{url}: checksum mismatch: expected sha256 {sha256}, got {digest.hexdigest()}; "
                "the file was not kept"
            )
        os.replace(tmp.name, target)
    finally:
        if os.path.exists(tmp.name):
            os.unlink(tmp.name)


def _has_verified_files(spec: DatasetSpec, folder: Path) -> bool:
    for entry in spec.files:
        path = folder / entry["path"]
        if not path.is_file():
            return False
        if spec.checksums == "exact" and not spec.archive and sha256_file(path) != entry["sha256"]:
            return False
    return True


def _same_files(spec: DatasetSpec, source: Path, target: Path) -> bool:
    return all(
        (target / e["path"]).is_file() and (source / e["path"]).is_file()
        and sha256_file(target / e["path"]) == sha256_file(source / e["path"])
        for e in spec.files
    )


def _write_source(folder: Path, summary: str, **details: object) -> None:
    """Record in ``folder/SOURCE.json`` where the dataset's files came from."""
    folder.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile("w", encoding="utf-8", dir=folder, delete=False,
                                     prefix=".part-") as tmp:
        json.dump({"summary": summary, **details}, tmp, indent=2)
    os.replace(tmp.name, folder / SOURCE_FILE)


def dataset_source(spec: DatasetSpec, raw_dir: Path = RAW_DIR) -> dict | None:
    """Where ``make data`` got the dataset (its ``SOURCE.json``), or None if it did not say."""
    path = raw_dir / spec.name / SOURCE_FILE
    if not path.is_file():
        return None
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise DataError(f"{path}: unreadable ({exc}); run `make data` again") from exc


def count_webis_posts(instances: Path, truth: Path) -> int:
    """Posts in a Webis pair; refuses it unless both files list the same ids, once each."""
    ids = {}
    for path in (instances, truth):
        try:
            ids[path] = [str(json.loads(line)["id"])
                         for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
        except (ValueError, KeyError, TypeError) as exc:
            raise DataError(f"{path}: not one JSON record with an id per line ({exc})") from exc
        if len(set(ids[path])) != len(ids[path]):
            raise DataError(f"{path}: {len(ids[path]) - len(set(ids[path]))} repeated ids")
    only_instances = set(ids[instances]) - set(ids[truth])
    only_truth = set(ids[truth]) - set(ids[instances])
    if only_instances or only_truth:
        raise DataError(f"{instances.name} and {truth.name} list different posts: "
                        f"{len(only_instances)} only in {instances.name}, "
                        f"{len(only_truth)} only in {truth.name}")
    return len(ids[instances])


def _copy_from(spec: DatasetSpec, source: Path, target: Path) -> None:
    as_listed = True
    for entry in spec.files:
        src = source / entry["path"]
        if not src.is_file():
            raise DataError(f"{src}: missing (expected by the dataset manifest)")
        actual = sha256_file(src)
        if actual != entry["sha256"]:
            if spec.checksums == "exact":
                raise DataError(
                    f"{src}: checksum mismatch: expected sha256 {entry['sha256']}, got {actual}"
                )
            _log(f"  note: {src} differs from the reference copy (sha256 {actual[:12]}...); "
                 "using it as given")
            as_listed = False
        _atomic_copy(src, target / entry["path"])
    for name in OPTIONAL_FILES:
        if (source / name).is_file():
            _atomic_copy(source / name, target / name)
    if not as_listed:
        checksums = "sha256 differs from the reference copy"
    elif spec.checksums == "reference":
        checksums = "sha256 of the reference copy"  # the manifest's description says which one
    else:
        checksums = "sha256 as listed"
    # Named relative to HEADLINE_DATA_DIR: the record travels in the model's manifest (and its
    # GET /v1/model), which must not show where the training machine keeps its files.
    where = f"HEADLINE_DATA_DIR/{source.name}"
    _write_source(target, f"HEADLINE_DATA_DIR copy ({where}), {checksums} in data/datasets.json",
                  origin="HEADLINE_DATA_DIR", path=where, sha256_as_listed=as_listed)


def build_horne2017_titles(archive: Path, folders: dict[str, dict], target: Path) -> int:
    """Build ``titles.tsv`` (text, label, source) from the Horne2017 zip's title folders.

    Each title is one .txt file, UTF-8 or (in the Random set) Windows-1252. Returns rows written.
    """
    rows: list[tuple[str, int, str]] = []
    with zipfile.ZipFile(archive) as bundle:
        names = sorted(bundle.namelist())
        for folder, meta in folders.items():
            members = [n for n in names if n.startswith(folder + "/") and n.endswith(".txt")]
            if not members:
                raise DataError(f"{archive}: folder {folder!r} holds no .txt titles")
            for member in members:
                raw = bundle.read(member)
                try:
                    text = raw.decode("utf-8-sig")
                except UnicodeDecodeError:
                    text = raw.decode("cp1252", errors="replace")
                text = normalise_text(text)
                if text:
                    rows.append((text, int(meta["label"]), f"{meta['source']} / {Path(member).name}"))
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter="\t", lineterminator="\n")
    writer.writerow(["text", "label", "source"])
    writer.writerows(rows)
    target.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile("w", encoding="utf-8", dir=target, delete=False,
                                     prefix=".part-") as tmp:
        tmp.write(buffer.getvalue())
    os.replace(tmp.name, target / "titles.tsv")
    return len(rows)


ARCHIVE_BUILDERS = {"horne2017_titles": build_horne2017_titles}


def _download_from_zenodo(spec: DatasetSpec, zenodo: dict, target: Path, api_url: str | None,
                          whole_file: bool) -> None:
    """Take the dataset's files out of its zip on Zenodo; only the webis format is published so."""
    target.parent.mkdir(parents=True, exist_ok=True)  # the scratch folder lives beside it
    with tempfile.TemporaryDirectory(dir=target.parent, prefix=".part-") as scratch:
        staging = Path(scratch)
        fetched = fetch_zip_members(
            api_url or zenodo["url"], str(zenodo["record"]), zenodo["file"],
            [e["path"] for e in spec.files], staging,
            # beside the dataset's folder, so an interrupted download survives to be resumed
            part=target.parent / f"{zenodo['file']}.part", whole_file=whole_file,
        )
        roles = {e["role"]: staging / e["path"] for e in spec.files}
        posts = count_webis_posts(roles["instances"], roles["truth"])
        if posts != zenodo["posts"]:
            raise DataError(f"{fetched['url']}: {posts:,} posts, the manifest expects "
                            f"{zenodo['posts']:,}; nothing was kept")
        _log(f"  {spec.name}: {posts:,} posts; verified: {fetched['verified']}")
        _write_source(staging, f"Zenodo record {fetched['record']}, {fetched['file']} "
                               f"(md5 {fetched['md5']}), {posts:,} posts",
                      origin="zenodo", posts=posts, **fetched)
        target.mkdir(exist_ok=True)
        for name in [e["path"] for e in spec.files] + [SOURCE_FILE]:
            os.replace(staging / name, target / name)


def _download_into(spec: DatasetSpec, target: Path, zenodo_url: str | None,
                   whole_files: bool) -> None:
    if spec.zenodo:
        _download_from_zenodo(spec, spec.zenodo, target, zenodo_url, whole_files)
        return
    if spec.archive:
        target.parent.mkdir(parents=True, exist_ok=True)  # the scratch folder lives beside it
        with tempfile.TemporaryDirectory(dir=target.parent) as scratch:
            bundle = Path(scratch) / "archive.zip"
            download(spec.archive["url"], bundle, spec.archive["sha256"])
            builder = ARCHIVE_BUILDERS[spec.archive["builder"]]
            builder(bundle, spec.archive["folders"], target)
        _write_source(target, f"built from {spec.archive['url']} (sha256 {spec.archive['sha256']})",
                      origin="download", url=spec.archive["url"], sha256=spec.archive["sha256"])
        return
    for entry in spec.files:
        download(entry["url"], target / entry["path"], entry["sha256"])
    urls = [entry["url"] for entry in spec.files]
    _write_source(target, f"downloaded from {', '.join(urls)}, sha256 as listed in "
                          "data/datasets.json", origin="download", urls=urls)


def fetch_dataset(spec: DatasetSpec, raw_dir: Path, source_dir: Path | None, *,
                  zenodo_url: str | None = None, whole_files: bool = False) -> str:
    """Make ``raw_dir/<name>/`` hold the dataset; return how ("present", "copied", ...).

    ``zenodo_url`` replaces the manifest's Zenodo host; ``whole_files`` downloads a Zenodo zip
    whole (md5 checked) even when its members could be read by range requests.
    """
    target = raw_dir / spec.name
    if source_dir is not None and (source_dir / spec.name).is_dir():
        source = source_dir / spec.name
        if _same_files(spec, source, target):
            return "present"
        _copy_from(spec, source, target)
        return f"copied from {source}"
    if _has_verified_files(spec, target):
        return "present"
    downloadable = (spec.archive is not None or spec.zenodo is not None
                    or all("url" in e for e in spec.files))
    if not downloadable:
        where = f"{source_dir}/{spec.name}/" if source_dir else "HEADLINE_DATA_DIR/<name>/"
        raise DataError(
            f"{spec.name}: not found in {where} and it has no automatic download. "
            f"{spec.manual_download}"
        )
    try:
        _download_into(spec, target, zenodo_url, whole_files)
    except (urllib.error.URLError, OSError) as exc:  # requests' errors are OSErrors too
        reason = getattr(exc, "reason", exc)
        # When HEADLINE_DATA_DIR is set but lacks this dataset, say where it looked.
        looked = f" HEADLINE_DATA_DIR={source_dir} has no {spec.name}/ folder." if source_dir else ""
        raise DataError(
            f"{spec.name}: download failed ({reason}).{looked} Without internet access, set "
            "HEADLINE_DATA_DIR to a folder holding the datasets (for example "
            f"HEADLINE_DATA_DIR=../shared/datasets make data). {spec.manual_download}".rstrip()
        ) from exc
    return "downloaded"


def fetch_all(specs: list[DatasetSpec], raw_dir: Path = RAW_DIR,
              source_dir: Path | None = None, *, zenodo_url: str | None = None,
              whole_files: bool = False) -> None:
    """Fetch every dataset, reporting each; raise one DataError listing all that failed."""
    failures = []
    for spec in specs:
        try:
            how = fetch_dataset(spec, raw_dir, source_dir, zenodo_url=zenodo_url,
                                whole_files=whole_files)
            _log(f"  {spec.name}: {how}")
        except DataError as exc:
            failures.append(str(exc))
    if failures:
        raise DataError("could not get every dataset:\n  " + "\n  ".join(failures))


def data_dir_from_env() -> Path | None:
    value = os.environ.get("HEADLINE_DATA_DIR", "").strip()
    return Path(value).expanduser().resolve() if value else None


def zenodo_url_from_env() -> str | None:
    """``HEADLINE_ZENODO_URL``: another Zenodo host (a mirror, or a test server) than the manifest's."""
    return os.environ.get(ZENODO_URL_ENV, "").strip() or None


def load_dataset(spec: DatasetSpec, raw_dir: Path = RAW_DIR) -> LabelledSet:
    """Read one materialised dataset from ``raw_dir/<name>/``."""
    folder = raw_dir / spec.name
    for entry in spec.files:
        if not (folder / entry["path"]).is_file():
            raise DataError(
                f"{folder / entry['path']}: missing; run `make data` first (it copies the "
                "datasets from HEADLINE_DATA_DIR when set, otherwise downloads them)"
            )
    if spec.format == "lines":
        return read_lines(spec.name, [(folder / e["path"], int(e["label"])) for e in spec.files])
    if spec.format == "webis":
        roles = {e["role"]: folder / e["path"] for e in spec.files}
        return read_webis(spec.name, roles["instances"], roles["truth"])
    if spec.format == "table":
        return read_table(spec.name, folder / spec.files[0]["path"], spec.text_column,
                          spec.label_column)
    raise DataError(f"{spec.name}: unknown dataset format {spec.format!r}")


def dataset_files(spec: DatasetSpec, raw_dir: Path = RAW_DIR) -> list[dict]:
    """Path, sha256 and size of each materialised file, for the model manifest."""
    folder = raw_dir / spec.name
    return [
        {"path": e["path"], "sha256": sha256_file(folder / e["path"]),
         "bytes": (folder / e["path"]).stat().st_size}
        for e in spec.files
    ]


def main(argv: list[str] | None = None) -> int:
    """``python -m training.datasets``: the ``make data`` step."""
    parser = argparse.ArgumentParser(prog="python -m training.datasets",
                                     description=__doc__.split("\n")[0])
    parser.add_argument("--raw-dir", type=Path, default=RAW_DIR,
                        help="folder to fill (default data/raw)")
    parser.add_argument("--manifest", type=Path, default=MANIFEST_PATH,
                        help="dataset manifest (default data/datasets.json)")
    parser.add_argument("--whole-files", action="store_true",
                        help="download a Zenodo zip whole and check its md5, instead of reading "
                             "only the members needed by range requests")
    args = parser.parse_args(argv)
    source = data_dir_from_env()
    _log(f"make data: filling {args.raw_dir} "
         f"({'from ' + str(source) if source else 'by download; HEADLINE_DATA_DIR is not set'})")
    try:
        fetch_all(load_manifest(args.manifest), args.raw_dir, source,
                  zenodo_url=zenodo_url_from_env(), whole_files=args.whole_files)
    except DataError as exc:
        _log(f"error: {exc}")
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
