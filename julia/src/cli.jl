# The protocol's command line and JSON output (comparisons/PROTOCOL.md; the Python side is
# comparisons/common.py, whose defaults and checks this mirrors).

const MODELS = ("polynomial", "beta_bernoulli", "hmm", "lgssm")
const METHODS = ("is", "hmc", "nuts", "smc", "vi")

"""The parsed flags; field names follow the flags with `-` written `_`."""
struct Args
    version::Bool
    model::String
    method::String
    n_points::Int
    noise_sd::Float64
    n_particles::Int
    n_samples::Int
    n_warmup::Int
    step_size::Float64
    n_leapfrog::Int
    n_steps::Int
    learning_rate::Float64
    n_elbo_samples::Int
    repeats::Int
    seed::Int
    data_dir::String
    raw_out::String  # "": no raw output
end

const INT_FLAGS = ("n-points", "n-particles", "n-samples", "n-warmup", "n-leapfrog", "n-steps", "n-elbo-samples",
                   "repeats", "seed")
const FLOAT_FLAGS = ("noise-sd", "step-size", "learning-rate")
const STRING_FLAGS = ("model", "method", "data-dir", "raw-out")

"""
    parse_args(argv) -> Args

`--flag value` and `--flag=value` are both accepted; an unknown flag, a missing or unparsable
value, or a value out of range throws `ArgumentError` (reported as a JSON error by `main`).
Prefixes are not expanded, as in common.py (`allow_abbrev=False`).
"""
function parse_args(argv::Vector{String})::Args
    values = Dict{String,Any}(
        "model" => "polynomial", "method" => "is", "n-points" => 50, "noise-sd" => 0.05,
        "n-particles" => 1000, "n-samples" => 1000, "n-warmup" => 500, "step-size" => 0.01,
        "n-leapfrog" => 20, "n-steps" => 2000, "learning-rate" => 0.01, "n-elbo-samples" => 1,
        "repeats" => 10, "seed" => 0, "data-dir" => "data", "raw-out" => "",
    )
    version = false
    i = 1
    while i <= length(argv)
        arg = argv[i]
        if arg == "--version"
            version = true
            i += 1
            continue
        end
        startswith(arg, "--") || throw(ArgumentError("unrecognized argument '$arg'"))
        name, value = if occursin('=', arg)
            parts = split(arg[3:end], '='; limit=2)
            String(parts[1]), String(parts[2])
        else
            i + 1 <= length(argv) || throw(ArgumentError("argument --$(arg[3:end]): expected one value"))
            i += 1
            arg[3:end], argv[i]
        end
        if name in INT_FLAGS
            v = tryparse(Int, value)
            v === nothing && throw(ArgumentError("argument --$name: invalid int value: '$value'"))
            values[name] = v
        elseif name in FLOAT_FLAGS
            v = tryparse(Float64, value)
            v === nothing && throw(ArgumentError("argument --$name: invalid float value: '$value'"))
            values[name] = v
        elseif name in STRING_FLAGS
            values[name] = value
        else
            throw(ArgumentError("unrecognized argument '--$name'"))
        end
        i += 1
    end
    values["model"] in MODELS ||
        throw(ArgumentError("argument --model: invalid choice: '$(values["model"])' (choose from $(join(MODELS, ", ")))"))
    values["method"] in METHODS ||
        throw(ArgumentError("argument --method: invalid choice: '$(values["method"])' (choose from $(join(METHODS, ", ")))"))
    for name in ("n-points", "n-particles", "n-samples", "n-leapfrog", "n-steps", "n-elbo-samples", "repeats")
        values[name] >= 1 || throw(ArgumentError("--$name must be >= 1, got $(values[name])"))
    end
    values["n-warmup"] >= 0 || throw(ArgumentError("--n-warmup must be >= 0, got $(values["n-warmup"])"))
    values["seed"] >= 0 || throw(ArgumentError("--seed must be >= 0, got $(values["seed"])"))
    for name in FLOAT_FLAGS
        v = values[name]
        (isfinite(v) && v > 0) || throw(ArgumentError("--$name must be a positive finite number, got $v"))
    end
    return Args(version, values["model"], values["method"], values["n-points"], values["noise-sd"],
                values["n-particles"], values["n-samples"], values["n-warmup"], values["step-size"],
                values["n-leapfrog"], values["n-steps"], values["learning-rate"], values["n-elbo-samples"],
                values["repeats"], values["seed"], values["data-dir"], values["raw-out"])
end

"""The `config` object of the result: the flags that define this configuration (as common.py)."""
function config_of(args::Args)::Dict{String,Any}
    cfg = Dict{String,Any}()
    if args.model == "polynomial"
        cfg["n_points"] = args.n_points
        cfg["noise_sd"] = args.noise_sd
    end
    if args.method in ("is", "smc")
        cfg["n_particles"] = args.n_particles
    end
    if args.method in ("hmc", "nuts")
        cfg["n_samples"] = args.n_samples
        cfg["n_warmup"] = args.n_warmup
        cfg["step_size"] = args.step_size
        cfg["n_leapfrog"] = args.n_leapfrog
    end
    if args.method == "vi"
        cfg["n_steps"] = args.n_steps
        cfg["learning_rate"] = args.learning_rate
        cfg["n_elbo_samples"] = args.n_elbo_samples
    end
    cfg["repeats"] = args.repeats
    cfg["seed"] = args.seed
    return cfg
end

# JSON has no NaN or Infinity (JSON.jl 1.x refuses to write them, 0.21 writes null): make
# every non-finite number null ourselves so both versions print the same strict JSON.
json_safe(x::AbstractFloat) = isfinite(x) ? Float64(x) : nothing
json_safe(x::Integer) = x isa Bool ? x : Int(x)
json_safe(x::AbstractString) = String(x)
json_safe(x::Nothing) = nothing
json_safe(x::AbstractDict) = Dict{String,Any}(string(k) => json_safe(v) for (k, v) in x)
json_safe(x::Union{AbstractVector,Tuple}) = Any[json_safe(v) for v in x]
json_safe(x) = x

"""Write one JSON object, on one line, to stdout."""
function emit_json(obj::AbstractDict)
    println(stdout, JSON.json(json_safe(obj)))
    flush(stdout)
    return nothing
end

"""Print `{"framework": "genjl", "error": message}` and return the exit status to use."""
function emit_error(message::AbstractString; status::Int=1)::Int
    emit_json(Dict{String,Any}("framework" => FRAMEWORK, "error" => String(message)))
    return status
end
