//! Format version 1's training state, as it was encoded, and its conversion to today's
//! types, so that checkpoints written by an older kindling keep loading and resuming.
//!
//! postcard is not self-describing: a file can only be read with the exact types that
//! wrote it. Version 1 stored each parameter's optimizer state as one struct with a field
//! for every buffer any optimizer keeps; version 2 stores named buffers. The types here
//! are version 1's, field for field and in the same order; they must never change. They
//! reuse today's types for the parts that have not changed since (hyperparameters,
//! scheduler state, generator): if one of those changes, copy its version 1 shape here
//! first. `tests/fixtures/v1` fails loudly if this drifts.

use std::collections::BTreeMap;

use kindling_core::rng::Xoshiro256;
use kindling_optim::SchedulerState;
use kindling_optim::{Hyperparameters, OptimizerKind, OptimizerState, ParamState};
use serde::Deserialize;

use crate::training::StateOwned;

/// One parameter's optimizer state in version 1: every optimizer's buffers as optional
/// fields.
#[derive(Deserialize)]
struct ParamStateV1 {
    shape: Vec<usize>,
    step: Option<u64>,
    momentum_buffer: Option<Vec<f32>>,
    exp_avg: Option<Vec<f32>>,
    exp_avg_sq: Option<Vec<f32>>,
    max_exp_avg_sq: Option<Vec<f32>>,
}

#[derive(Deserialize)]
struct OptimizerStateV1 {
    kind: OptimizerKind,
    hparams: Hyperparameters,
    params: Vec<ParamStateV1>,
}

/// The training state after the tensors, as version 1 wrote it.
#[derive(Deserialize)]
pub(crate) struct StateV1 {
    optimizer: OptimizerStateV1,
    scheduler: Option<SchedulerState>,
    epoch: u64,
    step: u64,
    rng: Xoshiro256,
    extra: BTreeMap<String, String>,
}

impl From<ParamStateV1> for ParamState {
    /// Each buffer that was present becomes the buffer of the same name; nothing else
    /// changes (the names were PyTorch's already).
    fn from(old: ParamStateV1) -> ParamState {
        let mut new = ParamState::empty(&old.shape);
        new.step = old.step;
        let buffers = [
            (ParamState::MOMENTUM_BUFFER, old.momentum_buffer),
            (ParamState::EXP_AVG, old.exp_avg),
            (ParamState::EXP_AVG_SQ, old.exp_avg_sq),
            (ParamState::MAX_EXP_AVG_SQ, old.max_exp_avg_sq),
        ];
        for (name, values) in buffers {
            if let Some(values) = values {
                new.buffers.insert(name.to_string(), values);
            }
        }
        new
    }
}

impl From<StateV1> for StateOwned {
    fn from(old: StateV1) -> StateOwned {
        StateOwned {
            optimizer: OptimizerState {
                kind: old.optimizer.kind,
                hparams: old.optimizer.hparams,
                params: old.optimizer.params.into_iter().map(Into::into).collect(),
            },
            scheduler: old.scheduler,
            epoch: old.epoch,
            step: old.step,
            rng: old.rng,
            extra: old.extra,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_version_1_buffer_keeps_its_name_and_values() {
        let old = ParamStateV1 {
            shape: vec![2],
            step: Some(7),
            momentum_buffer: None,
            exp_avg: Some(vec![1.0, 2.0]),
            exp_avg_sq: Some(vec![3.0, 4.0]),
            max_exp_avg_sq: Some(vec![5.0, 6.0]),
        };
        let new = ParamState::from(old);
        assert_eq!(new.shape, vec![2]);
        assert_eq!(new.step, Some(7));
        assert_eq!(
            new.buffers,
            BTreeMap::from([
                ("exp_avg".to_string(), vec![1.0, 2.0]),
                ("exp_avg_sq".to_string(), vec![3.0, 4.0]),
                ("max_exp_avg_sq".to_string(), vec![5.0, 6.0]),
            ])
        );

        let sgd = ParamState::from(ParamStateV1 {
            shape: vec![1],
            step: None,
            momentum_buffer: Some(vec![0.5]),
            exp_avg: None,
            exp_avg_sq: None,
            max_exp_avg_sq: None,
        });
        assert_eq!(
            sgd,
            ParamState::empty(&[1]).with_buffer("momentum_buffer", vec![0.5])
        );
    }
}
