/**
 * `kube-spdy fake-apiserver --pod NS/NAME[=HOST] … [--objects FILE] [--listen HOST:PORT]
 *  [--kubeconfig-out FILE] [--tls] [--client-certs] [--token T] [--refuse-spdy] [--no-websocket]`
 */
import { parseArgs } from 'node:util';
import { readFile } from 'node:fs/promises';
import yaml from 'js-yaml';
import net from 'node:net';
import { InvalidArgumentError } from '../errors.js';
import { parsePodSpec, startFakeApiServer, fromManifests } from '../fake-apiserver/index.js';
import type { FakePod } from '../fake-apiserver/index.js';
import { checkListen } from '../fake-apiserver/listen-policy.js';
import type { Io } from './io.js';

export const FAKE_APISERVER_USAGE = `Usage: kube-spdy fake-apiserver (--pod NS/NAME[:PORT,...][=HOST] | --objects FILE) ... [options]

A fake Kubernetes API server on loopback for kubectl port-forward and tools built on client libraries:
discovery, pods, services, deployments, replicasets and statefulsets, and port-forward over the
WebSocket tunnel (kubectl's default), the SPDY/3.1 upgrade and the older v4.channel.k8s.io WebSocket
protocol. Port N of a pod dials HOST:N (a pod's status.podIP; default 127.0.0.1).

Options:
  --pod NS/NAME[:PORT,...][=HOST]
                           a pod to serve, with its container ports (repeatable)
  --objects FILE           Kubernetes manifests (YAML or JSON, several documents): Pod (labels,
                           named containerPorts, status.podIP), Service (selector, ports with
                           targetPort numbers or names), Deployment/ReplicaSet/StatefulSet (matchLabels)
  --forbid NS/NAME         answer this pod's port-forward with 403 Forbidden (repeatable)
  --listen HOST:PORT       where to listen (default 127.0.0.1:0, a free port); beyond loopback
                           only with --token, and with a loud warning
  --kubeconfig-out FILE    write a kubeconfig for this server (kubectl --kubeconfig FILE …)
  --tls                    serve HTTPS with a generated CA (written as certificate-authority-data)
  --client-certs           require a client certificate signed by that CA (written into the kubeconfig)
  --token TOKEN            require this bearer token (repeatable; default: none required)
  --any-port               let port-forward dial any port of a pod, not only its declared ones
  --refuse-spdy            answer the SPDY upgrade 400 (a gateway that passes only WebSockets)
  --no-websocket           answer the WebSocket tunnel 400 (an API server before 1.31)
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
      token: { type: 'string', multiple: true },
      objects: { type: 'string', multiple: true },
      tls: { type: 'boolean' },
      'client-certs': { type: 'boolean' },
      'refuse-spdy': { type: 'boolean' },
      'no-websocket': { type: 'boolean' },
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
  if (!values.pod?.length && !values.objects?.length) throw new InvalidArgumentError('at least one --pod NS/NAME[=HOST] or --objects FILE is required');
  const pods: FakePod[] = (values.pod ?? []).map(parsePodSpec);
  const services = [];
  const workloads = [];
  for (const f of values.objects ?? []) {
    let docs: unknown[];
    try {
      docs = yaml.loadAll(await readFile(f, 'utf8'));
    } catch (err) {
      throw new InvalidArgumentError(`--objects ${f}: ${(err as Error).message.split('\n')[0]}`);
    }
    const o = fromManifests(docs.flatMap((d) => ((d as { kind?: string; items?: unknown[] })?.kind === 'List' ? ((d as { items?: unknown[] }).items ?? []) : [d])));
    pods.push(...o.pods);
    services.push(...o.services);
    workloads.push(...o.workloads);
  }
  if (values['client-certs'] && !values.tls) throw new InvalidArgumentError('--client-certs needs --tls');
  if (values['refuse-spdy'] && values['no-websocket']) throw new InvalidArgumentError('--refuse-spdy and --no-websocket together leave no transport');
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
  const exposed = checkListen(listen.host, { token: !!values.token?.length, clientCertificates: !!values['client-certs'] });
  if (exposed) io.err(`warning: ${exposed}`);
  const srv = await startFakeApiServer({
    anyPort: values['any-port'] === true,
    pods,
    services,
    workloads,
    host: listen.host,
    port: listen.port,
    ...(values.token?.length ? { tokens: values.token } : {}),
    ...(values.tls ? { tls: true } : {}),
    ...(values['client-certs'] ? { clientCertificates: true } : {}),
    ...(exec ? { exec } : {}),
    transports: values['refuse-spdy'] ? ['websocket'] : values['no-websocket'] ? ['spdy'] : ['websocket', 'spdy'],
  });
  if (values['kubeconfig-out']) {
    try {
      await srv.writeKubeconfig(values['kubeconfig-out']);
    } catch (err) {
      await srv.close();
      throw new InvalidArgumentError(`cannot write --kubeconfig-out ${values['kubeconfig-out']}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
    }
  }
  io.out(`Listening on ${srv.url}`);
  for (const p of pods) {
    const declared = (p.ports ?? []).map((x) => (typeof x === 'number' ? x : x.containerPort));
    const ports = values['any-port'] ? 'any port' : declared.length ? `ports ${declared.join(',')}` : 'no ports (declare them as NS/NAME:PORT,... or pass --any-port)';
    io.out(`Serving pod ${p.namespace}/${p.name} -> ${p.host ?? '127.0.0.1'} (${ports})${p.forbidden ? ' (port-forward forbidden)' : ''}`);
  }
  if (exec) io.out(`Serving exec and attach: commands run in ${exec.cwd ?? process.cwd()}`);
  for (const s of services) io.out(`Serving service ${s.namespace}/${s.name}`);
  for (const w of workloads) io.out(`Serving ${w.kind.toLowerCase()} ${w.namespace}/${w.name}`);
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
