"""Writers that never mix, clobber or delete data (docs/io.md states the guarantees).

A write (1) checks the target is absent, or of the kind being written when overwriting,
(2) takes the lock ``PATH.fastinit-lock``, created with O_CREAT|O_EXCL and holding
pid, host and a random token, (3) writes a temporary created exclusively in PATH's
directory under a unique name ``.NAME.PID.TOKEN.fastinit-partial``, (4) publishes it in
one step: ``link()`` when not overwriting (fails if PATH exists), ``replace()`` for a
file, rename-aside-then-rename-in for a zarr directory, (5) removes the lock.  On failure
it removes only what it created: its temporary and its lock.
"""
from __future__ import annotations

import errno
import json
import os
import secrets
import shutil
import socket

LOCK_SUFFIX = ".fastinit-lock"
PARTIAL_SUFFIX = ".fastinit-partial"
OLD_SUFFIX = ".fastinit-old"

# link() is refused by filesystems without hard links (FAT, some FUSE and SMB mounts).
_NO_LINK = {errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EXDEV, errno.ENOSYS, errno.EMLINK}


class WriteConflict(FileExistsError):
    """Another writer holds PATH's lock, or PATH appeared while this writer was writing:
    this writer lost and published nothing."""


def sibling_name(path, suffix):
    """A fresh, clearly named sibling of `path`: ``.NAME.PID.TOKEN<suffix>``."""
    d, name = os.path.split(os.path.abspath(path))
    return os.path.join(d, f".{name[:180]}.{os.getpid()}.{secrets.token_hex(4)}{suffix}")


# -------------------------------------------------------------------- lock ----
class Lock:
    """The exclusive lock of one target.  O_EXCL creation is atomic on local
    filesystems and NFSv3+; flock() is not used (advisory, absent on some NFS)."""

    def __init__(self, target):
        self.target = target
        self.path = os.path.abspath(target) + LOCK_SUFFIX
        self.record = f"{os.getpid()} {socket.gethostname()} {secrets.token_hex(8)}\n"
        self.held = False

    def acquire(self):
        for attempt in range(2):
            try:
                fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
            except FileExistsError:
                owner = _read(self.path)
                if attempt == 0 and _is_stale(owner) and _break_stale(self.path, owner):
                    continue
                raise WriteConflict(_busy(self.target, self.path, owner)) from None
            try:
                os.write(fd, self.record.encode())
                os.fsync(fd)
            except BaseException:  # (disk full) an empty lock would block every writer
                os.close(fd)
                _unlink(self.path)
                raise
            os.close(fd)
            self.held = True
            return self
        raise WriteConflict(_busy(self.target, self.path, _read(self.path)))

    def check(self):
        """Raise WriteConflict unless the lock file is still this writer's."""
        if _read(self.path) != self.record:
            raise WriteConflict(f"the lock {self.path} was taken over by another writer while "
                                f"{self.target} was being written: nothing was published")

    def release(self):
        if self.held and _read(self.path) == self.record:  # never remove another's lock
            _unlink(self.path)
        self.held = False

    def __enter__(self):
        return self.acquire()

    def __exit__(self, *exc):
        self.release()


def _read(p):
    try:
        with open(p, encoding="utf-8", errors="replace") as f:
            return f.read(4096)
    except OSError:
        return None


def _owner(record):
    parts = (record or "").split()
    if len(parts) != 3 or not parts[0].isdigit():
        return None
    return int(parts[0]), parts[1]


def _is_stale(record):
    """Only a lock of a dead process on this very host is stale; a lock being
    written (empty), another host's, or a live process's is respected."""
    owner = _owner(record)
    if owner is None or owner[1] != socket.gethostname() or owner[0] == os.getpid():
        return False
    try:
        os.kill(owner[0], 0)
    except ProcessLookupError:
        return True
    except OSError:  # EPERM: alive, another user's
        return False
    return False


def _break_stale(lock_path, record):
    """Move the stale lock aside atomically, so two writers breaking it at once cannot
    both delete a fresh one; put it back if it changed meanwhile."""
    aside = sibling_name(lock_path, ".fastinit-stale-lock")
    try:
        os.rename(lock_path, aside)
    except FileNotFoundError:
        return True  # another writer broke it first
    if _read(aside) == record:
        _unlink(aside)
        return True
    try:  # a live writer's fresh lock: restore it without clobbering
        os.link(aside, lock_path)
    except OSError:
        pass
    _unlink(aside)
    return False


def _busy(target, lock_path, record):
    owner = _owner(record)
    who = f"pid {owner[0]} on {owner[1]}" if owner else "unknown writer"
    return (f"{target} is being written by another fastinit writer ({who}; lock {lock_path}): "
            f"wait for it, or remove the lock if no such writer is running")


# ------------------------------------------------------------------ targets ----
def zarr_node_type(path):
    """'array', 'group', or None for a directory that is not a zarr store."""
    meta = os.path.join(path, "zarr.json")
    if os.path.isfile(meta):
        try:
            with open(meta, encoding="utf-8") as f:
                return json.load(f).get("node_type")
        except (OSError, ValueError, AttributeError):
            return None
    if os.path.isfile(os.path.join(path, ".zarray")):
        return "array"
    if os.path.isfile(os.path.join(path, ".zgroup")):
        return "group"
    return None


def check_target(path, kind, overwrite):
    """Refuse a target that exists without `overwrite`, or that is not of the kind
    written ('npy': a regular file; 'zarr': a zarr array store).  True if it exists."""
    if not os.path.lexists(path):
        return False
    if kind == "npy":
        if os.path.isdir(path):
            raise IsADirectoryError(f"{path} is a directory: give a file name ending in .npy "
                                    "(a directory is never replaced)")
        if not overwrite:
            raise FileExistsError(f"{path} already exists: pass overwrite=True to replace it")
        if not os.path.isfile(path):
            raise FileExistsError(f"{path} exists and is not a regular file: refusing to replace it")
        return True
    if os.path.islink(path) or not os.path.isdir(path):
        raise FileExistsError(f"{path} exists and is not a directory: refusing to replace it "
                              "with a zarr array")
    if not overwrite:
        raise FileExistsError(f"{path} already exists: pass overwrite=True to replace it")
    node = zarr_node_type(path)
    if node != "array":
        what = "a zarr group" if node == "group" else "a directory that is not a zarr array"
        raise FileExistsError(f"{path} is {what}: only a zarr array is replaced, "
                              "remove it yourself or choose another path")
    return True


# ------------------------------------------------------------------ publish ----
def publish_file(tmp, path, overwrite):
    """Give the complete file `tmp` the name `path` in one step."""
    if overwrite:
        os.replace(tmp, path)
        return
    try:
        os.link(tmp, path)  # atomic and never clobbers, also on NFS
    except FileExistsError:
        raise WriteConflict(f"{path} was created by another writer meanwhile: "
                            "this write was not published") from None
    except OSError as exc:
        if exc.errno not in _NO_LINK:
            raise
        # No hard links here: rename under the lock (only a non-fastinit writer
        # creating `path` in the instant between check and rename could be replaced).
        if os.path.lexists(path):
            raise WriteConflict(f"{path} was created by another writer meanwhile: "
                                "this write was not published") from None
        os.rename(tmp, path)
        return
    os.unlink(tmp)


def publish_dir(tmp, path, overwrite):
    """Give the complete directory `tmp` the name `path`.  Replacing an array: the old
    one is renamed aside (.NAME.PID.TOKEN.fastinit-old), the new one renamed in, then
    the old one deleted; between the two renames `path` is briefly absent."""
    if not os.path.lexists(path):
        try:
            os.rename(tmp, path)
        except OSError as exc:
            if exc.errno in (errno.EEXIST, errno.ENOTEMPTY):
                raise WriteConflict(f"{path} was created by another writer meanwhile: "
                                    "this write was not published") from None
            raise
        return
    if not overwrite:
        raise WriteConflict(f"{path} was created by another writer meanwhile: "
                            "this write was not published")
    check_target(path, "zarr", True)
    swap_dir(tmp, path)


def swap_dir(tmp, path):
    """Replace the directory `path` (already checked to be replaceable) by `tmp`: the old one
    is renamed aside, the new one renamed in, then the old one removed (docs/io.md: `path`
    is absent between the two renames)."""
    aside = sibling_name(path, OLD_SUFFIX)
    os.rename(path, aside)
    try:
        os.rename(tmp, path)
    except BaseException:
        os.rename(aside, path)
        raise
    shutil.rmtree(aside)


def remove_created(p):
    """Remove a temporary this writer created (a file or a directory tree)."""
    try:
        if os.path.isdir(p) and not os.path.islink(p):
            shutil.rmtree(p)
        else:
            os.unlink(p)
    except FileNotFoundError:
        pass


def _unlink(p):
    try:
        os.unlink(p)
    except FileNotFoundError:
        pass


def fsync_dir(d):
    try:
        fd = os.open(d, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass  # some filesystems cannot fsync a directory
    finally:
        os.close(fd)


def fsync_tree(root, pool=None):
    """fsync every file, then every directory, under `root` (a zarr store before its
    rename), so the published name never points at chunks still in the page cache."""
    files, dirs = [], []
    for d, _, names in os.walk(root):
        dirs.append(d)
        files.extend(os.path.join(d, n) for n in names)

    def sync(p):
        fd = os.open(p, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)

    if pool is not None and len(files) > 1:
        list(pool.map(sync, files))
    else:
        for p in files:
            sync(p)
    for d in reversed(dirs):
        fsync_dir(d)
