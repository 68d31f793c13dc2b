"""`pybp train --net simple-conv|deep-conv` on real MNIST and `pybp plot-filters` (subprocess), book defaults."""
from __future__ import annotations

import numpy as np
import pytest

from pybp import _cli_conv, cli
from pybp.simple_convnet import SimpleConvNet
from test_cli import _run



def _parsed(argv):
    args = cli.build_parser().parse_args(argv)
    cli._fill_defaults(args)
    return args


def test_book_defaults_apply_only_to_cnns_and_only_where_not_given():
    a = _parsed(["train", "--net", "simple-conv"])
    assert (a.optimizer, a.lr, a.epochs, a.eval_samples, a.batch, a.dtype) == ("adam", None, 20.0, 1000, 100,
                                                                              "float32")
    assert cli.default_lr(a.optimizer) == 0.001  # lr not given: Adam's book default
    a = _parsed(["train", "--net", "deep-conv", "--lr=0.01", "--iters", "7", "--dtype", "float64"])
    assert (a.optimizer, a.lr, a.epochs, a.iters, a.dtype) == ("adam", 0.01, None, 7, "float64")
    a = _parsed(["train"])  # the book's ch. 5 run keeps its own defaults
    assert (a.optimizer, a.lr, a.epochs, a.batch, a.dtype, a.hidden) == ("sgd", None, None, 100, "float64", [50])
    assert cli.default_lr(a.optimizer) == 0.1
    with pytest.raises(cli.CliError, match="--hidden/--activation"):
        _parsed(["train", "--net", "simple-conv", "--hidden", "10"])


@pytest.mark.slow
def test_cli_simple_conv_learns_real_mnist_and_plots_filters(mnist_cache, tmp_path):
    r = _run(["train", "--net", "simple-conv", "--limit", "6000", "--iters", "300", "--threads", "1",
              "--no-progress", "--save", "w.npz"], tmp_path, mnist_cache)
    assert r.returncode == 0, r.stderr
    assert "SimpleConvNet" in r.stdout and "adam lr 0.001" in r.stdout and "float32" in r.stdout
    acc = float(r.stdout.split("test accuracy ")[-1].split()[0])
    # measured 0.918-0.937 over seeds 0-2 (300 Adam steps, 1,000 test images); broken kernels stay near 0.1
    assert acc >= 0.90
    net = SimpleConvNet(dtype=np.float32)
    net.load_params(tmp_path / "w.npz")
    assert not np.array_equal(net.params["W1"], SimpleConvNet(dtype=np.float32, seed=0).params["W1"])
    r = _run(["plot-filters", "w.npz", "f.png"], tmp_path, mnist_cache)
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "f.png").stat().st_size > 10000


def test_cli_deep_conv_runs(mnist_cache, tmp_path):
    r = _run(["train", "--net", "deep-conv", "--limit", "300", "--iters", "3", "--threads", "1", "--no-progress"],
             tmp_path, mnist_cache)
    assert r.returncode == 0, r.stderr
    assert "DeepConvNet" in r.stdout and "3 steps" in r.stdout


def test_plot_filters_rejects_files_without_filters(tmp_path):
    np.savez(tmp_path / "w.npz", W1=np.zeros((3, 4)))
    assert cli.main(["plot-filters", str(tmp_path / "w.npz"), str(tmp_path / "f.png")]) == 2
    assert cli.main(["plot-filters", str(tmp_path / "missing.npz"), str(tmp_path / "f.png")]) == 2
    assert not (tmp_path / "f.png").exists() and len(list(tmp_path.iterdir())) == 1  # nothing half-written


def test_initial_filters_are_the_training_start():
    w = _cli_conv.initial_filters((30, 1, 5, 5), seed=3)
    np.testing.assert_array_equal(w, SimpleConvNet(seed=3).params["W1"])
    assert _cli_conv.initial_filters((2, 1, 2, 2), seed=0) is None
