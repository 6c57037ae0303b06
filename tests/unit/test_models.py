import pytest
import torch
from transformers import AutoModelForCausalLM

from conftest import tiny_llama as make_tiny_llama
from symtune.errors import SymtuneError
from symtune.models import load_model, plain_copy, resolve_model


def tiny_llama(tmp_path):
    model = make_tiny_llama(tie_word_embeddings=True)
    model.save_pretrained(str(tmp_path / "tiny"))
    return model, tmp_path / "tiny"


def test_local_directory_loads_in_both_dtypes(tmp_path):
    model, path = tiny_llama(tmp_path)
    assert resolve_model(str(path)).kind == "local"
    ids = torch.tensor([[1, 5, 9, 3]])
    fp32 = load_model(str(path), "fp32")
    assert torch.equal(fp32(ids).logits, model(ids).logits)
    assert load_model(str(path), "bf16").dtype == torch.bfloat16


def test_plain_copy_drops_quantizer_marks_and_saves(tmp_path):
    model, _ = tiny_llama(tmp_path)
    model.config.quantization_config = {"quant_method": "gguf"}
    copy = plain_copy(model)
    assert not hasattr(copy.config, "quantization_config")
    copy.save_pretrained(str(tmp_path / "plain"))
    again = AutoModelForCausalLM.from_pretrained(str(tmp_path / "plain"))
    ids = torch.tensor([[2, 4, 6]])
    assert torch.equal(again(ids).logits, model(ids).logits)
    assert again.lm_head.weight.data_ptr() == again.model.embed_tokens.weight.data_ptr()


def test_bad_dtype_and_missing_model(tmp_path):
    _, path = tiny_llama(tmp_path)
    with pytest.raises(SymtuneError, match="dtype 'fp16' is unknown; expected one of bf16, fp32"):
        load_model(str(path), "fp16")
    missing = tmp_path / "missing"
    with pytest.raises(SymtuneError, match=f"model path {missing} not found; expected a directory"):
        load_model(str(missing), "fp32")
