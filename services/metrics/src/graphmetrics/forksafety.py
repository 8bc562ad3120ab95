"""Fork safety: after ``fork()`` the child must not share the parent's socket, thread or locks.

Objects that hold such state register here; one ``os.register_at_fork`` hook (installed once, so
creating many reporters does not grow the hook list) calls their ``after_fork_in_child()`` in the
child. Registration holds only a weak reference.
"""

from __future__ import annotations

import os
import weakref
from typing import Protocol

__all__ = ["ForkAware", "reset_after_fork"]


class ForkAware(Protocol):
    def after_fork_in_child(self) -> None: ...


_REGISTERED: weakref.WeakSet[ForkAware] = weakref.WeakSet()


def reset_after_fork(obj: ForkAware) -> None:
    """Call ``obj.after_fork_in_child()`` in every child process forked from now on."""
    _REGISTERED.add(obj)


def _run_child_hooks() -> None:
    for obj in list(_REGISTERED):
        obj.after_fork_in_child()


if hasattr(os, "register_at_fork"):  # POSIX
    os.register_at_fork(after_in_child=_run_child_hooks)
