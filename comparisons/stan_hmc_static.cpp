// Static (fixed step size, fixed leapfrog count) HMC through Stan's own services layer.
//
// httpstan, the server behind pystan 3, exposes only NUTS and fixed_param, so the benchmark's
// fixed-step HMC configuration cannot be reached from Python. This driver is compiled together
// with the stanc-generated C++ of one Stan program (which defines `new_model`) and calls
// `stan::services::sample::hmc_static_diag_e`, the function CmdStan runs for
// `method=sample adapt engaged=0 algorithm=hmc engine=static metric=diag_e`.
// stan_impl.py builds it; see `build_static_hmc` there for the compiler command.
//
// Usage: stan_hmc_static DATA.json SEED REPEATS N_WARMUP N_SAMPLES STEP_SIZE N_LEAPFROG
// Prints one JSON object on stdout: the wall-clock time of every timed services call, and the
// draws of the last timed call (so the Python side computes quality with the same code as
// every other framework).

#include <stan/callbacks/interrupt.hpp>
#include <stan/callbacks/logger.hpp>
#include <stan/callbacks/writer.hpp>
#include <stan/io/empty_var_context.hpp>
#include <stan/io/json/json_data.hpp>
#include <stan/mcmc/hmc/static/diag_e_static_hmc.hpp>
#include <stan/model/model_base.hpp>
#include <stan/services/sample/hmc_static_diag_e.hpp>
#include <stan/services/util/create_rng.hpp>
#include <stan/version.hpp>

#include <sys/resource.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <limits>
#include <sstream>
#include <string>
#include <vector>

// Defined by the stanc-generated translation unit.
stan::model::model_base& new_model(stan::io::var_context& data_context, unsigned int seed,
                                   std::ostream* msg_stream);

namespace {

// Keeps draws in memory, as pystan's fit object does, so no file or pipe I/O is timed.
class memory_writer : public stan::callbacks::writer {
 public:
  std::vector<std::string> names;
  std::vector<std::vector<double>> draws;

  void operator()(const std::vector<std::string>& n) override { names = n; }
  void operator()(const std::vector<double>& state) override { draws.push_back(state); }
};

// Stan reports rejected proposals (e.g. non-finite log density) as info/warn messages; they
// matter for diagnosing a bad row, so they go to stderr, which the protocol reserves for logs.
class stderr_logger : public stan::callbacks::logger {
 public:
  void warn(const std::string& m) override { std::cerr << "stan warn: " << m << "\n"; }
  void warn(const std::stringstream& m) override { warn(m.str()); }
  void error(const std::string& m) override { std::cerr << "stan error: " << m << "\n"; }
  void error(const std::stringstream& m) override { error(m.str()); }
  void fatal(const std::string& m) override { std::cerr << "stan fatal: " << m << "\n"; }
  void fatal(const std::stringstream& m) override { fatal(m.str()); }
};

std::string json_escape(const std::string& s) {
  std::string out;
  for (char ch : s) {
    switch (ch) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\t': out += "\\t"; break;
      default:
        if (static_cast<unsigned char>(ch) < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\u%04x", ch);
          out += buf;
        } else {
          out += ch;
        }
    }
  }
  return out;
}

// JSON has no NaN/Infinity; a diverged chain can produce them in energy__ or lp__.
std::string json_number(double v) {
  if (!std::isfinite(v)) return "null";
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.17g", v);
  return buf;
}

// VmHWM rather than getrusage's ru_maxrss: Linux carries ru_maxrss across execve, so when the
// Python runner forks and execs this driver, ru_maxrss reports the Python process's peak.
long long peak_rss_bytes() {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.compare(0, 6, "VmHWM:") == 0) return std::atoll(line.c_str() + 6) * 1024;
  }
  struct rusage usage;
  getrusage(RUSAGE_SELF, &usage);
  return static_cast<long long>(usage.ru_maxrss) * 1024;  // KiB on Linux
}

int fail(const std::string& message) {
  std::cout << "{\"error\": \"" << json_escape(message) << "\"}" << std::endl;
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 8) {
    return fail("usage: stan_hmc_static DATA.json SEED REPEATS N_WARMUP N_SAMPLES STEP_SIZE "
                "N_LEAPFROG");
  }
  const std::string data_path = argv[1];
  const unsigned int seed = static_cast<unsigned int>(std::strtoul(argv[2], nullptr, 10));
  const int repeats = std::atoi(argv[3]);
  const int num_warmup = std::atoi(argv[4]);
  const int num_samples = std::atoi(argv[5]);
  const double step_size = std::strtod(argv[6], nullptr);
  const int n_leapfrog = std::atoi(argv[7]);
  if (repeats < 1 || num_warmup < 0 || num_samples < 1 || !(step_size > 0) || n_leapfrog < 1) {
    return fail("bad arguments: need REPEATS >= 1, N_WARMUP >= 0, N_SAMPLES >= 1, "
                "STEP_SIZE > 0, N_LEAPFROG >= 1");
  }

  std::ifstream data_stream(data_path);
  if (!data_stream) return fail("cannot open data file " + data_path);

  stan::model::model_base* model = nullptr;
  try {
    stan::json::json_data data(data_stream);
    model = &new_model(data, seed, &std::cerr);
  } catch (const std::exception& e) {
    return fail(std::string("model construction failed: ") + e.what());
  }

  // Stan's static sampler takes an integration time T and derives the leapfrog count as
  // floor(T / step_size). T = L * eps can round to just under L (e.g. 0.2 / 0.01 in binary
  // floating point), so pass the midpoint T = (L + 1/2) eps; only L and eps enter the
  // dynamics, T itself is used for nothing else. A probe sampler checks the resulting L.
  const double int_time = step_size * (n_leapfrog + 0.5);
  {
    stan::rng_t probe_rng = stan::services::util::create_rng(seed, 1);
    stan::mcmc::diag_e_static_hmc<stan::model::model_base, stan::rng_t> probe(*model,
                                                                              probe_rng);
    probe.set_nominal_stepsize_and_T(step_size, int_time);
    if (probe.get_L() != n_leapfrog) {
      return fail("static HMC would take " + std::to_string(probe.get_L()) +
                  " leapfrog steps instead of " + std::to_string(n_leapfrog));
    }
  }

  stan::callbacks::interrupt interrupt;
  stderr_logger logger;
  stan::callbacks::writer init_writer;
  stan::callbacks::writer diagnostic_writer;
  stan::io::empty_var_context init;  // with init_radius 0: every unconstrained parameter = 0
  const double init_radius = 0.0;
  const unsigned int chain = 1;
  const int num_thin = 1;
  const bool save_warmup = false;
  const int refresh = 0;
  const double stepsize_jitter = 0.0;

  std::vector<double> times_s;
  memory_writer last;
  // Call 0 is an untimed warm-up (page faults, allocator growth, first-touch of the model);
  // calls 1..REPEATS are timed, each with its own seed so no two runs are the same chain.
  for (int r = 0; r <= repeats; ++r) {
    memory_writer sample_writer;
    sample_writer.draws.reserve(num_samples);
    const auto start = std::chrono::steady_clock::now();
    const int rc = stan::services::sample::hmc_static_diag_e(
        *model, init, seed + static_cast<unsigned int>(r), chain, init_radius, num_warmup,
        num_samples, num_thin, save_warmup, refresh, step_size, stepsize_jitter, int_time,
        interrupt, logger, init_writer, sample_writer, diagnostic_writer);
    const auto stop = std::chrono::steady_clock::now();
    if (rc != 0) {
      return fail("stan::services::sample::hmc_static_diag_e returned error code " +
                  std::to_string(rc) + " (details on stderr)");
    }
    if (r > 0) {
      times_s.push_back(std::chrono::duration<double>(stop - start).count());
    }
    if (r == repeats) last = std::move(sample_writer);
  }

  std::ostringstream out;
  out << "{\"stan_version\": \"" << stan::MAJOR_VERSION << "." << stan::MINOR_VERSION << "."
      << stan::PATCH_VERSION << "\", \"n_leapfrog\": " << n_leapfrog
      << ", \"int_time\": " << json_number(int_time) << ", \"times_s\": [";
  for (std::size_t i = 0; i < times_s.size(); ++i) {
    out << (i ? ", " : "") << json_number(times_s[i]);
  }
  out << "], \"peak_rss_bytes\": " << peak_rss_bytes() << ", \"names\": [";
  for (std::size_t i = 0; i < last.names.size(); ++i) {
    out << (i ? ", " : "") << "\"" << json_escape(last.names[i]) << "\"";
  }
  out << "], \"draws\": [";
  for (std::size_t d = 0; d < last.draws.size(); ++d) {
    out << (d ? ", " : "") << "[";
    for (std::size_t i = 0; i < last.draws[d].size(); ++i) {
      out << (i ? ", " : "") << json_number(last.draws[d][i]);
    }
    out << "]";
  }
  out << "]}";
  std::cout << out.str() << std::endl;
  delete model;
  return 0;
}
