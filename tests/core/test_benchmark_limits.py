"""benchmarks/limits.py: the FLOP counts and the interleaved timing that other benchmarks reuse."""

from __future__ import annotations

import pytest
import torch


@pytest.fixture
def limits(benchmark_script):
    return benchmark_script("limits")


def test_step_flops_of_the_vae_layers(limits):
    # forward 2*B*in*out per layer, backward twice that, less the first layer's input gradient
    per_layer = [784 * 500, 500 * 100, 50 * 500, 500 * 784]
    assert limits.linear_step_flops(limits.VAE_LAYERS, 100, input_grad=True) == 6 * 100 * sum(per_layer)
    assert limits.linear_step_flops(limits.VAE_LAYERS, 100) == 6 * 100 * sum(per_layer) - 2 * 100 * 784 * 500
    ops = limits.linear_step_ops([(3, 4)], 5, input_grad=True)
    assert [(o.m, o.k, o.n) for o in ops] == [(5, 3, 4), (5, 4, 3), (4, 5, 3)]


@pytest.mark.parametrize("ta,tb", [(False, False), (True, False), (False, True)])
def test_matmul_operands_have_the_stated_shapes(limits, ta, tb):
    a, b, out = limits.MatmulOp(3, 5, 7, ta, tb).operands()
    assert a.shape == (3, 5) and b.shape == (5, 7) and out.shape == (3, 7)
    assert a.is_contiguous() != ta and b.is_contiguous() != tb


def test_interleaved_times_run_each_callable_once_per_round(limits):
    calls = []
    fns = {name: (lambda name=name: calls.append(name)) for name in "abc"}
    times = limits.interleaved_times(fns, repeats=3, warmup=1)
    assert {k: len(v) for k, v in times.items()} == {"a": 3, "b": 3, "c": 3}
    assert calls == list("abc") + list("abc") + list("bca") + list("cab")  # warm-up, then rotated rounds
    med = limits.interleaved_medians(fns, repeats=3, clock="cpu")
    assert set(med) == set("abc") and all(v >= 0 for v in med.values())


def test_threads_restores_the_setting(limits):
    before = torch.get_num_threads()
    with limits.threads(1):
        assert torch.get_num_threads() == 1
    assert torch.get_num_threads() == before


def test_setup_is_untimed_and_feeds_the_timed_call(limits, monkeypatch):
    now = [0.0]

    def clock():  # a fake clock: each reading advances it by 1; the set-up advances it by 100
        now[0] += 1
        return now[0]
    monkeypatch.setitem(limits.CLOCKS, "fake", clock)
    seen = []

    def setup():
        now[0] += 100
        return len(seen)
    times = limits.interleaved_times({"a": seen.append}, repeats=2, warmup=1, clock="fake", setup={"a": setup})
    assert seen == [0, 1, 2] and times == {"a": [1.0, 1.0]}  # the set-up's 100 is outside the timing



def test_perf_train_bounds_do_what_they_say(benchmark_script, tmp_path):
    """``--bounds``: the forward-backward bound leaves gradients and no update; every path starts
    from the same weights; the multiplies + Adam bound runs."""
    bench = benchmark_script("perf_train")
    _, data = bench.load_data(str(tmp_path), 200)  # no binarized MNIST there: mnist5k, statically binarized
    x = data.train.x[:200].contiguous()
    init = bench.make_model(data.shape).state_dict()
    assert all(torch.equal(v, init[k]) for k, v in bench.make_model(data.shape, init).state_dict().items())
    setup, run = bench.forward_backward_run(x, data.shape, init, steps=2)
    model = setup()
    run(model)
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in model.parameters())
    assert all(torch.equal(v, init[k]) for k, v in model.state_dict().items())  # no update
    bench.adam_bound_run(init, steps=1)()


def test_nade_sigmoid_floor_covers_every_hidden_activation(benchmark_script, monkeypatch):
    bench = benchmark_script("perf_ar")
    done = []
    sigmoid = torch.sigmoid
    monkeypatch.setattr(torch, "sigmoid", lambda t, **kw: done.append(t.numel()) or sigmoid(t, **kw))
    for batch, hid in ((100, 5), (512, 3), (7, 4)):
        done.clear()
        bench.sigmoid_floor(batch, 784, hid)()
        # every one of the B x D x H activations once, rounded up to whole tiles
        assert batch * 784 * hid <= sum(done) < batch * 784 * hid + done[0]
