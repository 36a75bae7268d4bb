/**
 * Follows one run until it ends by polling its event log by seq (RunQueryService.events), which is gap-free
 * per run: every event is printed once and in order, whichever instance wrote it. On a terminal TTY the
 * progress bar is redrawn in place below the event lines; otherwise (pipes, CI logs) it is printed as a plain
 * line each time it changes.
 */
import type { JsonValue } from '#core';
import type { RunQueryService } from '#engine';
import { TERMINAL_RUN_EVENTS, type EventRow, type EventType } from '#events';
import { approvalHint, eventLine, StepProgress } from './run-progress.js';

const PAGE = 500;
const CLEAR_LINE = '\r\x1b[2K';

export interface FollowTarget {
  organizationId: string;
  organizationSlug: string;
  runId: string;
  stepKeys: string[];
}

export interface FollowOptions {
  /** Print every event and the progress bar (--follow); otherwise only wait, printing approval hints. */
  verbose: boolean;
  /** Redraw the bar in place (stdout is a terminal). */
  tty: boolean;
  /** Warn once when steps wait this long with no worker picking them up (null: never, e.g. with --work). */
  idleHintMs: number | null;
  pollMs?: number;
  /** Aborted on Ctrl-C: the follower stops waiting (the run itself goes on). */
  signal?: AbortSignal;
  write?: (text: string) => void;
  warn?: (line: string) => void;
}

export type FollowEnd = { kind: 'ended'; type: EventType; payload: JsonValue; at: Date } | { kind: 'interrupted' };

export async function followRun(queries: RunQueryService, target: FollowTarget, options: FollowOptions): Promise<FollowEnd> {
  const write = options.write ?? ((text: string) => process.stdout.write(text));
  const warn = options.warn ?? ((line: string) => process.stderr.write(`${line}\n`));
  const screen = new ProgressScreen(write, options.tty);
  const progress = new StepProgress(target.stepKeys);
  const keyWidth = Math.max(1, ...target.stepKeys.map((k) => k.length));
  let after: string | null = null;
  let lastEventAt = Date.now();
  let hinted = false;
  if (options.verbose) screen.bar(progress.bar());
  try {
    for (;;) {
      if (options.signal?.aborted) return { kind: 'interrupted' };
      const events: EventRow[] = await queries.events(target.organizationId, target.runId, after, PAGE);
      for (const event of events) {
        after = String(event.id);
        progress.apply(event);
        const hint = approvalHint(event, target.organizationSlug);
        if (options.verbose) screen.line(eventLine(event, keyWidth));
        for (const line of hint) screen.line(line);
        if (options.verbose) screen.bar(progress.bar());
        if ((TERMINAL_RUN_EVENTS as readonly string[]).includes(event.type)) {
          return {
            kind: 'ended',
            type: event.type as EventType,
            payload: (event.payload ?? null) as JsonValue,
            at: new Date(event.created_at),
          };
        }
      }
      if (events.length > 0) lastEventAt = Date.now();
      if (events.length === PAGE) continue;
      if (!hinted && options.idleHintMs !== null && Date.now() - lastEventAt >= options.idleHintMs && progress.waitingForWorker) {
        hinted = true;
        screen.interrupt(() =>
          warn(
            `No worker has started a step for ${Math.round((options.idleHintMs as number) / 1000)} s. Runs progress only while a worker runs: ` +
              'start the server (`npm start`) or a worker (BATON_ROLE=worker), or pass --work to run one in this process.',
          ),
        );
      }
      await sleep(options.pollMs ?? 200, options.signal);
    }
  } finally {
    screen.end();
  }
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal?.addEventListener('abort', done, { once: true });
  });
}

/** Event lines scroll; on a terminal the bar stays the last line and is redrawn in place. */
class ProgressScreen {
  private shownBar: string | null = null;

  constructor(
    private readonly write: (text: string) => void,
    private readonly tty: boolean,
  ) {}

  line(text: string): void {
    if (this.tty && this.shownBar !== null) {
      this.write(`${CLEAR_LINE}${text}\n${this.shownBar}`);
      return;
    }
    this.write(`${text}\n`);
  }

  bar(text: string): void {
    if (this.tty) {
      this.write(`${CLEAR_LINE}${text}`);
      this.shownBar = text;
      return;
    }
    if (text === this.shownBar) return;
    this.shownBar = text;
    this.write(`${text}\n`);
  }

  /** Output from elsewhere (stderr) while the bar is drawn: move off the bar line first, then draw it again. */
  interrupt(print: () => void): void {
    if (this.tty && this.shownBar !== null) this.write(CLEAR_LINE);
    print();
    if (this.tty && this.shownBar !== null) this.write(this.shownBar);
  }

  end(): void {
    if (this.tty && this.shownBar !== null) this.write('\n');
    this.shownBar = null;
  }
}
