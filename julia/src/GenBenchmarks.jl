"""
Gen.jl implementations of the benchmark models, run through the protocol of
comparisons/PROTOCOL.md (the same flags, data files and JSON as the Python runners).

* `cli.jl`: the protocol's flags, the JSON result and JSON errors;
* `data.jl`: the committed CSVs and `datasets.json` (with the same fallbacks and notes as
  comparisons/common.py);
* `models.jl`: the models in Gen's dynamic modeling language (and the VI guide), and the
  state-space models as `Unfold` of a static-language kernel;
* `adam.jl`: Gen's `ADAM` update for `@gen` functions' trainable parameters (Gen 0.4 has it
  only for TensorFlow/PyTorch functions);
* `runners.jl`: timing, inference calls, quality numbers and the raw output (`--raw-out`), one
  function per (model, method)
  (the SMC rows: Gen's particle filter, and the exact forward algorithm / Kalman filter for
  their `exact log-ML` note).
"""
module GenBenchmarks

using Gen
using Random
using Printf: @sprintf
import CSV
import DataFrames
import JSON
import NPZ

const FRAMEWORK = "genjl"

include("cli.jl")
include("data.jl")
include("models.jl")
include("adam.jl")
include("runners.jl")

gen_version() = string(pkgversion(Gen))

const RUNNERS = Dict{Tuple{String,String},Function}(
    ("polynomial", "is") => run_polynomial_is,
    ("polynomial", "hmc") => run_polynomial_hmc,
    ("polynomial", "vi") => run_polynomial_vi,
    ("beta_bernoulli", "is") => run_beta_bernoulli_is,
    ("hmm", "smc") => run_hmm_smc,
    ("lgssm", "smc") => run_lgssm_smc,
)

"""
    main(argv) -> exit status

Parse the flags, run one (model, method) and print one JSON object on stdout. Every failure,
bad flags included, is printed as `{"framework": "genjl", "error": ...}` with a non-zero status.
"""
function main(argv::Vector{String})::Int
    args = try
        parse_args(argv)
    catch e
        return emit_error("bad command line: " * (e isa ArgumentError ? e.msg : sprint(showerror, e)); status=2)
    end
    try
        if args.version
            emit_json(Dict{String,Any}("framework" => FRAMEWORK, "version" => gen_version()))
            return 0
        end
        runner = get(RUNNERS, (args.model, args.method), nothing)
        if runner === nothing
            have = join(sort([m * "/" * k for (m, k) in keys(RUNNERS)]), ", ")
            return emit_error("$FRAMEWORK does not implement model '$(args.model)' with method " *
                              "'$(args.method)' (implemented: $have)")
        end
        hyper = load_hyperparameters(args.data_dir)
        out = runner(args, hyper)
        isempty(args.raw_out) || write_raw(args.raw_out, out.raw)
        result = Dict{String,Any}(
            "framework" => FRAMEWORK,
            "version" => gen_version(),
            "model" => args.model,
            "method" => args.method,
            "config" => config_of(args),
            "compile_time_s" => out.compile_time_s,
            "times_s" => out.times_s,
            "quality" => out.quality,
            "peak_memory_bytes" => Int(Sys.maxrss()),
            "notes" => vcat(hyper.notes, out.notes),
            "flags" => String[],
        )
        emit_json(result)
        return 0
    catch e
        if e isa DataError
            return emit_error(e.msg)
        end
        # The traceback is for a person reading the log; the binary reads only stdout.
        showerror(stderr, e, catch_backtrace())
        println(stderr)
        return emit_error(sprint(showerror, e))
    end
end

end # module
