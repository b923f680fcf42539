/**
 * ONNX export and import (see export.ts and import.ts): the bytes of a
 * `.onnx` file out of a Striate model, and a Striate model out of them.
 * `striate/node` adds `saveOnnx` and `loadOnnx` for file paths.
 */
// The op registry first: the ops' modules import one another through it, and
// loading it before any of them keeps their initialisation order the one the
// main entry has (this module may be imported on its own, e.g. by tests).
import '../ops/index.js';
export { exportOnnx, ONNX_IR_VERSION, ONNX_OPSET, type ExportOnnxOptions } from './export.js';
export { importOnnx, ONNX_IMPORT_OPS, ONNX_IMPORT_OPSETS, type ImportedOnnx, type ImportOnnxOptions } from './import.js';
