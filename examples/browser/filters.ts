/**
 * The first convolution layer's filters, drawn as they learn: one tile per
 * filter, blue for negative weights, white for zero, red for positive, on one
 * colour scale shared by all filters (so their strengths compare).
 */
import type { TensorValue } from 'striate';

function colour(v: number): [number, number, number] {
  // Diverging blue–white–red (ColorBrewer RdBu ends).
  const t = Math.max(-1, Math.min(1, v));
  const [r, g, b] = t < 0 ? [33, 102, 172] : [178, 24, 43];
  const a = Math.abs(t);
  return [Math.round(255 + (r - 255) * a), Math.round(255 + (g - 255) * a), Math.round(255 + (b - 255) * a)];
}

/**
 * Draw filters `[out, in, kH, kW]` (first input channel) into `canvas`,
 * `columns` tiles a row, `cell` pixels per weight. Returns the largest
 * |weight|, the value of the scale's ends.
 */
export function drawFilters(canvas: HTMLCanvasElement, w: TensorValue, columns = 3, cell = 16, gap = 14): number {
  const [out, inCh, kh, kw] = w.shape;
  const rows = Math.ceil(out / columns);
  const width = columns * kw * cell + (columns - 1) * gap;
  const height = rows * kh * cell + (rows - 1) * gap;
  const dpr = window.devicePixelRatio || 1;
  if (canvas.width !== width * dpr) {
    canvas.width = width * dpr;
    canvas.height = height * dpr;
    canvas.style.width = `${width}px`;
    canvas.style.height = `${height}px`;
  }
  const ctx = canvas.getContext('2d')!;
  ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
  ctx.clearRect(0, 0, width, height);
  let scale = 1e-12;
  for (const v of w.data) scale = Math.max(scale, Math.abs(v));
  for (let o = 0; o < out; o++) {
    const left = (o % columns) * (kw * cell + gap);
    const top = Math.floor(o / columns) * (kh * cell + gap);
    for (let y = 0; y < kh; y++) {
      for (let x = 0; x < kw; x++) {
        const [r, g, b] = colour(w.data[((o * inCh + 0) * kh + y) * kw + x] / scale);
        ctx.fillStyle = `rgb(${r},${g},${b})`;
        ctx.fillRect(left + x * cell, top + y * cell, cell, cell);
      }
    }
    ctx.strokeStyle = '#cbd5e1';
    ctx.lineWidth = 1;
    ctx.strokeRect(left + 0.5, top + 0.5, kw * cell - 1, kh * cell - 1);
  }
  return scale;
}
