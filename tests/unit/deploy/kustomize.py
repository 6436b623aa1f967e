"""A small kustomize: renders ``deploy/k8s`` overlays offline, in the test process.

It implements exactly the kustomization fields the overlays use (``resources`` as
files or folders, ``namespace``, ``images``, and ``patches`` of strategic-merge
documents found by kind and name); any other field is refused, so an overlay cannot
start using one that this renderer would silently ignore. Where ``kubectl`` is
installed, ``test_k8s.py`` also renders with ``kubectl kustomize`` and requires the
same objects, so this renderer cannot drift from the real one.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import yaml

__all__ = ["KustomizeError", "render"]

Obj = dict[str, Any]

SUPPORTED = {"apiVersion", "kind", "resources", "namespace", "images", "patches"}

# Strategic-merge lists merged item by item on this key (Kubernetes' patchMergeKey);
# any other list in a patch replaces the original one, as for volumeClaimTemplates.
MERGE_KEYS = {
    "containers": "name",
    "initContainers": "name",
    "env": "name",
    "volumes": "name",
    "volumeMounts": "mountPath",
}


class KustomizeError(ValueError):
    """The kustomization uses something this renderer does not implement, or a patch
    names an object that is not there."""


def render(folder: Path) -> list[Obj]:
    """The objects ``kubectl kustomize folder`` would print, in resource order."""
    kustomization = yaml.safe_load((folder / "kustomization.yaml").read_text())
    unknown = set(kustomization) - SUPPORTED
    if unknown:
        raise KustomizeError(f"{folder}: fields this renderer does not know: {sorted(unknown)}")
    objects: list[Obj] = []
    for entry in kustomization.get("resources", []):
        path = folder / entry
        objects += render(path) if path.is_dir() else _documents(path)
    for patch in kustomization.get("patches", []):
        if set(patch) != {"path"}:
            raise KustomizeError(f"{folder}: only `patches: - path: FILE` is supported")
        for doc in _documents(folder / patch["path"]):
            target = _find(objects, doc["kind"], doc["metadata"]["name"], folder)
            _merge(target, doc)
    for image in kustomization.get("images", []):
        for obj in objects:
            _set_image(obj, image)
    if "namespace" in kustomization:
        for obj in objects:
            obj["metadata"]["namespace"] = kustomization["namespace"]
    return objects


def _documents(path: Path) -> list[Obj]:
    return [doc for doc in yaml.safe_load_all(path.read_text()) if doc]


def _find(objects: list[Obj], kind: str, name: str, folder: Path) -> Obj:
    for obj in objects:
        if obj["kind"] == kind and obj["metadata"]["name"] == name:
            return obj
    raise KustomizeError(f"{folder}: a patch names {kind}/{name}, which is not in its resources")


def _merge(target: Obj, patch: Obj) -> None:
    for key, value in patch.items():
        old = target.get(key)
        if isinstance(value, dict) and isinstance(old, dict):
            _merge(old, value)
        elif isinstance(value, list) and isinstance(old, list) and key in MERGE_KEYS:
            _merge_list(old, value, MERGE_KEYS[key])
        else:
            target[key] = copy.deepcopy(value)


def _merge_list(target: list[Obj], patch: list[Obj], merge_key: str) -> None:
    for item in patch:
        same = [t for t in target if t.get(merge_key) == item[merge_key]]
        if same:
            _merge(same[0], item)
        else:
            target.append(copy.deepcopy(item))


def _set_image(obj: Obj, image: dict[str, str]) -> None:
    pod = obj.get("spec", {}).get("template", {}).get("spec", {})
    for container in pod.get("containers", []) + pod.get("initContainers", []):
        name, _, tag = container["image"].partition(":")
        if name != image["name"]:
            continue
        new_name = image.get("newName", name)
        new_tag = str(image.get("newTag", tag))
        container["image"] = f"{new_name}:{new_tag}" if new_tag else new_name
