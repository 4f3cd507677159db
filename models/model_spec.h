// Parsing of model specs "name" or "name:key=value,key=value" with typed,
// documented options. Every option read is marked used; finish() rejects
// the unknown ones and lists the valid keys (docs/style.md 13).
#pragma once

#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <vector>

namespace blockscope::models {

struct OptionDoc {
  std::string key;
  std::string default_value;
  std::string help;
};

class ModelSpec {
 public:
  // Throws on a malformed spec ("gpt:n_layer" without '=').
  explicit ModelSpec(const std::string& spec);

  const std::string& name() const { return name_; }
  bool has(const std::string& key) const { return values_.count(key) != 0; }
  std::int64_t get_int(const std::string& key, std::int64_t fallback);
  bool get_bool(const std::string& key, bool fallback);
  std::string get_string(const std::string& key, const std::string& fallback);
  // Rejects options that were never read, naming the valid ones.
  void finish(const std::vector<OptionDoc>& docs) const;

 private:
  std::string name_;
  std::map<std::string, std::string> values_;
  std::set<std::string> used_;
};

}  // namespace blockscope::models
