"""Errors a user can fix. The CLI prints them as one line and exits non-zero."""

from __future__ import annotations

import errno

# The machine's state, not the data's: a full disk, a read-only or forbidden place. Work
# stops with one line and nothing is recorded as a property of the input, so a rerun retries.
ENVIRONMENT_ERRNOS = {errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EACCES, errno.EPERM}


# How every one-line error starts, wherever it is printed (the CLI, its parser) or read
# back (the server's training job shows the rest of the line).
ERROR_PREFIX = "signpose: error: "


class SignposeError(Exception):
    """Something is wrong with the input; the message says what and how to fix it."""


def is_environment_error(error: BaseException) -> bool:
    return isinstance(error, OSError) and error.errno in ENVIRONMENT_ERRNOS


def environment_error(error: OSError) -> SignposeError:
    """One line for a full disk or an unwritable place, with what to do."""
    where = f"{error.filename}: " if error.filename else ""
    fix = (
        "free some space"
        if error.errno in (errno.ENOSPC, errno.EDQUOT)
        else "choose a place you can write to (or fix its permissions)"
    )
    return SignposeError(f"{where}{error.strerror}; {fix}, then rerun the same command (finished work is kept)")
