/**
 * Label selectors in their query form (`labelSelector=a=b,c!=d,e in (f,g),h notin (i),j,!k`), as the
 * API server parses them (apimachinery `pkg/labels/selector.go`), for the fake API server's pod lists.
 */
export type LabelRequirement = (labels: Record<string, string>) => boolean;

/** Parses a selector into a predicate. An empty selector matches everything. @throws Error on bad syntax. */
export function parseLabelSelector(s: string): LabelRequirement {
  const reqs: LabelRequirement[] = [];
  // Split on commas that are not inside parentheses.
  const parts: string[] = [];
  let depth = 0;
  let cur = '';
  for (const ch of s) {
    if (ch === '(') depth++;
    if (ch === ')') depth--;
    if (ch === ',' && depth === 0) {
      parts.push(cur);
      cur = '';
    } else cur += ch;
  }
  if (cur.trim() !== '' || parts.length > 0) parts.push(cur);
  for (const raw of parts) {
    const p = raw.trim();
    let m: RegExpExecArray | null;
    if ((m = /^([\w./-]+)\s+(in|notin)\s+\(([^)]*)\)$/.exec(p))) {
      const key = m[1]!;
      const vals = new Set(m[3]!.split(',').map((v) => v.trim()));
      reqs.push(m[2] === 'in' ? (l) => key in l && vals.has(l[key]!) : (l) => !(key in l) || !vals.has(l[key]!));
    } else if ((m = /^([\w./-]+)\s*(==|=|!=)\s*([\w.-]*)$/.exec(p))) {
      const [, key, op, val] = m as unknown as [string, string, string, string];
      reqs.push(op === '!=' ? (l) => l[key] !== val : (l) => l[key] === val);
    } else if ((m = /^!([\w./-]+)$/.exec(p))) {
      const key = m[1]!;
      reqs.push((l) => !(key in l));
    } else if ((m = /^([\w./-]+)$/.exec(p))) {
      const key = m[1]!;
      reqs.push((l) => key in l);
    } else {
      throw new Error(`unable to parse requirement: "${p}"`);
    }
  }
  return (labels) => reqs.every((r) => r(labels));
}
