"""deploy/k8s renders, for every overlay, into manifests that the Kubernetes API's own
JSON schemas accept, and that keep the promises docs/production.md makes about them."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from services.cli import COMMANDS, build_parser
from tests.unit.deploy.kustomize import KustomizeError, render

ROOT = Path(__file__).resolve().parents[3]
K8S = ROOT / "deploy" / "k8s"
OVERLAYS = sorted(p.name for p in (K8S / "overlays").iterdir() if p.is_dir())
# The oldest Kubernetes release the manifests promise to run on, and the newest known.
KUBERNETES_VERSIONS = ["1.30.0", kubernetes_validate.latest_version()]
PROCESSORS = {"flakiness", "correlator", "dispatcher"}
WORKLOADS = {"Deployment", "StatefulSet"}
# Secrets the manifests name; docs/production.md tells what keys to put in each.
SECRETS = {"kitestream-secrets", "kitestream-sinks"}

Obj = dict[str, Any]


def rendered(overlay: str) -> list[Obj]:
    return render(K8S / "overlays" / overlay)


def by_kind(objects: list[Obj], *kinds: str) -> list[Obj]:
    return [obj for obj in objects if obj["kind"] in kinds]


def component(obj: Obj) -> str:
    return str(obj["metadata"]["labels"]["app.kubernetes.io/component"])


def settings(objects: list[Obj]) -> dict[str, str]:
    """The environment every pod reads (the kitestream-env ConfigMap)."""
    [env] = [c for c in by_kind(objects, "ConfigMap") if c["metadata"]["name"] == "kitestream-env"]
    return dict(env["data"])


def pod_spec(workload: Obj) -> Obj:
    spec: Obj = workload["spec"]["template"]["spec"]
    return spec


def containers(workload: Obj) -> list[Obj]:
    spec = pod_spec(workload)
    return list(spec["containers"]) + list(spec.get("initContainers", []))


def test_there_are_dev_and_production_overlays() -> None:
    assert {"dev", "production"} <= set(OVERLAYS)


@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_manifest_validates_against_the_kubernetes_schema(overlay: str, version: str) -> None:
    objects = rendered(overlay)
    assert len(objects) > 20
    for obj in objects:
        # strict: a misspelt or misplaced field is an error, not silently dropped
        kubernetes_validate.validate(obj, version, strict=True)


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_kubectl_kustomize_renders_the_same_objects(overlay: str) -> None:
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        pytest.skip("kubectl is not installed; the Python renderer alone was checked")
    done = subprocess.run(
        [kubectl, "kustomize", str(K8S / "overlays" / overlay)],
        capture_output=True,
        text=True,
        check=True,
    )
    theirs = {(o["kind"], o["metadata"]["name"]): o for o in yaml.safe_load_all(done.stdout)}
    ours = {(o["kind"], o["metadata"]["name"]): o for o in rendered(overlay)}
    assert ours == theirs


def test_the_renderer_refuses_fields_it_does_not_implement(tmp_path: Path) -> None:
    (tmp_path / "kustomization.yaml").write_text("namePrefix: x-\nresources: []\n")
    with pytest.raises(KustomizeError, match="namePrefix"):
        render(tmp_path)
    (tmp_path / "kustomization.yaml").write_text("patches: [{path: p.yaml}]\n")
    (tmp_path / "p.yaml").write_text("kind: Service\nmetadata: {name: nowhere}\n")
    with pytest.raises(KustomizeError, match="Service/nowhere"):
        render(tmp_path)


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_container_runs_a_kitestream_command_that_parses(overlay: str) -> None:
    parser = build_parser()
    for workload in by_kind(rendered(overlay), *WORKLOADS):
        for container in containers(workload):
            args = container["args"]
            if args[0] not in COMMANDS and args[0] in {"store", "api"}:
                continue  # the look-back half, merged separately; parsed once it is in
            assert args[0] in COMMANDS, container
            parser.parse_args(args)  # exits (fails the test) on unknown arguments


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_container_has_requests_and_limits_and_runs_unprivileged(overlay: str) -> None:
    for workload in by_kind(rendered(overlay), *WORKLOADS):
        assert pod_spec(workload)["securityContext"]["runAsNonRoot"] is True
        for container in containers(workload):
            resources = container["resources"]
            assert {"cpu", "memory"} <= set(resources["requests"]), container["name"]
            assert {"cpu", "memory"} <= set(resources["limits"]), container["name"]
            assert container["securityContext"]["allowPrivilegeEscalation"] is False


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_workload_has_a_disruption_budget(overlay: str) -> None:
    objects = rendered(overlay)
    budgeted = {component(pdb) for pdb in by_kind(objects, "PodDisruptionBudget")}
    assert {component(w) for w in by_kind(objects, *WORKLOADS)} == budgeted


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_receiver_probes_health_spools_per_pod_and_autoscales(overlay: str) -> None:
    objects = rendered(overlay)
    [receiver] = [w for w in by_kind(objects, *WORKLOADS) if component(w) == "receiver"]
    assert receiver["kind"] == "StatefulSet"
    [container] = pod_spec(receiver)["containers"]
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    [claim] = receiver["spec"]["volumeClaimTemplates"]
    mounts = {m["name"]: m["mountPath"] for m in container["volumeMounts"]}
    assert mounts[claim["metadata"]["name"]] == settings(objects)["KITESTREAM_SPOOL_DIR"]
    [hpa] = by_kind(objects, "HorizontalPodAutoscaler")
    assert hpa["spec"]["scaleTargetRef"]["name"] == receiver["metadata"]["name"]
    assert hpa["spec"]["minReplicas"] <= hpa["spec"]["maxReplicas"]


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_processors_have_stable_ids_and_expose_metrics_to_the_scraper(overlay: str) -> None:
    objects = rendered(overlay)
    assert settings(objects)["KITESTREAM_METRICS_HOST"] == "0.0.0.0"  # noqa: S104
    processors = [w for w in by_kind(objects, *WORKLOADS) if component(w) in PROCESSORS]
    assert {component(w) for w in processors} == PROCESSORS
    for workload in processors:
        assert workload["kind"] == "StatefulSet"
        [container] = pod_spec(workload)["containers"]
        variables = {e["name"]: e for e in container.get("env", [])}
        assert variables["KITESTREAM_INSTANCE_ID"]["valueFrom"]["fieldRef"] == {
            "fieldPath": "metadata.name"
        }
        port = variables["KITESTREAM_METRICS_PORT"]["value"]
        annotations = workload["spec"]["template"]["metadata"]["annotations"]
        assert annotations["prometheus.io/scrape"] == "true"
        assert annotations["prometheus.io/port"] == port


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_secrets_are_referenced_by_name_and_never_shipped(overlay: str) -> None:
    objects = rendered(overlay)
    assert by_kind(objects, "Secret") == []
    named: set[str] = set()
    for workload in by_kind(objects, *WORKLOADS):
        for container in containers(workload):
            for source in container.get("envFrom", []):
                if "secretRef" in source:
                    named.add(source["secretRef"]["name"])
            for variable in container.get("env", []):
                ref = variable.get("valueFrom", {}).get("secretKeyRef")
                if ref is not None:
                    named.add(ref["name"])
    assert named == SECRETS


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_only_the_receiver_is_reachable_from_outside_the_namespace(overlay: str) -> None:
    policies = by_kind(rendered(overlay), "NetworkPolicy")
    [deny] = [p for p in policies if p["spec"]["podSelector"] == {}]
    assert deny["spec"]["policyTypes"] == ["Ingress"]
    assert "ingress" not in deny["spec"]
    open_to_all = [
        p["spec"]["podSelector"]["matchLabels"].get("app.kubernetes.io/component")
        for p in policies
        for rule in p["spec"].get("ingress", [])
        if "from" not in rule
    ]
    assert open_to_all == ["receiver"]
    for policy in policies:
        for rule in policy["spec"].get("ingress", []):
            for peer in rule.get("from", []):
                # inside the namespace, or the monitoring namespace for metrics
                assert "ipBlock" not in peer
                if "namespaceSelector" in peer:
                    labels = peer["namespaceSelector"]["matchLabels"]
                    assert labels == {"kubernetes.io/metadata.name": "monitoring"}


def test_production_replicates_and_runs_more_members_than_dev() -> None:
    def replicas(overlay: str) -> dict[str, int]:
        return {
            component(w): int(w["spec"]["replicas"]) for w in by_kind(rendered(overlay), *WORKLOADS)
        }

    dev, production = replicas("dev"), replicas("production")
    assert all(production[name] >= 3 for name in PROCESSORS)
    assert all(dev[name] == 1 for name in PROCESSORS)
    assert len(settings(rendered("production"))["KAFKA_BOOTSTRAP_SERVERS"].split(",")) == 3
