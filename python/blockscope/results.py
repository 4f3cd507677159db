"""Reading blockscope's result files (HDF5, root attribute `schema` =
"blockscope.<kind>/<version>"; the README lists each schema's datasets):

    r = blockscope.load("spectrum.h5")
    r.schema                 # "blockscope.spectrum/1"
    r.settings["probes"]     # every setting, as the run recorded it
    r["js/matrix"]           # a dataset as a numpy array (strings as a list of str)
    r.describe("js/matrix")  # the dataset's own description

A partition file loads as a blockscope.partition.Partition.
"""
import os

import h5py
import numpy as np

from . import partition as _partition


def _value(value):
    if isinstance(value, bytes):
        return value.decode()
    if isinstance(value, np.generic):
        return value.item()
    return value


class Result:
    """The datasets (numpy arrays) and settings of one result file, read into memory."""

    def __init__(self, path, schema, settings, arrays, descriptions):
        self.path, self.schema, self.settings = path, schema, settings
        self._arrays, self._descriptions = arrays, descriptions

    @property
    def kind(self):
        """"spectrum", "dense", "coupling", "run", ... — the schema's kind."""
        return self.schema.split(".", 1)[1].split("/", 1)[0]

    def keys(self):
        """Dataset paths, e.g. "js/matrix", "blocks/names"."""
        return list(self._arrays)

    def __getitem__(self, path):
        key = path.strip("/")
        if key not in self._arrays:
            raise KeyError(f"{self.path} has no dataset '{key}' (it has: {', '.join(self._arrays)})")
        return self._arrays[key]

    def __contains__(self, path):
        return path.strip("/") in self._arrays

    def describe(self, path):
        return self._descriptions.get(path.strip("/"), "")

    def __repr__(self):
        return f"<blockscope Result {self.schema} from {self.path}: {len(self._arrays)} datasets>"


def load(path):
    """Any blockscope result file: a Result, or a Partition for a partition file."""
    path = os.fspath(path)
    if os.path.isdir(path):
        raise IsADirectoryError(f"{path} is a directory, not a blockscope result file (give the path of a .h5 file)")
    if not os.path.isfile(path):
        raise FileNotFoundError(f"{path} does not exist (give the path of a blockscope result file)")
    if not h5py.is_hdf5(path):
        raise ValueError(f"{path} is not an HDF5 file (blockscope writes its results as HDF5)")
    with h5py.File(path, "r") as f:
        schema = _value(f.attrs.get("schema", ""))
        if not isinstance(schema, str) or not schema.startswith("blockscope."):
            raise ValueError(f"{path} is HDF5 but not a blockscope result (no 'schema' attribute blockscope.<kind>/<n>)")
        if schema.startswith("blockscope.partition/"):
            return _partition.load(path)
        settings = {k: _value(v) for k, v in f.attrs.items() if k != "schema"}
        arrays, descriptions = {}, {}

        def visit(name, obj):
            if isinstance(obj, h5py.Dataset):
                data = obj[()]
                if obj.dtype.kind in "SO":
                    data = [_value(x) for x in np.atleast_1d(data)]
                arrays[name] = data
                if "description" in obj.attrs:
                    descriptions[name] = _value(obj.attrs["description"])

        f.visititems(visit)
    return Result(path, schema, settings, arrays, descriptions)


__all__ = ["Result", "load"]
