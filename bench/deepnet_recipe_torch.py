"""The book's ch08 training recipe (train_deepnet.py: DeepConvNet, 20 epochs, batch 100, Adam lr 0.001) written
independently in PyTorch, float32, to measure how much the final test accuracy moves from seed to seed when pybp is
not involved at all. pybp's `pybp train --net deep-conv --seed S` is judged against that spread (README, "Training
time and accuracy"); the two do not share random streams, so only the distributions compare.

    python bench/deepnet_recipe_torch.py --seed 0 --threads 1     # ~8 min on one Zen 5 core

Matches the book's code (its repository's HEAD): He-normal weights (std sqrt(2 / fan-in)), zero biases; conv pads
1, 1, 1, 2, 1, 1; ReLU after every conv and the first Affine; 2x2 max pooling after conv 2, 4 and 6; dropout 0.5
after both Affines, scaling by 0.5 at test time (not inverted dropout); softmax cross-entropy with log(y + 1e-7);
the book's Adam (bias correction folded into the step size, 1e-7 added to sqrt(v)); batches drawn with replacement.
Needs `pip install torch==2.13.0`; never imported by pybp. MNIST comes from pybp's loader (the same arrays).
"""
from __future__ import annotations

import argparse
import time

import numpy as np
import torch

from pybp.mnist import load_mnist

CHANNELS = [(1, 16), (16, 16), (16, 32), (32, 32), (32, 64), (64, 64)]
PADS = [1, 1, 1, 2, 1, 1]


def init_params(rng):
    params = []
    for ci, co in CHANNELS:
        params += [rng.standard_normal((co, ci, 3, 3)) * np.sqrt(2.0 / (ci * 9)), np.zeros(co)]
    for fan_in, fan_out in ((64 * 4 * 4, 50), (50, 10)):
        params += [rng.standard_normal((fan_in, fan_out)) * np.sqrt(2.0 / fan_in), np.zeros(fan_out)]
    return [torch.tensor(p, dtype=torch.float32, requires_grad=True) for p in params]


def predict(params, x, train):
    fn = torch.nn.functional
    for i, pad in enumerate(PADS):
        x = fn.relu(fn.conv2d(x, params[2 * i], params[2 * i + 1], padding=pad))
        if i % 2 == 1:
            x = fn.max_pool2d(x, 2, 2)
    x = fn.relu(x.reshape(len(x), -1) @ params[12] + params[13])
    x = x * (torch.rand_like(x) > 0.5) if train else x * 0.5
    x = x @ params[14] + params[15]
    return x * (torch.rand_like(x) > 0.5) if train else x * 0.5


def accuracy(params, x, t, batch=100):
    with torch.no_grad():
        hits = sum(int((predict(params, x[i:i + batch], False).argmax(1) == t[i:i + batch]).sum())
                   for i in range(0, len(x), batch))
    return hits / len(x)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--epochs", type=int, default=20)
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    (x_train, t_train), (x_test, t_test) = load_mnist(flatten=False)
    x_train, x_test = (torch.from_numpy(np.ascontiguousarray(a, np.float32)) for a in (x_train, x_test))
    t_train, t_test = (torch.from_numpy(np.asarray(a, np.int64)) for a in (t_train, t_test))
    rng = np.random.default_rng(args.seed)  # weights and batch draws
    torch.manual_seed(args.seed)  # dropout masks
    params = init_params(rng)
    m = [torch.zeros_like(p) for p in params]
    v = [torch.zeros_like(p) for p in params]
    lr, beta1, beta2 = 0.001, 0.9, 0.999
    per_epoch, n = max(len(x_train) // 100, 1), len(x_train)
    start = time.time()
    for it in range(1, args.epochs * per_epoch + 1):
        batch = torch.from_numpy(rng.choice(n, 100))
        y = torch.softmax(predict(params, x_train[batch], True), 1)
        loss = -torch.log(y[torch.arange(100), t_train[batch]] + 1e-7).mean()
        grads = torch.autograd.grad(loss, params)
        with torch.no_grad():
            lr_t = lr * np.sqrt(1 - beta2 ** it) / (1 - beta1 ** it)
            for p, g, mi, vi in zip(params, grads, m, v):
                mi += (1 - beta1) * (g - mi)
                vi += (1 - beta2) * (g * g - vi)
                p -= lr_t * mi / (vi.sqrt() + 1e-7)
        if it % per_epoch == 0:
            acc = accuracy(params, x_test[:1000], t_test[:1000])
            print(f"epoch {it // per_epoch}: test acc (1,000 images) {acc:.3f} | {time.time() - start:.0f} s", flush=True)
    print(f"seed {args.seed}: final test accuracy {accuracy(params, x_test, t_test):.4f} "
          f"({args.epochs * per_epoch} steps in {time.time() - start:.0f} s)")


if __name__ == "__main__":
    main()
