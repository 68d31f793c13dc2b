"""Two steps of every optimizer from w = [1, -2] with a constant gradient g = [0.5, 0.1] (book defaults)."""
import numpy as np

from pybp import SGD, AdaGrad, Adam, Momentum, Nesterov, RMSprop


def run():
    rows = {}
    for cls in (SGD, Momentum, Nesterov, AdaGrad, RMSprop, Adam):
        params = {"w": np.array([1.0, -2.0])}
        grads = {"w": np.array([0.5, 0.1])}
        opt = cls()
        steps = []
        for _ in range(2):
            opt.update(params, grads)
            steps.append(params["w"].copy())
        rows[cls.__name__] = steps
    return rows


def main():
    rows = run()
    print(f"{'optimizer':<10} {'step 1':>28} {'step 2':>28}")
    for name, (s1, s2) in rows.items():
        print(f"{name:<10} [{s1[0]:.8f}, {s1[1]:.8f}] [{s2[0]:.8f}, {s2[1]:.8f}]")
    return rows


if __name__ == "__main__":
    main()
