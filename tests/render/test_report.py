"""The full report: every host, full logs, scrubbed, spreadsheet-safe."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime

from hypothesis import HealthCheck, given, settings

from aom_bot.aom.models import ExecutionDetail
from aom_bot.render.analysis import bucket_counts
from aom_bot.render.report import CSV_COLUMNS, report_csv, report_text
from aom_bot.render.scrub import Scrubber
from tests.render.factories import execution, host, load_fixture, mass_failure, node
from tests.render.strategies import SECRETS, executions

NOW = datetime(2024, 3, 15, 8, 12, tzinfo=UTC)


def _rows(text: str) -> list[dict[str, str]]:
    # full logs can exceed the csv module's default 128 KiB field limit
    csv.field_size_limit(16 * 1024 * 1024)
    return list(csv.DictReader(io.StringIO(text)))


def test_csv_lists_every_host_with_full_log() -> None:
    """F3: six rows, failures first, with IP, AZ, exit code, error and the whole 4 KB log."""
    detail = load_fixture("f3_failed.json")
    rows = _rows(report_csv(detail))
    assert len(rows) == 6
    assert list(rows[0]) == list(CSV_COLUMNS)
    assert [r["bucket"] for r in rows] == ["fail"] * 5 + ["success"]
    web03 = next(r for r in rows if r["name"] == "web-03")
    assert web03["ip"] == "192.168.0.13"
    assert web03["availability_zone"] == "cn-north-4a"
    assert web03["exit_code"] == "1"
    assert web03["error"] == "[patch] yum failed"
    original = next(h for _, _, h in detail.iter_hosts() if h.name == "web-03").log
    # the log starts with "+" (set -x), so it carries the formula guard
    assert web03["log"] == "'" + original
    assert len(original) > 3900


def test_csv_holds_all_failed_hosts_of_a_huge_run() -> None:
    """The card truncates; the report never does."""
    detail = mass_failure(10_000, 3000, groups=40)
    rows = _rows(report_csv(detail))
    assert sum(1 for r in rows if r["bucket"] == "fail") == 3000
    assert len(rows) == 10_000


def test_csv_cells_cannot_become_formulas() -> None:
    """A host named '=HYPERLINK(…)' is prefixed with a quote so spreadsheets show it as text."""
    detail = execution(
        node(fail=[host(1, name='=HYPERLINK("http://x")', log="+ set -e", exit_code="1")])
    )
    row = _rows(report_csv(detail))[0]
    assert row["name"].startswith("'=")
    assert row["log"] == "'+ set -e"


def test_text_report_is_readable_and_complete() -> None:
    """Summary, groups with every host, and each host's full log, indented."""
    report = report_text(load_fixture("f3_failed.json"), now=NOW, workflow_name="deploy-nginx")
    assert report.startswith("AOM execution report — deploy-nginx\n")
    assert "Hosts: 6 (1 succeeded, 5 failed, 0 running, 0 not performed)" in report
    assert "FAILED HOSTS BY ERROR (5 groups)" in report
    assert "      | Error: Package: nginx-1.20.1-10.el7.x86_64 (epel)" in report
    assert "数据库-主节点-01  [fail]" in report
    assert "\r" not in report


def test_reports_scrub_secrets_by_default_and_on_request_not() -> None:
    """Both formats redact planted secrets unless scrubbing is switched off."""
    planted = "\n".join(t for t, _ in SECRETS)
    detail = execution(node(fail=[host(1, log=planted, error_msg=planted, exit_code="1")]))
    for rendered in (report_csv(detail), report_text(detail, now=NOW)):
        for _, secret in SECRETS:
            assert secret not in rendered
    assert "Zq8!Secret" in report_csv(detail, scrubber=Scrubber(enabled=False))


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(raw=executions())
def test_any_execution_gives_a_report_with_every_failed_host(raw: dict[str, object]) -> None:
    """Property: the CSV has one row per (node, host) and at least every distinct failed host."""
    detail = ExecutionDetail.model_validate(raw)
    rows = _rows(report_csv(detail))
    assert len(rows) == sum(1 for _ in detail.iter_hosts())
    assert sum(1 for r in rows if r["bucket"] == "fail") >= bucket_counts(detail).failed
    text = report_text(detail, now=NOW)
    for _, secret in SECRETS:
        assert secret not in text
