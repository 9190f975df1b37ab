"""Generate crates/optim/tests/fixtures/optim.json: golden trajectories for kindling-optim.

For SGD (plain, momentum, dampening, Nesterov, weight decay), Adam (defaults,
custom betas/eps/weight decay, AMSGrad) and AdamW this script fixes two
parameters (shapes [3, 4] and [4]), feeds SIX steps of explicit gradients of
very different magnitudes (so AMSGrad's running maximum matters), and records
the parameters after every ``opt.step()``. A ``null`` gradient means that
parameter had ``p.grad = None`` for that step: PyTorch skips it entirely
(no weight decay, no momentum/moment update, and for Adam its step counter
does not advance).

Cases: name, torch (constructor), optimizer ("sgd"|"adam"|"adamw"), hparams
(every key, defaults included), params_init, grads (steps x params, tensor or
null), trajectory (steps x params after that step).

The top-level ``schedules`` list checks the learning-rate schedulers StepLR,
CosineAnnealingLR and LinearLR: ``lrs`` holds 21 values, the lr before any
``scheduler.step()`` and after each of 20 calls, as Python (f64) floats,
exactly as PyTorch's (recursive) formulas produce them.

The optimizers run with foreach=False, PyTorch's single-tensor code path (the
default on CPU), named in the ``torch`` field so the path checked is explicit.

Run:  python3 tools/golden/gen_optim.py   (from the repo root)
"""

import pathlib
import sys

sys.dont_write_bytecode = True  # keep tools/golden free of __pycache__
sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))

import torch  # noqa: E402

from common import setup, t, write_fixture  # noqa: E402

GENERATOR = "tools/golden/gen_optim.py"
OUT = "crates/optim/tests/fixtures/optim.json"

SHAPES = [(3, 4), (4,)]
N_STEPS = 6
SCALES = [1.0, 0.1, 5.0, 0.01, 2.0, 0.3]  # gradient magnitude per step

cases = []


def sgd_hp(lr=0.1, momentum=0.0, dampening=0.0, weight_decay=0.0, nesterov=False):
    return {"lr": lr, "momentum": momentum, "dampening": dampening,
            "weight_decay": weight_decay, "nesterov": nesterov}


def adam_hp(lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0, amsgrad=False):
    return {"lr": lr, "betas": list(betas), "eps": eps, "weight_decay": weight_decay,
            "amsgrad": amsgrad}


def make_opt(kind, params, hp):
    if kind == "sgd":
        opt = torch.optim.SGD(params, lr=hp["lr"], momentum=hp["momentum"],
                              dampening=hp["dampening"], weight_decay=hp["weight_decay"],
                              nesterov=hp["nesterov"], foreach=False)
        expr = (f"torch.optim.SGD(params, lr={hp['lr']}, momentum={hp['momentum']}, "
                f"dampening={hp['dampening']}, weight_decay={hp['weight_decay']}, "
                f"nesterov={hp['nesterov']}, foreach=False)")
    else:
        cls = torch.optim.Adam if kind == "adam" else torch.optim.AdamW
        b1, b2 = hp["betas"]
        opt = cls(params, lr=hp["lr"], betas=(b1, b2), eps=hp["eps"],
                  weight_decay=hp["weight_decay"], amsgrad=hp["amsgrad"], foreach=False)
        expr = (f"torch.optim.{cls.__name__}(params, lr={hp['lr']}, betas=({b1}, {b2}), "
                f"eps={hp['eps']}, weight_decay={hp['weight_decay']}, "
                f"amsgrad={hp['amsgrad']}, foreach=False)")
    return opt, expr


def run_case(name, kind, hp, null_grads=()):
    """null_grads: (step, param_index) pairs (0-based) whose gradient is None."""
    params_init = [torch.randn(s) for s in SHAPES]
    grads = []
    for step in range(N_STEPS):
        row = []
        for i, s in enumerate(SHAPES):
            g = torch.randn(s) * SCALES[step]
            row.append(None if (step, i) in null_grads else g)
        grads.append(row)

    params = [p.clone().requires_grad_(True) for p in params_init]
    opt, expr = make_opt(kind, params, hp)
    trajectory = []
    for row in grads:
        for p, g in zip(params, row):
            p.grad = None if g is None else g.clone()
        opt.step()
        trajectory.append([t(p) for p in params])
    cases.append(
        {
            "name": name,
            "torch": expr,
            "optimizer": kind,
            "hparams": hp,
            "params_init": [t(p) for p in params_init],
            "grads": [[t(g) for g in row] for row in grads],
            "trajectory": trajectory,
        }
    )


def schedules():
    out = []
    specs = [
        ("step_lr_5_0.5", "step_lr", {"step_size": 5, "gamma": 0.5},
         "torch.optim.lr_scheduler.StepLR(opt, step_size=5, gamma=0.5)",
         lambda o: torch.optim.lr_scheduler.StepLR(o, step_size=5, gamma=0.5)),
        ("step_lr_3_0.1", "step_lr", {"step_size": 3, "gamma": 0.1},
         "torch.optim.lr_scheduler.StepLR(opt, step_size=3, gamma=0.1)",
         lambda o: torch.optim.lr_scheduler.StepLR(o, step_size=3, gamma=0.1)),
        ("cosine_10_0", "cosine_annealing_lr", {"t_max": 10, "eta_min": 0.0},
         "torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=10, eta_min=0.0)",
         lambda o: torch.optim.lr_scheduler.CosineAnnealingLR(o, T_max=10, eta_min=0.0)),
        ("cosine_20_0.001", "cosine_annealing_lr", {"t_max": 20, "eta_min": 0.001},
         "torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=20, eta_min=0.001)",
         lambda o: torch.optim.lr_scheduler.CosineAnnealingLR(o, T_max=20, eta_min=0.001)),
        ("linear_0.1_1.0_5", "linear_lr",
         {"start_factor": 0.1, "end_factor": 1.0, "total_iters": 5},
         "torch.optim.lr_scheduler.LinearLR(opt, start_factor=0.1, end_factor=1.0, total_iters=5)",
         lambda o: torch.optim.lr_scheduler.LinearLR(o, start_factor=0.1, end_factor=1.0,
                                                     total_iters=5)),
        ("linear_0.25_1.0_8", "linear_lr",
         {"start_factor": 0.25, "end_factor": 1.0, "total_iters": 8},
         "torch.optim.lr_scheduler.LinearLR(opt, start_factor=0.25, end_factor=1.0, total_iters=8)",
         lambda o: torch.optim.lr_scheduler.LinearLR(o, start_factor=0.25, end_factor=1.0,
                                                     total_iters=8)),
    ]
    base_lr = 0.1
    for name, kind, args, expr, make in specs:
        p = torch.zeros(1, requires_grad=True)
        opt = torch.optim.SGD([p], lr=base_lr)
        sched = make(opt)
        lrs = [opt.param_groups[0]["lr"]]
        for _ in range(20):
            opt.step()  # no grad: a no-op, but keeps the optimizer-before-scheduler order
            sched.step()
            lrs.append(opt.param_groups[0]["lr"])
        out.append({"name": name, "torch": expr, "schedule": kind, "args": args,
                    "base_lr": base_lr, "lrs": [float(v) for v in lrs]})
    return out


def main():
    setup(20240604)
    run_case("sgd_plain", "sgd", sgd_hp())
    run_case("sgd_momentum", "sgd", sgd_hp(momentum=0.9))
    run_case("sgd_momentum_dampening", "sgd", sgd_hp(momentum=0.9, dampening=0.1))
    run_case("sgd_nesterov", "sgd", sgd_hp(momentum=0.9, nesterov=True))
    run_case("sgd_wd_momentum_nesterov", "sgd",
             sgd_hp(momentum=0.9, nesterov=True, weight_decay=0.01))
    run_case("sgd_weight_decay", "sgd", sgd_hp(weight_decay=0.01))
    run_case("sgd_momentum_null_grad", "sgd", sgd_hp(momentum=0.9, weight_decay=0.01),
             null_grads={(2, 1)})
    run_case("adam_defaults", "adam", adam_hp())
    run_case("adam_betas_eps_wd", "adam",
             adam_hp(betas=(0.8, 0.95), eps=1e-6, weight_decay=0.05))
    run_case("adam_amsgrad", "adam", adam_hp(amsgrad=True))
    run_case("adamw_defaults", "adamw", adam_hp(weight_decay=0.01))
    run_case("adamw_wd0.1_amsgrad", "adamw", adam_hp(weight_decay=0.1, amsgrad=True))
    run_case("adam_null_grad", "adam", adam_hp(), null_grads={(2, 1)})
    write_fixture(OUT, GENERATOR, cases, extra={"schedules": schedules()})


if __name__ == "__main__":
    main()
