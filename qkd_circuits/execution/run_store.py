"""A submitted run on disk: the job record and the run's classical secrets, private and atomic.

``qkd run --backend ibm:... --submit-only`` submits the circuits and returns;
hours later ``qkd resume RUN_DIR`` fetches the results and finishes the
protocol. Between the two, the run directory holds everything needed:

* ``run.json``: format tag, creation time, backend spec, the run's config (as
  given by the caller, e.g. the seed and protocol options), the
  :class:`~qkd_circuits.execution.ibm.SubmittedJob` (job ids, device,
  layout, calibration, shot plan), package versions, and the SHA-256 of the
  secrets file;
* ``secrets.npz``: the random choices of the run (Alice's bits and bases,
  Bob's and Eve's bases), arrays only, no pickles;
* ``finished.json``, once the run has been distilled: a run's raw key is
  distilled **once**. A second distillation would draw new public randomness
  (sample, shuffles, Toeplitz seed) over the same secret bits, and the two
  keys' public hash functions would hand Eve linear relations between them;
  :func:`load_pending_run` therefore refuses a finished run.

Both files are created with mode 0600 inside a directory of mode 0700 and
written atomically (:func:`qkd_circuits.private_files.write_private_file`: a
temporary file in the same directory, created owner-only, flushed and
fsynced, then ``os.replace``). The secrets are written first and
``run.json`` last, so a crash at any point leaves either no ``run.json`` (the
run was not saved: nothing was lost that :func:`load_pending_run` would
accept) or a complete, consistent pair. The secrets are what a key is later
distilled from: the directory is as sensitive as the key itself.
"""

from __future__ import annotations

import dataclasses
import hashlib
import importlib
import io
import json
import os
import stat
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from qkd_circuits.attacks.spec import EveSpec
from qkd_circuits.errors import ConfigError
from qkd_circuits.execution.ibm import SubmittedJob
from qkd_circuits.private_files import write_private_file
from qkd_circuits.versions import package_versions

RUN_FILE = "run.json"
SECRETS_FILE = "secrets.npz"
FINISHED_FILE = "finished.json"
FORMAT = "qkd-circuits/pending-run"
FORMAT_VERSION = 2
"""2: ``run.json`` carries its own checksum (``record_sha256``); 1 (read, not written): none."""


@dataclass(frozen=True, slots=True, kw_only=True)
class PendingRun:
    """A run read back from its directory, ready for :func:`~qkd_circuits.execution.ibm.fetch_job`.

    Attributes:
        run_dir: The directory.
        config: The config dict saved with the run.
        choices: The run's random choices (e.g. :class:`~qkd_circuits.protocols.bb84.BB84Choices`).
        job: The submitted job.
        versions: Package versions at submission.
        created: UTC time the run was saved, ISO 8601.
    """

    run_dir: Path
    config: dict[str, Any]
    choices: Any
    job: SubmittedJob
    versions: dict[str, str]
    created: str


def ensure_new_run_dir(run_dir: Path | str) -> Path:
    """Create ``run_dir`` (mode 0700), or accept an existing empty one; refuse anything else.

    Call it *before* submitting, so a bad ``--run-dir`` fails before any shot is spent;
    :func:`save_pending_run` then fills the (empty) directory.

    Raises:
        ConfigError: the path exists and is a file or a non-empty directory.
    """
    run_dir = Path(run_dir)
    _prepare_dir(run_dir)
    return run_dir


def check_new_run_dir(run_dir: Path | str) -> Path:
    """Refuse, without creating anything, a ``run_dir`` that :func:`ensure_new_run_dir`
    would refuse (call it before any work; create the directory just before submitting).

    Raises:
        ConfigError: the path is a file or a non-empty directory, or cannot be created.
    """
    run_dir = Path(run_dir)
    if run_dir.exists():
        if not run_dir.is_dir():
            raise ConfigError(f"run dir {str(run_dir)!r} exists and is not a directory")
        if any(run_dir.iterdir()):
            raise ConfigError(
                f"run dir {str(run_dir)!r} already exists and is not empty; "
                "choose a new --run-dir (a saved run is never overwritten)"
            )
        return run_dir
    parent = run_dir.parent
    while not parent.exists() and parent != parent.parent:
        parent = parent.parent
    if not parent.is_dir() or not os.access(parent, os.W_OK | os.X_OK):
        raise ConfigError(
            f"run dir {str(run_dir)!r} cannot be created: {str(parent)!r} is not a "
            "writable directory"
        )
    return run_dir


def _prepare_dir(run_dir: Path) -> None:
    check_new_run_dir(run_dir)
    if run_dir.exists():  # an empty directory
        os.chmod(run_dir, 0o700)
        return
    run_dir.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.mkdir(run_dir, 0o700)
    except FileExistsError:
        raise ConfigError(f"run dir {str(run_dir)!r} already exists") from None
    os.chmod(run_dir, 0o700)  # mkdir's mode is reduced by the umask


def _choices_arrays(choices: Any) -> dict[str, np.ndarray]:
    if not dataclasses.is_dataclass(choices) or isinstance(choices, type):
        raise ConfigError(f"choices must be a dataclass of arrays, got {type(choices).__name__}")
    arrays = {}
    for f in dataclasses.fields(choices):
        if f.name == "eve":  # the attack is in the saved config, not a secret
            continue
        value = getattr(choices, f.name)
        if not isinstance(value, np.ndarray):
            raise ConfigError(f"choices field {f.name!r} is not a numpy array")
        arrays[f.name] = value
    return arrays


def save_pending_run(
    run_dir: Path | str,
    *,
    choices: Any,
    job: SubmittedJob,
    config: Mapping[str, Any],
) -> Path:
    """Save a submitted run so that it can be resumed later, in another process.

    Args:
        run_dir: Directory to create (mode 0700); an existing non-empty one is refused.
        choices: The run's random choices, a dataclass of numpy arrays
            (e.g. :class:`~qkd_circuits.protocols.bb84.BB84Choices`): the secrets.
        job: What :meth:`~qkd_circuits.execution.ibm.BackendExecutor.submit` returned.
        config: JSON-serialisable settings needed to finish the run (seed,
            protocol options...). Must not hold credentials.

    Returns:
        The path of ``run.json``.

    Raises:
        ConfigError: the directory exists and is not empty, or ``config`` is not
            JSON-serialisable.
    """
    run_dir = Path(run_dir)
    arrays = _choices_arrays(choices)
    choices_type = f"{type(choices).__module__}.{type(choices).__qualname__}"
    if not choices_type.startswith("qkd_circuits."):
        raise ConfigError(f"choices must be a qkd_circuits record, got {choices_type}")
    try:
        config_json = json.loads(json.dumps(dict(config)))
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"run config is not JSON-serialisable: {exc}") from None
    buf = io.BytesIO()
    np.savez(buf, **arrays)  # type: ignore[arg-type]  # numpy stubs: kwargs may be allow_pickle
    secrets = buf.getvalue()
    record = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "backend": job.spec,
        "config": config_json,
        "job": job.to_dict(),
        "choices_type": choices_type,
        "secrets_file": SECRETS_FILE,
        "secrets_sha256": hashlib.sha256(secrets).hexdigest(),
        "versions": package_versions(),
    }
    record["record_sha256"] = _record_checksum(record)
    text = json.dumps(record, indent=2, sort_keys=True).encode("utf-8")
    _prepare_dir(run_dir)
    write_private_file(run_dir / SECRETS_FILE, secrets)
    return write_private_file(run_dir / RUN_FILE, text)


def _record_checksum(record: Mapping[str, Any]) -> str:
    """SHA-256 of the record's canonical JSON, without its own checksum field."""
    body = {k: v for k, v in record.items() if k != "record_sha256"}
    return hashlib.sha256(json.dumps(body, sort_keys=True).encode("utf-8")).hexdigest()


def load_pending_run(run_dir: Path | str) -> PendingRun:
    """Read a run saved by :func:`save_pending_run`.

    Raises:
        ConfigError: no such run, an unreadable, incomplete, damaged or edited
            one (``run.json`` and the secrets are both checksummed), a file
            readable by others, or an unknown format.
    """
    run_dir = Path(run_dir)
    run_file = run_dir / RUN_FILE
    try:
        present = run_file.is_file()
    except OSError as exc:
        raise ConfigError(f"cannot read the run directory {str(run_dir)!r}: {exc}") from None
    if not present:
        raise ConfigError(
            f"{str(run_dir)!r} holds no saved run ({RUN_FILE} missing): nothing to resume"
        )
    for path in (run_file, run_dir / SECRETS_FILE):
        if path.exists() and stat.S_IMODE(path.stat().st_mode) & 0o077:
            raise ConfigError(
                f"{str(path)!r} is readable by other users (mode "
                f"{stat.S_IMODE(path.stat().st_mode):o}); it holds the run's secrets: "
                "chmod 600 it before resuming"
            )
    try:
        record = json.loads(run_file.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ConfigError(f"cannot read {str(run_file)!r}: {exc}") from None
    if not isinstance(record, dict):
        raise ConfigError(
            f"{str(run_file)!r} is damaged: expected a JSON object, got {type(record).__name__}"
        )
    version = record.get("format_version")
    if record.get("format") != FORMAT or version not in (1, FORMAT_VERSION):
        raise ConfigError(
            f"{str(run_file)!r} is not a {FORMAT} v1 or v{FORMAT_VERSION} record "
            f"(format {record.get('format')!r} v{version!r})"
        )
    finished = run_dir / FINISHED_FILE
    if finished.exists():
        raise ConfigError(
            f"run dir {str(run_dir)!r} was already distilled ({_describe_finished(finished)}): "
            "a run's raw key is distilled once only, since a second key from the same bits "
            "would not be independent of the first; submit a new run"
        )
    if version != 1 and record.get("record_sha256") != _record_checksum(record):
        raise ConfigError(
            f"{str(run_file)!r} does not match its checksum: it was edited or damaged "
            "after the run was saved; a saved run cannot be changed, submit a new one"
        )
    if not isinstance(record.get("config"), dict) or not isinstance(record.get("job"), dict):
        raise ConfigError(f"{str(run_file)!r} is incomplete: 'config' or 'job' is missing")
    secrets_path = run_dir / str(record.get("secrets_file", SECRETS_FILE))
    try:
        secrets = secrets_path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"cannot read the run's secrets {str(secrets_path)!r}: {exc}") from None
    if hashlib.sha256(secrets).hexdigest() != record.get("secrets_sha256"):
        raise ConfigError(f"{str(secrets_path)!r} does not match its checksum in {RUN_FILE}")
    choices = _load_choices(str(record.get("choices_type", "")), secrets)
    if "eve" in record["config"] and "eve" in {f.name for f in dataclasses.fields(choices)}:
        choices = dataclasses.replace(choices, eve=_saved_eve(record["config"], run_file))
    try:
        job = SubmittedJob.from_dict(record["job"])
    except (KeyError, TypeError, ValueError) as exc:
        raise ConfigError(f"{str(run_file)!r}: the saved job is malformed ({exc})") from None
    return PendingRun(
        run_dir=run_dir,
        config=dict(record["config"]),
        choices=choices,
        job=job,
        versions=dict(record.get("versions", {})),
        created=str(record.get("created", "")),
    )


def mark_finished(run_dir: Path | str, *, final_key_bits: int, abort_reason: str | None) -> Path:
    """Record that the run has been distilled (before its key is handed out); a run
    directory is then never distilled again (see the module docstring).

    Raises:
        ConfigError: the run was already marked finished.
    """
    path = Path(run_dir) / FINISHED_FILE
    if path.exists():
        raise ConfigError(f"run dir {str(run_dir)!r} was already distilled")
    record = {
        "finished": datetime.now(UTC).isoformat(timespec="seconds"),
        "final_key_bits": int(final_key_bits),
        "abort_reason": abort_reason,
    }
    return write_private_file(path, (json.dumps(record) + "\n").encode("utf-8"))


def _describe_finished(path: Path) -> str:
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
        outcome = (
            f"aborted: {record['abort_reason']}"
            if record.get("abort_reason")
            else f"{record['final_key_bits']:,}-bit key emitted"
        )
        return f"on {record['finished']}, {outcome}"
    except (OSError, ValueError, KeyError, TypeError):
        return "its finished.json is unreadable"


def _saved_eve(config: dict[str, Any], run_file: Path) -> EveSpec:
    """The attack the saved choices were drawn for (the config's ``eve`` spelling)."""
    try:
        return EveSpec.parse(config["eve"])
    except ConfigError as exc:
        raise ConfigError(f"{str(run_file)!r}: the saved eve is malformed ({exc})") from None


def _load_choices(choices_type: str, secrets: bytes) -> Any:
    module_name, _, class_name = choices_type.rpartition(".")
    if not module_name.startswith("qkd_circuits."):
        raise ConfigError(f"unknown choices type {choices_type!r} in the run record")
    try:
        cls = getattr(importlib.import_module(module_name), class_name)
    except (ImportError, AttributeError):
        raise ConfigError(f"unknown choices type {choices_type!r} in the run record") from None
    try:
        with np.load(io.BytesIO(secrets), allow_pickle=False) as data:
            arrays = {name: data[name] for name in data.files}
    except (OSError, ValueError) as exc:
        raise ConfigError(f"the run's secrets cannot be read: {exc}") from None
    names = {f.name for f in dataclasses.fields(cls)} - {"eve"}
    if set(arrays) != names:
        raise ConfigError(
            f"the secrets hold {sorted(arrays)}, but {class_name} needs {sorted(names)}"
        )
    return cls(**arrays)
