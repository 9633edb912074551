"""What a collection's instances say, for ``analyze``: counts and attributes per category."""

from __future__ import annotations


def collection_instances(docs: list[dict]) -> dict[str, dict]:
    """Per category name, over predict's documents that list instances: how many instances
    and their most common attributes (name -> count, most common first), for ``analyze``."""
    counts: dict[str, int] = {}
    attributes: dict[str, dict[str, int]] = {}
    for doc in docs:
        for inst in doc.get("instances", []):
            name = inst["name"]
            counts[name] = counts.get(name, 0) + 1
            seen = attributes.setdefault(name, {})
            for a in inst.get("attributes", []):
                seen[a["name"]] = seen.get(a["name"], 0) + 1
    return {
        name: {
            "instances": n,
            "attributes": dict(sorted(attributes[name].items(), key=lambda kv: -kv[1])),
        }
        for name, n in counts.items()
    }
