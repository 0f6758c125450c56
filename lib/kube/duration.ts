/**
 * Durations as kubectl writes them (Go `time.ParseDuration`): `1m0s`, `30s`, `1.5h`, `500ms`, `0`.
 */
import { InvalidArgumentError } from '../errors.js';

const UNITS: Record<string, number> = { ns: 1e-6, us: 1e-3, 'µs': 1e-3, ms: 1, s: 1000, m: 60000, h: 3600000 };

/**
 * Parses a Go duration into ms. With `bareSeconds`, a plain integer means seconds (kubectl
 * `--request-timeout=5`). @throws InvalidArgumentError
 */
export function parseDuration(s: string, what = 'duration', bareSeconds = false): number {
  const t = s.trim();
  if (t === '0') return 0;
  if (bareSeconds && /^\d+$/.test(t)) return Number(t) * 1000;
  const re = /(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|ms|s|m|h)/gy;
  let total = 0;
  let m: RegExpExecArray | null;
  let pos = 0;
  const sign = t.startsWith('-') ? -1 : 1;
  const body = t.replace(/^[-+]/, '');
  re.lastIndex = 0;
  while (pos < body.length && (m = re.exec(body)) !== null) {
    total += Number(m[1]) * UNITS[m[2]!]!;
    pos = re.lastIndex;
  }
  if (body.length === 0 || pos !== body.length) throw new InvalidArgumentError(`invalid ${what} "${s}": expected a duration such as 30s, 1m0s or 2h`);
  return sign * total;
}
