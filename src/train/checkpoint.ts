/**
 * Checkpoints (Node only): named float32 tensors in three groups (the
 * parameters, the optimizer state, and the non-trainable statistics such as
 * batch-norm running means, none of which exist yet), plus optional JSON
 * metadata.
 *
 * A checkpoint directory holds the current save and the few before it:
 *  - `manifest.json`: the current save's manifest, the one file that says
 *    which save is current;
 *  - `weights-000007.bin` and `manifest-000007.json`: save 7, one such pair
 *    for each save kept (the current one too; its numbered manifest holds the
 *    same bytes as `manifest.json`). The weights file holds every tensor's
 *    float32 values, little-endian, back to back.
 *
 * A manifest holds the format version, the save's number, one entry per
 * tensor (name, group, shape, byte offset, byte length), the weights file's
 * name, length and SHA-256, the metadata, the model's description when saved
 * with one (`modelToJson`, so `loadModel` can rebuild the model without the
 * code that made it), and last `manifestSha256`: the SHA-256 of everything
 * before it, as `JSON.stringify` writes the manifest without that field.
 * Loading recomputes it from the parsed manifest, so any change that alters
 * what the manifest says (an offset, a shape, a slot name, the metadata) is
 * refused, while the weights' checksum ties the manifest to exactly one
 * weights file. The entries must also tile that file: in order, each
 * starting where the one before ends, the last ending at the file's end.
 *
 * Saving is atomic as a whole. Save n first writes `weights-n.bin` and
 * `manifest-n.json` under names no earlier save used (created exclusively,
 * fsynced, then the directory fsynced); nothing refers to them yet, so a kill
 * up to here leaves the previous checkpoint as it was. Then one rename
 * switches `manifest.json` (written to a temporary name and fsynced first)
 * to the new manifest, and the directory is fsynced: a reader sees the old
 * manifest or the new one, each naming its own complete weights file. Only
 * after the switch are the saves beyond the last `keep` removed, with
 * whatever killed saves left behind (temporary files, numbered files newer
 * than the save that was current). When `manifest.json` itself is damaged,
 * which saves it had committed is unknown, and no numbered save is removed.
 *
 * Why `manifest.json` is the switch, rather than a pointer file beside one
 * directory per save: the manifest already names its weights file, so one
 * rename commits a save without a second file to keep in step, and
 * `manifest.json` stays where people and scripts have always read a
 * checkpoint's metadata.
 *
 * Version 1 checkpoints (`manifest.json` and `weights.bin`, without a save
 * number or manifest checksum, as Striate wrote them before) still load. The
 * first save into such a directory keeps that checkpoint as save 0
 * (`manifest-000000.json` beside its `weights.bin`) until `keep` newer saves
 * replace it.
 *
 * Saves into one directory from one process are queued, so they never
 * interleave. Saving into one directory from several processes at once is
 * not supported: one may see another's half-written save as left behind by
 * a kill and remove it, so a save can fail or leave a checkpoint that fails
 * to load, though never one that loads mixed data. A reader that read the
 * previous `manifest.json` just before a switch still finds its weights
 * while `keep` is at least 2.
 *
 * Non-finite values (NaN, ±Infinity) are refused when saving, naming the
 * tensor and the index: they mean training diverged, and a checkpoint of them
 * would silently replace the last good one. `{ allowNonFinite: true }` saves
 * them anyway and records in each such entry how many it holds (`nonFinite`).
 */
import { createHash, randomBytes } from 'node:crypto';
import { constants } from 'node:fs';
import { mkdir, open, readdir, readFile, rename, unlink, type FileHandle } from 'node:fs/promises';
import { basename, join, resolve } from 'node:path';
import { describeValue, fail, StriateError } from '../graph/error.js';
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
  /**
   * The optimizer's state (`optimizerTensors(state.optimizer)`). An entry
   * named `slot/parameter` (e.g. `m/conv1.w`) whose parameter is in `params`
   * must have that parameter's shape.
   */
  optimizer?: TensorGroup;
  /** Non-trainable statistics (a `TrainState`'s `stats`), stored as they are. */
  stats?: TensorGroup;
  /** Anything JSON can represent, e.g. { epoch, step, seed, accuracy }. */
  meta?: object;
}

/** Options of `saveCheckpoint`. */
export interface SaveCheckpointOptions {
  /**
   * How many saves to keep in the directory, the new one included: a whole
   * number, at least 1 (default 2, so the previous save survives until the
   * next one is complete, and a reader that just read it still finds it).
   */
  keep?: number;
  /**
   * Save NaN and infinite values instead of refusing them (default false).
   * Each entry that holds some records how many in its `nonFinite`.
   */
  allowNonFinite?: boolean;
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
  /** Where its values start in the weights file, in bytes: where the entry before it ends (0 for the first). */
  byteOffset: number;
  /** How many bytes its values take: 4 × the product of `shape`. */
  byteLength: number;
  /** How many of its values are NaN or infinite, when saved with `allowNonFinite` and there are some. */
  nonFinite?: number;
}

/** The contents of a manifest file (`manifest.json`, `manifest-000007.json`). */
export interface Manifest {
  /** Always `"striate-checkpoint"`. */
  format: typeof FORMAT;
  /** The checkpoint format version: `FORMAT_VERSION`, or 1 for a checkpoint saved before save numbers. */
  version: typeof FORMAT_VERSION | 1;
  /** The save's number in its directory, from 1 (absent in version 1). */
  save?: number;
  /** Weights file, relative to the checkpoint directory. */
  weights: {
    /** Its file name, in the checkpoint directory (`weights-000007.bin`). */
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
  /** The SHA-256, in hex, of `JSON.stringify` of this manifest without this field (absent in version 1). */
  manifestSha256?: string;
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
  /** The number of the save loaded (0 for a version 1 checkpoint). */
  save: number;
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
  /**
   * Load this kept save (a number from `listCheckpoints`) instead of the
   * current one.
   */
  save?: number;
}

/** The value of every manifest's `format`. */
export const FORMAT = 'striate-checkpoint';
/** The checkpoint format version `saveCheckpoint` writes (version 1 checkpoints still load). */
export const FORMAT_VERSION = 2;
/** The current save's manifest, in the checkpoint directory. */
export const MANIFEST_FILE = 'manifest.json';

// Statistics and the model description are optional and absent from most
// manifests, so adding them left the format as it was; the manifest checksum
// and save numbers did not (a reader that ignored them would load a damaged
// manifest), hence version 2.
const GROUPS: readonly GroupName[] = ['params', 'optimizer', 'stats'];
const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;
const DEFAULT_KEEP = 2;
/** The weights file of a version 1 checkpoint, kept as save 0. */
const LEGACY_WEIGHTS_FILE = 'weights.bin';

const pad = (save: number): string => String(save).padStart(6, '0');
const manifestFile = (save: number): string => `manifest-${pad(save)}.json`;
const weightsFile = (save: number): string => (save === 0 ? LEGACY_WEIGHTS_FILE : `weights-${pad(save)}.bin`);
const sha256 = (data: string | Uint8Array): string => createHash('sha256').update(data).digest('hex');

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

/** A temporary name in the same directory (so the rename stays within one filesystem), unlike any other writer's. */
function tempName(dir: string, file: string): string {
  return join(dir, `.${file}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`);
}

/** What `tempName` makes, now or in version 1 (`.weights.bin.<pid>.<hex>.tmp`). */
const TEMP_FILE = /^\.(?:manifest|weights)[\w.-]*\.tmp$/;

/** Create `path` (failing if it exists), write `chunks` and fsync it. */
async function writeAndSync(path: string, chunks: readonly Uint8Array[]): Promise<void> {
  let fh: FileHandle | undefined;
  try {
    fh = await open(path, 'wx');
    for (const c of chunks) {
      // write() may write less than asked; loop until the chunk is out.
      let pos = 0;
      while (pos < c.length) {
        const { bytesWritten } = await fh.write(c, pos, c.length - pos);
        pos += bytesWritten;
      }
    }
    // Data must be on disk before a manifest that names it can be.
    await fh.sync();
  } finally {
    await fh?.close();
  }
}

/** fsync the directory so the files created and renamed in it survive a power cut. */
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

/** Re-throw `err` from a function Striate called as a StriateError of `op`, keeping its fields when it has them. */
function rethrow(op: string, prefix: string, err: unknown, got: string, expected: string): never {
  const detail = err instanceof StriateError ? err : { got, expected };
  fail(op, `${prefix}${(err as Error).message}`, detail.got, detail.expected, err);
}

function validateGroup(group: GroupName, tensors: TensorGroup | undefined, allowNonFinite: boolean): [string, TensorData][] {
  const op = 'saveCheckpoint';
  if (tensors === undefined) return [];
  if (tensors === null || typeof tensors !== 'object') {
    fail(op, `${group} must be an object mapping names to { shape, data }`, `${group} ${describeValue(tensors)}`, 'an object mapping names to { shape, data }');
  }
  const out: [string, TensorData][] = [];
  for (const [name, t] of Object.entries(tensors)) {
    const label = `${group} tensor "${name}"`;
    if (name === '') fail(op, `${group} has a tensor with an empty name; give every tensor a name`, 'the name ""', 'a non-empty name');
    if (!t || !(t.data instanceof Float32Array)) {
      fail(op, `${label} must have data as a Float32Array`, `data ${describeValue(t?.data)}`, 'a Float32Array');
    }
    if (!isShape(t.shape)) {
      fail(op, `${label} has shape ${JSON.stringify(t.shape)}; a shape must be an array of non-negative integers`, `shape ${JSON.stringify(t.shape)}`, 'an array of non-negative integers');
    }
    if (sizeOf(t.shape) !== t.data.length) {
      fail(
        op,
        `${label} has shape ${shapeToString(t.shape)} (${sizeOf(t.shape)} values) but its data holds ${t.data.length} values`,
        `${t.data.length} values`,
        `${sizeOf(t.shape)} values, those of shape ${shapeToString(t.shape)}`,
      );
    }
    if (!allowNonFinite) {
      const i = t.data.findIndex((v) => !Number.isFinite(v));
      if (i >= 0) {
        fail(
          op,
          `${label} holds ${t.data[i]} at index ${i} (of ${t.data.length}); training has probably diverged, so this ` +
            `would replace a good checkpoint with a broken one. Save an earlier state, or pass { allowNonFinite: true } to keep it anyway`,
          `${t.data[i]} at index ${i} of ${group} "${name}"`,
          'finite values (or { allowNonFinite: true })',
        );
      }
    }
    out.push([name, t]);
  }
  return out;
}

/**
 * The problems of optimizer entries named `slot/parameter` whose parameter
 * is among `params` but whose shape is not the parameter's: a moment that
 * cannot belong to the parameter it names.
 */
function slotProblems(optimizer: Iterable<readonly [string, readonly number[]]>, params: ReadonlyMap<string, readonly number[]>): string[] {
  const problems: string[] = [];
  for (const [name, shape] of optimizer) {
    const cut = name.indexOf('/');
    const param = params.get(name.slice(cut + 1));
    if (cut > 0 && param !== undefined && !sameShape(shape, param)) {
      problems.push(`optimizer tensor "${name}" has shape ${shapeToString(shape)} but parameter "${name.slice(cut + 1)}" has ${shapeToString(param)}`);
    }
  }
  return problems;
}

/** How many values of `data` are NaN or infinite. */
function countNonFinite(data: Float32Array): number {
  let n = 0;
  for (const v of data) if (!Number.isFinite(v)) n++;
  return n;
}

/** A manifest's text: the body, then its checksum as the last field. */
function manifestText(body: Omit<Manifest, 'manifestSha256'>): Uint8Array {
  const manifest: Manifest = { ...body, manifestSha256: sha256(JSON.stringify(body)) };
  return new TextEncoder().encode(JSON.stringify(manifest, null, 2) + '\n');
}

/** Saves into one directory from this process, one after the other: the last one queued for each directory. */
const queues = new Map<string, Promise<unknown>>();

function queued<T>(dir: string, task: () => Promise<T>): Promise<T> {
  const key = resolve(dir);
  const run = (queues.get(key) ?? Promise.resolve()).then(task, task);
  const settled = run.then(
    () => {},
    () => {},
  );
  queues.set(key, settled);
  void settled.then(() => {
    if (queues.get(key) === settled) queues.delete(key);
  });
  return run;
}

/**
 * Save a checkpoint to `dir` (created if missing) as its new current save,
 * keeping the last `options.keep` saves (default 2) and removing older ones
 * and whatever interrupted saves left. The switch is atomic: a kill at any
 * moment leaves `dir` loading as the previous checkpoint or the new one,
 * whole. Returns the manifest that was written.
 */
export async function saveCheckpoint(dir: string, contents: CheckpointContents, options: SaveCheckpointOptions = {}): Promise<Manifest> {
  const op = 'saveCheckpoint';
  if (!contents || typeof contents !== 'object' || !contents.params) {
    fail(op, 'expected { model?, params, optimizer?, stats?, meta? } with params mapping names to { shape, data }', describeValue(contents), '{ params, ... }');
  }
  if (options === null || typeof options !== 'object') fail(op, `options must be an object, got ${describeValue(options)}`, describeValue(options), '{ keep?, allowNonFinite? }');
  const keep = options.keep ?? DEFAULT_KEEP;
  if (!Number.isSafeInteger(keep) || keep < 1) {
    fail(op, `keep must be a whole number of saves, at least 1, got ${JSON.stringify(keep)}`, `keep ${describeValue(keep)}`, 'a whole number >= 1');
  }
  const allowNonFinite = options.allowNonFinite === true;
  const groups: Record<GroupName, [string, TensorData][]> = {
    params: validateGroup('params', contents.params, allowNonFinite),
    optimizer: validateGroup('optimizer', contents.optimizer, allowNonFinite),
    stats: validateGroup('stats', contents.stats, allowNonFinite),
  };
  const slots = slotProblems(
    groups.optimizer.map(([name, t]) => [name, t.shape]),
    new Map(groups.params.map(([name, t]) => [name, t.shape])),
  );
  if (slots.length > 0) throw mismatch(op, 'the optimizer state does not fit the params', slots, 'optimizer tensors shaped like their parameters');

  // Describe the model before touching the disk: a model that cannot be
  // described, or parameters that are not its own, must not be saved.
  let model: ModelJson | undefined;
  if (contents.model !== undefined) {
    try {
      model = modelToJson(contents.model);
    } catch (err) {
      rethrow(op, '', err, describeValue(contents.model), 'a model made of built-in layers');
    }
    const problems = shapeProblems(contents.params, paramShapes(contents.model), 'the params', 'the model');
    if (problems.length > 0) throw mismatch(op, `the params do not match model "${contents.model.name}"`, problems, `the parameters of model "${contents.model.name}"`);
  }

  // Serialise the metadata first: a non-JSON value should fail before we touch the disk.
  let meta: unknown;
  if (contents.meta !== undefined) {
    try {
      const text = JSON.stringify(contents.meta);
      meta = text === undefined ? undefined : JSON.parse(text);
    } catch (err) {
      fail(
        op,
        `meta cannot be stored as JSON (${(err as Error).message}); use plain objects, arrays, strings, numbers and booleans`,
        `meta ${describeValue(contents.meta)}`,
        'a value JSON can represent',
        err,
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
      const nonFinite = allowNonFinite ? countNonFinite(t.data) : 0;
      entries.push({
        name,
        group,
        dtype: 'float32',
        shape: [...t.shape],
        byteOffset: offset,
        byteLength: bytes.length,
        ...(nonFinite > 0 ? { nonFinite } : {}),
      });
      chunks.push(bytes);
      hash.update(bytes);
      offset += bytes.length;
    }
  }
  const weights = { byteLength: offset, sha256: hash.digest('hex') };
  return queued(dir, () => writeSave(dir, keep, chunks, (save) => ({
    format: FORMAT,
    version: FORMAT_VERSION,
    save,
    weights: { file: weightsFile(save), ...weights },
    entries,
    ...(meta === undefined ? {} : { meta }),
    ...(model === undefined ? {} : { model }),
  })));
}

/** Write save number (one past every number in `dir`) and switch `manifest.json` to it, then tidy up. */
async function writeSave(dir: string, keep: number, chunks: readonly Uint8Array[], body: (save: number) => Omit<Manifest, 'manifestSha256'>): Promise<Manifest> {
  await mkdir(dir, { recursive: true });
  const found = await scan(dir);
  const save = Math.max(Number.isFinite(found.current) ? found.current : 0, ...found.manifests, ...found.weights) + 1;
  const text = manifestText(body(save));
  const created: string[] = [];
  const switchTmp = tempName(dir, MANIFEST_FILE);
  let switched = false;
  try {
    // A version 1 checkpoint has no numbered manifest; give it one, so it is kept as save 0.
    if (found.legacy !== null && keep > 1 && !found.manifests.includes(0)) {
      await writeAndSync(join(dir, manifestFile(0)), [found.legacy]);
      found.manifests.push(0);
    }
    for (const [file, data] of [[weightsFile(save), chunks], [manifestFile(save), [text]]] as const) {
      created.push(join(dir, file));
      await writeAndSync(join(dir, file), data);
    }
    await syncDir(dir); // the new save is durable before anything names it
    await writeAndSync(switchTmp, [text]);
    await rename(switchTmp, join(dir, MANIFEST_FILE));
    switched = true;
    await syncDir(dir);
  } finally {
    // After a failure, what this save wrote is unreferenced: remove it now
    // rather than at the next save.
    const leftovers = switched ? [] : [switchTmp, ...created];
    await Promise.all(leftovers.map((f) => unlink(f).catch(() => {})));
  }
  await prune(dir, found, save, keep);
  return JSON.parse(new TextDecoder().decode(text)) as Manifest;
}

/** What a directory holds, as `saveCheckpoint` names files. */
interface Found {
  /** The save `manifest.json` names: 0 when there is none (or it is version 1), Infinity when it cannot be read. */
  current: number;
  /** The bytes of `manifest.json` when it is a version 1 checkpoint. */
  legacy: Uint8Array | null;
  /** The numbers of the numbered manifests present. */
  manifests: number[];
  /** The numbers of the numbered weights files present. */
  weights: number[];
  /** Temporary files of interrupted saves. */
  temps: string[];
}

async function scan(dir: string): Promise<Found> {
  const found: Found = { current: 0, legacy: null, manifests: [], weights: [], temps: [] };
  for (const file of await readdir(dir)) {
    const m = /^manifest-(\d+)\.json$/.exec(file);
    const w = /^weights-(\d+)\.bin$/.exec(file);
    if (m && manifestFile(Number(m[1])) === file) found.manifests.push(Number(m[1]));
    else if (w && weightsFile(Number(w[1])) === file) found.weights.push(Number(w[1]));
    else if (TEMP_FILE.test(file)) found.temps.push(file);
  }
  let bytes: Uint8Array;
  try {
    bytes = await readFile(join(dir, MANIFEST_FILE));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return found;
    throw err;
  }
  try {
    const manifest = parseManifest(join(dir, MANIFEST_FILE), new TextDecoder().decode(bytes));
    found.current = manifest.save ?? 0;
    if (manifest.save === undefined) found.legacy = bytes;
  } catch (err) {
    // A damaged current manifest: which numbered saves were committed is
    // unknown, so none of them is removed as left over.
    if (!(err instanceof StriateError)) throw err;
    found.current = Infinity;
  }
  return found;
}

/**
 * After switching to `save`: keep it and the `keep - 1` newest saves that
 * were committed before it (all of them when `manifest.json` was damaged);
 * remove the other numbered files, which are older
 * saves or those of killed saves (numbered past the save that was current),
 * and every temporary file. Best effort: the new save is already in place,
 * and whatever is left is removed by the next save.
 */
async function prune(dir: string, found: Found, save: number, keep: number): Promise<void> {
  const committed = found.manifests.filter((n) => n <= found.current).sort((a, b) => b - a);
  // When the manifest that was current could not be read, any save may have been committed: keep them all.
  const kept = new Set([save, ...(Number.isFinite(found.current) ? committed.slice(0, keep - 1) : committed)]);
  const remove = (files: string[]): Promise<unknown> => Promise.all(files.map((f) => unlink(join(dir, f)).catch(() => {})));
  // Manifests first, so that a kill midway never leaves a kept manifest without its weights.
  const oldManifests = found.manifests.filter((n) => !kept.has(n));
  if (found.legacy !== null && !kept.has(0) && !oldManifests.includes(0)) oldManifests.push(0);
  await remove(oldManifests.map(manifestFile));
  await remove([...found.weights, ...oldManifests].filter((n) => !kept.has(n)).map(weightsFile));
  await remove(found.temps);
}

/**
 * The saves kept in `dir` that `loadCheckpoint(dir, { save })` can load,
 * newest (the current one) first; empty when `dir` holds no checkpoint.
 */
export async function listCheckpoints(dir: string): Promise<number[]> {
  let found: Found;
  try {
    found = await scan(dir);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    fail('listCheckpoints', `cannot read ${dir}: ${(err as Error).message}`, `the directory ${dir}`, 'a readable checkpoint directory', err);
  }
  const saves = found.manifests.filter((n) => n <= found.current);
  if (found.legacy !== null && !saves.includes(0)) saves.push(0);
  return saves.sort((a, b) => b - a);
}

function parseManifest(path: string, text: string): Manifest {
  const op = 'loadCheckpoint';
  let m: unknown;
  try {
    m = JSON.parse(text);
  } catch (err) {
    fail(op, `${path} is not a valid checkpoint manifest: it is not valid JSON (${(err as Error).message})`, 'text that is not JSON', 'a JSON manifest', err);
  }
  if (!m || typeof m !== 'object' || Array.isArray(m)) badManifest(path, 'it is not a JSON object', describeValue(m), 'a JSON object');
  const o = m as Record<string, unknown>;
  if (o.format !== FORMAT) badManifest(path, `its "format" is ${JSON.stringify(o.format)}, expected "${FORMAT}"`, `format ${JSON.stringify(o.format)}`, `"${FORMAT}"`);
  if (o.version !== FORMAT_VERSION && o.version !== 1) {
    fail(
      op,
      `${path} has format version ${JSON.stringify(o.version)}, but this version of Striate reads only versions 1 and ${FORMAT_VERSION}; ` +
        `load it with the Striate version that wrote it`,
      `version ${JSON.stringify(o.version)}`,
      `version 1 or ${FORMAT_VERSION}`,
    );
  }
  if (o.version === FORMAT_VERSION) {
    // Checked first: once it holds, the rest is exactly what a save wrote.
    const { manifestSha256: claimed, ...body } = o;
    const actual = sha256(JSON.stringify(body));
    if (claimed !== actual) {
      fail(
        op,
        `${path} fails its checksum (SHA-256 of its contents ${actual}, "manifestSha256" says ${JSON.stringify(claimed)}); ` +
          `it was damaged or edited by hand: restore it, load an older save (listCheckpoints), or save again`,
        `manifest SHA-256 ${actual}`,
        `${JSON.stringify(claimed)}, the manifest's own checksum`,
      );
    }
    if (!Number.isSafeInteger(o.save) || (o.save as number) < 1) badManifest(path, `"save" must be a save number >= 1, got ${JSON.stringify(o.save)}`, `save ${JSON.stringify(o.save)}`, 'a whole number >= 1');
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
    badManifest(path, '"weights" must be { file, byteLength, sha256 }', `weights ${describeValue(w)}`, '{ file, byteLength, sha256 }');
  }
  // The weights file must sit in the checkpoint directory; a path here
  // could otherwise make loading read arbitrary files.
  const file = w.file as string;
  if (file === '' || basename(file) !== file || file === '.' || file === '..') {
    badManifest(path, `"weights.file" must be a plain file name, got ${JSON.stringify(file)}`, `weights.file ${JSON.stringify(file)}`, 'a file name in the checkpoint directory');
  }
  if (o.version === FORMAT_VERSION && file !== weightsFile(o.save as number)) {
    badManifest(path, `save ${o.save} must name the weights file "${weightsFile(o.save as number)}", got ${JSON.stringify(file)}`, `weights.file ${JSON.stringify(file)}`, `"${weightsFile(o.save as number)}"`);
  }
  if (!Array.isArray(o.entries)) badManifest(path, '"entries" must be an array', `entries ${describeValue(o.entries)}`, 'an array');
  const seen = new Set<string>();
  const params = new Map<string, number[]>();
  const optimizer: [string, number[]][] = [];
  let end = 0; // where the entries so far end: the next one starts there
  for (const [i, e] of (o.entries as unknown[]).entries()) {
    const en = e as Record<string, unknown>;
    if (!en || typeof en !== 'object' || typeof en.name !== 'string' || !GROUPS.includes(en.group as GroupName)) {
      badManifest(path, `entry ${i} must have a string "name" and a "group" of "params", "optimizer" or "stats"`, `entry ${i} ${describeValue(en)}`, '{ name, group, ... }');
    }
    const label = `${en.group} tensor "${en.name}"`;
    if (en.dtype !== 'float32') badManifest(path, `${label} has dtype ${JSON.stringify(en.dtype)}; only "float32" is supported`, `dtype ${JSON.stringify(en.dtype)}`, '"float32"');
    if (!isShape(en.shape)) badManifest(path, `${label} has an invalid shape ${JSON.stringify(en.shape)}`, `shape ${JSON.stringify(en.shape)}`, 'an array of non-negative integers');
    const off = en.byteOffset;
    const len = en.byteLength;
    if (!Number.isSafeInteger(off) || !Number.isSafeInteger(len) || (off as number) < 0 || (len as number) < 0) {
      badManifest(path, `${label} must have non-negative integer byteOffset and byteLength`, `byteOffset ${JSON.stringify(off)}, byteLength ${JSON.stringify(len)}`, 'non-negative integers');
    }
    if ((len as number) !== sizeOf(en.shape) * 4) {
      badManifest(
        path,
        `${label} has shape ${shapeToString(en.shape)}, which needs ${sizeOf(en.shape) * 4} bytes, but byteLength ${len}`,
        `byteLength ${len}`,
        `${sizeOf(en.shape) * 4}, 4 bytes per value of shape ${shapeToString(en.shape)}`,
      );
    }
    if ((off as number) + (len as number) > (w.byteLength as number)) {
      badManifest(
        path,
        `${label} spans bytes ${off}..${(off as number) + (len as number)} but the weights file is ${w.byteLength} bytes long`,
        `bytes ${off}..${(off as number) + (len as number)}`,
        `bytes within 0..${w.byteLength}`,
      );
    }
    if (off !== end) {
      badManifest(
        path,
        `${label} starts at byte ${off} but the entries before it end at byte ${end}; the entries must tile the ` +
          `weights file in order, without gaps or overlaps`,
        `byteOffset ${off}`,
        `byteOffset ${end}`,
      );
    }
    end += len as number;
    const key = `${en.group}\u0000${en.name}`;
    if (seen.has(key)) badManifest(path, `${label} appears twice`, `two entries named "${en.name}" in ${en.group}`, 'one entry per name in a group');
    seen.add(key);
    if (en.group === 'params') params.set(en.name, en.shape);
    if (en.group === 'optimizer') optimizer.push([en.name, en.shape]);
  }
  if (end !== w.byteLength) {
    badManifest(path, `the entries cover ${end} bytes but the weights file is ${w.byteLength} bytes long; they must tile it exactly`, `entries covering ${end} bytes`, `${w.byteLength} bytes`);
  }
  const slots = slotProblems(optimizer, params);
  if (slots.length > 0) throw mismatch(op, `${path} holds optimizer state that does not fit its parameters`, slots, 'optimizer tensors shaped like their parameters');
  if (o.model !== undefined && (o.model === null || typeof o.model !== 'object' || Array.isArray(o.model))) {
    badManifest(path, `"model" must be a model description object, got ${JSON.stringify(o.model)}`, `model ${describeValue(o.model)}`, 'a model description object');
  }
  return m as Manifest;
}

/** A file's text, or null when it does not exist. */
async function readText(path: string): Promise<string | null> {
  try {
    return await readFile(path, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return null;
    fail('loadCheckpoint', `cannot read ${path}: ${(err as Error).message}`, `${code ?? 'an error'} reading ${path}`, 'a readable manifest', err);
  }
}

/** The manifest of `save` in `dir`, or of the current save when `save` is undefined, with its path. */
async function readManifest(dir: string, save: number | undefined): Promise<[path: string, manifest: Manifest]> {
  const op = 'loadCheckpoint';
  const current = join(dir, MANIFEST_FILE);
  if (save === undefined) {
    const text = await readText(current);
    if (text === null) {
      fail(op, `${current} does not exist; ${dir} is not a checkpoint directory (or a save into it never completed)`, `no ${MANIFEST_FILE} in ${dir}`, 'a checkpoint directory');
    }
    return [current, parseManifest(current, text)];
  }
  const numbered = join(dir, manifestFile(save));
  const text = await readText(numbered);
  if (text !== null) {
    const manifest = parseManifest(numbered, text);
    const number = manifest.save ?? 0;
    if (number !== save) badManifest(numbered, `it is the manifest of save ${number}, not of save ${save}`, `save ${number}`, `save ${save}`);
    return [numbered, manifest];
  }
  // A version 1 checkpoint not yet saved over is save 0 with only manifest.json.
  const currentText = save === 0 ? await readText(current) : null;
  if (currentText !== null) {
    const manifest = parseManifest(current, currentText);
    if (manifest.save === undefined) return [current, manifest];
  }
  const kept = await listCheckpoints(dir);
  return fail(
    op,
    `${dir} does not keep save ${save}; it keeps ${kept.length === 0 ? 'none' : `saves ${kept.join(', ')}`}`,
    `save ${save}`,
    kept.length === 0 ? 'a checkpoint directory' : `one of ${kept.join(', ')}`,
  );
}

function badManifest(path: string, why: string, got: string, expected: string): never {
  fail('loadCheckpoint', `${path} is not a valid checkpoint manifest: ${why}`, got, expected);
}

/**
 * Load and verify a checkpoint written by `saveCheckpoint`, the current save
 * or, with `save`, an older kept one: format version, the manifest's own
 * checksum, weights length and SHA-256, entries that tile the weights file,
 * and, with `expect`, the exact set of parameter names and shapes.
 */
export async function loadCheckpoint(dir: string, options: LoadCheckpointOptions = {}): Promise<LoadedCheckpoint> {
  const op = 'loadCheckpoint';
  if (options.save !== undefined && (!Number.isSafeInteger(options.save) || options.save < 0)) {
    fail(op, `save must be a save number (from listCheckpoints), got ${describeValue(options.save)}`, `save ${describeValue(options.save)}`, 'a whole number >= 0');
  }
  const [manifestPath, manifest] = await readManifest(dir, options.save);

  const weightsPath = join(dir, manifest.weights.file);
  let bytes: Uint8Array;
  try {
    bytes = await readFile(weightsPath);
  } catch (err) {
    fail(
      op,
      `cannot read the weights file ${weightsPath} named by ${manifestPath}: ${(err as Error).message}`,
      `${(err as NodeJS.ErrnoException).code ?? 'an error'} reading ${weightsPath}`,
      'the weights file the manifest names',
      err,
    );
  }
  if (bytes.length !== manifest.weights.byteLength) {
    const how = bytes.length < manifest.weights.byteLength ? 'truncated' : 'longer than expected';
    fail(
      op,
      `weights file ${weightsPath} is ${how}: it is ${bytes.length} bytes but the manifest says ` +
        `${manifest.weights.byteLength}; the checkpoint is damaged, restore it or save it again`,
      `${bytes.length} bytes`,
      `${manifest.weights.byteLength} bytes`,
    );
  }
  const sha = sha256(bytes);
  if (sha !== manifest.weights.sha256) {
    fail(
      op,
      `weights file ${weightsPath} fails its checksum (SHA-256 ${sha}, manifest says ` +
        `${manifest.weights.sha256}); the file is corrupt or belongs to a different save, restore it or save it again`,
      `SHA-256 ${sha}`,
      `SHA-256 ${manifest.weights.sha256}`,
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
      rethrow(op, `the model description in ${manifestPath} cannot be read: `, err, 'an unreadable model description', 'a description written by modelToJson');
    }
    const problems = shapeProblems(params, paramShapes(model), 'the checkpoint', 'its model description');
    if (problems.length > 0) {
      throw mismatch(op, `the parameters in ${dir} do not match the checkpoint's own model description`, problems, `the parameters of model "${model.name}"`);
    }
  }
  if (options.expect !== undefined) {
    const problems = shapeProblems(params, options.expect, 'the checkpoint', 'the model');
    if (problems.length > 0) throw mismatch(op, `the checkpoint in ${dir} does not match the model`, problems, "the model's parameters");
  }
  return { params, optimizer, stats, meta: manifest.meta, model, save: manifest.save ?? 0, manifest };
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

/** One problem as it is; several as a list under `summary`. `got` is the first problem; `expected` says what fits. */
function mismatch(op: string, summary: string, problems: readonly string[], expected: string): StriateError {
  const message = problems.length === 1 ? problems[0] : `${summary} (${problems.length} problems):\n` + problems.map((p) => `  - ${p}`).join('\n');
  return new StriateError(op, message, { got: problems.length === 1 ? problems[0] : `${problems.length} problems, first: ${problems[0]}`, expected });
}

/** Options of `loadModel`. */
export interface LoadModelOptions {
  /**
   * The model to load the weights into, for a checkpoint saved without one
   * (the parameters are checked against it). When the checkpoint has a
   * description too, the parameters must fit both.
   */
  model?: Model;
  /** Load this kept save (a number from `listCheckpoints`) instead of the current one. */
  save?: number;
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
  const op = 'loadModel';
  const given = options.model;
  if (given !== undefined && (!given || typeof given.forward !== 'function')) {
    fail(op, `options.model must be a Model (e.g. lenet5()), got ${given === null ? 'null' : typeof given}`, `model ${describeValue(given)}`, 'a Model (e.g. lenet5())');
  }
  const loaded = await loadCheckpoint(dir, { ...(given ? { expect: paramShapes(given) } : {}), ...(options.save === undefined ? {} : { save: options.save }) });
  const model = given ?? loaded.model;
  if (model === null) {
    fail(
      op,
      `the checkpoint in ${dir} has no model description (it was saved without { model }); ` +
        `give the model as loadModel(dir, { model }), or save it again with saveCheckpoint(dir, { model, params })`,
      'a checkpoint without a model description',
      'a description in the checkpoint, or options.model',
    );
  }
  const values = (group: TensorGroup): Params => freezeParams(Object.entries(group).map(([name, t]) => [name, tensorValue(t.shape, t.data)] as const));
  return Object.freeze({ model, params: values(loaded.params), stats: values(loaded.stats), meta: loaded.meta });
}
