// Stan's samplers through Stan's own C++ services layer, timed inside the process.
//
// One driver, two methods, compiled together with the stanc-generated C++ of one Stan program
// (which defines `new_model`):
//
// * `nuts`: `stan::services::sample::hmc_nuts_diag_e_adapt`, the function CmdStan runs for
//   `method=sample` with its defaults (and pystan/httpstan for `posterior.sample`): NUTS,
//   diagonal metric starting at the identity, windowed adaptation of the step size (dual
//   averaging, delta 0.8, gamma 0.05, kappa 0.75, t0 10) and of the metric (init_buffer 75,
//   term_buffer 50, window 25, shrunk by Stan when N_WARMUP is too short for them), initial
//   step size 1, no jitter, max tree depth 10, Stan's random inits uniform in (-2, 2) on the
//   unconstrained scale (init_radius 2).
// * `hmc`: `stan::services::sample::hmc_static_diag_e`, CmdStan's
//   `method=sample adapt engaged=0 algorithm=hmc engine=static metric=diag_e`: unit diagonal
//   metric, no adaptation, the given step size and leapfrog count, init at zero
//   (init_radius 0). httpstan exposes only NUTS and fixed_param, so this method cannot be
//   reached from pystan at all.
//
// stan_impl.py builds it (`build_driver` there has the stanc and g++ commands).
//
// Usage: stan_driver nuts DATA.json SEED REPEATS N_WARMUP N_SAMPLES [CHAINS]
//        stan_driver hmc  DATA.json SEED REPEATS N_WARMUP N_SAMPLES STEP_SIZE N_LEAPFROG
//
// CHAINS > 1 (NUTS only) runs that many chains in one services call, the multi-chain overload
// CmdStan (2.28+) runs for `num_chains=C`: chain ids 1..C, each its own RNG stream, inits and
// adaptation, the chains spread over TBB's worker threads (one per core, what CmdStanPy's
// default `parallel_chains` asks for on this machine).
//
// The model is constructed from the data once, before anything is timed. Then call 0 is an
// untimed warm-up and calls 1..REPEATS are timed; call r uses random seed SEED + r with chain
// id 1 (what pystan passes for `stan.build(..., random_seed=SEED + r)` and one chain). The
// timed region of a call is exactly the services call: initialization (random or zero
// inits, checked for a finite log density and gradient), the sampler's construction, the
// step-size initialization, warm-up (with adaptation for NUTS) and sampling, with every draw
// handed to an in-memory writer. Stan's own "Elapsed Time" report (warm-up + sampling,
// what CmdStan prints, in whole milliseconds) is captured from the writer too.
//
// Prints one JSON object on stdout: the wall-clock time of every timed services call, Stan's
// own elapsed total of each (the slowest chain's), the peak RSS, and the draws of every chain
// (`draws`: chains x draws x columns) and the first chain's sampler messages of the last timed
// call (the Python side computes quality with the same code as every other framework).

#include <stan/callbacks/interrupt.hpp>
#include <stan/callbacks/logger.hpp>
#include <stan/callbacks/writer.hpp>
#include <stan/io/empty_var_context.hpp>
#include <stan/io/json/json_data.hpp>
#include <stan/mcmc/hmc/static/diag_e_static_hmc.hpp>
#include <stan/model/model_base.hpp>
#include <stan/services/sample/hmc_nuts_diag_e_adapt.hpp>
#include <stan/services/sample/hmc_static_diag_e.hpp>
#include <stan/services/util/create_rng.hpp>
#include <stan/version.hpp>

#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <iostream>
#include <limits>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

// Defined by the stanc-generated translation unit.
stan::model::model_base& new_model(stan::io::var_context& data_context, unsigned int seed,
                                   std::ostream* msg_stream);

namespace {

// Keeps draws and messages in memory, as pystan's fit object does, so no file or pipe I/O is
// timed. Messages are the sampler's text output: after NUTS warm-up "Adaptation terminated",
// "Step size = ...", the adapted inverse metric; at the end Stan's "Elapsed Time" lines.
class memory_writer : public stan::callbacks::writer {
 public:
  std::vector<std::string> names;
  std::vector<std::vector<double>> draws;
  std::vector<std::string> messages;
  double elapsed_total_s = std::numeric_limits<double>::quiet_NaN();

  void operator()(const std::vector<std::string>& n) override { names = n; }
  void operator()(const std::vector<double>& state) override { draws.push_back(state); }
  void operator()() override {}
  void operator()(const std::string& message) override {
    messages.push_back(message);
    // mcmc_writer::write_timing: "<spaces><warm-up + sampling> seconds (Total)".
    const std::string tag = " seconds (Total)";
    if (message.size() > tag.size() &&
        message.compare(message.size() - tag.size(), tag.size(), tag) == 0) {
      elapsed_total_s = std::strtod(message.c_str(), nullptr);
    }
  }
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

const char* const USAGE =
    "usage: stan_driver nuts DATA.json SEED REPEATS N_WARMUP N_SAMPLES [CHAINS] | "
    "stan_driver hmc DATA.json SEED REPEATS N_WARMUP N_SAMPLES STEP_SIZE N_LEAPFROG";

// Stan's defaults for NUTS (CmdStan's `method=sample`, which httpstan reads from CmdStan's
// help-all output): printed in the JSON so the Python side's notes cannot drift from them.
constexpr double NUTS_INIT_STEPSIZE = 1.0;
constexpr double NUTS_STEPSIZE_JITTER = 0.0;
constexpr int NUTS_MAX_DEPTH = 10;
constexpr double NUTS_DELTA = 0.8;
constexpr double NUTS_GAMMA = 0.05;
constexpr double NUTS_KAPPA = 0.75;
constexpr double NUTS_T0 = 10.0;
constexpr unsigned int NUTS_INIT_BUFFER = 75;
constexpr unsigned int NUTS_TERM_BUFFER = 50;
constexpr unsigned int NUTS_WINDOW = 25;
constexpr double NUTS_INIT_RADIUS = 2.0;

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) return fail(USAGE);
  const std::string method = argv[1];
  const bool nuts = method == "nuts";
  if (!(nuts && (argc == 7 || argc == 8)) && !(method == "hmc" && argc == 9)) return fail(USAGE);
  const std::string data_path = argv[2];
  const unsigned int seed = static_cast<unsigned int>(std::strtoul(argv[3], nullptr, 10));
  const int repeats = std::atoi(argv[4]);
  const int num_warmup = std::atoi(argv[5]);
  const int num_samples = std::atoi(argv[6]);
  const double step_size = nuts ? NUTS_INIT_STEPSIZE : std::strtod(argv[7], nullptr);
  const int n_leapfrog = nuts ? 0 : std::atoi(argv[8]);
  const int num_chains = nuts && argc == 8 ? std::atoi(argv[7]) : 1;
  if (repeats < 1 || num_warmup < 0 || num_samples < 1 || !(step_size > 0) ||
      (!nuts && n_leapfrog < 1) || num_chains < 1) {
    return fail("bad arguments: need REPEATS >= 1, N_WARMUP >= 0, N_SAMPLES >= 1, "
                "STEP_SIZE > 0, N_LEAPFROG >= 1, CHAINS >= 1");
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

  // Static HMC: Stan's static sampler takes an integration time T and derives the leapfrog
  // count as floor(T / step_size). T = L * eps can round to just under L (e.g. 0.2 / 0.01 in
  // binary floating point), so pass the midpoint T = (L + 1/2) eps; only L and eps enter the
  // dynamics, T itself is used for nothing else. A probe sampler checks the resulting L.
  const double int_time = nuts ? 0.0 : step_size * (n_leapfrog + 0.5);
  if (!nuts) {
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
  // Empty: every parameter is drawn uniformly in (-init_radius, init_radius) on the
  // unconstrained scale (NUTS, radius 2, Stan's default), or set to 0 (static HMC, radius 0).
  std::vector<std::shared_ptr<stan::io::var_context>> inits;
  for (int c = 0; c < num_chains; ++c) inits.push_back(std::make_shared<stan::io::empty_var_context>());
  const double init_radius = nuts ? NUTS_INIT_RADIUS : 0.0;
  const unsigned int first_chain_id = 1;
  const int num_thin = 1;
  const bool save_warmup = false;
  const int refresh = 0;

  std::vector<double> times_s;
  std::vector<double> stan_elapsed_s;
  std::vector<memory_writer> last;
  for (int r = 0; r <= repeats; ++r) {
    const unsigned int call_seed = seed + static_cast<unsigned int>(r);
    // One set of writers per chain; the services call writes into them, nothing else is timed.
    std::vector<stan::callbacks::writer> init_writers(num_chains);
    std::vector<stan::callbacks::writer> diagnostic_writers(num_chains);
    std::vector<memory_writer> sample_writers(num_chains);
    for (auto& w : sample_writers) w.draws.reserve(num_samples);
    int rc;
    const auto start = std::chrono::steady_clock::now();
    if (nuts && num_chains > 1) {
      rc = stan::services::sample::hmc_nuts_diag_e_adapt(
          *model, num_chains, inits, call_seed, first_chain_id, init_radius, num_warmup,
          num_samples, num_thin, save_warmup, refresh, NUTS_INIT_STEPSIZE, NUTS_STEPSIZE_JITTER,
          NUTS_MAX_DEPTH, NUTS_DELTA, NUTS_GAMMA, NUTS_KAPPA, NUTS_T0, NUTS_INIT_BUFFER,
          NUTS_TERM_BUFFER, NUTS_WINDOW, interrupt, logger, init_writers, sample_writers,
          diagnostic_writers);
    } else if (nuts) {
      rc = stan::services::sample::hmc_nuts_diag_e_adapt(
          *model, *inits[0], call_seed, first_chain_id, init_radius, num_warmup, num_samples,
          num_thin, save_warmup, refresh, NUTS_INIT_STEPSIZE, NUTS_STEPSIZE_JITTER,
          NUTS_MAX_DEPTH, NUTS_DELTA, NUTS_GAMMA, NUTS_KAPPA, NUTS_T0, NUTS_INIT_BUFFER,
          NUTS_TERM_BUFFER, NUTS_WINDOW, interrupt, logger, init_writers[0], sample_writers[0],
          diagnostic_writers[0]);
    } else {
      rc = stan::services::sample::hmc_static_diag_e(
          *model, *inits[0], call_seed, first_chain_id, init_radius, num_warmup, num_samples,
          num_thin, save_warmup, refresh, step_size, 0.0, int_time, interrupt, logger,
          init_writers[0], sample_writers[0], diagnostic_writers[0]);
    }
    const auto stop = std::chrono::steady_clock::now();
    if (rc != 0) {
      return fail("stan::services::sample::" +
                  std::string(nuts ? "hmc_nuts_diag_e_adapt" : "hmc_static_diag_e") +
                  " returned error code " + std::to_string(rc) + " (details on stderr)");
    }
    if (r > 0) {
      times_s.push_back(std::chrono::duration<double>(stop - start).count());
      double slowest = 0.0;
      for (const auto& w : sample_writers) slowest = std::max(slowest, w.elapsed_total_s);
      stan_elapsed_s.push_back(slowest);
    }
    if (r == repeats) last = std::move(sample_writers);
  }

  std::ostringstream out;
  out << "{\"method\": \"" << method << "\", \"stan_version\": \"" << stan::MAJOR_VERSION
      << "." << stan::MINOR_VERSION << "." << stan::PATCH_VERSION << "\"";
  if (nuts) {
    out << ", \"nuts\": {\"init_stepsize\": " << json_number(NUTS_INIT_STEPSIZE)
        << ", \"stepsize_jitter\": " << json_number(NUTS_STEPSIZE_JITTER)
        << ", \"max_depth\": " << NUTS_MAX_DEPTH << ", \"delta\": " << json_number(NUTS_DELTA)
        << ", \"gamma\": " << json_number(NUTS_GAMMA) << ", \"kappa\": " << json_number(NUTS_KAPPA)
        << ", \"t0\": " << json_number(NUTS_T0) << ", \"init_buffer\": " << NUTS_INIT_BUFFER
        << ", \"term_buffer\": " << NUTS_TERM_BUFFER << ", \"window\": " << NUTS_WINDOW
        << ", \"init_radius\": " << json_number(NUTS_INIT_RADIUS) << "}";
  } else {
    out << ", \"n_leapfrog\": " << n_leapfrog << ", \"int_time\": " << json_number(int_time);
  }
  out << ", \"times_s\": [";
  for (std::size_t i = 0; i < times_s.size(); ++i) {
    out << (i ? ", " : "") << json_number(times_s[i]);
  }
  out << "], \"stan_elapsed_s\": [";
  for (std::size_t i = 0; i < stan_elapsed_s.size(); ++i) {
    out << (i ? ", " : "") << json_number(stan_elapsed_s[i]);
  }
  out << "], \"peak_rss_bytes\": " << peak_rss_bytes() << ", \"n_chains\": " << num_chains
      << ", \"messages\": [";
  const memory_writer& first = last.front();
  for (std::size_t i = 0; i < first.messages.size(); ++i) {
    out << (i ? ", " : "") << "\"" << json_escape(first.messages[i]) << "\"";
  }
  out << "], \"names\": [";
  for (std::size_t i = 0; i < first.names.size(); ++i) {
    out << (i ? ", " : "") << "\"" << json_escape(first.names[i]) << "\"";
  }
  out << "], \"draws\": [";
  for (std::size_t c = 0; c < last.size(); ++c) {
    out << (c ? ", " : "") << "[";
    for (std::size_t d = 0; d < last[c].draws.size(); ++d) {
      out << (d ? ", " : "") << "[";
      for (std::size_t i = 0; i < last[c].draws[d].size(); ++i) {
        out << (i ? ", " : "") << json_number(last[c].draws[d][i]);
      }
      out << "]";
    }
    out << "]";
  }
  out << "]}";
  std::cout << out.str() << std::endl;
  delete model;
  return 0;
}
