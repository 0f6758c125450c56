// The package as a consumer sees it: `require('kube-spdy')` (Node >= 20.19 loads ESM synchronously through
// the `default` condition), the subpath exports, .d.ts files without internal members that type-check
// on their own, a LICENSE, and no source maps pointing at files that are not shipped.
// Runs against dist/ (built by `pretest`) through a symlinked node_modules/kube-spdy in a temp dir.
import t, { type Test } from 'tap';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const pkg = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8'));

function consumerDir(t: Test): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kube-spdy-consumer-'));
  fs.mkdirSync(path.join(dir, 'node_modules'));
  fs.symlinkSync(root, path.join(dir, 'node_modules', 'kube-spdy'), 'dir');
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  return dir;
}

function node(dir: string, file: string, source: string): string {
  fs.writeFileSync(path.join(dir, file), source);
  return execFileSync(process.execPath, [file], { cwd: dir, encoding: 'utf8', timeout: 30000 });
}

t.test("require('kube-spdy') works and the root export is the application surface", async (t) => {
  const dir = consumerDir(t);
  const out = node(
    dir,
    'use.cjs',
    `const m = require('kube-spdy');
     const want = ['Connection', 'Stream', 'PortForwarder', 'servePortForward', 'dialPortForward', 'upgrade',
       'startFakeApiServer', 'KubeSpdyError', 'StreamError', 'InvalidArgumentError', 'TimeoutError'];
     const missing = want.filter((k) => typeof m[k] !== 'function');
     const leaked = ['FrameDecoder', 'encodeSynStream', 'HeaderCompressor', 'FrameWriter', 'StreamTable', 'Lifecycle'].filter((k) => k in m);
     console.log(JSON.stringify({ missing, leaked, n: Object.keys(m).length }));`,
  );
  const r = JSON.parse(out);
  t.same(r.missing, [], 'what applications need is there');
  t.same(r.leaked, [], 'frames, compression and session internals are not in the root export');
  t.ok(r.n < 80, `${r.n} root exports`);
});

t.test('frames and compression are subpath exports (import and require)', async (t) => {
  const dir = consumerDir(t);
  const out = node(
    dir,
    'use.mjs',
    `import { FrameDecoder, encodePing } from 'kube-spdy/frames';
     import { HeaderCompressor, HeaderDecompressor } from 'kube-spdy/compression';
     import { createRequire } from 'node:module';
     const req = createRequire(import.meta.url);
     const d = new FrameDecoder();
     d.push(encodePing(7));
     const f = d.next();
     const c = new HeaderCompressor();
     const block = new HeaderDecompressor().decompress(c.compress({ a: 'b' }));
     console.log(JSON.stringify({ ping: f.id, block: block.length, cjs: typeof req('kube-spdy/frames').FrameDecoder }));`,
  );
  t.same(JSON.parse(out), { ping: 7, block: 14, cjs: 'function' });
});

t.test('the .d.ts files carry no internal members and type-check for a consumer', async (t) => {
  const stream = fs.readFileSync(path.join(root, 'dist/session/stream.d.ts'), 'utf8');
  const conn = fs.readFileSync(path.join(root, 'dist/session/connection.d.ts'), 'utf8');
  for (const name of ['lifecycle', 'pending', 'finQueued', 'pushData', 'onDataWritten']) t.notMatch(stream, new RegExp(`\\b${name}\\b`), `Stream.${name} is not declared`);
  for (const name of ['enqueue', 'prepareHeaders', 'finWritten', 'streamClosed']) t.notMatch(conn, new RegExp(`\\b${name}\\(`), `Connection.${name} is not declared`);
  const dir = consumerDir(t);
  fs.writeFileSync(
    path.join(dir, 'consumer.ts'),
    `import { Connection, PortForwarder, StreamError, type ConnectionOptions } from 'kube-spdy';
     import { FrameDecoder } from 'kube-spdy/frames';
     import { HeaderCompressor } from 'kube-spdy/compression';
     const o: ConnectionOptions = { role: 'client', flowControl: 'auto' };
     export const used = [Connection, PortForwarder, StreamError, FrameDecoder, HeaderCompressor, o];\n`,
  );
  fs.writeFileSync(
    path.join(dir, 'tsconfig.json'),
    JSON.stringify({
      compilerOptions: {
        module: 'NodeNext',
        moduleResolution: 'NodeNext',
        target: 'ES2022',
        strict: true,
        noEmit: true,
        skipLibCheck: false,
        types: ['node'],
        typeRoots: [path.join(root, 'node_modules/@types')],
      },
      files: ['consumer.ts'],
    }),
  );
  const tsc = path.join(root, 'node_modules/typescript/bin/tsc');
  let out = '';
  try {
    execFileSync(process.execPath, [tsc, '-p', dir], { encoding: 'utf8', timeout: 120000 });
  } catch (err) {
    out = String((err as { stdout?: string }).stdout ?? err);
  }
  t.equal(out, '', 'tsc reports nothing (skipLibCheck off)');
});

t.test('LICENSE, metadata, and no source maps to unshipped files', async (t) => {
  const license = fs.readFileSync(path.join(root, 'LICENSE'), 'utf8');
  t.match(license, /Apache License\s+Version 2\.0, January 2004/);
  t.equal(pkg.license, 'Apache-2.0');
  t.ok(pkg.files.includes('LICENSE'));
  t.ok(pkg.keywords.length > 0 && pkg.description && pkg.engines.node, 'description, keywords, engines');
  for (const sub of ['.', './frames', './compression']) t.ok(pkg.exports[sub].default, `${sub} has a default condition`);
  const maps: string[] = [];
  const walk = (d: string): void => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.name.endsWith('.map') || /sourceMappingURL/.test(e.name.endsWith('.js') ? fs.readFileSync(p, 'utf8').slice(-300) : '')) maps.push(p);
    }
  };
  walk(path.join(root, 'dist'));
  t.same(maps, [], 'dist has no source maps (lib/ is not shipped)');
});
