"""Minimise f(x, y) = x^2/20 + y^2 from (8, 1), as the seed article does, with a computational graph of
MulLayer/AddLayer/Square layers: plain gradient steps (lr 0.9) and AdaGrad (lr 1.0)."""
import numpy as np

from pybp import AdaGrad, AddLayer, MulLayer


class Square:
    """z = x * x; dz/dx = 2x."""

    def __init__(self):
        self.x = None

    def forward(self, x):
        self.x = x
        return x * x

    def backward(self, dout):
        return dout * 2 * self.x


def f_and_grad(x, y):
    """f(x, y) = x^2/20 + y^2 through the graph; returns f, df/dx, df/dy."""
    sq_x, sq_y, scale, add = Square(), Square(), MulLayer(), AddLayer()
    a = scale.forward(sq_x.forward(x), 1 / 20)
    f = add.forward(a, sq_y.forward(y))
    da, db = add.backward(1.0)
    dsx, _ = scale.backward(da)
    return f, sq_x.backward(dsx), sq_y.backward(db)


def descend(steps=30, lr=0.9):
    x, y = 8.0, 1.0
    path = [(x, y)]
    for _ in range(steps):
        _, gx, gy = f_and_grad(x, y)
        x, y = x - lr * gx, y - lr * gy
        path.append((x, y))
    return np.array(path)


def adagrad(steps=30, lr=1.0):
    params = {"x": np.array([8.0]), "y": np.array([1.0])}
    opt = AdaGrad(lr=lr)
    path = [(8.0, 1.0)]
    for _ in range(steps):
        _, gx, gy = f_and_grad(params["x"][0], params["y"][0])
        opt.update(params, {"x": np.array([gx]), "y": np.array([gy])})
        path.append((params["x"][0], params["y"][0]))
    return np.array(path)


def main(steps=30):
    p_sgd, p_ada = descend(steps), adagrad(steps)
    print(f"gradient steps lr=0.9, {steps} steps: ({p_sgd[-1, 0]:.4f}, {p_sgd[-1, 1]:.4f}), "
          f"f = {f_and_grad(*p_sgd[-1])[0]:.3e}")
    print(f"AdaGrad lr=1.0, {steps} steps:        ({p_ada[-1, 0]:.4f}, {p_ada[-1, 1]:.4f}), "
          f"f = {f_and_grad(*p_ada[-1])[0]:.3e}")
    return p_sgd, p_ada


if __name__ == "__main__":
    main()
