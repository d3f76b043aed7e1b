"""Re-read every fixture gen.py wrote, independently of normreg_export.py, and
check it: safetensors framing, the tensors load back into the torch model,
metadata agrees with case.json, BatchNorm statistics and scaler values match
expected.json, sklearn's transform output is reproducible from the scaler,
and a small Python rendering of DESIGN.md's checks gives the finding ids
case.json expects. Exits non-zero on the first failure."""
import hashlib
import json
import math
import os
import re
import struct
import sys

import numpy as np
import torch

from gen import CNN, MLP

HERE = os.path.dirname(os.path.abspath(__file__))
DTYPES = {"F16": "<f2", "F32": "<f4", "F64": "<f8", "I32": "<i4", "I64": "<i8", "U8": "u1"}
MAX_BYTES = 2 << 20


def fail(msg):
    sys.exit("check: " + msg)


def read_safetensors(path):
    """Return (metadata, ordered {name: ndarray}) after checking the framing."""
    with open(path, "rb") as f:
        raw = f.read()
    (n,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8:8 + n])
    buf = raw[8 + n:]
    meta = header.pop("__metadata__", {})
    end, tensors = 0, {}
    for name, t in header.items():
        begin, stop = t["data_offsets"]
        a = np.frombuffer(buf[begin:stop], dtype=DTYPES[t["dtype"]])
        if begin != end or a.size != math.prod(t["shape"]):
            fail(f"{path}: {name} does not tile the buffer in order")
        tensors[name], end = a.reshape(t["shape"]), stop
    if end != len(buf) or n % 8 != 0:
        fail(f"{path}: buffer is {len(buf)} bytes, tensors cover {end}; header {n} bytes")
    return meta, tensors


def sha256(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def load_model(push, tensors):
    """Load the tensors into the model class the case names; strict keys and order."""
    model = CNN() if push["input_tensor"].startswith("features.") else MLP(len(push["features"]))
    if list(model.state_dict()) != list(tensors):
        fail(f"tensor order differs from state_dict order: {list(tensors)}")
    model.load_state_dict({k: torch.from_numpy(v.copy()) for k, v in tensors.items()}, strict=True)
    return model


def bn_layers(tensors):
    return {k[:-len(".running_mean")]: {"running_mean": tensors[k].astype(float).tolist(),
                                       "running_var": tensors[k[:-4] + "var"].astype(float).tolist(),
                                       "num_batches_tracked": int(tensors[k[:-12] + "num_batches_tracked"])}
            for k in tensors if k.endswith(".running_mean")}


def check_metadata(meta, push):
    want = {"normreg.mode": push["mode"], "normreg.features": ",".join(push["features"]),
            "normreg.input_tensor": push["input_tensor"]}
    if push["batch_size"] is not None:
        want["normreg.batch_size"] = str(push["batch_size"])
    if push["bn_frozen"]:
        want["normreg.bn_frozen"] = "true"
    for k, v in want.items():
        if meta.get(k) != v:
            fail(f"metadata {k}={meta.get(k)!r}, case.json says {v!r}")


def same(a, b):
    """Equal lists of floats, NaN equal to NaN."""
    return len(a) == len(b) and all(x == y or (math.isnan(x) and math.isnan(y)) for x, y in zip(a, b))


def scaler_findings(case, meta, scaler, sha, input_size):
    push = case["push"]
    if scaler is None:
        return [] if push["no_scaler"] else ["scaler-missing"]
    found = []
    bound = meta.get("normreg.scaler.sha256")
    if (bound and bound != sha) or scaler["feature_names_in_"] != push["features"] \
            or scaler["n_features_in_"] != input_size:
        found.append("scaler-mismatch")
    values = scaler["mean_"] + scaler["scale_"] + scaler["var_"]
    if not all(math.isfinite(v) for v in values) or min(scaler["scale_"]) <= 0:
        found.append("scaler-invalid")
    return found


def bn_findings(case, tensors, bn, parents):
    push = case["push"]
    stale = any(l["num_batches_tracked"] == 0
                or (set(l["running_mean"]) == {0.0} and set(l["running_var"]) == {1.0})
                for l in bn.values())
    if push["parent"] and not push["bn_frozen"]:
        p_tensors, p_bn = parents[push["parent"]]
        changed = any(not np.array_equal(tensors[k], p_tensors[k]) for k in tensors)
        # A layer that kept the parent's statistics while its weight or bias trained.
        kept = [l for l in bn if bn[l] == p_bn.get(l) and any(
            not np.array_equal(tensors[l + s], p_tensors[l + s]) for s in (".weight", ".bias"))]
        stale = stale or (changed and (bn == p_bn or bool(kept)))
    return ["bn-stale"] if stale else []


def check_findings(case, meta, tensors, bn, scaler, sha, parents):
    push = case["push"]
    input_size = tensors[push["input_tensor"]].shape[push["input_axis"]]
    found = scaler_findings(case, meta, scaler, sha, input_size)
    found += ["mode-train"] if push["mode"] == "train" else []
    found += bn_findings(case, tensors, bn, parents)
    found += ["small-batch"] if push["batch_size"] is not None and push["batch_size"] < 16 else []
    if found != case["expect"]["findings"]:
        fail(f"checks find {found}, case.json expects {case['expect']['findings']}")


def read_csv(path):
    with open(path) as f:
        lines = f.read().splitlines()
    return lines[0].split(","), np.array([[float(v) for v in l.split(",")] for l in lines[1:]])


def case_scaler_flag(d, name):
    """The scaler.json's with_mean or with_std (scikit-learn writes both)."""
    with open(os.path.join(d, "scaler.json")) as f:
        return json.load(f)[name]


def check_samples(d, case, scaler):
    cols, raw = read_csv(os.path.join(d, "raw.csv"))
    std_cols, std = read_csv(os.path.join(d, "std.csv"))
    if cols != case["push"]["features"] or std_cols != cols:
        fail(f"csv columns {cols} {std_cols}")
    centred = raw - scaler["mean_"] if case_scaler_flag(d, "with_mean") else raw
    if not np.array_equal(centred / scaler["scale_"], std):
        fail("std.csv is not (raw - mean_) / scale_ (raw / scale_ when with_mean is false)")
    _, ok = read_csv(os.path.join(d, "sample-ok.csv"))
    _, shifted = read_csv(os.path.join(d, "sample-shifted.csv"))
    _, per_req = read_csv(os.path.join(d, "sample-standardized.csv"))
    moved = [c for i, c in enumerate(cols) if not np.array_equal(ok[:, i], shifted[:, i])]
    if ok.shape != (500, len(cols)) or moved != case["samples"]["shifted_features"]:
        fail(f"samples: shape {ok.shape}, shifted columns {moved}")
    if not (np.allclose(per_req.mean(axis=0), 0, atol=1e-9) and np.allclose(per_req.std(axis=0), 1)):
        fail("sample-standardized.csv is not standardised")


def check_case(name, parents):
    d = os.path.join(HERE, name)
    case = json.load(open(os.path.join(d, "case.json")))
    expected = json.load(open(os.path.join(d, "expected.json")))
    push = case["push"]
    meta, tensors = read_safetensors(os.path.join(d, push["weights"]))
    load_model(push, tensors)
    check_metadata(meta, push)
    bn = bn_layers(tensors)
    if bn != expected["bn"] or sha256(os.path.join(d, push["weights"])) != expected["weights_sha256"]:
        fail("BatchNorm statistics or weights sha256 differ from expected.json")
    scaler, sha = None, None
    if push["scaler"]:
        sha = sha256(os.path.join(d, push["scaler"]))
        scaler = json.load(open(os.path.join(d, push["scaler"])))
        values_match = all(same(scaler[k], v) for k, v in expected["scaler"].items())
        if sha != expected["scaler_sha256"] or not values_match:
            fail("scaler.json differs from expected.json")
    check_findings(case, meta, tensors, bn, scaler, sha, parents)
    if "samples" in case:
        check_samples(d, case, scaler)
    parents[name] = (tensors, bn)
    print(f"ok {name}: {case['expect']['outcome']} {case['expect']['findings']}")


def check_readme():
    """The README's export snippet is normreg_export.py, verbatim."""
    readme = open(os.path.join(HERE, "README.md")).read()
    blocks = re.findall(r"```python\n(.*?)```", readme, re.S)
    if open(os.path.join(HERE, "normreg_export.py")).read() not in blocks:
        fail("README.md does not carry normreg_export.py verbatim")


def main():
    cases = sorted(e for e in os.listdir(HERE) if os.path.isfile(os.path.join(HERE, e, "case.json")))
    parents = {}
    for name in sorted(cases, key=lambda c: c != "mlp"):  # parents first
        check_case(name, parents)
    check_readme()
    total = sum(os.path.getsize(os.path.join(r, f)) for r, _, fs in os.walk(HERE) for f in fs)
    if total > MAX_BYTES:
        fail(f"fixtures are {total} bytes, over {MAX_BYTES}")
    print(f"ok: {len(cases)} cases, {total} bytes")


if __name__ == "__main__":
    main()
