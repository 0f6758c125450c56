// Compatibility mode (no SPDY/3.1 windows, as with spdystream peers): a stream whose reader is behind
// pauses reading the socket. A peer's RST_STREAM CANCEL on that stream, with data still buffered for
// its reader, must not leave the socket paused: the other streams of the connection would stall for good.
import t from 'tap';
import { connectionPair, readAll, randomBytes } from './helpers.js';
import { RstStatus } from '../lib/frames/index.js';
import type { Stream } from '../lib/session/stream.js';

t.test('a stream reset while it blocks reading: reading resumes, its buffered data ends without FIN', async (t) => {
  const { client, server, close } = await connectionPair({ flowControl: false, streamHighWaterMark: 65536 }, { flowControl: false });
  t.teardown(close);
  const payload = randomBytes(4 * 1024 * 1024, 11);
  const served: Stream[] = [];
  server.on('stream', (s) => {
    served.push(s);
    s.reply({});
    s.resume();
    if (s.headers.kind === 'big') s.write(payload);
    else s.end('small');
  });
  const big = await client.createStream({ kind: 'big' });
  big.pause();
  for (let i = 0; i < 100 && !client.readPaused; i++) await new Promise((r) => setTimeout(r, 20));
  t.equal(client.readPaused, true, 'the unread stream paused reading the socket');
  served[0]!.reset(RstStatus.CANCEL);
  // The CANCEL frame is behind the DATA the socket holds: read the stream to its end.
  const got = await readAll(big);
  t.ok(got.length > 0 && got.length <= payload.length && got.equals(payload.subarray(0, got.length)), `what was buffered is handed over, byte-exact (${got.length} bytes)`);
  t.equal(big.finReceived, false, 'no FIN: the reader can tell it was cut short');
  t.match(big.closeError?.message ?? '', /CANCEL/, 'closeError says why');
  await new Promise((r) => setTimeout(r, 50));
  t.equal(client.readPaused, false, 'reading the socket resumed');
  t.equal(client.congested, false, 'the connection is not congested');
  const small = await client.createStream({ kind: 'small' }, { timeout: 5000 });
  small.end();
  t.equal((await readAll(small)).toString(), 'small', 'another stream on the connection works');
  t.equal(small.finReceived, true, 'and ends with FIN');
});
