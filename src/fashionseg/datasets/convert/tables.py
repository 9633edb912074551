"""The mapping tables of ``mappings.py`` as Markdown, for docs/datasets.md (a test keeps the
two the same)."""

from __future__ import annotations

from fashionseg.datasets.convert import mappings as m


def _table(rows: list[tuple[str, str]], head: tuple[str, str]) -> str:
    lines = [f"| {head[0]} | {head[1]} |", "| --- | --- |"]
    lines += [f"| {a} | {b or '(background)'} |" for a, b in rows]
    return "\n".join(lines)


def markdown() -> str:
    """Every converter's table, each under its own heading."""
    parts = [
        "### CCP\n\n" + _table(sorted(m.CCP.items()), ("CCP label", "Fashionpedia category")),
        "### LIP and CIHP\n\n"
        + _table([(n, m.PARSING[n]) for n in m.LIP_LABELS], ("label", "Fashionpedia category")),
        "### ATR\n\n"
        + _table([(n, m.PARSING[n]) for n in m.ATR_LABELS], ("label", "Fashionpedia category")),
        "### ModaNet\n\n"
        + _table(
            [(f"{k} {name}", target) for k, (name, target) in m.MODANET.items()],
            ("ModaNet category", "Fashionpedia category"),
        ),
        "### DeepFashion2\n\n"
        + _table(
            [
                (f"{k} {name}", target + (f" + {', '.join(attrs)}" if attrs else ""))
                for k, (name, target, attrs) in m.DEEPFASHION2.items()
            ],
            ("DeepFashion2 category", "Fashionpedia category + attributes"),
        ),
    ]
    return "\n\n".join(parts) + "\n"


if __name__ == "__main__":
    print(markdown(), end="")
