#!/usr/bin/env python3
"""Writes tests/fixtures/lbfgs-torch.json: torch.optim.LBFGS trajectories (float64) that tests/lbfgs-device.test.ts
compares both of StyleGraph's L-BFGS implementations with (src/runtime/lbfgs.ts, src/runtime/lbfgs-device.ts).

Each case runs step() with max_iter=1 again and again, so every L-BFGS iteration is one step() (the state, history
and step length carry over between calls, as in the executor's loop); f is the loss at the start of each step and
evals the closure calls each step made after that first one (the line search's evaluations).

usage: /usr/bin/python3 scripts/make-lbfgs-fixtures.py      (needs Debian's python3-torch)
"""
import json
import math
import os

import torch

torch.set_default_dtype(torch.float64)


def rosenbrock(x):
    return (1 - x[0]) ** 2 + 100 * (x[1] - x[0] ** 2) ** 2


N = 50
D = torch.tensor([1000 ** (i / (N - 1)) for i in range(N)])
C = torch.tensor([math.sin(i) for i in range(N)])


def quadratic(x):
    return 0.5 * (D * (x - C) ** 2).sum()


def run(fn, x0, iterations, **kw):
    x = torch.tensor(x0, requires_grad=True)
    opt = torch.optim.LBFGS([x], max_iter=1, **kw)
    calls = [0]

    def closure():
        opt.zero_grad()
        f = fn(x)
        f.backward()
        calls[0] += 1
        return f

    fs, evals = [], []
    for _ in range(iterations):
        calls[0] = 0
        fs.append(float(opt.step(closure)))
        evals.append(calls[0] - 1)
    return {'f': fs, 'evals': evals, 'x': x.detach().tolist()}


cases = {
    'rosenbrock': {'x0': [-1.2, 1.0], 'history': 10, 'lineSearch': 'strong-wolfe', 'lr': 1,
                   **run(rosenbrock, [-1.2, 1.0], 40, history_size=10, line_search_fn='strong_wolfe')},
    'quadratic': {'x0': [0.0] * N, 'history': 5, 'lineSearch': 'strong-wolfe', 'lr': 1,
                  **run(quadratic, [0.0] * N, 30, history_size=5, line_search_fn='strong_wolfe')},
    'quadratic-fixed-step': {'x0': [0.0] * N, 'history': 5, 'lineSearch': 'none', 'lr': 0.5,
                             **run(quadratic, [0.0] * N, 30, history_size=5, lr=0.5)},
}
out = os.path.join(os.path.dirname(__file__), '..', 'tests', 'fixtures', 'lbfgs-torch.json')
with open(out, 'w') as f:
    json.dump({'torch': torch.__version__, 'cases': cases}, f, indent=1)
print('wrote', out)
