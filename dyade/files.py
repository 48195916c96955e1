"""The files of the embedded default under DYADE_HOME, private from the start: the folders 0700, the SQLite
database and the logs 0600, secrets created 0600 and whole in one step (a temporary file opened 0600, then
linked to its name: another process sees no file or the whole secret, never a half-written or readable one).
Nothing is written first and chmod-ed after."""
from __future__ import annotations

import logging
import os
import secrets
import stat
from pathlib import Path
from typing import BinaryIO

log = logging.getLogger("dyade.files")

DIR_MODE = 0o700
FILE_MODE = 0o600


def _tighten(path: Path, mode: int) -> None:
    """An existing folder or file left more open by an earlier version: closed to its owner. Not a folder
    Dyade does not own, a sticky one (/tmp) or the user's home directory: those are only reported."""
    try:
        st = path.stat()
    except FileNotFoundError:
        return
    if not stat.S_IMODE(st.st_mode) & 0o077:
        return
    if stat.S_ISDIR(st.st_mode) and (st.st_mode & stat.S_ISVTX or path.resolve() in (Path.home().resolve(),
                                                                                     Path("/"))):
        log.warning("dossier ouvert aux autres utilisateurs, laissé tel quel", extra={"path": str(path)})
        return
    if hasattr(os, "getuid") and st.st_uid != os.getuid():
        log.warning("fichier d'un autre propriétaire, droits inchangés", extra={"path": str(path)})
        return
    try:
        os.chmod(path, mode)
    except OSError as exc:
        log.warning("droits inchangés: %s", exc, extra={"path": str(path)})


def private_dir(path: Path | str) -> Path:
    """The folder, created 0700 (its parents as the umask says), or closed to its owner if it was open."""
    path = Path(path)
    path.mkdir(mode=DIR_MODE, parents=True, exist_ok=True)
    _tighten(path, DIR_MODE)
    return path


def private_file(path: Path | str) -> Path:
    """An (empty) file created 0600 if it does not exist (the SQLite database before SQLite opens it: its
    -wal and -shm files take the database's mode); an existing one closed to its owner."""
    path = Path(path)
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE))
    except FileExistsError:
        _tighten(path, FILE_MODE)
    return path


def open_private_append(path: Path | str) -> BinaryIO:
    """A log file opened for appending, created 0600."""
    path = Path(path)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, FILE_MODE)
    if stat.S_IMODE(os.fstat(fd).st_mode) & 0o077:
        _tighten(path, FILE_MODE)
    return os.fdopen(fd, "ab")


def create_secret(path: Path | str, data: bytes) -> bool:
    """Writes `data` to `path` unless it exists: mode 0600 from the first byte, the whole content at once.
    False when the file already existed (another process made it first: read that one)."""
    path = Path(path)
    private_dir(path.parent)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        try:
            os.link(tmp, path)  # atomic, and refuses to replace an existing file
        except FileExistsError:
            return False
        except OSError:  # a file system without hard links: exclusive creation, still 0600 from the start
            try:
                fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
            except FileExistsError:
                return False
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
        return True
    finally:
        tmp.unlink(missing_ok=True)
