/**
 * Checkpoints (Node only): named float32 tensors in three groups (the
 * parameters, the optimizer state, and the non-trainable statistics such as
 * batch-norm running means, none of which exist yet), plus optional JSON
 * metadata.
 *
 * A checkpoint directory holds two files:
 *  - `weights.bin`: every tensor's float32 values, little-endian, back to back;
 *  - `manifest.json`: format version, one entry per tensor (name, group,
 *    shape, byte offset, byte length), the weights file's length and SHA-256,
 *    the metadata, and, when saved with one, the model's description
 *    (`modelToJson`), so `loadModel` can rebuild the model without the code
 *    that made it. The description sits in the manifest, the file that
 *    commits a save, so it can never belong to other weights than those the
 *    manifest's checksum names.
 *
 * Saving is crash-safe in the sense that a reader never trusts partial data:
 * both files are written to temporary names in the same directory (so rename
 * stays within one filesystem and is atomic), fsynced, then renamed, weights
 * first and manifest last, and the directory is fsynced so the renames are
 * durable. The manifest records the SHA-256 of the weights it describes, so
 * a manifest can only ever be accepted together with exactly those weights.
 *
 * Limitation: when overwriting an existing checkpoint, a crash between the
 * two renames leaves the old manifest next to the new weights. The checksum
 * turns that into a clear load error rather than silently mixed parameters,
 * but that checkpoint is then unusable; keep the previous one elsewhere (e.g.
 * save each epoch to its own directory) if that matters.
 */
import { createHash, randomBytes } from 'node:crypto';
import { constants } from 'node:fs';
import { mkdir, open, readFile, rename, unlink, type FileHandle } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { sameShape, shapeToString, sizeOf } from '../graph/shape.js';
import { type Model, paramShapes } from '../nn/model.js';
import { freezeParams, type Params, type TensorData, tensorValue } from '../nn/params.js';
import { modelFromJson, type ModelJson, modelToJson } from '../nn/serialize.js';

export type { TensorData };

/** Named tensors: one group of a checkpoint. */
export type TensorGroup = Record<string, TensorData>;

/** What `saveCheckpoint` stores. */
export interface CheckpointContents {
  /**
   * The model the parameters belong to. Its description is stored in the
   * manifest (the model must be made of built-in layers; see `modelToJson`),
   * and `params` must then hold exactly its parameters, with their shapes.
   */
  model?: Model;
  /** The parameters by name (`toTensorGroup(state.params)`). */
  params: TensorGroup;
  /** The optimizer's state (`optimizerTensors(state.optimizer)`). */
  optimizer?: TensorGroup;
  /** Non-trainable statistics (a `TrainState`'s `stats`), stored as they are. */
  stats?: TensorGroup;
  /** Anything JSON can represent, e.g. { epoch, step, seed, accuracy }. */
  meta?: object;
}

/** The groups a checkpoint's tensors belong to. */
export type GroupName = 'params' | 'optimizer' | 'stats';

/** Where one tensor lies in the weights file. */
export interface ManifestEntry {
  /** The tensor's name within its group. */
  name: string;
  /** Its group. */
  group: GroupName;
  /** Its element type (float32 only). */
  dtype: 'float32';
  /** Its dimensions. */
  shape: number[];
  /** Where its values start in the weights file, in bytes (a multiple of 4). */
  byteOffset: number;
  /** How many bytes its values take: 4 × the product of `shape`. */
  byteLength: number;
}

/** The contents of `manifest.json`. */
export interface Manifest {
  /** Always `"striate-checkpoint"`. */
  format: typeof FORMAT;
  /** The checkpoint format version. */
  version: typeof FORMAT_VERSION;
  /** Weights file, relative to the checkpoint directory. */
  weights: {
    /** Its file name, in the checkpoint directory. */
    file: string;
    /** Its length in bytes. */
    byteLength: number;
    /** The SHA-256 of its bytes, in hex. */
    sha256: string;
  };
  /** One entry per tensor, in file order. */
  entries: ManifestEntry[];
  /** The metadata saved, as JSON. */
  meta?: unknown;
  /** The model's description, when saved with one. */
  model?: ModelJson;
}

/** What `loadCheckpoint` returns. */
export interface LoadedCheckpoint {
  /** The parameters by name. */
  params: TensorGroup;
  /** The optimizer state (empty when none was saved). */
  optimizer: TensorGroup;
  /** Empty when the checkpoint has none (every checkpoint so far). */
  stats: TensorGroup;
  /** The metadata saved (undefined when none was). */
  meta: unknown;
  /** The model rebuilt from the stored description (its parameters checked against it), or null if none was stored. */
  model: Model | null;
  /** The manifest as read. */
  manifest: Manifest;
}

/** Options of `loadCheckpoint`. */
export interface LoadCheckpointOptions {
  /**
   * The model's parameter shapes. When given, every one must be in the
   * checkpoint with exactly that shape and the checkpoint must have no other
   * parameters (optimizer state and statistics are not checked against it).
   */
  expect?: Record<string, number[]>;
}

export const FORMAT = 'striate-checkpoint';
export const FORMAT_VERSION = 1;
export const MANIFEST_FILE = 'manifest.json';
export const WEIGHTS_FILE = 'weights.bin';

// A checkpoint without statistics (all of them, until a layer keeps some)
// is byte for byte what a reader that knew only the first two groups wrote
// and read, so the format version stays 1. The same holds for the optional
// model description: a reader that does not know it loads the weights.
const GROUPS: readonly GroupName[] = ['params', 'optimizer', 'stats'];
const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

function isShape(x: unknown): x is number[] {
  return Array.isArray(x) && x.every((d) => Number.isSafeInteger(d) && d >= 0);
}


/** float32 → little-endian bytes, whatever the host's byte order. */
function toLittleEndianBytes(data: Float32Array): Uint8Array {
  const bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  if (LITTLE_ENDIAN) return bytes;
  const out = new Uint8Array(data.byteLength);
  const dv = new DataView(out.buffer);
  for (let i = 0; i < data.length; i++) dv.setFloat32(i * 4, data[i], true);
  return out;
}

/**
 * Little-endian bytes → a fresh float32 array. Always copies: the file
 * buffer's offset need not be 4-byte aligned, and the returned tensors must
 * not keep the whole file alive or alias each other.
 */
function fromLittleEndianBytes(bytes: Uint8Array): Float32Array {
  const out = new Float32Array(bytes.length / 4);
  if (LITTLE_ENDIAN) {
    new Uint8Array(out.buffer).set(bytes);
  } else {
    const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    for (let i = 0; i < out.length; i++) out[i] = dv.getFloat32(i * 4, true);
  }
  return out;
}

/** A name in the same directory that no other writer will pick, so concurrent saves never share a temp file. */
function tempName(dir: string, file: string): string {
  return join(dir, `.${file}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`);
}

async function writeAndSync(path: string, chunks: readonly Uint8Array[]): Promise<void> {
  let fh: FileHandle | undefined;
  try {
    // 'wx': fail rather than clobber if the temp name somehow exists.
    fh = await open(path, 'wx');
    for (const c of chunks) {
      // write() may write less than asked; loop until the chunk is out.
      let pos = 0;
      while (pos < c.length) {
        const { bytesWritten } = await fh.write(c, pos, c.length - pos);
        pos += bytesWritten;
      }
    }
    // Data must be on disk before the rename makes it visible under the real name.
    await fh.sync();
  } finally {
    await fh?.close();
  }
}

/** fsync the directory so the renames themselves survive a power cut. */
async function syncDir(dir: string): Promise<void> {
  let fh: FileHandle | undefined;
  try {
    fh = await open(dir, constants.O_RDONLY);
    await fh.sync();
  } catch (err) {
    // Some platforms (Windows) cannot open or fsync a directory; the renames
    // are still atomic there, only not guaranteed durable, so carry on.
    const code = (err as NodeJS.ErrnoException).code;
    if (code !== 'EISDIR' && code !== 'EPERM' && code !== 'EINVAL' && code !== 'EACCES') throw err;
  } finally {
    await fh?.close();
  }
}

function validateGroup(group: GroupName, tensors: TensorGroup | undefined): [string, TensorData][] {
  if (tensors === undefined) return [];
  if (tensors === null || typeof tensors !== 'object') {
    throw new Error(`saveCheckpoint: ${group} must be an object mapping names to { shape, data }`);
  }
  const out: [string, TensorData][] = [];
  for (const [name, t] of Object.entries(tensors)) {
    if (name === '') throw new Error(`saveCheckpoint: ${group} has a tensor with an empty name; give every tensor a name`);
    if (!t || !(t.data instanceof Float32Array)) {
      throw new Error(`saveCheckpoint: ${group} tensor "${name}" must have data as a Float32Array`);
    }
    if (!isShape(t.shape)) {
      throw new Error(
        `saveCheckpoint: ${group} tensor "${name}" has shape ${JSON.stringify(t.shape)}; ` +
          `a shape must be an array of non-negative integers`,
      );
    }
    if (sizeOf(t.shape) !== t.data.length) {
      throw new Error(
        `saveCheckpoint: ${group} tensor "${name}" has shape ${shapeToString(t.shape)} (${sizeOf(t.shape)} values) ` +
          `but its data holds ${t.data.length} values`,
      );
    }
    out.push([name, t]);
  }
  return out;
}

/**
 * Save a checkpoint to `dir` (created if missing), replacing any checkpoint
 * already there. Returns the manifest that was written.
 */
export async function saveCheckpoint(dir: string, contents: CheckpointContents): Promise<Manifest> {
  if (!contents || typeof contents !== 'object' || !contents.params) {
    throw new Error('saveCheckpoint: expected { model?, params, optimizer?, stats?, meta? } with params mapping names to { shape, data }');
  }
  const groups: Record<GroupName, [string, TensorData][]> = {
    params: validateGroup('params', contents.params),
    optimizer: validateGroup('optimizer', contents.optimizer),
    stats: validateGroup('stats', contents.stats),
  };

  // Describe the model before touching the disk: a model that cannot be
  // described, or parameters that are not its own, must not be saved.
  let model: ModelJson | undefined;
  if (contents.model !== undefined) {
    try {
      model = modelToJson(contents.model);
    } catch (err) {
      throw new Error(`saveCheckpoint: ${(err as Error).message}`, { cause: err });
    }
    const problems = shapeProblems(contents.params, paramShapes(contents.model), 'the params', 'the model');
    if (problems.length > 0) throw mismatch('saveCheckpoint', `the params do not match model "${contents.model.name}"`, problems);
  }

  // Serialise the metadata first: a non-JSON value should fail before we touch the disk.
  let meta: unknown;
  if (contents.meta !== undefined) {
    try {
      const text = JSON.stringify(contents.meta);
      meta = text === undefined ? undefined : JSON.parse(text);
    } catch (err) {
      throw new Error(
        `saveCheckpoint: meta cannot be stored as JSON (${(err as Error).message}); ` +
          `use plain objects, arrays, strings, numbers and booleans`,
        { cause: err },
      );
    }
  }

  const entries: ManifestEntry[] = [];
  const chunks: Uint8Array[] = [];
  const hash = createHash('sha256');
  let offset = 0;
  for (const group of GROUPS) {
    for (const [name, t] of groups[group]) {
      const bytes = toLittleEndianBytes(t.data);
      entries.push({ name, group, dtype: 'float32', shape: [...t.shape], byteOffset: offset, byteLength: bytes.length });
      chunks.push(bytes);
      hash.update(bytes);
      offset += bytes.length;
    }
  }
  const manifest: Manifest = {
    format: FORMAT,
    version: FORMAT_VERSION,
    weights: { file: WEIGHTS_FILE, byteLength: offset, sha256: hash.digest('hex') },
    entries,
    ...(meta === undefined ? {} : { meta }),
    ...(model === undefined ? {} : { model }),
  };

  await mkdir(dir, { recursive: true });
  const weightsTmp = tempName(dir, WEIGHTS_FILE);
  const manifestTmp = tempName(dir, MANIFEST_FILE);
  try {
    await writeAndSync(weightsTmp, chunks);
    await writeAndSync(manifestTmp, [new TextEncoder().encode(JSON.stringify(manifest, null, 2) + '\n')]);
    // Weights first, manifest last: the manifest is what makes a checkpoint
    // visible, so it must never be in place before its weights are.
    await rename(weightsTmp, join(dir, WEIGHTS_FILE));
    await rename(manifestTmp, join(dir, MANIFEST_FILE));
    await syncDir(dir);
  } finally {
    // After a successful rename these are gone and unlink fails harmlessly;
    // after a failure they are partial files nobody should see.
    await Promise.all([unlink(weightsTmp).catch(() => {}), unlink(manifestTmp).catch(() => {})]);
  }
  return manifest;
}

function parseManifest(path: string, text: string): Manifest {
  const bad = (why: string): Error =>
    new Error(`loadCheckpoint: ${path} is not a valid checkpoint manifest: ${why}`);
  let m: unknown;
  try {
    m = JSON.parse(text);
  } catch (err) {
    throw bad(`it is not valid JSON (${(err as Error).message})`);
  }
  if (!m || typeof m !== 'object') throw bad('it is not a JSON object');
  const o = m as Record<string, unknown>;
  if (o.format !== FORMAT) throw bad(`its "format" is ${JSON.stringify(o.format)}, expected "${FORMAT}"`);
  if (o.version !== FORMAT_VERSION) {
    throw new Error(
      `loadCheckpoint: ${path} has format version ${JSON.stringify(o.version)}, but this version of Striate ` +
        `reads only version ${FORMAT_VERSION}; load it with the Striate version that wrote it`,
    );
  }
  const w = o.weights as Record<string, unknown> | undefined;
  if (
    !w ||
    typeof w !== 'object' ||
    typeof w.file !== 'string' ||
    !Number.isSafeInteger(w.byteLength) ||
    (w.byteLength as number) < 0 ||
    typeof w.sha256 !== 'string' ||
    !/^[0-9a-f]{64}$/.test(w.sha256)
  ) {
    throw bad('"weights" must be { file, byteLength, sha256 }');
  }
  // The weights file must sit in the checkpoint directory; a path here
  // could otherwise make loading read arbitrary files.
  if (w.file === '' || basename(w.file) !== w.file || w.file === '.' || w.file === '..') {
    throw bad(`"weights.file" must be a plain file name, got ${JSON.stringify(w.file)}`);
  }
  if (!Array.isArray(o.entries)) throw bad('"entries" must be an array');
  const seen = new Set<string>();
  for (const [i, e] of (o.entries as unknown[]).entries()) {
    const en = e as Record<string, unknown>;
    if (!en || typeof en !== 'object' || typeof en.name !== 'string' || !GROUPS.includes(en.group as GroupName)) {
      throw bad(`entry ${i} must have a string "name" and a "group" of "params", "optimizer" or "stats"`);
    }
    const label = `${en.group} tensor "${en.name}"`;
    if (en.dtype !== 'float32') throw bad(`${label} has dtype ${JSON.stringify(en.dtype)}; only "float32" is supported`);
    if (!isShape(en.shape)) throw bad(`${label} has an invalid shape ${JSON.stringify(en.shape)}`);
    const off = en.byteOffset;
    const len = en.byteLength;
    if (!Number.isSafeInteger(off) || !Number.isSafeInteger(len) || (off as number) < 0 || (len as number) < 0) {
      throw bad(`${label} must have non-negative integer byteOffset and byteLength`);
    }
    if ((len as number) !== sizeOf(en.shape) * 4) {
      throw bad(`${label} has shape ${shapeToString(en.shape)}, which needs ${sizeOf(en.shape) * 4} bytes, but byteLength ${len}`);
    }
    if ((off as number) % 4 !== 0) throw bad(`${label} has byteOffset ${off}, which is not a multiple of 4`);
    if ((off as number) + (len as number) > (w.byteLength as number)) {
      throw bad(
        `${label} spans bytes ${off}..${(off as number) + (len as number)} but the weights file is ` +
          `${w.byteLength} bytes long`,
      );
    }
    const key = `${en.group}\u0000${en.name}`;
    if (seen.has(key)) throw bad(`${label} appears twice`);
    seen.add(key);
  }
  if (o.model !== undefined && (o.model === null || typeof o.model !== 'object' || Array.isArray(o.model))) {
    throw bad(`"model" must be a model description object, got ${JSON.stringify(o.model)}`);
  }
  return m as Manifest;
}

/**
 * Load and verify a checkpoint written by `saveCheckpoint`: format version,
 * weights length and SHA-256, every entry within the file, and, with
 * `expect`, the exact set of parameter names and shapes.
 */
export async function loadCheckpoint(dir: string, options: LoadCheckpointOptions = {}): Promise<LoadedCheckpoint> {
  const manifestPath = join(dir, MANIFEST_FILE);
  let text: string;
  try {
    text = await readFile(manifestPath, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
      throw new Error(
        `loadCheckpoint: ${manifestPath} does not exist; ${dir} is not a checkpoint directory ` +
          `(or a save into it never completed)`,
        { cause: err },
      );
    }
    throw new Error(`loadCheckpoint: cannot read ${manifestPath}: ${(err as Error).message}`, { cause: err });
  }
  const manifest = parseManifest(manifestPath, text);

  const weightsPath = join(dir, manifest.weights.file);
  let bytes: Uint8Array;
  try {
    bytes = await readFile(weightsPath);
  } catch (err) {
    throw new Error(
      `loadCheckpoint: cannot read the weights file ${weightsPath} named by ${manifestPath}: ${(err as Error).message}`,
      { cause: err },
    );
  }
  if (bytes.length !== manifest.weights.byteLength) {
    const how = bytes.length < manifest.weights.byteLength ? 'truncated' : 'longer than expected';
    throw new Error(
      `loadCheckpoint: weights file ${weightsPath} is ${how}: it is ${bytes.length} bytes but the manifest says ` +
        `${manifest.weights.byteLength}; the checkpoint is damaged, restore it or save it again`,
    );
  }
  const sha = createHash('sha256').update(bytes).digest('hex');
  if (sha !== manifest.weights.sha256) {
    throw new Error(
      `loadCheckpoint: weights file ${weightsPath} fails its checksum (SHA-256 ${sha}, manifest says ` +
        `${manifest.weights.sha256}); the file is corrupt or belongs to a different save, restore it or save it again`,
    );
  }

  const groups: Record<GroupName, TensorGroup> = { params: {}, optimizer: {}, stats: {} };
  for (const e of manifest.entries) {
    const data = fromLittleEndianBytes(bytes.subarray(e.byteOffset, e.byteOffset + e.byteLength));
    // defineProperty so names like "__proto__" are stored as ordinary keys.
    Object.defineProperty(groups[e.group], e.name, {
      value: { shape: [...e.shape], data },
      enumerable: true,
      writable: true,
      configurable: true,
    });
  }

  const { params, optimizer, stats } = groups;
  let model: Model | null = null;
  if (manifest.model !== undefined) {
    try {
      model = modelFromJson(manifest.model);
    } catch (err) {
      throw new Error(`loadCheckpoint: the model description in ${manifestPath} cannot be read: ${(err as Error).message}`, { cause: err });
    }
    const problems = shapeProblems(params, paramShapes(model), 'the checkpoint', 'its model description');
    if (problems.length > 0) throw mismatch('loadCheckpoint', `the parameters in ${dir} do not match the checkpoint's own model description`, problems);
  }
  if (options.expect !== undefined) {
    const problems = shapeProblems(params, options.expect, 'the checkpoint', 'the model');
    if (problems.length > 0) throw mismatch('loadCheckpoint', `the checkpoint in ${dir} does not match the model`, problems);
  }
  return { params, optimizer, stats, meta: manifest.meta, model, manifest };
}

/** Each way the parameters `params` (in `here`) differ from the shapes `expect` (of `there`). */
function shapeProblems(params: TensorGroup, expect: Record<string, readonly number[]>, here: string, there: string): string[] {
  const problems: string[] = [];
  for (const [name, shape] of Object.entries(expect)) {
    if (!Object.hasOwn(params, name)) {
      problems.push(`parameter "${name}" (shape ${shapeToString(shape)}) is missing from ${here}`);
    } else if (!sameShape(params[name].shape, shape)) {
      problems.push(`parameter "${name}" has shape ${shapeToString(params[name].shape)} in ${here} but ${there} expects ${shapeToString(shape)}`);
    }
  }
  for (const name of Object.keys(params)) {
    if (!Object.hasOwn(expect, name)) {
      problems.push(`parameter "${name}" (shape ${shapeToString(params[name].shape)}) is in ${here} but not in ${there}`);
    }
  }
  return problems;
}

/** One problem as it is; several as a list under `summary`. */
function mismatch(who: string, summary: string, problems: readonly string[]): Error {
  if (problems.length === 1) return new Error(`${who}: ${problems[0]}`);
  return new Error(`${who}: ${summary} (${problems.length} problems):\n` + problems.map((p) => `  - ${p}`).join('\n'));
}

/** Options of `loadModel`. */
export interface LoadModelOptions {
  /**
   * The model to load the weights into, for a checkpoint saved without one
   * (the parameters are checked against it). When the checkpoint has a
   * description too, the parameters must fit both.
   */
  model?: Model;
}

/** A model ready for `createPredictor` or `evaluate`: what `loadModel` returns. */
export interface LoadedModel {
  /** The model, rebuilt from the checkpoint's description (or the one given). */
  readonly model: Model;
  /** Its parameters, frozen. */
  readonly params: Params;
  /** Non-trainable statistics (empty when the checkpoint has none). */
  readonly stats: Params;
  /** The metadata saved with the checkpoint. */
  readonly meta: unknown;
}

/**
 * Load a checkpoint as a model: the model rebuilt from its stored description
 * (or `options.model`), and its parameters and statistics as frozen records.
 * Refuses a checkpoint without a description unless `options.model` is
 * given, and parameters whose names or shapes differ from the model's.
 */
export async function loadModel(dir: string, options: LoadModelOptions = {}): Promise<LoadedModel> {
  const given = options.model;
  if (given !== undefined && (!given || typeof given.forward !== 'function')) {
    throw new Error(`loadModel: options.model must be a Model (e.g. lenet5()), got ${given === null ? 'null' : typeof given}`);
  }
  const loaded = await loadCheckpoint(dir, given ? { expect: paramShapes(given) } : {});
  const model = given ?? loaded.model;
  if (model === null) {
    throw new Error(
      `loadModel: the checkpoint in ${dir} has no model description (it was saved without { model }); ` +
        `give the model as loadModel(dir, { model }), or save it again with saveCheckpoint(dir, { model, params })`,
    );
  }
  const values = (group: TensorGroup): Params => freezeParams(Object.entries(group).map(([name, t]) => [name, tensorValue(t.shape, t.data)] as const));
  return Object.freeze({ model, params: values(loaded.params), stats: values(loaded.stats), meta: loaded.meta });
}
