//! [`Batched`]: the Burn engine's [`Real`], a handle to a tensor on the running thread's tape.
//!
//! [`Real`] values are `Copy` so that model bodies read like arithmetic on numbers, while a
//! Burn tensor is a reference-counted handle that moves. The engine therefore keeps the
//! tensors of one batched run on a thread-local tape and gives the body 4-byte indices into
//! it. The tape also records, for values that depend on a differentiated input, the operation
//! that made them: that is the reverse-mode gradient (see [`backward`]). Measured against
//! Burn's `Autodiff` decorator in the `burn` bench; the tape wins because it records only the
//! few operations a log density needs and builds no graph of boxed closures per step.
//!
//! Every value is a rank-2 tensor: `[particles, 1]` for a latent, `[1, n]` for a data vector
//! inside a plate, `[particles, n]` for their combination. Burn broadcasts only between
//! tensors of the same rank, so a single rank keeps every combination legal. Constants stay
//! `f64` until they meet a tensor, and then become scalar operations.

use super::fused::{Adjoint, EOp, RNode, Region, Src};
use crate::real::Real;
use burn_tensor::backend::Backend;
use burn_tensor::{Tensor, TensorData};
use std::any::Any;
use std::cell::RefCell;
use std::marker::PhantomData;
use std::ops::{Add, AddAssign, Div, Mul, MulAssign, Neg, Sub, SubAssign};

/// A continuous value of a batched run: one entry per particle (and per datum inside a
/// plate), held as a Burn tensor on the running thread's tape.
///
/// Only valid inside the run that made it (the engine's functions set the tape up and tear
/// it down); using one elsewhere panics with a message saying so.
pub struct Batched<B: Backend> {
    id: u32,
    // fn() -> B: the handle owns no B, so it is Send and Sync whatever the backend.
    _backend: PhantomData<fn() -> B>,
}

impl<B: Backend> Clone for Batched<B> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<B: Backend> Copy for Batched<B> {}

impl<B: Backend> std::fmt::Debug for Batched<B> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Batched(#{})", self.id)
    }
}

/// A node's value: a constant shared by the whole batch, or a tensor.
#[derive(Clone)]
pub(crate) enum Val<B: Backend> {
    Const(f64),
    T(Tensor<B, 2>),
}

/// How a node was made. Kept for every node: the reverse sweep reads it where a gradient
/// flows, and a fused node is evaluated from it.
#[derive(Clone, Copy, Debug)]
enum Op {
    /// A constant, data, or an input; no parents.
    Leaf,
    Add(u32, u32),
    Sub(u32, u32),
    Mul(u32, u32),
    Div(u32, u32),
    /// x * s with a constant s (a shift by a constant has s = 1).
    Scale(u32, f64),
    /// x + c with a constant c: derivative 1.
    Shift(u32, f64),
    Exp(u32),
    Ln(u32),
    Ln1p(u32),
    Sqrt(u32),
    Powf(u32, f64),
    Sin(u32),
    Cos(u32),
    Tanh(u32),
    Atan(u32),
    Abs(u32),
    /// ln Γ(x), with ψ(x) precomputed as the node's second value.
    LnGamma(u32),
    /// The sum over the data axis.
    SumData(u32),
}

impl Op {
    /// The element-wise operation and its operands, for every operation but `Leaf` and
    /// `SumData`.
    fn elementwise(self) -> Option<(EOp, u32, Option<u32>)> {
        Some(match self {
            Op::Leaf | Op::SumData(_) => return None,
            Op::Add(a, b) => (EOp::Add, a, Some(b)),
            Op::Sub(a, b) => (EOp::Sub, a, Some(b)),
            Op::Mul(a, b) => (EOp::Mul, a, Some(b)),
            Op::Div(a, b) => (EOp::Div, a, Some(b)),
            Op::Scale(a, s) => (EOp::Scale(s as f32), a, None),
            Op::Shift(a, c) => (EOp::Shift(c as f32), a, None),
            Op::Exp(a) => (EOp::Exp, a, None),
            Op::Ln(a) => (EOp::Ln, a, None),
            Op::Ln1p(a) => (EOp::Ln1p, a, None),
            Op::Sqrt(a) => (EOp::Sqrt, a, None),
            Op::Powf(a, p) => (EOp::Powf(p as f32), a, None),
            Op::Sin(a) => (EOp::Sin, a, None),
            Op::Cos(a) => (EOp::Cos, a, None),
            Op::Tanh(a) => (EOp::Tanh, a, None),
            Op::Atan(a) => (EOp::Atan, a, None),
            Op::Abs(a) => (EOp::Abs, a, None),
            Op::LnGamma(a) => (EOp::LnGamma, a, None),
        })
    }
}

struct Node<B: Backend> {
    /// The value; `None` for a fused node not asked for yet.
    val: Option<Val<B>>,
    shape: [usize; 2],
    op: Op,
    /// Whether the node depends on a differentiated input.
    grad: bool,
    /// Whether the node is deferred to a fused pass (see the `fused` module).
    fused: bool,
    /// ψ(x) for `LnGamma` nodes.
    aux: Option<Tensor<B, 2>>,
    /// The value on the host, for nodes that fused passes read (column by column where the
    /// node is `[rows, cols]`).
    host: Option<Vec<f32>>,
    /// For the sum of a differentiated fused region: the adjoints of the region's operands
    /// for a unit adjoint of each row's sum, computed with the sum (see
    /// `Region::sums_and_unit_gradients`).
    unit_gradients: Option<Vec<(u32, Vec<f64>)>>,
}

/// The tensors of one batched run.
pub(crate) struct Tape<B: Backend> {
    nodes: Vec<Node<B>>,
    pub(crate) device: B::Device,
    /// Whether `[rows, cols]` element-wise results are deferred and fused.
    fuse: bool,
}

thread_local! {
    // One tape per thread, type-erased because a thread-local cannot be generic over the
    // backend. Chunks of a batch run on rayon threads, each with its own tape.
    static TAPE: RefCell<Option<Box<dyn Any>>> = const { RefCell::new(None) };
}

/// Runs `f` with a fresh tape for backend `B` on this thread, then drops the tape. With
/// `fuse`, element-wise results of shape `[rows, cols]` (both above 1) are evaluated in fused
/// host passes instead of one backend operation each.
pub(crate) fn with_new_tape<B: Backend, T>(device: &B::Device, fuse: bool, f: impl FnOnce() -> T) -> T {
    struct Reset;
    impl Drop for Reset {
        fn drop(&mut self) {
            TAPE.with(|t| t.borrow_mut().take());
        }
    }
    let previous = TAPE.with(|t| t.borrow_mut().replace(Box::new(Tape::<B> { nodes: Vec::new(), device: device.clone(), fuse })));
    assert!(previous.is_none(), "batched runs do not nest on one thread");
    let _reset = Reset;
    f()
}

fn with_tape<B: Backend, T>(f: impl FnOnce(&mut Tape<B>) -> T) -> T {
    TAPE.with(|t| {
        let mut t = t.borrow_mut();
        let tape =
            t.as_mut().and_then(|b| b.downcast_mut::<Tape<B>>()).expect("a Batched value was used outside the batched run that made it");
        f(tape)
    })
}

/// The shape two operands broadcast to.
fn broadcast(a: [usize; 2], b: [usize; 2]) -> [usize; 2] {
    [a[0].max(b[0]), a[1].max(b[1])]
}

impl<B: Backend> Tape<B> {
    fn push_node(&mut self, val: Option<Val<B>>, shape: [usize; 2], op: Op, grad: bool) -> Batched<B> {
        let id = u32::try_from(self.nodes.len()).expect("more than 2^32 values in one batched run");
        self.nodes.push(Node { val, shape, op, grad, fused: false, aux: None, host: None, unit_gradients: None });
        Batched { id, _backend: PhantomData }
    }

    fn push(&mut self, val: Val<B>, op: Op, grad: bool) -> Batched<B> {
        let shape = match &val {
            Val::Const(_) => [1, 1],
            Val::T(x) => x.dims(),
        };
        self.push_node(Some(val), shape, op, grad)
    }

    /// Whether a result of `shape` is deferred to a fused pass.
    fn defers(&self, shape: [usize; 2]) -> bool {
        // Every result with a batch axis: `[rows, 1]` chains (a prior's log density, the sum
        // of the log weight) fuse as well as `[rows, data]` ones, so that a batched run makes
        // Burn tensors only for its leaves and its results. Data-only `[1, data]` values are
        // computed once per chunk by the backend.
        self.fuse && shape[0] > 1
    }

    /// A deferred node of `shape` made by `op`.
    fn push_fused(&mut self, shape: [usize; 2], op: Op, grad: bool) -> Batched<B> {
        let out = self.push_node(None, shape, op, grad);
        self.nodes[out.id as usize].fused = true;
        out
    }

    /// A node's shape (`[1, 1]` for a constant).
    fn shape(&self, id: u32) -> [usize; 2] {
        self.nodes[id as usize].shape
    }

    /// A node's value, evaluating a fused node first if it has not been.
    fn val(&mut self, id: u32) -> Val<B> {
        if self.nodes[id as usize].val.is_none() {
            self.ensure_host(id);
            let t = self.tensor_from_host(id);
            self.nodes[id as usize].val = Some(Val::T(t));
        }
        self.nodes[id as usize].val.clone().expect("made above")
    }

    /// A tensor of a node's host values (which a full `[rows, cols]` node keeps by columns).
    fn tensor_from_host(&self, id: u32) -> Tensor<B, 2> {
        let node = &self.nodes[id as usize];
        let host = node.host.as_ref().expect("a node without a tensor has its values on the host");
        let [rows, cols] = node.shape;
        let values = if rows > 1 && cols > 1 { transpose(host, cols, rows) } else { host.clone() };
        self.tensor_f32(rows, cols, values)
    }

    /// A leaf holding `xs` (row-major). Fused runs keep narrow values on the host, where their
    /// passes read them (a full matrix they read by columns, so it goes through
    /// `ensure_host`); otherwise it is a tensor.
    fn leaf(&mut self, xs: &[f64], [rows, cols]: [usize; 2], grad: bool) -> Batched<B> {
        let host: Vec<f32> = xs.iter().map(|&x| x as f32).collect();
        if self.fuse && (rows == 1 || cols == 1) {
            return self.push_host(host, [rows, cols], Op::Leaf, grad);
        }
        let v = self.tensor_f32(rows, cols, host);
        self.push(Val::T(v), Op::Leaf, grad)
    }

    /// Pushes a node whose value is only on the host (the tensor is made if a Burn operation
    /// asks for it): what fused runs make for their inputs and results.
    fn push_host(&mut self, host: Vec<f32>, shape: [usize; 2], op: Op, grad: bool) -> Batched<B> {
        let out = self.push_node(None, shape, op, grad);
        self.nodes[out.id as usize].host = Some(host);
        out
    }

    /// The value of a node that is not fused, as a tensor (a constant as a `[1, 1]` one):
    /// what the reverse sweep reads.
    fn ready_tensor(&self, id: u32) -> Tensor<B, 2> {
        match &self.nodes[id as usize].val {
            Some(Val::Const(c)) => Tensor::full([1, 1], *c, &self.device),
            Some(Val::T(x)) => x.clone(),
            None => self.tensor_from_host(id),
        }
    }

    /// A node's value as a tensor (a constant as a `[1, 1]` one).
    fn value_tensor(&mut self, id: u32) -> Tensor<B, 2> {
        match self.val(id) {
            Val::Const(c) => Tensor::full([1, 1], c, &self.device),
            Val::T(x) => x,
        }
    }

    fn tensor(&self, rows: usize, cols: usize, xs: &[f64]) -> Tensor<B, 2> {
        self.tensor_f32(rows, cols, xs.iter().map(|&x| x as f32).collect())
    }

    fn tensor_f32(&self, rows: usize, cols: usize, xs: Vec<f32>) -> Tensor<B, 2> {
        Tensor::from_data(TensorData::new(xs, [rows, cols]), &self.device)
    }

    /// Puts a node's values on the host once: evaluates a fused node's region, or downloads
    /// a tensor. Full `[rows, cols]` values are kept by columns, as fused passes read them.
    fn ensure_host(&mut self, id: u32) {
        if self.nodes[id as usize].host.is_some() {
            return;
        }
        if self.nodes[id as usize].val.is_none() {
            let (values, [rows, cols]) = self.with_region(id, |r| (r.values(), [r.rows, r.cols]));
            let host = if rows > 1 && cols > 1 { transpose(&values, rows, cols) } else { values };
            self.nodes[id as usize].host = Some(host);
            return;
        }
        let host = match self.val(id) {
            Val::Const(c) => vec![c as f32],
            Val::T(x) => x.into_data().convert::<f32>().to_vec::<f32>().expect("f32 data after convert"),
        };
        // A full `[rows, cols]` operand is read down its columns.
        let [rows, cols] = self.shape(id);
        let host = if rows > 1 && cols > 1 { transpose(&host, rows, cols) } else { host };
        self.nodes[id as usize].host = Some(host);
    }

    /// The region of `root` (a fused node), in evaluation order: `root` and the fused nodes
    /// of its shape that it is computed from and that have no value yet. Other operands
    /// (leaves, smaller shapes, values already evaluated) are read from their values.
    fn region_ids(&self, root: u32) -> Vec<u32> {
        let shape = self.shape(root);
        let mut ids = vec![root];
        let mut stack = vec![root];
        let mut seen = std::collections::HashSet::from([root]);
        while let Some(id) = stack.pop() {
            let (_, a, b) = self.nodes[id as usize].op.elementwise().expect("a fused node is element-wise");
            for p in [Some(a), b].into_iter().flatten() {
                let node = &self.nodes[p as usize];
                let evaluated = node.val.is_some() || node.host.is_some();
                if node.fused && !evaluated && node.shape == shape && seen.insert(p) {
                    ids.push(p);
                    stack.push(p);
                }
            }
        }
        ids.sort_unstable();
        ids
    }

    /// Runs `f` on the fused region ending at `root`.
    fn with_region<T>(&mut self, root: u32, f: impl FnOnce(&Region<'_>) -> T) -> T {
        self.with_region_grads(root, |r, _| f(r))
    }

    /// Runs `f` on the fused region ending at `root` and the ids of the operands from outside
    /// it that a gradient flows into, in the order of their accumulators (`Src`'s index).
    /// Those operands' values are downloaded (or evaluated) first.
    fn with_region_grads<T>(&mut self, root: u32, f: impl FnOnce(&Region<'_>, &[u32]) -> T) -> T {
        let ids = self.region_ids(root);
        for &id in &ids {
            let (_, a, b) = self.nodes[id as usize].op.elementwise().expect("a fused node is element-wise");
            for p in [Some(a), b].into_iter().flatten() {
                if ids.binary_search(&p).is_err() {
                    self.ensure_host(p);
                }
            }
        }
        let [rows, cols] = self.shape(root);
        let mut external: Vec<u32> = Vec::new();
        let nodes = &self.nodes;
        let mut src = |p: u32| -> Src<'_> {
            let node = &nodes[p as usize];
            if let Ok(k) = ids.binary_search(&p) {
                return Src::Reg(k);
            }
            let acc = node.grad.then(|| {
                external.iter().position(|&e| e == p).unwrap_or_else(|| {
                    external.push(p);
                    external.len() - 1
                })
            });
            let host = node.host.as_deref().expect("downloaded above");
            match node.shape {
                [1, 1] => Src::Scalar(host[0], acc),
                [r, 1] if r == rows => Src::Row(host, acc),
                [1, c] if c == cols => Src::Col(host, acc),
                s => {
                    assert_eq!(s, [rows, cols], "operands of a fused node broadcast to its shape");
                    Src::Full(host, acc)
                }
            }
        };
        let rnodes: Vec<RNode<'_>> = ids
            .iter()
            .map(|&id| {
                let node = &nodes[id as usize];
                let (op, a, b) = node.op.elementwise().expect("a fused node is element-wise");
                RNode { op, a: src(a), b: b.map(&mut src), grad: node.grad }
            })
            .collect();
        let region = Region { rows, cols, nodes: rnodes };
        f(&region, &external)
    }
}

impl<B: Backend> Batched<B> {
    /// A tensor of `rows × cols` values (row-major) that no gradient flows into.
    pub(crate) fn data(xs: &[f64], rows: usize, cols: usize) -> Self {
        with_tape(|t: &mut Tape<B>| t.leaf(xs, [rows, cols], false))
    }

    /// A differentiated input with values `xs` (one per particle).
    pub(crate) fn input(xs: &[f64]) -> Self {
        with_tape(|t: &mut Tape<B>| t.leaf(xs, [xs.len(), 1], true))
    }

    /// A node holding `x`; `grad` says whether the tape differentiates through it.
    pub(crate) fn from_tensor(x: Tensor<B, 2>, grad: bool) -> Self {
        with_tape(|t: &mut Tape<B>| t.push(Val::T(x), Op::Leaf, grad))
    }

    /// A `rows × cols` tensor of `xs` on the running tape's device.
    pub(crate) fn host_tensor(xs: &[f64], rows: usize, cols: usize) -> Tensor<B, 2> {
        with_tape(|t: &mut Tape<B>| t.tensor(rows, cols, xs))
    }

    /// The value: a constant or a tensor.
    pub(crate) fn val(self) -> Val<B> {
        with_tape(|t: &mut Tape<B>| t.val(self.id))
    }

    /// The shape `[rows, cols]` (`[1, 1]` for a constant).
    pub(crate) fn shape(self) -> [usize; 2] {
        with_tape(|t: &mut Tape<B>| t.shape(self.id))
    }

    /// The values as `f64`, row-major, with the shape.
    pub(crate) fn to_host(self) -> (Vec<f64>, [usize; 2]) {
        with_tape(|t: &mut Tape<B>| {
            if let Some(Val::Const(c)) = t.nodes[self.id as usize].val {
                return (vec![c], [1, 1]);
            }
            t.ensure_host(self.id);
            let node = &t.nodes[self.id as usize];
            let host = node.host.as_ref().expect("made above");
            let [rows, cols] = node.shape;
            // A full value is kept by columns.
            let values = if rows > 1 && cols > 1 { transpose(host, cols, rows) } else { host.clone() };
            (values.into_iter().map(f64::from).collect(), node.shape)
        })
    }

    /// The sum over the data axis: `[p, n]` to `[p, 1]`.
    pub(crate) fn sum_data(self) -> Self {
        let fused = with_tape(|t: &mut Tape<B>| {
            let node = &t.nodes[self.id as usize];
            if !node.fused {
                return None;
            }
            let grad = node.grad;
            let (sums, unit_gradients) =
                t.with_region_grads(self.id, |r, external| match grad.then(|| r.sums_and_unit_gradients()).flatten() {
                    Some((sums, accs)) => (sums, Some(external.iter().copied().zip(accs).collect())),
                    None => (r.row_sums(), None),
                });
            let rows = sums.len();
            let out = t.push_host(sums, [rows, 1], Op::SumData(self.id), grad);
            t.nodes[out.id as usize].unit_gradients = unit_gradients;
            Some(out)
        });
        fused.unwrap_or_else(|| unary(self, Op::SumData, |x| x, |x| x.sum_dim(1)))
    }

    fn cst_val(c: f64) -> Self {
        with_tape(|t: &mut Tape<B>| t.push(Val::Const(c), Op::Leaf, false))
    }
}

/// A tensor's values as `f64`, row-major, with its shape.
pub(crate) fn host_of<B: Backend>(x: Tensor<B, 2>) -> (Vec<f64>, [usize; 2]) {
    let dims = x.dims();
    let data = x.into_data().convert::<f32>();
    let v = data.to_vec::<f32>().expect("f32 data after convert");
    (v.into_iter().map(f64::from).collect(), dims)
}

/// A unary operation: `fc` on a constant, `ft` on a tensor; deferred where the tape fuses.
fn unary<B: Backend>(
    x: Batched<B>,
    op: impl Fn(u32) -> Op,
    fc: impl Fn(f64) -> f64,
    ft: impl Fn(Tensor<B, 2>) -> Tensor<B, 2>,
) -> Batched<B> {
    with_tape(|t: &mut Tape<B>| {
        let op = op(x.id);
        let n = &t.nodes[x.id as usize];
        let grad = n.grad;
        if op.elementwise().is_some() && t.defers(n.shape) {
            return t.push_fused(n.shape, op, grad);
        }
        let val = match t.val(x.id) {
            Val::Const(c) => Val::Const(fc(c)),
            Val::T(v) => Val::T(ft(v)),
        };
        t.push(val, op, grad)
    })
}

#[derive(Clone, Copy)]
enum Bin {
    Add,
    Sub,
    Mul,
    Div,
}

fn binary<B: Backend>(a: Batched<B>, b: Batched<B>, kind: Bin) -> Batched<B> {
    with_tape(|t: &mut Tape<B>| {
        let (na, nb) = (&t.nodes[a.id as usize], &t.nodes[b.id as usize]);
        let grad = na.grad || nb.grad;
        let shape = broadcast(na.shape, nb.shape);
        let op = match kind {
            Bin::Add => Op::Add(a.id, b.id),
            Bin::Sub => Op::Sub(a.id, b.id),
            Bin::Mul => Op::Mul(a.id, b.id),
            Bin::Div => Op::Div(a.id, b.id),
        };
        if t.defers(shape) {
            return t.push_fused(shape, op, grad);
        }
        let val = match (t.val(a.id), t.val(b.id), kind) {
            (Val::Const(x), Val::Const(y), _) => Val::Const(match kind {
                Bin::Add => x + y,
                Bin::Sub => x - y,
                Bin::Mul => x * y,
                Bin::Div => x / y,
            }),
            (Val::T(x), Val::Const(y), Bin::Add) => Val::T(x.add_scalar(y)),
            (Val::T(x), Val::Const(y), Bin::Sub) => Val::T(x.sub_scalar(y)),
            (Val::T(x), Val::Const(y), Bin::Mul) => Val::T(x.mul_scalar(y)),
            (Val::T(x), Val::Const(y), Bin::Div) => Val::T(x.mul_scalar(1.0 / y)),
            (Val::Const(x), Val::T(y), Bin::Add) => Val::T(y.add_scalar(x)),
            (Val::Const(x), Val::T(y), Bin::Sub) => Val::T(y.neg().add_scalar(x)),
            (Val::Const(x), Val::T(y), Bin::Mul) => Val::T(y.mul_scalar(x)),
            (Val::Const(x), Val::T(y), Bin::Div) => Val::T(y.recip().mul_scalar(x)),
            (Val::T(x), Val::T(y), Bin::Add) => Val::T(x + y),
            (Val::T(x), Val::T(y), Bin::Sub) => Val::T(x - y),
            (Val::T(x), Val::T(y), Bin::Mul) => Val::T(x * y),
            (Val::T(x), Val::T(y), Bin::Div) => Val::T(x / y),
        };
        t.push(val, op, grad)
    })
}

/// x * s with a constant s, kept as one node so the backward pass scales once.
fn scale<B: Backend>(x: Batched<B>, s: f64) -> Batched<B> {
    unary(x, |id| Op::Scale(id, s), |c| c * s, |v| v.mul_scalar(s))
}

fn shift<B: Backend>(x: Batched<B>, c: f64) -> Batched<B> {
    unary(x, |id| Op::Shift(id, c), |v| v + c, |v| v.add_scalar(c))
}

macro_rules! bin_ops {
    ($($tr:ident $f:ident $kind:ident;)*) => {$(
        impl<B: Backend> $tr for Batched<B> {
            type Output = Self;
            #[inline]
            fn $f(self, o: Self) -> Self {
                binary(self, o, Bin::$kind)
            }
        }
        impl<B: Backend> $tr<Batched<B>> for f64 {
            type Output = Batched<B>;
            #[inline]
            fn $f(self, o: Batched<B>) -> Batched<B> {
                binary(Batched::cst_val(self), o, Bin::$kind)
            }
        }
    )*};
}
bin_ops! {
    Add add Add;
    Sub sub Sub;
    Mul mul Mul;
    Div div Div;
}

impl<B: Backend> AddAssign for Batched<B> {
    fn add_assign(&mut self, o: Self) {
        *self = *self + o;
    }
}
impl<B: Backend> SubAssign for Batched<B> {
    fn sub_assign(&mut self, o: Self) {
        *self = *self - o;
    }
}
impl<B: Backend> MulAssign for Batched<B> {
    fn mul_assign(&mut self, o: Self) {
        *self = *self * o;
    }
}

impl<B: Backend> Add<f64> for Batched<B> {
    type Output = Self;
    #[inline]
    fn add(self, c: f64) -> Self {
        shift(self, c)
    }
}
impl<B: Backend> Sub<f64> for Batched<B> {
    type Output = Self;
    #[inline]
    fn sub(self, c: f64) -> Self {
        shift(self, -c)
    }
}
impl<B: Backend> Mul<f64> for Batched<B> {
    type Output = Self;
    #[inline]
    fn mul(self, c: f64) -> Self {
        scale(self, c)
    }
}
impl<B: Backend> Div<f64> for Batched<B> {
    type Output = Self;
    #[inline]
    fn div(self, c: f64) -> Self {
        scale(self, 1.0 / c)
    }
}
impl<B: Backend> Neg for Batched<B> {
    type Output = Self;
    #[inline]
    fn neg(self) -> Self {
        scale(self, -1.0)
    }
}

impl<B: Backend> From<f64> for Batched<B> {
    fn from(c: f64) -> Self {
        Batched::cst_val(c)
    }
}

/// ln Γ on the host: Burn has no such tensor op. It only meets parameters of priors (a Beta's
/// or Gamma's shape), which are small tensors or constants.
fn ln_gamma_node<B: Backend>(x: Batched<B>) -> Batched<B> {
    let deferred = with_tape(|t: &mut Tape<B>| {
        let n = &t.nodes[x.id as usize];
        n.fused.then_some((n.shape, n.grad)).map(|(shape, grad)| t.push_fused(shape, Op::LnGamma(x.id), grad))
    });
    if let Some(out) = deferred {
        return out;
    }
    let (xs, [r, c]) = x.to_host();
    let lg: Vec<f64> = xs.iter().map(|&v| statrs::function::gamma::ln_gamma(v)).collect();
    if r * c == 1 && matches!(x.val(), Val::Const(_)) {
        return Batched::cst_val(lg[0]);
    }
    let psi: Vec<f64> = xs.iter().map(|&v| crate::real::digamma(v)).collect();
    with_tape(|t: &mut Tape<B>| {
        let grad = t.nodes[x.id as usize].grad;
        let val = Val::T(t.tensor(r, c, &lg));
        let aux = grad.then(|| t.tensor(r, c, &psi));
        let out = t.push(val, Op::LnGamma(x.id), grad);
        t.nodes[out.id as usize].aux = aux;
        out
    })
}

impl<B: Backend> Real for Batched<B> {
    fn exp(self) -> Self {
        unary(self, Op::Exp, f64::exp, Tensor::exp)
    }
    fn ln(self) -> Self {
        unary(self, Op::Ln, f64::ln, Tensor::log)
    }
    fn ln_1p(self) -> Self {
        unary(self, Op::Ln1p, f64::ln_1p, Tensor::log1p)
    }
    fn exp_m1(self) -> Self {
        // Burn has no expm1; e^x - 1 loses relative precision only for |x| < 1e-4 or so.
        self.exp() - 1.0
    }
    fn sqrt(self) -> Self {
        unary(self, Op::Sqrt, f64::sqrt, Tensor::sqrt)
    }
    fn powi(self, n: i32) -> Self {
        self.powf(f64::from(n))
    }
    fn powf(self, p: f64) -> Self {
        unary(self, |id| Op::Powf(id, p), |c| c.powf(p), |v| v.powf_scalar(p))
    }
    fn sin(self) -> Self {
        unary(self, Op::Sin, f64::sin, Tensor::sin)
    }
    fn cos(self) -> Self {
        unary(self, Op::Cos, f64::cos, Tensor::cos)
    }
    fn tanh(self) -> Self {
        unary(self, Op::Tanh, f64::tanh, Tensor::tanh)
    }
    fn atan(self) -> Self {
        unary(self, Op::Atan, f64::atan, Tensor::atan)
    }
    fn abs(self) -> Self {
        unary(self, Op::Abs, f64::abs, Tensor::abs)
    }
    // `max`, `min` and `clamp` are `Real`'s defaults, written with `abs`: fused passes and
    // the reverse sweep take them as they are, with no comparison operation on the tape, and
    // the derivative of `abs` at 0 (0) gives the tie convention that `Dual` follows.
    fn ln_gamma(self) -> Self {
        ln_gamma_node(self)
    }
    fn recip(self) -> Self {
        self.powf(-1.0)
    }
    fn square(self) -> Self {
        self * self
    }
    fn from_batch(xs: &[f64], rows: usize, cols: usize) -> Self {
        Batched::data(xs, rows, cols)
    }
}

/// The `[cols, rows]` transpose of a row-major `[rows, cols]` matrix.
fn transpose<T: Copy>(xs: &[T], rows: usize, cols: usize) -> Vec<T> {
    (0..cols).flat_map(|j| (0..rows).map(move |i| xs[i * cols + j])).collect()
}

/// Sums `g` down to `shape` over the axes along which it was broadcast.
fn unbroadcast<B: Backend>(mut g: Tensor<B, 2>, shape: [usize; 2]) -> Tensor<B, 2> {
    let dims = g.dims();
    for axis in 0..2 {
        if shape[axis] == 1 && dims[axis] != 1 {
            g = g.sum_dim(axis);
        }
    }
    g
}

/// The gradients of `sum(output)` with respect to `inputs` (each `[particles, 1]`), by one
/// reverse sweep over the tape. Where the output is `[particles, 1]` and particles are
/// independent, that is each particle's own gradient.
pub(crate) fn backward<B: Backend>(output: Batched<B>, inputs: &[Batched<B>]) -> Vec<Vec<f64>> {
    with_tape(|t: &mut Tape<B>| {
        let on_host = (0..=output.id as usize).all(|id| {
            let node = &t.nodes[id];
            !node.grad || node.fused || matches!(node.op, Op::Leaf) || matches!(node.op, Op::SumData(a) if t.nodes[a as usize].fused)
        });
        if t.fuse && on_host {
            host_backward(t, output.id, inputs)
        } else {
            tensor_backward(t, output, inputs).into_iter().map(|g| host_of(g).0).collect()
        }
    })
}

/// The reverse sweep with adjoints as tensors, one backend operation per step.
// Long on purpose: one match arm per taped operation's adjoint.
fn tensor_backward<B: Backend>(t: &mut Tape<B>, output: Batched<B>, inputs: &[Batched<B>]) -> Vec<Tensor<B, 2>> {
    let n = output.id as usize + 1;
    let mut adj: Vec<Option<Tensor<B, 2>>> = vec![None; n];
    adj[output.id as usize] = Some(t.value_tensor(output.id).ones_like());
    for id in (0..n).rev() {
        let Some(g) = adj[id].take() else { continue };
        if !t.nodes[id].grad {
            continue;
        }
        if t.nodes[id].fused {
            // An evaluated fused node that a gradient reached: the sweep through its
            // region, in one pass.
            for (to, d) in fused_backward_tensors(t, id as u32, g) {
                accumulate(t, &mut adj, to, d);
            }
            continue;
        }
        if let Op::SumData(a) = t.nodes[id].op {
            if t.nodes[a as usize].fused {
                // The fused region's own sweep, in one pass; it hands back the adjoints
                // of the values it read from outside.
                for (to, d) in fused_backward_tensors(t, a, g) {
                    accumulate(t, &mut adj, to, d);
                }
                continue;
            }
        }
        let t: &Tape<B> = t;
        let send = |to: u32, d: Tensor<B, 2>, adj: &mut Vec<Option<Tensor<B, 2>>>| accumulate(t, adj, to, d);
        let out = || t.ready_tensor(id as u32);
        let node = &t.nodes[id];
        match node.op {
            Op::Leaf => {
                // An input: keep its adjoint for the caller.
                adj[id] = Some(g);
            }
            Op::Add(a, b) => {
                send(a, g.clone(), &mut adj);
                send(b, g, &mut adj);
            }
            Op::Sub(a, b) => {
                send(a, g.clone(), &mut adj);
                send(b, g.neg(), &mut adj);
            }
            Op::Mul(a, b) => {
                let (va, vb) = (t.ready_tensor(a), t.ready_tensor(b));
                send(a, g.clone() * vb, &mut adj);
                send(b, g * va, &mut adj);
            }
            Op::Div(a, b) => {
                let vb = t.ready_tensor(b);
                let ga = g / vb;
                // d(a/b)/db = -(a/b)/b
                send(b, ga.clone().neg() * out(), &mut adj);
                send(a, ga, &mut adj);
            }
            Op::Scale(a, s) => send(a, g.mul_scalar(s), &mut adj),
            Op::Shift(a, _) => send(a, g, &mut adj),
            Op::Exp(a) => send(a, g * out(), &mut adj),
            Op::Ln(a) => send(a, g / t.ready_tensor(a), &mut adj),
            Op::Ln1p(a) => send(a, g / t.ready_tensor(a).add_scalar(1.0), &mut adj),
            Op::Sqrt(a) => send(a, g / out().mul_scalar(2.0), &mut adj),
            Op::Powf(a, p) => send(a, g * t.ready_tensor(a).powf_scalar(p - 1.0).mul_scalar(p), &mut adj),
            Op::Sin(a) => send(a, g * t.ready_tensor(a).cos(), &mut adj),
            Op::Cos(a) => send(a, g * t.ready_tensor(a).sin().neg(), &mut adj),
            Op::Tanh(a) => {
                let y = out();
                send(a, g * (y.clone() * y).neg().add_scalar(1.0), &mut adj);
            }
            Op::Atan(a) => {
                let x = t.ready_tensor(a);
                send(a, g / (x.clone() * x).add_scalar(1.0), &mut adj);
            }
            Op::Abs(a) => send(a, g * t.ready_tensor(a).sign(), &mut adj),
            Op::LnGamma(a) => {
                let psi = node.aux.clone().expect("ψ stored with a differentiated ln Γ");
                send(a, g * psi, &mut adj);
            }
            Op::SumData(a) => {
                let cols = t.shape(a)[1];
                send(a, g.repeat_dim(1, cols), &mut adj);
            }
        }
    }
    inputs
        .iter()
        .map(|x| {
            let rows = t.shape(x.id)[0];
            adj.get_mut(x.id as usize).and_then(Option::take).unwrap_or_else(|| Tensor::zeros([rows, 1], &t.device))
        })
        .collect()
}

/// Adds the adjoint `d` into node `to`'s, summed down to its shape, if a gradient flows there.
fn accumulate<B: Backend>(t: &Tape<B>, adj: &mut [Option<Tensor<B, 2>>], to: u32, d: Tensor<B, 2>) {
    if !t.nodes[to as usize].grad {
        return;
    }
    let d = unbroadcast(d, t.shape(to));
    let slot = &mut adj[to as usize];
    *slot = Some(match slot.take() {
        Some(s) => s + d,
        None => d,
    });
}

/// The reverse sweep through the fused region ending at `root` from the adjoint `g` of its
/// sum over the data (one value per row, or one) or of each of its values (column by
/// column): the adjoints of the region's operands from outside it, shaped like them (full
/// ones column by column).
fn fused_backward<B: Backend>(t: &mut Tape<B>, root: u32, g: &[f32]) -> Vec<(u32, Vec<f32>)> {
    let [rows, cols] = t.shape(root);
    let g = if cols > 1 && g.len() == rows * cols { Adjoint::PerElement(g) } else { Adjoint::PerRow(g) };
    let (external, accs) = t.with_region_grads(root, |region, external| (external.to_vec(), region.backward(g)));
    external.into_iter().zip(accs).map(|(id, acc)| (id, acc.into_iter().map(|x| x as f32).collect())).collect()
}

/// [`fused_backward`] from and to tensors (row-major).
fn fused_backward_tensors<B: Backend>(t: &mut Tape<B>, root: u32, g: Tensor<B, 2>) -> Vec<(u32, Tensor<B, 2>)> {
    let (g, [r, c]) = host_of(g);
    let g: Vec<f32> = g.into_iter().map(|x| x as f32).collect();
    let g = if r > 1 && c > 1 { transpose(&g, r, c) } else { g };
    fused_backward(t, root, &g)
        .into_iter()
        .map(|(id, acc)| {
            let [r, c] = t.shape(id);
            let acc = if r > 1 && c > 1 { transpose(&acc, c, r) } else { acc };
            (id, t.tensor_f32(r, c, acc))
        })
        .collect()
}

/// `unit` (per row, or per element column by column, over `rows` rows) times the per-row
/// adjoint `g` (one value per row, or one).
fn scale_rows(unit: &[f64], g: &[f32], rows: usize) -> Vec<f32> {
    if g.len() == 1 {
        let g = f64::from(g[0]);
        return unit.iter().map(|&u| (u * g) as f32).collect();
    }
    unit.chunks(rows).flat_map(|column| column.iter().zip(g).map(|(&u, &g)| (u * f64::from(g)) as f32)).collect()
}

/// The gradients by a sweep that keeps every adjoint on the host, where the tape fuses and
/// every node a gradient flows through is an input, a fused node or the sum of one: the
/// fused passes compute all of it, and no Burn operation runs.
fn host_backward<B: Backend>(t: &mut Tape<B>, output: u32, inputs: &[Batched<B>]) -> Vec<Vec<f64>> {
    let n = output as usize + 1;
    let mut adj: Vec<Option<Vec<f32>>> = vec![None; n];
    let [r, c] = t.shape(output);
    adj[output as usize] = Some(vec![1.0; r * c]);
    for id in (0..n).rev() {
        let Some(g) = adj[id].take() else { continue };
        let node = &t.nodes[id];
        if !node.grad {
            continue;
        }
        let root = match node.op {
            _ if node.fused => id as u32,
            Op::SumData(a) => a,
            _ => {
                adj[id] = Some(g);
                continue;
            }
        };
        let contributions = match &node.unit_gradients {
            Some(units) => units.iter().map(|(to, unit)| (*to, scale_rows(unit, &g, t.shape(*to)[0]))).collect(),
            None => fused_backward(t, root, &g),
        };
        for (to, d) in contributions {
            match &mut adj[to as usize] {
                Some(s) => s.iter_mut().zip(&d).for_each(|(s, d)| *s += d),
                slot @ None => *slot = Some(d),
            }
        }
    }
    inputs
        .iter()
        .map(|x| match adj[x.id as usize].take() {
            Some(g) => g.into_iter().map(f64::from).collect(),
            None => vec![0.0; t.shape(x.id)[0]],
        })
        .collect()
}
