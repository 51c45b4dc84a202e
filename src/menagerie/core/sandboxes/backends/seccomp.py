"""A seccomp program that refuses new user namespaces, for bwrap's `--seccomp`.

When the server runs as root, bwrap runs privileged (no user namespace of its own, so that
it can bind a workspace whose parents the sandbox's user may not enter) and the sandbox
switches to its own user inside. bwrap's `--disable-userns` needs a user namespace, so this
filter does that job: `unshare` and `clone` asking for CLONE_NEWUSER fail with EPERM,
`clone3` (whose flags a filter cannot read) with ENOSYS so that libc falls back to `clone`,
and system calls of another ABI (i386, x32) are refused outright so they cannot go around it.
"""

from __future__ import annotations

import errno
import platform
import struct

CLONE_NEWUSER = 0x10000000
X32_BIT = 0x40000000
# (audit arch, unshare, clone, clone3) per machine
ARCHES: dict[str, tuple[int, int, int, int]] = {
    "x86_64": (0xC000003E, 272, 56, 435),
    "aarch64": (0xC00000B7, 97, 220, 435),
}
_LD_ABS = 0x20  # BPF_LD | BPF_W | BPF_ABS
_JEQ = 0x15  # BPF_JMP | BPF_JEQ | BPF_K
_JGE = 0x35  # BPF_JMP | BPF_JGE | BPF_K
_JSET = 0x45  # BPF_JMP | BPF_JSET | BPF_K
_RET = 0x06  # BPF_RET | BPF_K
ALLOW = 0x7FFF0000
ERRNO = 0x00050000
# offsets in struct seccomp_data: nr, arch, then args[6] of 8 bytes (low half first on LE)
_NR, _ARCH, _ARG0 = 0, 4, 16


def _op(code: int, k: int, jt: int = 0, jf: int = 0) -> bytes:
    return struct.pack("<HBBI", code, jt, jf, k)


def no_user_namespaces(machine: str | None = None) -> bytes | None:
    """The compiled filter for this machine, or None where its numbers are not known."""
    numbers = ARCHES.get(machine or platform.machine())
    if numbers is None:
        return None
    arch, unshare, clone, clone3 = numbers
    program = [
        _op(_LD_ABS, _ARCH),
        _op(_JEQ, arch, 1, 0),
        _op(_RET, ERRNO | errno.ENOSYS),  # another ABI
        _op(_LD_ABS, _NR),
        _op(_JGE, X32_BIT, 0, 1),
        _op(_RET, ERRNO | errno.ENOSYS),  # x32 numbers
        _op(_JEQ, clone3, 0, 1),
        _op(_RET, ERRNO | errno.ENOSYS),
        _op(_JEQ, unshare, 1, 0),
        _op(_JEQ, clone, 0, 3),
        _op(_LD_ABS, _ARG0),
        _op(_JSET, CLONE_NEWUSER, 0, 1),
        _op(_RET, ERRNO | errno.EPERM),
        _op(_RET, ALLOW),
    ]
    return b"".join(program)
