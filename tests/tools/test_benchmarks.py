"""The benchmark helpers measure what they claim, the benchmarks run on a tiny model, and the
wheel folder for the GPU check holds what that machine needs, in pure-Python wheels."""
import re
import sys
from pathlib import Path

import pytest
import torch
from mmengine.config import Config

ROOT = Path(__file__).parents[2]
sys.path.insert(0, str(ROOT / 'tools' / 'benchmarks'))
import benchmark_backbone  # noqa: E402
import benchmark_simmim  # noqa: E402
import benchmark_utils  # noqa: E402

DEMO_CONFIG = str(ROOT / 'configs/demo/simmim_swinv2-demo_300it_skimage.py')
MiB = 2**20


def test_cpu_peak_memory_is_the_largest_sum_of_live_tensors():
    def step():
        a = torch.ones(MiB // 4)      # 1 MiB
        b = torch.ones(2 * MiB // 4)  # 2 MiB: 3 MiB live
        del a
        c = b * 2                     # 4 MiB live
        del b, c
        d = torch.ones(3 * MiB // 4)  # 3 MiB live
        return d.sum()

    assert benchmark_utils.peak_memory(step) == pytest.approx(4 * MiB, abs=4096)


def test_timing_takes_turns_after_the_warm_up():
    calls = []
    times = benchmark_utils.time_interleaved(
        {'a': lambda: calls.append('a'), 'b': lambda: calls.append('b')}, repeats=3, warmup=1)
    assert calls == ['a', 'b'] + ['a', 'b'] * 3
    assert {name: len(t) for name, t in times.items()} == {'a': 3, 'b': 3}


def test_results_print_rates_and_ratios_to_the_reference(capsys):
    benchmark_utils.print_results([
        benchmark_utils.Result('ours', [1.0, 1.0, 9.0], items=8, peak_bytes=MiB),
        benchmark_utils.Result('theirs', [2.0], items=8, peak_bytes=2 * MiB)],
        reference='theirs')
    rows = {line.split('|')[1].strip(): [c.strip() for c in line.split('|')[2:-1]]
            for line in capsys.readouterr().out.splitlines()[3:]}
    # median of 1, 1, 9 s; a single reference repeat pairs with nothing
    assert rows['ours'] == ['1', '8', '2.000x', '-', '1.0 MiB', '0.500x']
    assert rows['theirs'] == ['2', '4', '1.000x', '1.000x (1.000-1.000)', '2.0 MiB', '1.000x']


def test_paired_ratios_compare_each_repeat_with_the_references_of_the_same_turn():
    # The machine slows down 3x after the first turn; within each turn ours is twice as fast.
    ours, theirs = [1.0, 3.0, 3.0], [2.0, 6.0, 6.0]
    assert benchmark_utils.paired_ratios(ours, theirs) == [2.0, 2.0, 2.0]
    assert benchmark_utils.paired_ratios([1.0, 4.0], [2.0, 2.0]) == [0.5, 2.0]  # sorted
    with pytest.raises(ValueError, match='as many repeats'):
        benchmark_utils.paired_ratios(ours, theirs[:2])


def test_timm_encoder_of_the_simmim_benchmark_computes_ours():
    """The timm side of the SimMIM comparison is the same model: with our weights and mask
    token it gives our encoder's output."""
    from mim_scaling.models.backbones import SwinV2
    from mim_scaling.models.backbones.swinv2_key_mapping import to_backbone_state_dict
    cfg = Config(dict(arch=dict(embed_dims=16, depths=[1, 1, 2, 1], num_heads=[1, 2, 2, 4]),
                      img_size=64, window_size=4, patch_size=4, drop_path_rate=0.))
    theirs = benchmark_simmim.TimmSimMIMEncoder(cfg).eval()
    ours = SwinV2(arch=cfg.arch, img_size=64, window_size=4, use_mask_token=True).eval()
    state = to_backbone_state_dict(theirs.model.state_dict())
    ours.load_state_dict(dict(state, mask_token=theirs.mask_token.detach()), strict=True)
    x, mask = torch.randn(2, 3, 64, 64), (torch.rand(2, 16, 16) > 0.4).float()
    with torch.no_grad():
        torch.testing.assert_close(theirs(x, mask)[0], ours(x, mask)[0], atol=1e-4, rtol=0)


def test_simmim_benchmark_runs_on_the_demo_model(capsys):
    benchmark_simmim.main(['--config', DEMO_CONFIG, '--batch', '2', '--repeats', '1',
                           '--warmup', '0', '--threads', '1', '--no-flops'])
    out = capsys.readouterr().out
    for name in ('mim_scaling backbone fwd+bwd', 'mim_scaling SimMIM step', 'timm SimMIM step'):
        row = next(line for line in out.splitlines() if line.startswith(f'| {name} '))
        cells = [c.strip() for c in row.split('|')[2:-1]]
        assert float(cells[1]) > 0 and cells[4].endswith('B'), row  # img/s, peak memory
    assert re.search(r'The SimMIM step costs [+-]\d+\.\d% time over the backbone .*'
                     r'[+-]\d+\.\d% as the median of the repeats', out)


def test_backbone_benchmark_runs_on_a_small_model(capsys):
    benchmark_backbone.main(['--arch', 'tiny', '--img-size', '64', '--window', '4', '--batch', '1',
                             '--repeats', '1', '--warmup', '0', '--threads', '1',
                             '--impls', 'mim_scaling', 'timm', '--with-cp', 'both',
                             '--no-memory'])
    out = capsys.readouterr().out
    diff = float(re.search(r'largest \|ours - timm\| .*: (\S+)', out).group(1))
    assert diff < 1e-4
    rows = [line for line in out.splitlines() if line.startswith(('| mim_scaling', '| timm'))]
    assert len(rows) == 4  # each with and without activation checkpointing


def bash_array(script: str, name: str) -> list:
    """The words of a bash array ``NAME=( ... )`` in a script, comments left out."""
    body = re.search(rf'^{name}=\((.*?)^\)$', script, re.S | re.M).group(1)
    return ' '.join(line.split('#')[0] for line in body.splitlines()).split()


def _installed_version(dist: str):
    from importlib.metadata import PackageNotFoundError, version
    try:
        return version(dist)
    except PackageNotFoundError:
        return None


def test_gpu_wheel_set_covers_what_the_gpu_machine_lacks():
    """Offline check of tools/benchmarks/build_gpu_wheels.sh's wheel set (building it needs
    the package index: the script checks the downloaded wheels the same way): the pinned
    OpenMMLab versions are the tested ones, and every requirement of them and of this
    package is carried, on the GPU machine, or declared not needed there."""
    from importlib.metadata import requires, version

    from packaging.requirements import Requirement
    from packaging.utils import canonicalize_name

    script = (ROOT / 'tools/benchmarks/build_gpu_wheels.sh').read_text()
    pins = dict(p.split('==') for p in bash_array(script, 'PURE_PYTHON')
                + bash_array(script, 'COMPILED_CP312'))
    for name in ('mmengine', 'mmpretrain', 'simplejpeg'):
        assert pins[name] == version(name), name
    assert pins['mmcv-lite'] == version('mmcv')
    carried = {canonicalize_name(n) for n in pins} | {'mim-scaling', 'modelindex', 'mmcv'}
    there = {canonicalize_name(n) for n in bash_array(script, 'GPU_MACHINE_HAS')}
    not_needed = set(bash_array(script, 'NOT_NEEDED_THERE'))
    gpu_python = {'python_version': '3.12', 'python_full_version': '3.12.3',
                  'sys_platform': 'linux', 'platform_system': 'Linux', 'extra': ''}
    # The small ones where this environment has the carried version.
    small = [d for d in ('model-index', 'yapf', 'importlib-metadata', 'addict', 'termcolor')
             if d in pins and _installed_version(d) == pins[d]]
    for dist in ['mim-scaling', 'mmengine', 'mmpretrain', 'mmcv'] + small:
        for line in requires(dist) or []:
            req = Requirement(line)
            if req.marker is not None and not req.marker.evaluate(gpu_python):
                continue
            dep = canonicalize_name(req.name)
            allowed = carried | there | (not_needed if dist == 'mim-scaling' else set())
            assert dep in allowed, f'{dist} needs {dep}'
