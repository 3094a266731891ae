import os
import subprocess
import sys

import pytest

import wsfast

from .conftest import NO_C


def run(code: str, **env: str) -> subprocess.CompletedProcess:
    full = dict(os.environ)
    for key in ("WSFAST_NO_EXTENSIONS", "WSFAST_REQUIRE_EXTENSIONS"):
        full.pop(key, None)
    full.update(env)
    return subprocess.run([sys.executable, "-c", code], env=full, capture_output=True, text=True)


def test_no_extensions_forces_the_python_backend():
    out = run("import wsfast; print(wsfast.BACKEND, wsfast.HAS_C)", WSFAST_NO_EXTENSIONS="1")
    assert out.stdout.split() == ["python", "False"]


def test_backend_matches_the_environment():
    if NO_C:
        assert (wsfast.BACKEND, wsfast.HAS_C) == ("python", False)
    else:
        # a normal run must have the extension: a silent fallback would go unseen
        assert (wsfast.BACKEND, wsfast.HAS_C) == ("c", True)


@pytest.mark.skipif(NO_C, reason="WSFAST_NO_EXTENSIONS=1 run: the C backend is not under test")
def test_default_backend_is_c_when_built():
    out = run("import wsfast; print(wsfast.BACKEND, wsfast.HAS_C)")
    assert out.stdout.split() == ["c", "True"]
    out = run("import wsfast; print(wsfast.BACKEND)", WSFAST_REQUIRE_EXTENSIONS="1")
    assert out.stdout.split() == ["c"]


def test_require_extensions_conflicts_with_no_extensions():
    out = run("import wsfast", WSFAST_NO_EXTENSIONS="1", WSFAST_REQUIRE_EXTENSIONS="1")
    assert out.returncode != 0
    assert "WSFAST_REQUIRE_EXTENSIONS" in out.stderr


def test_public_names_of_the_spec_are_exported():
    for name in [
        "BACKEND",
        "HAS_C",
        "apply_mask",
        "apply_mask_inplace",
        "validate_utf8",
        "Utf8Validator",
        "Opcode",
        "CloseCode",
        "FrameHeader",
        "parse_header",
        "build_frame",
        "Decoder",
        "Encoder",
        "Message",
        "Ping",
        "Pong",
        "Close",
        "accept_key",
        "WebSocketError",
        "ProtocolError",
        "InvalidUTF8",
        "PayloadTooBig",
        "HandshakeError",
    ]:
        assert hasattr(wsfast, name), name
        assert name in wsfast.__all__


def test_error_hierarchy_and_codes():
    assert issubclass(wsfast.ProtocolError, wsfast.WebSocketError)
    assert issubclass(wsfast.InvalidUTF8, wsfast.ProtocolError)
    assert issubclass(wsfast.PayloadTooBig, wsfast.ProtocolError)
    assert issubclass(wsfast.HandshakeError, wsfast.WebSocketError)
    assert not issubclass(wsfast.HandshakeError, wsfast.ProtocolError)
    assert wsfast.ProtocolError("x").code == 1002
    assert wsfast.InvalidUTF8("x", 3).code == 1007
    assert wsfast.PayloadTooBig("x").code == 1009


def test_close_code_names_follow_the_rfc():
    assert wsfast.CloseCode.MESSAGE_TOO_BIG == 1009
    assert wsfast.CloseCode.TLS_HANDSHAKE == 1015
    assert wsfast.Opcode.PONG == 10


def test_accept_key_of_the_rfc_example():
    assert wsfast.accept_key("dGhlIHNhbXBsZSBub25jZQ==") == "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
