#!/usr/bin/python3
"""Quantization-aware training of the small CNN, written out as a QDQ ONNX model.

Run once by hand (never in CI) with Debian's PyTorch, after train.py:

    OMP_NUM_THREADS=1 OMP_WAIT_POLICY=PASSIVE nice -n 15 \
        /usr/bin/python3 samples/models/train_qat.py --weight-bits 8
    ... --weight-bits 4      # the W4A8 variant (4-bit weights as a restricted int8 range)

Starts from the trained float weights in small_cnn.onnx (train.py does not save a .pt), prepares the
model with torch.ao FX prepare_qat_fx: Conv+BatchNorm+ReLU become ConvBnReLU2d QAT modules, which
fold BN into the weights the way the white papers describe (weights scaled by gamma/sigma_running before
fake quantization, batch statistics corrected, BN statistics frozen for the last epoch); fake
quantization uses the straight-through estimator. Activations are uint8 asymmetric per tensor,
weights int8 symmetric per output channel in [-(2^(b-1)-1), 2^(b-1)-1].

torch 1.13 cannot export an FX QAT graph to ONNX, so the QDQ model is written here with onnx.helper
from the learned scales and zero-points: QuantizeLinear/DequantizeLinear (uint8) on every activation,
int8 weights behind DequantizeLinear (axis 0), int32 biases with scale s_in*s_w[c].

Writes small_cnn_qat.onnx (or small_cnn_qat_w4.onnx) and an entry in qat_accuracy.json.
"""

import argparse
import json
import os
import time

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import numpy as np  # noqa: E402
import onnx  # noqa: E402
from onnx import TensorProto, helper, numpy_helper  # noqa: E402
import torch  # noqa: E402
import torch.nn as nn  # noqa: E402
import torch.nn.intrinsic.qat as nniqat  # noqa: E402
from torch.ao.quantization import (FakeQuantize, MovingAverageMinMaxObserver,  # noqa: E402
                                   MovingAveragePerChannelMinMaxObserver, QConfig, QConfigMapping,
                                   disable_observer)
from torch.ao.quantization.quantize_fx import prepare_qat_fx  # noqa: E402

import train  # noqa: E402  (same directory: data loading, model definition, augmentation)

HERE = os.path.dirname(os.path.abspath(__file__))
SEED = 20240601


def qconfig(weight_bits):
    limit = 2 ** (weight_bits - 1) - 1
    activation = FakeQuantize.with_args(
        observer=MovingAverageMinMaxObserver, quant_min=0, quant_max=255, dtype=torch.quint8,
        qscheme=torch.per_tensor_affine, reduce_range=False)
    weight = FakeQuantize.with_args(
        observer=MovingAveragePerChannelMinMaxObserver, quant_min=-limit, quant_max=limit,
        dtype=torch.qint8, qscheme=torch.per_channel_symmetric, ch_axis=0, reduce_range=False)
    return QConfig(activation=activation, weight=weight)


def float_model():
    """SmallCnn with the weights of small_cnn.onnx (initializer names are the state_dict keys)."""
    model = train.SmallCnn()
    onnx_model = onnx.load(os.path.join(HERE, "small_cnn.onnx"))
    state = {i.name: torch.from_numpy(numpy_helper.to_array(i).copy()) for i in onnx_model.graph.initializer}
    missing, unexpected = model.load_state_dict(state, strict=False)
    if unexpected or any(not k.endswith("num_batches_tracked") for k in missing):
        raise RuntimeError(f"small_cnn.onnx does not match SmallCnn: missing {missing}, unexpected {unexpected}")
    return model


def qat(model, x_train, y_train, epochs, lr, batch, log):
    g = torch.Generator().manual_seed(SEED)
    steps = len(x_train) // batch
    opt = torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9, weight_decay=5e-4)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, epochs * steps)
    loss_fn = nn.CrossEntropyLoss(label_smoothing=0.1)
    for epoch in range(epochs):
        model.train()
        if epoch == epochs - 1:
            # Last epoch: BN uses (and keeps) its running statistics, i.e. the folded weights are final.
            model.apply(nniqat.freeze_bn_stats)
        t0 = time.time()
        perm = torch.randperm(len(x_train), generator=g)
        total = 0.0
        for i in range(steps):
            if epoch == epochs - 1 and i == steps // 2:
                model.apply(disable_observer)  # scales and zero-points final for the rest of training
            idx = perm[i * batch:(i + 1) * batch]
            loss = loss_fn(model(train.augment(x_train[idx], g)), y_train[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            total += loss.item()
            if i % 100 == 0:
                log(f"  epoch {epoch + 1} step {i}/{steps}: loss {total / (i + 1):.4f}")
        log(f"  epoch {epoch + 1}/{epochs}: loss {total / steps:.4f}, {time.time() - t0:.0f} s")
    model.apply(disable_observer)


# ---------------------------------------------------------------- QDQ export

class QdqWriter:
    def __init__(self):
        self.nodes, self.inits = [], []

    def init(self, name, array):
        self.inits.append(numpy_helper.from_array(array, name))
        return name

    def quantize_dequantize(self, x, name, fake_quant):
        scale = self.init(name + "_scale", np.array(float(fake_quant.scale), np.float32))
        zp = self.init(name + "_zero_point", np.array(int(fake_quant.zero_point), np.uint8))
        self.nodes.append(helper.make_node("QuantizeLinear", [x, scale, zp], [name + "_q"], name + "_QuantizeLinear"))
        self.nodes.append(helper.make_node("DequantizeLinear", [name + "_q", scale, zp], [name], name + "_DequantizeLinear"))
        return name

    def weights(self, name, w_fold, fake_quant, input_scale):
        """int8 weights and int32 bias behind DequantizeLinear, per output channel on axis 0."""
        w, b = w_fold
        s = fake_quant.scale.detach().numpy().astype(np.float32)
        lo, hi = int(fake_quant.quant_min), int(fake_quant.quant_max)
        shape = (-1,) + (1,) * (w.ndim - 1)
        q = np.clip(np.rint(w * (np.float32(1) / s).reshape(shape)), lo, hi).astype(np.int8)
        wq = self.init(name + ".weight_quantized", q)
        ws = self.init(name + ".weight_scale", s)
        wz = self.init(name + ".weight_zero_point", np.zeros(len(s), np.int8))
        self.nodes.append(helper.make_node("DequantizeLinear", [wq, ws, wz], [name + ".weight"], name + ".weight_DequantizeLinear", axis=0))
        bias_scale = (np.float32(input_scale) * s).astype(np.float32)
        bq = self.init(name + ".bias_quantized", np.rint(b / bias_scale).astype(np.int32))
        bs = self.init(name + ".bias_scale", bias_scale)
        bz = self.init(name + ".bias_zero_point", np.zeros(len(s), np.int32))
        self.nodes.append(helper.make_node("DequantizeLinear", [bq, bs, bz], [name + ".bias"], name + ".bias_DequantizeLinear", axis=0))
        return name + ".weight", name + ".bias"


def folded(module):
    """Weights and bias of a QAT module as inference sees them (BN folded with running statistics)."""
    with torch.no_grad():
        w = module.weight.detach()
        b = module.bias.detach() if module.bias is not None else torch.zeros(w.shape[0])
        if hasattr(module, "bn"):
            bn = module.bn
            factor = bn.weight / torch.sqrt(bn.running_var + bn.eps)
            w = w * factor.reshape(-1, 1, 1, 1)
            b = bn.bias + (b - bn.running_mean) * factor
    return w.numpy().astype(np.float32), b.numpy().astype(np.float32)


def export_qdq(prepared, path, weight_bits):
    """Walks the prepared FX graph: every activation_post_process becomes a Q/DQ pair."""
    out = QdqWriter()
    names = {}       # fx node -> ONNX tensor name
    scales = {}      # ONNX tensor name -> activation scale
    graph_input = None
    counter = [0]

    def fresh(prefix):
        counter[0] += 1
        return f"{prefix}_{counter[0]}"

    for node in prepared.graph.nodes:
        if node.op == "placeholder":
            graph_input = "input"
            names[node] = "input"
        elif node.op == "call_module" and node.target.startswith("activation_post_process"):
            src = names[node.args[0]]
            fq = prepared.get_submodule(node.target)  # MaxPool/flatten share their input's module
            names[node] = out.quantize_dequantize(src, fresh("act"), fq)
            scales[names[node]] = float(fq.scale)
        elif node.op == "call_module":
            m = prepared.get_submodule(node.target)
            x = names[node.args[0]]
            y = fresh(node.target.replace(".", "_"))
            if isinstance(m, (nniqat.ConvBnReLU2d, nniqat.ConvReLU2d, nniqat.ConvBn2d, nn.qat.Conv2d)):
                w, b = out.weights(node.target, folded(m), m.weight_fake_quant, scales[x])
                conv = y + "_conv" if isinstance(m, (nniqat.ConvBnReLU2d, nniqat.ConvReLU2d)) else y
                out.nodes.append(helper.make_node("Conv", [x, w, b], [conv], node.target, kernel_shape=list(m.kernel_size),
                                                  pads=[m.padding[0], m.padding[1]] * 2, strides=list(m.stride), group=m.groups))
                if conv != y:
                    out.nodes.append(helper.make_node("Relu", [conv], [y], node.target + "_Relu"))
            elif isinstance(m, (nniqat.LinearReLU, nn.qat.Linear)):
                w, b = out.weights(node.target, folded(m), m.weight_fake_quant, scales[x])
                gemm = y + "_gemm" if isinstance(m, nniqat.LinearReLU) else y
                out.nodes.append(helper.make_node("Gemm", [x, w, b], [gemm], node.target, transB=1))
                if gemm != y:
                    out.nodes.append(helper.make_node("Relu", [gemm], [y], node.target + "_Relu"))
            elif isinstance(m, nn.MaxPool2d):
                out.nodes.append(helper.make_node("MaxPool", [x], [y], node.target, kernel_shape=[m.kernel_size] * 2, strides=[m.stride] * 2))
            else:
                raise NotImplementedError(f"module {node.target}: {type(m).__name__}")
            names[node] = y
        elif node.op == "call_function" and node.target is torch.flatten:
            y = fresh("flatten")
            out.nodes.append(helper.make_node("Flatten", [names[node.args[0]]], [y], y, axis=1))
            names[node] = y
        elif node.op == "output":
            result = names[node.args[0]]
        else:
            raise NotImplementedError(f"{node.op} {node.target}")

    out.nodes.append(helper.make_node("Identity", [result], ["logits"], "logits_Identity"))
    graph = helper.make_graph(
        out.nodes, "small_cnn_qat",
        [helper.make_tensor_value_info(graph_input, TensorProto.FLOAT, [1, 1, 28, 28])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, [1, 10])], out.inits)
    model = helper.make_model(graph, producer_name="NetQuantGen train_qat.py",
                              opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 7
    model.doc_string = (f"Small CNN after quantization-aware training (torch {torch.__version__} FX prepare_qat_fx): "
                        f"uint8 activations per tensor, int{weight_bits} weights symmetric per output channel "
                        "(as a restricted int8 range), int32 biases; BN folded.")
    onnx.checker.check_model(model)
    onnx.save(model, path)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--weight-bits", type=int, default=8, choices=range(2, 9))
    ap.add_argument("--epochs", type=int, default=1)
    ap.add_argument("--lr", type=float, default=0.005)
    ap.add_argument("--batch", type=int, default=128)
    # One epoch over the first 24,000 training images: about 10 minutes on a loaded 2-core machine; the
    # committed models were made with these defaults.
    ap.add_argument("--train-images", type=int, default=24000)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--data-dir", default=train.DEFAULT_DATA_DIR)
    args = ap.parse_args()

    torch.set_num_threads(args.threads)
    torch.manual_seed(SEED)
    log = lambda msg: print(time.strftime("%H:%M:%S"), msg, flush=True)
    (train_images, train_labels), (test_images, test_labels) = train.load_fashion_mnist(args.data_dir)
    x_train = train.preprocess(train_images[:args.train_images], 28)
    y_train = torch.from_numpy(train_labels[:args.train_images].astype(np.int64))
    x_test = train.preprocess(test_images, 28)
    y_test = torch.from_numpy(test_labels.astype(np.int64))

    model = float_model()
    fp32 = train.evaluate(model, x_test, y_test)
    log(f"float small_cnn: top-1 {fp32:.4f}")

    prepared = prepare_qat_fx(model.train(), QConfigMapping().set_global(qconfig(args.weight_bits)),
                              example_inputs=(x_test[:1],))
    with torch.no_grad():  # observers see real data before the first update
        prepared.train()
        prepared(x_train[:2000])
    before = train.evaluate(prepared, x_test, y_test)
    log(f"fake-quantized W{args.weight_bits}A8 before QAT: top-1 {before:.4f}")

    t0 = time.time()
    qat(prepared, x_train, y_train, args.epochs, args.lr, args.batch, log)
    wall = time.time() - t0
    after = train.evaluate(prepared, x_test, y_test)
    after1000 = train.evaluate(prepared, x_test[:1000], y_test[:1000])
    log(f"QAT W{args.weight_bits}A8: top-1 {after:.4f} (first 1,000: {after1000:.4f}), {wall:.0f} s")

    name = "small_cnn_qat" if args.weight_bits == 8 else f"small_cnn_qat_w{args.weight_bits}"
    export_qdq(prepared, os.path.join(HERE, name + ".onnx"), args.weight_bits)
    log(f"wrote {name}.onnx")

    acc_path = os.path.join(HERE, "qat_accuracy.json")
    results = {}
    if os.path.exists(acc_path):
        with open(acc_path) as f:
            results = json.load(f)
    results[name] = {
        "onnx_file": name + ".onnx",
        "source": "small_cnn.onnx",
        "weight_bits": args.weight_bits,
        "activation_bits": 8,
        "fp32_top1": fp32,
        "fake_quant_before_qat_top1": before,
        "qat_top1": after,
        "qat_top1_first1000": after1000,
        "epochs": args.epochs,
        "train_images": len(x_train),
        "lr": args.lr,
        "train_wall_time_s": round(wall, 1),
        "torch": torch.__version__,
    }
    with open(acc_path, "w") as f:
        json.dump(results, f, indent=2)
        f.write("\n")


if __name__ == "__main__":
    main()
