# The benchmark models (data/README.md). The regression and Beta-Bernoulli models are in Gen's
# dynamic modeling language, written the way Gen.jl's own tutorials write regression models:
# one address per observation, `(:y, i)`. The state-space models are an `Unfold` of a
# per-step kernel in the static modeling language (end of the file), as Gen's particle
# filtering tutorial writes its model.
# Gen.jl has no vectorized observation in the dynamic language short of broadcasted_normal,
# and the per-datum loop is what Gen.jl users (and the GenJAX paper's comparison) run.
#
# Trace score is log p (Gen's convention). Hyperparameters are arguments so nothing here
# hard-codes a value that datasets.json owns; the prior means are 0 by the model definition.

@gen function polynomial_model(xs::Vector{Float64}, noise_sd::Float64, prior_sd::Float64)
    a ~ normal(0.0, prior_sd)
    b ~ normal(0.0, prior_sd)
    c ~ normal(0.0, prior_sd)
    for (i, x) in enumerate(xs)
        {(:y, i)} ~ normal(a + b * x + c * x * x, noise_sd)
    end
    return nothing
end

const POLYNOMIAL_LATENTS = (:a, :b, :c)

# softplus(x) = log(1 + e^x), written so that large x does not overflow; ReverseDiff (Gen's
# parameter gradients) differentiates either branch.
softplus(x) = x > 0 ? x + log1p(exp(-x)) : log1p(exp(x))

# The mean-field guide of the VI rows (comparisons/PROTOCOL.md, "VI"): a, b, c independent
# normals with trainable locs and softplus-transformed raw scales, the parameterization of
# NumPyro's and Pyro's AutoNormal. Its addresses are the model's latents, so black_box_vi!
# can merge its choices with the observations.
@gen function polynomial_guide()
    @param loc_a::Float64
    @param loc_b::Float64
    @param loc_c::Float64
    @param raw_scale_a::Float64
    @param raw_scale_b::Float64
    @param raw_scale_c::Float64
    a ~ normal(loc_a, softplus(raw_scale_a))
    b ~ normal(loc_b, softplus(raw_scale_b))
    c ~ normal(loc_c, softplus(raw_scale_c))
    return nothing
end

const GUIDE_LOCS = (:loc_a, :loc_b, :loc_c)
const GUIDE_RAW_SCALES = (:raw_scale_a, :raw_scale_b, :raw_scale_c)

# `beta` is Gen's Beta distribution, so the hyperparameters take other names.
@gen function beta_bernoulli_model(n::Int, alpha_prior::Float64, beta_prior::Float64)
    p ~ beta(alpha_prior, beta_prior)
    for i in 1:n
        {(:y, i)} ~ bernoulli(p)
    end
    return nothing
end

const BETA_BERNOULLI_LATENTS = (:p,)

"""Observations `(:y, i) => y[i]` as a choice map (the constraints for `generate`)."""
function observations(ys::AbstractVector)
    obs = choicemap()
    for (i, y) in enumerate(ys)
        obs[(:y, i)] = y
    end
    return obs
end

# ---------------------------------------------------------------------------------------
# State-space models (data/README.md): the SMC rows' models
# ---------------------------------------------------------------------------------------
#
# Each is `Unfold(kernel)`: the kernel is one time step, transition then observation, and
# returns the new state; `Unfold(kernel)(T, init_state, params...)` applies it for
# t = 1..T, each call getting `(t, previous state, params...)`, and puts step t's choices
# under the address `t` (`t => :z`, `t => :y`; Gen's Unfold documentation). The first step
# draws from the initial distribution instead of the transition, so the kernel branches on
# t == 1 and `init_state` is never read (the runners pass 0 / 0.0). The kernels are in the
# static modeling language, as the Unfold kernel of Gen's particle filtering tutorial
# ("Tutorial: Particle filtering", unfold_particle_filter), whose ternary `x = c ? a : b`
# the static language accepts (Gen's test/dsl/static_dsl.jl does the same). The state type
# (Unfold's T) is the returned choice's type, Int for `categorical` and Float64 for `normal`.

# Discrete HMM: z_1 ~ Categorical(initial), z_t ~ Categorical(transition[z_{t-1}]),
# y_t ~ Categorical(emission[z_t]); states and symbols are Gen categorical values 1..K, 1..M.
@gen (static) function hmm_kernel(t::Int, z_prev::Int, initial::Vector{Float64},
                                  transition::Vector{Vector{Float64}},
                                  emission::Vector{Vector{Float64}})
    probs = t == 1 ? initial : transition[z_prev]
    z ~ categorical(probs)
    y ~ categorical(emission[z])
    return z
end

const hmm_model = Unfold(hmm_kernel)

# LGSSM: x_1 ~ N(x1_mean, x1_sd), x_t ~ N(a x_{t-1}, q), y_t ~ N(x_t, r) (sds, as Gen's
# normal takes them); the latent is `:z`, as in the GenJAX rows.
@gen (static) function lgssm_kernel(t::Int, z_prev::Float64, a::Float64, q::Float64, r::Float64,
                                    x1_mean::Float64, x1_sd::Float64)
    loc = t == 1 ? x1_mean : a * z_prev
    scale = t == 1 ? x1_sd : q
    z ~ normal(loc, scale)
    y ~ normal(z, r)
    return z
end

const lgssm_model = Unfold(lgssm_kernel)

"""
One choice map per time step, step t's observation at its address in the Unfold, `t => :y`
(the constraints `initialize_particle_filter` and `particle_filter_step!` take).
"""
step_observations(ys::AbstractVector) = [choicemap((t => :y, y)) for (t, y) in enumerate(ys)]
