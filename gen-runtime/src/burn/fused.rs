//! Fused evaluation of the element-wise part of a batched run, on the host.
//!
//! A plate's log density makes every intermediate a `[particles, data]` tensor: eight or so
//! element-wise operations between a `[particles, 1]` latent and a `[1, data]` vector, summed
//! over the data axis. Burn's CPU backends run each as its own pass over memory, and
//! broadcasting a column against a row costs them 10-30x a same-shape operation (measured
//! with burn-flex 0.21). No CPU backend of Burn 0.21 fuses (its fusion is for the GPU
//! runtimes), so the tape defers these operations and this module runs each region (a chain
//! of them that ends in a sum over the data, or whose value is read) as one pass: down the
//! columns, a block of rows at a time, one tight loop per operation over the block, in
//! buffers that stay in L1. The reverse sweep of the same region runs in the same pass, so
//! no `[particles, data]` adjoint exists either. Values are `f32`, the backend's float type,
//! so fused and unfused runs agree to rounding.
//!
//! Measured with `cargo bench -p gen-runtime --bench burn` (2-core AMD EPYC, see the closing
//! note of the Burn-engine issue for the table): IS at N=10000, n=1000 went from 31 ms
//! (one burn-flex operation per step) to about 4 ms.

/// Rows per block: the block's buffers (a value and an adjoint per node) stay in L1, and the
/// dispatch per operation is spread over many elements (256 measured slower for gradients of
/// 500-row chunks, 1024 slower for IS).
const BLOCK: usize = 512;

/// An element-wise operation of the fused region.
#[derive(Clone, Copy, Debug)]
pub(crate) enum EOp {
    Add,
    Sub,
    Mul,
    Div,
    /// x * s.
    Scale(f32),
    /// x + c.
    Shift(f32),
    Exp,
    Ln,
    Ln1p,
    Sqrt,
    Powf(f32),
    Sin,
    Cos,
    Tanh,
    Atan,
    Abs,
    LnGamma,
}

/// Where an operand's values come from, and (for a value outside the region that a gradient
/// flows into) the accumulator its adjoint goes to.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Src<'a> {
    /// An earlier node of the region (its index).
    Reg(usize),
    /// One value for the whole batch.
    Scalar(f32, Option<usize>),
    /// One value per row (`[rows, 1]`).
    Row(&'a [f32], Option<usize>),
    /// One value per column (`[1, cols]`).
    Col(&'a [f32], Option<usize>),
    /// A full `[rows, cols]` value, stored column by column (the pass runs down columns).
    Full(&'a [f32], Option<usize>),
}

/// The adjoint a reverse sweep through a region starts from.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Adjoint<'a> {
    /// Of the root's sum over the columns: one value per row, or one for all.
    PerRow(&'a [f32]),
    /// Of each of the root's values, column by column.
    PerElement(&'a [f32]),
}

/// A node of the region: `op` applied to `a` (and `b` for binary operations).
#[derive(Clone, Copy, Debug)]
pub(crate) struct RNode<'a> {
    pub op: EOp,
    pub a: Src<'a>,
    pub b: Option<Src<'a>>,
    /// Whether a gradient flows through the node.
    pub grad: bool,
}

/// A subgraph of `[rows, cols]` element-wise nodes in evaluation order; the last is the root.
pub(crate) struct Region<'a> {
    pub rows: usize,
    pub cols: usize,
    pub nodes: Vec<RNode<'a>>,
}

/// A block buffer from a per-thread pool, handed back on drop. Its contents are stale: every
/// pass writes a value before it reads it (the reverse sweep tracks which adjoints it has
/// written). Measured: allocating and zeroing these per region was a third of a batched
/// gradient's fixed cost (page faults, memset, heap trimming).
struct Scratch(Vec<f32>);

thread_local! {
    static POOL: std::cell::RefCell<Vec<Vec<f32>>> = const { std::cell::RefCell::new(Vec::new()) };
}

impl Scratch {
    fn take(len: usize) -> Self {
        let mut v = POOL.with(|p| p.borrow_mut().pop()).unwrap_or_default();
        if v.len() < len {
            v.resize(len, 0.0);
        }
        Scratch(v)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let v = std::mem::take(&mut self.0);
        POOL.with(|p| p.borrow_mut().push(v));
    }
}

impl std::ops::Deref for Scratch {
    type Target = [f32];
    fn deref(&self) -> &[f32] {
        &self.0
    }
}

impl std::ops::DerefMut for Scratch {
    fn deref_mut(&mut self) -> &mut [f32] {
        &mut self.0
    }
}

/// An operand over one block: a broadcast scalar or a slice.
#[derive(Clone, Copy)]
enum Arg<'b> {
    S(f32),
    V(&'b [f32]),
}

/// out[j] = f(x[j], y[j]), or out[j] += f(x[j], y[j]) with `ADD`; the slice-slice case is
/// the hot one and vectorizes.
#[inline(always)]
fn map2<const ADD: bool>(out: &mut [f32], x: Arg<'_>, y: Arg<'_>, f: impl Fn(f32, f32) -> f32) {
    let put = |o: &mut f32, v: f32| *o = if ADD { *o + v } else { v };
    match (x, y) {
        (Arg::V(x), Arg::V(y)) => {
            for ((o, &x), &y) in out.iter_mut().zip(x).zip(y) {
                put(o, f(x, y));
            }
        }
        (Arg::V(x), Arg::S(y)) => {
            for (o, &x) in out.iter_mut().zip(x) {
                put(o, f(x, y));
            }
        }
        (Arg::S(x), Arg::V(y)) => {
            for (o, &y) in out.iter_mut().zip(y) {
                put(o, f(x, y));
            }
        }
        (Arg::S(x), Arg::S(y)) => {
            let v = f(x, y);
            out.iter_mut().for_each(|o| put(o, v));
        }
    }
}

/// out[j] = f(x[j]).
#[inline(always)]
fn map1(out: &mut [f32], x: Arg<'_>, f: impl Fn(f32) -> f32) {
    map2::<false>(out, x, Arg::S(0.0), |x, _| f(x));
}

/// The sum of `xs`, in eight lanes so that it vectorizes (a single running sum is a chain
/// of dependent additions that the compiler may not reorder).
#[inline(always)]
fn sum(xs: &[f32]) -> f32 {
    let mut lanes = [0.0f32; 8];
    let chunks = xs.chunks_exact(8);
    let tail: f32 = chunks.remainder().iter().sum();
    for c in chunks {
        for (l, &x) in lanes.iter_mut().zip(c) {
            *l += x;
        }
    }
    lanes.iter().sum::<f32>() + tail
}

/// acc[i] += xs[i], widening to f64.
#[inline(always)]
fn add_into(acc: &mut [f64], xs: &[f32]) {
    for (a, &x) in acc.iter_mut().zip(xs) {
        *a += f64::from(x);
    }
}

fn ln_gamma(x: f32) -> f32 {
    statrs::function::gamma::ln_gamma(f64::from(x)) as f32
}

fn digamma(x: f32) -> f32 {
    crate::real::digamma(f64::from(x)) as f32
}

/// The forward value of one node over a block.
#[inline(always)]
fn forward_op(out: &mut [f32], op: EOp, a: Arg<'_>, b: Arg<'_>) {
    match op {
        EOp::Add => map2::<false>(out, a, b, |x, y| x + y),
        EOp::Sub => map2::<false>(out, a, b, |x, y| x - y),
        EOp::Mul => map2::<false>(out, a, b, |x, y| x * y),
        EOp::Div => map2::<false>(out, a, b, |x, y| x / y),
        EOp::Scale(s) => map1(out, a, |x| x * s),
        EOp::Shift(c) => map1(out, a, |x| x + c),
        EOp::Abs => map1(out, a, f32::abs),
        EOp::Sqrt => map1(out, a, f32::sqrt),
        _ => forward_libm(out, op, a),
    }
}

/// The operations that call libm, kept out of line: inlined beside the arithmetic ones, LLVM
/// hoisted their calls on a scalar operand above the dispatch, and so called powf, sincosf and
/// the rest for every node and block whatever its operation (measured: 15% of a gradient).
#[inline(never)]
fn forward_libm(out: &mut [f32], op: EOp, a: Arg<'_>) {
    match op {
        EOp::Exp => map1(out, a, f32::exp),
        EOp::Ln => map1(out, a, f32::ln),
        EOp::Ln1p => map1(out, a, f32::ln_1p),
        EOp::Powf(p) => map1(out, a, |x| x.powf(p)),
        EOp::Sin => map1(out, a, f32::sin),
        EOp::Cos => map1(out, a, f32::cos),
        EOp::Tanh => map1(out, a, f32::tanh),
        EOp::Atan => map1(out, a, f32::atan),
        EOp::LnGamma => map1(out, a, ln_gamma),
        _ => unreachable!("forward_op covers the arithmetic"),
    }
}

/// The adjoint `g` of a node sent to its operand `to` (0 for `a`, 1 for `b`), over a block,
/// given the operands' values and the node's own value `out`: written to `dest`, or added
/// to it with `ADD`.
#[inline(always)]
fn backward_op<const ADD: bool>(dest: &mut [f32], op: EOp, to: usize, g: &[f32], a: Arg<'_>, b: Arg<'_>, out: &[f32]) {
    let gv = Arg::V(g);
    let one = Arg::S(0.0);
    match (op, to) {
        (EOp::Add | EOp::Shift(_), _) | (EOp::Sub, 0) => map2::<ADD>(dest, gv, one, |g, _| g),
        (EOp::Sub, _) => map2::<ADD>(dest, gv, one, |g, _| -g),
        (EOp::Mul, 0) => map2::<ADD>(dest, gv, b, |g, y| g * y),
        (EOp::Mul, _) => map2::<ADD>(dest, gv, a, |g, x| g * x),
        (EOp::Div, 0) => map2::<ADD>(dest, gv, b, |g, y| g / y),
        (EOp::Div, _) => match b {
            // d(a/b)/db = -(a/b)/b
            Arg::V(y) => {
                for (((d, &g), &o), &y) in dest.iter_mut().zip(g).zip(out).zip(y) {
                    *d = if ADD { *d - g * o / y } else { -g * o / y };
                }
            }
            Arg::S(y) => map2::<ADD>(dest, gv, Arg::V(out), |g, o| -g * o / y),
        },
        (EOp::Scale(s), _) => map2::<ADD>(dest, gv, one, |g, _| g * s),
        (EOp::Exp, _) => map2::<ADD>(dest, gv, Arg::V(out), |g, o| g * o),
        (EOp::Ln, _) => map2::<ADD>(dest, gv, a, |g, x| g / x),
        (EOp::Ln1p, _) => map2::<ADD>(dest, gv, a, |g, x| g / (1.0 + x)),
        (EOp::Sqrt, _) => map2::<ADD>(dest, gv, Arg::V(out), |g, o| g / (2.0 * o)),
        (EOp::Tanh, _) => map2::<ADD>(dest, gv, Arg::V(out), |g, o| g * (1.0 - o * o)),
        (EOp::Atan, _) => map2::<ADD>(dest, gv, a, |g, x| g / (1.0 + x * x)),
        (EOp::Abs, _) => map2::<ADD>(dest, gv, a, |g, x| {
            if x > 0.0 {
                g
            } else if x < 0.0 {
                -g
            } else {
                0.0
            }
        }),
        _ => backward_libm::<ADD>(dest, op, g, a),
    }
}

/// [`backward_op`]'s operations that call libm, out of line for the reason given at
/// [`forward_libm`].
#[inline(never)]
fn backward_libm<const ADD: bool>(dest: &mut [f32], op: EOp, g: &[f32], a: Arg<'_>) {
    let g = Arg::V(g);
    match op {
        EOp::Powf(p) => map2::<ADD>(dest, g, a, |g, x| g * p * x.powf(p - 1.0)),
        EOp::Sin => map2::<ADD>(dest, g, a, |g, x| g * x.cos()),
        EOp::Cos => map2::<ADD>(dest, g, a, |g, x| -g * x.sin()),
        EOp::LnGamma => map2::<ADD>(dest, g, a, |g, x| g * digamma(x)),
        _ => unreachable!("backward_op covers the others"),
    }
}

impl Region<'_> {
    /// The operand `src` over rows `i0..i0 + len` of column `j`; `vals` holds the region's
    /// values for the block, [`BLOCK`] apart.
    #[inline(always)]
    fn arg<'b>(&'b self, src: Src<'b>, vals: &'b [f32], i0: usize, j: usize, len: usize) -> Arg<'b> {
        match src {
            Src::Reg(k) => Arg::V(&vals[k * BLOCK..k * BLOCK + len]),
            Src::Scalar(c, _) => Arg::S(c),
            Src::Row(r, _) => Arg::V(&r[i0..i0 + len]),
            Src::Col(c, _) => Arg::S(c[j]),
            Src::Full(f, _) => Arg::V(&f[j * self.rows + i0..j * self.rows + i0 + len]),
        }
    }

    /// For each of the first `n` nodes, whose adjoint buffer it uses: its own, or, where its
    /// only adjoint is passed on unchanged by a sum or shift (so it equals that node's), the
    /// buffer of that node. That saves a copy per edge of the sum `a + b * x + c * x * x`.
    fn adjoint_buffers(&self, n: usize) -> Vec<usize> {
        let mut uses = vec![0usize; n];
        for node in self.nodes[..n].iter().filter(|node| node.grad) {
            for src in [Some(node.a), node.b].into_iter().flatten() {
                if let Src::Reg(p) = src {
                    uses[p] += 1;
                }
            }
        }
        let mut buffer: Vec<usize> = (0..n).collect();
        for k in (0..n).rev() {
            let node = self.nodes[k];
            if !node.grad {
                continue;
            }
            let passed_on: &[Src<'_>] = match (node.op, node.b) {
                (EOp::Add, Some(b)) => &[node.a, b],
                (EOp::Shift(_), _) | (EOp::Sub, _) => &[node.a],
                _ => &[],
            };
            for src in passed_on {
                if let Src::Reg(p) = *src {
                    if uses[p] == 1 && self.nodes[p].grad {
                        buffer[p] = buffer[k];
                    }
                }
            }
        }
        buffer
    }

    /// Evaluates the first `count` nodes of the region over one block into `vals`.
    #[inline(always)]
    fn forward_block(&self, vals: &mut [f32], count: usize, i0: usize, j: usize, len: usize) {
        for (k, node) in self.nodes[..count].iter().enumerate() {
            let (done, rest) = vals.split_at_mut(k * BLOCK);
            let a = self.arg(node.a, done, i0, j, len);
            let b = match node.b {
                Some(b) => self.arg(b, done, i0, j, len),
                None => Arg::S(0.0),
            };
            forward_op(&mut rest[..len], node.op, a, b);
        }
    }

    /// The root's values summed over the columns, one sum per row.
    pub(crate) fn row_sums(&self) -> Vec<f32> {
        row_sums(self)
    }

    // The passes run down the columns, a block of rows at a time: the batch axis is the
    // long one (particles, chains), a `[rows, 1]` latent is then a contiguous slice, a data
    // value one scalar, and the row sums and row adjoints add element-wise, with no
    // horizontal reduction per block. Plain loops throughout: an iterator adapter's `fold`
    // is compiled apart from the multiversioned caller, without its target features.
    #[inline(always)]
    fn row_sums_inline(&self) -> Vec<f32> {
        let (core, tail) = self.peel();
        let mut vals = Scratch::take((core + 1) * BLOCK);
        let mut sums = vec![0.0f64; self.rows];
        let mut i0 = 0;
        while i0 < self.rows {
            let len = BLOCK.min(self.rows - i0);
            for j in 0..self.cols {
                self.forward_block(&mut vals, core + 1, i0, j, len);
                add_into(&mut sums[i0..i0 + len], &vals[core * BLOCK..core * BLOCK + len]);
            }
            i0 += len;
        }
        let levels = self.tail_sums(&tail, sums);
        levels[0].iter().map(|&s| s as f32).collect()
    }

    /// The sums entering each step of `tail`, from the core's: `levels[l]` enters step `l`,
    /// `levels[tail.len()]` is `core`, `levels[0]` the root's sums.
    fn tail_sums(&self, tail: &[Step<'_>], core: Vec<f64>) -> Vec<Vec<f64>> {
        let affine: Vec<(Vec<f64>, Vec<f64>)> = tail.iter().map(|step| step.affine(self.rows)).collect();
        self.tail_sums_with(tail, &affine, core)
    }

    fn tail_sums_with(&self, tail: &[Step<'_>], affine: &[(Vec<f64>, Vec<f64>)], core: Vec<f64>) -> Vec<Vec<f64>> {
        let cols = self.cols as f64;
        let mut levels = vec![Vec::new(); tail.len() + 1];
        levels[tail.len()] = core;
        for l in (0..tail.len()).rev() {
            let (m, c) = &affine[l];
            levels[l] = levels[l + 1].iter().zip(m.iter().zip(c)).map(|(s, (m, c))| m * s + c * cols).collect();
        }
        levels
    }

    /// Splits the root's chain of operations with a per-row constant (a shift or scaling by
    /// a scalar or a `[rows, 1]` value) off the region: the sum over the columns passes
    /// through them in closed form, which saves a pass over the data for each. A normal log
    /// density ends in three. Returns the last node still summed element by element, and the
    /// steps from the root inwards.
    fn peel(&self) -> (usize, Vec<Step<'_>>) {
        let uniform = |src: Src<'_>| matches!(src, Src::Scalar(..) | Src::Row(..));
        let mut k = self.nodes.len() - 1;
        let mut tail = Vec::new();
        loop {
            let node = self.nodes[k];
            let (next, step) = match (node.op, node.a, node.b) {
                (EOp::Scale(_) | EOp::Shift(_), Src::Reg(p), None) => (p, Step { op: node.op, v: None, reg_first: true }),
                (EOp::Add | EOp::Sub | EOp::Mul | EOp::Div, Src::Reg(p), Some(v)) if uniform(v) => {
                    (p, Step { op: node.op, v: Some(v), reg_first: true })
                }
                (EOp::Add | EOp::Sub | EOp::Mul, v, Some(Src::Reg(p))) if uniform(v) => {
                    (p, Step { op: node.op, v: Some(v), reg_first: false })
                }
                _ => break,
            };
            tail.push(step);
            k = next;
        }
        (k, tail)
    }

    /// The root's values, `[rows, cols]` row-major.
    pub(crate) fn values(&self) -> Vec<f32> {
        let n = self.nodes.len();
        let mut vals = Scratch::take(n * BLOCK);
        let mut out = vec![0.0f32; self.rows * self.cols];
        let mut i0 = 0;
        while i0 < self.rows {
            let len = BLOCK.min(self.rows - i0);
            for j in 0..self.cols {
                self.forward_block(&mut vals, n, i0, j, len);
                for (d, &v) in vals[(n - 1) * BLOCK..(n - 1) * BLOCK + len].iter().enumerate() {
                    out[(i0 + d) * self.cols + j] = v;
                }
            }
            i0 += len;
        }
        out
    }

    /// The reverse sweep from the root's adjoint `g`: the adjoint of each operand from outside
    /// the region that has an accumulator, by accumulator index, shaped like the operand (1,
    /// rows, cols or rows × cols values, the last column by column).
    pub(crate) fn backward(&self, g: Adjoint<'_>) -> Vec<Vec<f64>> {
        self.sweep(g).1
    }

    /// The root's sums over the columns and the adjoints of [`Region::backward`] for a unit
    /// adjoint of every row's sum, in one pass; `None` where an operand from outside the
    /// region mixes rows (a scalar or a `[1, cols]` value a gradient flows into), whose
    /// adjoint a later per-row adjoint could not scale.
    ///
    /// A reverse sweep is linear in its starting adjoint, and each row's sum depends on that
    /// row's operands only, so the adjoints for any per-row adjoint `g` are these scaled row
    /// by row: a gradient computed this way needs no second pass over the data.
    pub(crate) fn sums_and_unit_gradients(&self) -> Option<(Vec<f32>, Vec<Vec<f64>>)> {
        let mixes = self
            .nodes
            .iter()
            .flat_map(|n| [Some(n.a), n.b])
            .flatten()
            .any(|src| matches!(src, Src::Scalar(_, Some(_)) | Src::Col(_, Some(_))));
        if mixes {
            return None;
        }
        let (sums, accs) = self.sweep(Adjoint::PerRow(&[1.0]));
        Some((sums.into_iter().map(|s| s as f32).collect(), accs))
    }

    /// The reverse sweep: the root's row sums (for a per-row adjoint) and the adjoints.
    fn sweep(&self, g: Adjoint<'_>) -> (Vec<f64>, Vec<Vec<f64>>) {
        let mut accs: Vec<Vec<f64>> = Vec::new();
        for src in self.nodes.iter().flat_map(|n| [Some(n.a), n.b]).flatten() {
            let (acc, len) = match src {
                Src::Reg(_) => continue,
                Src::Scalar(_, acc) => (acc, 1),
                Src::Row(_, acc) => (acc, self.rows),
                Src::Col(_, acc) => (acc, self.cols),
                Src::Full(_, acc) => (acc, self.rows * self.cols),
            };
            if let Some(acc) = acc {
                if accs.len() <= acc {
                    accs.resize(acc + 1, Vec::new());
                }
                accs[acc] = vec![0.0; len];
            }
        }
        let sums = backward_into(self, g, &mut accs);
        (sums, accs)
    }

    // Long on purpose: one match arm per fused operation's adjoint, read side by side with the
    // forward arms; split, the arms would only move into as many one-line functions.
    #[inline(always)]
    fn backward_into_inline(&self, g: Adjoint<'_>, accs: &mut [Vec<f64>]) -> Vec<f64> {
        // The tail passes a sum in closed form, so it applies to an adjoint of the sum only.
        let (core, tail) = match g {
            Adjoint::PerRow(_) => self.peel(),
            Adjoint::PerElement(_) => (self.nodes.len() - 1, Vec::new()),
        };
        let g_row = |i: usize| match g {
            Adjoint::PerRow(v) => v[if v.len() == 1 { 0 } else { i }],
            Adjoint::PerElement(_) => unreachable!("no tail without a per-row adjoint"),
        };
        let n = core + 1;
        let mut vals = Scratch::take(n * BLOCK);
        let mut adj = Scratch::take(n * BLOCK);
        let mut tmp = Scratch::take(BLOCK);
        // Per row: the adjoint of the core's sum (the tail's multipliers applied to the
        // root's), and the core's sum, which the tail's own operands need.
        let affine: Vec<(Vec<f64>, Vec<f64>)> = tail.iter().map(|step| step.affine(self.rows)).collect();
        let mut g_core: Vec<f64> = match g {
            Adjoint::PerRow(_) => (0..self.rows).map(|i| f64::from(g_row(i))).collect(),
            Adjoint::PerElement(_) => Vec::new(),
        };
        for (m, _) in &affine {
            g_core.iter_mut().zip(m).for_each(|(g, m)| *g *= m);
        }
        let g_core: Vec<f32> = g_core.into_iter().map(|g| g as f32).collect();
        let per_row = matches!(g, Adjoint::PerRow(_));
        let mut core_sums = vec![0.0f64; if per_row { self.rows } else { 0 }];
        // The core's sums gather in f32 over a block's columns, like Burn's own sums.
        let mut core_block = vec![0.0f32; BLOCK];
        // Which adjoint buffers hold a value in the current block: the first contribution
        // writes, later ones add, so no buffer is cleared. Row operands' adjoints gather in f32
        // over a block's columns and widen into `accs` once per block.
        let mut written = vec![false; n];
        let buffer = self.adjoint_buffers(n);
        let mut row_adj: Vec<Option<(Vec<f32>, bool)>> = accs.iter().map(|_| None).collect();
        for src in self.nodes[..n].iter().flat_map(|node| [Some(node.a), node.b]).flatten() {
            if let Src::Row(_, Some(acc)) = src {
                row_adj[acc] = Some((vec![0.0; BLOCK], false));
            }
        }
        let mut i0 = 0;
        while i0 < self.rows {
            let len = BLOCK.min(self.rows - i0);
            for j in 0..self.cols {
                self.forward_block(&mut vals, n, i0, j, len);
                if per_row {
                    for (s, &v) in core_block[..len].iter_mut().zip(&vals[core * BLOCK..core * BLOCK + len]) {
                        *s += v;
                    }
                }
                written.fill(false);
                adj[core * BLOCK..core * BLOCK + len].copy_from_slice(match g {
                    Adjoint::PerRow(_) => &g_core[i0..i0 + len],
                    Adjoint::PerElement(v) => &v[j * self.rows + i0..j * self.rows + i0 + len],
                });
                written[core] = true;
                for k in (0..n).rev() {
                    let node = self.nodes[k];
                    if !node.grad || !written[k] {
                        continue;
                    }
                    // Operands have lower indices than the node, and its buffer is its own or a
                    // later node's: split there.
                    let (adj_before, adj_rest) = adj.split_at_mut(k * BLOCK);
                    let gk = &adj_rest[(buffer[k] - k) * BLOCK..(buffer[k] - k) * BLOCK + len];
                    let a = self.arg(node.a, &vals, i0, j, len);
                    let b = match node.b {
                        Some(b) => self.arg(b, &vals, i0, j, len),
                        None => Arg::S(0.0),
                    };
                    let out = &vals[k * BLOCK..k * BLOCK + len];
                    let square = matches!((node.op, node.a, node.b), (EOp::Mul, Src::Reg(x), Some(Src::Reg(y))) if x == y);
                    for (to, src) in [Some(node.a), node.b].into_iter().enumerate() {
                        let Some(src) = src else { continue };
                        if square && to == 1 {
                            continue;
                        }
                        let (dest, add) = match src {
                            Src::Reg(p) if self.nodes[p].grad => {
                                let add = std::mem::replace(&mut written[p], true);
                                if buffer[p] != p {
                                    // Shares this node's adjoint.
                                    continue;
                                }
                                (&mut adj_before[p * BLOCK..p * BLOCK + len], add)
                            }
                            Src::Row(_, Some(acc)) => {
                                let (buf, w) = row_adj[acc].as_mut().expect("made above for every row operand");
                                (&mut buf[..len], std::mem::replace(w, true))
                            }
                            Src::Scalar(_, Some(_)) | Src::Col(_, Some(_)) | Src::Full(_, Some(_)) => (&mut tmp[..len], false),
                            _ => continue,
                        };
                        match (square, add) {
                            (true, true) => map2::<true>(dest, Arg::V(gk), a, |g, x| 2.0 * g * x),
                            (true, false) => map2::<false>(dest, Arg::V(gk), a, |g, x| 2.0 * g * x),
                            (false, true) => backward_op::<true>(dest, node.op, to, gk, a, b, out),
                            (false, false) => backward_op::<false>(dest, node.op, to, gk, a, b, out),
                        }
                        let t = &tmp[..len];
                        match src {
                            Src::Scalar(_, Some(acc)) => accs[acc][0] += f64::from(sum(t)),
                            Src::Col(_, Some(acc)) => accs[acc][j] += f64::from(sum(t)),
                            Src::Full(_, Some(acc)) => add_into(&mut accs[acc][j * self.rows + i0..j * self.rows + i0 + len], t),
                            _ => {}
                        }
                    }
                }
            }
            if per_row {
                add_into(&mut core_sums[i0..i0 + len], &core_block[..len]);
                core_block.fill(0.0);
            }
            for (acc, slot) in row_adj.iter_mut().enumerate() {
                if let Some((buf, w)) = slot {
                    if std::mem::replace(w, false) {
                        add_into(&mut accs[acc][i0..i0 + len], &buf[..len]);
                    }
                }
            }
            i0 += len;
        }
        if !per_row {
            return Vec::new();
        }
        // The tail's own operands: levels[l] is the sum entering step l, g_out the adjoint of
        // step l's result, row by row.
        let levels = self.tail_sums_with(&tail, &affine, core_sums);
        let mut g_out: Vec<f64> = (0..self.rows).map(|i| f64::from(g_row(i))).collect();
        for (l, (step, (m, _))) in tail.iter().zip(&affine).enumerate() {
            if let Some(src @ (Src::Scalar(_, Some(acc)) | Src::Row(_, Some(acc)))) = step.v {
                let d = step.d_operand(&levels[l + 1], self.cols);
                match src {
                    Src::Row(..) => accs[acc].iter_mut().zip(g_out.iter().zip(&d)).for_each(|(a, (g, d))| *a += g * d),
                    _ => accs[acc][0] += g_out.iter().zip(&d).map(|(g, d)| g * d).sum::<f64>(),
                }
            }
            g_out.iter_mut().zip(m).for_each(|(g, m)| *g *= m);
        }
        levels.into_iter().next().expect("at least the core's level")
    }
}

// The passes compiled for AVX2 + FMA as well as the baseline, chosen at run time: eight f32
// lanes instead of SSE's four, measured 6.6 -> 3.3-4.5 ms on the `burn` bench's IS case (N=10000, n=1000). Everything
// they call is `inline(always)` so that it is compiled with the same features.
#[multiversion::multiversion(targets("x86_64+avx2+fma"))]
fn row_sums<'a, 'r>(region: &'r Region<'a>) -> Vec<f32> {
    region.row_sums_inline()
}

#[multiversion::multiversion(targets("x86_64+avx2+fma"))]
fn backward_into<'a, 'r, 'g>(region: &'r Region<'a>, g: Adjoint<'g>, accs: &mut [Vec<f64>]) -> Vec<f64> {
    region.backward_into_inline(g, accs)
}

/// A step of a region's tail: the sum over the columns of `op(reg, v)` (or `op(v, reg)`) is
/// `m * sum(reg) + c * cols` for a per-row constant `v`.
struct Step<'a> {
    op: EOp,
    v: Option<Src<'a>>,
    reg_first: bool,
}

impl Step<'_> {
    /// The operand's value in each of `rows` rows.
    fn values(&self, rows: usize) -> Vec<f64> {
        match self.v {
            Some(Src::Scalar(x, _)) => vec![f64::from(x); rows],
            Some(Src::Row(r, _)) => r.iter().map(|&x| f64::from(x)).collect(),
            _ => vec![0.0; rows],
        }
    }

    /// (m, c) row by row.
    fn affine(&self, rows: usize) -> (Vec<f64>, Vec<f64>) {
        let v = self.values(rows);
        let fill = |x: f64| vec![x; rows];
        match (self.op, self.reg_first) {
            (EOp::Scale(s), _) => (fill(f64::from(s)), fill(0.0)),
            (EOp::Shift(c), _) => (fill(1.0), fill(f64::from(c))),
            (EOp::Add, _) => (fill(1.0), v),
            (EOp::Sub, true) => (fill(1.0), v.into_iter().map(|v| -v).collect()),
            (EOp::Sub, false) => (fill(-1.0), v),
            (EOp::Mul, _) => (v, fill(0.0)),
            (EOp::Div, _) => (v.into_iter().map(|v| 1.0 / v).collect(), fill(0.0)),
            _ => unreachable!("peel makes only these steps"),
        }
    }

    /// d(step's sum)/d(v) row by row, given the sums entering the step.
    fn d_operand(&self, inner: &[f64], cols: usize) -> Vec<f64> {
        let n = cols as f64;
        match (self.op, self.reg_first) {
            (EOp::Add, _) | (EOp::Sub, false) => vec![n; inner.len()],
            (EOp::Sub, true) => vec![-n; inner.len()],
            (EOp::Mul, _) => inner.to_vec(),
            (EOp::Div, _) => inner.iter().zip(self.values(inner.len())).map(|(s, v)| -s / (v * v)).collect(),
            _ => vec![0.0; inner.len()],
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// sum_j (r_i * c_j + 1)^2 and its gradient in r_i, against the closed forms, across a
    /// block boundary.
    #[test]
    fn sums_and_gradients_match_closed_forms() {
        let rows = [0.5f32, -1.0, 2.0];
        let cols: Vec<f32> = (0..BLOCK + 7).map(|j| (j as f32) / 300.0).collect();
        let region = Region {
            rows: 3,
            cols: cols.len(),
            nodes: vec![
                RNode { op: EOp::Mul, a: Src::Row(&rows, Some(0)), b: Some(Src::Col(&cols, None)), grad: true },
                RNode { op: EOp::Add, a: Src::Reg(0), b: Some(Src::Scalar(1.0, None)), grad: true },
                RNode { op: EOp::Mul, a: Src::Reg(1), b: Some(Src::Reg(1)), grad: true },
            ],
        };
        let sums = region.row_sums();
        let accs = region.backward(Adjoint::PerRow(&[1.0]));
        for (i, &r) in rows.iter().enumerate() {
            let exact: f64 = cols.iter().map(|&c| (f64::from(r) * f64::from(c) + 1.0).powi(2)).sum();
            let grad: f64 = cols.iter().map(|&c| 2.0 * (f64::from(r) * f64::from(c) + 1.0) * f64::from(c)).sum();
            assert!((f64::from(sums[i]) - exact).abs() < 1e-4 * exact.abs(), "row {i}: {} vs {exact}", sums[i]);
            assert!((accs[0][i] - grad).abs() < 1e-4 * grad.abs(), "row {i}: {} vs {grad}", accs[0][i]);
        }
        assert_eq!(region.values().len(), 3 * cols.len());
    }

    /// A full operand (read down its columns) times a per-row one, from a per-element adjoint:
    /// d/dF_ij = g_ij r_i and d/dr_i = sum_j g_ij F_ij.
    #[test]
    fn full_operands_and_per_element_adjoints() {
        let (rows, cols) = (3, 5);
        let full: Vec<f32> = (0..rows * cols).map(|k| k as f32 * 0.25 - 1.0).collect();
        let r = [2.0f32, -1.0, 0.5];
        let g: Vec<f32> = (0..rows * cols).map(|k| 1.0 + (k % 4) as f32).collect();
        let region = Region {
            rows,
            cols,
            nodes: vec![RNode { op: EOp::Mul, a: Src::Full(&full, Some(0)), b: Some(Src::Row(&r, Some(1))), grad: true }],
        };
        let accs = region.backward(Adjoint::PerElement(&g));
        for i in 0..rows {
            let mut dr = 0.0;
            for j in 0..cols {
                let at = j * rows + i;
                assert_eq!(accs[0][at], f64::from(g[at] * r[i]));
                dr += f64::from(g[at] * full[at]);
            }
            assert!((accs[1][i] - dr).abs() < 1e-5, "row {i}: {} vs {dr}", accs[1][i]);
        }
        // values() is row-major.
        let values = region.values();
        assert_eq!(values[cols + 2], full[2 * rows + 1] * r[1]);
    }
}
