#!/usr/bin/env node
// The kube-spdy command: see `kube-spdy --help`. Built code lives in dist/ (npm ci runs `prepare`).
import { main } from '../dist/cli/main.js';

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err) => {
    process.stderr.write(`error: ${err && err.message ? err.message : String(err)}\n`);
    process.exitCode = 1;
  },
);
