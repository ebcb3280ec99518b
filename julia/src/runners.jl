# One function per (model, method): time Gen.jl's own inference call, then compute the
# protocol's quality numbers outside the timed region.

"""
What a runner hands back to `main` (the fields `main` does not fill itself). `raw` is the last
repeat's raw output by file name (comparisons/PROTOCOL.md, "Raw output"): `draws` (chains x
draws x latents) and `accept` for MCMC, `log_weights` and `samples` (N x latents) for IS,
`final_log_weights` for SMC. The suite computes ESS, R-hat and the moments from them with the
one definition every framework's row gets.
"""
struct RunnerResult
    compile_time_s::Float64
    times_s::Vector{Float64}
    quality::Dict{String,Any}
    notes::Vector{String}
    raw::Dict{String,Array{Float64}}
end

RunnerResult(compile_time_s, times_s, quality, notes) =
    RunnerResult(compile_time_s, times_s, quality, notes, Dict{String,Array{Float64}}())

"""
    write_raw(dir, raw)

Each array of `raw` as `dir/<name>.npy` (NPZ.jl's `npzwrite`: float64, the Julia array as it
lies in memory with `fortran_order: True` in the header, which `numpy.load` and the suite read
as the same array).
"""
function write_raw(dir::AbstractString, raw::Dict{String,Array{Float64}})
    mkpath(dir)
    for (name, array) in raw
        NPZ.npzwrite(joinpath(dir, name * ".npy"), array)
    end
    return nothing
end

"""
    time_calls(call, repeats, seed) -> (compile_time_s, times_s, last_result)

The timing protocol of common.time_calls: `call()` runs the whole inference once and returns
its result fully built (Gen returns ordinary Julia arrays and traces, nothing is lazy). Call 0
is the first, compiling call (Julia compiles every method on its first call) and is reported
as compile time; calls 1..repeats are timed. Gen draws from Julia's global RNG, so each call
first reseeds it with `seed + call index`, outside the clock.
"""
function time_calls(call, repeats::Int, seed::Int)
    Random.seed!(seed)
    t0 = time_ns()
    result = call()
    compile_time_s = (time_ns() - t0) / 1e9
    times_s = Float64[]
    for i in 1:repeats
        Random.seed!(seed + i)
        t0 = time_ns()
        result = call()
        push!(times_s, (time_ns() - t0) / 1e9)
    end
    return compile_time_s, times_s, result
end

# ---------------------------------------------------------------------------------------
# Quality helpers (the definitions of comparisons/common.py and comparisons/stan_impl.py)
# ---------------------------------------------------------------------------------------

"""Kish effective sample size 1 / sum(w_i^2) of normalized weights given as logs."""
ess_from_log_normalized_weights(lnw::Vector{Float64}) = exp(-logsumexp(2.0 .* lnw))

"""Self-normalized posterior mean and sd per latent; `samples` is N x d."""
function weighted_moments(samples::Matrix{Float64}, lnw::Vector{Float64})
    w = exp.(lnw .- logsumexp(lnw))
    mean = vec(w' * samples)
    var = vec(w' * (samples .- mean') .^ 2)
    return mean, sqrt.(max.(var, 0.0))
end

"""Sample mean and sd (n - 1 denominator) per latent over MCMC draws; `samples` is S x d."""
function sample_moments(samples::Matrix{Float64})
    s = size(samples, 1)
    mean = vec(sum(samples; dims=1)) ./ s
    denom = s > 1 ? s - 1 : 1
    var = vec(sum((samples .- mean') .^ 2; dims=1)) ./ denom
    return mean, sqrt.(var)
end

# Both iterators are vectors so the comprehension is an N x d matrix.
latent_matrix(traces, latents) = Float64[tr[addr] for tr in traces, addr in collect(latents)]

"""
The IS quality block and raw output. Gen's `importance_sampling` returns normalized log weights
`lnw` and `lml = logsumexp(lw) - log N`, so the raw log weights are `lnw .+ (lml + log N)`.
"""
function is_quality(traces, lnw::Vector{Float64}, lml::Float64, latents)
    samples = latent_matrix(traces, latents)
    mean, sd = weighted_moments(samples, lnw)
    quality = Dict{String,Any}(
        "log_ml" => lml,
        "ess" => ess_from_log_normalized_weights(lnw),
        "posterior_mean" => mean,
        "posterior_sd" => sd,
    )
    raw = Dict{String,Array{Float64}}("log_weights" => lnw .+ (lml + log(length(lnw))), "samples" => samples)
    return quality, raw
end

const IS_NOTES = [
    "Gen.importance_sampling with the model's internal proposal (the prior): one generate " *
    "call per particle in the dynamic modeling language, one address per observation",
    "compile_time_s: the first call, which includes Julia's compilation of Gen's methods for " *
    "this model (package loading is not included)",
    "log_ml and ess from the last timed call; log_ml is Gen's lml_est (log mean weight)",
]

# ---------------------------------------------------------------------------------------
# Runners
# ---------------------------------------------------------------------------------------

function run_polynomial_is(args::Args, hyper::Hyperparameters)::RunnerResult
    d = load_polynomial(args, hyper)
    model_args = (d.x, d.noise_sd, d.prior_sd)
    obs = observations(d.y)
    call() = importance_sampling(polynomial_model, model_args, obs, args.n_particles)
    compile_time_s, times_s, (traces, lnw, lml) = time_calls(call, args.repeats, args.seed)
    quality, raw = is_quality(traces, lnw, lml, POLYNOMIAL_LATENTS)
    return RunnerResult(compile_time_s, times_s, quality, copy(IS_NOTES), raw)
end

function run_beta_bernoulli_is(args::Args, hyper::Hyperparameters)::RunnerResult
    d = load_beta_bernoulli(args, hyper)
    model_args = (length(d.y), d.alpha, d.beta)
    obs = observations(d.y)
    call() = importance_sampling(beta_bernoulli_model, model_args, obs, args.n_particles)
    compile_time_s, times_s, (traces, lnw, lml) = time_calls(call, args.repeats, args.seed)
    quality, raw = is_quality(traces, lnw, lml, BETA_BERNOULLI_LATENTS)
    return RunnerResult(compile_time_s, times_s, quality, copy(IS_NOTES), raw)
end

"""
One full HMC run as the benchmark defines it: start at a = b = c = 0 (the initial trace is
`generate` with the latents constrained to zero), `n_warmup + n_samples` calls of `Gen.hmc`
with the fixed step size and leapfrog count and Gen's default identity metric, keeping the
last `n_samples` states. Returns the kept draws (n_samples x 3) and the acceptance indicators.
"""
function polynomial_hmc_chain(model_args, obs, args::Args)
    init = merge(obs, choicemap((:a, 0.0), (:b, 0.0), (:c, 0.0)))
    trace, _ = generate(polynomial_model, model_args, init)
    selection = Gen.select(POLYNOMIAL_LATENTS...)
    draws = Matrix{Float64}(undef, args.n_samples, length(POLYNOMIAL_LATENTS))
    accepted = Vector{Bool}(undef, args.n_samples)
    for iteration in 1:(args.n_warmup + args.n_samples)
        trace, was_accepted = hmc(trace, selection; L=args.n_leapfrog, eps=args.step_size)
        k = iteration - args.n_warmup
        if k >= 1
            accepted[k] = was_accepted
            for (j, addr) in enumerate(POLYNOMIAL_LATENTS)
                draws[k, j] = trace[addr]
            end
        end
    end
    return draws, accepted
end

function run_polynomial_hmc(args::Args, hyper::Hyperparameters)::RunnerResult
    d = load_polynomial(args, hyper)
    model_args = (d.x, d.noise_sd, d.prior_sd)
    obs = observations(d.y)
    call() = polynomial_hmc_chain(model_args, obs, args)
    compile_time_s, times_s, (draws, accepted) = time_calls(call, args.repeats, args.seed)
    mean, sd = sample_moments(draws)
    quality = Dict{String,Any}(
        "posterior_mean" => mean,
        "posterior_sd" => sd,
        "acceptance_rate" => count(accepted) / length(accepted),
    )
    # One chain: draws.npy is 1 x n_samples x 3.
    raw = Dict{String,Array{Float64}}("draws" => reshape(draws, 1, size(draws)...), "accept" => Float64.(accepted))
    notes = [
        "Gen.hmc(trace, select(:a, :b, :c); L=$(args.n_leapfrog), eps=$(args.step_size)), " *
        "identity metric, no adaptation, $(args.n_warmup) warm-up + $(args.n_samples) kept " *
        "iterations from a = b = c = 0; each leapfrog step is an update plus a " *
        "choice_gradients call on the dynamic trace",
        "compile_time_s: the first full run, which includes Julia's compilation " *
        "(package loading is not included)",
        "acceptance_rate: fraction of accepted transitions among the kept ones; Gen.hmc " *
        "reports no divergences, so that key is absent",
        "ess and R-hat: computed by the suite from the raw draws (draws.npy), the definition " *
        "every row gets",
    ]
    return RunnerResult(compile_time_s, times_s, quality, notes, raw)
end

# softplus^-1(1): the raw scale at which every guide scale starts at 1 (comparisons/common.py's
# VI_INIT_RAW_SCALE).
const VI_INIT_RAW_SCALE = log(expm1(1.0))

"""
One full VI fit as the benchmark defines it: the guide's parameters set to loc 0 and scale 1
(`init_param!`, which also zeroes their gradient accumulators), a fresh `ParamUpdate` with
Adam (its moment estimates start at zero), then `black_box_vi!` for `n_steps` iterations of
`n_elbo_samples` guide samples each. Returns the fitted locs and scales (latent order) and
Gen's per-iteration ELBO estimates.
"""
function polynomial_vi_fit(model_args, obs, args::Args)
    for name in GUIDE_LOCS
        init_param!(polynomial_guide, name, 0.0)
    end
    for name in GUIDE_RAW_SCALES
        init_param!(polynomial_guide, name, VI_INIT_RAW_SCALE)
    end
    # Built after init_param!: ParamUpdate(conf, gen_fn) picks up the parameters initialized so far.
    update = ParamUpdate(ADAM(args.learning_rate, 0.9, 0.999, 1e-8), polynomial_guide)
    # Gen 0.4.0-0.4.2 return (elbo, traces, history), later 0.4.x add the model traces.
    result = black_box_vi!(polynomial_model, model_args, obs, polynomial_guide, (), update;
                           iters=args.n_steps, samples_per_iter=args.n_elbo_samples)
    elbo_history = result[3]
    loc = [get_param(polynomial_guide, name) for name in GUIDE_LOCS]
    scale = [softplus(get_param(polynomial_guide, name)) for name in GUIDE_RAW_SCALES]
    return loc, scale, elbo_history
end

function run_polynomial_vi(args::Args, hyper::Hyperparameters)::RunnerResult
    d = load_polynomial(args, hyper)
    model_args = (d.x, d.noise_sd, d.prior_sd)
    obs = observations(d.y)
    call() = polynomial_vi_fit(model_args, obs, args)
    compile_time_s, times_s, (loc, scale, elbo_history) = time_calls(call, args.repeats, args.seed)
    window = max(1, cld(length(elbo_history), 10))  # ceil(n / 10), as common.vi_elbo_window
    quality = Dict{String,Any}(
        "posterior_mean" => loc,
        "posterior_sd" => scale,
        "elbo" => sum(elbo_history[end-window+1:end]) / window,
    )
    notes = [
        "black_box_vi!(polynomial_model, args, observations, polynomial_guide, (), " *
        "ParamUpdate(ADAM($(args.learning_rate), 0.9, 0.999, 1e-8), polynomial_guide); " *
        "iters=$(args.n_steps), samples_per_iter=$(args.n_elbo_samples)); guide: @param locs and " *
        "softplus raw scales, loc 0 / scale 1 start",
        "gradient: Gen's black_box_vi! is the score-function (REINFORCE) estimator without a " *
        "baseline, accumulate_param_gradients!(guide trace, nothing, (log p - log q) / K), not the " *
        "reparameterized gradient of the other rows, so it is noisier at the same K",
        "ADAM for @gen functions is supplied by julia/src/adam.jl (Gen 0.4 implements its ADAM " *
        "configuration only for TensorFlow/PyTorch functions, Gen.jl issue #204)",
        "compile_time_s: the first full fit, which includes Julia's compilation " *
        "(package loading is not included)",
        "elbo: mean of black_box_vi!'s per-iteration ELBO estimates over the last 10% of iterations",
    ]
    return RunnerResult(compile_time_s, times_s, quality, notes)
end

# ---------------------------------------------------------------------------------------
# State-space models: Gen's particle filter (comparisons/PROTOCOL.md, "SMC")
# ---------------------------------------------------------------------------------------

"""
    bootstrap_particle_filter(model, params, init_state, step_obs, n_particles)
        -> (log_ml, state)

Gen's particle filter over `model = Unfold(kernel)` with the model's own (default) proposal:
for a new step `update` samples the step's unconstrained latent from the kernel, i.e. from
the transition, and weighs by the constrained observation's density, so this is the bootstrap
filter. `step_obs[t]` holds step t's observation (`step_observations`). Step 1 is
`initialize_particle_filter` on `Unfold` length 1; every later step
resamples first, then extends every trace by one kernel application. The argdiffs say that
only the length changed (`UnknownChange()` for it, `NoChange()` for the initial state and
every parameter), so Unfold's `update` leaves the t - 1 earlier steps alone and runs the
kernel once for the new step: O(1) per particle per step.

`ess_threshold=Inf` makes `maybe_resample!` (which resamples when ESS < threshold) resample
at every step, as the protocol asks; with the threshold N a step whose weights are all equal
(ESS == N up to rounding) could be skipped. Gen's resampling is multinomial: N ancestors drawn
i.i.d. by `Distributions.rand!(Categorical(weights), parents)`.
"""
function bootstrap_particle_filter(model::Unfold, params::Tuple, init_state,
                                   step_obs::AbstractVector{<:ChoiceMap}, n_particles::Int)
    argdiffs = (UnknownChange(), NoChange(), map(_ -> NoChange(), params)...)
    state = initialize_particle_filter(model, (1, init_state, params...), step_obs[1], n_particles)
    for t in 2:length(step_obs)
        maybe_resample!(state; ess_threshold=Inf)
        particle_filter_step!(state, (t, init_state, params...), argdiffs, step_obs[t])
    end
    return log_ml_estimate(state), state
end

"""
The SMC quality block (common.smc_quality): Gen's log-ML estimate and the Kish ESS of the
final step's weights. The last `particle_filter_step!` is not followed by a resampling, so
`get_log_weights(state)` holds the final step's weights before resampling (the previous
resampling set every weight to 0, so they are that step's incremental weights).
`normalize_weights` and `effective_sample_size` are Gen's own (what `maybe_resample!`
compares with its threshold); Gen does not export them.
"""
function smc_quality(log_ml::Float64, state)
    log_weights = get_log_weights(state)
    _, log_normalized = Gen.normalize_weights(log_weights)
    quality = Dict{String,Any}("log_ml" => log_ml, "ess" => Gen.effective_sample_size(log_normalized))
    return quality, Dict{String,Array{Float64}}("final_log_weights" => Vector{Float64}(log_weights))
end

# Reference: data/exact.json (`hmm.log_ml`, written by `benchmarks data` from gen_runtime::exact)
# is the one definition of this number; on the committed data this function must agree with it
# to float64 rounding (about 1e-10 relative), as common.exact_hmm_log_ml is checked to.
"""log p(y_1:T) of the HMM by the forward algorithm in log space (common.exact_hmm_log_ml)."""
function exact_hmm_log_ml(d::HmmData)
    k = length(d.initial)
    log_alpha = [log(d.initial[j]) + log(d.emission[j][d.y[1]]) for j in 1:k]
    for t in 2:length(d.y)
        log_alpha = [logsumexp([log_alpha[i] + log(d.transition[i][j]) for i in 1:k]) + log(d.emission[j][d.y[t]])
                     for j in 1:k]
    end
    return logsumexp(log_alpha)
end

# Reference: data/exact.json (`lgssm.log_ml`, written by `benchmarks data` from gen_runtime::exact)
# is the one definition of this number; on the committed data this function must agree with it
# to float64 rounding (about 1e-10 relative), as common.exact_lgssm_log_ml is checked to.
"""log p(y_1:T) of the LGSSM by the scalar Kalman filter (common.exact_lgssm_log_ml)."""
function exact_lgssm_log_ml(d::LgssmData)
    m, v = d.x1_mean, d.x1_sd^2
    total = 0.0
    for (t, y) in enumerate(d.y)
        if t > 1
            m, v = d.a * m, d.a^2 * v + d.q^2
        end
        s = v + d.r^2
        total += -0.5 * (log(2pi * s) + (y - m)^2 / s)
        gain = v / s
        m, v = m + gain * (y - m), (1 - gain) * v
    end
    return total
end

"""The note every SMC row carries (common.exact_log_ml_note), the same `%.6f` format."""
exact_log_ml_note(exact::Float64) = @sprintf("exact log-ML %.6f", exact)

function smc_notes(args::Args, model_call::String, data_note::String, exact::Float64)
    return [
        "Gen.jl particle filter, bootstrap: model $model_call; observations one choicemap per step " *
        "at (t => :y); initialize_particle_filter(model, (1, ...), obs_1, $(args.n_particles)), then " *
        "for t = 2..T maybe_resample!(state; ess_threshold=Inf) (resample at every step; Gen's " *
        "resampling is multinomial) and particle_filter_step!(state, (t, ...), (UnknownChange(), " *
        "NoChange(), ...), obs_t) with the default proposal (the transition)",
        "log_ml: Gen's log_ml_estimate(state) after the last step; ess: Kish ESS of the final " *
        "step's weights before resampling (Gen.effective_sample_size of normalize_weights(" *
        "get_log_weights(state)))",
        "compile_time_s: the first full filter, which includes Julia's compilation of Gen's " *
        "methods for this model (package loading is not included); float64",
        data_note,
        exact_log_ml_note(exact),
    ]
end

function run_hmm_smc(args::Args, hyper::Hyperparameters)::RunnerResult
    d = load_hmm(args, hyper)
    params = (d.initial, d.transition, d.emission)
    obs = step_observations(d.y)
    call() = bootstrap_particle_filter(hmm_model, params, 0, obs, args.n_particles)
    compile_time_s, times_s, (log_ml, state) = time_calls(call, args.repeats, args.seed)
    notes = smc_notes(args,
        "Unfold(hmm_kernel), hmm_kernel(t, z_prev, initial, transition, emission) a @gen (static) " *
        "function: z ~ categorical(t == 1 ? initial : transition[z_prev]), y ~ categorical(emission[z])",
        "data and model as data/README.md (hmm.csv, T = $(length(d.y)), parameters from datasets.json); " *
        "the file's symbols 0..$(length(d.emission[1]) - 1) are Gen categorical values 1..$(length(d.emission[1]))",
        exact_hmm_log_ml(d))
    quality, raw = smc_quality(log_ml, state)
    return RunnerResult(compile_time_s, times_s, quality, notes, raw)
end

function run_lgssm_smc(args::Args, hyper::Hyperparameters)::RunnerResult
    d = load_lgssm(args, hyper)
    params = (d.a, d.q, d.r, d.x1_mean, d.x1_sd)
    obs = step_observations(d.y)
    call() = bootstrap_particle_filter(lgssm_model, params, 0.0, obs, args.n_particles)
    compile_time_s, times_s, (log_ml, state) = time_calls(call, args.repeats, args.seed)
    notes = smc_notes(args,
        "Unfold(lgssm_kernel), lgssm_kernel(t, z_prev, a, q, r, x1_mean, x1_sd) a @gen (static) " *
        "function: z ~ normal(t == 1 ? x1_mean : a * z_prev, t == 1 ? x1_sd : q), y ~ normal(z, r)",
        "data and model as data/README.md (lgssm.csv, T = $(length(d.y)), parameters from datasets.json)",
        exact_lgssm_log_ml(d))
    quality, raw = smc_quality(log_ml, state)
    return RunnerResult(compile_time_s, times_s, quality, notes, raw)
end
