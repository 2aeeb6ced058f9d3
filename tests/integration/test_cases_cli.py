"""`gridwatch cases webhook add` and `gridwatch cases catalog`."""
from __future__ import annotations

import psycopg

from gridwatch.cli import main


def test_webhook_add_prints_a_generated_secret_and_refuses_bad_input(db_url, monkeypatch, capsys):
    monkeypatch.setenv("GRIDWATCH_DATABASE_URL", db_url)
    assert main(["cases", "webhook", "add", "https://dept.example/hook", "--department", "sanitation"]) == 0
    secret = capsys.readouterr().out.rsplit("secret ", 1)[1].strip()
    with psycopg.connect(db_url) as conn:
        assert conn.execute("SELECT url, department, secret FROM case_webhook").fetchall() == [
            ("https://dept.example/hook", "sanitation", secret)]
    assert len(secret) >= 32
    assert main(["cases", "webhook", "add", "ftp://x"]) == 2
    assert main(["cases", "webhook", "add", "https://x", "--secret", "short"]) == 2
    assert "at least 16" in capsys.readouterr().err


def test_catalog_check_names_the_key_at_fault(tmp_path, capsys):
    bad = tmp_path / "catalog.toml"
    bad.write_text("[kinds.garbage]\ndepartment = 'sanitation'\nsla_hour = 8\n")
    assert main(["cases", "catalog", str(bad)]) == 2
    err = capsys.readouterr().err
    assert "kinds.garbage.sla_hours: Field required" in err and "kinds.garbage.sla_hour: Extra inputs" in err
    assert main(["cases", "catalog"]) == 0
    assert "garbage        sanitation" in capsys.readouterr().out
