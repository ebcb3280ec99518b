# The committed data sets (data/README.md) and their hyperparameters (data/datasets.json),
# read the way comparisons/common.py reads them so every framework sees the same numbers.

"""A missing or malformed data file; the message names the file (and line)."""
struct DataError <: Exception
    msg::String
end
Base.showerror(io::IO, e::DataError) = print(io, e.msg)

# Used only when datasets.json lacks a value; each use is reported in `notes` (as common.py).
const DEFAULT_HYPERPARAMETERS = Dict{String,Dict{String,Any}}(
    "polynomial" => Dict{String,Any}("prior_sd" => 1.0),
    "beta_bernoulli" => Dict{String,Any}("alpha" => 2.0, "beta" => 2.0),
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
                v = section[names[found]]
                v isa Real || throw(DataError("$path: '$model.$(names[found])' must be a number, got $(repr(v))"))
                values[model][key] = Float64(v)
            end
        end
    end
    return Hyperparameters(values, notes)
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
