// Loopback proxies for tests: an HTTP CONNECT proxy and a SOCKS5 proxy (no auth), each counting tunnels.
import http from 'node:http';
import net from 'node:net';

export interface TestProxy {
  url: string;
  tunnels: () => number;
  close(): Promise<void>;
}

function splice(a: net.Socket, b: net.Socket): void {
  a.pipe(b);
  b.pipe(a);
  a.on('error', () => b.destroy());
  b.on('error', () => a.destroy());
  a.on('close', () => b.destroy());
  b.on('close', () => a.destroy());
}

export async function startConnectProxy(): Promise<TestProxy> {
  let n = 0;
  const sockets = new Set<net.Socket>();
  const srv = http.createServer((_req, res) => res.writeHead(405).end('CONNECT only'));
  srv.on('connect', (req: http.IncomingMessage, sock: net.Socket, head: Buffer) => {
    n++;
    const m = /^\[?([^\]]+?)\]?:(\d+)$/.exec(req.url ?? '');
    if (!m) return void sock.end('HTTP/1.1 400 Bad Request\r\n\r\n');
    const up = net.connect(Number(m[2]), m[1]!, () => {
      sock.write('HTTP/1.1 200 Connection established\r\n\r\n');
      if (head.length) up.write(head);
      splice(sock, up);
    });
    sockets.add(sock).add(up);
    up.on('error', () => sock.destroy());
  });
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(srv.address() as net.AddressInfo).port}`,
    tunnels: () => n,
    close: () =>
      new Promise((r) => {
        for (const s of sockets) s.destroy();
        srv.close(() => r());
      }),
  };
}

export async function startSocks5Proxy(): Promise<TestProxy> {
  let n = 0;
  const sockets = new Set<net.Socket>();
  const srv = net.createServer((sock) => {
    sockets.add(sock);
    sock.on('error', () => {});
    sock.once('data', () => {
      sock.write(Buffer.from([5, 0])); // no authentication
      sock.once('data', (req: Buffer) => {
        let host: string;
        let off: number;
        if (req[3] === 1) {
          host = [...req.subarray(4, 8)].join('.');
          off = 8;
        } else if (req[3] === 3) {
          host = req.subarray(5, 5 + req[4]!).toString();
          off = 5 + req[4]!;
        } else {
          host = net.isIPv6('::1') ? '::1' : '';
          off = 20;
        }
        const port = req.readUInt16BE(off);
        n++;
        const up = net.connect(port, host, () => {
          sock.write(Buffer.from([5, 0, 0, 1, 0, 0, 0, 0, 0, 0]));
          splice(sock, up);
        });
        sockets.add(up);
        up.on('error', () => sock.destroy());
      });
    });
  });
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  return {
    url: `socks5://127.0.0.1:${(srv.address() as net.AddressInfo).port}`,
    tunnels: () => n,
    close: () =>
      new Promise((r) => {
        for (const s of sockets) s.destroy();
        srv.close(() => r());
      }),
  };
}
