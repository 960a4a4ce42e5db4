#!/usr/bin/env python3
"""Compares two renderings of Kubernetes manifests (multi-document YAML files) object by
object, keyed by kind, namespace and name. Exit 0 when they are the same objects with the same
content; otherwise prints what differs (make test: the Helm chart vs the kustomize base)."""
import sys
import yaml


def load(path):
    objects = {}
    with open(path) as f:
        for doc in yaml.safe_load_all(f):
            if not doc:
                continue
            meta = doc.get("metadata", {})
            objects[(doc["kind"], meta.get("namespace", ""), meta["name"])] = doc
    return objects


def diff(a, b, path=""):
    if type(a) != type(b) and not (isinstance(a, (int, float)) and isinstance(b, (int, float))):
        return [f"{path}: {a!r} != {b!r}"]
    if isinstance(a, dict):
        out = []
        for k in sorted(set(a) | set(b), key=str):
            if k not in a or k not in b:
                out.append(f"{path}.{k}: only in {'first' if k in a else 'second'}")
            else:
                out += diff(a[k], b[k], f"{path}.{k}")
        return out
    if isinstance(a, list):
        if len(a) != len(b):
            return [f"{path}: {len(a)} items != {len(b)} items"]
        return [d for i, (x, y) in enumerate(zip(a, b)) for d in diff(x, y, f"{path}[{i}]")]
    return [] if a == b else [f"{path}: {a!r} != {b!r}"]


first, second = load(sys.argv[1]), load(sys.argv[2])
problems = []
for key in sorted(set(first) | set(second)):
    if key not in first or key not in second:
        problems.append(f"{key}: only in {sys.argv[1] if key in first else sys.argv[2]}")
    else:
        problems += [f"{key}{d}" for d in diff(first[key], second[key])]
for p in problems:
    print(p)
sys.exit(1 if problems else 0)
