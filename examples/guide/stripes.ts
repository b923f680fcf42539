// A data set made in code: striped 16×16 images, the stripes at one of 10 angles (the label).
import { createRng, type Dataset } from 'striate';

/** `count` noisy images of stripes at label × 18°, labels 0 to 9 in turn, reproducible from `seed`. */
export function stripes(count: number, seed: number): Dataset {
  const rng = createRng(seed);
  const images = new Float32Array(count * 16 * 16); // images back to back, NCHW: [count, 1, 16, 16]
  const labels = new Uint8Array(count);
  for (let i = 0; i < count; i++) {
    labels[i] = i % 10;
    const angle = (labels[i] * Math.PI) / 10;
    const phase = 2 * Math.PI * rng.next();
    for (let y = 0; y < 16; y++) {
      for (let x = 0; x < 16; x++) {
        const wave = Math.sin(0.9 * (x * Math.cos(angle) + y * Math.sin(angle)) + phase);
        images[i * 256 + y * 16 + x] = wave + rng.normal(); // noise as strong as the signal
      }
    }
  }
  return { images, labels, count };
}
