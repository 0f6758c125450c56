/**
 * The bench "pod": the demo's HTTP service (`/` a short text, `/bytes?n=N` N bytes, N ≤ 64 MiB) in a
 * process of its own, so that its CPU is not the measuring process's. Prints `pod PORT`.
 * Run: node dist/bench/pod.js
 */
import type { AddressInfo } from 'node:net';
import { startPodService } from '../cli/demo.js';

const server = await startPodService();
server.keepAliveTimeout = 60000;
process.stdout.write(`pod ${(server.address() as AddressInfo).port}\n`);
process.once('SIGTERM', () => process.exit(0));
