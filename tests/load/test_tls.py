"""HTTPS with a custom CA and client certificates (mutual TLS) over loopback."""

from __future__ import annotations

import datetime as dt
import ipaddress
import ssl
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from battletest.errors import TargetUnreachable
from battletest.load.coordinator import run
from battletest.load.executors import ExecutorSpec
from battletest.load.runtime import TLSOptions

from .servers import serve

pytestmark = [pytest.mark.network]


def _cert(
    name: str, issuer: tuple[x509.Certificate, ec.EllipticCurvePrivateKey] | None, ca: bool = False
) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = dt.datetime.now(dt.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer[0].subject if issuer else subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    if not ca:
        builder = builder.add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
    cert = builder.sign(issuer[1] if issuer else key, hashes.SHA256())
    return cert, key


def _write(path: Path, cert: x509.Certificate, key: ec.EllipticCurvePrivateKey) -> None:
    path.with_suffix(".crt").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    path.with_suffix(".key").write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("pki")
    ca = _cert("battletest test CA", None, ca=True)
    _write(folder / "ca", *ca)
    _write(folder / "server", *_cert("127.0.0.1", ca))
    _write(folder / "client", *_cert("load client", ca))
    return folder


def _server_context(pki: Path) -> ssl.SSLContext:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(pki / "server.crt", pki / "server.key")
    ctx.load_verify_locations(pki / "ca.crt")
    ctx.verify_mode = ssl.CERT_REQUIRED  # mutual TLS
    return ctx


@pytest.mark.slow
def test_https_with_custom_ca_and_client_certificate(pki: Path) -> None:
    tls = TLSOptions(str(pki / "ca.crt"), str(pki / "client.crt"), str(pki / "client.key"))
    with serve("ok", ssl_context=_server_context(pki)) as (url, server):
        result = run(
            url, executor=ExecutorSpec("constant-vus", vus=2, duration=1.0), workers=1, tls=tls
        )
    assert url.startswith("https://")
    assert result.requests > 0 and result.failed == 0
    assert result.requests == server.requests - 1
    assert server.connections <= 3  # keep-alive: one connection per VU plus the preflight


def test_untrusted_certificate_is_unreachable_with_the_fix(pki: Path) -> None:
    with (
        serve("ok", ssl_context=_server_context(pki)) as (url, _),
        pytest.raises(TargetUnreachable, match="not trusted") as info,
    ):
        run(url, executor=ExecutorSpec(duration=1.0), workers=1)
    assert "--ca-cert" in str(info.value)


def test_missing_client_certificate_is_unreachable(pki: Path) -> None:
    with (
        serve("ok", ssl_context=_server_context(pki)) as (url, _),
        pytest.raises(TargetUnreachable),
    ):
        run(
            url,
            executor=ExecutorSpec(duration=1.0),
            workers=1,
            tls=TLSOptions(ca_file=str(pki / "ca.crt")),
        )
