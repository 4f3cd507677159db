#include "io/crash_guard.h"

#include <signal.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <cstring>

namespace blockscope::io {
namespace {

constexpr std::size_t kPathBytes = 4096;
constexpr std::size_t kSlots = 16;

// Plain buffers: the handler may only read memory and make async-signal-safe calls.
char input_path[kPathBytes] = "";
std::array<char[kPathBytes], kSlots> temporary;
volatile sig_atomic_t in_use[kSlots] = {};

void copy_path(char* to, const std::string& from) {
  const std::size_t n = std::min(from.size(), kPathBytes - 1);
  std::memcpy(to, from.data(), n);
  to[n] = '\0';
}

void write_text(const char* text) {
  const ssize_t ignored = ::write(STDERR_FILENO, text, std::strlen(text));
  (void)ignored;
}

void on_crash(int signal) {
  for (std::size_t i = 0; i < kSlots; ++i) {
    if (in_use[i]) ::unlink(temporary[i]);
  }
  const char* name = signal == SIGSEGV  ? "SIGSEGV"
                     : signal == SIGBUS ? "SIGBUS"
                     : signal == SIGFPE ? "SIGFPE"
                                        : "SIGILL";
  write_text("blockscope: error: crashed (");
  write_text(name);
  if (input_path[0] == '\0') {
    write_text("); please report this with the command line\n");
  } else {
    write_text("; the last input opened was ");
    write_text(input_path);
    write_text(": if it is corrupt, recreate it; if it is intact, please report this with the command line)\n");
  }
  ::_exit(1);
}

}  // namespace

void install_crash_guard() {
  // Its own stack, so that a stack overflow still reaches the handler.
  static char stack[64 * 1024];
  stack_t alternate{};
  alternate.ss_sp = stack;
  alternate.ss_size = sizeof(stack);
  ::sigaltstack(&alternate, nullptr);
  struct sigaction action {};
  action.sa_handler = on_crash;
  sigemptyset(&action.sa_mask);
  action.sa_flags = SA_RESETHAND | SA_ONSTACK;
  for (int signal : {SIGSEGV, SIGBUS, SIGFPE, SIGILL}) ::sigaction(signal, &action, nullptr);
}

void note_input_file(const std::string& path) { copy_path(input_path, path); }

void register_temporary_file(const std::string& path) {
  for (std::size_t i = 0; i < kSlots; ++i) {
    if (!in_use[i]) {
      copy_path(temporary[i], path);
      std::atomic_signal_fence(std::memory_order_seq_cst);  // the path is complete before the slot is seen
      in_use[i] = 1;
      return;
    }
  }
}

void unregister_temporary_file(const std::string& path) {
  for (std::size_t i = 0; i < kSlots; ++i) {
    if (in_use[i] && path == temporary[i]) {
      in_use[i] = 0;
      return;
    }
  }
}

}  // namespace blockscope::io
