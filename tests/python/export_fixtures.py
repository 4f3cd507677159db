#!/usr/bin/env python3
"""Exports small TorchScript models for blockscope's C++ and pytest suites.

Writes into OUTDIR:
  mlp.pt            scripted MLP (Linear-Tanh-Linear), forward(x [N, 6]) -> [N, 3]
  attention.pt      scripted causal attention LM with a TIED embedding/head,
                    forward(tokens [N, T]) -> logits [N, T, 32]
  <name>.expected.h5  h5py file: `inputs`, `outputs` (torch's forward on them),
                    and per-parameter names/shapes as torch lists them
                    (named_parameters() de-duplicates tied tensors).
Run with Debian's python3 (torch 1.13). Regenerate by re-running; the C++
tests compare against whatever torch version wrote the file.
"""
import sys
from pathlib import Path

import h5py
import numpy as np
import torch
from torch import nn


class Mlp(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(6, 8)
        self.fc2 = nn.Linear(8, 3)

    def forward(self, x):
        return self.fc2(torch.tanh(self.fc1(x)))


class TinyAttentionLM(nn.Module):
    """One causal self-attention block; lm_head shares the embedding weight."""

    def __init__(self, vocab: int = 32, d_model: int = 16, n_head: int = 2, context: int = 8):
        super().__init__()
        self.n_head = n_head
        self.embed = nn.Embedding(vocab, d_model)
        self.pos = nn.Parameter(torch.randn(context, d_model) * 0.02)
        self.q_proj = nn.Linear(d_model, d_model, bias=False)
        self.k_proj = nn.Linear(d_model, d_model, bias=False)
        self.v_proj = nn.Linear(d_model, d_model, bias=False)
        self.o_proj = nn.Linear(d_model, d_model, bias=False)
        self.norm = nn.LayerNorm(d_model)
        self.lm_head = nn.Linear(d_model, vocab, bias=False)
        self.lm_head.weight = self.embed.weight  # tied, as in nanoGPT

    def forward(self, tokens):
        n, t = tokens.shape
        h = self.embed(tokens) + self.pos[:t]
        d = h.shape[-1] // self.n_head
        q = self.q_proj(h).view(n, t, self.n_head, d).transpose(1, 2)
        k = self.k_proj(h).view(n, t, self.n_head, d).transpose(1, 2)
        v = self.v_proj(h).view(n, t, self.n_head, d).transpose(1, 2)
        scores = q @ k.transpose(-2, -1) / (d ** 0.5)
        mask = torch.ones(t, t, dtype=torch.bool).triu(1)
        scores = scores.masked_fill(mask, float("-inf"))
        y = (scores.softmax(-1) @ v).transpose(1, 2).reshape(n, t, -1)
        h = h + self.o_proj(y)
        return self.lm_head(self.norm(h))


def export(model: nn.Module, inputs: torch.Tensor, outdir: Path, name: str) -> None:
    model.eval()
    scripted = torch.jit.script(model)
    scripted.save(str(outdir / f"{name}.pt"))
    with torch.no_grad():
        outputs = model(inputs)
    with h5py.File(outdir / f"{name}.expected.h5", "w") as f:
        f.attrs["torch_version"] = str(torch.__version__)
        f.attrs["regenerate"] = "python3 tests/python/export_fixtures.py OUTDIR"
        f["inputs"] = inputs.numpy()
        f["outputs"] = outputs.numpy()
        params = list(model.named_parameters())
        f["param_names"] = np.array([n for n, _ in params], dtype=h5py.string_dtype())
        f["param_numels"] = np.array([p.numel() for _, p in params], dtype=np.int64)


def main() -> None:
    outdir = Path(sys.argv[1] if len(sys.argv) > 1 else "fixtures")
    outdir.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(0)
    export(Mlp(), torch.randn(5, 6), outdir, "mlp")
    export(TinyAttentionLM(), torch.randint(0, 32, (3, 8)), outdir, "attention")
    print(f"exported mlp.pt and attention.pt to {outdir}")


if __name__ == "__main__":
    main()
