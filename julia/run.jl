# Entry point for the Gen.jl comparison: `julia --project=julia julia/run.jl <protocol flags>`.
# Flags, data files and the JSON result follow comparisons/PROTOCOL.md, exactly as the Python
# runners (comparisons/common.py) do. Everything lives in src/GenBenchmarks.jl.

# `--prepare` (comparisons/PROTOCOL.md, "Preparation"): the benchmarks binary's one-time set-up
# before any timed run, here installing and precompiling julia/Project.toml's packages. It is
# handled before GenBenchmarks is loaded, since its `using Gen` needs those packages, and it
# writes its JSON by hand for the same reason (Pkg prints its progress on stderr).
if "--prepare" in ARGS
    import Pkg
    started = time()
    try
        Pkg.instantiate()
        Pkg.precompile()
    catch e
        message = replace(sprint(showerror, e), "\\" => "\\\\", "\"" => "\\\"", "\n" => "\\n")
        println("{\"framework\": \"genjl\", \"error\": \"Pkg.instantiate failed: $message\"}")
        exit(1)
    end
    elapsed = round(time() - started; digits=3)
    println("{\"framework\": \"genjl\", \"prepared\": true, \"build_time_s\": $elapsed, " *
            "\"notes\": [\"Pkg.instantiate and Pkg.precompile of julia/Project.toml\"]}")
    exit(0)
end

include(joinpath(@__DIR__, "src", "GenBenchmarks.jl"))

exit(GenBenchmarks.main(ARGS))
