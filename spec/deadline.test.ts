import t from 'tap';
import { Deadline } from '../lib/session/deadline.js';

// Deadline timers are unref'd (a wait never keeps a process alive): hold the event loop open here.
const keepAlive = setInterval(() => {}, 1000);
t.teardown(() => clearInterval(keepAlive));

t.test('settles once: resolve wins over a later timeout', async (t) => {
  let settles = 0;
  const d = new Deadline<number>({ timeout: 20, onSettle: () => settles++, onTimeout: () => new Error('timeout'), onAbort: () => new Error('abort') });
  d.resolve(7);
  d.reject(new Error('late'));
  t.equal(await d.promise, 7);
  await new Promise((r) => setTimeout(r, 40));
  t.equal(settles, 1);
});

t.test('timeout rejects with what onTimeout returns, after onSettle', async (t) => {
  const order: string[] = [];
  const d = new Deadline<number>({
    timeout: 10,
    onSettle: () => order.push('settle'),
    onTimeout: () => (order.push('timeout'), new Error('too slow')),
    onAbort: () => new Error('abort'),
  });
  t.equal(await d.promise.catch((e: Error) => e.message), 'too slow');
  t.same(order, ['settle', 'timeout']);
});

t.test('abort rejects with the reason; the listener is removed on settle', async (t) => {
  const ac = new AbortController();
  const d = new Deadline<number>({ timeout: 0, signal: ac.signal, onTimeout: () => new Error('x'), onAbort: (r) => new Error(`aborted: ${String(r)}`) });
  ac.abort('stop');
  t.equal(await d.promise.catch((e: Error) => e.message), 'aborted: stop');
  const ac2 = new AbortController();
  const d2 = new Deadline<number>({ timeout: 0, signal: ac2.signal, onTimeout: () => new Error('x'), onAbort: () => new Error('never') });
  d2.resolve(1);
  ac2.abort();
  t.equal(await d2.promise, 1);
});
