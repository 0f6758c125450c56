/**
 * `kube-spdy fake-apiserver --pod NS/NAME[:PORTS][=HOST] … [--any-port] [--listen HOST:PORT] [--kubeconfig-out FILE] [--token T]`
 */
import { parseArgs } from 'node:util';
import net from 'node:net';
import { InvalidArgumentError } from '../errors.js';
import { parsePodSpec, startFakeApiServer } from '../fake-apiserver/index.js';
import { checkListen } from '../fake-apiserver/listen-policy.js';
import type { Io } from './io.js';

export const FAKE_APISERVER_USAGE = `Usage: kube-spdy fake-apiserver --pod NS/NAME[:PORT,...][=HOST] ... [options]

A fake Kubernetes API server on loopback for kubectl port-forward: discovery, pod GET (Running),
and the SPDY/3.1 port-forward upgrade. Port N of a pod dials HOST:N (default 127.0.0.1), for the
pod's declared PORTs only (any port with --any-port).

Options:
  --pod NS/NAME[:PORT,...][=HOST]
                           a pod to serve, with its container ports (repeatable, at least one)
  --any-port               let port-forward dial any port of a pod, not only its declared ones
  --forbid NS/NAME         answer this pod's port-forward with 403 Forbidden (repeatable)
  --listen HOST:PORT       where to listen (default 127.0.0.1:0, a free port); beyond loopback
                           only with --token, and with a loud warning
  --kubeconfig-out FILE    write a kubeconfig for this server (kubectl --kubeconfig FILE …)
  --token TOKEN            require this bearer token (default: none required)
  --exec                   serve pods/exec and pods/attach: commands run here as child processes
  --exec-cwd DIR           working directory of exec'd commands (default: the current one)
  --exec-env NAME=VALUE    set a variable for exec'd commands, on top of this environment (repeatable)
  --attach-command ARGV    the main process attach joins, split on spaces (default: cat)
  -h, --help               show this help`;

/** Parses `HOST:PORT` (IPv6 as `[::1]:PORT`). */
export function parseListen(s: string): { host: string; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:]+)):(\d{1,5})$/.exec(s);
  const host = m ? (m[1] ?? m[2]!) : '';
  const port = m ? Number(m[3]) : NaN;
  if (!m || port > 65535 || (net.isIP(host) === 0 && host !== 'localhost')) throw new InvalidArgumentError(`invalid --listen "${s}": expected HOST:PORT with an IP address`);
  return { host: host === 'localhost' ? '127.0.0.1' : host, port };
}

export async function fakeApiServerCommand(argv: string[], io: Io): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    allowPositionals: false,
    options: {
      pod: { type: 'string', multiple: true },
      forbid: { type: 'string', multiple: true },
      listen: { type: 'string' },
      'kubeconfig-out': { type: 'string' },
      token: { type: 'string' },
      'any-port': { type: 'boolean' },
      exec: { type: 'boolean' },
      'exec-cwd': { type: 'string' },
      'exec-env': { type: 'string', multiple: true },
      'attach-command': { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    io.out(FAKE_APISERVER_USAGE);
    return 0;
  }
  if (!values.pod || values.pod.length === 0) throw new InvalidArgumentError('at least one --pod NS/NAME[=HOST] is required');
  const pods = values.pod.map(parsePodSpec);
  for (const f of values.forbid ?? []) {
    const fp = parsePodSpec(f);
    const p = pods.find((x) => x.namespace === fp.namespace && x.name === fp.name);
    if (!p) throw new InvalidArgumentError(`--forbid ${f}: no such --pod`);
    p.forbidden = true;
  }
  const listen = values.listen ? parseListen(values.listen) : { host: '127.0.0.1', port: 0 };
  const execOn = values.exec === true;
  if (!execOn && (values['exec-cwd'] || values['exec-env'] || values['attach-command'])) {
    throw new InvalidArgumentError('--exec-cwd, --exec-env and --attach-command need --exec');
  }
  const env: NodeJS.ProcessEnv = { ...process.env };
  for (const kv of values['exec-env'] ?? []) {
    const i = kv.indexOf('=');
    if (i <= 0) throw new InvalidArgumentError(`invalid --exec-env "${kv}": expected NAME=VALUE`);
    env[kv.slice(0, i)] = kv.slice(i + 1);
  }
  const attachCommand = values['attach-command']?.split(/\s+/).filter((a) => a !== '');
  if (attachCommand && attachCommand.length === 0) throw new InvalidArgumentError('--attach-command must name a program');
  const exec = execOn ? { env, ...(values['exec-cwd'] ? { cwd: values['exec-cwd'] } : {}), ...(attachCommand ? { attachCommand } : {}) } : undefined;
  const exposed = checkListen(listen.host, { token: !!values.token, clientCertificates: false });
  if (exposed) io.err(`warning: ${exposed}`);
  const srv = await startFakeApiServer({ pods, host: listen.host, port: listen.port, anyPort: values['any-port'] === true, ...(values.token ? { token: values.token } : {}), ...(exec ? { exec } : {}) });
  if (values['kubeconfig-out']) await srv.writeKubeconfig(values['kubeconfig-out']);
  io.out(`Listening on ${srv.url}`);
  for (const p of pods) {
    const ports = values['any-port'] ? 'any port' : p.ports?.length ? `ports ${p.ports.join(',')}` : 'no ports (declare them as NS/NAME:PORT,... or pass --any-port)';
    io.out(`Serving pod ${p.namespace}/${p.name} -> ${p.host ?? '127.0.0.1'} (${ports})${p.forbidden ? ' (port-forward forbidden)' : ''}`);
  }
  if (exec) io.out(`Serving exec and attach: commands run in ${exec.cwd ?? process.cwd()}`);
  if (values['kubeconfig-out']) io.out(`Wrote kubeconfig ${values['kubeconfig-out']}`);
  await new Promise<void>((resolve) => {
    const stop = (): void => {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      void srv.close().then(resolve);
    };
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
  return 0;
}
