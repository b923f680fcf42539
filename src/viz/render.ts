/**
 * Charts to files, in Node: a Vega-Lite spec (see curves.ts, filters.ts) is
 * compiled by vega-lite, laid out and drawn to SVG by a headless vega View,
 * and rasterised to PNG by resvg (prebuilt binaries, nothing to compile).
 * The three packages are optional peer dependencies, loaded on first use.
 *
 * resvg draws text with the fonts it finds and silently leaves text out when
 * it finds none, which on a bare CI machine would give a chart without a
 * single label. So before the first PNG that has text, the renderer draws a
 * probe word with the same font settings and fails loudly if nothing was drawn.
 */
import { writeFile } from 'node:fs/promises';
import { extname } from 'node:path';
import { describeValue, fail } from '../graph/error.js';
import { checkOptions, showValue } from '../nn/spec.js';
import { CHART_FONT, type ChartSpec } from './spec.js';

/** How `renderChart` and `writeChart` render: the format, the scale, and where fonts come from. */
export interface RenderChartOptions {
  /** 'png' (default) or 'svg'. */
  format?: 'svg' | 'png';
  /** PNG pixels per chart pixel (default 2, sharp on high-density screens). */
  scale?: number;
  /** Font files to load besides (or, with `systemFonts: false`, instead of) the system fonts. */
  fontFiles?: readonly string[];
  /** Directories of font files to load. */
  fontDirs?: readonly string[];
  /** Load the fonts installed on the system (default true). */
  systemFonts?: boolean;
}

const INSTALL = '`npm install vega vega-lite @resvg/resvg-js`';

/** Import an optional peer dependency, naming the packages to install when it is missing. */
async function load<T>(who: string, name: string, importer: () => Promise<T>): Promise<T> {
  try {
    return await importer();
  } catch (e) {
    const err = e as { code?: string; message?: string };
    if (err.code === 'ERR_MODULE_NOT_FOUND' || err.code === 'MODULE_NOT_FOUND') {
      fail(
        who,
        `the optional package "${name}" is not installed; charts need vega, vega-lite and @resvg/resvg-js: add them with ${INSTALL}`,
        `no package "${name}"`,
        'vega, vega-lite and @resvg/resvg-js installed',
        e,
      );
    }
    // Installed but broken (a missing native binary, a failed build): the installation's fault, not the caller's.
    throw new Error(`${who}: the package "${name}" could not be loaded: ${String(err.message ?? e).split('\n')[0]}`, { cause: e });
  }
}

function checkSpec(who: string, spec: ChartSpec): void {
  if (typeof spec !== 'object' || spec === null || typeof spec.$schema !== 'string' || !spec.$schema.includes('vega-lite')) {
    const got = typeof spec === 'object' && spec !== null ? `an object with $schema ${JSON.stringify(spec.$schema)}` : String(spec);
    fail(who, `expects a Vega-Lite spec (an object whose $schema names vega-lite, as trainingCurvesSpec returns), got ${got}`, got, 'a Vega-Lite spec');
  }
}

/** Vega-Lite → Vega → SVG text. The charts' font is the default where the spec sets none. */
async function toSvg(who: string, spec: ChartSpec): Promise<string> {
  const vl = await load(who, 'vega-lite', () => import('vega-lite'));
  const vega = await load(who, 'vega', () => import('vega'));
  let compiled: ReturnType<typeof vl.compile>;
  try {
    compiled = vl.compile(spec as unknown as Parameters<typeof vl.compile>[0], { config: { font: CHART_FONT } });
  } catch (err) {
    // vega-lite reads a spec it cannot make sense of with no checks of its own, so the fault is the spec's.
    const message = err instanceof Error ? err.message : String(err);
    fail(who, `vega-lite cannot compile the spec: ${message}`, 'a spec vega-lite refuses', 'a valid Vega-Lite spec', err);
  }
  const view = new vega.View(vega.parse(compiled.spec), { renderer: 'none' });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}

type ResvgModule = typeof import('@resvg/resvg-js');
type FontOptions = NonNullable<NonNullable<ConstructorParameters<ResvgModule['Resvg']>[1]>['font']>;

/** Font settings already shown to draw text, by their JSON. */
const fontsThatDraw = new Set<string>();

function checkFontsDraw(who: string, Resvg: ResvgModule['Resvg'], font: FontOptions): void {
  const key = JSON.stringify(font);
  if (fontsThatDraw.has(key)) return;
  const probe = `<svg xmlns="http://www.w3.org/2000/svg" width="80" height="24"><text x="2" y="18" font-size="16" font-family="${CHART_FONT}">Hg 0.1</text></svg>`;
  // Text that no font can draw is dropped from the tree, so the probe has no bounding box.
  if (new Resvg(probe, { font, logLevel: 'off' }).getBBox() === undefined) {
    const searched = [
      font.loadSystemFonts ? 'the system fonts' : null,
      font.fontFiles?.length ? `${font.fontFiles.length} font file(s)` : null,
      font.fontDirs?.length ? `the directories ${font.fontDirs.join(', ')}` : null,
    ].filter((s) => s !== null);
    fail(
      who,
      `no font was found to draw the chart's text (searched ${searched.length ? searched.join(', ') : 'nothing'}), ` +
        'so the PNG would have no labels; install a font (Debian/Ubuntu: `apt-get install fonts-dejavu-core`) ' +
        "or pass { fontFiles: ['/path/to/font.ttf'] }",
      `no font in ${searched.length ? searched.join(', ') : 'nothing'}`,
      'a font that draws text',
    );
  }
  fontsThatDraw.add(key);
}

/**
 * Render a Vega-Lite spec (from `trainingCurvesSpec`, `filterGridSpec`, or
 * your own) to SVG text or PNG bytes. Needs the optional packages vega,
 * vega-lite and, for PNG, @resvg/resvg-js. A PNG is drawn with the system
 * fonts (Helvetica, Arial, Liberation Sans or DejaVu Sans, whichever comes
 * first); when no font at all can be found it throws rather than write a
 * chart without text.
 */
export function renderChart(spec: ChartSpec, options: RenderChartOptions & { format: 'svg' }): Promise<string>;
export function renderChart(spec: ChartSpec, options?: RenderChartOptions & { format?: 'png' }): Promise<Uint8Array>;
export function renderChart(spec: ChartSpec, options?: RenderChartOptions): Promise<string | Uint8Array>;
export async function renderChart(spec: ChartSpec, options: RenderChartOptions = {}): Promise<string | Uint8Array> {
  checkOptions('renderChart', options, RENDER_OPTIONS);
  return render('renderChart', spec, options);
}

const RENDER_OPTIONS = ['format', 'scale', 'fontFiles', 'fontDirs', 'systemFonts'];

function checkPaths(who: string, what: string, v: unknown): void {
  if (v !== undefined && !(Array.isArray(v) && v.every((p) => typeof p === 'string'))) {
    fail(who, `${what} must be an array of paths, got ${showValue(v)}`, `${what} ${showValue(v)}`, 'an array of path strings');
  }
}

async function render(who: string, spec: ChartSpec, options: RenderChartOptions): Promise<string | Uint8Array> {
  checkSpec(who, spec);
  const format = options.format ?? 'png';
  if (format !== 'png' && format !== 'svg') fail(who, `format must be 'png' or 'svg', got ${showValue(format)}`, `format ${showValue(format)}`, "'png' or 'svg'");
  const scale = options.scale ?? 2;
  if (!(typeof scale === 'number' && Number.isFinite(scale) && scale > 0 && scale <= 16)) {
    fail(who, `scale must be a number in (0, 16], got ${String(scale)}`, `scale ${showValue(scale)}`, 'a number in (0, 16]');
  }
  checkPaths(who, 'fontFiles', options.fontFiles);
  checkPaths(who, 'fontDirs', options.fontDirs);
  if (options.systemFonts !== undefined && typeof options.systemFonts !== 'boolean') {
    fail(who, `systemFonts must be true or false, got ${showValue(options.systemFonts)}`, `systemFonts ${showValue(options.systemFonts)}`, 'true or false');
  }
  const svg = await toSvg(who, spec);
  if (format === 'svg') return svg;
  const resvg = await load(who, '@resvg/resvg-js', () => import('@resvg/resvg-js'));
  const font: FontOptions = {
    loadSystemFonts: options.systemFonts ?? true,
    fontFiles: [...(options.fontFiles ?? [])],
    fontDirs: [...(options.fontDirs ?? [])],
  };
  if (svg.includes('<text')) checkFontsDraw(who, resvg.Resvg, font);
  const png = new resvg.Resvg(svg, { font, fitTo: { mode: 'zoom', value: scale }, background: 'white', logLevel: 'off' }).render().asPng();
  return new Uint8Array(png.buffer, png.byteOffset, png.byteLength);
}

/**
 * Render a Vega-Lite spec to `path`, as PNG or SVG by the file's extension
 * (`.png`, `.svg`); options as `renderChart`'s.
 */
export async function writeChart(path: string, spec: ChartSpec, options: Omit<RenderChartOptions, 'format'> = {}): Promise<void> {
  const who = 'writeChart';
  if (typeof path !== 'string' || path === '') fail(who, `path must be a file name ending in .png or .svg, got ${describeValue(path)}`, `path ${describeValue(path)}`, 'a path ending in .png or .svg');
  checkOptions(who, options, RENDER_OPTIONS.filter((k) => k !== 'format'));
  const ext = extname(path).toLowerCase();
  if (ext !== '.png' && ext !== '.svg') {
    fail(who, `cannot tell the format of ${JSON.stringify(path)} from its extension; name the file .png or .svg`, `path ${JSON.stringify(path)}`, 'a path ending in .png or .svg');
  }
  const out = await render(who, spec, { ...options, format: ext === '.svg' ? 'svg' : 'png' });
  try {
    await writeFile(path, out);
  } catch (err) {
    const code = (err as { code?: string }).code;
    // A path that cannot be written is the caller's to fix; anything else (a full disk, an I/O error) is the machine's.
    if (code !== undefined && PATH_ERRORS.has(code)) {
      fail(who, `cannot write ${JSON.stringify(path)} (${code}: ${PATH_ERRORS.get(code)})`, `path ${JSON.stringify(path)}`, 'a writable file path', err);
    }
    throw err;
  }
}

/** The errors of `writeFile` that a different path would avoid, and what they mean. */
const PATH_ERRORS = new Map([
  ['ENOENT', 'its directory does not exist'],
  ['ENOTDIR', 'a part of the path is not a directory'],
  ['EISDIR', 'it is a directory'],
  ['EACCES', 'permission denied'],
  ['EPERM', 'operation not permitted'],
  ['EROFS', 'the file system is read-only'],
]);
