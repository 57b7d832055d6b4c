#!/usr/bin/python3
"""Makes the model fixtures of tests/unit/test_tree_ensemble.cpp with
python3-xgboost (Debian's 1.7.4): models trained on random rows with missing
values and booleans, and XGBoost's own predictions for held rows. Run once;
the outputs are committed. /usr/bin/python3 tests/data/models/make_fixtures.py
"""
import json
import os

import numpy as np
import xgboost as xgb

HERE = os.path.dirname(os.path.abspath(__file__))


def rows(rng, n):
    x = rng.normal(size=(n, 4)).astype(np.float32)
    x[:, 3] = (rng.random(n) < 0.3).astype(np.float32)  # a boolean input
    x[rng.random(x.shape) < 0.15] = np.nan  # missing values
    return x


def number(v):
    v = float(v)
    return None if v != v else v


def make(name, params, rounds, label, expected=True):
    rng = np.random.default_rng(7)
    x = rows(rng, 3000)
    y = label(x)
    booster = xgb.train(params, xgb.DMatrix(x, label=y, missing=np.nan), rounds)
    booster.save_model(os.path.join(HERE, name + ".json"))
    if not expected:
        return
    held = rows(np.random.default_rng(11), 64)
    held[0, :] = np.nan  # every input missing
    d = xgb.DMatrix(held, missing=np.nan)
    out = {
        "rows": [[number(v) for v in r] for r in held],
        "predictions": [number(v) for v in booster.predict(d)],
        "margins": [number(v) for v in booster.predict(d, output_margin=True)],
        "approx_contributions": [[number(v) for v in r]
                                 for r in booster.predict(d, pred_contribs=True, approx_contribs=True)],
        "contributions": [[number(v) for v in r] for r in booster.predict(d, pred_contribs=True)],
    }
    with open(os.path.join(HERE, name + ".expected.json"), "w") as f:
        json.dump(out, f)


def fraud_label(x):
    a = np.nan_to_num(x[:, 0], nan=0.5)
    b = np.nan_to_num(x[:, 1], nan=-0.2)
    return ((a + b * b > 1.0) | (np.nan_to_num(x[:, 3]) * np.nan_to_num(x[:, 2]) > 0.8)).astype(np.float32)


make("logistic", {"objective": "binary:logistic", "max_depth": 4, "eta": 0.3, "seed": 1}, 30, fraud_label)
make("squarederror", {"objective": "reg:squarederror", "max_depth": 3, "eta": 0.2, "seed": 1}, 20,
     lambda x: np.nan_to_num(x[:, 0]) * 2 + np.nan_to_num(x[:, 2]))
make("softprob", {"objective": "multi:softprob", "num_class": 3, "max_depth": 2, "seed": 1}, 2,
     lambda x: (np.nan_to_num(x[:, 0]) > 0).astype(np.float32) + (np.nan_to_num(x[:, 1]) > 0), expected=False)
