"""The alert rules (deploy/prometheus/alerts.yml): valid, tested by promtool on synthetic series
(firing and not firing, deploy/prometheus/alerts_test.yml), and about metrics the services
really export. promtool comes with Debian's `prometheus` package (scripts/ensure-promtool)."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import yaml
from prometheus_client import CollectorRegistry

from projector.delivery import DeliveryStats
from projector.delivery_metrics import DeliveryCollector
from projector.metrics import ProjectorMetrics
from receiver.metrics import ReceiverMetrics

DEPLOY = Path(__file__).resolve().parents[2] / "deploy" / "prometheus"


def promtool(*args: str) -> subprocess.CompletedProcess[str]:
    tool = shutil.which("promtool")
    assert tool, "promtool is missing: run scripts/ensure-promtool (make test does)"
    return subprocess.run(
        [tool, *args], cwd=DEPLOY, capture_output=True, text=True, timeout=120, check=False
    )


def test_the_configuration_and_its_rules_are_valid() -> None:
    checked = promtool("check", "config", "prometheus.yml")
    assert checked.returncode == 0, checked.stdout + checked.stderr


def test_every_alert_fires_and_stays_quiet_as_its_tests_say() -> None:
    tested = promtool("test", "rules", "alerts_test.yml")
    assert tested.returncode == 0, tested.stdout + tested.stderr
    alerts = {
        rule["alert"]
        for group in yaml.safe_load((DEPLOY / "alerts.yml").read_text())["groups"]
        for rule in group["rules"]
    }
    tests = yaml.safe_load((DEPLOY / "alerts_test.yml").read_text())["tests"]
    checks = [check for test in tests for check in test["alert_rule_test"]]
    firing = {c["alertname"] for c in checks if c["exp_alerts"]}
    quiet = {c["alertname"] for c in checks if not c["exp_alerts"]}
    assert firing == alerts
    assert quiet == alerts


def _exported_names() -> set[str]:
    registries = [ProjectorMetrics().registry, ReceiverMetrics().registry, CollectorRegistry()]
    registries[2].register(DeliveryCollector(DeliveryStats()))
    suffixes = ("", "_total", "_bucket", "_count", "_sum")
    return {m.name + s for r in registries for m in r.collect() for s in suffixes} | {"up"}


def test_the_rules_use_only_metrics_the_services_export() -> None:
    text = (DEPLOY / "alerts.yml").read_text()
    exprs = " ".join(
        rule["expr"] for group in yaml.safe_load(text)["groups"] for rule in group["rules"]
    )
    used = set(re.findall(r"\b([a-z_]+)(?=\{|\[|\))", exprs)) - {
        "rate", "increase", "sum", "by", "on", "and", "histogram_quantile", "instance", "catalog",
        "le", "offset",
    }  # fmt: skip
    assert used
    assert used <= _exported_names(), used - _exported_names()
