"""Speed reference for Layerscope's GPU check: transformers' BI over 64 x 512 tokens in fp16.

Runs only where torch and transformers are (the GPU machine); not part of the product. For each of a
Llama-3.2-1B-shaped and a Qwen3-0.6B-shaped model with random weights (built here from the gallery's real
config.json, never transferred), it saves the model as fp16 safetensors for Layerscope to read, writes the
token ids it used (so Layerscope scores exactly the same input), and times transformers the way a
pruning notebook computes BI: sdpa attention, output_hidden_states=True, torch.no_grad(), the per-token
cosine between consecutive hidden states. It prints one JSON line per model.

    python3 tools/gpucheck/torch_bench.py --out /tmp/gpucheck [--samples 64] [--seq-len 512]
"""
import argparse
import json
import os
import tempfile
import time

import torch
from transformers import AutoConfig, AutoModelForCausalLM

MODELS = {
    "llama-3.2-1b": "modelio/gallery/configs/meta-llama__Llama-3.2-1B.config.json",
    "qwen3-0.6b": "modelio/gallery/configs/Qwen__Qwen3-0.6B.config.json",
}


def config_from_file(path):
    d = json.load(open(path))
    d.pop("auto_map", None)
    with tempfile.TemporaryDirectory() as td:
        with open(os.path.join(td, "config.json"), "w") as f:
            json.dump(d, f)
        return AutoConfig.from_pretrained(td)


def bi_from_hidden(hidden, mask):
    """BI per block from output_hidden_states (the last entry has the final norm applied, as notebooks
    using this API get it)."""
    m = mask.bool()
    out = []
    for a, b in zip(hidden[:-1], hidden[1:]):
        cos = torch.nn.functional.cosine_similarity(a.float(), b.float(), dim=-1)
        out.append(1 - cos[m].mean().item())
    return out


def bench(name, cfg_path, out, samples, seq_len, runs):
    torch.manual_seed(0)
    config = config_from_file(cfg_path)
    with torch.device("cuda"):
        model = AutoModelForCausalLM.from_config(config, attn_implementation="sdpa", dtype=torch.float16)
    model.eval()
    folder = os.path.join(out, name)
    model.save_pretrained(folder, safe_serialization=True)

    g = torch.Generator().manual_seed(7)
    ids = torch.randint(10, config.vocab_size - 10, (samples, seq_len), generator=g)
    with open(os.path.join(out, name + ".tokens.json"), "w") as f:
        json.dump(ids.tolist(), f)
    ids = ids.cuda()
    mask = torch.ones_like(ids)

    times = []
    torch.cuda.synchronize()
    torch.cuda.reset_peak_memory_stats()
    for i in range(runs + 1):  # the first run warms up (kernels, allocator) and is not timed
        torch.cuda.synchronize()
        t0 = time.perf_counter()
        with torch.no_grad():
            res = model(input_ids=ids, attention_mask=mask, output_hidden_states=True)
            bi = bi_from_hidden(res.hidden_states, mask)
        torch.cuda.synchronize()
        if i > 0:
            times.append(time.perf_counter() - t0)
        del res
    times.sort()
    median = times[len(times) // 2]
    peak = torch.cuda.max_memory_allocated()
    result = {
        "model": name, "gpu": torch.cuda.get_device_name(0), "torch": torch.__version__,
        "dtype": "fp16", "samples": samples, "seq_len": seq_len, "runs": runs,
        "seconds_median": median, "seconds_all": times,
        "tokens_per_s": samples * seq_len / median, "peak_gpu_bytes": peak,
        "params": sum(p.numel() for p in model.parameters()), "bi": bi,
    }
    print(json.dumps(result), flush=True)
    del model
    torch.cuda.empty_cache()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", required=True)
    ap.add_argument("--samples", type=int, default=64)
    ap.add_argument("--seq-len", type=int, default=512)
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    import transformers
    print(json.dumps({"transformers": transformers.__version__, "torch": torch.__version__}), flush=True)
    for name, path in MODELS.items():
        bench(name, path, args.out, args.samples, args.seq_len, args.runs)


if __name__ == "__main__":
    main()
