"""Encryption at rest: with ZOV_CIPHER_KEY no reference or note is stored in plain text, and a
wrong or missing key is one clear line."""

from __future__ import annotations

import base64
import json

import pytest

from projections import queries
from projections.readmodels import ReadModels
from tests.privacy.support import NOTE, REF, SECRETS, D, fill, stored_bytes
from transfers.app import Tracker
from transfers.privacy import new_secret


def _store_and_read(url: str, rebuild_in_two: bool = False) -> list[str]:
    tracker = Tracker.open(url)
    try:
        tracker.adopt_plan(None, "built-in", "test")
        fill(tracker)
        with ReadModels(tracker) as rm:
            if rebuild_in_two:  # as a big log is rebuilt: half of the streams in a second
                # process, which on SQLite writes its rows into a side file first
                rm.projector.parallel_from = 0
                rm.rebuild()
            return [r.ref for r in queries.paths(rm, D(2023, 6, 30))]
    finally:
        tracker.close()


@pytest.mark.parametrize("rebuild_in_two", [False, True])
def test_an_encrypted_store_holds_no_reference_or_note_in_plain_text(store_url, monkeypatch,
                                                                     rebuild_in_two):
    monkeypatch.setenv("ZOV_CIPHER_KEY", new_secret())
    assert REF in _store_and_read(store_url, rebuild_in_two)  # readable with the key
    data = stored_bytes(store_url)
    assert data  # the store was read at all
    for secret in SECRETS:
        assert secret.encode() not in data, f"{secret!r} is in the store in plain text"


def test_without_a_store_key_only_the_read_models_hold_references(store_url, monkeypatch):
    # The control for the test above: the same bytes search finds what is there. Notes and
    # correction reasons are sealed with the stream keys even without a store key.
    monkeypatch.delenv("ZOV_CIPHER_KEY", raising=False)
    _store_and_read(store_url)
    data = stored_bytes(store_url)
    assert REF.encode() in data
    assert NOTE.encode() not in data


def test_a_wrong_missing_or_malformed_key_is_one_clear_line(store_url, cli_runner, monkeypatch):
    monkeypatch.setenv("ZOV_CIPHER_KEY", new_secret())
    run = cli_runner(store_url)
    run("init")
    run("register", REF, "-H", "MKD", "-g", "Stein")
    assert json.loads(run("info", "--format", "json").output)["encrypted"] is True
    cases = [(None, "the store is encrypted: set ZOV_CIPHER_KEY to its key"),
             (new_secret(), "ZOV_CIPHER_KEY is not the key this store was encrypted with"),
             ("not-a-key", "ZOV_CIPHER_KEY is not a key")]
    for key, message in cases:
        if key is None:
            monkeypatch.delenv("ZOV_CIPHER_KEY")
        else:
            monkeypatch.setenv("ZOV_CIPHER_KEY", key)
        for command in (("show", REF), ("list",), ("triage", REF, "--outcome", "transfer")):
            result = run(*command, code=1)
            assert result.stderr.startswith(f"Error: {message}"), (command, result.stderr)
            assert len(result.stderr.strip().splitlines()) == 1
            assert "Traceback" not in result.output


def test_a_key_on_a_plain_store_is_refused(store_url, cli_runner, monkeypatch):
    monkeypatch.delenv("ZOV_CIPHER_KEY", raising=False)
    run = cli_runner(store_url)
    run("init")
    monkeypatch.setenv("ZOV_CIPHER_KEY", new_secret())
    result = run("info", code=1)
    assert "the store is not encrypted, but ZOV_CIPHER_KEY is set" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_keygen_prints_a_new_256_bit_key_each_time(sqlite_url, cli_runner):
    run = cli_runner(sqlite_url)
    keys = {run("keygen").output.strip() for _ in range(3)}
    assert len(keys) == 3
    assert all(len(base64.b64decode(k, validate=True)) == 32 for k in keys)


# Made by the pycryptodome ciphers zov used before (key bytes 0..31, nonce bytes 100..111):
# the `cryptography` package must open what they sealed, or old stores would become unreadable.
OLD_KEY = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="
OLD_SEALED = "ZGVmZ2hpamtsbW5vXAWPXH/fQsxT1Z8pynjgGk8zya/+h0xy2Z04T8K56bEN"  # ChaCha20-Poly1305
OLD_ENCRYPTED = "ZGVmZ2hpamtsbW5vaz5lwsNSwuAJboCbmsUFGTh3vw8XySXqXxY6"  # AES-GCM, store key


def test_what_the_earlier_ciphers_sealed_still_opens():
    from eventsourcing.utils import Environment, resolve_topic

    from transfers.privacy import StreamCipher, store_cipher_env

    sealed = base64.b64decode(OLD_SEALED)
    assert json.loads(StreamCipher(OLD_KEY).decrypt(sealed)) == {"ref": "C-0001"}
    settings = store_cipher_env({"ZOV_CIPHER_KEY": OLD_KEY})
    cipher = resolve_topic(settings["CIPHER_TOPIC"])(Environment(env=settings))
    assert cipher.decrypt(base64.b64decode(OLD_ENCRYPTED)) == b"plain state"
    # and a round trip through the new code gives what went in, under a fresh nonce
    again = StreamCipher(OLD_KEY).encrypt(b"x")
    assert again[:12] != sealed[:12] and StreamCipher(OLD_KEY).decrypt(again) == b"x"


def test_reading_many_streams_keeps_few_of_their_ciphers(sqlite_url):
    """Each stream's key makes a cipher of 2.4 KB; a rebuild opens every stream's once, so
    only the last few are kept (a million streams would otherwise hold 2.4 GB)."""
    tracker = Tracker.open(sqlite_url)
    tracker.adopt_plan(None, "built-in", "test")
    keys = tracker.mapper.keys
    many = keys.CIPHERS_KEPT + 44
    with tracker.batch():
        for i in range(many):
            tracker.register(f"K-{i:04d}", "MKD", "Stein", "test")
    tracker.close()
    tracker = Tracker.open(sqlite_url)  # nothing in memory
    try:
        with ReadModels(tracker) as rm:
            rm.rebuild()  # opens every registration's reference
            refs = {r.ref for r in queries.paths(rm, D(2023, 6, 30))}
        assert refs == {f"K-{i:04d}" for i in range(many)}
        assert 0 < len(tracker.mapper.keys._ciphers) <= keys.CIPHERS_KEPT
    finally:
        tracker.close()
