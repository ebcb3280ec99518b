# The benchmark models (data/README.md) in Gen's dynamic modeling language, written the way
# Gen.jl's own tutorials write regression models: one address per observation, `(:y, i)`.
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
