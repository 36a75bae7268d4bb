/**
 * The program of a function agent's sandbox process. It is not imported: `sandboxChildSource()` turns the function
 * below into the `node -e` text of the child (see sandbox-process.ts for the flags that confine the process), so it
 * must not use anything from its module scope, only Node built-ins it requires itself.
 *
 * Inside the process, the agent's code runs in a fresh V8 context (node:vm) holding only what is listed in
 * `globals` below; code generation from strings is off there and in the process's own context (the
 * `--disallow-code-generation-from-strings` flag), so a constructor chain that reaches a host `Function` cannot
 * turn a string into code. Everything the code may do outside its context goes to the parent over the IPC
 * channel as a request (fetch, deliverables, assets, logs), which the parent checks and performs.
 */
/* eslint-disable @typescript-eslint/no-require-imports -- runs as `node -e` CommonJS, not as a module of ours */

export interface ChildRunMessage {
  t: 'run';
  code: string;
  input: string;
  config: string;
  env: Record<string, string>;
  allowedRequire: string[];
}

export function sandboxChildMain(): void {
  const vm = require('node:vm') as typeof import('node:vm');
  const modules: Record<string, unknown> = { crypto: require('node:crypto'), url: require('node:url') };
  const proc = process;
  const send = (message: unknown) => proc.send?.(message);
  const exit = (code: number) => setTimeout(() => proc.exit(code), 20);
  // The agent's code is not meant to reach `process` at all; if it ever did, these would be the dangerous parts
  // the permission model leaves (signals to other processes, native bindings). Internal users keep their own refs.
  for (const name of [
    'kill',
    '_kill',
    'binding',
    '_linkedBinding',
    'dlopen',
    'setuid',
    'setgid',
    'seteuid',
    'setegid',
    'setgroups',
    'initgroups',
    'chdir',
  ]) {
    try {
      Object.defineProperty(proc, name, {
        value: () => {
          throw new Error(`process.${name} is not available in a function agent`);
        },
      });
    } catch {
      // not configurable on this Node version: the permission model still applies
    }
  }

  const pending = new Map<number, { resolve: (value: unknown) => void; reject: (reason: unknown) => void }>();
  let sequence = 0;
  /** The one door out of the context: ask the parent, get JSON (as a string) or an error message back. */
  const bridge = (op: string, json: string, bytes?: unknown): Promise<string> =>
    new Promise((resolve, reject) => {
      const id = ++sequence;
      pending.set(id, { resolve: resolve as (value: unknown) => void, reject });
      let base64: string | undefined;
      if (bytes !== undefined && bytes !== null) {
        if (ArrayBuffer.isView(bytes)) base64 = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64');
        else if (bytes instanceof ArrayBuffer || Object.prototype.toString.call(bytes) === '[object ArrayBuffer]')
          base64 = Buffer.from(bytes as ArrayBuffer).toString('base64');
      }
      send({ t: 'call', id, op, json, ...(base64 !== undefined ? { base64 } : {}) });
    });
  const logLine = (level: string, parts: unknown[]) => {
    const text = parts.map((p) => (typeof p === 'string' ? p : safeJson(p))).join(' ');
    send({ t: 'log', level, text: text.slice(0, 2000) });
  };
  function safeJson(value: unknown): string {
    try {
      return JSON.stringify(value) ?? String(value);
    } catch {
      return String(value);
    }
  }

  proc.on('message', (raw: unknown) => {
    const message = raw as { t: string; id?: number; ok?: boolean; json?: string; error?: string; code?: string };
    if (message.t === 'reply' && typeof message.id === 'number') {
      const waiter = pending.get(message.id);
      pending.delete(message.id);
      if (!waiter) return;
      if (message.ok) waiter.resolve(message.json ?? 'null');
      else waiter.reject(Object.assign(new Error(message.error ?? 'refused'), { code: message.code }));
      return;
    }
    if (message.t === 'run') run(raw as ChildRunMessage);
  });

  function run(message: ChildRunMessage): void {
    const allowed = message.allowedRequire;
    const hostRequire = (name: string): unknown => modules[name.replace(/^node:/, '')];
    const timers = { set: setTimeout, clear: clearTimeout };
    const globals = {
      // host helpers without any reach: encoding, URLs, timers (callbacks only), bytes
      URL,
      URLSearchParams,
      TextEncoder,
      TextDecoder,
      atob,
      btoa,
      Buffer,
    };
    const context = vm.createContext(Object.assign(Object.create(null), globals), {
      name: 'function-agent',
      codeGeneration: { strings: false, wasm: false },
    });
    // Built inside the context, so what the code sees (ctx, Response, errors) are objects of its own realm; the host
    // functions it closes over are not reachable from the agent's code.
    const setup = vm.runInContext(
      `(function (bridge, log, hostRequire, timers, allowed, envJson, configJson) {
        'use strict';
        const call = async (op, args, bytes) => {
          let text;
          try {
            text = await bridge(op, JSON.stringify(args === undefined ? null : args), bytes);
          } catch (error) {
            throw Object.assign(new Error(String(error && error.message)), { code: String((error && error.code) || '') });
          }
          return JSON.parse(text);
        };
        const env = Object.freeze(JSON.parse(envJson));
        const config = Object.freeze(JSON.parse(configJson));
        class Headers {
          #map;
          constructor(entries) { this.#map = new Map(Object.entries(entries || {}).map(([k, v]) => [k.toLowerCase(), String(v)])); }
          get(name) { return this.#map.has(String(name).toLowerCase()) ? this.#map.get(String(name).toLowerCase()) : null; }
          has(name) { return this.#map.has(String(name).toLowerCase()); }
          entries() { return this.#map.entries(); }
          [Symbol.iterator]() { return this.#map.entries(); }
        }
        class Response {
          #body;
          constructor(answer) {
            this.status = answer.status;
            this.ok = answer.status >= 200 && answer.status < 300;
            this.headers = new Headers(answer.headers);
            this.#body = answer.body;
          }
          async text() { return this.#body; }
          async json() { return JSON.parse(this.#body); }
        }
        const plainHeaders = (h) => {
          if (!h) return {};
          const out = {};
          const entries = typeof h.entries === 'function' ? Array.from(h.entries()) : Object.entries(h);
          for (const [k, v] of entries) out[String(k)] = String(v);
          return out;
        };
        const fetch = async (url, init = {}) => {
          const body = init.body === undefined || init.body === null ? undefined : typeof init.body === 'string' ? init.body : JSON.stringify(init.body);
          try {
            return new Response(await call('fetch', { url: String(url), method: init.method || 'GET', headers: plainHeaders(init.headers), body }));
          } catch (error) {
            const refused = error.code === 'EAGENTADDRESS';
            throw Object.assign(new TypeError('fetch failed: ' + error.message), { code: refused ? 'OUTBOUND_REFUSED' : 'FETCH_FAILED', retryable: !refused });
          }
        };
        const require = (name) => {
          const bare = String(name).replace(/^node:/, '');
          if (!allowed.includes(bare))
            throw Object.assign(new Error("require('" + name + "') is not allowed in a function agent (allowed: " + allowed.join(', ') + ')'), { code: 'REQUIRE_NOT_ALLOWED', retryable: false });
          return hostRequire(bare);
        };
        const console = Object.freeze({
          log: (...a) => log('log', a), info: (...a) => log('info', a), warn: (...a) => log('warn', a), error: (...a) => log('error', a), debug: (...a) => log('debug', a),
        });
        const setTimeout = (fn, ms, ...args) => { timers.set(() => fn(...args), Number(ms) || 0); return 0; };
        const ctx = Object.freeze({
          env,
          config,
          deliverables: Object.freeze({ create: (deliverable) => call('deliverable', deliverable) }),
          assets: Object.freeze({
            saveBuffer: (data, options = {}) => {
              const binary = typeof data !== 'string';
              return call('asset', { ...options, ...(binary ? {} : { text: data }) }, binary ? data : undefined);
            },
          }),
          sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
        });
        globalThis.fetch = fetch;
        globalThis.require = require;
        globalThis.console = console;
        globalThis.setTimeout = setTimeout;
        globalThis.process = Object.freeze({ env });
        return ctx;
      })`,
      context,
    ) as (...args: unknown[]) => unknown;
    const ctx = setup(bridge, logLine, hostRequire, timers, allowed, JSON.stringify(message.env), message.config);

    let fn: (input: unknown, ctx: unknown) => Promise<unknown>;
    try {
      fn = vm.runInContext(`(async function agentFunction(input, ctx) {\n'use strict';\n${message.code}\n})`, context, {
        filename: 'agent-function.js',
        lineOffset: -2,
      }) as typeof fn;
    } catch (error) {
      const e = error as { name?: string; message?: string };
      send({ t: 'fail', error: { name: String(e?.name ?? 'Error'), message: String(e?.message ?? error), compile: true } });
      exit(0);
      return;
    }
    const parse = vm.runInContext('(text) => JSON.parse(text)', context) as (text: string) => unknown;
    const stringify = vm.runInContext('(value) => JSON.stringify(value === undefined ? null : value)', context) as (
      value: unknown,
    ) => string;
    Promise.resolve()
      .then(() => fn(parse(message.input), ctx))
      .then(
        (output) => {
          let json: string;
          try {
            json = stringify(output);
          } catch (error) {
            send({
              t: 'fail',
              error: { name: 'TypeError', message: `the output is not JSON: ${String((error as Error)?.message ?? error)}` },
            });
            return;
          }
          send({ t: 'done', json });
        },
        (error: unknown) => {
          const e = (error ?? {}) as { name?: unknown; message?: unknown; code?: unknown; retryable?: unknown };
          const plain = typeof error !== 'object' || error === null;
          send({
            t: 'fail',
            error: {
              name: plain ? 'Error' : String(e.name ?? 'Error'),
              message: plain ? String(error) : String(e.message ?? ''),
              ...(typeof e.code === 'string' ? { code: e.code } : {}),
              ...(typeof e.retryable === 'boolean' ? { retryable: e.retryable } : {}),
            },
          });
        },
      )
      .finally(() => exit(0));
  }

  send({ t: 'ready' });
}

/** The child's program text for `node -e`. */
export function sandboxChildSource(): string {
  return `(${sandboxChildMain.toString()})();`;
}
