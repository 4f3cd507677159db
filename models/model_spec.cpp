#include "models/model_spec.h"

#include <fmt/format.h>

#include <stdexcept>

namespace blockscope::models {

ModelSpec::ModelSpec(const std::string& spec) {
  std::size_t colon = spec.find(':');
  name_ = spec.substr(0, colon);
  if (colon == std::string::npos) return;
  std::string rest = spec.substr(colon + 1);
  std::size_t start = 0;
  while (start <= rest.size()) {
    std::size_t end = rest.find(',', start);
    if (end == std::string::npos) end = rest.size();
    std::string item = rest.substr(start, end - start);
    std::size_t eq = item.find('=');
    if (eq == std::string::npos || eq == 0) {
      throw std::runtime_error(
          fmt::format("malformed model option '{}' in '{}': write key=value pairs separated by commas, "
                      "e.g. gpt:n_layer=4,d_model=128",
                      item, spec));
    }
    values_[item.substr(0, eq)] = item.substr(eq + 1);
    start = end + 1;
  }
}

std::int64_t ModelSpec::get_int(const std::string& key, std::int64_t fallback) {
  auto it = values_.find(key);
  if (it == values_.end()) return fallback;
  used_.insert(key);
  std::size_t pos = 0;
  std::int64_t value = 0;
  try {
    value = std::stoll(it->second, &pos);
  } catch (const std::exception&) {
    pos = 0;
  }
  if (pos != it->second.size() || it->second.empty()) {
    throw std::runtime_error(fmt::format("model option {}={} is not an integer", key, it->second));
  }
  if (value <= 0) {
    throw std::runtime_error(fmt::format("model option {}={} must be positive", key, it->second));
  }
  return value;
}

bool ModelSpec::get_bool(const std::string& key, bool fallback) {
  auto it = values_.find(key);
  if (it == values_.end()) return fallback;
  used_.insert(key);
  if (it->second == "1" || it->second == "true" || it->second == "on") return true;
  if (it->second == "0" || it->second == "false" || it->second == "off") return false;
  throw std::runtime_error(fmt::format("model option {}={} is not a boolean (use true or false)", key, it->second));
}

std::string ModelSpec::get_string(const std::string& key, const std::string& fallback) {
  auto it = values_.find(key);
  if (it == values_.end()) return fallback;
  used_.insert(key);
  return it->second;
}

void ModelSpec::finish(const std::vector<OptionDoc>& docs) const {
  for (const auto& [key, value] : values_) {
    if (used_.count(key)) continue;
    std::string valid;
    for (const OptionDoc& d : docs) valid += (valid.empty() ? "" : ", ") + d.key;
    throw std::runtime_error(
        fmt::format("unknown option '{}' for model '{}' (valid: {})", key, name_, valid.empty() ? "none" : valid));
  }
}

}  // namespace blockscope::models
