"""User data stream: signing vectors, subscription, re-subscription, errors, secrecy."""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, padding, rsa

from binstream import BinanceSocketManager, MissingKeysError
from binstream.errors import AuthError
from binstream.server import LocalExchange
from binstream.server.demo import DEMO_API_KEY, DEMO_API_SECRET
from binstream.server.spot.account import SpotAccount
from binstream.signing import Credentials, credentials_from, load_private_key, signature_payload

from ..conftest import cli_env, run_cli

pytestmark = pytest.mark.usefixtures("transport")  # every test runs on each transport

SECRET = "s3cr3tHmacValueThatMustNeverLeak0123456789abcdefABCDEF"
KEY = "testKeyId0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOP"


def test_payload_is_sorted_and_excludes_signature() -> None:
    params = {"timestamp": 1, "apiKey": "k", "signature": "x", "recvWindow": 5000}
    assert signature_payload(params) == "apiKey=k&recvWindow=5000&timestamp=1"


def test_hmac_matches_binance_documented_vector_and_stdlib() -> None:
    secret = "NhqPtmdSJYdKjVHjA7PZj4Mge3R5YNiP1e3UZjInClVN65XAbvqqM6A7H5fATj0j"
    payload = (
        "symbol=LTCBTC&side=BUY&type=LIMIT&timeInForce=GTC&quantity=1&price=0.1"
        "&recvWindow=5000&timestamp=1499827319559"
    )
    creds = Credentials("vmPUZE6mv9SD5VNHk4HlWFsOr6aKE2zvsw0MuIgwCIPy6utIco14y7Ju91duEh8A",
                        secret=secret)  # fmt: skip
    expected = hmac.new(secret.encode(), payload.encode(), hashlib.sha256).hexdigest()
    assert creds.sign(payload) == expected
    assert expected == "c8db56825ae71d6d79447849e617115f4a920fa2acdcab2b053c4b2838bd6b71"


def test_ed25519_and_rsa_signatures_verify_independently() -> None:
    payload = "apiKey=k&timestamp=1700000000000"
    ed_key = ed25519.Ed25519PrivateKey.generate()
    signature = Credentials("k", private_key=ed_key).sign(payload)
    ed_key.public_key().verify(base64.b64decode(signature), payload.encode())
    assert signature == base64.b64encode(ed_key.sign(payload.encode())).decode()
    rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    signature = Credentials("k", private_key=rsa_key).sign(payload)
    rsa_key.public_key().verify(
        base64.b64decode(signature), payload.encode(), padding.PKCS1v15(), hashes.SHA256()
    )


def pem(key: Any, passphrase: bytes | None = None) -> bytes:
    encryption = (
        serialization.BestAvailableEncryption(passphrase)
        if passphrase
        else serialization.NoEncryption()
    )
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             encryption)  # fmt: skip


def test_private_key_loading_errors_are_clear(tmp_path: Path) -> None:
    key = ed25519.Ed25519PrivateKey.generate()
    locked = tmp_path / "locked.pem"
    locked.write_bytes(pem(key, b"open sesame"))
    with pytest.raises(AuthError, match="encrypted"):
        load_private_key(locked)
    with pytest.raises(AuthError, match="wrong passphrase"):
        load_private_key(locked, "nope")
    assert load_private_key(locked, "open sesame") is not None
    with pytest.raises(AuthError, match="cannot read"):
        load_private_key(tmp_path / "missing.pem")
    (tmp_path / "junk.pem").write_text("-----BEGIN nothing")
    with pytest.raises(AuthError, match="not a PEM"):
        load_private_key((tmp_path / "junk.pem").read_text())


def test_missing_keys_name_the_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("BINANCE_API_KEY", "BINANCE_API_SECRET", "BINANCE_PRIVATE_KEY"):
        monkeypatch.delenv(name, raising=False)
    with pytest.raises(MissingKeysError, match="BINANCE_API_KEY"):
        credentials_from()
    with pytest.raises(MissingKeysError, match="BINANCE_API_SECRET"):
        credentials_from("key")
    monkeypatch.setenv("BINANCE_API_KEY", KEY)
    monkeypatch.setenv("BINANCE_API_SECRET", SECRET)
    creds = credentials_from()
    assert creds.kind == "hmac" and SECRET not in repr(creds) and KEY not in repr(creds)
    assert repr(creds) == "Credentials(test…NOP, hmac)"


def manager_for(exchange: LocalExchange, **keys: Any) -> BinanceSocketManager:
    return BinanceSocketManager(endpoint=exchange.url, user_timeout=5, backoff_base=0.02,
                                backoff_cap=0.1, **keys)  # fmt: skip


async def events(socket: Any, count: int) -> list[dict[str, Any]]:
    found = []
    while len(found) < count:
        message = await socket.recv()
        found.append(message)
    return found


async def test_hmac_subscription_yields_consistent_account_events(
    exchange: LocalExchange,
) -> None:
    exchange.ws_api.add_account(SpotAccount(KEY, secret=SECRET))
    bm = manager_for(exchange, api_key=KEY, api_secret=SECRET)
    async with bm.user_socket() as us:
        received = await events(us, 12)
    kinds = {m["e"] for m in received}
    assert kinds <= {"executionReport", "outboundAccountPosition", "balanceUpdate"}
    assert "executionReport" in kinds and "outboundAccountPosition" in kinds
    reports = [m for m in received if m["e"] == "executionReport"]
    assert reports[0]["X"] == "NEW"
    filled = {r["i"]: r for r in reports if r["X"] == "FILLED"}
    for report in filled.values():
        assert report["z"] == report["q"]


@pytest.mark.parametrize("logon", [False, True])
async def test_ed25519_key_subscribes_with_signature_or_logon(
    exchange: LocalExchange, logon: bool
) -> None:
    key = ed25519.Ed25519PrivateKey.generate()
    exchange.ws_api.add_account(SpotAccount("edKey123", public_key=key.public_key()))
    bm = manager_for(exchange, api_key="edKey123", private_key=pem(key))
    async with bm.user_socket(logon=logon) as us:
        assert (await us.recv())["e"] in ("executionReport", "balanceUpdate")


async def test_rsa_key_subscribes(exchange: LocalExchange) -> None:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    exchange.ws_api.add_account(SpotAccount("rsaKey123", public_key=key.public_key()))
    bm = manager_for(exchange, api_key="rsaKey123", private_key=key)
    async with bm.user_socket() as us:
        assert "e" in await us.recv()


async def test_reconnect_resubscribes_with_a_fresh_signature(exchange: LocalExchange) -> None:
    bm = manager_for(exchange, api_key=DEMO_API_KEY, api_secret=DEMO_API_SECRET)
    async with bm.user_socket() as us:
        await events(us, 2)
        exchange.ws_api.drop_all()
        error = await us.recv()
        while error["e"] != "error":
            error = await us.recv()
        after = await events(us, 2)
    assert error == {"e": "error", "type": "BinanceWebsocketClosed",
                     "m": "connection lost (no close frame)"}  # fmt: skip
    assert all(m["e"] != "error" for m in after)
    assert exchange.ws_api.subscribe_count == 2


async def test_event_stream_terminated_leads_to_resubscription(exchange: LocalExchange) -> None:
    bm = manager_for(exchange, api_key=DEMO_API_KEY, api_secret=DEMO_API_SECRET)
    async with bm.user_socket() as us:
        await events(us, 1)
        exchange.ws_api.terminate_streams()
        received = await events(us, 6)
    assert all(m["e"] != "error" for m in received)
    assert exchange.ws_api.subscribe_count == 2


@pytest.mark.parametrize(
    ("account", "key", "secret", "text"),
    [
        (None, "unknownKey1", SECRET, "-2015"),
        (SpotAccount(KEY, secret=SECRET), KEY, "wrong-secret", "-1022"),
        (SpotAccount(KEY, secret=SECRET, ip_allowed=False), KEY, SECRET, "whitelist"),
        (SpotAccount(KEY, secret=SECRET, can_read=False), KEY, SECRET, "may read the account"),
        (None, "bad key!", SECRET, "-2014"),
    ],
)
async def test_credential_errors_end_the_socket_clearly(
    exchange: LocalExchange, account: SpotAccount | None, key: str, secret: str, text: str
) -> None:
    if account is not None:
        exchange.ws_api.add_account(account)
    bm = manager_for(exchange, api_key=key, api_secret=secret)
    async with bm.user_socket() as us:
        error = await us.recv()
        assert error["type"] == "BinanceUserStreamAuthError" and text in error["m"]
        assert secret not in error["m"]
        assert us.closed


async def test_clock_skew_reports_the_measured_offset(exchange: LocalExchange) -> None:
    exchange.ws_api.clock_offset_ms = -30_000  # the server is 30 s behind us
    bm = manager_for(exchange, api_key=DEMO_API_KEY, api_secret=DEMO_API_SECRET)
    async with bm.user_socket() as us:
        error = await us.recv()
    assert "-1021" in error["m"] and "ahead of Binance's" in error["m"]
    offset = float(error["m"].split("clock is ")[1].split("s ")[0])
    assert 29.5 < offset < 30.5


async def test_hmac_key_cannot_logon(exchange: LocalExchange) -> None:
    bm = manager_for(exchange, api_key=DEMO_API_KEY, api_secret=DEMO_API_SECRET)
    async with bm.user_socket(logon=True) as us:
        error = await us.recv()
    assert error["type"] == "BinanceUserStreamAuthError" and "-4056" in error["m"]


async def test_cli_user_stream_never_shows_the_secret(
    exchange: LocalExchange, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    exchange.ws_api.add_account(SpotAccount(KEY, secret=SECRET))
    env = cli_env(BINANCE_API_KEY=KEY, BINANCE_API_SECRET=SECRET)
    outputs = []
    ok = await run_cli("user", "--endpoint", exchange.url, "--json", "-n", "3", "-vv", env=env)
    assert ok.code == 0, ok.stderr
    assert len(ok.lines) == 3
    outputs.append(ok)
    bad_env = cli_env(BINANCE_API_KEY=KEY, BINANCE_API_SECRET=SECRET + "x")
    bad = await run_cli("user", "--endpoint", exchange.url, "-vv", env=bad_env)
    assert bad.code == 1 and "-1022" in bad.stderr
    outputs.append(bad)
    secret_file = tmp_path / "secret"
    secret_file.write_text(SECRET + "\n")
    from_file = await run_cli("user", "--api-key", KEY, "--secret-file", str(secret_file),
                              "--endpoint", exchange.url, "--json", "-n", "1")  # fmt: skip
    assert from_file.code == 0, from_file.stderr
    outputs.append(from_file)
    outputs.append(await run_cli("user", "--help", env=env))
    with caplog.at_level(logging.DEBUG):
        bm = manager_for(exchange, api_key=KEY, api_secret=SECRET)
        async with bm.user_socket() as us:
            await us.recv()
            texts = [repr(bm), repr(us), str(vars(us))]
    texts.append(caplog.text)
    for result in outputs:
        texts += [result.stdout, result.stderr]
    for text in texts:
        assert SECRET not in text


# Fails before any connection: one run.
@pytest.mark.transport_independent
async def test_cli_missing_keys_exit_2_naming_the_variables() -> None:
    result = await run_cli("user")
    assert result.code == 2
    assert "BINANCE_API_KEY" in result.stderr and "BINANCE_API_SECRET" in result.stderr
    assert "Traceback" not in result.stderr


async def test_cli_private_key_file_with_logon(exchange: LocalExchange, tmp_path: Path) -> None:
    key = ed25519.Ed25519PrivateKey.generate()
    exchange.ws_api.add_account(SpotAccount("edCli1", public_key=key.public_key()))
    path = tmp_path / "key.pem"
    path.write_bytes(pem(key, b"pass phrase"))
    env = cli_env(BINANCE_PRIVATE_KEY_PASSPHRASE="pass phrase")
    result = await run_cli("user", "--api-key", "edCli1", "--private-key", str(path), "--logon",
                           "--endpoint", exchange.url, "--json", "-n", "2", env=env)  # fmt: skip
    assert result.code == 0, result.stderr
    assert len(result.lines) == 2


async def test_demo_user() -> None:
    result = await run_cli("demo", "user", "--json", "-n", "3")
    assert result.code == 0, result.stderr
    assert len(result.lines) == 3
