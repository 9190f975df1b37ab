"""Gradient clipping, as torch.nn.utils.clip_grad_norm_ and clip_grad_value_ do it.

Writes crates/nn/tests/fixtures/clip.json: for three parameters with fixed, non-uniform
gradients, the total norm returned and the gradients after clipping, for a max_norm that
clips, one that does not, and a clip value.

Run:  python3 tools/golden/gen_clip.py   (from the repo root, with a python that has torch)
"""
import json

import torch

torch.manual_seed(0)
shapes = [[4, 3], [3], [2, 2, 2]]
grads = [(torch.randn(s) * (i + 1)).tolist() for i, s in enumerate(shapes)]


def params():
    ps = []
    for s, g in zip(shapes, grads):
        p = torch.zeros(s, requires_grad=True)
        p.grad = torch.tensor(g)
        ps.append(p)
    return ps


cases = []
for max_norm in [1.0, 1000.0]:
    ps = params()
    total = torch.nn.utils.clip_grad_norm_(ps, max_norm)
    cases.append({"max_norm": max_norm, "total_norm": total.item(),
                  "clipped": [p.grad.flatten().tolist() for p in ps]})
ps = params()
torch.nn.utils.clip_grad_value_(ps, 0.5)
out = {"torch_version": torch.__version__, "shapes": shapes,
       "grads": [torch.tensor(g).flatten().tolist() for g in grads],
       "norm_cases": cases, "clip_value": 0.5,
       "value_clipped": [p.grad.flatten().tolist() for p in ps]}
with open("crates/nn/tests/fixtures/clip.json", "w") as f:
    json.dump(out, f, indent=1)
    f.write("\n")
