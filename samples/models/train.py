#!/usr/bin/python3
"""Train the NetQuantGen sample CNNs on Fashion-MNIST and export them to ONNX.

Run once by hand (never in CI) with Debian's PyTorch:

    /usr/bin/python3 samples/models/train.py --model all

Writes <model>.onnx and accuracy.json next to this script, and the data slice
used by the samples to samples/data/.

Preprocessing (replicated exactly by the C# side): pixel / 255.0 as float32,
no mean/std normalisation.
  small, mobilenet: 1x1x28x28.
  resnet18:         1x3x32x32, the 28x28 image zero-padded by 2 on each side,
                    grey channel replicated to 3 channels.
"""

import argparse
import gzip
import json
import os
import shutil
import struct
import time

# Sleep rather than spin at OpenMP barriers: on a busy shared machine spinning
# threads made training ~6x slower. Must be set before torch is imported.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import numpy as np  # noqa: E402
import onnx  # noqa: E402
import onnx.numpy_helper  # noqa: E402
import torch  # noqa: E402
import torch.nn as nn  # noqa: E402
import torch.nn.functional as F  # noqa: E402
import torchvision  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_DATA_DIR = "/usr/share/datasets/fashion-mnist"
SLICE_DIR = os.path.join(HERE, "..", "data")
OPSET = 13
ALLOWED_OPS = {"Conv", "BatchNormalization", "Relu", "Clip", "Add", "MaxPool",
               "GlobalAveragePool", "Flatten", "Gemm", "Identity", "Constant"}
SEED = 20240601


# ---------------------------------------------------------------- IDX files

def read_idx(path):
    """Read a (gzip-compressed) IDX file of unsigned bytes into a numpy array."""
    with gzip.open(path, "rb") as f:
        data = f.read()
    zero, dtype_code, ndim = struct.unpack(">HBB", data[:4])
    if zero != 0 or dtype_code != 0x08:
        raise ValueError(f"{path}: not an unsigned-byte IDX file")
    shape = struct.unpack(">" + "I" * ndim, data[4:4 + 4 * ndim])
    return np.frombuffer(data, np.uint8, offset=4 + 4 * ndim).reshape(shape)


def write_idx(path, array):
    """Write a uint8 array as a gzip-compressed IDX file (reproducible bytes)."""
    array = np.ascontiguousarray(array, dtype=np.uint8)
    header = struct.pack(">HBB", 0, 0x08, array.ndim)
    header += struct.pack(">" + "I" * array.ndim, *array.shape)
    # mtime=0 and no file name in the gzip header: same bytes on every run.
    with open(path, "wb") as raw, \
            gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0) as f:
        f.write(header + array.tobytes())


def load_fashion_mnist(data_dir):
    def load(prefix):
        images = read_idx(os.path.join(data_dir, f"{prefix}-images-idx3-ubyte.gz"))
        labels = read_idx(os.path.join(data_dir, f"{prefix}-labels-idx1-ubyte.gz"))
        return images, labels
    return load("train"), load("t10k")


def write_data_slice(data_dir, train_images, train_labels):
    """First 1,000 training images as calibration set, test set copied as is."""
    os.makedirs(SLICE_DIR, exist_ok=True)
    write_idx(os.path.join(SLICE_DIR, "calib-images-idx3-ubyte.gz"), train_images[:1000])
    write_idx(os.path.join(SLICE_DIR, "calib-labels-idx1-ubyte.gz"), train_labels[:1000])
    for name in ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"):
        shutil.copyfile(os.path.join(data_dir, name), os.path.join(SLICE_DIR, name))


# ---------------------------------------------------------------- models

def conv_bn_relu(cin, cout):
    return [nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout),
            nn.ReLU(inplace=True)]


class SmallCnn(nn.Module):
    def __init__(self, num_classes=10):
        super().__init__()
        self.features = nn.Sequential(
            *conv_bn_relu(1, 32), *conv_bn_relu(32, 32), nn.MaxPool2d(2),   # 28 -> 14
            *conv_bn_relu(32, 64), *conv_bn_relu(64, 64), nn.MaxPool2d(2),  # 14 -> 7
        )
        self.fc1 = nn.Linear(64 * 7 * 7, 128)
        self.fc2 = nn.Linear(128, num_classes)

    def forward(self, x):
        x = self.features(x)
        x = torch.flatten(x, 1)  # exports as a single Flatten node
        return self.fc2(F.relu(self.fc1(x)))


class InvertedResidual(nn.Module):
    """MobileNetV2 block: 1x1 expand, 3x3 depthwise, 1x1 linear projection."""

    def __init__(self, cin, cout, stride, expand):
        super().__init__()
        hidden = cin * expand
        layers = []
        if expand != 1:  # as in MobileNetV2, t=1 blocks have no expansion conv
            layers += [nn.Conv2d(cin, hidden, 1, bias=False), nn.BatchNorm2d(hidden),
                       nn.ReLU6(inplace=True)]
        layers += [
            nn.Conv2d(hidden, hidden, 3, stride, 1, groups=hidden, bias=False),
            nn.BatchNorm2d(hidden), nn.ReLU6(inplace=True),
            # Linear bottleneck: no activation after the projection.
            nn.Conv2d(hidden, cout, 1, bias=False), nn.BatchNorm2d(cout),
        ]
        self.block = nn.Sequential(*layers)
        self.use_residual = stride == 1 and cin == cout

    def forward(self, x):
        y = self.block(x)
        return x + y if self.use_residual else y


class MobileNetV2Small(nn.Module):
    # (expansion t, output channels c, repeats n, first stride s), as in the paper.
    STAGES = [(1, 16, 1, 1), (4, 24, 2, 2), (4, 32, 3, 2), (4, 64, 2, 1)]

    def __init__(self, num_classes=10, stem=16, last=256):
        super().__init__()
        layers = [nn.Conv2d(1, stem, 3, 1, 1, bias=False), nn.BatchNorm2d(stem),
                  nn.ReLU6(inplace=True)]
        cin = stem
        for t, c, n, s in self.STAGES:
            for i in range(n):
                layers.append(InvertedResidual(cin, c, s if i == 0 else 1, t))
                cin = c
        layers += [nn.Conv2d(cin, last, 1, bias=False), nn.BatchNorm2d(last),
                   nn.ReLU6(inplace=True)]
        self.features = nn.Sequential(*layers)
        self.pool = nn.AdaptiveAvgPool2d(1)  # exports as GlobalAveragePool
        self.classifier = nn.Linear(last, num_classes)

    def forward(self, x):
        x = self.pool(self.features(x))
        return self.classifier(torch.flatten(x, 1))


def init_weights(model):
    for m in model.modules():
        if isinstance(m, nn.Conv2d):
            nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
        elif isinstance(m, nn.BatchNorm2d):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)
    return model


# Per model: constructor, input size, epochs, peak learning rate, batch size.
CONFIGS = {
    "small": dict(name="small_cnn", make=lambda: init_weights(SmallCnn()),
                  size=28, epochs=7, lr=0.05, batch=128),
    "mobilenet": dict(name="mobilenet_v2_small", make=lambda: init_weights(MobileNetV2Small()),
                      size=28, epochs=10, lr=0.1, batch=128),
    # torchvision's ResNet-18 unchanged (7x7/2 stem + max pool, 3 input channels).
    "resnet18": dict(name="resnet18", make=lambda: torchvision.models.resnet18(num_classes=10),
                     size=32, epochs=8, lr=0.1, batch=128),
}


# ---------------------------------------------------------------- data pipeline

def preprocess(images_u8, size):
    """uint8 Nx28x28 -> float32 NxCxHxW exactly as the C# side does it."""
    x = torch.from_numpy(np.asarray(images_u8, np.float32) / np.float32(255.0))
    x = x.unsqueeze(1)
    if size == 32:
        x = F.pad(x, (2, 2, 2, 2)).expand(-1, 3, -1, -1).contiguous()
    return x


def augment(x, generator, pad=2):
    """Random shift (zero-padded crop) and horizontal flip, done per batch."""
    n, c, h, w = x.shape
    padded = F.pad(x, (pad, pad, pad, pad))
    oy = torch.randint(0, 2 * pad + 1, (n,), generator=generator)
    ox = torch.randint(0, 2 * pad + 1, (n,), generator=generator)
    rows = (oy[:, None] + torch.arange(h))[:, None, :, None]
    cols = (ox[:, None] + torch.arange(w))[:, None, None, :]
    out = padded[torch.arange(n)[:, None, None, None], torch.arange(c)[None, :, None, None],
                 rows, cols]
    flip = torch.rand(n, generator=generator) < 0.5
    out[flip] = out[flip].flip(3)
    return out


# ---------------------------------------------------------------- training

def train(model, cfg, x_train, y_train, log):
    g = torch.Generator().manual_seed(SEED)
    steps_per_epoch = len(x_train) // cfg["batch"]  # drop the last partial batch
    opt = torch.optim.SGD(model.parameters(), lr=cfg["lr"], momentum=0.9, nesterov=True,
                          weight_decay=5e-4)
    sched = torch.optim.lr_scheduler.OneCycleLR(
        opt, max_lr=cfg["lr"], epochs=cfg["epochs"], steps_per_epoch=steps_per_epoch)
    # Label smoothing keeps logits moderate, which also helps later quantisation.
    loss_fn = nn.CrossEntropyLoss(label_smoothing=0.1)
    # channels_last is about 1.5x faster on this CPU (oneDNN); undone before export.
    model.to(memory_format=torch.channels_last)
    for epoch in range(cfg["epochs"]):
        model.train()
        t0 = time.time()
        perm = torch.randperm(len(x_train), generator=g)
        total_loss = 0.0
        for i in range(steps_per_epoch):
            idx = perm[i * cfg["batch"]:(i + 1) * cfg["batch"]]
            xb = augment(x_train[idx], g).contiguous(memory_format=torch.channels_last)
            loss = loss_fn(model(xb), y_train[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            total_loss += loss.item()
        log(f"  epoch {epoch + 1}/{cfg['epochs']}: loss {total_loss / steps_per_epoch:.4f}, "
            f"{time.time() - t0:.0f} s")
    model.to(memory_format=torch.contiguous_format)


@torch.no_grad()
def evaluate(model, x, y, batch=500):
    model.eval()
    correct = 0
    for i in range(0, len(x), batch):
        correct += (model(x[i:i + batch]).argmax(1) == y[i:i + batch]).sum().item()
    return correct / len(x)


def count_macs(model, x):
    """Multiply-accumulates of Conv and Linear layers for one image."""
    macs = []

    def hook(m, inp, out):
        if isinstance(m, nn.Conv2d):
            k = m.kernel_size[0] * m.kernel_size[1] * m.in_channels // m.groups
            macs.append(out[0].numel() * k)
        else:
            macs.append(m.in_features * m.out_features)

    handles = [m.register_forward_hook(hook) for m in model.modules()
               if isinstance(m, (nn.Conv2d, nn.Linear))]
    with torch.no_grad():
        model.eval()(x[:1])
    for h in handles:
        h.remove()
    return sum(macs)


# ---------------------------------------------------------------- ONNX export + checks

def export_onnx(model, size, path, dynamic_hw):
    channels = 3 if size == 32 else 1
    dummy = torch.zeros(1, channels, size, size)
    torch.onnx.export(
        model.eval(), dummy, path, opset_version=OPSET,
        # PRESERVE (not EVAL) so the exporter does not fold BN into the convs.
        training=torch.onnx.TrainingMode.PRESERVE, do_constant_folding=False,
        input_names=["input"], output_names=["logits"],
        dynamic_axes={"input": {2: "height", 3: "width"}} if dynamic_hw else None)


def check_onnx(path):
    m = onnx.load(path)
    onnx.checker.check_model(m)
    ops = sorted({n.op_type for n in m.graph.node})
    bad = set(ops) - ALLOWED_OPS
    if bad:
        raise RuntimeError(f"{path}: unexpected op types {sorted(bad)}")
    inits = {i.name for i in m.graph.initializer}
    aliased = [n.input[0] for n in m.graph.node if n.op_type == "Identity" and n.input[0] in inits]
    return m, ops, aliased


def run_onnx_numpy(model, x):
    """Tiny numpy interpreter for ALLOWED_OPS (onnx 1.12 has no ReferenceEvaluator)."""
    env = {i.name: onnx.numpy_helper.to_array(i).astype(np.float32) for i in model.graph.initializer}
    env[model.graph.input[0].name] = x
    for node in model.graph.node:
        a = {at.name: onnx.helper.get_attribute_value(at) for at in node.attribute}
        ins = [env[n] if n else None for n in node.input]
        op = node.op_type
        if op == "Constant":
            out = onnx.numpy_helper.to_array(a["value"])
        elif op == "Identity":
            out = ins[0]
        elif op == "Conv":
            out = _conv(ins[0], ins[1], ins[2] if len(ins) > 2 else None,
                        a.get("strides", [1, 1]), a.get("pads", [0, 0, 0, 0]), a.get("group", 1))
        elif op == "BatchNormalization":
            xx, s, b, mean, var = ins
            r = lambda v: v.reshape(1, -1, 1, 1)
            out = (xx - r(mean)) / np.sqrt(r(var) + a.get("epsilon", 1e-5)) * r(s) + r(b)
        elif op == "Relu":
            out = np.maximum(ins[0], 0)
        elif op == "Clip":
            out = np.clip(ins[0], ins[1], ins[2])
        elif op == "Add":
            out = ins[0] + ins[1]
        elif op == "MaxPool":
            out = _maxpool(ins[0], a["kernel_shape"], a.get("strides", [1, 1]),
                           a.get("pads", [0, 0, 0, 0]))
        elif op == "GlobalAveragePool":
            out = ins[0].mean(axis=(2, 3), keepdims=True)
        elif op == "Flatten":
            out = ins[0].reshape(ins[0].shape[0], -1)
        elif op == "Gemm":
            w = ins[1].T if a.get("transB", 0) else ins[1]
            out = a.get("alpha", 1.0) * ins[0] @ w + a.get("beta", 1.0) * ins[2]
        else:
            raise NotImplementedError(op)
        env[node.output[0]] = out.astype(np.float32)
    return env[model.graph.output[0].name]


def _windows(x, kh, kw, strides, pads, fill):
    x = np.pad(x, ((0, 0), (0, 0), (pads[0], pads[2]), (pads[1], pads[3])), constant_values=fill)
    v = np.lib.stride_tricks.sliding_window_view(x, (kh, kw), axis=(2, 3))
    return v[:, :, ::strides[0], ::strides[1]]  # N, C, OH, OW, kh, kw


def _conv(x, w, b, strides, pads, group):
    cout, cin_g, kh, kw = w.shape
    win = _windows(x, kh, kw, strides, pads, 0.0)
    n, c, oh, ow = win.shape[:4]
    win = win.reshape(n, group, c // group, oh, ow, kh, kw)
    wg = w.reshape(group, cout // group, cin_g, kh, kw)
    out = np.einsum("ngchwij,gocij->ngohw", win, wg, optimize=True).reshape(n, cout, oh, ow)
    return out + b.reshape(1, -1, 1, 1) if b is not None else out


def _maxpool(x, kernel, strides, pads):
    return _windows(x, kernel[0], kernel[1], strides, pads, -np.inf).max(axis=(4, 5))


# ---------------------------------------------------------------- main

def run(key, data, log):
    cfg = CONFIGS[key]
    (train_images, train_labels), (test_images, test_labels) = data
    x_train = preprocess(train_images, cfg["size"])
    y_train = torch.from_numpy(train_labels.astype(np.int64))
    x_test = preprocess(test_images, cfg["size"])
    y_test = torch.from_numpy(test_labels.astype(np.int64))

    torch.manual_seed(SEED)  # same weights on every run
    model = cfg["make"]()
    params = sum(p.numel() for p in model.parameters())
    macs = count_macs(model, x_test)
    log(f"{cfg['name']}: {params} parameters, {macs} MACs/image, {cfg['epochs']} epochs")

    t0 = time.time()
    train(model, cfg, x_train, y_train, log)
    wall = time.time() - t0
    top1 = evaluate(model, x_test, y_test)
    log(f"{cfg['name']}: fp32 top-1 {top1:.4f}, trained in {wall:.0f} s")

    with torch.no_grad():
        logits16 = model.eval()(x_test[:16]).numpy()

    path = os.path.join(HERE, cfg["name"] + ".onnx")
    export_onnx(model, cfg["size"], path, dynamic_hw=(key == "resnet18"))
    onnx_model, ops, aliased = check_onnx(path)
    log(f"{cfg['name']}: ONNX ops {ops}; initializers aliased through Identity: {len(aliased)}")
    onnx_logits = run_onnx_numpy(onnx_model, x_test[:16].numpy())
    diff = float(np.abs(onnx_logits - logits16).max())
    log(f"{cfg['name']}: ONNX (numpy interpreter) vs PyTorch max |diff| on 16 images: {diff:.2e}")
    if diff > 1e-3:
        raise RuntimeError("ONNX export does not match PyTorch")

    channels = 3 if cfg["size"] == 32 else 1
    return cfg["name"], {
        "onnx_file": cfg["name"] + ".onnx",
        "fp32_top1": top1,
        "test_images": len(x_test),
        "input_name": "input",
        "output_name": "logits",
        "input_shape": [1, channels, cfg["size"], cfg["size"]],
        "output_shape": [1, 10],
        "preprocessing": (
            "pixel / 255.0 as float32, no mean/std normalisation"
            + ("; 28x28 zero-padded by 2 pixels on each side to 32x32, grey channel "
               "replicated to 3 channels" if cfg["size"] == 32 else "")),
        "opset": OPSET,
        "onnx_op_types": ops,
        "parameters": params,
        "macs_per_image": macs,
        "epochs": cfg["epochs"],
        "train_wall_time_s": round(wall, 1),
        "first16_labels": test_labels[:16].tolist(),
        "first16_logits": [[float(v) for v in row] for row in logits16],
    }


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", choices=[*CONFIGS, "all"], default="all")
    ap.add_argument("--data-dir", default=DEFAULT_DATA_DIR)
    ap.add_argument("--epochs", type=int, help="override the per-model epoch count")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--write-data-slice", action="store_true",
                    help="also write samples/data/ (calibration slice + test set)")
    args = ap.parse_args()

    torch.set_num_threads(args.threads)  # shared build machine
    torch.manual_seed(SEED)
    log = lambda msg: print(time.strftime("%H:%M:%S"), msg, flush=True)

    data = load_fashion_mnist(args.data_dir)
    if args.write_data_slice:
        write_data_slice(args.data_dir, *data[0])
        log(f"wrote data slice to {os.path.normpath(SLICE_DIR)}")

    keys = list(CONFIGS) if args.model == "all" else [args.model]
    acc_path = os.path.join(HERE, "accuracy.json")
    results = {}
    if os.path.exists(acc_path):  # keep the other models' entries when retraining one
        with open(acc_path) as f:
            results = json.load(f)
    for key in keys:
        if args.epochs:
            CONFIGS[key]["epochs"] = args.epochs
        name, entry = run(key, data, log)
        results[name] = entry
        with open(acc_path, "w") as f:
            json.dump(results, f, indent=2)
            f.write("\n")


if __name__ == "__main__":
    main()
