# Third-party dependencies: Debian bookworm packages (see README), or a
# LibTorch 2.x given through CMAKE_PREFIX_PATH.
find_package(Torch REQUIRED)
if(BLOCKSCOPE_WITH_CUDA)
  # A CUDA LibTorch appends -gencode flags for its own archs; blockscope's CUDA
  # targets set theirs per target (BlockscopeCuda.cmake).
  string(REGEX REPLACE "(-gencode|--generate-code)[ =][^ ]+" "" CMAKE_CUDA_FLAGS "${CMAKE_CUDA_FLAGS}")
endif()
find_package(Eigen3 3.3 REQUIRED NO_MODULE)
find_package(HDF5 REQUIRED COMPONENTS C CXX)
find_package(CLI11 REQUIRED)
find_package(fmt REQUIRED)
find_package(nlohmann_json 3 REQUIRED)
find_package(Threads REQUIRED)

# Spectra is header-only; Debian ships no CMake config for 1.0.1.
find_path(SPECTRA_INCLUDE_DIR Spectra/SymEigsSolver.h REQUIRED)
add_library(blockscope_spectra INTERFACE)
target_include_directories(blockscope_spectra SYSTEM INTERFACE ${SPECTRA_INCLUDE_DIR})
target_link_libraries(blockscope_spectra INTERFACE Eigen3::Eigen)

add_library(blockscope_hdf5 INTERFACE)
target_include_directories(blockscope_hdf5 SYSTEM INTERFACE ${HDF5_INCLUDE_DIRS})
target_link_libraries(blockscope_hdf5 INTERFACE ${HDF5_CXX_LIBRARIES} ${HDF5_LIBRARIES})
target_compile_definitions(blockscope_hdf5 INTERFACE ${HDF5_DEFINITIONS})

# Python: always Debian's interpreter, whose site-packages hold torch,
# matplotlib and h5py (the pyenv python3 on PATH has none of them).
if(NOT Python3_EXECUTABLE AND EXISTS /usr/bin/python3)
  set(Python3_EXECUTABLE /usr/bin/python3)
endif()
if(BLOCKSCOPE_PYTHON)
  find_package(Python3 REQUIRED COMPONENTS Interpreter Development.Embed Development.Module)
  find_package(pybind11 CONFIG REQUIRED)
else()
  find_package(Python3 COMPONENTS Interpreter)
endif()

# The one precompiled LibTorch header, compiled once and reused.
file(WRITE ${CMAKE_BINARY_DIR}/blockscope_torch_pch.cpp "")
add_library(blockscope_torch_pch OBJECT ${CMAKE_BINARY_DIR}/blockscope_torch_pch.cpp)
target_link_libraries(blockscope_torch_pch PUBLIC ${TORCH_LIBRARIES})
target_precompile_headers(blockscope_torch_pch PUBLIC
  <torch/nn/module.h> <torch/nn/modules/linear.h> <torch/nn/modules/conv.h>
  <torch/nn/modules/batchnorm.h> <torch/nn/modules/normalization.h>
  <torch/nn/modules/embedding.h> <torch/nn/functional.h> <ATen/ATen.h>
  <torch/csrc/autograd/autograd.h> <torch/script.h>)
