/**
 * Runs one function agent call in a Node process of its own, so the agent's code never shares the server's heap,
 * event loop or privileges. The process is confined by:
 * - the permission model (`--permission`, or `--experimental-permission` before Node 22.13): no file system read
 *   or write (the program comes in `-e`, not from a file), no child processes, no worker threads, no native addons,
 *   no WASI;
 * - `--disallow-code-generation-from-strings`: no `eval`/`Function` in any context, so reaching a host constructor
 *   does not give code execution;
 * - `--max-old-space-size` (the agent's memoryMb) plus a resident-size watchdog for memory outside the V8 heap
 *   (ArrayBuffers); over either, the process dies and the call fails with MEMORY_LIMIT;
 * - a wall-clock deadline and the caller's AbortSignal: SIGKILL, whatever the code is doing;
 * - an environment holding only the variables the agent's config names (`allowedEnv`).
 * Requests the code makes through the parent (fetch, deliverables, assets) are performed by `host` after its checks.
 */
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { ABORTED_ERROR, AgentError, TIMEOUT_ERROR } from '../agent-error.js';
import { sandboxChildSource, type ChildRunMessage } from './sandbox-child.js';

export interface SandboxHost {
  fetch(request: { url: string; method: string; headers: Record<string, string>; body?: string }, signal: AbortSignal): Promise<unknown>;
  deliverable(request: unknown): Promise<unknown>;
  asset(request: unknown, bytes: Buffer | null): Promise<unknown>;
  log(level: string, text: string): void;
}

export interface SandboxLimits {
  timeoutMs: number;
  memoryMb: number;
  /** Most requests (fetch, deliverables, assets) one call may make. */
  maxHostCalls: number;
  /** Largest JSON output accepted, in bytes. */
  maxOutputBytes: number;
}

export interface SandboxCall {
  code: string;
  input: unknown;
  config: Record<string, unknown>;
  env: Record<string, string>;
  allowedRequire: string[];
  limits: SandboxLimits;
  signal: AbortSignal;
  host: SandboxHost;
}

/** `--permission` is stable from Node 22.13 / 23.5; Node 20 (and 22 before .13) only know the experimental flag. */
export function permissionFlag(version = process.versions.node): string {
  const [major, minor] = version.split('.').map(Number);
  return major >= 24 || (major === 23 && minor >= 5) || (major === 22 && minor >= 13) ? '--permission' : '--experimental-permission';
}

/** The flags that confine a sandbox process (the file comment says what each defends). */
export function sandboxNodeFlags(memoryMb: number): string[] {
  return [permissionFlag(), '--disallow-code-generation-from-strings', `--max-old-space-size=${memoryMb}`, '--no-warnings'];
}

/** Resident memory of a process in MB, from /proc (Linux); null where there is no /proc. */
function residentMb(pid: number): number | null {
  try {
    const match = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return match ? Number(match[1]) / 1024 : null;
  } catch {
    return null;
  }
}

/** Node itself takes ~40-60 MB resident before any agent code runs; the watchdog allows that on top of memoryMb. */
const RESIDENT_BASELINE_MB = 96;
const WATCHDOG_MS = 50;
const STDERR_KEEP = 4096;

export function runInSandbox(call: SandboxCall): Promise<unknown> {
  return new Promise((resolve, reject) => {
    if (call.signal.aborted) return reject(new AgentError(ABORTED_ERROR, 'aborted', false));
    const child = spawn(process.execPath, [...sandboxNodeFlags(call.limits.memoryMb), '-e', sandboxChildSource()], {
      stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
      env: call.env,
      serialization: 'json',
      windowsHide: true,
    });
    let settled = false;
    let stderr = '';
    let hostCalls = 0;
    let killedFor: AgentError | null = null;
    const inflight = new AbortController();

    const finish = (error: AgentError | null, value?: unknown) => {
      if (settled) return;
      settled = true;
      clearTimeout(deadline);
      clearInterval(watchdog);
      call.signal.removeEventListener('abort', onAbort);
      inflight.abort();
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      if (error) reject(error);
      else resolve(value);
    };
    const kill = (error: AgentError) => {
      killedFor = error;
      child.kill('SIGKILL');
      finish(error);
    };
    const deadline = setTimeout(
      () => kill(new AgentError(TIMEOUT_ERROR, `the function did not finish within ${call.limits.timeoutMs} ms and was stopped`, true)),
      call.limits.timeoutMs,
    );
    const watchdog = setInterval(() => {
      const mb = child.pid ? residentMb(child.pid) : null;
      if (mb !== null && mb > call.limits.memoryMb + RESIDENT_BASELINE_MB)
        kill(
          new AgentError(
            'MEMORY_LIMIT',
            `the function used ${Math.round(mb)} MB, over its limit of ${call.limits.memoryMb} MB, and was stopped`,
            false,
          ),
        );
    }, WATCHDOG_MS);
    const onAbort = () => kill(new AgentError(ABORTED_ERROR, 'aborted', false));
    call.signal.addEventListener('abort', onAbort, { once: true });

    child.stderr?.setEncoding('utf8');
    child.stderr?.on('data', (chunk: string) => {
      if (stderr.length < STDERR_KEEP) stderr += chunk.slice(0, STDERR_KEEP - stderr.length);
    });
    child.on('error', (error) =>
      finish(new AgentError('SANDBOX_UNAVAILABLE', `could not start the function sandbox: ${error.message}`, true)),
    );
    child.on('exit', (code, signal) => {
      if (settled) return;
      if (killedFor) return finish(killedFor);
      if (/heap limit|out of memory|allocation failed/i.test(stderr))
        return finish(new AgentError('MEMORY_LIMIT', `the function ran out of its memory limit of ${call.limits.memoryMb} MB`, false));
      finish(
        new AgentError(
          'SANDBOX_CRASHED',
          `the function's process ended (${signal ?? `exit code ${code}`}) without an answer${stderr ? `: ${stderr.trim().slice(0, 500)}` : ''}`,
          true,
        ),
      );
    });

    const reply = (id: number, outcome: Promise<unknown>) => {
      outcome.then(
        (value) => !settled && child.connected && child.send({ t: 'reply', id, ok: true, json: JSON.stringify(value ?? null) }),
        (error: unknown) => {
          const code = (error as { code?: unknown })?.code;
          if (!settled && child.connected)
            child.send({
              t: 'reply',
              id,
              ok: false,
              error: error instanceof Error ? error.message : String(error),
              ...(typeof code === 'string' ? { code } : {}),
            });
        },
      );
    };

    child.on('message', (raw: unknown) => {
      if (settled || typeof raw !== 'object' || raw === null) return;
      const message = raw as {
        t?: unknown;
        id?: unknown;
        op?: unknown;
        json?: unknown;
        base64?: unknown;
        error?: unknown;
        level?: unknown;
        text?: unknown;
      };
      switch (message.t) {
        case 'ready': {
          const run: ChildRunMessage = {
            t: 'run',
            code: call.code,
            input: JSON.stringify(call.input ?? null),
            config: JSON.stringify(call.config),
            env: call.env,
            allowedRequire: call.allowedRequire,
          };
          child.send(run);
          return;
        }
        case 'log':
          call.host.log(String(message.level), String(message.text).slice(0, 2000));
          return;
        case 'call': {
          const id = Number(message.id);
          if (++hostCalls > call.limits.maxHostCalls)
            return reply(id, Promise.reject(new Error(`at most ${call.limits.maxHostCalls} requests per call`)));
          let args: unknown;
          try {
            args = JSON.parse(String(message.json));
          } catch {
            return reply(id, Promise.reject(new Error('malformed request')));
          }
          const bytes = typeof message.base64 === 'string' ? Buffer.from(message.base64, 'base64') : null;
          if (message.op === 'fetch') return reply(id, call.host.fetch(args as Parameters<SandboxHost['fetch']>[0], inflight.signal));
          if (message.op === 'deliverable') return reply(id, call.host.deliverable(args));
          if (message.op === 'asset') return reply(id, call.host.asset(args, bytes));
          return reply(id, Promise.reject(new Error(`unknown request ${String(message.op)}`)));
        }
        case 'done': {
          const json = String(message.json);
          if (Buffer.byteLength(json) > call.limits.maxOutputBytes)
            return finish(new AgentError('OUTPUT_TOO_LARGE', `the function's output is over ${call.limits.maxOutputBytes} bytes`, false));
          return finish(null, JSON.parse(json));
        }
        case 'fail': {
          const error = (message.error ?? {}) as { name?: string; message?: string; code?: string; retryable?: boolean; compile?: boolean };
          const name = String(error.name ?? 'Error');
          if (error.compile)
            return finish(new AgentError('FUNCTION_SYNTAX_ERROR', `the function's code does not compile: ${error.message}`, false));
          return finish(
            new AgentError(
              error.code ?? 'FUNCTION_ERROR',
              `${name}: ${error.message ?? ''}`,
              error.retryable ?? !['TypeError', 'ReferenceError', 'EvalError'].includes(name),
            ),
          );
        }
      }
    });
  });
}
