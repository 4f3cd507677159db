#!/usr/bin/env python3
"""Python reference for the per-tensor spectrum benchmark.

Times the per-block Lanczos of the gpt zoo model written the way the
reference hessian-spectrum code (Zhang et al., "Why Transformers Need Adam")
does it on python3-torch: one create_graph backward for the gradient, then
one backward per block per Lanczos step (torch.autograd.grad(g_b, θ_b, v,
retain_graph=True)), full re-orthogonalisation in torch. The model is the
same architecture as blockscope's gpt, loaded from the parameters and batch
that bench_hvp --dump wrote, and the loss is checked equal before timing.

Usage: /usr/bin/python3 hessian_spectrum_reference.py DUMP.h5 STEPS THREADS
Prints: seconds per Lanczos step over all blocks, and the loss.
"""
import math
import sys
import time

import h5py
import torch
import torch.nn.functional as F


def gpt_forward(p, tokens, n_layer, n_head, n_kv_head, head_dim):
    n, t = tokens.shape
    h = F.embedding(tokens, p["wte.weight"]) + p["wpe.weight"][:t]
    mask = torch.ones(t, t, dtype=torch.bool).triu(1)
    for i in range(n_layer):
        pre = f"layers.{i}."
        x = F.layer_norm(h, h.shape[-1:], p[pre + "attn_norm.weight"], p[pre + "attn_norm.bias"])
        q = F.linear(x, p[pre + "attn.q_proj.weight"]).view(n, t, n_head, head_dim).transpose(1, 2)
        k = F.linear(x, p[pre + "attn.k_proj.weight"]).view(n, t, n_kv_head, head_dim).transpose(1, 2)
        v = F.linear(x, p[pre + "attn.v_proj.weight"]).view(n, t, n_kv_head, head_dim).transpose(1, 2)
        k = k.repeat_interleave(n_head // n_kv_head, 1)
        v = v.repeat_interleave(n_head // n_kv_head, 1)
        scores = (q @ k.transpose(-2, -1)) / math.sqrt(head_dim)
        y = (scores.masked_fill(mask, float("-inf")).softmax(-1) @ v).transpose(1, 2).reshape(n, t, -1)
        h = h + F.linear(y, p[pre + "attn.o_proj.weight"])
        x = F.layer_norm(h, h.shape[-1:], p[pre + "mlp_norm.weight"], p[pre + "mlp_norm.bias"])
        h = h + F.linear(F.gelu(F.linear(x, p[pre + "mlp.up_proj.weight"])), p[pre + "mlp.down_proj.weight"])
    h = F.layer_norm(h, h.shape[-1:], p["final_norm.weight"], p["final_norm.bias"])
    return F.linear(h, p["lm_head.weight"])


def main():
    path, steps, threads = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    torch.set_num_threads(threads)
    with h5py.File(path, "r") as f:
        names = [n for n in f.keys() if n != "batch"]
        # Keep the model's registration order (h5py lists names sorted).
        order = ["wte.weight", "wpe.weight"]
        layers = sorted({int(n.split(".")[1]) for n in names if n.startswith("layers.")})
        for i in layers:
            order += [f"layers.{i}.{s}" for s in ["attn_norm.weight", "attn_norm.bias", "attn.q_proj.weight",
                                                  "attn.k_proj.weight", "attn.v_proj.weight", "attn.o_proj.weight",
                                                  "mlp_norm.weight", "mlp_norm.bias", "mlp.up_proj.weight",
                                                  "mlp.down_proj.weight"]]
        order += ["final_norm.weight", "final_norm.bias", "lm_head.weight"]
        assert sorted(order) == sorted(names), "parameter names differ from the gpt default"
        params = {n: torch.tensor(f[n][()], requires_grad=True) for n in order}
        tokens = torch.tensor(f["batch/inputs"][()])
        targets = torch.tensor(f["batch/targets"][()])
        expected_loss = float(f.attrs["loss"])
    n_head, head_dim = 4, 16
    n_kv_head = params["layers.0.attn.k_proj.weight"].shape[0] // head_dim
    logits = gpt_forward(params, tokens, len(layers), n_head, n_kv_head, head_dim)
    loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), targets.reshape(-1))
    assert abs(loss.item() - expected_loss) < 1e-5 * max(1.0, abs(expected_loss)), (loss.item(), expected_loss)

    start = time.perf_counter()
    plist = [params[n] for n in order]
    grads = torch.autograd.grad(loss, plist, create_graph=True)
    graph_seconds = time.perf_counter() - start
    # Lanczos per block, as the reference: block by block, m steps each.
    total = 0.0
    for g, p in zip(grads, plist):
        v = torch.randint(0, 2, p.shape, dtype=torch.float32) * 2 - 1
        v /= v.norm()
        basis, beta, v_prev = [v], 0.0, torch.zeros_like(v)
        t0 = time.perf_counter()
        for _ in range(steps):
            w = torch.autograd.grad(g, p, grad_outputs=v, retain_graph=True)[0]
            w = w - beta * v_prev
            alpha = torch.sum(w * v)
            w = w - alpha * v
            for b in basis:  # full re-orthogonalisation
                w = w - torch.sum(w * b) * b
            beta = w.norm().item()
            v_prev, v = v, w / max(beta, 1e-30)
            basis.append(v)
        total += time.perf_counter() - t0
    print(f"python_reference seconds_per_lanczos_step={total / steps:.4f} graph_seconds={graph_seconds:.4f} "
          f"loss={loss.item():.6f} threads={torch.get_num_threads()} torch={torch.__version__}")


if __name__ == "__main__":
    main()
