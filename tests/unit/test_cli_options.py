"""Command-line options generated from the config dataclasses: names, types, defaults and help
come from the fields, and the values go back into the same config."""

import dataclasses

import pytest

from symtune.cli.options import config_values, field_docs, parameters
from symtune.errors import SymtuneError
from symtune.mixture.config import MixtureConfig
from symtune.tune.config import LoraConfig, TuneConfig

TUNE_SKIP = ("mixture", "out", "extra")


def defaults(cls, skip=()):
    return {p.name: p.default for p in parameters(cls, skip)}


@pytest.mark.parametrize("cls", [TuneConfig, LoraConfig, MixtureConfig])
def test_every_field_on_the_command_line_has_help(cls):
    skip = {"extra", "tasks", "suite", "mixture", "out"}
    documented = field_docs(cls)
    assert {f.name for f in dataclasses.fields(cls)} - skip <= set(documented)


def test_defaults_on_the_command_line_give_the_dataclass_defaults():
    tune = TuneConfig(
        mixture="m", out="o", **config_values(TuneConfig, defaults(TuneConfig, TUNE_SKIP))
    )
    assert tune == TuneConfig(mixture="m", out="o")
    skip = ("tasks", "suite")
    mixture = MixtureConfig(
        tasks=("a",), **config_values(MixtureConfig, defaults(MixtureConfig, skip))
    )
    assert mixture == MixtureConfig(tasks=("a",))


def test_option_forms_round_trip():
    options = {
        **defaults(MixtureConfig, ("tasks", "suite")),
        "max_tokens": 0,  # int | None: 0 means None
        "max_symbols": 12,
        "symbol_kinds": "integer, word",
        "weights": "a=2,b/c=0.5",
    }
    values = config_values(MixtureConfig, options)
    assert values["max_tokens"] is None and values["max_symbols"] == 12
    assert values["symbol_kinds"] == ("integer", "word")
    assert values["weights"] == (("a", 2.0), ("b/c", 0.5))
    lora = config_values(TuneConfig, {**defaults(TuneConfig, TUNE_SKIP), "lora": True, "lora_r": 4})
    assert lora["lora"] == LoraConfig(r=4)
    assert config_values(TuneConfig, defaults(TuneConfig, TUNE_SKIP))["lora"] is None
    with pytest.raises(SymtuneError, match="--weights 'a=x': expected task=weight,task=weight"):
        config_values(MixtureConfig, {**options, "weights": "a=x"})


def test_help_comes_from_the_field_docstrings():
    found = {p.name: p.annotation.__metadata__[0].help for p in parameters(TuneConfig, TUNE_SKIP)}
    assert found["val_every"].startswith("Score the mixture's validation prompts every")
    assert found["lora_r"] == "LoRA rank."
    mixture = {
        p.name: p.annotation.__metadata__[0].help
        for p in parameters(MixtureConfig, ("tasks", "suite"))
    }
    assert mixture["max_symbols"].endswith("(0: none)")


def test_validation_names_every_bad_field_at_once():
    with pytest.raises(SymtuneError) as caught:
        TuneConfig(mixture="m", out="o", steps=0, lr=-1.0, dtype="fp16").validate()
    message = str(caught.value)
    assert "\n" not in message and message.startswith(
        "tune config: steps=0; expected 1 to 1,000,000"
    )
    assert "lr=-1.0; expected a learning rate in (0, 1]" in message and "dtype=fp16" in message
    with pytest.raises(SymtuneError, match=r"mixture config: n=0; .*; cap=0; expected"):
        MixtureConfig(tasks=("a",), n=0, cap=0).validate()


def test_eval_validation_names_every_bad_field_at_once():
    from symtune.evaluate.config import EvalConfig

    with pytest.raises(SymtuneError) as caught:
        EvalConfig(k=0, batch_size=0, seeds=(1, 1), dtype="fp16").validate()
    message = str(caught.value)
    assert "\n" not in message and message.startswith("eval config: seeds=[1, 1]")
    for part in ("k=0; expected 1 to 1,000", "batch_size=0", "dtype='fp16'"):
        assert part in message
