// Loaded with `node --import bench/probe.mjs …` into each process of the soak and load benchmarks:
// reports { probe, rss, heapUsed, external } (bytes) to the parent over IPC every PROBE_MS (default
// 1000) ms. The timer and the channel are unref'd: the probe never keeps a process alive.
if (typeof process.send === 'function') {
  const ms = Number(process.env.PROBE_MS ?? 1000);
  const report = () => {
    const m = process.memoryUsage();
    try {
      process.send({ probe: true, rss: m.rss, heapUsed: m.heapUsed, external: m.external });
    } catch {
      /* the parent is gone */
    }
  };
  setInterval(report, ms).unref();
  process.channel?.unref();
  report();
}
