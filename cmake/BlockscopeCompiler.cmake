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
option(BLOCKSCOPE_WERROR "Treat warnings in blockscope's own code as errors (on in scripts/test, hence CI)" OFF)
if(BLOCKSCOPE_WERROR)
  target_compile_options(blockscope_warnings INTERFACE $<$<COMPILE_LANGUAGE:CXX>:-Werror>)
endif()

# Address + undefined-behaviour sanitizers over everything built (scripts/test
# builds the torch-free test suites this way in build-sanitize/).
option(BLOCKSCOPE_SANITIZE "Build with -fsanitize=address,undefined" OFF)
if(BLOCKSCOPE_SANITIZE)
  add_compile_options($<$<COMPILE_LANGUAGE:CXX>:-fsanitize=address,undefined> $<$<COMPILE_LANGUAGE:CXX>:-fno-sanitize-recover=undefined>
                      $<$<COMPILE_LANGUAGE:CXX>:-fno-omit-frame-pointer>)
  add_link_options(-fsanitize=address,undefined)
endif()

# Links a target against LibTorch and reuses the shared precompiled header.
# Executables compile -fPIC like the header (built for the PIC libraries);
# with CMake's -fPIE GCC would refuse the header and recompile every
# LibTorch include (-Winvalid-pch).
function(blockscope_use_torch target)
  target_link_libraries(${target} PUBLIC ${TORCH_LIBRARIES})
  target_precompile_headers(${target} REUSE_FROM blockscope_torch_pch)
  get_target_property(type ${target} TYPE)
  if(type STREQUAL "EXECUTABLE")
    target_compile_options(${target} PRIVATE $<$<COMPILE_LANGUAGE:CXX>:-fPIC>)
  endif()
endfunction()
