"""Hyperparameter search (``fashionseg tune``): Optuna over ``TrainConfig`` fields.

space.py reads the search space; objective.py turns one Optuna trial into an ordinary run
folder trained by ``training.engine.train``; worker.py is one trial process; search.py starts
the workers and watches them; results.py writes trials.csv, best.yaml and report.html.
"""
