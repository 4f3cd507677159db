#include "models/torch_error.h"

#include <c10/util/Exception.h>

#include <regex>
#include <sstream>

namespace blockscope::models {

std::string first_line(const std::string& text) {
  std::istringstream lines(text);
  for (std::string line; std::getline(lines, line);) {
    if (line.find_first_not_of(" \t\r") != std::string::npos) return line;
  }
  return text;
}

std::string torch_error_message(const std::exception& error) {
  const auto* c10_error = dynamic_cast<const c10::Error*>(&error);
  const std::string text = c10_error ? c10_error->what_without_backtrace() : error.what();
  static const std::regex raised(R"(^\s*(?:[A-Za-z_.]*Error|Exception): (.*\S)\s*$)");
  std::istringstream lines(text);
  std::string found;
  std::smatch m;
  for (std::string line; std::getline(lines, line);) {
    if (std::regex_match(line, m, raised)) found = m[1];
  }
  return found.empty() ? first_line(text) : found;
}

}  // namespace blockscope::models
