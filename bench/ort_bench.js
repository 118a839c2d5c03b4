#!/usr/bin/env node
// Time an ONNX model with ONNX Runtime (onnxruntime-node, CPU): the ORT column of bench/compare.
//
// What it is: one session with intraOpNumThreads = T, interOpNumThreads = 1, graph optimisation
// "all" and sequential execution; `--warmup` untimed runs, then `--runs` timed ones on the input
// read from a float32 .npy file. Prints one JSON object: {"engine": "ort", "version", "threads",
// "shape", "times_ms": [...], "median_ms", "output_shape", "load_ms"}; --save-output writes the
// last run's output as a float32 .npy so the parent can check it against PyTorch's.
// What it is not: an installer. onnxruntime-node must be resolvable, e.g. NODE_PATH pointing at a
// node_modules holding it (bench/compare installs it into its cache directory).
//
//   NODE_PATH=~/.cache/spdinfer-bench/ort/node_modules node bench/ort_bench.js model.onnx \
//       --input x.npy --threads 1 --runs 10 --warmup 2 [--save-output y.npy]
'use strict';

const fs = require('fs');

function usage(msg) {
  process.stderr.write(`ort_bench: ${msg}\nusage: ort_bench.js MODEL.onnx --input X.npy [--threads T] [--runs R] ` +
                       `[--warmup W] [--save-output Y.npy]\n`);
  process.exit(2);
}

function parseArgs(argv) {
  const o = {threads: 1, runs: 10, warmup: 2, model: null, input: null, saveOutput: null};
  for (let i = 0; i < argv.length; ++i) {
    const a = argv[i];
    const next = () => {
      if (i + 1 >= argv.length) usage(`${a} needs a value`);
      return argv[++i];
    };
    const int = (v) => {
      if (!/^\d+$/.test(v)) usage(`${a}: expected a non-negative integer, got '${v}'`);
      return parseInt(v, 10);
    };
    if (a === '--input') o.input = next();
    else if (a === '--threads') o.threads = int(next());
    else if (a === '--runs') o.runs = int(next());
    else if (a === '--warmup') o.warmup = int(next());
    else if (a === '--save-output') o.saveOutput = next();
    else if (a.startsWith('--')) usage(`unknown option ${a}`);
    else if (o.model === null) o.model = a;
    else usage(`unexpected argument ${a}`);
  }
  if (!o.model || !o.input) usage('MODEL and --input are required');
  if (o.threads < 1) usage('--threads must be at least 1');
  return o;
}

// Minimal .npy (v1-3) reader for little-endian float32, C order.
function readNpy(path) {
  const buf = fs.readFileSync(path);
  if (buf.toString('latin1', 0, 6) !== '\x93NUMPY') throw new Error(`${path}: not a .npy file`);
  const major = buf[6];
  const headerLen = major === 1 ? buf.readUInt16LE(8) : buf.readUInt32LE(8);
  const start = major === 1 ? 10 : 12;
  const header = buf.toString('latin1', start, start + headerLen);
  if (!/'descr':\s*'<f4'/.test(header)) throw new Error(`${path}: expected float32 ('<f4'), header ${header.trim()}`);
  if (/'fortran_order':\s*True/.test(header)) throw new Error(`${path}: Fortran order is not supported`);
  const m = /'shape':\s*\(([^)]*)\)/.exec(header);
  if (!m) throw new Error(`${path}: no shape in header ${header.trim()}`);
  const shape = m[1].split(',').map((s) => s.trim()).filter((s) => s.length).map(Number);
  const count = shape.reduce((a, b) => a * b, 1);
  const offset = start + headerLen;
  if (buf.length - offset !== 4 * count) throw new Error(`${path}: ${buf.length - offset} data bytes for shape [${shape}]`);
  const data = new Float32Array(count);
  for (let i = 0; i < count; ++i) data[i] = buf.readFloatLE(offset + 4 * i);
  return {shape, data};
}

function writeNpy(path, shape, data) {
  const shapeText = shape.length === 1 ? `(${shape[0]},)` : `(${shape.join(', ')})`;
  let header = `{'descr': '<f4', 'fortran_order': False, 'shape': ${shapeText}, }`;
  const total = 10 + header.length + 1;
  header += ' '.repeat((64 - (total % 64)) % 64) + '\n';
  const head = Buffer.alloc(10);
  head.write('\x93NUMPY', 0, 'latin1');
  head[6] = 1;
  head[7] = 0;
  head.writeUInt16LE(header.length, 8);
  const body = Buffer.alloc(4 * data.length);
  for (let i = 0; i < data.length; ++i) body.writeFloatLE(data[i], 4 * i);
  fs.writeFileSync(path, Buffer.concat([head, Buffer.from(header, 'latin1'), body]));
}

function median(v) {
  const s = [...v].sort((a, b) => a - b);
  const n = s.length;
  return n === 0 ? null : n % 2 ? s[(n - 1) / 2] : 0.5 * (s[n / 2 - 1] + s[n / 2]);
}

async function main() {
  const o = parseArgs(process.argv.slice(2));
  const ort = require('onnxruntime-node');
  const version = require('onnxruntime-node/package.json').version;
  const t0 = performance.now();
  const session = await ort.InferenceSession.create(o.model, {
    executionProviders: ['cpu'],
    intraOpNumThreads: o.threads,
    interOpNumThreads: 1,
    graphOptimizationLevel: 'all',
    executionMode: 'sequential',
  });
  const x = readNpy(o.input);
  const feeds = {[session.inputNames[0]]: new ort.Tensor('float32', x.data, x.shape)};
  const loadMs = performance.now() - t0;
  let result = null;
  for (let i = 0; i < o.warmup; ++i) result = await session.run(feeds);
  const times = [];
  for (let i = 0; i < o.runs; ++i) {
    const start = performance.now();
    result = await session.run(feeds);
    times.push(performance.now() - start);
  }
  if (result === null) result = await session.run(feeds);
  const y = result[session.outputNames[0]];
  if (o.saveOutput) writeNpy(o.saveOutput, y.dims, y.data);
  process.stdout.write(JSON.stringify({
    engine: 'ort', version, threads: o.threads, shape: x.shape, runs: times.length,
    times_ms: times.map((t) => Math.round(t * 1e4) / 1e4), median_ms: median(times),
    output_shape: y.dims, load_ms: Math.round(loadMs * 10) / 10,
  }) + '\n');
}

main().catch((e) => {
  process.stderr.write(`ort_bench: error: ${e && e.stack ? e.stack : e}\n`);
  process.exit(1);
});
