"""Bad input: a one-line error on stderr naming the problem, non-zero exit,
and nothing written."""
import h5py
import numpy as np
import pytest


def expect_error(blockscope, args, fragment):
    result = blockscope(*args, check=False)
    assert result.returncode != 0, f"{args} should fail"
    lines = [line for line in result.stderr.strip().splitlines() if line]
    assert len(lines) == 1, f"expected one error line, got:\n{result.stderr}"
    assert fragment in lines[0], lines[0]
    assert result.stdout == "", "no partial output on failure"


def h5_file(path, **datasets):
    with h5py.File(path, "w") as f:
        for name, value in datasets.items():
            f[name] = value
    return path


def test_unknown_model(blockscope):
    expect_error(blockscope, ["info", "--model", "transformer"], "unknown model 'transformer' (valid zoo models: mlp, cnn")


def test_unknown_model_option(blockscope):
    expect_error(blockscope, ["info", "--model", "gpt:layers=2"], "unknown option 'layers' for model 'gpt'")


def test_unknown_command_line_option(blockscope):
    result = blockscope("info", "--model", "gpt", "--colour", "red", check=False)
    assert result.returncode != 0
    assert "--colour" in result.stderr


def test_missing_torchscript_file(blockscope, tmp_path):
    expect_error(blockscope, ["info", "--model", tmp_path / "nope.pt"], "model file not found")


def test_corrupt_torchscript_file(blockscope, tmp_path):
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"\x00\x01 not a zip archive at all")
    expect_error(blockscope, ["info", "--model", bad], "is not a readable TorchScript file")


def test_missing_data_file(blockscope, tmp_path):
    expect_error(blockscope, ["info", "--model", "mlp", "--data", tmp_path / "none.h5"], "file not found")


def test_corrupt_data_file(blockscope, tmp_path):
    bad = tmp_path / "bad.h5"
    bad.write_text("not hdf5")
    expect_error(blockscope, ["info", "--model", "mlp", "--data", bad], "is not an HDF5 file")


def test_data_without_targets(blockscope, tmp_path):
    path = h5_file(tmp_path / "x.h5", inputs=np.zeros((4, 16), np.float32))
    expect_error(blockscope, ["info", "--model", "mlp", "--data", path], "has no dataset 'targets'")


def test_data_with_mismatched_first_dimensions(blockscope, tmp_path):
    path = h5_file(tmp_path / "x.h5", inputs=np.zeros((4, 16), np.float32), targets=np.zeros(5, np.int64))
    expect_error(blockscope, ["info", "--model", "mlp", "--data", path], "'inputs' has 4 examples but 'targets' has 5")


def test_data_with_wrong_feature_shape(blockscope, tmp_path):
    path = h5_file(tmp_path / "x.h5", inputs=np.zeros((4, 7), np.float32), targets=np.zeros(4, np.int64))
    expect_error(blockscope, ["info", "--model", "mlp", "--data", path], "do not fit the model, which takes float 16")


def test_data_with_string_targets(blockscope, tmp_path):
    path = h5_file(tmp_path / "x.h5", inputs=np.zeros((2, 16), np.float32),
                   targets=np.array(["a", "b"], dtype=h5py.string_dtype()))
    expect_error(blockscope, ["info", "--model", "mlp", "--data", path], "unsupported element type")


def test_data_with_nan(blockscope, tmp_path):
    x = np.zeros((2, 16), np.float32)
    x[1, 3] = np.nan
    path = h5_file(tmp_path / "x.h5", inputs=x, targets=np.zeros(2, np.int64))
    expect_error(blockscope, ["info", "--model", "mlp", "--data", path], "contains NaN or Inf")


def test_data_with_class_ids_out_of_range(blockscope, tmp_path):
    path = h5_file(tmp_path / "x.h5", inputs=np.zeros((2, 16), np.float32), targets=np.array([0, 9]))
    expect_error(blockscope, ["info", "--model", "mlp", "--data", path], "must lie in [0, 4)")


def test_float_tokens_for_gpt(blockscope, tmp_path):
    path = h5_file(tmp_path / "x.h5", inputs=np.zeros((2, 8), np.float32), targets=np.zeros((2, 8), np.int64))
    expect_error(blockscope, ["info", "--model", "gpt", "--data", path], "do not fit a token model")


def test_data_source_that_does_not_fit(blockscope):
    expect_error(blockscope, ["info", "--model", "gpt", "--data", "images"], "does not fit this model")
