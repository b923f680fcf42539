import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { centerCrop, crop, cropWindows, mirror, tenCrops, type CropWindow } from 'striate';
import { propertyRuns, striateError } from '../helpers.js';

/** One 3×4 image, each pixel its own index: the crops below are read off this picture. */
//  0  1  2  3
//  4  5  6  7
//  8  9 10 11
const grid = Float32Array.from({ length: 12 }, (_, i) => i);

/** The pixel a window's (y, x) reads, by the definition: row top + y, column left + x (left + width − 1 − x mirrored). */
function expectedCrop(images: Float32Array, [C, H, W]: readonly number[], count: number, w: CropWindow): number[] {
  const out: number[] = [];
  for (let n = 0; n < count; n++)
    for (let c = 0; c < C; c++)
      for (let y = 0; y < w.height; y++)
        for (let x = 0; x < w.width; x++) out.push(images[((n * C + c) * H + w.top + y) * W + w.left + (w.mirrored ? w.width - 1 - x : x)]);
  return out;
}

describe('ten crops', () => {
  it('are the four corners, the centre and their mirror images, pixel by pixel, in that order', () => {
    const views = tenCrops(grid, [1, 3, 4], 2).map((a) => [...a]);
    expect(views).toEqual([
      [0, 1, 4, 5], // top-left
      [2, 3, 6, 7], // top-right
      [4, 5, 8, 9], // bottom-left
      [6, 7, 10, 11], // bottom-right
      [1, 2, 5, 6], // centre: margins 1 and 2, so row floor(1/2) = 0 (the extra row at the bottom), column 1
      [1, 0, 5, 4], // the same five with their columns reversed
      [3, 2, 7, 6],
      [5, 4, 9, 8],
      [7, 6, 11, 10],
      [2, 1, 6, 5],
    ]);
    expect(cropWindows('ten', [1, 3, 4], [2, 2]).map(({ top, left, mirrored }) => [top, left, mirrored])).toEqual([
      [0, 0, false],
      [0, 2, false],
      [1, 0, false],
      [1, 2, false],
      [0, 1, false],
      [0, 0, true],
      [0, 2, true],
      [1, 0, true],
      [1, 2, true],
      [0, 1, true],
    ]);
  });

  it('cut every channel of every image, image after image, and take non-square crops of non-square images', () => {
    // Two images of two 4×5 channels; pixel value = 1000·image + 100·channel + 10·row + column.
    const images = new Float32Array(2 * 2 * 4 * 5);
    for (let n = 0; n < 2; n++) for (let c = 0; c < 2; c++) for (let y = 0; y < 4; y++) for (let x = 0; x < 5; x++) images[((n * 2 + c) * 4 + y) * 5 + x] = 1000 * n + 100 * c + 10 * y + x;
    const views = tenCrops(images, [2, 4, 5], [2, 3]);
    // The bottom-right crop, rows 2..3 and columns 2..4, of image 0 channel 0, image 0 channel 1, image 1 channel 0, ...
    expect([...views[3]]).toEqual([22, 23, 24, 32, 33, 34, 122, 123, 124, 132, 133, 134, 1022, 1023, 1024, 1032, 1033, 1034, 1122, 1123, 1124, 1132, 1133, 1134]);
    // The centre (row 1, column 1) mirrored.
    expect([...views[9]].slice(0, 6)).toEqual([13, 12, 11, 23, 22, 21]);
  });

  it('read, for any shape and window, the pixel the definition names (property)', () => {
    const caseArb = fc
      .record({ C: fc.integer({ min: 1, max: 3 }), h: fc.integer({ min: 1, max: 5 }), w: fc.integer({ min: 1, max: 5 }), dh: fc.integer({ min: 1, max: 4 }), dw: fc.integer({ min: 2, max: 4 }), count: fc.integer({ min: 1, max: 3 }) })
      .chain((s) => fc.tuple(fc.constant(s), fc.boolean()));
    fc.assert(
      fc.property(caseArb, ([{ C, h, w, dh, dw, count }, swap]) => {
        // dh ≥ 1 and dw ≥ 2 (or swapped): larger in both, by 2 in one, so the ten windows differ.
        const [H, W] = swap ? [h + dw, w + dh] : [h + dh, w + dw];
        const shape = [C, H, W];
        const images = Float32Array.from({ length: count * C * H * W }, (_, i) => i);
        const windows = cropWindows('ten', shape, [h, w]);
        const views = tenCrops(images, shape, [h, w]);
        expect(views).toHaveLength(10);
        const keys = new Set(windows.map((wd) => `${wd.top},${wd.left},${wd.mirrored}`));
        expect(keys.size).toBe(10);
        windows.forEach((wd, k) => {
          expect(wd.height).toBe(h);
          expect(wd.width).toBe(w);
          expect([...views[k]]).toEqual(expectedCrop(images, shape, count, wd));
        });
        // The centre and corners where the file comment puts them.
        expect(windows[4]).toMatchObject({ top: Math.floor((H - h) / 2), left: Math.floor((W - w) / 2) });
        expect(windows[3]).toMatchObject({ top: H - h, left: W - w });
        expect([...centerCrop(images, shape, [h, w])]).toEqual([...views[4]]);
      }),
      { numRuns: propertyRuns },
    );
  });
});

describe('mirror, centre crop and crop', () => {
  it('mirror reverses the columns of every row of every channel, and twice is the identity', () => {
    const two = Float32Array.from([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]); // [2, 2, 3]
    expect([...mirror(two, [2, 2, 3])]).toEqual([3, 2, 1, 6, 5, 4, 9, 8, 7, 12, 11, 10]);
    expect([...mirror(mirror(grid, [1, 3, 4]), [1, 3, 4])]).toEqual([...grid]);
    expect([...mirror(grid, [1, 3, 4])]).toEqual([3, 2, 1, 0, 7, 6, 5, 4, 11, 10, 9, 8]);
  });

  it('the centre crop leaves the extra row or column at the bottom or right, and of an image its own size is the image', () => {
    expect([...centerCrop(grid, [1, 3, 4], [2, 3])]).toEqual([0, 1, 2, 4, 5, 6]); // margins 1 and 1: row 0, column 0
    expect([...centerCrop(grid, [1, 3, 4], 1)]).toEqual([5]); // row 1, column floor(3/2) = 1
    expect([...centerCrop(grid, [1, 3, 4], [3, 4])]).toEqual([...grid]);
    expect(cropWindows('center', [1, 3, 4], [3, 4])).toEqual([{ top: 0, left: 0, height: 3, width: 4, mirrored: false }]);
  });

  it('crop cuts any window inside the image, mirrored or not, and returns fresh arrays', () => {
    expect([...crop(grid, [1, 3, 4], { top: 1, left: 1, height: 2, width: 3 })]).toEqual([5, 6, 7, 9, 10, 11]);
    expect([...crop(grid, [1, 3, 4], { top: 1, left: 1, height: 2, width: 3, mirrored: true })]).toEqual([7, 6, 5, 11, 10, 9]);
    const whole = crop(grid, [1, 3, 4], { top: 0, left: 0, height: 3, width: 4 });
    whole[0] = 99;
    expect(grid[0]).toBe(0);
    expect(crop(new Float32Array(0), [1, 3, 4], { top: 0, left: 0, height: 1, width: 1 })).toHaveLength(0);
  });
});

describe('crop errors', () => {
  it('refuses ten crops whose windows would coincide, naming the two, and points to the centre crop', () => {
    // As tall as the crop: the top and bottom corners are the same window.
    let e = striateError(() => tenCrops(grid, [1, 3, 4], [3, 2]), 'tenCrops');
    expect(e.message).toMatch(/top-left and bottom-left crops are the same window/);
    expect(e.message).toMatch(/'center'/);
    // The image itself: every corner is the image.
    e = striateError(() => tenCrops(grid, [1, 3, 4], [3, 4]), 'tenCrops');
    expect(e.message).toMatch(/here the whole image/);
    // One pixel larger each way: the centre crop is the top-left one.
    e = striateError(() => cropWindows('ten', [1, 25, 25], 24), 'cropWindows');
    expect(e.message).toMatch(/top-left and centre crops are the same window \(rows 0\.\.23, columns 0\.\.23\)/);
    expect(e.got).toBe('25×25 images, 24×24 crops (top-left = centre)');
    // Two pixels larger one way is enough.
    expect(cropWindows('ten', [1, 26, 25], 24)).toHaveLength(10);
  });

  it('refuses a crop larger than the image, a window outside it, and bad shapes, sizes, images and modes', () => {
    let e = striateError(() => centerCrop(grid, [1, 3, 4], 4), 'centerCrop');
    expect(e.message).toMatch(/3×4 images .* are smaller than the 4×4 crop/);
    expect(e.expected).toBe('images at least 4×4');
    e = striateError(() => crop(grid, [1, 3, 4], { top: 2, left: 0, height: 2, width: 2 }), 'crop');
    expect(e.message).toMatch(/rows 2\.\.3, columns 0\.\.1\) does not lie inside the 3×4 images/);
    striateError(() => crop(grid, [1, 3, 4], { top: 0, left: -1, height: 1, width: 1 }), 'crop');
    striateError(() => crop(grid, [1, 3, 4], { top: 0, left: 0, height: 1.5, width: 1 }), 'crop');
    striateError(() => crop(grid, [1, 3, 4], { top: 0, left: 0, height: 1, width: 1, mirrored: 1 as unknown as boolean }), 'crop');
    e = striateError(() => mirror(grid, [3, 4]), 'mirror');
    expect(e.message).toMatch(/imageShape must be the \[channels, height, width\] of one image/);
    e = striateError(() => mirror(grid, [1, 2, 4]), 'mirror');
    expect(e.message).toMatch(/12 values, which is not a whole number of \[1,2,4\] images \(8 values each\)/);
    striateError(() => mirror(Array.from(grid) as unknown as Float32Array, [1, 3, 4]), 'mirror');
    striateError(() => tenCrops(grid, [1, 3, 4], [2, 0] as unknown as [number, number]), 'tenCrops');
    striateError(() => tenCrops(grid, [1, 3, 4], 2.5), 'tenCrops');
    e = striateError(() => cropWindows('five' as 'ten', [1, 3, 4], 2), 'cropWindows');
    expect(e.expected).toBe("'ten' or 'center'");
  });
});
