/**
 * A fake Kubernetes API server for tests and tools: what `kubectl port-forward` needs, served on loopback.
 */
export { startFakeApiServer } from './server.js';
export { parsePodSpec } from './pods.js';
export { fromManifests } from './objects.js';
export type { FakeApiServer, FakeApiServerOptions, FakePod, FakeService, FakeWorkload } from './types.js';
