/**
 * The `kube-spdy` command. Every mistake prints one line `error: …` on stderr and exits non-zero;
 * nothing throws out of {@link main}.
 */
import { KubeSpdyError } from '../errors.js';
import { portForwardCommand, PORT_FORWARD_USAGE } from './port-forward.js';
import { fakeApiServerCommand, FAKE_APISERVER_USAGE } from './fake-apiserver-command.js';
import { demoCommand, DEMO_USAGE } from './demo.js';
import { benchCommand, BENCH_USAGE } from './bench.js';
import { execCommand, EXEC_USAGE } from './exec.js';
import { processIo, type Io } from './io.js';

export const USAGE = `Usage: kube-spdy COMMAND [options]

Commands:
  port-forward    forward local ports to a pod (like kubectl port-forward, but it keeps working)
  exec            execute a command in a container (like kubectl exec; WebSocket, then SPDY)
  fake-apiserver  a fake Kubernetes API server on loopback that kubectl can port-forward through
  demo            run a pod, the fake API server and a port-forward on loopback, and check them
  bench           benchmark suites on loopback, as ratios against kubectl, spdy-transport, Go spdystream

Run 'kube-spdy COMMAND --help' for a command's options.`;

const commands: Record<string, { run: (argv: string[], io: Io) => Promise<number>; usage: string }> = {
  'port-forward': { run: portForwardCommand, usage: PORT_FORWARD_USAGE },
  exec: { run: execCommand, usage: EXEC_USAGE },
  'fake-apiserver': { run: fakeApiServerCommand, usage: FAKE_APISERVER_USAGE },
  demo: { run: demoCommand, usage: DEMO_USAGE },
  bench: { run: benchCommand, usage: BENCH_USAGE },
};

/** Runs the command line `argv` (without node and the script); resolves with the exit code. */
export async function main(argv: string[], io: Io = processIo): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '-h' || name === '--help' || name === 'help') {
    io.out(USAGE);
    return name === undefined ? 1 : 0;
  }
  const cmd = commands[name];
  if (!cmd) {
    io.err(`error: unknown command "${name}" (commands: ${Object.keys(commands).join(', ')})`);
    return 1;
  }
  try {
    return await cmd.run(rest, io);
  } catch (err) {
    io.err(`error: ${oneLine(err)}`);
    return 1;
  }
}

function oneLine(err: unknown): string {
  if (err instanceof KubeSpdyError || err instanceof Error) {
    const code = (err as { code?: string }).code;
    // parseArgs errors (ERR_PARSE_ARGS_*) are usage mistakes: say so.
    const msg = err.message.split('\n')[0]!;
    return typeof code === 'string' && code.startsWith('ERR_PARSE_ARGS') ? `${msg} (see --help)` : msg;
  }
  return String(err);
}
