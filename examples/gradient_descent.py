"""Book ch. 4.4: gradient descent on f(x0, x1) = x0^2 + x1^2 from (-2, 3) with lr 0.1 for 100 steps."""
import numpy as np

from pybp import gradient_descent


def function_2(x):
    return x[0] ** 2 + x[1] ** 2


def main():
    x, path = gradient_descent(function_2, init_x=np.array([-2.0, 3.0]), lr=0.1, step_num=100)
    print(f"after 100 steps: x = ({x[0]:.3e}, {x[1]:.3e}); path has {len(path)} points")
    return x, path


if __name__ == "__main__":
    main()
