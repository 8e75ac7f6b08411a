/**
 * Progress for CLI work longer than a couple of seconds (building the zoo, profiling, benches):
 * a cli-progress bar on stderr when stderr is a terminal and not under CI, otherwise one plain
 * line per step, so logs of CI runs and pipes stay readable and grep-able. Results never go
 * through here: they are printed to stdout by the command, so `cleave profile ... > report.txt`
 * holds the report and nothing else.
 */
import { MultiBar, type SingleBar } from 'cli-progress';

/** What a long task reports as it goes. */
export interface Progress {
  /** Starts a task; `total` steps when known, undefined for an open-ended one (a bench). */
  start(label: string, total?: number): void;
  /** One step done; `what` names it (the model built, the batch measured). */
  tick(what: string): void;
  /** A line of ordinary output (stdout) that must not tangle with the bar. */
  log(line: string): void;
  /**
   * A line of output that also marks a step (a bench's own log lines): printed like log(), and
   * on the bar counted and shown as the current step. Plain mode prints it once, as output.
   */
  note(line: string): void;
  /** Ends the task (the bar is removed; plain mode says how long it took). */
  stop(): void;
}

/** Where progress goes and how it decides between a bar and plain lines. */
export interface ProgressOptions {
  /** Where the bar or the step lines go. Default process.stderr. */
  readonly stream?: NodeJS.WritableStream & { isTTY?: boolean };
  /** Where log() lines go. Default process.stdout. */
  readonly out?: NodeJS.WritableStream & { isTTY?: boolean };
  /** Environment, for CI detection. Default process.env. */
  readonly env?: Readonly<Record<string, string | undefined>>;
  /** Force a mode; default: 'bar' when `stream` is a TTY and CI is not set, else 'lines'. */
  readonly mode?: 'bar' | 'lines' | 'silent';
  /** Clock for the plain mode's timings, ms. Default performance.now. */
  readonly now?: () => number;
}

/** True when a bar should be drawn: `stream` is a terminal and CI is not set (most CI systems set CI=true). */
export function wantsBar(stream: { isTTY?: boolean }, env: Readonly<Record<string, string | undefined>>): boolean {
  const ci = env.CI;
  return stream.isTTY === true && (ci === undefined || ci === '' || ci === '0' || ci.toLowerCase() === 'false');
}

/** A Progress for the given streams: see the file comment. */
export function createProgress(opts: ProgressOptions = {}): Progress {
  const stream = opts.stream ?? process.stderr;
  const out = opts.out ?? process.stdout;
  const mode = opts.mode ?? (wantsBar(stream, opts.env ?? process.env) ? 'bar' : 'lines');
  if (mode === 'silent') {
    const write = (l: string): void => void out.write(`${l}\n`);
    return { start: () => undefined, tick: () => undefined, log: write, note: write, stop: () => undefined };
  }
  return mode === 'bar' ? new BarProgress(stream, out) : new LineProgress(stream, out, opts.now ?? (() => performance.now()));
}

/** Longest step name shown on the bar, characters: a bar that wraps redraws badly. */
const MAX_STEP_CHARS = 48;

class BarProgress implements Progress {
  private multi: MultiBar | undefined;
  private bar: SingleBar | undefined;
  private done = 0;

  constructor(private readonly stream: NodeJS.WritableStream & { isTTY?: boolean }, private readonly out: NodeJS.WritableStream & { isTTY?: boolean }) {}

  start(label: string, total?: number): void {
    this.stop();
    this.done = 0;
    const counted = total !== undefined;
    this.multi = new MultiBar({
      stream: this.stream,
      format: counted ? '{label} [{bar}] {value}/{total} {duration_formatted} {step}' : '{label} {duration_formatted}, {value} steps {step}',
      hideCursor: true,
      clearOnComplete: true,
      // A bench's steps can be a minute apart: redraw the elapsed time meanwhile.
      forceRedraw: true,
      gracefulExit: true,
    });
    this.bar = this.multi.create(total ?? 0, 0, { label, step: '' });
  }

  tick(what: string): void {
    this.done += 1;
    this.bar?.update(this.done, { step: what.length > MAX_STEP_CHARS ? `${what.slice(0, MAX_STEP_CHARS - 3)}...` : what });
  }

  log(line: string): void {
    // Above the bar when both share the terminal; straight to stdout when it is redirected.
    if (this.multi && this.out.isTTY === true) this.multi.log(`${line}\n`);
    else this.out.write(`${line}\n`);
  }

  note(line: string): void {
    this.log(line);
    if (line.trim() !== '') this.tick(line.trim());
  }

  stop(): void {
    // cli-progress prints log() lines on its next redraw and drops them at stop(): redraw first.
    this.multi?.update();
    this.multi?.stop();
    this.multi = undefined;
    this.bar = undefined;
  }
}

class LineProgress implements Progress {
  private label = '';
  private total: number | undefined;
  private done = 0;
  private startedAt = 0;
  private active = false;

  constructor(private readonly stream: NodeJS.WritableStream, private readonly out: NodeJS.WritableStream, private readonly now: () => number) {}

  start(label: string, total?: number): void {
    this.label = label;
    this.total = total;
    this.done = 0;
    this.startedAt = this.now();
    this.active = true;
  }

  tick(what: string): void {
    this.done += 1;
    const count = this.total === undefined ? `${this.done}` : `${this.done}/${this.total}`;
    this.stream.write(`${this.label} ${count}: ${what}\n`);
  }

  log(line: string): void {
    this.out.write(`${line}\n`);
  }

  note(line: string): void {
    this.log(line);
  }

  stop(): void {
    if (!this.active) return;
    this.active = false;
    this.stream.write(`${this.label}: done in ${((this.now() - this.startedAt) / 1000).toFixed(1)} s\n`);
  }
}
