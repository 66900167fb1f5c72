"""PyTorch's own post-training quantization of the sample models: the peer row of ACCURACY.md.

Rebuilds each model from train.py's definitions, loads its weights from the committed ONNX file (train.py keeps
no PyTorch checkpoint), and quantizes it with torch.ao FX graph mode (prepare_fx / calibrate / convert_fx) with
each backend's default QConfigMapping: HistogramObserver on activations; weights per-channel symmetric on
onednn (the x86 backend of Debian's torch 1.13, which has no fbgemm) and per-tensor on qnnpack. Calibration: the
same 1,000 training images as samples/models/*.calib; evaluation: the 10,000 Fashion-MNIST test images, with the
preprocessing the C# side uses. Writes pytorch_ptq.json beside this script, which the Accuracy command reads.

Run by hand (never in CI), with Debian's torch:

    OMP_NUM_THREADS=1 OMP_WAIT_POLICY=PASSIVE nice -n 15 /usr/bin/python3 samples/models/pytorch_ptq.py
"""

import json
import os
import sys
import time

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import onnx  # noqa: E402
import onnx.numpy_helper  # noqa: E402
import torch  # noqa: E402
from torch.ao.quantization import get_default_qconfig_mapping  # noqa: E402
from torch.ao.quantization.quantize_fx import convert_fx, prepare_fx  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import train  # noqa: E402

DATA = os.path.join(HERE, "..", "data")


def load_from_onnx(model, path):
    """ONNX initializers carry the state_dict names (exported with do_constant_folding=False); aliases come as Identity nodes."""
    graph = onnx.load(path).graph
    tensors = {i.name: torch.from_numpy(onnx.numpy_helper.to_array(i).copy()) for i in graph.initializer}
    for node in graph.node:
        if node.op_type == "Identity" and node.input[0] in tensors:
            tensors[node.output[0]] = tensors[node.input[0]]
    state = model.state_dict()
    missing = [k for k in state if k not in tensors and not k.endswith("num_batches_tracked")]
    if missing:
        raise SystemExit(f"{path}: no ONNX initializer for {missing[:5]}")
    model.load_state_dict({k: tensors.get(k, v) for k, v in state.items()})
    return model.eval()


def main():
    torch.set_num_threads(1)
    calib_images = train.read_idx(os.path.join(DATA, "calib-images-idx3-ubyte.gz"))
    test_images = train.read_idx(os.path.join(DATA, "t10k-images-idx3-ubyte.gz"))
    test_labels = torch.from_numpy(train.read_idx(os.path.join(DATA, "t10k-labels-idx1-ubyte.gz")).astype("int64"))
    results = {"torch_version": torch.__version__, "calibration_images": len(calib_images), "test_images": len(test_images), "models": {}}
    for key, cfg in train.CONFIGS.items():
        name = cfg["name"]
        x_calib = train.preprocess(calib_images, cfg["size"])
        x_test = train.preprocess(test_images, cfg["size"])
        model = load_from_onnx(cfg["make"](), os.path.join(HERE, name + ".onnx"))
        with torch.no_grad():
            entry = {"fp32_top1": train.evaluate(model, x_test, test_labels)}
            for backend in ("onednn", "qnnpack"):
                t0 = time.time()
                torch.backends.quantized.engine = backend
                example = (x_calib[:1],)
                prepared = prepare_fx(load_from_onnx(cfg["make"](), os.path.join(HERE, name + ".onnx")), get_default_qconfig_mapping(backend), example)
                for i in range(0, len(x_calib), 100):
                    prepared(x_calib[i:i + 100])
                quantized = convert_fx(prepared)
                entry[backend + "_top1"] = train.evaluate(quantized, x_test, test_labels)
                entry[backend + "_seconds"] = round(time.time() - t0, 1)
                print(f"{name} {backend}: {entry[backend + '_top1']:.4f} (fp32 {entry['fp32_top1']:.4f}), {entry[backend + '_seconds']} s", flush=True)
        results["models"][name] = entry
        # Written after every model, so a long run that is stopped keeps what it measured.
        with open(os.path.join(HERE, "pytorch_ptq.json"), "w") as f:
            json.dump(results, f, indent=2)
            f.write("\n")


if __name__ == "__main__":
    main()
