# Adam for the trainable parameters of Gen's built-in modeling languages.
#
# Gen.jl 0.4.x defines the `ADAM(learning_rate, beta1, beta2, epsilon)` configuration but
# implements it only for TensorFlow / PyTorch generative functions (GenTF, GenPyTorch): the
# dynamic and static modeling languages have `init_update_state` methods for
# `FixedStepGradientDescent` and `GradientDescent` only (src/builtin_optimization.jl; Gen.jl
# issue #204, open), so `ParamUpdate(ADAM(...), guide)` on a `@gen` function is a MethodError.
# These two methods fill that gap through Gen's documented extension points (the
# "Optimizing trainable parameters" internals), so the VI runner calls `ParamUpdate(ADAM(...),
# guide)` and `black_box_vi!` exactly as documented.
#
# The update is Adam (Kingma and Ba 2015) with bias correction and epsilon added to
# sqrt(v_hat), as torch.optim.Adam, optax.adam and numpyro.optim.Adam compute it. Gen's
# gradient accumulators hold the gradient of the objective (black_box_vi! accumulates the ELBO
# gradient) and its built-in updates ascend (`value + step * grad`), so this one ascends too.

mutable struct AdamBuiltinDSLState
    conf::ADAM
    gen_fn::Union{Gen.DynamicDSLFunction,Gen.StaticIRGenerativeFunction}
    param_list::Vector
    m::Dict{Symbol,Any}
    v::Dict{Symbol,Any}
    t::Int
end

function Gen.init_update_state(conf::ADAM,
        gen_fn::Union{Gen.DynamicDSLFunction,Gen.StaticIRGenerativeFunction}, param_list::Vector)
    m = Dict{Symbol,Any}(name => zero(get_param(gen_fn, name)) for name in param_list)
    v = Dict{Symbol,Any}(name => zero(get_param(gen_fn, name)) for name in param_list)
    return AdamBuiltinDSLState(conf, gen_fn, param_list, m, v, 0)
end

function Gen.apply_update!(state::AdamBuiltinDSLState)
    state.t += 1
    (; learning_rate, beta1, beta2, epsilon) = state.conf
    c1, c2 = 1 - beta1^state.t, 1 - beta2^state.t
    for name in state.param_list
        g = get_param_grad(state.gen_fn, name)
        state.m[name] = beta1 .* state.m[name] .+ (1 - beta1) .* g
        state.v[name] = beta2 .* state.v[name] .+ (1 - beta2) .* g .^ 2
        step = learning_rate .* (state.m[name] ./ c1) ./ (sqrt.(state.v[name] ./ c2) .+ epsilon)
        set_param!(state.gen_fn, name, get_param(state.gen_fn, name) .+ step)
        zero_param_grad!(state.gen_fn, name)
    end
    return nothing
end
