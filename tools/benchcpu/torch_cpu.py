"""PyTorch side of Layerscope's CPU benchmark (tools/benchcpu/run.sh); not part of the product.

make:  writes a Llama-shaped model folder with random BF16 weights (config.json from the gallery,
       model.safetensors written here by hand: Debian's torch has no safetensors package) and the
       token ids both sides score, as a JSON list of lists.
run:   scores that folder with PyTorch on the CPU in float32, the way a pruning notebook does: the
       weights converted from BF16 once, a plain Llama forward (eager attention, as transformers'
       LlamaForCausalLM computes it), BI per block (1 - mean cosine of each block's input and output
       over every token) and the mean next-token NLL. Prints one JSON line: bi, nll, load_seconds and
       run_seconds per repeat (the first run is the cold one).

Only Debian's python3-torch (1.13, OpenBLAS) is needed; transformers is not.
"""
import argparse
import json
import math
import os
import struct
import sys
import time

import numpy
import torch


def write_model(cfg_path, folder, samples, seq_len, seed):
    cfg = json.load(open(cfg_path))
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, "config.json"), "w") as f:
        json.dump(cfg, f, indent=2)
    H, I, V = cfg["hidden_size"], cfg["intermediate_size"], cfg["vocab_size"]
    heads, kv = cfg["num_attention_heads"], cfg["num_key_value_heads"]
    hd = cfg.get("head_dim") or H // heads
    shapes = [("model.embed_tokens.weight", (V, H))]
    for i in range(cfg["num_hidden_layers"]):
        p = f"model.layers.{i}."
        shapes += [
            (p + "input_layernorm.weight", (H,)),
            (p + "self_attn.q_proj.weight", (heads * hd, H)),
            (p + "self_attn.k_proj.weight", (kv * hd, H)),
            (p + "self_attn.v_proj.weight", (kv * hd, H)),
            (p + "self_attn.o_proj.weight", (H, heads * hd)),
            (p + "post_attention_layernorm.weight", (H,)),
            (p + "mlp.gate_proj.weight", (I, H)),
            (p + "mlp.up_proj.weight", (I, H)),
            (p + "mlp.down_proj.weight", (H, I)),
        ]
    shapes.append(("model.norm.weight", (H,)))
    if not cfg.get("tie_word_embeddings", False):
        shapes.append(("lm_head.weight", (V, H)))
    header, offset = {}, 0
    for name, shape in shapes:
        n = math.prod(shape) * 2
        header[name] = {"dtype": "BF16", "shape": list(shape), "data_offsets": [offset, offset + n]}
        offset += n
    hb = json.dumps(header).encode()
    hb += b" " * (-len(hb) % 8)
    g = torch.Generator().manual_seed(seed)
    with open(os.path.join(folder, "model.safetensors"), "wb") as f:
        f.write(struct.pack("<Q", len(hb)))
        f.write(hb)
        for name, shape in shapes:
            t = torch.randn(shape, generator=g) * 0.05
            if "norm" in name:
                t += 1  # norm weights near 1, everything else small, as an initialised model
            f.write(t.to(torch.bfloat16).view(torch.int16).numpy().tobytes())
    ids = torch.randint(0, V, (samples, seq_len), generator=g)
    with open(folder + ".tokens.json", "w") as f:
        json.dump(ids.tolist(), f)


def read_safetensors(path):
    """The tensors of a BF16 safetensors file as float32, read through a memory map (no copy of the
    file) and converted once, as a loader that upcasts for the CPU does."""
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
    raw = numpy.memmap(path, dtype=numpy.int16, mode="c", offset=8 + n)  # copy-on-write: writable for torch, no copy
    out = {}
    for name, h in header.items():
        if name == "__metadata__":
            continue
        a, b = h["data_offsets"]
        assert h["dtype"] == "BF16", name
        t = torch.from_numpy(numpy.asarray(raw[a // 2:b // 2]))
        out[name] = t.view(torch.bfloat16).reshape(h["shape"]).float()
    return out


def rope_inv_freq(cfg, hd):
    base = cfg.get("rope_theta", 10000.0)
    inv = 1.0 / (base ** (torch.arange(0, hd, 2, dtype=torch.int64).float() / hd))
    rs = cfg.get("rope_scaling")
    if rs and rs.get("rope_type", rs.get("type")) == "llama3":
        factor, lo, hi = rs["factor"], rs["low_freq_factor"], rs["high_freq_factor"]
        old = rs["original_max_position_embeddings"]
        lo_wl, hi_wl = old / lo, old / hi
        wl = 2 * math.pi / inv
        inv_l = torch.where(wl > lo_wl, inv / factor, inv)
        smooth = (old / wl - lo) / (hi - lo)
        smoothed = (1 - smooth) * inv_l / factor + smooth * inv_l
        medium = ~(wl < hi_wl) * ~(wl > lo_wl)
        inv = torch.where(medium, smoothed, inv_l)
    return inv


def rms(x, w, eps):
    v = x.pow(2).mean(-1, keepdim=True)
    return w * (x * torch.rsqrt(v + eps))


def rotate_half(x):
    h = x.shape[-1] // 2
    return torch.cat((-x[..., h:], x[..., :h]), dim=-1)


def forward(cfg, W, ids):
    """BI per block and the mean next-token NLL of a Llama model over ids [batch, seq]."""
    B, S = ids.shape
    H, heads, kv = cfg["hidden_size"], cfg["num_attention_heads"], cfg["num_key_value_heads"]
    hd = cfg.get("head_dim") or H // heads
    eps = cfg["rms_norm_eps"]
    inv = rope_inv_freq(cfg, hd)
    freqs = torch.arange(S, dtype=torch.float32)[:, None] * inv[None, :]
    emb = torch.cat((freqs, freqs), dim=-1)
    cos, sin = emb.cos()[None, None], emb.sin()[None, None]
    mask = torch.full((S, S), torch.finfo(torch.float32).min).triu(1)
    x = W["model.embed_tokens.weight"][ids]
    bi = []
    for i in range(cfg["num_hidden_layers"]):
        p = f"model.layers.{i}."
        h = rms(x, W[p + "input_layernorm.weight"], eps)
        q = (h @ W[p + "self_attn.q_proj.weight"].T).view(B, S, heads, hd).transpose(1, 2)
        k = (h @ W[p + "self_attn.k_proj.weight"].T).view(B, S, kv, hd).transpose(1, 2)
        v = (h @ W[p + "self_attn.v_proj.weight"].T).view(B, S, kv, hd).transpose(1, 2)
        q, k = q * cos + rotate_half(q) * sin, k * cos + rotate_half(k) * sin
        k = k.repeat_interleave(heads // kv, dim=1)
        v = v.repeat_interleave(heads // kv, dim=1)
        a = torch.softmax((q @ k.transpose(2, 3)) / math.sqrt(hd) + mask, dim=-1) @ v
        y = x + a.transpose(1, 2).reshape(B, S, heads * hd) @ W[p + "self_attn.o_proj.weight"].T
        h = rms(y, W[p + "post_attention_layernorm.weight"], eps)
        m = torch.nn.functional.silu(h @ W[p + "mlp.gate_proj.weight"].T) * (h @ W[p + "mlp.up_proj.weight"].T)
        y = y + m @ W[p + "mlp.down_proj.weight"].T
        bi.append(1 - torch.nn.functional.cosine_similarity(x, y, dim=-1).mean().item())
        x = y
    head = W.get("lm_head.weight", W["model.embed_tokens.weight"])
    logits = rms(x, W["model.norm.weight"], eps)[:, :-1] @ head.T
    nll = torch.nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]), ids[:, 1:].reshape(-1))
    return bi, nll.item()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("cmd", choices=["make", "run"])
    ap.add_argument("--config")
    ap.add_argument("--folder", required=True)
    ap.add_argument("--samples", type=int, default=8)
    ap.add_argument("--seq-len", type=int, default=128)
    ap.add_argument("--repeat", type=int, default=1)
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    a = ap.parse_args()
    if a.cmd == "make":
        write_model(a.config, a.folder, a.samples, a.seq_len, seed=1)
        return
    torch.set_num_threads(a.threads)
    t0 = time.perf_counter()
    cfg = json.load(open(os.path.join(a.folder, "config.json")))
    W = read_safetensors(os.path.join(a.folder, "model.safetensors"))
    ids = torch.tensor(json.load(open(a.folder + ".tokens.json")))
    load = time.perf_counter() - t0
    runs = []
    with torch.no_grad():
        for _ in range(a.repeat):
            t = time.perf_counter()
            bi, nll = forward(cfg, W, ids)
            runs.append(time.perf_counter() - t)
    json.dump({"bi": bi, "nll": nll, "load_seconds": load, "run_seconds": runs,
               "threads": torch.get_num_threads(), "torch": torch.__version__}, sys.stdout)
    print()


if __name__ == "__main__":
    main()
