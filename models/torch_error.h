// One line from a LibTorch or TorchScript error, for blockscope's one-line
// error messages: c10::Error text carries a C++ backtrace, and errors raised
// inside a TorchScript module carry the interpreter's traceback before the
// message that says what went wrong.
#pragma once

#include <exception>

#include <string>

namespace blockscope::models {

// The message of `error` without backtraces (c10::Error's
// what_without_backtrace for LibTorch errors): the last "SomethingError: ..."
// line of a TorchScript traceback (prefix removed), else the first non-empty
// line.
std::string torch_error_message(const std::exception& error);

// The first non-empty line of `text`.
std::string first_line(const std::string& text);

}  // namespace blockscope::models
