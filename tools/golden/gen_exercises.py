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

    write_fixture("exercises/fixtures/exercises.json", "tools/golden/gen_exercises.py", cases)


if __name__ == "__main__":
    main()
