"""deploy/k8s against the code and the Kubernetes API schemas: one workload per service with its real
command, port, probes and resources; the stream processors under a PodDisruptionBudget; the jobs."""
from __future__ import annotations

import shutil
import subprocess

import kubernetes_validate
import pytest

from dyade.service import SERVICES
from dyade.settings import Settings

from deploy_files import (DEPLOY, K8S, SECRETS, SERVICE_NAMES, k8s, k8s_docs, known_app_vars, load_all, load_yaml,
                          without_file, workloads)

DEFAULTS = Settings(_env_file=None)
K8S_VERSION = "1.33"


def test_every_manifest_is_valid_against_the_kubernetes_schemas():
    assert k8s_docs(), "no manifest under deploy/k8s"
    for doc in k8s_docs():
        try:
            kubernetes_validate.validate(without_file(doc), K8S_VERSION, strict=True)
        except kubernetes_validate.ValidationError as exc:
            pytest.fail(f"{doc['__file__']}: {doc['kind']} {doc['metadata']['name']}: {exc.message}")


def test_the_workloads_are_exactly_the_code_services():
    assert set(workloads()) == SERVICE_NAMES


@pytest.mark.parametrize("spec", SERVICES, ids=lambda s: s.name)
def test_each_workload_runs_its_module_with_probes_resources_and_no_root(spec):
    workload = workloads()[spec.name]
    pod = workload["spec"]["template"]
    (container,) = pod["spec"]["containers"]
    port = DEFAULTS.port_of(spec.name)
    assert container["command"] == ["python", "-m", spec.module]
    assert container["ports"] == [{"name": "http", "containerPort": port}]
    assert container["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "http"}
    assert container["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "http"}
    for kind in ("livenessProbe", "readinessProbe"):
        probe = container[kind]
        assert probe["timeoutSeconds"] < probe["periodSeconds"], f"{spec.name}: {kind} overlaps itself"
    liveness = container["livenessProbe"]
    # /healthz already waits DYADE_LIVENESS_S (120 s) before failing: restart within another minute at most
    assert 20 <= liveness["periodSeconds"] * liveness["failureThreshold"] <= 60, f"{spec.name}: livenessProbe"
    assert container["startupProbe"]["httpGet"]["path"] == "/healthz", "liveness only once the process is up"
    for kind in ("requests", "limits"):
        assert {"cpu", "memory"} <= set(container["resources"][kind]), f"{spec.name}: resources.{kind}"
    assert pod["spec"]["securityContext"]["runAsNonRoot"] is True
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert {"name": "home", "mountPath": "/var/lib/dyade"} in container["volumeMounts"]
    assert container["envFrom"] == [{"configMapRef": {"name": "dyade-config"}}, {"secretRef": {"name": "dyade-secrets"}}]
    env = container.get("env", [])
    # a variable only there to be substituted into another one's value (`$(POD_IP)`) is not read by the code
    substituted = {e["name"] for e in env if any(f"$({e['name']})" in str(o.get("value", "")) for o in env)}
    assert {e["name"] for e in env} - substituted <= known_app_vars()
    assert pod["metadata"]["annotations"]["prometheus.io/port"] == str(port)
    selector = workload["spec"]["selector"]["matchLabels"]
    assert selector.items() <= pod["metadata"]["labels"].items()
    (service,) = [s for s in k8s("Service") if s["metadata"]["name"] == spec.name]
    assert service["spec"]["selector"] == selector
    assert service["spec"]["ports"] == [{"name": "http", "port": port, "targetPort": "http"}]


def test_replicated_workloads_and_the_stream_processors_have_a_disruption_budget():
    budgets = {d["metadata"]["name"]: d for d in k8s("PodDisruptionBudget")}
    for name, workload in workloads().items():
        if workload["spec"]["replicas"] > 1:
            assert name in budgets, f"{name} has {workload['spec']['replicas']} replicas and no PodDisruptionBudget"
            assert budgets[name]["spec"]["selector"]["matchLabels"] == workload["spec"]["selector"]["matchLabels"]
    triage = workloads()["triage"]
    assert triage["spec"]["replicas"] >= 2, "the faust workers share the partitions"
    assert budgets["triage"]["spec"] .get("maxUnavailable") == 1, "one faust worker down at a time"
    assert workloads()["intake"]["spec"]["replicas"] >= 2, "the call intake must survive one pod down"


def test_triage_workers_never_outnumber_the_partitions():
    (configmap,) = [d for d in k8s("ConfigMap") if d["metadata"]["name"] == "dyade-config"]
    assert workloads()["triage"]["spec"]["replicas"] <= int(configmap["data"]["DYADE_TOPIC_PARTITIONS"])


def test_the_jobs_migrate_and_create_the_topics_with_the_real_commands():
    jobs = {d["metadata"]["name"]: d["spec"]["template"]["spec"] for d in k8s("Job")}
    assert jobs["dyade-migrate"]["containers"][0]["command"] == ["dyade", "migrate"]
    assert jobs["dyade-topics"]["containers"][0]["command"] == ["dyade", "topics", "--create"]
    for spec in jobs.values():
        assert spec["restartPolicy"] in ("OnFailure", "Never")
        assert spec["containers"][0]["envFrom"][0] == {"configMapRef": {"name": "dyade-config"}}


def test_no_secret_value_is_committed():
    assert not k8s("Secret"), "create the Secrets with kubectl (docs/operations.md); never commit them"
    (configmap,) = [d for d in k8s("ConfigMap") if d["metadata"]["name"] == "dyade-config"]
    assert not set(configmap["data"]) & set(SECRETS + ("DATABASE_URL",))


def test_the_ingress_routes_to_services_and_ports_that_exist():
    services = {s["metadata"]["name"]: {p["name"] for p in s["spec"]["ports"]} for s in k8s("Service")}
    for ingress in k8s("Ingress"):
        for rule in ingress["spec"]["rules"]:
            for path in rule["http"]["paths"]:
                backend = path["backend"]["service"]
                assert backend["port"]["name"] in services[backend["name"]], backend


def kustomization() -> dict:
    return load_yaml(DEPLOY / "kustomization.yaml")


def test_the_kustomization_lists_every_manifest_and_files_that_exist():
    listed = {r for r in kustomization()["resources"]}
    assert listed == {f"k8s/{p.name}" for p in K8S.glob("*.yaml")}
    for generator in kustomization()["configMapGenerator"]:
        for path in generator["files"]:
            assert (DEPLOY / path).is_file(), f"kustomization generates a ConfigMap from {path}, which is missing"


@pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl (kustomize) is not installed here")
def test_kustomize_builds_valid_manifests(tmp_path):
    out = subprocess.run(["kubectl", "kustomize", str(DEPLOY)], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    path = tmp_path / "built.yaml"
    path.write_text(out.stdout)
    built = load_all(path)
    assert {d["metadata"].get("namespace") for d in built if d["kind"] != "Namespace"} == {"dyade"}
    for doc in built:
        kubernetes_validate.validate(doc, K8S_VERSION, strict=True)
    names = {(d["kind"], d["metadata"]["name"]) for d in built}
    assert ("ConfigMap", "dyade-prometheus-rules") in names and ("ConfigMap", "dyade-grafana-dashboards") in names


def pod_specs() -> list[tuple[str, dict]]:
    out = [(name, w["spec"]["template"]["spec"]) for name, w in workloads().items()]
    out += [(j["metadata"]["name"], j["spec"]["template"]["spec"]) for j in k8s("Job")]
    return out


def test_every_pod_meets_the_restricted_pod_security_standard_the_namespace_enforces():
    (namespace,) = k8s("Namespace")
    assert namespace["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "restricted"
    for name, spec in pod_specs():
        assert not (spec.get("hostNetwork") or spec.get("hostPID") or spec.get("hostIPC")), name
        assert spec["securityContext"]["runAsNonRoot"] is True, name
        assert spec["securityContext"]["seccompProfile"]["type"] in ("RuntimeDefault", "Localhost"), name
        for volume in spec.get("volumes", []):
            kinds = set(volume) - {"name"}
            assert kinds <= {"emptyDir", "secret", "configMap", "projected", "persistentVolumeClaim",
                             "downwardAPI", "ephemeral", "csi"}, f"{name}: volume {volume['name']} {kinds}"
        for container in spec["containers"] + spec.get("initContainers", []):
            ctx = container["securityContext"]
            assert ctx["allowPrivilegeEscalation"] is False, name
            assert "ALL" in ctx["capabilities"]["drop"] and not ctx["capabilities"].get("add"), name
            assert not ctx.get("privileged"), name
            assert not any("hostPort" in p for p in container.get("ports", [])), name
