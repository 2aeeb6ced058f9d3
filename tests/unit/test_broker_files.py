"""Broker files without a broker: `$7$` hashes against mosquitto_passwd's own
output, the password file's rendering and merging, the atomic replace, the
rendered mosquitto.conf, and the registry's input rules."""
from __future__ import annotations

import base64
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from cloud.broker.commands import device_url
from cloud.broker.config import (CLOUD_USER, RELAY_USER, TlsFiles, conf_setting, hash_password,
                                 is_password_hash, parse_password_file, render_acl, render_password_file,
                                 verify_password, write_broker_dir)
from cloud.broker.setup import choose_service_account
from cloud.broker.sync import BrokerSyncError, merge_hashes, replace_file, signal_broker
from cloud.devices import DeviceError, validate_alias, validate_device_id

# mosquitto_passwd 2.0.11 writes `user:$7$101$<16 chars: 12-byte salt>$<88 chars: 64-byte digest>`.
MOSQUITTO_LINE = re.compile(r"^[^:]+:\$7\$\d+\$[A-Za-z0-9+/]{16}\$[A-Za-z0-9+/]{86}==$")


@pytest.fixture(scope="module")
def mosquitto_passwd_file(tmp_path_factory) -> Path:
    if shutil.which("mosquitto_passwd") is None:
        pytest.fail("mosquitto_passwd is needed (Debian package mosquitto)")
    path = tmp_path_factory.mktemp("pw") / "passwd"
    subprocess.run(["mosquitto_passwd", "-c", "-b", str(path), "dev-1", "s3cret-pass-word"], check=True)
    subprocess.run(["mosquitto_passwd", "-b", str(path), "dev-2", "pässwörd with spaces"], check=True)
    return path


def test_we_verify_hashes_written_by_mosquitto_passwd(mosquitto_passwd_file):
    hashes = parse_password_file(mosquitto_passwd_file.read_text())
    assert set(hashes) == {"dev-1", "dev-2"}
    assert verify_password("s3cret-pass-word", hashes["dev-1"])
    assert verify_password("pässwörd with spaces", hashes["dev-2"])
    assert not verify_password("s3cret-pass-wore", hashes["dev-1"])
    assert all(is_password_hash(h) for h in hashes.values())


def test_our_hashes_have_mosquitto_passwds_exact_format(mosquitto_passwd_file):
    theirs = mosquitto_passwd_file.read_text().splitlines()[0]
    ours = render_password_file({"dev-1": hash_password("s3cret-pass-word")}).strip()
    assert MOSQUITTO_LINE.match(theirs) and MOSQUITTO_LINE.match(ours)
    _, _, iterations, salt, digest = ours.split(":")[1].split("$")
    assert int(iterations) == 1000 and len(base64.b64decode(salt)) == 12 and len(base64.b64decode(digest)) == 64
    assert hash_password("x-password-1") != hash_password("x-password-1")  # salted


@pytest.mark.parametrize("bad", ["", "$6$abc$def", "$7$x$AAAA$BBBB", "plain", "$7$100$!!!$@@@"])
def test_malformed_hashes_never_verify(bad):
    assert not verify_password("anything", bad)
    assert not is_password_hash(bad)


def test_password_file_round_trip_and_refuses_unsafe_names():
    hashes = {"b-dev": hash_password("pw-b-123456"), "a-dev": hash_password("pw-a-123456")}
    text = render_password_file(hashes)
    assert text.splitlines()[0].startswith("a-dev:")  # sorted: diff-friendly rewrites
    assert parse_password_file("# comment\n\n" + text) == hashes
    for bad in ("a:b", "a\nb", ""):
        with pytest.raises(ValueError):
            render_password_file({bad: "$7$1$AA==$BB=="})


def test_merge_takes_devices_from_the_registry_and_keeps_service_lines():
    existing = {CLOUD_USER: "c", RELAY_USER: "r", "Admin.Ops": "x", "old-dev": "o", "kept-dev": "k1"}
    merged = merge_hashes(existing, {"kept-dev": "k2", "new-dev": "n"})
    assert merged == {CLOUD_USER: "c", RELAY_USER: "r", "Admin.Ops": "x", "kept-dev": "k2", "new-dev": "n"}


def test_replace_file_is_a_rename_that_keeps_the_mode(tmp_path):
    path = tmp_path / "passwd"
    path.write_text("old\n")
    path.chmod(0o640)
    inode = path.stat().st_ino
    replace_file(path, "new\n")
    assert path.read_text() == "new\n" and path.stat().st_ino != inode
    assert path.stat().st_mode & 0o777 == 0o640
    assert os.listdir(tmp_path) == ["passwd"]
    fresh = tmp_path / "fresh"
    replace_file(fresh, "x")
    assert fresh.stat().st_mode & 0o777 == 0o600


def test_signal_broker_refuses_a_pid_that_is_not_mosquitto(tmp_path):
    pid_file = tmp_path / "pid"
    pid_file.write_text(f"{os.getpid()}\n")
    with pytest.raises(BrokerSyncError, match="not a running mosquitto"):
        signal_broker(pid_file)
    pid_file.write_text("garbage")
    with pytest.raises(BrokerSyncError, match="cannot read a pid"):
        signal_broker(pid_file)


def test_rendered_conf_for_a_deployment(tmp_path):
    tls = TlsFiles(Path("/etc/gw/ca.crt"), Path("/etc/gw/server.crt"), Path("/etc/gw/server.key"))
    conf = write_broker_dir(tmp_path, 8883, {CLOUD_USER: hash_password("cloud-pw-12345")}, bind="0.0.0.0",
                            tls=tls, run_user="mosquitto", conf_dir=Path("/etc/mosquitto/gridwatch"),
                            persistence_dir=Path("/var/lib/mosquitto"),
                            pid_file=Path("/run/mosquitto/mosquitto.pid"), local_port=1883,
                            log_dest="syslog").read_text()
    assert conf_setting(conf, "password_file") == "/etc/mosquitto/gridwatch/passwd"
    assert conf_setting(conf, "acl_file") == "/etc/mosquitto/gridwatch/acl"
    assert conf_setting(conf, "persistence_location") == "/var/lib/mosquitto/"
    assert conf_setting(conf, "pid_file") == "/run/mosquitto/mosquitto.pid"
    assert conf_setting(conf, "user") == "mosquitto"
    assert conf_setting(conf, "allow_anonymous") == "false"
    assert conf_setting(conf, "max_queued_messages") == "0"
    assert "listener 8883 0.0.0.0\nprotocol mqtt\ncafile /etc/gw/ca.crt\n" in conf
    assert "listener 1883 127.0.0.1\nprotocol mqtt\n" in conf
    assert conf.count("cafile") == 1  # the local listener is plain
    assert not (tmp_path / "data").exists()  # rendered for elsewhere: its data dir is not created here


def test_default_conf_keeps_pid_and_log_where_the_broker_can_write(tmp_path):
    conf = write_broker_dir(tmp_path, 1883, {}).read_text()
    assert conf_setting(conf, "pid_file") == str(tmp_path / "data" / "mosquitto.pid")
    assert conf_setting(conf, "log_dest") == f"file {tmp_path / 'data' / 'mosquitto.log'}"


def test_acl_gives_devices_only_topics_under_their_own_name():
    acl = render_acl()
    patterns = [line.split() for line in acl.splitlines() if line.startswith("pattern")]
    assert patterns and all(topic.startswith(("gw/v1/%u/", "owntracks/%u/")) for _, _, topic in patterns)
    assert not [t for _, _, t in patterns if t.startswith("gw/v1/") and ("#" in t or "+" in t)]
    assert {user: n for user, n in [("gridwatch-cloud", acl.count("user gridwatch-cloud")),
                                    ("gridwatch-relay", acl.count("user gridwatch-relay")),
                                    ("gridwatch-frigate", acl.count("user gridwatch-frigate"))]} == \
        {"gridwatch-cloud": 1, "gridwatch-relay": 1, "gridwatch-frigate": 1}


def test_service_account_password_sources():
    configured = choose_service_account(CLOUD_USER, "cloud-password-1", None)
    assert configured.source == "settings" and configured.new_password is None
    assert verify_password("cloud-password-1", configured.hash)
    same = choose_service_account(CLOUD_USER, "cloud-password-1", configured.hash)
    assert same.hash == configured.hash  # unchanged file when nothing changed
    kept = choose_service_account(CLOUD_USER, None, configured.hash)
    assert (kept.source, kept.hash) == ("kept", configured.hash)
    new = choose_service_account(CLOUD_USER, None, configured.hash, rotate=True)
    assert new.source == "generated" and verify_password(new.new_password, new.hash)
    assert choose_service_account(CLOUD_USER, None, "garbage").source == "generated"


@pytest.mark.parametrize("base,dev,pw,want", [
    ("mqtt://gridwatch-cloud:x@broker.local:1883", "hs-1", "a-b_c", "mqtt://hs-1:a-b_c@broker.local:1883"),
    ("mqtts://mqtt.example.org", "cam-1", "p@ss:w/rd", "mqtts://cam-1:p%40ss%3Aw%2Frd@mqtt.example.org"),
    ("mqtt://[::1]:1884", "hs-1", None, "mqtt://hs-1@[::1]:1884"),
])
def test_device_url(base, dev, pw, want):
    assert device_url(base, dev, pw) == want


@pytest.mark.parametrize("alias", ["owntracks:ann/phone", "frigate:front_gate", "osmand:864512"])
def test_valid_aliases(alias):
    assert validate_alias(alias) == alias


@pytest.mark.parametrize("alias", ["owntracks:ann", "owntracks:a/b/c", "frigate:a b", "frigate:#",
                                   "traccar:1", "frigate:", "owntracks:+/phone"])
def test_invalid_aliases(alias):
    with pytest.raises(DeviceError):
        validate_alias(alias)


@pytest.mark.parametrize("dev", ["UPPER", "-lead", "a" * 65, "gridwatch-cloud", "gridwatch-anything", "a/b"])
def test_invalid_or_reserved_device_ids(dev):
    with pytest.raises(DeviceError):
        validate_device_id(dev)
