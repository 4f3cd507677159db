// The real text corpus: the license texts every Debian system ships in
// /usr/share/common-licenses (package base-files), concatenated in a fixed
// order — about 237 kB of English legal prose. Byte-level tokens (vocab 256).
#pragma once

#include <string>

#include "data/dataset.h"

namespace blockscope::data {

// The corpus bytes; throws naming the missing file if one is absent.
std::string read_text_corpus();

// Non-overlapping windows of length+1 bytes: inputs = window[:-1],
// targets = window[1:]; at most `examples` windows (fewer if the corpus is
// shorter). Windows start at offsets drawn without replacement by `seed`.
Dataset text_windows(std::int64_t examples, std::int64_t length, std::uint64_t seed);

}  // namespace blockscope::data
