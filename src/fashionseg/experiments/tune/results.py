"""What a search leaves: ``trials.csv``, ``best.yaml`` (a train config that reproduces the
best trial) and ``report.html`` (history, importances, parallel coordinates), all read back
from the study's storage, so every machine of a shared study writes the same tables."""

from __future__ import annotations

import csv
import warnings
from dataclasses import replace
from pathlib import Path

import optuna
from optuna.trial import TrialState

from fashionseg.config import save_config
from fashionseg.experiments.tune.space import Space
from fashionseg.experiments.tune.storage import retry_of, tally

COLUMNS = ["number", "state", "value", "epochs", "minutes", "pruned_at", "retry_of", "error"]


def write_results(study: optuna.Study, folder: Path, space: Space, data: str) -> dict:
    """Write trials.csv, best.yaml and report.html into ``folder``.

    Returns:
        The summary: trial counts, best value, best trial number and the files written.
    """
    trials = [t for t in study.get_trials(deepcopy=False) if not t.user_attrs.get("surplus")]
    names = list(space.search)
    rows = [_row(t, names) for t in trials]
    with open(folder / "trials.csv", "w", newline="") as f:
        w = csv.DictWriter(f, COLUMNS + names)
        w.writeheader()
        w.writerows(rows)
    summary = {"counts": dict(tally(study)), "files": [str(folder / "trials.csv")]}
    done = [t for t in trials if t.state == TrialState.COMPLETE]
    if done:
        best = max(done, key=lambda t: t.value)
        summary.update(best_value=best.value, best_trial=best.number)
        config = space.config(
            best.params,
            data=str(Path(data).resolve()),
            out=str((folder / "best").resolve()),
            train_list=str((folder / "train.txt").resolve()),
            val_list=str((folder / "val.txt").resolve()),
        )
        # The trial's schedule as it ran: a time budget fits a different number of epochs on
        # another machine, so the reproduction trains the epochs the trial trained.
        config = replace(
            config, epochs=int(best.user_attrs.get("epochs", config.epochs)), max_minutes=0.0
        )
        save_config(config, folder / "best.yaml")
        summary["files"].append(str(folder / "best.yaml"))
    report = _report(study, trials, rows, names, folder)
    summary["files"].append(str(report))
    return summary


def _row(t: optuna.trial.FrozenTrial, names: list[str]) -> dict:
    row = {
        "number": t.number,
        "state": t.state.name.lower(),
        "value": "" if t.value is None else round(t.value, 5),
        "epochs": t.user_attrs.get("epochs", ""),
        "minutes": t.user_attrs.get("minutes", ""),
        "pruned_at": t.user_attrs.get("pruned_at", ""),
        "retry_of": "" if retry_of(t) is None else retry_of(t),
        "error": t.user_attrs.get("error", ""),
    }
    if t.state == TrialState.FAIL and not row["error"]:
        row["error"] = "worker lost (no heartbeat)"
    if t.state == TrialState.PRUNED and not row["pruned_at"] and t.intermediate_values:
        row["pruned_at"] = max(t.intermediate_values)
    row.update({n: t.params.get(n, "") for n in names})
    return row


def _report(study, trials, rows, names, folder: Path) -> Path:
    """A self-contained HTML page: the summary, the trial table and three figures."""
    from fashionseg.use.render.page import one_line, to_html

    figures = folder / "figures"
    figures.mkdir(exist_ok=True)
    count = tally(study)
    lines = [
        f"# fashionseg tune: {one_line(study.study_name)}",
        f"{count['finished']} trials finished: {count['complete']} complete, "
        f"{count['pruned']} pruned, {count['failed']} failed; {count['lost']} lost with their "
        "worker and retried.",
    ]
    done = [t for t in trials if t.state == TrialState.COMPLETE]
    if done:
        best = max(done, key=lambda t: t.value)
        lines.append(
            f"Best: trial {best.number}, validation mIoU **{best.value:.4f}** "
            f"(`fashionseg train --config {folder / 'best.yaml'}` reproduces it)."
        )
    made = _figures(study, figures)
    for name, title in made:
        lines.append(f"## {title}")
        lines.append(f"![{title}](figures/{name})")
    lines.append("## Trials")
    head = [c for c in COLUMNS if c != "error"] + names
    lines.append("| " + " | ".join(head) + " |")
    lines.append("|" + "---|" * len(head))
    for row in rows:
        lines.append("| " + " | ".join(one_line(_cell(row[c])) for c in head) + " |")
    page = to_html(
        "\n".join(lines),
        figures,
        title=f"fashionseg tune: {study.study_name}",
        figures=[name for name, _ in made],
    )
    path = folder / "report.html"
    path.write_text(page)
    return path


def _cell(v) -> str:
    if isinstance(v, float):
        return f"{v:.4g}"
    return str(v).replace("|", "/")


def _figures(study: optuna.Study, figures: Path) -> list[tuple[str, str]]:
    """Optuna's own plots (matplotlib), each skipped while the study is too small for it."""
    from fashionseg.use.render.colors import plain_figures

    plain_figures()
    import matplotlib.pyplot as plt
    from optuna.visualization import matplotlib as ovm

    made = []
    plots = [
        ("history.png", "Optimisation history", ovm.plot_optimization_history),
        ("importance.png", "Parameter importances", ovm.plot_param_importances),
        ("parallel.png", "Parallel coordinates", ovm.plot_parallel_coordinate),
        ("curves.png", "Validation mIoU per epoch", ovm.plot_intermediate_values),
    ]
    for name, title, plot in plots:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                ax = plot(study)
            except (ValueError, RuntimeError, ZeroDivisionError):
                continue  # too few finished trials for this view
        fig = ax.figure if hasattr(ax, "figure") else ax.flat[0].figure
        fig.set_size_inches(9, 4.5)
        fig.tight_layout()
        fig.savefig(figures / name, dpi=90)
        plt.close(fig)
        made.append((name, title))
    return made
