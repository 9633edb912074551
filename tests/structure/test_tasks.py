"""Who decides on the task name ("semantic" or "instances"): the task objects
(``training/tasks/``), the model specs (``specs.py``, and the registries ``models/`` builds
from them), the tasks' facts for the stages below training (``tasks.py``) and inference
(``inference/``); everyone else asks them. A branch on the task name is a comparison of a
task-ish value (``task``, ``config.task``, ``meta.get("task")``) with one of the names, found
in the code itself.
"""

from __future__ import annotations

import ast

from test_layout import PACKAGE

TASKS = {"semantic", "instances"}
ALLOWED = ("specs.py", "tasks.py", "training/tasks/", "inference/", "models/")


def _mentions_task(node: ast.AST) -> bool:
    for n in ast.walk(node):
        if isinstance(n, ast.Name) and "task" in n.id.lower():
            return True
        if isinstance(n, ast.Attribute) and "task" in n.attr.lower():
            return True
        if isinstance(n, ast.Constant) and n.value == "task":
            return True
    return False


def task_branches() -> dict[str, list[int]]:
    """Module (relative path) -> lines comparing a task-ish value with a task name."""
    found: dict[str, list[int]] = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if not isinstance(node, ast.Compare):
                continue
            sides = [node.left, *node.comparators]
            if any(isinstance(s, ast.Constant) and s.value in TASKS for s in sides) and (
                _mentions_task(node)
            ):
                found.setdefault(path.relative_to(PACKAGE).as_posix(), []).append(node.lineno)
    return found


def test_only_the_task_objects_the_specs_and_inference_branch_on_the_task():
    outside = {m: lines for m, lines in task_branches().items() if not m.startswith(ALLOWED)}
    assert not outside, f"branches on the task name (ask tasks.task_facts instead): {outside}"


def test_the_rule_finds_what_it_looks_for():
    # The detector itself: it sees a branch written the usual ways, and not a plain mention.
    code = 'if config.task == "instances": pass\nif meta.get("task") != "semantic": pass\nx = "instances"'
    tree = ast.parse(code)
    hits = [n for n in ast.walk(tree) if isinstance(n, ast.Compare)]
    assert len(hits) == 2 and all(_mentions_task(h) for h in hits)


def test_every_model_is_declared_once_by_its_spec():
    from fashionseg import names, specs
    from fashionseg.models import INSTANCE_MODELS, MODELS

    assert tuple(MODELS) == names.MODELS == specs.names_of("semantic")
    assert tuple(INSTANCE_MODELS) == names.INSTANCE_MODELS == specs.names_of("instances")
    assert len({s.name for s in specs.SPECS}) == len(specs.SPECS)


def test_predicts_options_have_one_definition():
    """PredictOptions is the one list of predict's options: the paths that take them (local
    predict, Ray, the Python API) spell none of them out again, and predict's flags cover them
    all, so the command line builds them with ``from_args``."""
    import inspect
    from dataclasses import fields

    from fashionseg.cli import build_parser
    from fashionseg.use.predict import folder, ray_data, segmenter
    from fashionseg.use.predict.options import PredictOptions
    from fashionseg.use.serve import app

    names = {f.name for f in fields(PredictOptions)}
    for fn, allowed in (
        (folder.predict, set()),
        (ray_data.segment, set()),
        (segmenter.Segmenter.__init__, {"device"}),  # Segmenter(model, "cpu"), the API's form
        (app.create_app, set()),
    ):
        spelled = set(inspect.signature(fn).parameters) & names
        assert spelled <= allowed, f"{fn.__qualname__} spells out {sorted(spelled - allowed)}"
    predict = build_parser().parse_args(["predict", "x.jpg", "--out", "o"])
    assert names <= set(vars(predict)), names - set(vars(predict))
    # serve's flags are options under their own names, read by from_args.
    serve = vars(build_parser().parse_args(["serve"]))
    assert {"device", "min_area", "tta", "only", "batch_size"} <= set(serve)


def test_a_sink_is_named_in_its_module_alone():
    """predict's sinks are declared by their specs (use/predict/sinks/): no other module
    spells a sink's flag, so its flag, keyword, plan entry and Ray's refusal come from the
    list."""
    from fashionseg.use.predict.sinks import SINKS

    spelled: dict[str, set[str]] = {}  # flag -> the modules that write it as a string
    for path in PACKAGE.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Constant) and str(node.value).startswith("--"):
                spelled.setdefault(node.value, set()).add(str(path.relative_to(PACKAGE)))
    assert "cli/use.py" in spelled["--photo-url-prefix"]  # the scan sees the flags it should
    home = "use/predict/sinks/"
    outside = {
        spec.flag: sorted(m for m in spelled.get(spec.flag, ()) if not m.startswith(home))
        for spec in SINKS.values()
    }
    assert not any(outside.values()), outside
