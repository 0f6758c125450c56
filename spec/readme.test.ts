// The README's library examples against the exported API, as a user who pastes them gets it: every
// ```ts and ```js block of README.md is written into a consumer folder whose node_modules/kube-spdy is this
// checkout (dist/, built by `pretest`), type-checked by `tsc --noEmit` (strict; .js with checkJs), and
// the blocks that bring their own fake API server (`startFakeApiServer(`: loopback only) are also run,
// each within 60 s: they must exit 0 and print what their `console.log(…); // …` comments say. A block for
// a real cluster is type-checked only.
import t from 'tap';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { ROOT } from './e2e-helpers.js';

const readme = fs.readFileSync(path.join(ROOT, 'README.md'), 'utf8');

interface Block {
  lang: 'ts' | 'js';
  line: number;
  code: string;
  section: string;
}

/** Fenced ```ts / ```js blocks, with the line they start on and the heading they are under. */
function blocks(text: string): Block[] {
  const out: Block[] = [];
  const lines = text.split('\n');
  let section = '';
  for (let i = 0; i < lines.length; i++) {
    const l = lines[i]!;
    if (/^#{1,4} /.test(l)) section = l.replace(/^#+ /, '');
    const m = /^```(\w*)\s*$/.exec(l);
    if (!m) continue;
    const start = i;
    const body: string[] = [];
    for (i++; i < lines.length && !/^```\s*$/.test(lines[i]!); i++) body.push(lines[i]!);
    if (m[1] === 'ts' || m[1] === 'js') out.push({ lang: m[1], line: start + 1, code: `${body.join('\n')}\n`, section });
  }
  return out;
}

const found = blocks(readme);

t.test('README has library examples, in "The library" and the exec section', async (t) => {
  t.ok(found.some((b) => b.section === 'The library'), 'a block under "The library"');
  t.ok(found.some((b) => /exec/.test(b.section)), 'a block under the exec section');
  t.ok(found.every((b) => /from 'kube-spdy'/.test(b.code)), "every block imports from 'kube-spdy'");
});

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kube-spdy-readme-'));
fs.mkdirSync(path.join(dir, 'node_modules'));
fs.symlinkSync(ROOT, path.join(dir, 'node_modules', 'kube-spdy'), 'dir');
t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
fs.writeFileSync(path.join(dir, 'package.json'), JSON.stringify({ name: 'readme-examples', type: 'module', private: true }));
const files = found.map((b) => ({ ...b, file: `readme-line-${b.line}.${b.lang === 'ts' ? 'mts' : 'mjs'}` }));
for (const f of files) fs.writeFileSync(path.join(dir, f.file), f.code);

t.test('every example type-checks against the exported API (tsc --noEmit, strict)', async (t) => {
  const tsconfig = {
    compilerOptions: {
      target: 'ES2022',
      module: 'NodeNext',
      moduleResolution: 'NodeNext',
      strict: true,
      noEmit: true,
      allowJs: true,
      checkJs: true,
      skipLibCheck: true,
      typeRoots: [path.join(ROOT, 'node_modules', '@types')],
      types: ['node'],
    },
    files: files.map((f) => f.file),
  };
  fs.writeFileSync(path.join(dir, 'tsconfig.json'), JSON.stringify(tsconfig, null, 2));
  const tsc = spawnSync(process.execPath, [path.join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', 'tsconfig.json'], {
    cwd: dir,
    encoding: 'utf8',
    timeout: 120_000,
  });
  // Errors name the file: readme-line-N is README.md line N.
  t.equal(tsc.status, 0, `tsc: ${(tsc.stdout + tsc.stderr).trim() || 'no errors'}`);
});

for (const f of files.filter((b) => b.code.includes('startFakeApiServer('))) {
  t.test(`README line ${f.line} (${f.section}) runs when pasted`, async (t) => {
    const r = spawnSync(process.execPath, [f.file], { cwd: dir, encoding: 'utf8', timeout: 60_000, env: { ...process.env, KUBECONFIG: '' } });
    t.equal(r.status, 0, `exit 0 (signal ${r.signal ?? 'none'}); stderr: ${r.stderr.trim().slice(0, 2000)}`);
    // What the comments promise (`console.log(x); // what it prints`) is what it prints.
    const promised = [...f.code.matchAll(/^\s*console\.log\(.*\);\s*\/\/ (.+)$/gm)].map((m) => m[1]!.trim());
    t.ok(promised.length > 0, 'the block says what it prints');
    for (const p of promised) t.ok(r.stdout.includes(p), `prints ${JSON.stringify(p)}; got: ${r.stdout.trim().slice(0, 500)}`);
  });
}
