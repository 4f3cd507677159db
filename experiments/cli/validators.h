// CLI11 validators with short messages ("--threads: must be ≥ 0, got -2";
// CLI11's own NonNegativeNumber prints the whole double range).
#pragma once

#include <CLI/CLI.hpp>

#include <string>

namespace blockscope::cli {

inline CLI::Validator at_least(double minimum, const std::string& description) {
  return CLI::Validator(
      [minimum, description](std::string& text) -> std::string {
        double value = 0;
        if (!CLI::detail::lexical_cast(text, value)) return "needs a number, got '" + text + "'";
        return value >= minimum ? std::string() : "must be " + description + ", got " + text;
      },
      description);
}

// Strictly above `minimum` (σ > 0).
inline CLI::Validator above(double minimum, const std::string& description) {
  return CLI::Validator(
      [minimum, description](std::string& text) -> std::string {
        double value = 0;
        if (!CLI::detail::lexical_cast(text, value)) return "needs a number, got '" + text + "'";
        return value > minimum ? std::string() : "must be " + description + ", got " + text;
      },
      description);
}

// A fraction in [0, 1) (a held-out share of the data).
inline const CLI::Validator kFraction = CLI::Validator(
    [](std::string& text) -> std::string {
      double value = 0;
      if (!CLI::detail::lexical_cast(text, value)) return "needs a number, got '" + text + "'";
      return value >= 0.0 && value < 1.0 ? std::string() : "must lie in [0, 1), got " + text;
    },
    "in [0, 1)");

inline const CLI::Validator kNonNegative = at_least(0, "≥ 0");
inline const CLI::Validator kPositive = at_least(1, "≥ 1");

}  // namespace blockscope::cli
