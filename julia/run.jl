# Entry point for the Gen.jl comparison: `julia --project=julia julia/run.jl <protocol flags>`.
# Flags, data files and the JSON result follow comparisons/PROTOCOL.md, exactly as the Python
# runners (comparisons/common.py) do. Everything lives in src/GenBenchmarks.jl.

include(joinpath(@__DIR__, "src", "GenBenchmarks.jl"))

exit(GenBenchmarks.main(ARGS))
