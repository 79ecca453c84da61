"""Taking privileges away from a sandboxed process: root, capabilities, the way back, and the
system calls that could reach past the sandbox (a seccomp filter, built with libseccomp).

Runs inside the sandbox (the zygote, then each child) and in the grader (only `available()`).
Everything here fails closed: a step that does not take effect raises ConfineError, and the
zygote then does not start.
"""

import ctypes
import errno
import os
import signal
import struct

# The account student code runs as when the grader is root and names no user: nobody.
NOBODY = 65534

LIBSECCOMP = "libseccomp.so.2"
INSTALL_HINT = "install libseccomp (`sudo apt-get install libseccomp2`, or run `make sandbox`)"

# Refused to the zygote and every child: what could change the machine, the sandbox's
# namespaces or another process, whatever capabilities a misconfigured host leaves.
ALWAYS_DENIED = (
    "mount", "umount2", "pivot_root", "chroot", "move_mount", "open_tree", "fsopen", "fsconfig",
    "fsmount", "fspick", "mount_setattr", "unshare", "setns",
    "ptrace", "process_vm_readv", "process_vm_writev", "pidfd_getfd", "kcmp", "process_madvise",
    "keyctl", "add_key", "request_key", "bpf", "perf_event_open", "userfaultfd",
    "kexec_load", "kexec_file_load", "init_module", "finit_module", "delete_module",
    "swapon", "swapoff", "reboot", "acct", "quotactl", "syslog", "vhangup", "iopl", "ioperm",
    "open_by_handle_at", "name_to_handle_at", "lookup_dcookie", "nfsservctl",
    "sethostname", "setdomainname", "settimeofday", "clock_settime", "clock_adjtime", "adjtimex",
    "io_uring_setup", "io_uring_enter", "io_uring_register",
    # IPC objects would outlive the child that made them (POSIX shared memory is a file in the
    # emptied /dev/shm; these are not files).
    "shmget", "shmat", "shmctl", "shmdt", "semget", "semop", "semtimedop", "semctl",
    "msgget", "msgsnd", "msgrcv", "msgctl", "mq_open", "mq_unlink", "mq_timedsend",
    "mq_timedreceive", "mq_notify", "mq_getsetattr",
)
# clone() flags that make namespaces; clone3 hides its flags in memory a filter cannot read, so
# it answers ENOSYS, and the C library falls back to clone().
NAMESPACE_FLAGS = (0x80, 0x20000, 0x02000000, 0x04000000, 0x08000000, 0x10000000, 0x20000000, 0x40000000)
# Refused to a child without processes: every way to make one (threads are processes here).
NEW_PROCESS = ("fork", "vfork", "clone")
# A child may signal only itself (another zygote of the same uid is out of its reach).
SIGNALLING = ("kill", "tkill", "tgkill", "rt_sigqueueinfo", "rt_tgsigqueueinfo")
NO_PIDFD = ("pidfd_open", "pidfd_send_signal")

_PR_SET_PDEATHSIG, _PR_SET_DUMPABLE, _PR_CAPBSET_DROP = 1, 4, 24
_PR_SET_NO_NEW_PRIVS, _PR_CAP_AMBIENT, _PR_CAP_AMBIENT_CLEAR_ALL = 38, 47, 4
_ACT_ALLOW, _ATTR_OPTIMIZE = 0x7FFF0000, 8
_CMP_NE, _CMP_EQ, _CMP_MASKED_EQ = 1, 4, 7
_CAP_VERSION_3 = 0x20080522
_PR_SET_SECCOMP, _SECCOMP_MODE_FILTER = 22, 2
# One BPF instruction (struct sock_filter: code, jt, jf, k) and the kernel's longest program.
_INSTRUCTION, _BPF_MAXINSNS = struct.Struct("=HBBI"), 4096
# Two pids no process has (pid_max is at most 2**22), for finding where a child's pid goes.
_PLACEHOLDERS = (0x2C0FFEE1, 0x2C0FFEE2)


def _act_errno(number: int) -> int:
    return 0x00050000 | (number & 0xFFFF)


class ConfineError(Exception):
    """A privilege could not be dropped or the filter not loaded; the message says what to do."""


class _ArgCmp(ctypes.Structure):
    _fields_ = [("arg", ctypes.c_uint), ("op", ctypes.c_int), ("a", ctypes.c_uint64), ("b", ctypes.c_uint64)]


class _SockFprog(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]


class _CapHeader(ctypes.Structure):
    _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]


class _CapData(ctypes.Structure):
    _fields_ = [("effective", ctypes.c_uint32), ("permitted", ctypes.c_uint32), ("inheritable", ctypes.c_uint32)]


_libc = ctypes.CDLL(None, use_errno=True)
_libc.prctl.argtypes = [ctypes.c_int, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong]
_seccomp = None


def _library():
    """libseccomp, loaded once (before any fork, so children need not find it again)."""
    global _seccomp
    if _seccomp is None:
        try:
            lib = ctypes.CDLL(LIBSECCOMP, use_errno=True)
        except OSError as error:
            raise ConfineError(f"the seccomp library {LIBSECCOMP} could not be loaded ({error}): "
                               f"{INSTALL_HINT}") from None
        lib.seccomp_init.restype = ctypes.c_void_p
        lib.seccomp_init.argtypes = [ctypes.c_uint32]
        lib.seccomp_syscall_resolve_name.argtypes = [ctypes.c_char_p]
        lib.seccomp_rule_add_array.argtypes = [ctypes.c_void_p, ctypes.c_uint32, ctypes.c_int, ctypes.c_uint,
                                               ctypes.POINTER(_ArgCmp)]
        lib.seccomp_load.argtypes = [ctypes.c_void_p]
        lib.seccomp_attr_set.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_uint32]
        lib.seccomp_release.argtypes = [ctypes.c_void_p]
        lib.seccomp_export_bpf.argtypes = [ctypes.c_void_p, ctypes.c_int]
        _seccomp = lib
    return _seccomp


def available() -> str | None:
    """None when a seccomp filter can be built here, else why not (with the fix)."""
    try:
        _library()
    except ConfineError as error:
        return str(error)
    return None


def _prctl(option: int, arg: int = 0, what: str = "") -> int:
    result = _libc.prctl(option, arg, 0, 0, 0)
    if result < 0 and what:
        raise ConfineError(f"could not {what}: {os.strerror(ctypes.get_errno())}")
    return result


def _filter(lib, rules: list[tuple[str, int, list[tuple[int, int, int, int]]]]):
    """A libseccomp context that allows everything but `rules`: (syscall, errno, [(arg, op, a, b)...])
    (several rules for one syscall: any one that matches refuses it); the caller releases it."""
    ctx = lib.seccomp_init(_ACT_ALLOW)
    if not ctx:
        raise ConfineError("seccomp_init failed")
    try:
        # A binary tree of the rules rather than a list: fewer instructions for every system call
        # (libseccomp 2.5 and later; older ones keep the list).
        lib.seccomp_attr_set(ctx, _ATTR_OPTIMIZE, 2)
        for name, number, comparisons in rules:
            syscall = lib.seccomp_syscall_resolve_name(name.encode())
            if syscall < 0:  # not a system call of this architecture
                continue
            array = (_ArgCmp * max(1, len(comparisons)))(*[_ArgCmp(*c) for c in comparisons])
            result = lib.seccomp_rule_add_array(ctx, _act_errno(number), syscall, len(comparisons), array)
            if result < 0:
                raise ConfineError(f"the seccomp rule for {name} was refused ({os.strerror(-result)})")
    except BaseException:
        lib.seccomp_release(ctx)
        raise
    return ctx


def _deny(rules: list[tuple[str, int, list[tuple[int, int, int, int]]]]) -> None:
    """Load a filter that allows everything but `rules` (see _filter). Filters stack: a later
    one can only refuse more."""
    lib = _library()
    ctx = _filter(lib, rules)
    try:
        result = lib.seccomp_load(ctx)
        if result < 0:
            raise ConfineError(f"the seccomp filter could not be loaded ({os.strerror(-result)})")
    finally:
        lib.seccomp_release(ctx)


def _program(rules: list[tuple[str, int, list[tuple[int, int, int, int]]]]) -> bytes:
    """The BPF program (struct sock_filter[]) that _deny(rules) would load."""
    lib = _library()
    ctx = _filter(lib, rules)
    fd = os.memfd_create("seccomp-filter", os.MFD_CLOEXEC)
    try:
        result = lib.seccomp_export_bpf(ctx, fd)
        if result < 0:
            raise ConfineError(f"the seccomp filter could not be built ({os.strerror(-result)})")
        size = os.lseek(fd, 0, os.SEEK_END)
        program = os.pread(fd, size, 0)
    finally:
        os.close(fd)
        lib.seccomp_release(ctx)
    if not program or len(program) % _INSTRUCTION.size or len(program) // _INSTRUCTION.size > _BPF_MAXINSNS:
        raise ConfineError(f"the seccomp filter built is not a BPF program ({len(program)} bytes)")
    return program


def drop_root(uid: int = NOBODY, gid: int = NOBODY) -> None:
    """When running as root: become uid/gid for good, with no capability left in any set
    (bounding set included) and no supplementary groups. Otherwise only what an ordinary user
    can drop (inheritable and ambient capabilities). Sets no_new_privs either way."""
    if os.geteuid() == 0:
        last = int(open("/proc/sys/kernel/cap_last_cap").read())
        for cap in range(last + 1):
            _prctl(_PR_CAPBSET_DROP, cap, f"drop capability {cap} from the bounding set")
        os.setgroups([])
        os.setresgid(gid, gid, gid)
        os.setresuid(uid, uid, uid)
    _prctl(_PR_CAP_AMBIENT, _PR_CAP_AMBIENT_CLEAR_ALL)  # EINVAL on kernels without ambient sets
    data = (_CapData * 2)()
    if _libc.capset(ctypes.byref(_CapHeader(_CAP_VERSION_3, 0)), data) != 0:
        raise ConfineError(f"could not clear the capabilities: {os.strerror(ctypes.get_errno())}")
    _prctl(_PR_SET_NO_NEW_PRIVS, 1, "set no_new_privs")
    status = read_status()
    held = [key for key in ("CapInh", "CapPrm", "CapEff", "CapAmb") if int(status.get(key, "0"), 16)]
    if held or status["Uid"].split()[:3].count("0") or status.get("NoNewPrivs") != "1":
        raise ConfineError(f"privileges survived the drop: {held or status['Uid']}")


def confine_zygote() -> None:
    """The zygote's filter (inherited by its children), and no access to its memory through
    /proc or ptrace from a process of the same uid."""
    rules = [(name, errno.EPERM, []) for name in ALWAYS_DENIED]
    rules += [("clone", errno.EPERM, [(0, _CMP_MASKED_EQ, flag, flag)]) for flag in NAMESPACE_FLAGS]
    rules.append(("clone3", errno.ENOSYS, []))
    _prctl(_PR_SET_NO_NEW_PRIVS, 1, "set no_new_privs")
    _deny(rules)
    _prctl(_PR_SET_DUMPABLE, 0, "make the zygote non-dumpable")


def die_with_parent(parent: int | None) -> None:
    """SIGKILL when the process that started this one ends (set after any change of uid, which
    clears it); if that process is already gone (`parent` is no longer our parent), exit now."""
    _prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, "ask for a signal when the parent dies")
    if parent is not None and os.getppid() != parent:
        os._exit(1)


def _child_rules(processes: int, me: int) -> list[tuple[str, int, list[tuple[int, int, int, int]]]]:
    rules = [("prctl", errno.EPERM, [(0, _CMP_EQ, option, 0)]) for option in (_PR_SET_PDEATHSIG, _PR_SET_DUMPABLE)]
    if processes <= 0:
        rules += [(name, errno.EPERM, []) for name in NEW_PROCESS + NO_PIDFD]
        rules += [(name, errno.EPERM, [(0, _CMP_NE, me, 0)]) for name in SIGNALLING]
    return rules


class ChildFilter:
    """The child's own filter, before any student code: it may not undo die_with_parent or make
    itself dumpable, and without processes it may not make any or signal another.

    Built once in the zygote (libseccomp's compiler took about a millisecond of every child's
    set-up); each child loads its own copy with its pid written into the signal rules (`load`). Where the pid
    goes is found by building the program for two pids that no child can have and comparing:
    they must differ in those comparisons alone, and the first, given the second pid, must
    become the second byte for byte; otherwise ConfineError, and the zygote does not start."""

    def __init__(self, processes: int):
        first, second = (_child_rules(processes, pid) for pid in _PLACEHOLDERS)
        programs = [_program(first), _program(second)]
        self.program = programs[0]
        self.places = self._places(*programs)
        if (processes <= 0) != bool(self.places) or self._with(_PLACEHOLDERS[1]) != programs[1]:
            raise ConfineError("the child's seccomp filter could not be prepared for its pid")

    @staticmethod
    def _places(first: bytes, second: bytes) -> list[int]:
        """The instructions whose operand is the pid (first's placeholder, second's)."""
        if len(first) != len(second):
            return []
        places = []
        for index in range(len(first) // _INSTRUCTION.size):
            a, b = (_INSTRUCTION.unpack_from(p, index * _INSTRUCTION.size) for p in (first, second))
            if a != b:
                if a[:3] != b[:3] or (a[3], b[3]) != _PLACEHOLDERS:
                    return []
                places.append(index)
        return places

    def _with(self, pid: int) -> bytes:
        program = bytearray(self.program)
        for index in self.places:
            code, true, false, _ = _INSTRUCTION.unpack_from(program, index * _INSTRUCTION.size)
            _INSTRUCTION.pack_into(program, index * _INSTRUCTION.size, code, true, false, pid)
        return bytes(program)

    def load(self) -> None:
        """Stack this filter, for this process's pid, on the zygote's (in the child, once)."""
        buffer = ctypes.create_string_buffer(self._with(os.getpid()))
        program = _SockFprog(len(buffer.raw) // _INSTRUCTION.size, ctypes.cast(buffer, ctypes.c_void_p))
        _prctl(_PR_SET_NO_NEW_PRIVS, 1, "set no_new_privs")
        if _libc.prctl(_PR_SET_SECCOMP, _SECCOMP_MODE_FILTER, ctypes.addressof(program), 0, 0) != 0:
            raise ConfineError(f"the seccomp filter could not be loaded ({os.strerror(ctypes.get_errno())})")


def read_status() -> dict[str, str]:
    """/proc/self/status as a dict (Uid, CapEff, NoNewPrivs, Seccomp, ...)."""
    with open("/proc/self/status") as status:
        return dict(line.rstrip("\n").split(":\t", 1) for line in status if ":\t" in line)
