//! Forward hooks as PyTorch has them: they run when a module is called through
//! `Module::call` (PyTorch's `module(x)`), inside `Sequential`, inside a derived model and
//! on any layer; calling `forward` directly skips them; a handle removes one.

use std::sync::{Arc, Mutex};

use kindling_core::Tensor;
use kindling_nn::{BatchNorm1d, ForwardHooks, Linear, Module, ModuleExt, ReLU, Sequential};

type Log = Arc<Mutex<Vec<String>>>;

fn logger(log: &Log, name: &str) -> impl Fn(&Tensor, &Tensor) + Send + Sync + 'static {
    let (log, name) = (log.clone(), name.to_string());
    move |x, y| {
        log.lock()
            .unwrap()
            .push(format!("{name} {:?}->{:?}", x.shape(), y.shape()))
    }
}

#[derive(kindling_nn::Module)]
#[module(crate = "kindling_nn")]
struct Block {
    fc: Linear,
    bn: BatchNorm1d,
    act: ReLU,
    hooks: ForwardHooks,
}

impl Block {
    fn forward(&self, x: &Tensor) -> Tensor {
        self.act.call(&self.bn.call(&self.fc.call(x)))
    }
}

#[test]
fn hooks_fire_through_sequential_and_derived_models_in_call_order() {
    let block = Block {
        fc: Linear::new(3, 4),
        bn: BatchNorm1d::new(4),
        act: ReLU::new(),
        hooks: ForwardHooks::new(),
    };
    let model = Sequential::new().add(block).add(Linear::new(4, 2));
    let log: Log = Arc::default();
    let mut handles = Vec::new();
    for (name, module) in model.named_modules() {
        handles.push(module.register_forward_hook(logger(&log, &name)));
    }
    model.call(&Tensor::ones(&[5, 3]));
    // Each module's hook runs when it returns: inner layers first, the model last.
    assert_eq!(
        *log.lock().unwrap(),
        [
            "0.fc [5, 3]->[5, 4]",
            "0.bn [5, 4]->[5, 4]",
            "0.act [5, 4]->[5, 4]",
            "0 [5, 3]->[5, 4]",
            "1 [5, 4]->[5, 2]",
            " [5, 3]->[5, 2]",
        ]
    );
    // The hooked output is the real output: the hook sees what the next layer gets.
    log.lock().unwrap().clear();
    for h in handles {
        h.remove();
    }
    model.call(&Tensor::ones(&[5, 3]));
    assert!(log.lock().unwrap().is_empty());
}

#[test]
fn forward_skips_hooks_and_call_runs_them() {
    let fc = Linear::new(2, 2);
    let log: Log = Arc::default();
    let _keep = fc.register_forward_hook(logger(&log, "fc"));
    fc.forward(&Tensor::ones(&[1, 2]));
    assert!(log.lock().unwrap().is_empty(), "forward alone runs no hook");
    fc.call(&Tensor::ones(&[1, 2]));
    assert_eq!(*log.lock().unwrap(), ["fc [1, 2]->[1, 2]"]);
}

#[test]
fn a_hook_sees_the_values_and_removing_one_keeps_the_others() {
    let relu = ReLU::new();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let s = seen.clone();
    let first = relu.register_forward_hook(move |x, y| {
        s.lock().unwrap().push((x.to_vec(), y.to_vec()));
    });
    let log: Log = Arc::default();
    let _second = relu.register_forward_hook(logger(&log, "relu"));
    relu.call(&Tensor::from_vec(vec![-2.0, 3.0], &[2]));
    assert_eq!(*seen.lock().unwrap(), [(vec![-2.0, 3.0], vec![0.0, 3.0])]);
    first.remove();
    relu.call(&Tensor::from_vec(vec![1.0], &[1]));
    assert_eq!(
        seen.lock().unwrap().len(),
        1,
        "the removed hook stays silent"
    );
    assert_eq!(log.lock().unwrap().len(), 2, "the other still runs");
}

#[test]
fn a_hook_may_remove_itself_while_running() {
    let relu = Arc::new(ReLU::new());
    let slot: Arc<Mutex<Option<kindling_nn::HookHandle>>> = Arc::default();
    let count = Arc::new(Mutex::new(0));
    let (s, c) = (slot.clone(), count.clone());
    let handle = relu.register_forward_hook(move |_x, _y| {
        *c.lock().unwrap() += 1;
        if let Some(h) = s.lock().unwrap().take() {
            h.remove();
        }
    });
    *slot.lock().unwrap() = Some(handle);
    relu.call(&Tensor::ones(&[1]));
    relu.call(&Tensor::ones(&[1]));
    assert_eq!(*count.lock().unwrap(), 1);
}

#[test]
fn hooks_work_behind_a_box_and_a_clone_starts_without_them() {
    let boxed: Box<dyn Module> = Box::new(Linear::new(1, 1));
    let log: Log = Arc::default();
    let _h = boxed.register_forward_hook(logger(&log, "boxed"));
    boxed.call(&Tensor::ones(&[1, 1]));
    assert_eq!(log.lock().unwrap().len(), 1);

    let relu = ReLU::new();
    let _h = relu.register_forward_hook(logger(&log, "relu"));
    let copy = relu.clone();
    assert_eq!(copy.forward_hooks().unwrap().len(), 0);
    assert_eq!(relu.forward_hooks().unwrap().len(), 1);
}

/// A module written by hand without a hook list: registering names the type and the fix.
struct Bare;
impl Module for Bare {
    fn forward(&self, x: &Tensor) -> Tensor {
        x.clone()
    }
}

#[test]
#[should_panic(
    expected = "Bare keeps no hook list; give it a field `hooks: kindling::nn::ForwardHooks`"
)]
fn registering_on_a_module_without_a_hook_list_says_how_to_add_one() {
    let _ = Bare.register_forward_hook(|_x, _y| {});
}

#[test]
fn a_derived_model_without_a_hooks_field_still_runs_its_layers_hooks() {
    #[derive(kindling_nn::Module)]
    #[module(crate = "kindling_nn")]
    struct Plain {
        fc: Linear,
    }
    impl Plain {
        fn forward(&self, x: &Tensor) -> Tensor {
            self.fc.call(x)
        }
    }
    let model = Plain {
        fc: Linear::new(2, 3),
    };
    assert!(model.forward_hooks().is_none());
    let log: Log = Arc::default();
    let _h = model.fc.register_forward_hook(logger(&log, "fc"));
    model.call(&Tensor::ones(&[4, 2]));
    assert_eq!(*log.lock().unwrap(), ["fc [4, 2]->[4, 3]"]);
}
