"""The active-model choice, kept in a small file so every worker process and every restart agree.

Writes are atomic (temp file, fsync, ``os.replace``); readers re-read only when the file's
modification stamp changes, so checking it on every batch costs one ``stat``.
"""

from __future__ import annotations

import json
import os
import tempfile
import threading
from datetime import UTC, datetime
from pathlib import Path

from tabserve.store.folders import configured_folder

STATE_DIR_ENV = "TABSERVE_STATE_DIR"


def default_state_dir() -> Path:
    """``$TABSERVE_STATE_DIR``, else a folder beside the model store (``$BENTOML_HOME``)."""
    return configured_folder(STATE_DIR_ENV, "tabserve-state")


class ActiveModelFile:
    """The tag of the model that answers predictions for one dataset."""

    def __init__(self, directory: Path, dataset: str):
        self.path = Path(directory) / f"active-{dataset}.json"
        self._lock = threading.Lock()
        self._stamp: tuple[int, int, int] | None = None
        self._tag: str | None = None

    def read(self) -> str | None:
        """The chosen tag, or None when nobody has chosen (or the file is unreadable)."""
        try:
            stat = os.stat(self.path)
        except FileNotFoundError:
            self._stamp, self._tag = None, None
            return None
        stamp = (stat.st_ino, stat.st_mtime_ns, stat.st_size)
        if stamp != self._stamp:
            with self._lock:
                try:
                    tag = json.loads(self.path.read_text())["tag"]
                except (OSError, ValueError, KeyError, TypeError):
                    tag = None
                self._stamp, self._tag = stamp, tag
        return self._tag

    def write(self, tag: str) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        payload = json.dumps({"tag": tag, "selected_at": datetime.now(UTC).isoformat()})
        descriptor, temporary = tempfile.mkstemp(dir=self.path.parent, prefix=".active-")
        try:
            with os.fdopen(descriptor, "w") as stream:
                stream.write(payload)
                stream.flush()
                os.fsync(stream.fileno())
            os.replace(temporary, self.path)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise
        directory = os.open(self.path.parent, os.O_RDONLY)
        try:
            os.fsync(directory)
        finally:
            os.close(directory)
