// Ablation grids; contract in grid.h.
#include "experiments/ablation/grid.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <functional>
#include <limits>
#include <map>
#include <stdexcept>

namespace blockscope::ablation {
namespace {

using json = nlohmann::json;

const std::vector<std::string> kAxes = {"models", "data", "partitions", "optimizers", "lrs", "seeds"};

std::string type_name(const json& v) { return v.type_name(); }

[[noreturn]] void fail(const std::string& source, const std::string& key, const std::string& what) {
  throw std::runtime_error(fmt::format("{}: '{}' {}", source, key, what));
}

template <typename T>
T scalar(const json& v, const std::string& source, const std::string& key) {
  if constexpr (std::is_same_v<T, std::string>) {
    if (!v.is_string()) fail(source, key, fmt::format("must be a string (got {})", type_name(v)));
  } else if constexpr (std::is_same_v<T, bool>) {
    if (!v.is_boolean()) fail(source, key, fmt::format("must be true or false (got {})", type_name(v)));
  } else if constexpr (std::is_integral_v<T>) {
    if (!v.is_number_integer()) {
      fail(source, key,
           v.is_number() ? fmt::format("must be an integer (got {})", v.dump())
                         : fmt::format("must be an integer (got {})", type_name(v)));
    }
    if constexpr (std::is_unsigned_v<T>) {
      if (!v.is_number_unsigned()) fail(source, key, fmt::format("must be ≥ 0 (got {})", v.dump()));
    } else if (v.is_number_unsigned() &&
               v.get<std::uint64_t>() > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max())) {
      fail(source, key, fmt::format("is too large (got {})", v.dump()));
    }
  } else {
    if (!v.is_number()) fail(source, key, fmt::format("must be a number (got {})", type_name(v)));
  }
  return v.get<T>();
}

template <typename T>
std::vector<T> axis(const json& config, const std::string& source, const std::string& key, std::vector<T> fallback) {
  if (!config.contains(key)) return fallback;
  const json& v = config.at(key);
  if (!v.is_array() || v.empty()) fail(source, key, "must be a non-empty list");
  std::vector<T> out;
  for (const json& item : v) out.push_back(scalar<T>(item, source, key + " entry"));
  return out;
}

// The shared settings: name → how to read it into TrainOptions, and how to write it back.
struct Setting {
  std::function<void(const json&, const std::string&, const std::string&, training::TrainOptions&)> read;
  std::function<json(const training::TrainOptions&)> write;
};

template <typename T>
Setting setting(T training::TrainOptions::*field) {
  return {[field](const json& v, const std::string& source, const std::string& key, training::TrainOptions& o) {
            o.*field = scalar<T>(v, source, key);
          },
          [field](const training::TrainOptions& o) { return json(o.*field); }};
}

const std::map<std::string, Setting>& settings() {
  using O = training::TrainOptions;
  static const std::map<std::string, Setting> table = {{"steps", setting(&O::steps)},
                                                       {"batch_size", setting(&O::batch_size)},
                                                       {"examples", setting(&O::examples)},
                                                       {"schedule", setting(&O::schedule)},
                                                       {"warmup", setting(&O::warmup)},
                                                       {"weight_decay", setting(&O::weight_decay)},
                                                       {"betas", setting(&O::betas)},
                                                       {"eps", setting(&O::eps)},
                                                       {"shuffle", setting(&O::shuffle)},
                                                       {"non_finite", setting(&O::non_finite)},
                                                       {"eval_fraction", setting(&O::eval_fraction)},
                                                       {"eval_every", setting(&O::eval_every)},
                                                       {"n_heads", setting(&O::n_heads)},
                                                       {"n_kv_heads", setting(&O::n_kv_heads)},
                                                       {"head_dim", setting(&O::head_dim)}};
  return table;
}

}  // namespace

json Grid::canonical() const {
  json out = {{"models", models},         {"data", data}, {"partitions", partitions},
              {"optimizers", optimizers}, {"lrs", lrs},   {"seeds", seeds}};
  for (const auto& [key, s] : settings()) out[key] = s.write(shared);
  return out;
}

Grid parse_grid(const json& config, const std::string& source) {
  if (!config.is_object()) {
    throw std::runtime_error(fmt::format("{}: an ablation grid is a JSON object (got {})", source, type_name(config)));
  }
  std::string valid;
  for (const std::string& a : kAxes) valid += (valid.empty() ? "" : ", ") + a;
  for (const auto& [key, s] : settings()) valid += ", " + key;
  for (const auto& [key, value] : config.items()) {
    const bool is_axis = std::find(kAxes.begin(), kAxes.end(), key) != kAxes.end();
    if (!is_axis && settings().count(key) == 0) fail(source, key, fmt::format("is not a grid key (valid: {})", valid));
    if (!is_axis && value.is_array()) {
      fail(source, key,
           "is a shared setting, one value for every cell (the axes are: models, data, partitions, "
           "optimizers, lrs, seeds)");
    }
  }
  if (!config.contains("models")) fail(source, "models", "is required: a list of zoo models or TorchScript files");
  Grid g;
  g.models = axis<std::string>(config, source, "models", {});
  g.data = axis<std::string>(config, source, "data", {"auto"});
  g.partitions = axis<std::string>(config, source, "partitions", {kDefaultPartition});
  g.optimizers = axis<std::string>(config, source, "optimizers", {"adamw"});
  g.lrs = axis<double>(config, source, "lrs", {1e-3});
  g.seeds = axis<std::uint64_t>(config, source, "seeds", {0});
  for (const auto& [key, value] : config.items()) {
    const auto it = settings().find(key);
    if (it != settings().end()) it->second.read(value, source, key, g.shared);
  }
  // An ablation is judged on held-out loss: every source holds out a tenth unless the grid says otherwise.
  if (!config.contains("eval_fraction")) g.shared.eval_fraction = 0.1;
  if (!(g.shared.eval_fraction >= 0.0 && g.shared.eval_fraction < 1.0)) {
    fail(source, "eval_fraction", fmt::format("must lie in [0, 1) (got {})", g.shared.eval_fraction));
  }
  for (double lr : g.lrs) {
    if (!(lr >= 0.0) || !std::isfinite(lr))
      fail(source, "lrs", fmt::format("entries must be finite and ≥ 0 (got {})", lr));
  }
  return g;
}

Grid read_grid(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw std::runtime_error(fmt::format("ablation config {} cannot be read (give a GRID.json path)", path));
  json config;
  try {
    in >> config;
  } catch (const json::exception& e) {
    const std::string what = e.what();
    throw std::runtime_error(fmt::format("{} is not valid JSON ({})", path, what.substr(what.find(' ') + 1)));
  }
  return parse_grid(config, path);
}

std::vector<Cell> cells(const Grid& g) {
  std::vector<Cell> out;
  for (const auto& model : g.models)
    for (const auto& data : g.data)
      for (const auto& partition : g.partitions)
        for (const auto& optimizer : g.optimizers)
          for (double lr : g.lrs)
            for (std::uint64_t seed : g.seeds) {
              out.push_back({static_cast<std::int64_t>(out.size()), model, data, partition, optimizer, lr, seed});
            }
  return out;
}

training::TrainOptions cell_options(const Grid& g, const Cell& c, const std::string& run_file) {
  training::TrainOptions o = g.shared;
  o.model = c.model;
  o.data = c.data;
  o.partition = c.partition == kDefaultPartition ? "" : c.partition;
  o.optimizer = c.optimizer;
  o.lr = c.lr;
  o.seed = c.seed;
  o.out = run_file;
  return o;
}

}  // namespace blockscope::ablation
