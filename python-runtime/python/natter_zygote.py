"""Natter's zygote: one per bot folder, inside that bot's bubblewrap sandbox.

natter_runtime.py (mode "zygote") has imported the helpers and the common packages once;
`serve` then forks one process per call, so a call costs a fork instead of an interpreter
start and `import requests`. Each call gets, before any of its code runs:

- fresh process memory: a fork of the zygote, which never runs user code;
- its own user, pid, mount, IPC and UTS namespaces (and network namespace when the sandbox
  has no network): it is pid 1 of its own pid namespace, sees only its own processes in its
  own /proc, has its own empty /tmp, and cannot signal, trace or read the zygote or any
  other call; when it ends, the kernel kills every process it started;
- its own limits (address space, file size, open files, and processes counted in its own
  user namespace), and no capabilities;
- its own channel socket and stdout/stderr pipes, passed by the server with the request.

Control protocol (fd 3, a SOCK_SEQPACKET socket; one JSON object per packet):
  server -> zygote  {"t": "spawn", "id": N} with three fds: channel socket, stdout, stderr
  zygote -> server  {"t": "ready"} once; {"t": "exit", "id": N, "code": C} when call N's
                    process has ended (C < 0: killed by signal -C);
                    {"t": "spawn_failed", "id": N, "message": "..."} when the fork failed.
The server closing its end ends the zygote, and with it (the sandbox's pid namespace) every
call still running.

The call process is made by one clone(2) into its new namespaces (a fork that Python's
own fork hooks surround exactly as they do `os.fork`), which costs half of forking a
namespace-creating helper that then forks the call; the zygote reaps it and reports how
it ended.
"""

import ctypes as _ctypes
import fcntl as _fcntl
import gc as _gc
import json as _json
import os as _os
import platform as _platform
import resource as _resource
import select as _select
import signal as _signal
import socket as _socket
import struct as _struct

_CLONE_NEWNS = 0x00020000
_CLONE_NEWUTS = 0x04000000
_CLONE_NEWIPC = 0x08000000
_CLONE_NEWUSER = 0x10000000
_CLONE_NEWPID = 0x20000000
_CLONE_NEWNET = 0x40000000
_MS_NOSUID = 0x2
_MS_NODEV = 0x4
_MS_NOEXEC = 0x8
_MS_REC = 0x4000
_MS_PRIVATE = 1 << 18
_PR_SET_PDEATHSIG = 1
_LINUX_CAPABILITY_VERSION_3 = 0x20080522
_SIOCSIFFLAGS = 0x8914
_IFF_UP = 0x1
_IFF_LOOPBACK = 0x8
_IFF_RUNNING = 0x40
_CONTROL_FD = 3

_libc = _ctypes.CDLL(None, use_errno=True)
# Calls through this one keep the GIL held, as the clone below must (like os.fork).
_libc_gil = _ctypes.PyDLL(None, use_errno=True)
_libc_gil.syscall.restype = _ctypes.c_long
_SYS_CLONE = {"x86_64": 56, "aarch64": 220}.get(_platform.machine())


class _CapHeader(_ctypes.Structure):
    _fields_ = [("version", _ctypes.c_uint32), ("pid", _ctypes.c_int)]


class _CapData(_ctypes.Structure):
    _fields_ = [
        ("effective", _ctypes.c_uint32),
        ("permitted", _ctypes.c_uint32),
        ("inheritable", _ctypes.c_uint32),
    ]


def _check(result, what):
    if result != 0:
        err = _ctypes.get_errno()
        raise OSError(err, f"{what}: {_os.strerror(err)}")


def _send(ctl, msg):
    try:
        ctl.send(_json.dumps(msg, separators=(",", ":")).encode())
    except OSError:
        _os._exit(0)  # the server is gone: so are we (and, with us, the sandbox)


def serve(config, run_call):
    """Fork one call process per spawn request until the server closes the control socket.

    `config`: {"limits": {...}, "isolate_network": bool}. `run_call()` runs in the call
    process once fds 0-4 are in place; it never returns.
    """
    ctl = _socket.socket(fileno=_CONTROL_FD)
    _os.close(_CONTROL_FD + 1)  # the launcher put the same socket on fd 4 too
    _os.set_inheritable(ctl.fileno(), False)
    wake_r, wake_w = _os.pipe2(_os.O_NONBLOCK | _os.O_CLOEXEC)
    _signal.signal(_signal.SIGCHLD, lambda *_: None)
    _signal.set_wakeup_fd(wake_w)
    # Everything imported so far is shared with every call: keep the collector from
    # touching it in the children (which would copy the pages it writes to).
    _gc.collect()
    _gc.freeze()
    calls = {}  # call process pid -> call id
    # Our ids in the sandbox, mapped to themselves in each call's user namespace (inside a
    # new namespace they read as the overflow id until mapped).
    config = dict(config, ids=(_os.getuid(), _os.getgid()))
    _send(ctl, {"t": "ready"})
    while True:
        readable, _, _ = _select.select([ctl, wake_r], [], [])
        if wake_r in readable:
            try:
                while _os.read(wake_r, 512):
                    pass
            except BlockingIOError:
                pass
            _reap(ctl, calls)
        if ctl not in readable:
            continue
        msg, fds, _, _ = _socket.recv_fds(ctl, 65536, 8)
        if not msg:
            _os._exit(0)  # the server closed the control socket: shut down
        req = _json.loads(msg)
        call_id = req.get("id")
        if len(fds) != 3:
            for fd in fds:
                _os.close(fd)
            _send(ctl, {"t": "spawn_failed", "id": call_id, "message": "expected 3 fds"})
            continue
        try:
            pid = _clone(config)
        except OSError as e:
            for fd in fds:
                _os.close(fd)
            _send(ctl, {"t": "spawn_failed", "id": call_id, "message": f"clone: {e}"})
            continue
        if pid == 0:
            try:
                _signal.set_wakeup_fd(-1)
                _signal.signal(_signal.SIGCHLD, _signal.SIG_DFL)
                ctl.close()
                _os.close(wake_r)
                _os.close(wake_w)
                _call_process(fds, config, run_call)
            except BaseException as e:  # noqa: BLE001 - anything: report it, never run the job
                _fail(fds[0], "setting up the call process", e)
            finally:
                _os._exit(72)
        for fd in fds:
            _os.close(fd)
        calls[pid] = call_id


def _reap(ctl, calls):
    while True:
        try:
            pid, status = _os.waitpid(-1, _os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return
        call_id = calls.pop(pid, None)
        if call_id is not None:
            code = _os.waitstatus_to_exitcode(status)
            _send(ctl, {"t": "exit", "id": call_id, "code": code})


def _fail(chan_fd, what, err):
    """Tell the server (on the call's channel) that the call process could not be set up."""
    line = _json.dumps({"t": "fail", "message": f"{what}: {err}"}) + "\n"
    try:
        _os.write(chan_fd, line.encode())
    except OSError:
        pass
    _os._exit(71)


def _clone(config):
    """Fork into new user, pid, mount, IPC and UTS (and network) namespaces at once: 0 in
    the child (pid 1 of its namespace), its pid in the zygote."""
    flags = _CLONE_NEWUSER | _CLONE_NEWPID | _CLONE_NEWNS | _CLONE_NEWIPC | _CLONE_NEWUTS
    if config.get("isolate_network"):
        flags |= _CLONE_NEWNET
    if _SYS_CLONE is None:
        raise OSError(0, f"clone: unsupported machine {_platform.machine()}")
    _ctypes.pythonapi.PyOS_BeforeFork()
    # No new stack: like fork, the child continues on a copy of this one.
    pid = _libc_gil.syscall(
        _ctypes.c_long(_SYS_CLONE), _ctypes.c_long(flags | _signal.SIGCHLD),
        _ctypes.c_long(0), _ctypes.c_long(0), _ctypes.c_long(0), _ctypes.c_long(0),
    )
    if pid == 0:
        _ctypes.pythonapi.PyOS_AfterFork_Child()
        return 0
    err = _ctypes.get_errno()
    _ctypes.pythonapi.PyOS_AfterFork_Parent()
    if pid < 0:
        raise OSError(err, _os.strerror(err))
    return pid


def _call_process(fds, config, run_call):
    """In the call process (pid 1 of its pid namespace): the same uid and gid as outside,
    private /proc and /tmp, no capabilities, its limits, fds 0-4, then the job."""
    _check(_libc.prctl(_PR_SET_PDEATHSIG, _signal.SIGKILL, 0, 0, 0), "prctl")
    # The sandbox user stays itself: files it creates are its own, nothing maps to root.
    uid, gid = config["ids"]
    for name, line in (("uid_map", f"{uid} {uid} 1\n"), ("setgroups", "deny"),
                       ("gid_map", f"{gid} {gid} 1\n")):
        with open(f"/proc/self/{name}", "w") as f:
            f.write(line)
    limits = config["limits"]
    _check(_libc.mount(None, b"/", None, _MS_REC | _MS_PRIVATE, None), "mount --make-rprivate /")
    tmp_opts = f"size={int(limits['tmp_size'])},mode=0755".encode()
    _check(_libc.mount(b"tmpfs", b"/tmp", b"tmpfs", _MS_NOSUID | _MS_NODEV, tmp_opts), "mount /tmp")
    _check(_libc.mount(b"proc", b"/proc", b"proc", _MS_NOSUID | _MS_NODEV | _MS_NOEXEC, None),
           "mount /proc")
    if config.get("isolate_network"):
        # A loopback of its own, up, as bubblewrap gives a sandbox without network.
        with _socket.socket(_socket.AF_INET, _socket.SOCK_DGRAM) as s:
            flags = _IFF_UP | _IFF_LOOPBACK | _IFF_RUNNING
            _fcntl.ioctl(s.fileno(), _SIOCSIFFLAGS, _struct.pack("16sH14x", b"lo", flags))
    header = _CapHeader(_LINUX_CAPABILITY_VERSION_3, 0)
    data = (_CapData * 2)()
    _check(_libc.capset(_ctypes.byref(header), data), "capset")
    _os.setsid()
    for res, value in (
        (_resource.RLIMIT_AS, limits["memory"]),
        (_resource.RLIMIT_FSIZE, limits["fsize"]),
        (_resource.RLIMIT_CORE, 0),
        (_resource.RLIMIT_NOFILE, 256),
        (_resource.RLIMIT_NPROC, limits["nproc"]),
    ):
        _resource.setrlimit(res, (int(value), int(value)))
    # Move the three fds high first, so that placing them cannot clobber one another.
    high = [_fcntl.fcntl(fd, _fcntl.F_DUPFD_CLOEXEC, 10) for fd in fds]
    null = _os.open("/dev/null", _os.O_RDONLY)
    _os.dup2(null, 0)
    _os.dup2(high[1], 1)
    _os.dup2(high[2], 2)
    _os.dup2(high[0], 3)
    _os.dup2(high[0], 4)
    _os.closerange(5, 1 << 16)  # the originals, the copies, anything else inherited
    fds[0] = 4  # where a setup failure is now reported (the old number may be reused)
    run_call()
