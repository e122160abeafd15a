//! [`Evaluator`]: where a training iteration's minibatch evaluations come from. A [`Workspace`]
//! holds a whole batch; [`Shards`] holds a batch split into parts (on one machine, or standing
//! for workers elsewhere) and adds their [`DataTerms`], which are sums over rows. The trainer
//! adds the KL terms either way, so training on one shard and on many is the same code.

use crate::error::Result;
use crate::model::{DataTerms, GradScope, Marginals, Svgp, Workspace};
use crate::variational::{Spare, VariationalQ};

/// The data term c Σᵢ veᵢ of the batch at candidate q's of a model (one q per latent, the
/// model's hyperparameters and Z).
pub type CandidateTerm<'a> = Box<dyn FnMut(&[VariationalQ]) -> Result<f64> + 'a>;

/// The minibatch evaluations of one training iteration, at the hyperparameters and Z the batch
/// was set for.
pub trait Evaluator {
    /// The data terms at `model`'s q's that `scope` asks for, starting from `marginals`.
    ///
    /// # Errors
    /// `ShapeMismatch` when `model` does not match the batch's conditionals; the shards' own.
    fn data_terms(
        &mut self,
        model: &Svgp,
        scope: GradScope,
        marginals: Marginals,
    ) -> Result<DataTerms>;

    /// The data term at candidate q's of `model`, and the pool of spare matrices the natural
    /// step builds in.
    fn candidates<'a>(&'a mut self, model: &'a Svgp) -> (CandidateTerm<'a>, &'a mut Spare);

    /// The pool of spare matrices: the trainer gives old q's and gradients back here.
    fn spare(&mut self) -> &mut Spare;
}

impl Evaluator for Workspace {
    fn data_terms(
        &mut self,
        model: &Svgp,
        scope: GradScope,
        marginals: Marginals,
    ) -> Result<DataTerms> {
        Workspace::data_terms(self, model, scope, marginals)
    }

    fn candidates<'a>(&'a mut self, model: &'a Svgp) -> (CandidateTerm<'a>, &'a mut Spare) {
        let (mut candidates, spare) = Workspace::candidates(self, model);
        (Box::new(move |qs| candidates.data_term(qs)), spare)
    }

    fn spare(&mut self) -> &mut Spare {
        Workspace::spare(self)
    }
}

/// A batch split into shards, each an [`Evaluator`] of its rows set with its own scale (c_k =
/// N_k / B_k for a stratified batch, docs/MATH.md §7; N/B for parts of one uniform batch);
/// evaluations add the shards' data terms in shard order.
pub struct Shards<E> {
    shards: Vec<E>,
    spare: Spare,
}

impl<E: Evaluator> Shards<E> {
    /// The batch made of `shards` (at least one).
    ///
    /// # Errors
    /// `InvalidParameter { name: "shards" }` when there is none.
    pub fn new(shards: Vec<E>) -> Result<Self> {
        if shards.is_empty() {
            return Err(crate::error::SvgpError::InvalidParameter {
                name: "shards".into(),
                value: 0.0,
                reason: "a batch needs at least one shard",
            });
        }
        Ok(Shards {
            shards,
            spare: Spare::new(),
        })
    }

    /// The shards, in order (to set each one's part of the next batch).
    pub fn shards_mut(&mut self) -> &mut [E] {
        &mut self.shards
    }
}

impl<E: Evaluator> Evaluator for Shards<E> {
    fn data_terms(
        &mut self,
        model: &Svgp,
        scope: GradScope,
        marginals: Marginals,
    ) -> Result<DataTerms> {
        let (first, rest) = self
            .shards
            .split_first_mut()
            .expect("Shards::new refuses an empty set");
        let mut total = first.data_terms(model, scope, marginals)?;
        for shard in rest {
            total.add(&shard.data_terms(model, scope, marginals)?)?;
        }
        Ok(total)
    }

    fn candidates<'a>(&'a mut self, model: &'a Svgp) -> (CandidateTerm<'a>, &'a mut Spare) {
        let mut terms: Vec<CandidateTerm<'a>> = self
            .shards
            .iter_mut()
            .map(|shard| shard.candidates(model).0)
            .collect();
        let sum = move |qs: &[VariationalQ]| terms.iter_mut().map(|term| term(qs)).sum();
        (Box::new(sum), &mut self.spare)
    }

    fn spare(&mut self) -> &mut Spare {
        &mut self.spare
    }
}
