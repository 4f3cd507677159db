# Compiler set-up shared by every target: ccache when present, warnings, and
# one precompiled header of the LibTorch headers that the torch-using targets
# reuse (one torch TU costs ~40 s on 2 cores; the PCH pays that once).
find_program(BLOCKSCOPE_CCACHE ccache)
if(BLOCKSCOPE_CCACHE)
  set(CMAKE_CXX_COMPILER_LAUNCHER ${BLOCKSCOPE_CCACHE})
  set(CMAKE_CUDA_COMPILER_LAUNCHER ${BLOCKSCOPE_CCACHE})
  # PCH + ccache needs these to give cache hits.
  set(ENV{CCACHE_SLOPPINESS} "pch_defines,time_macros,include_file_mtime,include_file_ctime")
endif()

add_library(blockscope_warnings INTERFACE)
target_compile_options(blockscope_warnings INTERFACE
  $<$<COMPILE_LANGUAGE:CXX>:-Wall -Wextra -Wno-unused-parameter>)

# Links a target against LibTorch and reuses the shared precompiled header.
function(blockscope_use_torch target)
  target_link_libraries(${target} PUBLIC ${TORCH_LIBRARIES})
  target_precompile_headers(${target} REUSE_FROM blockscope_torch_pch)
endfunction()
