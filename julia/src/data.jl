# The committed data sets (data/README.md) and their hyperparameters (data/datasets.json),
# read the way comparisons/common.py reads them so every framework sees the same numbers.

"""A missing or malformed data file; the message names the file (and line)."""
struct DataError <: Exception
    msg::String
end
Base.showerror(io::IO, e::DataError) = print(io, e.msg)

# Used only when datasets.json lacks a value; each use is reported in `notes` (as common.py,
# whose DEFAULT_HYPERPARAMETERS these are). A default's type says how the file's value is read:
# a number, a vector of numbers, or a vector of rows (the HMM matrices, row = state).
const DEFAULT_HYPERPARAMETERS = Dict{String,Dict{String,Any}}(
    "polynomial" => Dict{String,Any}("prior_sd" => 1.0),
    "beta_bernoulli" => Dict{String,Any}("alpha" => 2.0, "beta" => 2.0),
    "hmm" => Dict{String,Any}(
        "initial" => [1.0 / 3.0, 1.0 / 3.0, 1.0 / 3.0],
        "transition" => [[0.8, 0.1, 0.1], [0.1, 0.8, 0.1], [0.1, 0.1, 0.8]],
        "emission" => [[0.7, 0.1, 0.1, 0.1], [0.1, 0.7, 0.1, 0.1], [0.1, 0.1, 0.4, 0.4]],
    ),
    "lgssm" => Dict{String,Any}("a" => 0.9, "q" => 0.5, "r" => 1.0, "x1_mean" => 0.0, "x1_sd" => 1.0),
)

# Alternative spellings common.py accepts for the polynomial prior sd.
const HYPERPARAMETER_ALIASES = Dict(("polynomial", "prior_sd") => ("prior_sd", "prior_std", "coeff_prior_sd"))

struct Hyperparameters
    values::Dict{String,Dict{String,Any}}
    notes::Vector{String}
end

function load_hyperparameters(data_dir::AbstractString)::Hyperparameters
    path = joinpath(data_dir, "datasets.json")
    values = Dict{String,Dict{String,Any}}(m => copy(d) for (m, d) in DEFAULT_HYPERPARAMETERS)
    notes = String[]
    if !isfile(path)
        push!(notes, "$path not found: built-in default hyperparameters used")
        return Hyperparameters(values, notes)
    end
    raw = try
        JSON.parsefile(path)
    catch e
        throw(DataError("$path: invalid JSON: $(sprint(showerror, e))"))
    end
    raw isa AbstractDict || throw(DataError("$path: expected a JSON object at top level"))
    for (model, defaults) in DEFAULT_HYPERPARAMETERS
        section = get(raw, model, get(raw, replace(model, "_" => "-"), nothing))
        if !(section isa AbstractDict)
            push!(notes, "$path: no '$model' section: built-in defaults used for it")
            continue
        end
        for key in keys(defaults)
            names = get(HYPERPARAMETER_ALIASES, (model, key), (key,))
            found = findfirst(n -> haskey(section, n), collect(names))
            if found === nothing
                push!(notes, "$path: '$model.$key' missing: default $(defaults[key]) used")
            else
                values[model][key] = hyperparameter_value(section[names[found]], defaults[key],
                                                          "$path: '$model.$(names[found])'")
            end
        end
    end
    return Hyperparameters(values, notes)
end

is_real_vector(v) = v isa AbstractVector && all(x -> x isa Real, v)

"""
A value read from datasets.json, in the shape of its default: a number (`Float64`), a vector
of numbers (`Vector{Float64}`) or a vector of rows (`Vector{Vector{Float64}}`). `what` names
the file and key for the error.
"""
function hyperparameter_value(v, default, what::AbstractString)
    if default isa Real
        v isa Real || throw(DataError("$what must be a number, got $(repr(v))"))
        return Float64(v)
    elseif default isa AbstractVector{<:Real}
        is_real_vector(v) || throw(DataError("$what must be a list of numbers, got $(repr(v))"))
        return Float64[Float64(x) for x in v]
    else
        (v isa AbstractVector && all(is_real_vector, v)) ||
            throw(DataError("$what must be a list of lists of numbers, got $(repr(v))"))
        return [Float64[Float64(x) for x in row] for row in v]
    end
end

# File-name form of the noise sd: Julia's shortest round-trip repr, as Python's repr in
# common.py ("0.05", "1.0"; the two differ only in exponent notation, unused here).
sd_tag(noise_sd::Float64) = string(noise_sd)

polynomial_path(data_dir, n_points, noise_sd) =
    joinpath(data_dir, "polynomial_n$(n_points)_sd$(sd_tag(noise_sd)).csv")

"""
    read_table(path, columns) -> DataFrame

Read a headed CSV with CSV.jl; strict mode turns a malformed row into an error instead of a
silently `missing` cell. Errors name the file.
"""
function read_table(path::AbstractString, columns)
    isfile(path) || throw(DataError("data file not found: $path (run `benchmarks data` to regenerate the data sets)"))
    df = try
        CSV.read(path, DataFrames.DataFrame; strict=true)
    catch e
        throw(DataError("$path: malformed CSV: $(sprint(showerror, e))"))
    end
    header = names(df)  # Base.names, which DataFrames extends; a Vector{String}
    for c in columns
        c in header || throw(DataError("$path:1: header $header lacks column '$c'"))
    end
    DataFrames.nrow(df) > 0 || throw(DataError("$path: no data rows"))
    return df
end

# Cells that CSV.jl could not type as numbers (a stray word makes the whole column strings)
# are parsed here so the error can name the line: data row i is line i + 1 after the header.
function float_column(df, name::AbstractString, path::AbstractString)::Vector{Float64}
    col = df[!, name]
    out = Vector{Float64}(undef, length(col))
    for (i, v) in enumerate(col)
        x = v isa Real ? Float64(v) :
            v isa AbstractString ? something(tryparse(Float64, strip(v)), NaN) : NaN
        isfinite(x) || throw(DataError("$path:$(i + 1): column '$name': cannot parse $(repr(v))"))
        out[i] = x
    end
    return out
end

struct PolynomialData
    x::Vector{Float64}
    y::Vector{Float64}
    noise_sd::Float64
    prior_sd::Float64
    path::String
end

function load_polynomial(args::Args, hyper::Hyperparameters)::PolynomialData
    path = polynomial_path(args.data_dir, args.n_points, args.noise_sd)
    df = read_table(path, ("x", "y"))
    x = float_column(df, "x", path)
    y = float_column(df, "y", path)
    length(x) == args.n_points ||
        throw(DataError("$path: expected $(args.n_points) rows, found $(length(x))"))
    return PolynomialData(x, y, args.noise_sd, hyper.values["polynomial"]["prior_sd"], path)
end

struct BetaBernoulliData
    y::Vector{Bool}
    alpha::Float64
    beta::Float64
    path::String
end

function load_beta_bernoulli(args::Args, hyper::Hyperparameters)::BetaBernoulliData
    path = joinpath(args.data_dir, "beta_bernoulli.csv")
    df = read_table(path, ("y",))
    raw = float_column(df, "y", path)
    for (i, v) in enumerate(raw)
        (v == 0 || v == 1) || throw(DataError("$path:$(i + 1): y must be 0 or 1, got $v"))
    end
    h = hyper.values["beta_bernoulli"]
    return BetaBernoulliData(raw .== 1, h["alpha"], h["beta"], path)
end

# Integer cells (the `t` and HMM `y` columns), checked as common.read_csv_columns checks them:
# a number that is not a whole number is an error naming the line.
function int_column(df, name::AbstractString, path::AbstractString)::Vector{Int}
    col = df[!, name]
    out = Vector{Int}(undef, length(col))
    for (i, v) in enumerate(col)
        x = v isa Real ? Float64(v) :
            v isa AbstractString ? something(tryparse(Float64, strip(v)), NaN) : NaN
        (isfinite(x) && isinteger(x)) ||
            throw(DataError("$path:$(i + 1): column '$name': expected an integer, got $(repr(v))"))
        out[i] = Int(x)
    end
    return out
end

# Rows in time order (common._sorted_by_t: the files are written in order, this makes the
# loader not care); a stable sort, as numpy's argsort(kind="stable").
time_order(t::Vector{Int}) = sortperm(t; alg=MergeSort)

"""
The discrete HMM of data/README.md. `y` holds Gen `categorical` values, 1..M: the file's
symbols 0..M-1 plus one (Gen's `categorical(probs)` draws an index into `probs`).
`transition[i]` is row i, the distribution of z_t given z_{t-1} = i; `emission[k]` is the
distribution of y_t given z_t = k (rows index the state, as in datasets.json).
"""
struct HmmData
    y::Vector{Int}
    initial::Vector{Float64}
    transition::Vector{Vector{Float64}}
    emission::Vector{Vector{Float64}}
    path::String
end

# common._validate_hmm: consistent shapes and probability vectors (np.allclose(sum, 1,
# atol=1e-9), whose default rtol 1e-5 makes the tolerance 1e-9 + 1e-5).
function validate_hmm(initial, transition, emission, path)
    k = length(initial)
    m = isempty(emission) ? 0 : length(emission[1])
    (k > 0 && m > 0 && length(transition) == k && all(row -> length(row) == k, transition) &&
     length(emission) == k && all(row -> length(row) == m, emission)) ||
        throw(DataError("$path: hmm shapes disagree: initial $k states, transition " *
                        "$(length.(transition)), emission $(length.(emission))"))
    isprob(p) = all(>=(0.0), p) && abs(sum(p) - 1.0) <= 1e-9 + 1e-5
    isprob(initial) || throw(DataError("$path: hmm.initial rows must be probability vectors"))
    all(isprob, transition) || throw(DataError("$path: hmm.transition rows must be probability vectors"))
    all(isprob, emission) || throw(DataError("$path: hmm.emission rows must be probability vectors"))
    return nothing
end

function load_hmm(args::Args, hyper::Hyperparameters)::HmmData
    path = joinpath(args.data_dir, "hmm.csv")
    df = read_table(path, ("t", "y"))
    t = int_column(df, "t", path)
    symbols = int_column(df, "y", path)
    h = hyper.values["hmm"]
    validate_hmm(h["initial"], h["transition"], h["emission"], joinpath(args.data_dir, "datasets.json"))
    n_symbols = length(h["emission"][1])
    for (i, s) in enumerate(symbols)
        0 <= s < n_symbols || throw(DataError("$path:$(i + 1): symbol $s outside 0..$(n_symbols - 1)"))
    end
    return HmmData(symbols[time_order(t)] .+ 1, h["initial"], h["transition"], h["emission"], path)
end

"""The linear-Gaussian state-space model of data/README.md (`q`, `r`: noise sds)."""
struct LgssmData
    y::Vector{Float64}
    a::Float64
    q::Float64
    r::Float64
    x1_mean::Float64
    x1_sd::Float64
    path::String
end

function load_lgssm(args::Args, hyper::Hyperparameters)::LgssmData
    path = joinpath(args.data_dir, "lgssm.csv")
    df = read_table(path, ("t", "y"))
    t = int_column(df, "t", path)
    y = float_column(df, "y", path)
    h = hyper.values["lgssm"]
    return LgssmData(y[time_order(t)], h["a"], h["q"], h["r"], h["x1_mean"], h["x1_sd"], path)
end
