"""PyTorch's answers for the graded exercise track (exercises/).

Writes exercises/fixtures/exercises.json. Most exercise graders compare a
learner's code with kindling's own ops, which the other fixtures already hold to
PyTorch; the cases here are the ones where the exercise itself is about
PyTorch's numbers:

* ``class_scores``: the BatchNorm lesson (module 5, task 5): ``input`` (the 4x3
  scores), ``new_student`` (1x3), ``train_out`` (one training-mode forward of a
  fresh BatchNorm1d(3)), ``running_mean`` and ``running_var`` after it, and
  ``eval_out`` (the new student in eval mode with those running statistics).
* ``log_softmax_large``: ``input`` and ``output`` of log_softmax(dim=1) on
  logits in the hundreds and thousands, where a softmax without the max shift
  overflows (module 3, task 1).
* ``cross_entropy``: ``logits``, ``targets`` (as floats), ``loss`` and
  ``grad`` (d loss / d logits) for F.cross_entropy with mean reduction
  (module 3, tasks 2 and 3).
* ``unfold``: ``input`` [2, 2, 5, 6] and ``output`` of F.unfold with kernel 3,
  stride 2, padding 1: im2col's layout, [N, C*k*k, oh*ow] (module 4, task 1).
* ``fold``: ``input`` columns [1, 18, 30] and ``output`` [1, 2, 5, 6] of F.fold
  with kernel 3, stride 1, padding 1, where the patches overlap and fold adds
  (module 4, task 2).
* ``max_pool_ties_k2s2`` and ``max_pool_ties_k3s2``: ``input`` of small whole
  numbers (so that windows hold equal maxima), ``output`` and ``indices`` (as
  floats, flat h*W + w within each plane) of F.max_pool2d(return_indices=True),
  which picks the first maximum of a window (module 4, task 5).
"""

import torch
import torch.nn.functional as F

from common import setup, t, write_fixture


def main():
    setup(0)
    cases = []

    scores = torch.tensor(
        [[85.0, 60.0, 70.0], [90.0, 80.0, 75.0], [95.0, 50.0, 80.0], [88.0, 70.0, 85.0]]
    )
    student = torch.tensor([[87.0, 65.0, 78.0]])
    bn = torch.nn.BatchNorm1d(3)
    bn.train()
    train_out = bn(scores)
    running_mean, running_var = bn.running_mean.clone(), bn.running_var.clone()
    bn.eval()
    eval_out = bn(student)
    cases.append({
        "name": "class_scores",
        "torch": "bn = nn.BatchNorm1d(3); bn(scores) in train mode, then bn.eval(); bn(new_student)",
        "input": t(scores),
        "new_student": t(student),
        "train_out": t(train_out),
        "running_mean": t(running_mean),
        "running_var": t(running_var),
        "eval_out": t(eval_out),
    })

    logits = torch.tensor([
        [1000.0, 999.0, 990.0, -1000.0],
        [-500.0, -499.5, -501.0, -800.0],
        [88.0, 89.0, 90.0, 0.5],
    ])
    cases.append({
        "name": "log_softmax_large",
        "torch": "F.log_softmax(input, dim=1)",
        "input": t(logits),
        "output": t(F.log_softmax(logits, dim=1)),
    })

    x = (torch.randn(5, 7) * 3.0).requires_grad_(True)
    targets = torch.tensor([0, 6, 3, 3, 1])
    loss = F.cross_entropy(x, targets)
    loss.backward()
    cases.append({
        "name": "cross_entropy",
        "torch": "F.cross_entropy(logits, targets).backward()",
        "logits": t(x),
        "targets": t(targets.float()),
        "loss": t(loss),
        "grad": t(x.grad),
    })

    x = torch.randn(2, 2, 5, 6)
    cases.append({
        "name": "unfold",
        "torch": "F.unfold(input, kernel_size=3, stride=2, padding=1)",
        "input": t(x),
        "output": t(F.unfold(x, kernel_size=3, stride=2, padding=1)),
    })

    cols = torch.randn(1, 2 * 9, 5 * 6)
    cases.append({
        "name": "fold",
        "torch": "F.fold(input, output_size=(5, 6), kernel_size=3, stride=1, padding=1)",
        "input": t(cols),
        "output": t(F.fold(cols, output_size=(5, 6), kernel_size=3, stride=1, padding=1)),
    })

    for kernel, stride, shape in [(2, 2, (1, 2, 4, 6)), (3, 2, (1, 2, 5, 7))]:
        x = torch.randint(0, 3, shape).float()
        out, idx = F.max_pool2d(x, kernel, stride, return_indices=True)
        cases.append({
            "name": f"max_pool_ties_k{kernel}s{stride}",
            "torch": f"F.max_pool2d(input, {kernel}, {stride}, return_indices=True)",
            "input": t(x),
            "output": t(out),
            "indices": t(idx.float()),
        })

    write_fixture("exercises/fixtures/exercises.json", "tools/golden/gen_exercises.py", cases)


if __name__ == "__main__":
    main()
