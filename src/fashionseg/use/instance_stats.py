"""What a collection's instances say, for ``analyze``: counts and attributes per category."""

from __future__ import annotations


class InstanceTally:
    """Per category name, over predict's documents that list instances: how many instances
    and their most common attributes, added one document at a time."""

    def __init__(self):
        self.counts: dict[str, int] = {}
        self.attributes: dict[str, dict[str, int]] = {}

    def add(self, doc: dict) -> None:
        for inst in doc.get("instances", []):
            name = inst["name"]
            self.counts[name] = self.counts.get(name, 0) + 1
            seen = self.attributes.setdefault(name, {})
            for a in inst.get("attributes", []):
                seen[a["name"]] = seen.get(a["name"], 0) + 1

    def result(self) -> dict[str, dict]:
        """name -> ``instances`` and ``attributes`` (name -> count, most common first)."""
        return {
            name: {
                "instances": n,
                "attributes": dict(sorted(self.attributes[name].items(), key=lambda kv: -kv[1])),
            }
            for name, n in self.counts.items()
        }
