"""SLA clocks: warn at 80%, overdue and escalation on breach; once per case across
restarts and concurrent schedulers."""
from __future__ import annotations

import threading
from datetime import datetime, timedelta, timezone

import psycopg
from apscheduler.events import EVENT_JOB_EXECUTED
from apscheduler.schedulers.background import BackgroundScheduler

from cloud.jobs.cases import CLOCK_JOB_ID, add_case_jobs, run_clock_job
from gridwatch.settings import load_settings
from tests.integration.cases_support import add_fixed_device, add_grids, at, det, feed

UTC = timezone.utc
WED_10 = datetime(2026, 11, 18, 2, 0, tzinfo=UTC)


def events(db_url) -> list[tuple]:
    with psycopg.connect(db_url) as conn:
        return conn.execute("SELECT case_id, action, note FROM case_history WHERE actor = 'system' "
                            "ORDER BY case_id, id").fetchall()


def test_a_case_is_warned_at_80_percent_then_escalated_to_the_next_level_on_breach(db_url):
    add_grids(db_url)
    add_fixed_device(db_url, "cam-1", "camera", *at(100, -500))
    feed(db_url, [det("cam-1", "fire", WED_10)])  # round the clock, 1 h: warn at 10:48, due 11:00 local
    assert run_clock_job(db_url, now=WED_10 + timedelta(minutes=47)).warned == []
    assert run_clock_job(db_url, now=WED_10 + timedelta(minutes=49)).warned == [1]
    assert run_clock_job(db_url, now=WED_10 + timedelta(minutes=55)).warned == []
    done = run_clock_job(db_url, now=WED_10 + timedelta(minutes=61))
    assert done.escalated == [1]
    assert [(a, n) for _, a, n in events(db_url)] == [
        ("warn", "80% of the time used; due at 2026-11-18T03:00:00+00:00"), ("overdue", "deadline passed"),
        ("escalate", "escalated to C (Elm Community)")]
    with psycopg.connect(db_url) as conn:
        assert conn.execute("SELECT escalated_to, overdue_at IS NOT NULL, status FROM case_file").fetchall() == [
            ("C", True, "registered")]


def test_a_case_left_unhandled_climbs_one_level_per_further_sla_span(db_url):
    add_grids(db_url)
    add_fixed_device(db_url, "cam-1", "camera", *at(100, -500))
    feed(db_url, [det("cam-1", "fire", WED_10)])  # due 11:00 local, a span of 1 h
    minutes = {61: "C", 100: "C", 125: "S", 190: "D", 400: "D"}
    for m, expected in minutes.items():
        run_clock_job(db_url, now=WED_10 + timedelta(minutes=m))
        with psycopg.connect(db_url) as conn:
            assert conn.execute("SELECT escalated_to FROM case_file").fetchone()[0] == expected, m
    assert [n for _, a, n in events(db_url) if a == "escalate"] == [
        "escalated to C (Elm Community)", "still not handled; escalated to S (Riverside Street)",
        "still not handled; escalated to D (Harbour District)"]


def test_handled_cases_are_not_escalated(db_url):
    add_fixed_device(db_url, "cam-1", "camera", *at(100, -500))
    feed(db_url, [det("cam-1", "fire", WED_10)])
    with psycopg.connect(db_url) as conn:
        conn.execute("UPDATE case_file SET status = 'handled'")
    assert run_clock_job(db_url, now=WED_10 + timedelta(hours=5)).escalated == []


def _run_scheduler_once(db_url: str) -> None:
    """A fresh scheduler, as after a process restart: its clock job runs once right away."""
    scheduler = BackgroundScheduler(timezone="UTC")
    ran = threading.Event()
    scheduler.add_listener(lambda e: e.job_id == CLOCK_JOB_ID and ran.set(), EVENT_JOB_EXECUTED)
    add_case_jobs(scheduler, db_url, load_settings(database_url=db_url, cases_clock_interval_s=3600,
                                                   cases_webhook_interval_s=3600))
    scheduler.start()
    try:
        assert ran.wait(15)
    finally:
        scheduler.shutdown(wait=True)


def test_escalation_fires_once_across_a_restart_and_with_two_schedulers_at_once(db_url):
    add_grids(db_url)
    add_fixed_device(db_url, "cam-1", "camera", *at(100, -500))
    feed(db_url, [det("cam-1", "fire", WED_10, pos=at(0, -150 * i)) for i in range(1, 6)]
         + [det("cam-1", "garbage", WED_10, pos=at(0, 150 * i)) for i in range(1, 6)])
    _run_scheduler_once(db_url)
    first = events(db_url)
    assert len(first) == 10 * 3, [(c, a) for c, a, _ in first]  # warn, overdue, escalate for every case
    _run_scheduler_once(db_url)  # "restart": a new scheduler, the same database
    threads = [threading.Thread(target=_run_scheduler_once, args=(db_url,)) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert events(db_url) == first
