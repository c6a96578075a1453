"""Natter's Python side: runs ONE bot owner's action or event handler per process.

Started by the Rust crate natter-python-runtime (embedded there with include_str!) as
`python3 -u -B -E -s natter_runtime.py CONFIG_JSON`, in one of two modes:
- "worker" (the warm pool): it imports what user code usually needs (requests), says
  `ready`, runs the single job that arrives, and exits;
- "zygote" (one per bot folder): it imports the same once, then forks one process per call
  (natter_zygote.py); each forked process is then exactly a worker that was already warm.

Invariants:
- The result and the helper calls travel over a private channel, never stdout: fd 3 is
  read (jobs and helper replies from Rust), fd 4 is written (helper calls and the one
  result). One JSON object per line. stdout/stderr belong to the user's code (the run log).
- Exactly one job per process; the process exits after writing its result.
- The zygote never runs user code, so every call starts from the same clean state.
- Helpers never name a conversation: Rust applies them to the run's own conversation,
  whatever the user's code does to `context`.
"""

import datetime as _dt
import json as _json
import os as _os
import re as _re
import resource as _resource
import sys as _sys
import threading as _threading
import traceback as _traceback
import types as _types

_CONFIG = _json.loads(_sys.argv[1])
# In the bubblewrap sandbox we are inside a fresh user namespace, so RLIMIT_NPROC set here
# counts only this sandbox's processes (not the other pre-started workers of the same uid).
# A zygote sets it in each forked call instead, inside that call's own user namespace.
if _CONFIG.get("nproc"):
    _n = int(_CONFIG["nproc"])
    _resource.setrlimit(_resource.RLIMIT_NPROC, (_n, _n))
for _p in _CONFIG.get("sys_path", []):
    if _p not in _sys.path:
        _sys.path.append(_p)

_CHANNEL_IN = 3
_CHANNEL_OUT = 4
_rx = _tx = None
_MAIN_PID = None
_lock = _threading.Lock()  # one helper call at a time, even from user threads
_next_id = [0]


def _open_channel():
    """Take fds 3 and 4 as the channel (at start in a worker, after the fork in a zygote)."""
    global _rx, _tx, _MAIN_PID
    # User code must not hand our channel to its subprocesses by accident.
    _os.set_inheritable(_CHANNEL_IN, False)
    _os.set_inheritable(_CHANNEL_OUT, False)
    _rx = _os.fdopen(_CHANNEL_IN, "r", encoding="utf-8", newline="\n")
    _tx = _os.fdopen(_CHANNEL_OUT, "w", encoding="utf-8", newline="\n")
    # Only this process may talk on the channel: a child forked by user code shares it,
    # and its writes would interleave with ours.
    _MAIN_PID = _os.getpid()


# Warm-up: pay for the common imports before the job arrives (that is the point of the pool
# and of the zygote).
try:
    import requests  # noqa: F401  (bot owners use it without thinking about it)
except Exception:  # pragma: no cover - reported by the job instead, if it imports it
    pass
# `holidays` is imported on first use of is_holiday: importing it ahead would add ~40% to
# every warm process's start-up cost and memory for the few actions that need it.
_holidays = None

# A little memory kept aside, released when user code hits MemoryError so that we can
# still format and send the error.
_reserve = bytearray(1 << 20)


def _send(msg):
    if _os.getpid() != _MAIN_PID:
        raise HelperError("Natter helpers are not available in a forked child process")
    _tx.write(_json.dumps(msg, ensure_ascii=False, separators=(",", ":")) + "\n")
    _tx.flush()


class HelperError(Exception):
    """A Natter helper could not do what was asked (the message says why)."""


class HelperArgumentError(HelperError, ValueError):
    """A Natter helper was called with an invalid argument."""


def _call(fn, **args):
    with _lock:
        _next_id[0] += 1
        _send({"t": "call", "id": _next_id[0], "fn": fn, "args": args})
        line = _rx.readline()
    if not line:
        raise HelperError("the Natter runtime closed the helper channel")
    reply = _json.loads(line)
    if reply.get("ok"):
        return reply.get("value")
    message = reply.get("error") or "helper failed"
    if reply.get("kind") == "invalid_argument":
        raise HelperArgumentError(message)
    raise HelperError(message)


def _need_str(name, value, allow_none=False):
    if value is None and allow_none:
        return
    if not isinstance(value, str):
        raise HelperArgumentError(f"{name} must be a string, got {type(value).__name__}")


# ---- helpers (globals of the user's module) ------------------------------------------------


def get_conversation_metadata(context, key):
    """Read a metadata value of this conversation (None when the key is not set)."""
    _need_str("key", key)
    return _call("metadata.get", key=key)


def set_conversation_metadata(context, key, value):
    """Write a metadata value (any JSON value) on this conversation. Visible at once."""
    _need_str("key", key)
    return _call("metadata.set", key=key, value=value)


def delete_conversation_metadata(context, key):
    """Delete a metadata key of this conversation (no error if it was not set)."""
    _need_str("key", key)
    return _call("metadata.delete", key=key)


def add_conversation_tag(context, tag):
    """Add a tag to this conversation. Returns {"success", "message", "tagId"}."""
    _need_str("tag", tag)
    return _call("tag.add", tag=tag)


def add_conversation_event(context, event):
    """Record an event (a string, or a dict with at least "name") on the conversation timeline."""
    if not isinstance(event, (str, dict)):
        raise HelperArgumentError(f"event must be a string or a dict, got {type(event).__name__}")
    return _call("event.add", event=event)


def hand_off_conversation(context, reason=None, phone_destination=None):
    """Hand the conversation off to a human agent. Returns {"success", "message"}.

    reason: at most 500 characters. phone_destination: E.164 ("+15551234567"); transfers a
    live call on the phone channel, ignored on any other channel. Idempotent; skipped in
    test runs.
    """
    _need_str("reason", reason, allow_none=True)
    _need_str("phone_destination", phone_destination, allow_none=True)
    return _call("handoff", reason=reason, phone_destination=phone_destination)


def _classify(fn, fallback, **args):
    try:
        answer = _call(fn, **args)
    except HelperArgumentError:
        raise
    except HelperError as e:
        if fallback is not None:
            print(f"natter: {fn} failed ({e}); returning the fallback", file=_sys.stderr)
            return fallback
        raise
    if answer.get("configured") is False:
        if fallback is not None:
            return fallback
        raise HelperError(
            "no LLM is configured for this bot, and no fallback was given "
            "(pass fallback=... or configure the bot's LLM endpoint)"
        )
    return answer["value"]


def llm_classify_binary(prompt, input, fallback=None):
    """Classify `input` as True or False according to `prompt`, using the bot's LLM."""
    _need_str("prompt", prompt)
    _need_str("input", input)
    if fallback is not None and not isinstance(fallback, bool):
        raise HelperArgumentError("fallback must be True, False or None")
    return _classify("llm.binary", fallback, prompt=prompt, input=input)


def llm_classify_category(prompt, input, options, fallback=None):
    """Classify `input` into one of `options` (a list of strings), using the bot's LLM."""
    _need_str("prompt", prompt)
    _need_str("input", input)
    if not isinstance(options, (list, tuple)) or not all(isinstance(o, str) for o in options):
        raise HelperArgumentError("options must be a list of strings")
    _need_str("fallback", fallback, allow_none=True)
    return _classify("llm.category", fallback, prompt=prompt, input=input, options=list(options))


def get_ab_test_variant(context, test_name, possible_variants):
    """A variant of `possible_variants`, chosen once per conversation and test, then sticky."""
    _need_str("test_name", test_name)
    if not isinstance(possible_variants, (list, tuple)) or not all(
        isinstance(v, str) for v in possible_variants
    ):
        raise HelperArgumentError("possible_variants must be a list of strings")
    return _call("ab.variant", test_name=test_name, variants=list(possible_variants))


def read_attachment(context, attachment):
    """The bytes of a file sent in this conversation: pass one of a message's "attachments"
    (or its "id"). Files larger than 10 MiB are refused."""
    if isinstance(attachment, dict):
        attachment = attachment.get("id")
    _need_str("attachment id", attachment)
    import base64 as _base64

    return _base64.b64decode(_call("attachment.read", id=attachment))


def add_google_sheets_row(sheet_id, data):
    """Append a row to a Google Sheet with the bot's service account.

    data: a dict (values in key order) or a list of values.
    """
    _need_str("sheet_id", sheet_id)
    if not isinstance(data, (dict, list, tuple)):
        raise HelperArgumentError("data must be a dict or a list")
    # Sent as a list: a JSON object's key order is not kept on the way to Rust.
    if isinstance(data, dict):
        columns, data = [str(k) for k in data], list(data.values())
    else:
        columns, data = None, list(data)
    return _call("sheets.append", sheet_id=sheet_id, data=data, columns=columns)


def is_holiday(country, state=None, region=None, check_date=None):
    """True if `check_date` (a date, datetime or "YYYY-MM-DD"; default today, UTC) is a
    public holiday in `country` (ISO code, e.g. "US"), optionally in a state or region."""
    global _holidays
    if _holidays is None:
        try:
            import holidays as _h
        except ImportError:
            raise HelperError("the 'holidays' package is not installed on this server") from None
        _holidays = _h
    _need_str("country", country)
    _need_str("state", state, allow_none=True)
    _need_str("region", region, allow_none=True)
    if check_date is None:
        day = _dt.datetime.now(_dt.timezone.utc).date()
    elif isinstance(check_date, _dt.datetime):
        day = check_date.date()
    elif isinstance(check_date, _dt.date):
        day = check_date
    elif isinstance(check_date, str):
        try:
            day = _dt.date.fromisoformat(check_date[:10])
        except ValueError:
            raise HelperArgumentError(f"check_date {check_date!r} is not YYYY-MM-DD") from None
    else:
        raise HelperArgumentError("check_date must be a date, a datetime, a YYYY-MM-DD string or None")
    try:
        calendar = _holidays.country_holidays(country.upper(), subdiv=state or region, years=day.year)
    except NotImplementedError:
        raise HelperArgumentError(f"unknown country code {country!r}") from None
    except Exception as e:
        raise HelperArgumentError(str(e)) from None
    return day in calendar


def list_predefined_functions():
    """Every helper available to actions and event handlers: name, signature, description."""
    out = []
    for fn in _HELPER_FUNCTIONS:
        import inspect

        doc = (fn.__doc__ or "").strip().split("\n\n")[0]
        out.append(
            {"name": fn.__name__, "signature": fn.__name__ + str(inspect.signature(fn)),
             "description": " ".join(doc.split())}
        )
    return out


_HELPER_FUNCTIONS = [
    get_conversation_metadata, set_conversation_metadata, delete_conversation_metadata,
    add_conversation_tag, add_conversation_event, hand_off_conversation,
    llm_classify_binary, llm_classify_category, get_ab_test_variant,
    add_google_sheets_row, is_holiday, list_predefined_functions, read_attachment,
]
_HELPERS = {fn.__name__: fn for fn in _HELPER_FUNCTIONS}
_HELPERS["HelperError"] = HelperError
_HELPERS["HelperArgumentError"] = HelperArgumentError


# ---- running the job -----------------------------------------------------------------------


def _user_traceback(exc):
    """The traceback without this file's frames: the bot owner's code is what matters."""
    tb = exc.__traceback__
    while tb is not None and tb.tb_frame.f_code.co_filename == __file__:
        tb = tb.tb_next
    return "".join(_traceback.format_exception(type(exc), exc, tb))


def _fail(kind, message, tb=None):
    if _os.getpid() != _MAIN_PID:
        _os._exit(1)  # a forked child of user code unwinding: it has no result to give
    _send({"t": "result", "ok": False, "kind": kind, "message": message, "traceback": tb})


def _run(job):
    global _reserve
    script, function = job["script"], job["function"]
    try:
        with open(script, "rb") as f:
            source = f.read()
    except OSError as e:
        return _fail("script_not_found", f"cannot read {script}: {e.strerror}")
    try:
        code = compile(source, script, "exec", dont_inherit=True)
    except (SyntaxError, ValueError) as e:
        tb = "".join(_traceback.format_exception_only(type(e), e))
        where = f" ({script}, line {e.lineno})" if isinstance(e, SyntaxError) else ""
        return _fail("syntax_error", f"{type(e).__name__}: {getattr(e, 'msg', e)}{where}", tb)
    module = _types.ModuleType("natter_user_code")
    module.__file__ = script
    module.__dict__.update(_HELPERS)
    _sys.modules[module.__name__] = module
    try:
        exec(code, module.__dict__)
        fn = module.__dict__.get(function)
        if not callable(fn):
            return _fail("missing_function", f"{script} does not define {function}(context)")
        value = fn(job["context"])
    except BaseException as e:  # SystemExit too: the run must still report
        if isinstance(e, MemoryError):
            _reserve = None
        tb = _user_traceback(e)
        text = str(e)
        return _fail("exception", f"{type(e).__name__}: {text}" if text else type(e).__name__, tb)
    try:
        text = _json.dumps(value, ensure_ascii=False, allow_nan=False, separators=(",", ":"))
    except (TypeError, ValueError, RecursionError) as e:
        return _fail(
            "not_json",
            f"{function} returned a value that is not JSON ({type(value).__name__}): {e}",
        )
    if _os.getpid() != _MAIN_PID:
        _os._exit(0)
    _tx.write('{"t":"result","ok":true,"value":' + text + "}\n")
    _tx.flush()


# ---- the way out -------------------------------------------------------------------------


def _egress_pump(a, b):
    """Relay bytes both ways between two sockets until both directions have ended."""
    import select as _select
    import socket as _socket

    peer = {a: b, b: a}
    open_ = [a, b]
    try:
        while open_:
            readable, _, _ = _select.select(open_, [], [])
            for s in readable:
                data = s.recv(65536)
                if data:
                    peer[s].sendall(data)
                else:
                    open_.remove(s)
                    try:
                        peer[s].shutdown(_socket.SHUT_WR)
                    except OSError:
                        pass
    except OSError:
        pass
    finally:
        a.close()
        b.close()


def _start_egress_relay(path):
    """The sandbox has loopback only: relay a port on it to the runtime's egress proxy (a unix
    socket) and make it the HTTP(S) proxy of `requests` and `urllib`, which then work as
    usual for the hosts the bot allows. Started before the user's code runs."""
    import socket as _socket

    srv = _socket.socket(_socket.AF_INET, _socket.SOCK_STREAM)
    srv.bind(("127.0.0.1", 0))
    srv.listen(64)

    def accept():
        while True:
            try:
                conn, _ = srv.accept()
            except OSError:
                return
            up = _socket.socket(_socket.AF_UNIX, _socket.SOCK_STREAM)
            try:
                up.connect(path)
            except OSError:
                conn.close()
                up.close()
                continue
            _threading.Thread(target=_egress_pump, args=(conn, up), daemon=True).start()

    _threading.Thread(target=accept, name="natter-egress", daemon=True).start()
    url = "http://127.0.0.1:%d" % srv.getsockname()[1]
    for key in ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy"):
        _os.environ[key] = url
    for key in ("NO_PROXY", "no_proxy", "ALL_PROXY", "all_proxy"):
        _os.environ.pop(key, None)


def _serve_one():
    """Say ready, run the one job, and end the process."""
    if _CONFIG.get("egress"):
        _start_egress_relay(_CONFIG["egress"])
    _send({"t": "ready"})
    line = _rx.readline()
    if line:  # else the pool shut down before giving us a job
        job = _json.loads(line)
        _sys.argv = [job["script"]]
        _run(job)
        _sys.stdout.flush()
        _sys.stderr.flush()
    # Skip interpreter teardown (atexit, thread joins of user code): the result is sent.
    _os._exit(0)


def _main():
    if _CONFIG.get("mode") == "zygote":
        import natter_zygote

        def forked():
            _open_channel()
            _serve_one()

        natter_zygote.serve(_CONFIG["zygote"], forked)
    else:
        _open_channel()
        _serve_one()


_main()
_os._exit(0)
