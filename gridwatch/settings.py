"""The one typed settings object, read from GRIDWATCH_* variables (and a .env file).

Built by `load_settings()`, never at import time, so tests and processes can hand
in their own values.
"""
from __future__ import annotations

from pathlib import Path
from urllib.parse import unquote, urlsplit

from pydantic import BaseModel, ConfigDict, Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class MqttEndpoint(BaseModel):
    """A parsed `mqtt://user:pass@host:port` or `mqtts://...` URL."""

    model_config = ConfigDict(frozen=True)

    host: str
    port: int
    username: str | None = None
    password: str | None = None
    tls: bool = False

    @classmethod
    def parse(cls, url: str) -> "MqttEndpoint":
        parts = urlsplit(url)
        if parts.scheme not in ("mqtt", "mqtts"):
            raise ValueError(f"MQTT URL must start with mqtt:// or mqtts://, got {url!r}")
        tls = parts.scheme == "mqtts"
        return cls(
            host=parts.hostname or "127.0.0.1",
            port=parts.port or (8883 if tls else 1883),
            username=unquote(parts.username) if parts.username else None,
            password=unquote(parts.password) if parts.password else None,
            tls=tls,
        )


class Settings(BaseSettings):
    """Every knob of every gridwatch process, with safe local defaults."""

    model_config = SettingsConfigDict(
        env_prefix="GRIDWATCH_", env_file=".env", extra="forbid", env_ignore_empty=True
    )

    database_url: str = "postgresql://127.0.0.1:5432/gridwatch"
    mqtt_url: str = "mqtt://127.0.0.1:1883"
    mqtt_ca_file: Path | None = None
    mqtt_insecure_tls: bool = False
    api_host: str = "127.0.0.1"
    api_port: int = 8080

    # Ingest: see ../shared/FIELD-NOTES.md for why each default is what it is.
    ingest_client_prefix: str = "gridwatch"
    ingest_workers: int = Field(default=1, ge=1, le=64)
    ingest_batch_size: int = Field(default=500, ge=1, le=20000)
    ingest_flush_ms: int = Field(default=150, ge=5, le=5000)
    ingest_receive_maximum: int = Field(default=2000, ge=2, le=65535)
    ingest_session_expiry_s: int = Field(default=7 * 24 * 3600, ge=60)
    ingest_share_group: str = "ingest"
    require_registration: bool = False
    receipt_min_interval_s: float = 1.0
    # A hole in a device's seqs older than this is stepped over (see migration 0006).
    receipt_gap_timeout_s: int = Field(default=600, ge=60)
    # How often slots reload registry state (registered devices, aliases, grids).
    ingest_refresh_s: float = Field(default=10.0, gt=0)
    max_future_skew_s: int = 24 * 3600
    # A slot process's GIL switch interval (CPython's default is 5 ms): see cloud/ingest/slot.py.
    ingest_switch_interval_ms: float = Field(default=0.5, gt=0, le=100)

    # Storage
    partition_days_ahead: int = Field(default=7, ge=1, le=90)
    retention_days: int = Field(default=400, ge=1)
    timescale_compress_after_days: int = Field(default=7, ge=1)

    # API
    token_ttl_s: int = Field(default=12 * 3600, ge=60)

    # Cases (cloud/cases): catalog file (default: the packaged catalog.default.toml),
    # working calendar of SLA clocks, routing, clock jobs and webhooks.
    cases_catalog_file: Path | None = None
    cases_working_periods: str = "08:30-12:00,14:00-17:30"
    cases_timezone: str = "Asia/Shanghai"
    cases_component_radius_m: float = Field(default=15.0, gt=0, le=500)
    cases_territorial_suffix: str = " office"
    cases_fallback_department: str = "supervision centre"
    cases_clock_interval_s: float = Field(default=30.0, gt=0)
    cases_webhook_interval_s: float = Field(default=5.0, gt=0)
    cases_webhook_max_attempts: int = Field(default=8, ge=1, le=50)
    cases_webhook_backoff_s: float = Field(default=10.0, gt=0)
    cases_webhook_timeout_s: float = Field(default=5.0, gt=0)

    # Grid registry (cloud/geo): what `grids import` tolerates of hand-drawn maps.
    geo_overlap_tolerance_m2: float = Field(default=1.0, ge=0)   # shared area of sibling grids
    geo_outside_parent_m: float = Field(default=3.0, ge=0)       # a child sticking out of its parent
    # OsmAnd (Traccar Client) at /osmand: a `key` (the device's broker password) is always checked
    # when sent; with this set, a request without one is refused too.
    geo_osmand_require_key: bool = False

    # Broker files and accounts (`gridwatch broker config|sync`, `gridwatch devices add`)
    # Directory of the rendered mosquitto.conf/passwd/acl: `devices add` refreshes its passwd.
    broker_dir: Path | None = None
    # Mosquitto's pid file to SIGHUP after a refresh (default: the conf's pid_file).
    broker_pid_file: Path | None = None
    # The URL devices are told to use, e.g. mqtts://mqtt.example.org:8883 (default: mqtt_url's host).
    broker_public_url: str | None = None
    # Service account passwords; when unset, `broker config` keeps or generates them
    # (the cloud's is also taken from mqtt_url when its user is gridwatch-cloud). Never logged.
    broker_cloud_password: str | None = None
    broker_relay_password: str | None = None
    broker_frigate_password: str | None = None
    # PBKDF2 iterations of new `$7$` hashes: the broker pays them on every CONNECT.
    broker_hash_iterations: int = Field(default=1000, ge=1, le=1_000_000)

    # Edge
    edge_outbox_path: Path = Path(".gridwatch/outbox.sqlite3")
    edge_max_inflight: int = Field(default=1000, ge=1, le=20000)
    edge_resend_after_s: float = Field(default=30.0, gt=0)
    edge_outbox_max_messages: int = Field(default=500_000, ge=100)
    edge_heartbeat_interval_s: float = Field(default=30.0, gt=0)
    edge_reconnect_min_s: float = 0.5
    edge_reconnect_max_s: float = 60.0
    # Longer than the worst outage: receipts and commands wait in the broker meanwhile.
    edge_session_expiry_s: int = Field(default=7 * 24 * 3600, ge=60)
    edge_keepalive_s: int = Field(default=30, ge=5, le=65535)

    # Cameras: Frigate NVR events (cloud/ingest/frigate.py). Label -> contract kind;
    # labels not listed are not anomalies. JSON in the environment variable.
    camera_frigate_labels: dict[str, str] = {"fire": "fire", "smoke": "smoke", "garbage": "garbage",
                                             "waste_bin": "garbage", "trash": "garbage",
                                             "package": "obstruction"}
    camera_frigate_update_s: float = Field(default=60.0, gt=0)
    # Frigate's detect resolution (its boxes are pixels of it).
    camera_frigate_detect_size: tuple[int, int] = (1280, 720)

    # Attendance (CONTRACT section 6 defaults; see cloud/attendance/rules.py for each one's meaning)
    attendance_acc_cap_m: float = Field(default=50.0, gt=0)
    attendance_unusable_acc_m: float = Field(default=500.0, gt=0)
    attendance_enter_fixes: int = Field(default=3, ge=1)
    attendance_enter_s: float = Field(default=90.0, ge=0)
    attendance_leave_fixes: int = Field(default=3, ge=1)
    attendance_leave_s: float = Field(default=120.0, ge=0)
    attendance_max_fix_gap_s: float = Field(default=300.0, gt=0)
    attendance_absent_share: float = Field(default=0.10, ge=0, le=1)
    attendance_late_minutes: float = Field(default=15.0, ge=0)
    attendance_early_minutes: float = Field(default=15.0, ge=0)
    attendance_spoofing_flags: list[str] = ["mock_location", "impossible_speed", "static_device"]
    attendance_max_speed_mps: float = Field(default=50.0, gt=0)
    attendance_static_minutes: float = Field(default=30.0, gt=0)
    attendance_idle_minutes: float = Field(default=40.0, gt=0)
    attendance_idle_radius_m: float = Field(default=30.0, gt=0)
    attendance_signal_gap_minutes: float = Field(default=15.0, gt=0)
    attendance_clock_skew_s: float = Field(default=300.0, gt=0)
    attendance_coverage_radius_m: float = Field(default=25.0, gt=0)
    attendance_coverage_cell_m: float = Field(default=10.0, ge=2)
    attendance_outside_alert_minutes: float = Field(default=10.0, gt=0)
    attendance_job_interval_s: float = Field(default=60.0, ge=5)
    # A shift's result is final this long after its end (a later backlog still recomputes it).
    attendance_final_after_minutes: float = Field(default=30.0, ge=0)

    def mqtt(self) -> MqttEndpoint:
        return MqttEndpoint.parse(self.mqtt_url)


def load_settings(**overrides) -> Settings:
    return Settings(**overrides)
