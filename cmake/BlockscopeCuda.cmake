# BLOCKSCOPE_CUDA: ON requires nvcc, AUTO enables CUDA when nvcc is found.
include(CheckLanguage)
set(BLOCKSCOPE_WITH_CUDA OFF)
if(NOT BLOCKSCOPE_CUDA STREQUAL "OFF")
  if(NOT CMAKE_CUDA_COMPILER AND EXISTS /usr/local/cuda/bin/nvcc)
    set(CMAKE_CUDA_COMPILER /usr/local/cuda/bin/nvcc)
  endif()
  check_language(CUDA)
  if(CMAKE_CUDA_COMPILER)
    # Ampere and Hopper (H100/H200) unless the user passed
    # -DCMAKE_CUDA_ARCHITECTURES or -DBLOCKSCOPE_CUDA_ARCHITECTURES.
    # blockscope's CUDA targets get these per target (blockscope_cuda_target):
    # LibTorch's CMake (find_package(Torch), run next) may set
    # CMAKE_CUDA_ARCHITECTURES and append its own -gencode flags to
    # CMAKE_CUDA_FLAGS for the archs torch was built for (removed there).
    set(_archs "80;90")
    if(BLOCKSCOPE_USER_CUDA_ARCHITECTURES)
      set(_archs "${BLOCKSCOPE_USER_CUDA_ARCHITECTURES}")
    endif()
    set(BLOCKSCOPE_CUDA_ARCHITECTURES "${_archs}" CACHE STRING "CUDA architectures of blockscope's kernels (e.g. 90, or 80;90)")
    if(NOT DEFINED CMAKE_CUDA_ARCHITECTURES)
      set(CMAKE_CUDA_ARCHITECTURES ${BLOCKSCOPE_CUDA_ARCHITECTURES})
    endif()
    enable_language(CUDA)
    set(CMAKE_CUDA_STANDARD 17)
    set(CMAKE_CUDA_STANDARD_REQUIRED ON)
    find_package(CUDAToolkit REQUIRED)
    set(BLOCKSCOPE_WITH_CUDA ON)
  elseif(BLOCKSCOPE_CUDA STREQUAL "ON")
    message(FATAL_ERROR "BLOCKSCOPE_CUDA=ON but no nvcc was found: install the CUDA toolkit or pass -DCMAKE_CUDA_COMPILER=/path/to/nvcc (or use -DBLOCKSCOPE_CUDA=AUTO).")
  endif()
endif()

# Compiles `target`'s CUDA sources for BLOCKSCOPE_CUDA_ARCHITECTURES, whatever
# LibTorch's CMake set globally.
function(blockscope_cuda_target target)
  set_property(TARGET ${target} PROPERTY CUDA_ARCHITECTURES ${BLOCKSCOPE_CUDA_ARCHITECTURES})
endfunction()
