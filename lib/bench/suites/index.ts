/** Every suite of `kube-spdy bench`, in the order a default run takes them. */
import type { Suite } from '../harness.js';
import { throughputSuite } from './throughput.js';
import { churnSuite } from './churn.js';
import { codecSuite } from './codec.js';
import { portforwardSuite } from './portforward.js';
import { memorySuite } from './memory.js';
import { loadSuite } from './load.js';

export const SUITES: Suite[] = [throughputSuite, churnSuite, codecSuite, portforwardSuite, memorySuite, loadSuite];
