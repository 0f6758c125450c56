// Shared by the property tests (spec/property-*.test.ts).
import fc from 'fast-check';

/**
 * fast-check run options: `numRuns` runs, a seed from PROPERTY_SEED (printed by fast-check on failure,
 * so a failure replays with PROPERTY_SEED=… and the path it prints), PROPERTY_RUNS_SCALE to run longer.
 */
export function fcOptions<T>(numRuns: number, extra: Partial<fc.Parameters<T>> = {}): fc.Parameters<T> {
  const scale = Number(process.env.PROPERTY_RUNS_SCALE ?? 1);
  const seed = process.env.PROPERTY_SEED !== undefined ? Number(process.env.PROPERTY_SEED) : undefined;
  return { numRuns: Math.max(1, Math.round(numRuns * scale)), ...(seed !== undefined ? { seed } : {}), ...extra };
}

/** Cuts `buf` at the positions `cuts` (taken modulo its length, sorted): the chunks, none empty. */
export function splits(buf: Buffer, cuts: number[]): Buffer[] {
  if (buf.length === 0) return [];
  const at = [...new Set(cuts.map((c) => c % buf.length))].filter((c) => c > 0).sort((a, b) => a - b);
  const out: Buffer[] = [];
  let prev = 0;
  for (const c of at) {
    out.push(buf.subarray(prev, c));
    prev = c;
  }
  out.push(buf.subarray(prev));
  return out;
}
