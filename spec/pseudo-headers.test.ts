// The opt-in `httpPseudoHeaders` Connection option (lib/session/pseudo-headers.ts).
import t from 'tap';
import type { Stream } from '../lib/session/stream.js';
import { withRequestPseudoHeaders, withReplyPseudoHeaders } from '../lib/session/pseudo-headers.js';
import { resolveOptions } from '../lib/session/options.js';
import { connectionPair } from './helpers.js';

t.test('helpers add only what is missing and never modify the input', async (t) => {
  const h = { ':path': '/x', a: 'b' };
  const r = withRequestPseudoHeaders(h);
  t.same(r, { ':path': '/x', a: 'b', ':method': 'GET', ':version': 'HTTP/1.1', ':host': 'localhost', ':scheme': 'https' });
  t.same(h, { ':path': '/x', a: 'b' }, 'input unchanged');
  const full = { ':method': 'PUT', ':path': '/', ':version': 'HTTP/1.0', ':host': 'h', ':scheme': 'http' };
  t.equal(withRequestPseudoHeaders(full), full, 'nothing missing: the same object');
  t.same(withReplyPseudoHeaders({}), { ':status': '200', ':version': 'HTTP/1.1' });
  t.same(withReplyPseudoHeaders({ ':status': '404 Not Found' }), { ':status': '404 Not Found', ':version': 'HTTP/1.1' });
  t.equal(resolveOptions({ role: 'client' }).httpPseudoHeaders, false, 'off by default');
});

for (const on of [false, true]) {
  t.test(`kube-spdy ↔ kube-spdy with httpPseudoHeaders ${on}`, async (t) => {
    const { client, server, close } = await connectionPair({ httpPseudoHeaders: on }, { httpPseudoHeaders: on });
    t.teardown(close);
    const got = new Promise<Stream>((r) =>
      server.on('stream', (s) => {
        s.reply({ k: 'v' });
        s.end();
        s.resume();
        r(s);
      }),
    );
    const headers = { streamtype: 'data', port: '80' };
    const s = await client.createStream(headers, { timeout: 2000 });
    const peer = await got;
    t.same(headers, { streamtype: 'data', port: '80' }, "the caller's headers are not modified");
    if (on) {
      const sent = { streamtype: 'data', port: '80', ':method': 'GET', ':path': '/', ':version': 'HTTP/1.1', ':host': 'localhost', ':scheme': 'https' };
      t.same(peer.headers, sent, 'SYN_STREAM carries the pseudo-headers');
      t.same(s.headers, sent, 'stream.headers shows what was sent');
      t.same(s.replyHeaders, { k: 'v', ':status': '200', ':version': 'HTTP/1.1' }, 'SYN_REPLY carries :status and :version');
      t.same(peer.replyHeaders, s.replyHeaders, 'replyHeaders shows what was sent');
    } else {
      t.same(peer.headers, headers, 'no pseudo-headers (what Kubernetes peers expect)');
      t.same(s.replyHeaders, { k: 'v' });
    }
    s.end();
    s.resume();
  });
}

t.test('an implicit SYN_REPLY (write before reply) gets :status too', async (t) => {
  const { client, server, close } = await connectionPair({}, { httpPseudoHeaders: true });
  t.teardown(close);
  server.on('stream', (s) => {
    s.end('hello');
  });
  const s = await client.createStream({}, { timeout: 2000 });
  t.same(s.replyHeaders, { ':status': '200', ':version': 'HTTP/1.1' });
  s.end();
  s.resume();
});
