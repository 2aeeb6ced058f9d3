"""The device registry (PostgreSQL) and the commands that put its credentials
into a running Mosquitto: `broker config`, `devices add`, `broker sync`."""
from __future__ import annotations

import getpass
import os
import pwd
import shutil
import subprocess
import tempfile
from pathlib import Path

import psycopg
import pytest

from cloud.broker.config import CLOUD_USER, parse_password_file, verify_password
from cloud.devices import (DeviceError, add_device, broker_password_hashes, frigate_alias, list_devices,
                           owntracks_alias, resolve_alias, revoke_device)
from gridwatch.cli import main
from tests.integration.test_broker_security import NOT_AUTHORIZED, Probe
from tests.support import services


@pytest.fixture
def conn(db_url):
    with psycopg.connect(db_url) as c:
        yield c


# --- registry --------------------------------------------------------------

def test_new_device_gets_a_random_password_and_only_its_hash_is_stored(conn):
    pw = add_device(conn, "hs-01", "handset")
    assert pw and len(pw) >= 20
    row = conn.execute("SELECT registered, kind, broker_password_hash FROM device WHERE dev = 'hs-01'").fetchone()
    assert row[0] is True and row[1] == "handset"
    assert row[2].startswith("$7$") and pw not in row[2] and verify_password(pw, row[2])


def test_device_first_seen_by_the_ingest_becomes_registered_in_place(conn):
    conn.execute("INSERT INTO device (dev, registered, first_seen) VALUES ('cam-07', false, now() - interval '1 day')")
    add_device(conn, "cam-07", "camera", lat=31.23, lon=121.47)
    [d] = list_devices(conn)
    assert (d.dev, d.kind, d.registered, d.lat, d.lon, d.has_credentials) == \
        ("cam-07", "camera", True, 31.23, 121.47, True)
    assert d.first_seen is not None  # its history is kept


def test_readding_keeps_credentials_unless_rotated_or_given(conn):
    first = add_device(conn, "hs-02", "handset")
    h1 = broker_password_hashes(conn)["hs-02"]
    assert add_device(conn, "hs-02", "handset", alias="owntracks:hs-02/phone") is None
    assert broker_password_hashes(conn)["hs-02"] == h1 and verify_password(first, h1)
    rotated = add_device(conn, "hs-02", "handset", rotate=True)
    assert rotated != first and verify_password(rotated, broker_password_hashes(conn)["hs-02"])
    assert add_device(conn, "hs-02", "handset", password="chosen-password-1") == "chosen-password-1"
    assert verify_password("chosen-password-1", broker_password_hashes(conn)["hs-02"])


def test_camera_and_sensor_need_a_fixed_position_which_an_update_keeps(conn):
    for kind in ("camera", "sensor"):
        with pytest.raises(DeviceError, match="fixed position"):
            add_device(conn, f"{kind}-1", kind)
    add_device(conn, "cam-1", "camera", lat=30.0, lon=120.0)
    add_device(conn, "cam-1", "camera", alias=frigate_alias("front_gate"))
    [d] = list_devices(conn, registered=True)
    assert (d.lat, d.lon, d.aliases) == (30.0, 120.0, ("frigate:front_gate",))


@pytest.mark.parametrize("args,match", [
    (("Bad-Id", "handset"), "device id"),
    (("gridwatch-cloud", "handset"), "reserved"),
    (("ok-1", "drone"), "kind"),
    (("ok-1", "handset", "owntracks:ann"), "alias"),
    (("ok-1", "handset", "owntracks:ann/phone"), "OwnTracks user must be the device id"),
    (("ok-1", "handset", "frigate:a/b"), "alias"),
    (("ok-1", "handset", None, 91.0, 0.0), "out of range"),
    (("ok-1", "handset", None, 10.0, None), "both"),
    (("ok-1", "handset", None, None, None, "short"), "at least"),
])
def test_invalid_requests_are_refused_and_write_nothing(conn, args, match):
    with pytest.raises(DeviceError, match=match):
        add_device(conn, *args)
    assert list_devices(conn) == []


def test_aliases_resolve_and_cannot_be_taken_by_another_device(conn):
    alias = "osmand:777"
    add_device(conn, "hs-03", "handset", alias=[alias, "osmand:123456", owntracks_alias("hs-03", "phone")])
    assert resolve_alias(conn, owntracks_alias("hs-03", "phone")) == "hs-03"
    assert resolve_alias(conn, alias) == "hs-03"
    assert resolve_alias(conn, "osmand:123456") == "hs-03"
    assert resolve_alias(conn, "owntracks:bob/phone") is None
    with pytest.raises(DeviceError, match="already belongs to device 'hs-03'"):
        add_device(conn, "hs-04", "handset", alias=alias)
    assert [d.dev for d in list_devices(conn)] == ["hs-03"]  # hs-04 rolled back with its alias


def test_unregistered_devices_are_listed_apart_and_have_no_broker_access(conn):
    conn.execute("INSERT INTO device (dev, registered) VALUES ('stray-1', false)")
    add_device(conn, "hs-05", "handset")
    assert [d.dev for d in list_devices(conn, registered=False)] == ["stray-1"]
    assert set(broker_password_hashes(conn)) == {"hs-05"}
    assert revoke_device(conn, "hs-05") and not revoke_device(conn, "hs-05")
    assert broker_password_hashes(conn) == {}


# --- commands against a running broker -------------------------------------

@pytest.fixture
def deployment(db_url, tmp_path, monkeypatch):
    """`broker config` rendered into a directory, and Mosquitto started from it."""
    port = services.free_port()
    cloud_pw = "cloud-password-123"
    monkeypatch.setenv("GRIDWATCH_DATABASE_URL", db_url)
    monkeypatch.setenv("GRIDWATCH_MQTT_URL", f"mqtt://{CLOUD_USER}:{cloud_pw}@127.0.0.1:{port}")
    out = tmp_path / "broker"
    assert main(["broker", "config", "--out", str(out), "--port", str(port),
                 "--run-user", getpass.getuser(), "--no-relay"]) == 0
    proc = subprocess.Popen(["mosquitto", "-c", str(out / "mosquitto.conf")],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        services.wait_port(port)
        yield {"dir": out, "port": port, "proc": proc, "cloud_pw": cloud_pw}
    finally:
        proc.terminate()
        proc.wait(10)


def _add(capsys, *argv: str) -> dict[str, str]:
    capsys.readouterr()
    assert main(["devices", "add", *argv]) == 0
    out = capsys.readouterr().out
    return {k.strip(): v.strip() for k, _, v in (line.partition(":") for line in out.splitlines()) if v}


def _login(port: int, user: str, password: str) -> int:
    p = Probe(port, user, password)
    try:
        return p.connect()
    finally:
        p.close()


def test_config_takes_the_cloud_password_from_the_mqtt_url(deployment, capsys):
    assert _login(deployment["port"], CLOUD_USER, deployment["cloud_pw"]) == 0
    assert set(parse_password_file((deployment["dir"] / "passwd").read_text())) == {CLOUD_USER}


def test_devices_add_then_sync_lets_the_device_connect_without_a_restart(deployment, capsys):
    creds = _add(capsys, "cam-21", "--kind", "camera", "--lat", "31.2", "--lon", "121.5")
    port, pid = deployment["port"], deployment["proc"].pid
    assert creds["username"] == "cam-21"
    assert creds["mqtt url"] == f"mqtt://cam-21:{creds['password']}@127.0.0.1:{port}"
    assert _login(port, "cam-21", creds["password"]) == NOT_AUTHORIZED  # not in the broker yet
    assert main(["broker", "sync", "--dir", str(deployment["dir"])]) == 0  # pid file from the conf
    assert f"signalled mosquitto (pid {pid})" in capsys.readouterr().out
    assert _login(port, "cam-21", creds["password"]) == 0
    assert deployment["proc"].poll() is None
    assert _login(port, CLOUD_USER, deployment["cloud_pw"]) == 0  # service account kept


def test_devices_add_refreshes_the_broker_when_its_dir_is_configured(deployment, capsys, monkeypatch):
    monkeypatch.setenv("GRIDWATCH_BROKER_DIR", str(deployment["dir"]))
    monkeypatch.setenv("GRIDWATCH_BROKER_PUBLIC_URL", "mqtts://mqtt.example.org:8883")
    creds = _add(capsys, "hs-22", "--kind", "handset", "--alias", "owntracks:hs-22/phone")
    assert creds["mqtt url"] == f"mqtts://hs-22:{creds['password']}@mqtt.example.org:8883"
    assert _login(deployment["port"], "hs-22", creds["password"]) == 0


def test_revoked_device_cannot_log_in_again_after_sync(deployment, capsys):
    creds = _add(capsys, "hs-23", "--kind", "handset")
    assert main(["broker", "sync", "--dir", str(deployment["dir"])]) == 0
    live = Probe(deployment["port"], "hs-23", creds["password"])
    try:
        assert live.connect() == 0
        assert main(["devices", "revoke", "hs-23"]) == 0
        assert main(["broker", "sync", "--dir", str(deployment["dir"])]) == 0
        assert _login(deployment["port"], "hs-23", creds["password"]) == NOT_AUTHORIZED
        # 2.0.11 re-checks connected clients on reload: the live session is closed too.
        assert live.pump_until(lambda: live.disconnected is not None, timeout=3)
    finally:
        live.close()


def test_sync_refuses_a_pid_file_that_names_another_program(deployment, capsys, tmp_path):
    pid_file = tmp_path / "not-mosquitto.pid"
    pid_file.write_text(str(os.getpid()))
    assert main(["broker", "sync", "--dir", str(deployment["dir"]), "--pid-file", str(pid_file)]) == 2
    assert "not a running mosquitto" in capsys.readouterr().err


def test_config_rerun_keeps_generated_service_passwords(db_url, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("GRIDWATCH_DATABASE_URL", db_url)
    out = tmp_path / "b"
    assert main(["broker", "config", "--out", str(out), "--run-user", getpass.getuser()]) == 0
    first = capsys.readouterr().out
    assert "gridwatch-cloud: new password" in first and "gridwatch-relay: new password" in first
    before = (out / "passwd").read_text()
    assert main(["broker", "config", "--out", str(out), "--run-user", getpass.getuser()]) == 0
    assert "new password" not in capsys.readouterr().out
    assert (out / "passwd").read_text() == before
    assert main(["broker", "config", "--out", str(out), "--run-user", getpass.getuser(),
                 "--rotate-service-passwords"]) == 0
    assert (out / "passwd").read_text() != before
    assert oct((out / "passwd").stat().st_mode & 0o777) == "0o600"


def test_sync_is_atomic_and_keeps_the_files_mode(deployment, capsys):
    passwd: Path = deployment["dir"] / "passwd"
    passwd.chmod(0o640)
    inode = passwd.stat().st_ino
    _add(capsys, "hs-24", "--kind", "handset")
    assert main(["broker", "sync", "--dir", str(deployment["dir"]), "--no-reload"]) == 0
    assert passwd.stat().st_ino != inode  # replaced by rename, never rewritten in place
    assert oct(passwd.stat().st_mode & 0o777) == "0o640"
    assert set(parse_password_file(passwd.read_text())) == {CLOUD_USER, "hs-24"}
    assert not [p for p in passwd.parent.iterdir() if p.name.endswith(".tmp")]


def _mosquitto_user_exists() -> bool:
    try:
        pwd.getpwnam("mosquitto")
        return True
    except KeyError:
        return False


@pytest.mark.skipif(os.geteuid() != 0 or not _mosquitto_user_exists(),
                    reason="needs root and the mosquitto user (Debian package) to drop privileges")
def test_root_rendered_files_work_for_a_broker_that_drops_to_mosquitto(db_url, monkeypatch, capsys):
    # pytest's tmp dirs are 0700: the mosquitto user could not even reach them.
    base = Path(tempfile.mkdtemp(prefix="gw-prod-", dir="/tmp"))
    base.chmod(0o755)
    port = services.free_port()
    monkeypatch.setenv("GRIDWATCH_DATABASE_URL", db_url)
    monkeypatch.setenv("GRIDWATCH_MQTT_URL", f"mqtt://{CLOUD_USER}:cloud-password-123@127.0.0.1:{port}")
    proc = None
    try:
        assert main(["broker", "config", "--out", str(base / "b"), "--port", str(port), "--no-relay"]) == 0
        proc = subprocess.Popen(["mosquitto", "-c", str(base / "b" / "mosquitto.conf")],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        services.wait_port(port)
        uid = int(Path(f"/proc/{proc.pid}/status").read_text().split("\nUid:\t")[1].split()[0])
        assert uid == pwd.getpwnam("mosquitto").pw_uid  # it really dropped root
        monkeypatch.setenv("GRIDWATCH_BROKER_DIR", str(base / "b"))
        creds = _add(capsys, "hs-25", "--kind", "handset")  # rewrites passwd as root, then SIGHUP
        st = (base / "b" / "passwd").stat()
        assert (st.st_uid, st.st_gid, st.st_mode & 0o777) == (0, pwd.getpwnam("mosquitto").pw_gid, 0o640)
        assert _login(port, "hs-25", creds["password"]) == 0
        assert _login(port, CLOUD_USER, "cloud-password-123") == 0
    finally:
        if proc is not None:
            proc.terminate()
            proc.wait(10)
        shutil.rmtree(base, ignore_errors=True)


def test_devices_list_shows_registered_and_unregistered(db_url, monkeypatch, capsys):
    import json

    monkeypatch.setenv("GRIDWATCH_DATABASE_URL", db_url)
    with psycopg.connect(db_url) as c:
        c.execute("INSERT INTO device (dev, registered) VALUES ('stray-9', false)")
    _add(capsys, "cam-26", "--kind", "camera", "--lat", "1.5", "--lon", "2.5", "--alias", "frigate:yard")
    assert main(["devices", "list", "--json"]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [(r["dev"], r["registered"], r["aliases"], r["has_credentials"]) for r in rows] == \
        [("cam-26", True, ["frigate:yard"], True), ("stray-9", False, [], False)]
    assert main(["devices", "list", "--unregistered"]) == 0
    assert capsys.readouterr().out.split("\t")[0] == "stray-9"
    assert main(["devices", "add", "Bad", "--kind", "handset"]) == 2  # a user mistake: no traceback
    assert "device id 'Bad'" in capsys.readouterr().err


def test_devices_add_reads_a_chosen_password_from_stdin(db_url, monkeypatch, capsys):
    import io

    monkeypatch.setenv("GRIDWATCH_DATABASE_URL", db_url)
    monkeypatch.setattr("sys.stdin", io.StringIO("chosen-password-9\n"))
    creds = _add(capsys, "hs-27", "--kind", "handset", "--password-stdin")
    assert creds["password"] == "chosen-password-9"
    with psycopg.connect(db_url) as c:
        assert verify_password("chosen-password-9", broker_password_hashes(c)["hs-27"])
