"""`--dtype auto`: bf16 where the CPU has bf16 matrix instructions and on CUDA, fp32 elsewhere;
a bf16 request on a CPU without them runs with one warning."""

import pytest

from symtune.models import dtype as dtypes


@pytest.fixture
def flags(monkeypatch):
    """Pretend the CPU lists these flags (None: it lists none)."""

    def set_flags(value):
        monkeypatch.setattr(dtypes, "cpu_flags", lambda: value)
        dtypes.cpu_bf16_support.cache_clear()
        dtypes._warn_slow_bf16.cache_clear()

    yield set_flags
    dtypes.cpu_bf16_support.cache_clear()
    dtypes._warn_slow_bf16.cache_clear()


@pytest.mark.parametrize(
    ("cpu", "expected"),
    [
        (frozenset({"avx2", "amx_bf16", "amx_tile"}), "bf16"),
        (frozenset({"avx512f", "avx512_bf16"}), "bf16"),
        (frozenset({"avx2", "avx512f"}), "fp32"),
    ],
)
def test_auto_follows_the_cpu_flags(flags, cpu, expected):
    flags(cpu)
    choice = dtypes.resolve_dtype("auto", "cpu")
    assert choice.dtype == expected and choice.requested == "auto"
    assert ("CPU flags" in choice.reason) == (expected == "bf16")
    assert dtypes.resolve_dtype("auto", "cuda").dtype == "bf16"
    assert dtypes.resolve_dtype("fp32", "cpu").dtype == "fp32"


def test_without_flags_auto_measures(flags, monkeypatch):
    flags(None)
    monkeypatch.setattr(dtypes, "_measured_bf16_faster", lambda: False)
    choice = dtypes.resolve_dtype("auto", "cpu")
    assert choice.dtype == "fp32" and choice.reason.startswith("measured")


def test_the_real_measurement_runs_in_a_fraction_of_a_second():
    import time

    dtypes._measured_bf16_faster()  # the first call pays torch's one-time kernel set-up
    start = time.perf_counter()
    assert dtypes._measured_bf16_faster() in (True, False)
    assert time.perf_counter() - start < 1.0


def test_cpu_flags_reads_cpuinfo(tmp_path):
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text("processor\t: 0\nflags\t\t: fpu avx512_bf16 sse\n")
    assert dtypes.cpu_flags(cpuinfo) == frozenset({"fpu", "avx512_bf16", "sse"})
    assert dtypes.cpu_flags(tmp_path / "none") is None


def test_bf16_without_bf16_instructions_warns_once_and_runs(flags, capsys):
    flags(frozenset({"avx2"}))
    assert dtypes.resolve_dtype("bf16", "cpu").dtype == "bf16"
    assert dtypes.resolve_dtype("bf16", "cpu").dtype == "bf16"
    warning = capsys.readouterr().err.strip().splitlines()
    assert len(warning) == 1 and "bf16 matmuls are emulated" in warning[0]


def test_evaluation_records_the_resolved_dtype(tmp_path, tiny_model_dir, flags):
    from conftest import small_eval_config
    from symtune.evaluate.api import evaluate
    from symtune.evaluate.config import EvalConfig

    flags(frozenset({"avx2"}))
    config = EvalConfig(
        **{**small_eval_config(tmp_path, tiny_model_dir).to_dict(), "dtype": "auto"}
    )
    document = evaluate(config, {"base": str(tiny_model_dir)}, tmp_path / "ev")
    assert document["config"]["dtype"] == "fp32"
    assert document["machine"]["dtype"] == {
        "requested": "auto",
        "dtype": "fp32",
        "reason": "CPU without amx_bf16 or avx512_bf16",
    }
    # the same folder takes the same evaluation asked for explicitly: the caches are fp32's
    again = evaluate(
        EvalConfig(**{**config.to_dict(), "dtype": "fp32"}),
        {"base": str(tiny_model_dir)},
        tmp_path / "ev",
    )
    assert again["summary"] == document["summary"]


def test_a_tuning_run_stores_the_dtype_auto_resolved_to_and_resumes_with_auto(
    tmp_path, tiny_model_dir, flags
):
    import json

    from conftest import build_tiny_mixture, tiny_tune_config
    from symtune.errors import SymtuneError
    from symtune.tune.loop import tune

    flags(frozenset({"avx2"}))  # no bf16 instructions: auto is fp32
    mixture = tmp_path / "mix"
    build_tiny_mixture(mixture)
    config = tiny_tune_config(tmp_path / "run", mixture, tiny_model_dir, dtype="auto")
    run = tune(config, deadline=0.0)  # stops after its first step, with a checkpoint
    assert json.loads((run / "config.json").read_text())["dtype"] == "fp32"
    provenance = json.loads((run / "provenance.json").read_text())
    assert provenance["dtype"]["requested"] == "auto" and provenance["dtype"]["dtype"] == "fp32"
    flags(frozenset({"amx_bf16"}))  # where auto means bf16, the trajectory would differ
    with pytest.raises(SymtuneError, match="made with dtype='fp32', this run asks dtype='bf16'"):
        tune(config, resume=True)
    flags(frozenset({"avx2"}))
    assert tune(config, resume=True) == run and not (run / "stopped.json").exists()
