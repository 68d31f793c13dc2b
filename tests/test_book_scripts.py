"""The book's ch. 5-6 scripts, with only their imports changed, give the figures of the book's maths.

Each script below is written in the shape of the book's (its loops, names, draws and prints; counts reduced so
the module stays fast), with `{lib}` where the book writes `common`/`dataset`/a ch05 module: `pybp.<module>` for
the run under test, `book_numpy.<module>` for the oracle (tests/book_numpy.py: the book's maths in plain NumPy).
Both runs start from the same np.random.seed, so they draw the same weights, batches, dropout masks, shuffles.

What must agree: every printed accuracy exactly (it is a count over a fixed set), every parameter path of the
scalar optimizer comparison bit for bit, and every loss up to the documented offset: the book's loss adds 1e-7
inside the log, pybp's SoftmaxWithLoss is exact, so pybp's loss is larger by mean(log(1 + 1e-7 / y_t)) ~
1e-7 * mean(1 / y_t) (y_t: the probability of the true class). Measured over the 2,943 losses compared here:
1.2e-7 to 2.2e-3, median 4.8e-7 (about 1e-6 near chance, y_t ~ 0.1; the largest where a batch holds confident
mistakes with y_t ~ 1e-5). The test checks each loss against the oracle's own exact loss of the same forward
pass (to 1e-9 relative), so nothing but the offset hides in the difference.
"""
from __future__ import annotations

import contextlib
import io
import os
import sys
import textwrap

import numpy as np
import pytest

import book_numpy
import pybp

BOOK_MODULES = ("mnist", "two_layer_net", "optimizer", "multi_layer_net", "multi_layer_net_extend", "trainer",
                "util", "layer_naive")
for _name in BOOK_MODULES:  # the oracle answers to the book's module names: `from book_numpy.mnist import ...`
    sys.modules[f"book_numpy.{_name}"] = book_numpy

pytestmark = pytest.mark.slow
EXAMPLES = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "examples")


def _run(script: str, lib: str, seed: int = 0, **counts):
    """Run a script under `lib` from np.random.seed(seed); returns (printed lines, the script's globals)."""
    np.random.seed(seed)
    book_numpy.LOSS_EXACT.clear()
    ns = {"__name__": "__book_script__"}
    out = io.StringIO()
    # the book's runs may overflow (ch06/batch_norm_test.py's large weights without BatchNorm do): NumPy warns
    # and goes on with inf/NaN there, and so do both runs here
    with contextlib.redirect_stdout(out), np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        exec(compile(script.format(lib=lib, **counts), f"<{lib} script>", "exec"), ns)
    return out.getvalue().splitlines(), ns


_ORACLE: dict = {}  # the oracle's runs do not depend on pybp's backend: run each once per session


def _both(script, seed=0, **counts):
    ours = _run(script, "pybp", seed, **counts)
    key = (script, seed, tuple(sorted(counts.items())))
    if key not in _ORACLE:
        _ORACLE[key] = _run(script, "book_numpy", seed, **counts) + (dict(book_numpy.LOSS_EXACT),)
    lines, ns, exact = _ORACLE[key]
    return ours, (lines, ns), exact


def _assert_loss(ours: float, book: float, exact: dict):
    """pybp's loss = the oracle's exact loss of the same forward; the book's is smaller by the 1e-7 offset."""
    ours, book = float(ours), float(book)
    assert ours == pytest.approx(exact[book], rel=1e-9, abs=1e-12)
    offset = exact[book] - book
    assert offset > 0  # log(y_t + 1e-7) > log(y_t): the book's loss is always the smaller


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    """One kernel thread and one BLAS thread: the host running the suite may be busy (two thread pools on a
    loaded 2-core machine made a training step 60x slower), and the results do not depend on it."""
    from threadpoolctl import threadpool_limits
    before = pybp.backend_info().get("threads", 1) if pybp.get_backend() == "cpp" else None
    with threadpool_limits(1):
        pybp.set_num_threads(1)
        yield
    if before:
        pybp.set_num_threads(before)


def _assert_lines(ours_lines, book_lines, exact):
    """Same lines; 'name:number' lines holding a loss compared through _assert_loss, the rest exactly."""
    assert len(ours_lines) == len(book_lines) > 0
    for a, b in zip(ours_lines, book_lines):
        if ":" in a and a.split(":")[0] == b.split(":")[0] and not a.startswith("="):
            _assert_loss(a.split(":")[1], b.split(":")[1], exact)
        else:
            assert a == b


@pytest.fixture
def mnist(mnist_cache, backend):
    return backend


# ---- ch05 ---------------------------------------------------------------------------------------------------

def test_buy_apple_and_orange():
    """examples/buy_apple*.py import from pybp.layer_naive; with that one line pointed at the oracle, the same."""
    for name, want in (("buy_apple", "price: 220"), ("buy_apple_orange", "price: 715")):
        with open(os.path.join(EXAMPLES, name + ".py")) as f:
            src = f.read() + "\nresult = main()\n"
        assert src.count("pybp.") == 1  # the import line is the only mention of pybp
        (ours, o), (book, b) = _run(src, "pybp"), _run(src.replace("pybp.", "book_numpy."), "book_numpy")
        assert ours == book and ours[0] == want
        assert o["result"] == b["result"]


TRAIN_NEURALNET = """
import numpy as np
from {lib}.mnist import load_mnist
from {lib}.two_layer_net import TwoLayerNet

(x_train, t_train), (x_test, t_test) = load_mnist(normalize=True, one_hot_label=True)
network = TwoLayerNet(input_size=784, hidden_size=50, output_size=10)
iters_num = {iters}
train_size = x_train.shape[0]
batch_size = 100
learning_rate = 0.1
train_loss_list, train_acc_list, test_acc_list = [], [], []
iter_per_epoch = max(train_size / batch_size, 1)

for i in range(iters_num):
    batch_mask = np.random.choice(train_size, batch_size)
    x_batch = x_train[batch_mask]
    t_batch = t_train[batch_mask]
    grad = network.gradient(x_batch, t_batch)
    for key in ('W1', 'b1', 'W2', 'b2'):
        network.params[key] -= learning_rate * grad[key]
    loss = network.loss(x_batch, t_batch)
    train_loss_list.append(loss)
    if i % iter_per_epoch == 0:
        train_acc = network.accuracy(x_train, t_train)
        test_acc = network.accuracy(x_test, t_test)
        train_acc_list.append(train_acc)
        test_acc_list.append(test_acc)
        print(train_acc, test_acc)
"""


def test_ch05_train_neuralnet(mnist):
    (ours, o), (book, b), exact = _both(TRAIN_NEURALNET, iters=601)
    assert ours == book and len(ours) == 2  # i = 0 and i = 600: accuracies on all 60,000 / 10,000 images
    assert float(ours[1].split()[1]) > 0.85
    for lo, lb in zip(o["train_loss_list"], b["train_loss_list"]):
        _assert_loss(lo, lb, exact)


GRADIENT_CHECK = """
import numpy as np
from {lib}.mnist import load_mnist
from {lib}.two_layer_net import TwoLayerNet

(x_train, t_train), (x_test, t_test) = load_mnist(normalize=True, one_hot_label=True)
network = TwoLayerNet(input_size=784, hidden_size={hidden}, output_size=10)
x_batch = x_train[:3]
t_batch = t_train[:3]
grad_numerical = network.numerical_gradient(x_batch, t_batch)
grad_backprop = network.gradient(x_batch, t_batch)
for key in grad_numerical.keys():
    diff = np.average(np.abs(grad_backprop[key] - grad_numerical[key]))
    print(key + ":" + str(diff))
"""


def test_ch05_gradient_check(mnist):
    """Same keys and backprop gradients; the printed differences are not the book's figures: the book's numerical
    gradient differentiates its offset loss while its backprop is that of the exact loss, so its differences
    measure the offset; pybp's loss is exact and its differences are smaller (with the book's 50 hidden units:
    book 4.6e-10 to 1.4e-7, pybp 2.4e-13 to 1.2e-10)."""
    (ours, o), (book, b), _ = _both(GRADIENT_CHECK, hidden=5)  # the book's 50 hidden: 10x the time, same maths
    assert [s.split(":")[0] for s in ours] == [s.split(":")[0] for s in book] == ["W1", "b1", "W2", "b2"]
    for k in ("W1", "b1", "W2", "b2"):
        np.testing.assert_allclose(o["grad_backprop"][k], b["grad_backprop"][k], rtol=1e-9, atol=1e-15)
        np.testing.assert_allclose(o["grad_numerical"][k], b["grad_numerical"][k], rtol=1e-4, atol=1e-8)
    ours_d, book_d = [float(s.split(":")[1]) for s in ours], [float(s.split(":")[1]) for s in book]
    assert max(ours_d) < 1e-9 and max(book_d) < 1e-6
    assert sum(ours_d) < sum(book_d)


# ---- ch06 ---------------------------------------------------------------------------------------------------

OPTIMIZER_COMPARE_NAIVE = """
import numpy as np
from collections import OrderedDict
from {lib}.optimizer import *

def f(x, y):
    return x**2 / 20.0 + y**2

def df(x, y):
    return x / 10.0, 2.0*y

init_pos = (-7.0, 2.0)
params = {{}}
params['x'], params['y'] = init_pos[0], init_pos[1]
grads = {{}}
grads['x'], grads['y'] = 0, 0

optimizers = OrderedDict()
optimizers["SGD"] = SGD(lr=0.95)
optimizers["Momentum"] = Momentum(lr=0.1)
optimizers["Nesterov"] = Nesterov(lr=0.1)
optimizers["AdaGrad"] = AdaGrad(lr=1.5)
optimizers["RMSprop"] = RMSprop(lr=0.3)
optimizers["Adam"] = Adam(lr=0.3)
paths = {{}}
for key in optimizers:
    optimizer = optimizers[key]
    x_history, y_history = [], []
    params['x'], params['y'] = init_pos[0], init_pos[1]
    for i in range(30):
        x_history.append(params['x'])
        y_history.append(params['y'])
        grads['x'], grads['y'] = df(params['x'], params['y'])
        optimizer.update(params, grads)
    paths[key] = (x_history, y_history)
"""


def test_ch06_optimizer_compare_naive(backend):
    """Python floats as parameters, as the book's script has them: the same paths, bit for bit (the book's
    figure draws these; Nesterov and RMSprop added to its four)."""
    ours, book = _run(OPTIMIZER_COMPARE_NAIVE, "pybp")[1], _run(OPTIMIZER_COMPARE_NAIVE, "book_numpy")[1]
    for key, (xs, ys) in book["paths"].items():
        assert ours["paths"][key] == (xs, ys), key
    assert abs(ours["paths"]["Nesterov"][1][-1]) < 0.1  # it did descend


def _loss_script(nets: str, update: str):
    return """
import numpy as np
from {lib}.mnist import load_mnist
from {lib}.util import smooth_curve
from {lib}.multi_layer_net import MultiLayerNet
from {lib}.optimizer import *

(x_train, t_train), (x_test, t_test) = load_mnist(normalize=True)
train_size = x_train.shape[0]
batch_size = 128
max_iterations = {iters}
""" + nets + """
for i in range(max_iterations):
    batch_mask = np.random.choice(train_size, batch_size)
    x_batch = x_train[batch_mask]
    t_batch = t_train[batch_mask]
    for key in networks.keys():
        grads = networks[key].gradient(x_batch, t_batch)
        """ + update + """
        loss = networks[key].loss(x_batch, t_batch)
        train_loss[key].append(loss)
    if i % {every} == 0:
        print("===========" + "iteration:" + str(i) + "===========")
        for key in networks.keys():
            loss = networks[key].loss(x_batch, t_batch)
            print(key + ":" + str(loss))
smoothed = {{key: smooth_curve(train_loss[key]) for key in networks.keys()}}
"""


OPTIMIZER_COMPARE_MNIST = _loss_script("""
optimizers = {{'SGD': SGD(), 'Momentum': Momentum(), 'AdaGrad': AdaGrad(), 'Adam': Adam()}}
networks, train_loss = {{}}, {{}}
for key in optimizers.keys():
    networks[key] = MultiLayerNet(input_size=784, hidden_size_list=[100, 100, 100, 100], output_size=10)
    train_loss[key] = []
""", "optimizers[key].update(networks[key].params, grads)")

WEIGHT_INIT_COMPARE = _loss_script("""
weight_init_types = {{'std=0.01': 0.01, 'Xavier': 'sigmoid', 'He': 'relu'}}
optimizer = SGD(lr=0.01)
networks, train_loss = {{}}, {{}}
for key, weight_type in weight_init_types.items():
    networks[key] = MultiLayerNet(input_size=784, hidden_size_list=[100, 100, 100, 100], output_size=10,
                                  weight_init_std=weight_type)
    train_loss[key] = []
""", "optimizer.update(networks[key].params, grads)")


@pytest.mark.parametrize("script", ["optimizer_compare_mnist", "weight_init_compare"])
def test_ch06_loss_curves(mnist, script):
    src = OPTIMIZER_COMPARE_MNIST if script == "optimizer_compare_mnist" else WEIGHT_INIT_COMPARE
    (ours, o), (book, b), exact = _both(src, iters=51, every=50)
    _assert_lines(ours, book, exact)
    assert sum(line.startswith("===") for line in ours) == 2
    for key, losses in b["train_loss"].items():
        for lo, lb in zip(o["train_loss"][key], losses):
            _assert_loss(lo, lb, exact)
        # smoothing is linear: pybp's smoothed curve is the smoothed curve of the exact losses
        smooth_exact = book_numpy.smooth_curve([exact[v] for v in losses])
        np.testing.assert_allclose(o["smoothed"][key], smooth_exact, rtol=1e-9)
        assert not np.allclose(o["smoothed"][key], b["smoothed"][key], rtol=1e-9, atol=0)  # the offset shows


def _epoch_loop(step: str, first: tuple, second: tuple, report: str) -> str:
    """The book's ch06 loop that stops after max_epochs evaluations (overfit_weight_decay, batch_norm_test):
    `step` after the batch draw; each evaluation computes first = (name, expression) and second, appends each
    to its name + '_list' and prints `report`."""
    (a, a_expr), (b, b_expr) = first, second
    return f"""
for i in range(1000000000):
    batch_mask = np.random.choice(train_size, batch_size)
    x_batch = x_train[batch_mask]
    t_batch = t_train[batch_mask]{step}
    if i % iter_per_epoch == 0:
        {a} = {a_expr}
        {b} = {b_expr}
        {a}_list.append({a})
        {b}_list.append({b})
        print({report})
        epoch_cnt += 1
        if epoch_cnt >= max_epochs:
            break
"""


OVERFIT_WEIGHT_DECAY = """
import numpy as np
from {lib}.mnist import load_mnist
from {lib}.multi_layer_net import MultiLayerNet
from {lib}.optimizer import SGD

(x_train, t_train), (x_test, t_test) = load_mnist(normalize=True)
x_train = x_train[:300]
t_train = t_train[:300]
weight_decay_lambda = 0.1
network = MultiLayerNet(input_size=784, hidden_size_list=[100, 100, 100, 100, 100, 100], output_size=10,
                        weight_decay_lambda=weight_decay_lambda)
optimizer = SGD(lr=0.01)
max_epochs = {epochs}
train_size = x_train.shape[0]
batch_size = 100
train_acc_list, test_acc_list = [], []
iter_per_epoch = max(train_size / batch_size, 1)
epoch_cnt = 0
""" + _epoch_loop("""
    grads = network.gradient(x_batch, t_batch)
    optimizer.update(network.params, grads)""", ("train_acc", "network.accuracy(x_train, t_train)"),
                  ("test_acc", "network.accuracy(x_test, t_test)"),
                  '"epoch:" + str(epoch_cnt) + ", train acc:" + str(train_acc) + ", test acc:" + str(test_acc)')

def test_ch06_overfit_weight_decay(mnist):
    (ours, _), (book, _), _ = _both(OVERFIT_WEIGHT_DECAY, epochs=3)
    assert ours == book and len(ours) == 3


OVERFIT_DROPOUT = """
import numpy as np
from {lib}.mnist import load_mnist
from {lib}.multi_layer_net_extend import MultiLayerNetExtend
from {lib}.trainer import Trainer

(x_train, t_train), (x_test, t_test) = load_mnist(normalize=True)
x_train = x_train[:300]
t_train = t_train[:300]
use_dropout = True
dropout_ratio = 0.2
network = MultiLayerNetExtend(input_size=784, hidden_size_list=[100, 100, 100, 100, 100, 100],
                              output_size=10, use_dropout=use_dropout, dropout_ration=dropout_ratio)
trainer = Trainer(network, x_train, t_train, x_test, t_test,
                  epochs={epochs}, mini_batch_size=100,
                  optimizer='sgd', optimizer_param={{'lr': 0.01}}, verbose={verbose})
trainer.train()
train_acc_list, test_acc_list = trainer.train_acc_list, trainer.test_acc_list
"""


def test_ch06_overfit_dropout_trainer_lists(mnist):
    """The Trainer's lists: evaluation right after each epoch's first step, the loss of a second forward."""
    (_, o), (_, b), exact = _both(OVERFIT_DROPOUT, epochs=3, verbose=False)
    ot, bt = o["trainer"], b["trainer"]
    assert ot.train_acc_list == bt.train_acc_list and ot.test_acc_list == bt.test_acc_list
    assert len(ot.train_acc_list) == 3 and len(ot.train_loss_list) == 9
    for lo, lb in zip(ot.train_loss_list, bt.train_loss_list):
        _assert_loss(lo, lb, exact)
    assert ot.test_acc == bt.test_acc


BATCH_NORM_TEST = """
import numpy as np
from {lib}.mnist import load_mnist
from {lib}.multi_layer_net_extend import MultiLayerNetExtend
from {lib}.optimizer import SGD, Adam

(x_train, t_train), (x_test, t_test) = load_mnist(normalize=True)
x_train = x_train[:1000]
t_train = t_train[:1000]
max_epochs = {epochs}
train_size = x_train.shape[0]
batch_size = 100
learning_rate = 0.01

def __train(weight_init_std):
    bn_network = MultiLayerNetExtend(input_size=784, hidden_size_list=[100, 100, 100, 100, 100], output_size=10,
                                     weight_init_std=weight_init_std, use_batchnorm=True)
    network = MultiLayerNetExtend(input_size=784, hidden_size_list=[100, 100, 100, 100, 100], output_size=10,
                                  weight_init_std=weight_init_std)
    optimizer = SGD(lr=learning_rate)
    train_acc_list, bn_train_acc_list = [], []
    iter_per_epoch = max(train_size / batch_size, 1)
    epoch_cnt = 0
""" + textwrap.indent(_epoch_loop("""
    for _network in (bn_network, network):
        grads = _network.gradient(x_batch, t_batch)
        optimizer.update(_network.params, grads)""", ("train_acc", "network.accuracy(x_train, t_train)"),
                  ("bn_train_acc", "bn_network.accuracy(x_train, t_train)"),
                  '"epoch:" + str(epoch_cnt) + " | " + str(train_acc) + " - " + str(bn_train_acc)'), "    ") + """
    return train_acc_list, bn_train_acc_list

weight_scale_list = np.logspace(0, -4, num={scales})
for i, w in enumerate(weight_scale_list):
    print("============== " + str(i+1) + "/" + str(len(weight_scale_list)) + " ==============")
    train_acc_list, bn_train_acc_list = __train(w)
"""


def test_ch06_batch_norm_test(mnist):
    (ours, _), (book, _), _ = _both(BATCH_NORM_TEST, epochs=3, scales=4)
    assert ours == book and len(ours) == 4 * (1 + 3)


HYPERPARAMETER_OPTIMIZATION = """
import numpy as np
from {lib}.mnist import load_mnist
from {lib}.multi_layer_net import MultiLayerNet
from {lib}.util import shuffle_dataset
from {lib}.trainer import Trainer

(x_train, t_train), (x_test, t_test) = load_mnist(normalize=True)
x_train = x_train[:500]
t_train = t_train[:500]
validation_rate = 0.20
validation_num = int(x_train.shape[0] * validation_rate)
x_train, t_train = shuffle_dataset(x_train, t_train)
x_val = x_train[:validation_num]
t_val = t_train[:validation_num]
x_train = x_train[validation_num:]
t_train = t_train[validation_num:]

def __train(lr, weight_decay, epocs={epochs}):
    network = MultiLayerNet(input_size=784, hidden_size_list=[100, 100, 100, 100, 100, 100],
                            output_size=10, weight_decay_lambda=weight_decay)
    trainer = Trainer(network, x_train, t_train, x_val, t_val,
                      epochs=epocs, mini_batch_size=100,
                      optimizer='sgd', optimizer_param={{'lr': lr}}, verbose=False)
    trainer.train()
    return trainer.test_acc_list, trainer.train_acc_list

optimization_trial = {trials}
results_val = {{}}
for _ in range(optimization_trial):
    weight_decay = 10 ** np.random.uniform(-8, -4)
    lr = 10 ** np.random.uniform(-6, -2)
    val_acc_list, train_acc_list = __train(lr, weight_decay)
    print("val acc:" + str(val_acc_list[-1]) + " | lr:" + str(lr) + ", weight decay:" + str(weight_decay))
    key = "lr:" + str(lr) + ", weight decay:" + str(weight_decay)
    results_val[key] = val_acc_list

print("=========== Hyper-Parameter Optimization Result ===========")
for i, (key, val_acc_list) in enumerate(sorted(results_val.items(), key=lambda x: x[1][-1], reverse=True)):
    print("Best-" + str(i+1) + "(val acc:" + str(val_acc_list[-1]) + ") | " + key)
"""


def test_ch06_hyperparameter_optimization(mnist):
    (ours, _), (book, _), _ = _both(HYPERPARAMETER_OPTIMIZATION, seed=3, epochs=4, trials=3)
    assert ours == book and len(ours) == 3 + 1 + 3

