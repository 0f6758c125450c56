/** Where a command prints: stdout lines and stderr lines. */
export interface Io {
  out(line: string): void;
  err(line: string): void;
}

/**
 * Stdout lines written in one event-loop turn go out in one write (a busy `port-forward` prints
 * `Handling connection for L` per accepted connection: one write syscall each cost ~7% of its CPU
 * under 200 concurrent connections). Pending lines are flushed before any stderr line (order kept),
 * on the next turn, and at exit.
 */
let pending = '';
let scheduled = false;
function flush(): void {
  scheduled = false;
  if (pending === '') return;
  const text = pending;
  pending = '';
  process.stdout.write(text);
}
process.once('exit', flush);

export const processIo: Io = {
  out: (line) => {
    pending += `${line}\n`;
    if (!scheduled) {
      scheduled = true;
      setImmediate(flush);
    }
  },
  err: (line) => {
    flush();
    process.stderr.write(`${line}\n`);
  },
};
