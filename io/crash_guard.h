// The last line of defence against a crash inside a library (HDF5 1.10 does
// not check the global heap of a corrupt file, so a flipped byte in a
// variable-length string can make H5HG_read fault). After
// install_crash_guard(), a SIGSEGV/SIGBUS/SIGFPE/SIGILL prints ONE line
// naming the last input file opened, removes the temporary files of results
// not yet committed, and exits with status 1 — no core dump, no partial
// output. It does not make the crash correct: the message asks for a report
// when the file is intact.
#pragma once

#include <string>

namespace blockscope::io {

void install_crash_guard();

// The last input file opened, named in the message (it may not be the cause).
void note_input_file(const std::string& path);

// Temporary output files to remove if the process crashes (at most 16 at once).
void register_temporary_file(const std::string& path);
void unregister_temporary_file(const std::string& path);

}  // namespace blockscope::io
