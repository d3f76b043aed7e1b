"""Generate normreg's interop fixtures with real PyTorch and scikit-learn.

Run with Debian's /usr/bin/python3 (python3-torch, python3-sklearn,
python3-pandas); scripts/gen-fixtures.sh does that. Deterministic: fixed
seeds, one thread. Each case directory gets weights.safetensors, scaler.json
(when the case ships one), case.json (push flags and expected outcome) and
expected.json (what torch and sklearn computed). README.md describes the cases.
"""
import copy
import hashlib
import json
import os
import shutil

import numpy as np
import pandas as pd
import torch
from sklearn.preprocessing import StandardScaler
from torch import nn

from normreg_export import normreg_metadata, save_safetensors, write_scaler

HERE = os.path.dirname(os.path.abspath(__file__))

# Tabular features: name -> (mean, std) of the synthetic training data.
TABULAR = {"age": (41.0, 12.0), "income": (52000.0, 18000.0), "tenure_months": (30.0, 20.0),
           "balance": (1500.0, 900.0), "num_products": (2.2, 0.9), "credit_score": (650.0, 80.0)}
FEATURES = list(TABULAR)
UNIT_FEATURES = ["click_rate", "bounce_rate", "share_of_wallet", "utilization",
                 "recency", "churn_score"]
CHANNELS = ["r", "g", "b"]
CHANNEL_STATS = {"r": (120.0, 40.0), "g": (100.0, 30.0), "b": (80.0, 20.0)}
SHIFTED = {"mlp": ["income", "credit_score"], "cnn": ["r", "b"]}
BATCH_SIZE = 32


class MLP(nn.Module):
    """Tabular classifier; BatchNorm1d layers are net.1 and net.4."""

    def __init__(self, n_in=len(FEATURES)):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(n_in, 16), nn.BatchNorm1d(16), nn.ReLU(),
                                 nn.Linear(16, 8), nn.BatchNorm1d(8), nn.ReLU(),
                                 nn.Linear(8, 1))

    def forward(self, x):
        return self.net(x).squeeze(1)


class CNN(nn.Module):
    """3x8x8 image classifier; BatchNorm2d layers are features.1 and features.4."""

    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(),
                                      nn.Conv2d(8, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(),
                                      nn.AdaptiveAvgPool2d(1), nn.Flatten())
        self.head = nn.Linear(8, 2)

    def forward(self, x):
        return self.head(self.features(x))


def tabular(rng, n, shift=()):
    """n rows of the tabular features (shifted ones moved by +1.5 std) and labels."""
    cols = {f: rng.normal(m + (1.5 * s if f in shift else 0.0), s, n) for f, (m, s) in TABULAR.items()}
    x = pd.DataFrame(cols, columns=FEATURES)
    z = (x - [m for m, _ in TABULAR.values()]) / [s for _, s in TABULAR.values()]
    logit = z["income"] - z["balance"] + 0.5 * z["credit_score"] + 0.3 * z["age"] * z["num_products"]
    return x, (logit + rng.normal(0, 0.3, n) > 0).astype(np.float32).to_numpy()


def unit_tabular(rng, n):
    """n rows of features already in [0, 1] (no preprocessing needed) and labels."""
    x = pd.DataFrame(rng.uniform(0, 1, (n, len(UNIT_FEATURES))), columns=UNIT_FEATURES)
    logit = x["click_rate"] - x["bounce_rate"] + x["share_of_wallet"] - 0.5
    return x, (logit > 0).astype(np.float32).to_numpy()


def images(rng, n):
    """n 3x8x8 images in 0..255 with per-channel statistics; class 1 has a brighter top half."""
    labels = rng.integers(0, 2, n)
    imgs = np.stack([rng.normal(m, s, (n, 8, 8)) for m, s in CHANNEL_STATS.values()], axis=1)
    imgs[:, :, :4, :] += 25.0 * labels[:, None, None, None]
    return imgs, labels


def pixels(imgs):
    """The images' pixels as rows of (r, g, b): the scaler's view of a CNN input."""
    return pd.DataFrame(imgs.transpose(0, 2, 3, 1).reshape(-1, 3), columns=CHANNELS)


def scale_images(scaler, imgs):
    """Standardise images per channel with scaler, through sklearn's own transform."""
    n = imgs.shape[0]
    return scaler.transform(pixels(imgs)).reshape(n, 8, 8, 3).transpose(0, 3, 1, 2)


def train(model, x, y, loss_fn, epochs, batch_size, seed, bn_eval=False):
    """Train model with Adam; with bn_eval True its BatchNorm layers stay in
    eval mode (the fine-tuning mistake that leaves running statistics stale),
    with bn_eval a set of module names only those layers do."""
    torch.manual_seed(seed)
    x, y = torch.tensor(x, dtype=torch.float32), torch.tensor(y)
    opt = torch.optim.Adam(model.parameters(), lr=0.01)
    for _ in range(epochs):
        model.train()
        if bn_eval:
            for name, m in model.named_modules():
                if isinstance(m, nn.modules.batchnorm._BatchNorm) and (bn_eval is True or name in bn_eval):
                    m.eval()
        for idx in torch.randperm(len(x)).split(batch_size):
            if len(idx) < 2:
                continue
            opt.zero_grad()
            loss_fn(model(x[idx]), y[idx]).backward()
            opt.step()
    return model.eval()


def bn_stats(model):
    """Each BatchNorm layer's running statistics as torch holds them."""
    return {name: {"running_mean": m.running_mean.double().tolist(),
                   "running_var": m.running_var.double().tolist(),
                   "num_batches_tracked": int(m.num_batches_tracked)}
            for name, m in model.named_modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)}


def sha256_file(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def write_json(path, obj):
    with open(path, "w") as f:
        json.dump(obj, f, indent=1)
        f.write("\n")


def write_csv(path, frame):
    """Write frame with a header and every float at full precision (repr)."""
    with open(path, "w") as f:
        f.write(",".join(frame.columns) + "\n")
        for row in frame.itertuples(index=False):
            f.write(",".join(repr(float(v)) for v in row) + "\n")


def case_dir(name):
    path = os.path.join(HERE, name)
    shutil.rmtree(path, ignore_errors=True)
    os.makedirs(path)
    return path


def write_case(name, model, scaler, push, expect, meta_overrides=None, description=""):
    """Write one case: weights with normreg metadata, the scaler (when any),
    case.json and expected.json. meta_overrides replaces normreg_metadata
    arguments (e.g. scaler_sha256=None to leave the binding out)."""
    d = case_dir(name)
    sha = write_scaler(scaler, os.path.join(d, "scaler.json")) if scaler is not None else None
    meta = dict(mode=push["mode"], features=push["features"], input_tensor=push["input_tensor"],
                batch_size=push["batch_size"], scaler_sha256=sha, bn_frozen=push["bn_frozen"] or None)
    meta.update(meta_overrides or {})
    save_safetensors(model.state_dict(), os.path.join(d, "weights.safetensors"), normreg_metadata(**meta))
    push = dict(weights="weights.safetensors", scaler="scaler.json" if scaler is not None else None, **push)
    write_json(os.path.join(d, "case.json"), {"description": description, "push": push, "expect": expect})
    expected = {"bn": bn_stats(model), "weights_sha256": sha256_file(os.path.join(d, "weights.safetensors")),
                "scaler_sha256": sha, "weights_metadata": normreg_metadata(**meta)}
    if scaler is not None:
        expected["scaler"] = {k: getattr(scaler, k).tolist() for k in ("mean_", "scale_", "var_")}
    write_json(os.path.join(d, "expected.json"), expected)
    return d


def push_flags(features=FEATURES, input_tensor="net.0.weight", mode="eval", batch_size=BATCH_SIZE,
               parent=None, bn_frozen=False, no_scaler=False):
    return dict(mode=mode, features=list(features), input_tensor=input_tensor, input_axis=1,
                batch_size=batch_size, parent=parent, bn_frozen=bn_frozen, no_scaler=no_scaler)


def ok(*warnings):
    return {"outcome": "ok", "findings": list(warnings)}


def refused(*ids):
    return {"outcome": "refused", "findings": list(ids)}


def write_samples(d, scaler, raw, production, shifted, case_json_extra):
    """raw.csv and sklearn's transform of it (std.csv); production-like
    samples for skew tests; the shifted features recorded in case.json."""
    write_csv(os.path.join(d, "raw.csv"), raw)
    write_csv(os.path.join(d, "std.csv"), pd.DataFrame(scaler.transform(raw), columns=raw.columns))
    ok_sample, shifted_sample = production
    write_csv(os.path.join(d, "sample-ok.csv"), ok_sample)
    write_csv(os.path.join(d, "sample-shifted.csv"), shifted_sample)
    per_request = StandardScaler().fit_transform(ok_sample)
    write_csv(os.path.join(d, "sample-standardized.csv"), pd.DataFrame(per_request, columns=raw.columns))
    path = os.path.join(d, "case.json")
    with open(path) as f:
        case = json.load(f)
    case["samples"] = dict(case_json_extra, shifted_features=shifted)
    write_json(path, case)


def shift_columns(frame, columns, stats):
    """A copy of frame with columns moved by +1.5 training std."""
    out = frame.copy()
    for c in columns:
        out[c] += 1.5 * stats[c][1]
    return out


def gen_mlp_family(rng):
    """mlp and every case derived from its data, scaler or weights."""
    x, y = tabular(rng, 1024)
    scaler = StandardScaler().fit(x)
    bce = nn.BCEWithLogitsLoss()
    torch.manual_seed(1)
    mlp = train(MLP(), scaler.transform(x), y, bce, epochs=5, batch_size=BATCH_SIZE, seed=2)
    d = write_case("mlp", mlp, scaler, push_flags(), ok(),
                   description="MLP with BatchNorm1d on 6 standardised tabular features, eval mode")
    sample = tabular(rng, 500)[0]
    write_samples(d, scaler, x.head(5), (sample, shift_columns(sample, SHIFTED["mlp"], TABULAR)),
                  SHIFTED["mlp"], {"shift": "+1.5 training std"})
    bound = {"scaler_sha256": sha256_file(os.path.join(d, "scaler.json"))}
    gen_scaler_cases(rng, mlp, scaler, x, bound)
    gen_bn_cases(rng, mlp, scaler, x, y)
    return mlp, scaler


def gen_scaler_cases(rng, mlp, scaler, x, bound):
    """Cases where the scaler shipped is not the one mlp was trained with;
    bound is the metadata override binding mlp's own scaler."""
    unbound = {"scaler_sha256": None}
    refit = StandardScaler().fit(tabular(rng, 1024, shift=("income",))[0])
    write_case("scaler-refit", mlp, refit, push_flags(), refused("scaler-mismatch"), meta_overrides=bound,
               description="mlp's weights (binding mlp's scaler sha256) with a scaler refit on other data")
    write_case("scaler-fewer", mlp, StandardScaler().fit(x.drop(columns="balance")), push_flags(),
               refused("scaler-mismatch"), meta_overrides=unbound,
               description="scaler fitted without 'balance' (5 features for a 6-feature model); "
                           "the weights bind no scaler sha256, so only the schema check can catch it")
    permuted = [FEATURES[i] for i in (1, 0, 2, 3, 5, 4)]
    write_case("scaler-permuted", mlp, StandardScaler().fit(x[permuted]), push_flags(),
               refused("scaler-mismatch"), meta_overrides=unbound,
               description="scaler fitted on the features in another order; the weights bind no "
                           "scaler sha256, so only the feature-order check can catch it")
    write_case("scaler-none", mlp, None, push_flags(), refused("scaler-missing"), meta_overrides=bound,
               description="mlp's weights pushed with no scaler and without --no-scaler")
    nan = copy.deepcopy(scaler)
    nan.mean_[3] = np.nan
    write_case("scaler-nan", mlp, nan, push_flags(), refused("scaler-invalid"),
               description="mlp's scaler with NaN in mean_[3] (balance); the weights bind this scaler")
    write_case("mode-train", mlp, scaler, push_flags(mode="train"), refused("mode-train"),
               description="mlp's weights and scaler declared as exported in train mode")


def gen_bn_cases(rng, mlp, scaler, x, y):
    """BatchNorm cases: never updated, fine-tunes of mlp, small batches."""
    bce = nn.BCEWithLogitsLoss()
    torch.manual_seed(3)
    write_case("bn-never-updated", MLP().eval(), scaler, push_flags(batch_size=None), refused("bn-stale"),
               description="an untrained MLP: running stats at init (mean 0, var 1), num_batches_tracked 0")
    x_new, y_new = tabular(rng, 512, shift=("balance",))
    x_new = scaler.transform(x_new)
    stale = train(copy.deepcopy(mlp), x_new, y_new, bce, epochs=2, batch_size=BATCH_SIZE, seed=4,
                  bn_eval=True)
    write_case("finetune-stale", stale, scaler, push_flags(parent="mlp"), refused("bn-stale"),
               description="mlp fine-tuned on new data with BatchNorm left in eval mode: weights "
                           "changed, running stats and num_batches_tracked identical to mlp's")
    write_case("finetune-frozen", stale, scaler, push_flags(parent="mlp", bn_frozen=True), ok(),
               description="finetune-stale's weights, pushed declaring BatchNorm frozen (--bn-frozen)")
    moved = train(copy.deepcopy(mlp), x_new, y_new, bce, epochs=2, batch_size=BATCH_SIZE, seed=4)
    write_case("finetune-ok", moved, scaler, push_flags(parent="mlp"), ok(),
               description="mlp fine-tuned on new data with BatchNorm in train mode: running stats moved")
    torch.manual_seed(5)
    small = train(MLP(), scaler.transform(x), y, bce, epochs=2, batch_size=8, seed=6)
    write_case("small-batch", small, scaler, push_flags(batch_size=8), ok("small-batch"),
               description="mlp's data and scaler, trained with batch size 8")


def gen_noscaler(rng):
    """mlp-noscaler: features already in [0, 1], declared with no preprocessing."""
    x, y = unit_tabular(rng, 1024)
    torch.manual_seed(7)
    model = train(MLP(), x.to_numpy(), y, nn.BCEWithLogitsLoss(), epochs=5, batch_size=BATCH_SIZE, seed=8)
    write_case("mlp-noscaler", model, None, push_flags(features=UNIT_FEATURES, no_scaler=True), ok(),
               description="MLP on features already in [0, 1], declared with no preprocessing (--no-scaler)")


def gen_cnn(rng):
    """cnn: per-channel input normalisation as a StandardScaler over r, g, b."""
    imgs, labels = images(rng, 256)
    scaler = StandardScaler().fit(pixels(imgs))
    torch.manual_seed(9)
    cnn = train(CNN(), scale_images(scaler, imgs), labels, nn.CrossEntropyLoss(), epochs=3,
                batch_size=BATCH_SIZE, seed=10)
    d = write_case("cnn", cnn, scaler, push_flags(features=CHANNELS, input_tensor="features.0.weight"), ok(),
                   description="CNN with BatchNorm2d on 3x8x8 images, per-channel scaler over r, g, b")
    sample = pixels(images(rng, 8)[0]).head(500)
    shifted = shift_columns(sample, SHIFTED["cnn"], CHANNEL_STATS)
    write_samples(d, scaler, pixels(imgs).head(5), (sample, shifted),
                  SHIFTED["cnn"], {"shift": "+1.5 training std", "rows": "pixels (r, g, b) of fresh images"})


def gen_nomean(rng):
    """mlp-nomean: StandardScaler(with_mean=False), which keeps mean_ (the
    training mean) but only divides by scale_."""
    x, y = tabular(rng, 1024)
    scaler = StandardScaler(with_mean=False).fit(x)
    torch.manual_seed(11)
    model = train(MLP(), scaler.transform(x), y, nn.BCEWithLogitsLoss(), epochs=5, batch_size=BATCH_SIZE, seed=12)
    d = write_case("mlp-nomean", model, scaler, push_flags(), ok(),
                   description="MLP on 6 tabular features scaled by StandardScaler(with_mean=False): "
                               "mean_ is kept, transform only divides by scale_")
    sample = tabular(rng, 500)[0]
    write_samples(d, scaler, x.head(5), (sample, shift_columns(sample, SHIFTED["mlp"], TABULAR)),
                  SHIFTED["mlp"], {"shift": "+1.5 training std"})


def gen_partial_finetunes(rng, mlp, scaler):
    """Fine-tunes of mlp in which BatchNorm net.1 ran in train mode and net.4
    did not: left in eval mode while its weight and bias trained (stale), or
    frozen whole with the layers before it (a frozen backbone: not stale)."""
    bce = nn.BCEWithLogitsLoss()
    x_new, y_new = tabular(rng, 512, shift=("balance",))
    x_new = scaler.transform(x_new)
    partial = train(copy.deepcopy(mlp), x_new, y_new, bce, epochs=2, batch_size=BATCH_SIZE, seed=13,
                    bn_eval={"net.4"})
    write_case("finetune-partial", partial, scaler, push_flags(parent="mlp"), refused("bn-stale"),
               description="mlp fine-tuned with BatchNorm net.4 left in eval mode and net.1 in train mode: "
                           "net.4's weight and bias trained, its running stats and num_batches_tracked are mlp's")
    head = copy.deepcopy(mlp)
    for p in head.net[4].parameters():
        p.requires_grad_(False)
    head = train(head, x_new, y_new, bce, epochs=2, batch_size=BATCH_SIZE, seed=14, bn_eval={"net.4"})
    write_case("finetune-bn-frozen-layer", head, scaler, push_flags(parent="mlp"), ok(),
               description="mlp fine-tuned with BatchNorm net.4 frozen whole (eval mode, no gradients for its "
                           "weight and bias) and net.1 in train mode: net.4 is the parent's, not stale")


def main():
    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)
    rng = np.random.default_rng(20240601)
    mlp, scaler = gen_mlp_family(rng)
    gen_noscaler(rng)
    gen_cnn(rng)
    gen_nomean(rng)
    gen_partial_finetunes(rng, mlp, scaler)  # added last, so that the cases above draw what they always drew


if __name__ == "__main__":
    main()
