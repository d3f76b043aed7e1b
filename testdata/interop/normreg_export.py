"""Write what normreg reads: a fitted StandardScaler as attribute JSON and a
PyTorch state_dict as safetensors carrying the normreg.* metadata."""
import hashlib
import json
import struct

SAFETENSORS_DTYPES = {"float16": "F16", "float32": "F32", "float64": "F64",
                      "int32": "I32", "int64": "I64", "uint8": "U8"}


def write_scaler(scaler, path):
    """Write scaler's attributes as JSON (NaN stays a bare NaN token) and
    return the hex sha256 of the file's bytes."""
    names = ["mean_", "scale_", "var_", "n_samples_seen_", "n_features_in_",
             "feature_names_in_", "with_mean", "with_std"]
    attrs = {n: getattr(scaler, n, None) for n in names}
    attrs = {n: v.tolist() if hasattr(v, "tolist") else v
             for n, v in attrs.items() if v is not None}
    with open(path, "w") as f:
        json.dump(attrs, f, indent=1)
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def normreg_metadata(mode, features, input_tensor, batch_size=None,
                     scaler_sha256=None, bn_frozen=None):
    """The safetensors __metadata__ normreg reads; None values are left out."""
    meta = {"normreg.mode": mode, "normreg.features": ",".join(features),
            "normreg.input_tensor": input_tensor, "normreg.batch_size": batch_size,
            "normreg.scaler.sha256": scaler_sha256, "normreg.bn_frozen": bn_frozen}
    return {k: str(v).lower() if isinstance(v, bool) else str(v)
            for k, v in meta.items() if v is not None}


def save_safetensors(state_dict, path, metadata):
    """Write state_dict as safetensors: tensors in state_dict order,
    little-endian, offsets tiling the data buffer."""
    header, chunks, offset = {"__metadata__": metadata}, [], 0
    for name, tensor in state_dict.items():
        a = tensor.detach().cpu().contiguous().numpy()
        data = a.astype(a.dtype.newbyteorder("<")).tobytes()
        header[name] = {"dtype": SAFETENSORS_DTYPES[a.dtype.name], "shape": list(a.shape),
                        "data_offsets": [offset, offset + len(data)]}
        chunks.append(data)
        offset += len(data)
    raw = json.dumps(header, separators=(",", ":")).encode()
    raw += b" " * (-len(raw) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(raw)) + raw + b"".join(chunks))
