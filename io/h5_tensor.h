// Tensors as HDF5 datasets, in every dtype a model's parameters and buffers
// may have. A dataset keeps the tensor's shape (a 0-d tensor is a scalar
// dataset) and carries an attribute `dtype` with the torch dtype name.
// Storage: float64/float32/int64/int32/int16/int8/uint8 as the native HDF5
// type of the same width; bool as uint8 0/1; float16 and bfloat16 as their
// 16-bit patterns (uint16), so the `dtype` attribute is what tells them apart.
// h5py reads every one of them as a numpy array.
#pragma once

#include <ATen/ATen.h>
#include <H5Cpp.h>

#include <string>

namespace blockscope::io {

// The dtype's name as stored: "float32", "bool", ...; c10's name for others.
std::string dtype_name(at::ScalarType dtype);

// Writes `tensor` (any device) under `name`. Throws a one-line
// std::runtime_error for a dtype outside the list above (complex, quantized).
void write_tensor(H5::Group& group, const std::string& name, const at::Tensor& tensor);

// The torch dtype a dataset stores: its `dtype` attribute when present
// (written by write_tensor), else the HDF5 element type: float of 8 bytes →
// float64, other floats → float32; signed integers of 1/2/4/8 bytes → int8/
// int16/int32/int64, unsigned 1-byte → uint8, wider unsigned → int64.
// Throws for non-numeric datasets.
at::ScalarType stored_dtype(const H5::Group& group, const std::string& name);

// Reads a dataset as a CPU tensor of its stored shape and dtype. Throws a
// one-line std::runtime_error naming the dataset for strings, compound or
// other non-numeric types, and for bool datasets holding values other than 0/1.
at::Tensor read_tensor(const H5::Group& group, const std::string& name);

}  // namespace blockscope::io
