/**
 * How classes are ranked by their scores, once for `predict`'s top-k labels
 * and `evaluate`'s top-1 and top-5 accuracy, so the two always agree.
 *
 * Class a ranks before class b when its score is larger, or when the scores
 * are equal and a has the lower index (so among tied classes the first wins,
 * as `argmax` does); a NaN score ranks after every number. This is a strict
 * total order, so the top k of a row are well defined even with ties, and a
 * label is in the top k exactly when fewer than k classes rank before it.
 * Ranking by logits or by their softmax gives the same order except where
 * rounding makes two probabilities equal; both callers rank by logits.
 */

/** Whether score `a` of class `ia` ranks before score `b` of class `ib`. */
export function ranksBefore(a: number, ia: number, b: number, ib: number): boolean {
  if (a > b) return true;
  if (a < b) return false;
  const aNaN = Number.isNaN(a);
  const bNaN = Number.isNaN(b);
  if (aNaN !== bNaN) return bNaN;
  return ia < ib;
}

/**
 * How many classes of row `row` of `scores [rows, classes]` rank before class
 * `label` (0: it is the top-1); `classes` for a label that is no class.
 */
export function labelRank(scores: ArrayLike<number>, row: number, classes: number, label: number): number {
  if (!Number.isInteger(label) || label < 0 || label >= classes) return classes;
  const base = row * classes;
  const v = scores[base + label];
  let rank = 0;
  for (let c = 0; c < classes; c++) {
    if (c !== label && ranksBefore(scores[base + c], c, v, label)) rank++;
  }
  return rank;
}

/**
 * The `k` best classes of row `row` of `scores [rows, classes]`, best first,
 * written to `out[outOffset .. outOffset + k)`. Insertion into a sorted list
 * of k: O(classes · k), small next to the model for the k anyone asks for.
 */
export function topKRow(scores: ArrayLike<number>, row: number, classes: number, k: number, out: Int32Array, outOffset: number): void {
  const base = row * classes;
  let n = 0;
  for (let c = 0; c < classes; c++) {
    const v = scores[base + c];
    // Find where c goes among the n kept so far; it enters if that is before k.
    let at = n;
    while (at > 0 && ranksBefore(v, c, scores[base + out[outOffset + at - 1]], out[outOffset + at - 1])) at--;
    if (at >= k) continue;
    for (let j = Math.min(n, k - 1); j > at; j--) out[outOffset + j] = out[outOffset + j - 1];
    out[outOffset + at] = c;
    if (n < k) n++;
  }
}
