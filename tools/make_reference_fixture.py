#!/usr/bin/env python3
"""Builds a tiny Falcon Mamba / Mamba checkpoint with random, perturbed weights and its golden outputs
from Hugging Face transformers, in the layout of src/test/fixtures (see the fixtures README).

References are computed in float64 from the *stored* weights (f16/bf16 upcast exactly), so a float32 engine
should match them to ~1e-6. Run where torch + transformers are installed:

    python3 tools/make_reference_fixture.py --name tiny-falcon-mamba-f16-bias --model-type falcon_mamba \
        --dtype float16 --hidden 40 --state 12 --layers 2 --conv 3 --rank 5 --use-bias --out OUT_DIR

Writes config.json, model.safetensors, reference.json, reference.safetensors into OUT_DIR/NAME. Copy the
tokenizer files (and a generation_config.json) from another fixture: the vocabulary is the fixtures' 512 ids.
"""
import argparse
import json
import os

import torch
from safetensors.torch import save_file


def build(args):
    import transformers
    from transformers import FalconMambaConfig, FalconMambaForCausalLM, MambaConfig, MambaForCausalLM

    torch.manual_seed(args.seed)
    common = dict(vocab_size=512, hidden_size=args.hidden, state_size=args.state, num_hidden_layers=args.layers,
                  conv_kernel=args.conv, expand=2, time_step_rank=args.rank, use_bias=args.use_bias,
                  use_conv_bias=not args.no_conv_bias, tie_word_embeddings=args.tied, layer_norm_epsilon=1e-5,
                  bos_token_id=0, eos_token_id=0, pad_token_id=0)
    if args.model_type == "falcon_mamba":
        config = FalconMambaConfig(mixer_rms_eps=1e-6, **common)
        cls = FalconMambaForCausalLM
    else:
        config = MambaConfig(**common)
        cls = MambaForCausalLM
    model = cls(config).eval()
    # Perturb every parameter so an engine that ignores one (a bias, D, a norm weight) fails.
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith("A_log"):
                p.add_(0.3 * torch.randn_like(p))
            elif "norm" in name or name.endswith(".D"):
                p.copy_(1.0 + 0.3 * torch.randn_like(p))
            elif name.endswith("bias"):
                p.copy_(0.2 * torch.randn_like(p))
            else:
                p.add_(0.05 * torch.randn_like(p))
    dtype = {"float32": torch.float32, "float16": torch.float16, "bfloat16": torch.bfloat16}[args.dtype]
    out = os.path.join(args.out, args.name)
    os.makedirs(out, exist_ok=True)
    model.to(dtype).save_pretrained(out, safe_serialization=True)
    for extra in os.listdir(out):
        if extra not in ("config.json", "model.safetensors"):
            os.remove(os.path.join(out, extra))

    ref = cls.from_pretrained(out, torch_dtype=torch.float64).eval()
    g = torch.Generator().manual_seed(args.seed + 1)
    sequences = [[0] + torch.randint(4, 512, (n - 1,), generator=g).tolist() for n in (6, 29)]
    tensors, seqs = {}, []
    with torch.no_grad():
        for s, ids in enumerate(sequences):
            x = torch.tensor([ids])
            o = ref(x, use_cache=True, output_hidden_states=True)
            tensors[f"seq{s}.logits"] = o.logits[0].float().contiguous()
            tensors[f"seq{s}.last_hidden_norm_f"] = o.hidden_states[-1][0, -1].float().contiguous()
            cache = o.cache_params
            for l in range(args.layers):
                ssm = cache.ssm_states[l] if hasattr(cache, "ssm_states") else cache.layers[l].recurrent_states
                conv = cache.conv_states[l] if hasattr(cache, "conv_states") else cache.layers[l].conv_states
                tensors[f"seq{s}.layer{l}.ssm_state"] = ssm[0].float().contiguous()
                tensors[f"seq{s}.layer{l}.conv_state"] = conv[0].float().contiguous()
            # Greedy continuation, recomputing the whole sequence each step (no cache, so nothing to get wrong).
            cur, gen, gen_logits, margin = list(ids), [], [], float("inf")
            for _ in range(12):
                logits = ref(torch.tensor([cur])).logits[0, -1]
                top2 = torch.topk(logits, 2).values
                margin = min(margin, float(top2[0] - top2[1]))
                nxt = int(torch.argmax(logits))
                gen_logits.append(logits.float())
                gen.append(nxt)
                cur.append(nxt)
            tensors[f"seq{s}.generated_logits"] = torch.stack(gen_logits).contiguous()
            seqs.append({"index": s, "input_ids": ids, "generated_ids": gen, "min_top2_margin_generated": margin})
    save_file(tensors, os.path.join(out, "reference.safetensors"))
    meta = {
        "model": args.name, "model_type": args.model_type, "stored_dtype": args.dtype, "seed": args.seed,
        "versions": {"torch": torch.__version__, "transformers": transformers.__version__},
        "sequences": seqs,
        "generation": {"max_new_tokens": 12, "do_sample": False, "eos_token_id": None,
                       "note": "greedy by argmax over float64 logits of the full sequence; eos disabled"},
        "conv_state_layout": "[intermediate_size, conv_kernel]: the last conv_kernel conv inputs, oldest first",
        "ssm_state_layout": "[intermediate_size, state_size]",
        "tensors": {k: list(v.shape) for k, v in tensors.items()},
        "generator": "tools/make_reference_fixture.py " + " ".join(args.argv),
    }
    with open(os.path.join(out, "reference.json"), "w") as f:
        json.dump(meta, f, indent=1)
    print("wrote", out, {k: list(v.shape) for k, v in list(tensors.items())[:3]}, "margins",
          [s["min_top2_margin_generated"] for s in seqs])


if __name__ == "__main__":
    import sys
    p = argparse.ArgumentParser()
    p.add_argument("--name", required=True)
    p.add_argument("--model-type", choices=["falcon_mamba", "mamba"], required=True)
    p.add_argument("--dtype", choices=["float32", "float16", "bfloat16"], default="float32")
    p.add_argument("--hidden", type=int, default=40)
    p.add_argument("--state", type=int, default=12)
    p.add_argument("--layers", type=int, default=2)
    p.add_argument("--conv", type=int, default=3)
    p.add_argument("--rank", type=int, default=5)
    p.add_argument("--use-bias", action="store_true")
    p.add_argument("--no-conv-bias", action="store_true")
    p.add_argument("--tied", action="store_true")
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--out", required=True)
    a = p.parse_args()
    a.argv = sys.argv[1:]
    build(a)
