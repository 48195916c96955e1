"""Prometheus and Grafana files against the code: every service scraped on its port, alert rules that
parse, are about metrics the code exports and point to a runbook that exists; provisioning that
matches the compose mounts."""
from __future__ import annotations

import json
import re

import promql_parser
import pytest

from dyade.service import SERVICES
from dyade.settings import Settings

from deploy_files import DEPLOY, ROOT, SERVICE_NAMES, compose, load_yaml

RULES = sorted((DEPLOY / "prometheus" / "rules").glob("*.yml"))
OPERATIONS = ROOT / "docs" / "operations.md"


def scrape_jobs() -> dict[str, dict]:
    return {job["job_name"]: job for job in load_yaml(DEPLOY / "prometheus" / "prometheus.yml")["scrape_configs"]}


@pytest.mark.parametrize("spec", SERVICES, ids=lambda s: s.name)
def test_prometheus_scrapes_every_service_on_its_port(spec):
    job = scrape_jobs()[spec.name]
    targets = [t for group in job["static_configs"] for t in group["targets"]]
    assert targets == [f"{spec.name}:{Settings(_env_file=None).port_of(spec.name)}"]
    assert job.get("metrics_path", "/metrics") == "/metrics"


def test_every_scrape_target_is_a_compose_service():
    services = set(compose()["services"])
    for name, job in scrape_jobs().items():
        for group in job["static_configs"]:
            for target in group["targets"]:
                host = target.split(":")[0]
                assert host == "localhost" or host in services, f"job {name} scrapes {target}, not a compose service"


def test_prometheus_loads_the_rules_folder_mounted_by_compose():
    config = load_yaml(DEPLOY / "prometheus" / "prometheus.yml")
    assert config["rule_files"] == ["/etc/prometheus/rules/*.yml"]
    mounts = compose()["services"]["prometheus"]["volumes"]
    assert "./deploy/prometheus/rules:/etc/prometheus/rules:ro" in mounts


def rules() -> list[tuple[str, dict]]:
    out = []
    for path in RULES:
        for group in load_yaml(path)["groups"]:
            for rule in group["rules"]:
                out.append((path.name, rule))
    return out


def test_every_rule_is_valid_promql_with_a_severity_and_a_summary():
    assert rules()
    for file, rule in rules():
        name = rule.get("alert") or rule.get("record")
        try:
            promql_parser.parse(rule["expr"])
        except ValueError as exc:
            pytest.fail(f"{file}: {name}: {exc}")
        if "alert" in rule:
            assert rule["labels"]["severity"] in ("critical", "warning", "info"), f"{file}: {name}"
            assert rule["annotations"].get("summary"), f"{file}: {name} has no summary"


def anchors(markdown: str) -> set[str]:
    """GitHub-style anchors of the headings of a Markdown text."""
    out = set()
    for line in markdown.splitlines():
        m = re.match(r"^#+\s+(.*)", line)
        if m:
            slug = re.sub(r"[^\w\- ]", "", m.group(1).strip().lower()).replace(" ", "-")
            out.add(slug)
    return out


def test_every_runbook_link_points_to_a_section_of_the_operations_guide():
    available = anchors(OPERATIONS.read_text(encoding="utf-8"))
    for file, rule in rules():
        runbook = rule.get("annotations", {}).get("runbook")
        if runbook and runbook.startswith("docs/operations.md#"):
            assert runbook.split("#", 1)[1] in available, f"{file}: {rule['alert']}: no section {runbook}"


def test_the_platform_alerts_cover_services_down_consumer_lag_and_dead_letters():
    mine = [rule for file, rule in rules() if file == "dyade.yml"]
    exprs = " ".join(rule["expr"] for rule in mine)
    assert re.search(r"\bup\{job=~\"([^\"]+)\"\} == 0", exprs)
    down = re.search(r"\bup\{job=~\"([^\"]+)\"\} == 0", exprs).group(1)
    assert set(down.split("|")) == SERVICE_NAMES
    assert "kafka_consumergroup_lag" in exprs
    assert ".+[.]dlq" in exprs


def dashboard_queries() -> list[tuple[str, str, str]]:
    """(file, panel title, expr) of every query of every provisioned dashboard."""
    out = []
    for path in sorted((DEPLOY / "grafana" / "dashboards").glob("*.json")):
        stack = list(json.loads(path.read_text(encoding="utf-8"))["panels"])
        while stack:
            panel = stack.pop()
            stack.extend(panel.get("panels", []))
            for target in panel.get("targets", []):
                if target.get("expr"):
                    out.append((path.name, panel.get("title", ""), target["expr"]))
    return out


def exported(metric: str, code: str) -> bool:
    base = re.sub(r"_(bucket|count|sum|created)$", "", metric)
    candidates = {base, base.removesuffix("_total"), re.sub(r"^dyade_analytics_", "", base)}
    return any(f'"{c}"' in code or f"'{c}'" in code for c in candidates)


def test_the_dyade_metrics_the_rules_and_dashboards_use_are_exported_by_the_code():
    code = "\n".join(p.read_text(encoding="utf-8") for base in ("dyade", "services")
                     for p in (ROOT / base).rglob("*.py") if "tests" not in p.parts)
    uses = [(file, rule.get("alert") or rule.get("record"), rule["expr"]) for file, rule in rules()]
    uses += dashboard_queries()
    assert any(file == "platform.json" for file, _, _ in uses)
    for file, where, expr in uses:
        for metric in set(re.findall(r"\b(dyade_[a-z0-9_]+)", expr)):
            assert exported(metric, code), f"{file}: {where}: metric {metric} is not exported by any service"


def test_every_dashboard_query_is_valid_promql():
    for file, title, expr in dashboard_queries():
        try:
            promql_parser.parse(re.sub(r"\$__(rate_interval|interval|range)", "5m", expr))
        except ValueError as exc:
            pytest.fail(f"{file}: {title}: {exc}")


def test_kubernetes_gets_every_dashboard_and_rules_file():
    kustomization = load_yaml(DEPLOY / "kustomization.yaml")
    files = {f for g in kustomization["configMapGenerator"] for f in g["files"]}
    on_disk = {p.relative_to(DEPLOY).as_posix() for p in (DEPLOY / "grafana" / "dashboards").glob("*.json")}
    on_disk |= {p.relative_to(DEPLOY).as_posix() for p in RULES}
    assert on_disk == files, "deploy/kustomization.yaml must generate a ConfigMap entry for each of these files"


def test_grafana_datasource_and_dashboards_are_provisioned():
    (datasource,) = load_yaml(DEPLOY / "grafana/provisioning/datasources/prometheus.yml")["datasources"]
    assert datasource["url"] == "http://prometheus:9090" and datasource["uid"] == "prometheus"
    dashboards = sorted((DEPLOY / "grafana" / "dashboards").glob("*.json"))
    assert (DEPLOY / "grafana" / "dashboards" / "dyade.json") in dashboards, \
        "the analytics dashboard deploy/grafana/dashboards/dyade.json is missing"
    for path in dashboards:
        board = json.loads(path.read_text(encoding="utf-8"))
        assert board.get("title") and board.get("panels"), f"{path.name}: no title or no panels"
        for uid in re.findall(r'"datasource":\s*\{[^}]*"uid":\s*"([^"]+)"', path.read_text(encoding="utf-8")):
            assert uid == datasource["uid"] or uid.startswith("${") or uid.startswith("-- "), \
                f"{path.name}: data source uid {uid!r} is not provisioned"


CONSUMER_ALERTS = {
    "DyadeConsumerBloque": "dyade_consumer_stalled",
    "DyadeConsumerRetardCroissant": "dyade_consumer_lag",
    "DyadeConsumerDeconnecte": "dyade_consumer_connected",
    "DyadeConsumerLettresMortesRafale": "dyade_consumer_dead_letters_total",
    "DyadeServiceRedemarre": "process_start_time_seconds",
}


def test_the_consumer_and_restart_alerts_exist_parse_and_say_in_french_what_to_do():
    mine = {rule["alert"]: rule for file, rule in rules() if file == "dyade.yml" and "alert" in rule}
    for name, metric in CONSUMER_ALERTS.items():
        assert name in mine, f"dyade.yml has no alert {name}"
        rule = mine[name]
        promql_parser.parse(rule["expr"])
        assert metric in rule["expr"], f"{name} is not about {metric}"
        notes = rule["annotations"]
        assert notes["summary"] and len(notes.get("description", "")) > 80, f"{name}: say what is wrong and what to do"
        assert re.search(r"[éèàç]", notes["description"]), f"{name}: the description is in French"
        assert notes["runbook"].startswith("docs/operations.md#"), name
    assert mine["DyadeConsumerBloque"]["for"] == "2m"
    assert mine["DyadeConsumerDeconnecte"]["for"] == "1m"
    assert mine["DyadeConsumerRetardCroissant"]["for"] == "5m"
    assert "[5m]" in mine["DyadeConsumerLettresMortesRafale"]["expr"] and "> 10" in mine["DyadeConsumerLettresMortesRafale"]["expr"]
    restarted = mine["DyadeServiceRedemarre"]["expr"]
    assert "changes(" in restarted and set(re.search(r'job=~"([^"]+)"', restarted).group(1).split("|")) == SERVICE_NAMES
