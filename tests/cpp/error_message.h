// Test helper: the message of the exception `f` throws, or "(no error)", so
// tests can assert on the exact one-line errors users see.
#pragma once

#include <exception>
#include <functional>
#include <string>

namespace blockscope::testing {

inline std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const std::exception& e) {
    return e.what();
  }
  return "(no error)";
}

}  // namespace blockscope::testing
