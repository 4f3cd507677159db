// Parsing and printing of optimizer specs; see spec.h for the grammar.
#include "optimizers/spec.h"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <stdexcept>
#include <utility>

namespace blockscope::optimizers {
namespace {

struct Preset {
  const char* name;
  const char* spec;
};
const Preset kPresets[] = {
    {"adamw", "v=element,m=fp32,w=fp32,exclude=none"},
    {"adam-mini", "v=shared,m=fp32,w=fp32,exclude=norm:ln:bias"},
    {"gefen", "v=shared,m=codebook,w=fp32,exclude=norm:ln:bias,p1=reference"},
    {"flash-adamw", "v=companded,m=companded,w=bf16+int8,exclude=none"},
    {"sgd", "rule=sgd,v=none,m=fp32,w=fp32,exclude=none"},
    {"lion", "rule=lion,v=none,m=fp32,w=fp32,exclude=none"},
    {"flash-sgd", "rule=sgd,v=none,m=companded,w=bf16+int8,exclude=none"},
    {"flash-lion", "rule=lion,v=none,m=companded,w=bf16+int8,exclude=none"},
};

const std::vector<std::pair<std::string, UpdateRule>> kRule = {
    {"adam", UpdateRule::adam}, {"sgd", UpdateRule::sgd}, {"lion", UpdateRule::lion}};

const std::vector<std::pair<std::string, SecondMoment>> kV = {{"element", SecondMoment::element},
                                                              {"shared", SecondMoment::shared},
                                                              {"companded", SecondMoment::companded},
                                                              {"none", SecondMoment::none}};
const std::vector<std::pair<std::string, FirstMoment>> kM = {{"fp32", FirstMoment::fp32},
                                                             {"bf16", FirstMoment::bf16},
                                                             {"codebook", FirstMoment::codebook},
                                                             {"companded", FirstMoment::companded}};
const std::vector<std::pair<std::string, WeightStorage>> kW = {
    {"fp32", WeightStorage::fp32}, {"bf16+int8", WeightStorage::bf16_int8}, {"bf16+int16", WeightStorage::bf16_int16}};

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

template <typename E>
E lookup(const std::vector<std::pair<std::string, E>>& table, const std::string& key, const std::string& value) {
  std::vector<std::string> names;
  for (const auto& [name, e] : table) {
    if (name == value) return e;
    names.push_back(name);
  }
  throw std::invalid_argument(
      fmt::format("unknown value '{}' for optimizer key '{}' (valid: {})", value, key, fmt::join(names, ", ")));
}

template <typename E>
const std::string& name_of(const std::vector<std::pair<std::string, E>>& table, E e) {
  for (const auto& entry : table) {
    if (entry.second == e) return entry.first;
  }
  throw std::logic_error("optimizer spec: unnamed enum value");
}

void apply(OptimizerSpec& spec, const std::string& key, const std::string& value) {
  if (key == "rule") {
    spec.rule = lookup(kRule, key, value);
  } else if (key == "v") {
    spec.v = lookup(kV, key, value);
  } else if (key == "m") {
    spec.m = lookup(kM, key, value);
  } else if (key == "w") {
    spec.w = lookup(kW, key, value);
  } else if (key == "exclude") {
    spec.decay_exclude.clear();
    if (value == "none") return;
    std::size_t start = 0;
    while (start <= value.size()) {
      std::size_t end = value.find(':', start);
      if (end == std::string::npos) end = value.size();
      std::string piece = lower(value.substr(start, end - start));
      if (piece.empty()) {
        throw std::invalid_argument(
            fmt::format("optimizer key 'exclude' needs ':'-separated name fragments or 'none', got '{}'", value));
      }
      spec.decay_exclude.push_back(piece);
      start = end + 1;
    }
  } else if (key == "p1") {
    if (value != "reference" && value != "fixed") {
      throw std::invalid_argument(
          fmt::format("unknown value '{}' for optimizer key 'p1' (valid: reference, fixed)", value));
    }
    spec.codebook_p1_quirk = value == "reference";
  } else {
    throw std::invalid_argument(fmt::format("unknown optimizer key '{}' (valid: rule, v, m, w, exclude, p1)", key));
  }
}

// Rule and storage that go together (spec.h); else one line saying what to set.
void check_combination(const OptimizerSpec& spec, const std::string& text) {
  const std::string& rule = name_of(kRule, spec.rule);
  if (spec.rule == UpdateRule::adam && spec.v == SecondMoment::none) {
    throw std::invalid_argument(fmt::format(
        "optimizer '{}': rule adam needs a second moment; set v=element, shared or companded (or rule=sgd/lion)",
        text));
  }
  if (spec.rule != UpdateRule::adam && spec.v != SecondMoment::none) {
    throw std::invalid_argument(fmt::format(
        "optimizer '{}': rule {} keeps no second moment; set v=none (or use the {} preset)", text, rule, rule));
  }
  if (spec.rule != UpdateRule::adam && spec.m == FirstMoment::codebook) {
    throw std::invalid_argument(fmt::format(
        "optimizer '{}': rule {} takes m=fp32, bf16 or companded (the codebook m is Gefen's, rule adam)", text, rule));
  }
}

}  // namespace

std::vector<std::string> optimizer_preset_names() {
  std::vector<std::string> names;
  for (const Preset& p : kPresets) names.push_back(p.name);
  return names;
}

OptimizerSpec parse_optimizer_spec(const std::string& text) {
  OptimizerSpec spec;
  std::size_t start = 0;
  bool first = true;
  if (text.empty()) {
    throw std::invalid_argument(fmt::format("empty optimizer spec (presets: {}; or keys rule, v, m, w, exclude, p1)",
                                            fmt::join(optimizer_preset_names(), ", ")));
  }
  while (start <= text.size()) {
    std::size_t end = text.find(',', start);
    if (end == std::string::npos) end = text.size();
    const std::string item = text.substr(start, end - start);
    const std::size_t eq = item.find('=');
    if (eq == std::string::npos) {
      const Preset* preset = nullptr;
      for (const Preset& p : kPresets) {
        if (item == p.name) preset = &p;
      }
      if (!first || preset == nullptr) {
        throw std::invalid_argument(fmt::format(
            "unknown optimizer '{}' (presets: {}; or a spec such as \"v=shared,m=codebook,w=fp32\" with keys rule, "
            "v, m, w, exclude, p1)",
            item, fmt::join(optimizer_preset_names(), ", ")));
      }
      spec = parse_optimizer_spec(preset->spec);
    } else {
      apply(spec, item.substr(0, eq), item.substr(eq + 1));
    }
    first = false;
    start = end + 1;
  }
  check_combination(spec, text);
  return spec;
}

std::string OptimizerSpec::to_string() const {
  return fmt::format("rule={},v={},m={},w={},exclude={},p1={}", name_of(kRule, rule), name_of(kV, v), name_of(kM, m),
                     name_of(kW, w), decay_exclude.empty() ? "none" : fmt::format("{}", fmt::join(decay_exclude, ":")),
                     codebook_p1_quirk ? "reference" : "fixed");
}

bool OptimizerSpec::decays(const std::string& parameter_name) const {
  const std::string name = lower(parameter_name);
  for (const std::string& piece : decay_exclude) {
    if (name.find(piece) != std::string::npos) return false;
  }
  return true;
}

bool OptimizerSpec::operator==(const OptimizerSpec& o) const {
  return rule == o.rule && v == o.v && m == o.m && w == o.w && decay_exclude == o.decay_exclude &&
         codebook_p1_quirk == o.codebook_p1_quirk;
}

std::pair<double, double> default_betas(UpdateRule rule) {
  switch (rule) {
    case UpdateRule::sgd:
      return {0.9, 0.0};
    case UpdateRule::lion:
      return {0.9, 0.99};
    case UpdateRule::adam:
      break;
  }
  return {0.9, 0.999};
}

std::string default_partition_strategy(const OptimizerSpec& spec) {
  if (spec.m == FirstMoment::codebook) return "gefen";
  if (spec.v == SecondMoment::shared) return "adam-mini";
  return "per-element";
}

}  // namespace blockscope::optimizers
