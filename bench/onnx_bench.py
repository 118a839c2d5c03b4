"""Time an ONNX model with ONNX Runtime or OpenVINO (CPU): the ORT and OpenVINO columns of bench/compare.

What it is: one process, one engine, the protocol of bench/torch_bench.py and `spdinfer bench`:
load the model, `--warmup` untimed runs, then `--runs` timed ones on the input read from a float32
.npy file, and print one JSON object: {"engine", "version", "threads", "shape", "times_ms": [...],
"median_ms", "output_shape", "load_ms", "config"}; --save-output writes the last run's output as
a float32 .npy so the parent can check it against PyTorch's.

  --engine ort       onnxruntime.InferenceSession, CPUExecutionProvider only;
                     intra_op_num_threads = T, inter_op_num_threads = 1, ORT_SEQUENTIAL,
                     ORT_ENABLE_ALL graph optimisation.
  --engine openvino  openvino.Core().compile_model on device CPU with INFERENCE_NUM_THREADS = T,
                     PERFORMANCE_HINT = LATENCY, NUM_STREAMS = 1 and INFERENCE_PRECISION_HINT = f32
                     (on CPUs with avx512_bf16 or AMX OpenVINO otherwise computes in bfloat16); the
                     model must have static shapes (bench/export_onnx.py writes them). One infer
                     request whose input tensor shares the .npy array's memory, run synchronously.

The process imports only its own runtime (and NumPy), so the parent's peak-RSS figure is that
runtime's. What it is not: an installer. The runtime must be importable: bench/compare runs this
with the Python of a venv in its cache directory into which it pip-installed the pinned versions.

    VENV/bin/python bench/onnx_bench.py --engine ort model.onnx --input x.npy --threads 1 \
        --runs 10 --warmup 2 [--save-output y.npy]
"""

import importlib.metadata
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import numpy as np  # noqa: E402

from bench.protocol import parser, report, timed_runs  # noqa: E402


class OrtEngine:
    def __init__(self, model, threads):
        import onnxruntime as ort
        so = ort.SessionOptions()
        so.intra_op_num_threads = threads
        so.inter_op_num_threads = 1
        so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        self.session = ort.InferenceSession(model, sess_options=so, providers=['CPUExecutionProvider'])
        self.input_name = self.session.get_inputs()[0].name
        self.output_name = self.session.get_outputs()[0].name
        self.version = ort.__version__
        self.config = {'providers': self.session.get_providers(), 'intra_op_num_threads': threads,
                       'inter_op_num_threads': 1, 'execution_mode': 'ORT_SEQUENTIAL',
                       'graph_optimization_level': 'ORT_ENABLE_ALL'}
        self.feeds = None

    def set_input(self, x):
        self.feeds = {self.input_name: x}

    def run(self):
        return self.session.run([self.output_name], self.feeds)[0]


class OpenVinoEngine:
    def __init__(self, model, threads):
        import openvino as ov
        core = ov.Core()
        net = core.read_model(model)
        if net.is_dynamic():
            raise SystemExit(f'onnx_bench: {model} has dynamic shapes; export it with a fixed input shape')
        compiled = core.compile_model(net, 'CPU', {'INFERENCE_NUM_THREADS': threads, 'PERFORMANCE_HINT': 'LATENCY',
                                                   'NUM_STREAMS': 1, 'INFERENCE_PRECISION_HINT': 'f32'})
        self.ov = ov
        self.request = compiled.create_infer_request()
        self.version = importlib.metadata.version('openvino')
        self.config = {'device': 'CPU'}
        for key in ('INFERENCE_NUM_THREADS', 'NUM_STREAMS', 'PERFORMANCE_HINT', 'INFERENCE_PRECISION_HINT',
                    'EXECUTION_MODE_HINT', 'ENABLE_CPU_PINNING', 'ENABLE_HYPER_THREADING'):
            try:
                value = compiled.get_property(key)
                self.config[key] = value.to_string() if hasattr(value, 'to_string') else str(value)
            except RuntimeError:
                pass
        if self.config.get('INFERENCE_NUM_THREADS') != str(threads):
            raise SystemExit(f'onnx_bench: OpenVINO compiled with INFERENCE_NUM_THREADS '
                             f'{self.config.get("INFERENCE_NUM_THREADS")}, asked for {threads}')

    def set_input(self, x):
        self.request.set_input_tensor(self.ov.Tensor(x, shared_memory=True))

    def run(self):
        self.request.infer()
        return self.request.get_output_tensor().data


ENGINES = {'ort': OrtEngine, 'openvino': OpenVinoEngine}


def main(argv=None):
    p = parser(__doc__.split('\n')[0], '.onnx file with a fixed input shape')
    p.add_argument('--engine', required=True, choices=sorted(ENGINES))
    args = p.parse_args(argv)
    if args.threads < 1 or args.runs < 0 or args.warmup < 0:
        p.error('--threads must be >= 1, --runs and --warmup >= 0')

    start = time.perf_counter()
    engine = ENGINES[args.engine](args.model, args.threads)
    x = np.ascontiguousarray(np.load(args.input), dtype=np.float32)
    engine.set_input(x)
    load_ms = 1000.0 * (time.perf_counter() - start)

    times, y = timed_runs(engine.run, args.runs, args.warmup)
    if args.save_output:
        np.save(args.save_output, np.array(y, dtype=np.float32))
    report(args.engine, engine.version, args.threads, x.shape, times, y.shape, load_ms, config=engine.config)
    return 0


if __name__ == '__main__':
    sys.exit(main())
