/**
 * Docs that run (CONTRIBUTING.md, "Docs that run"): the shell blocks of a markdown file (```bash, ```sh, ```shell),
 * in order, in one bash shell, as a reader would paste them, against a server the caller started. A block whose info
 * string carries `norun` (```bash norun) is shown to readers but not run: installs, `npm start`, benches, docker.
 *
 * What fails a run: a command that exits non-zero (bash's ERR trap, with `pipefail`), a `curl` that does not answer
 * 2xx or one of the statuses its command's trailing comment names (`# 404`, `# revoke: 204`), an `npm` command other
 * than `npm run cli -- ...`, anything on stderr, or the script outliving its deadline. Each failure names its
 * file:line in the markdown. `localhost:3000` in the blocks is the caller's server; `npm run cli --` runs the compiled
 * CLI (the build `npm run cli` would do is the test run's own).
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface FencedBlock {
  /** 1-based line of the block's first body line. */
  line: number;
  /** The info string after the opening fence (`bash norun`), trimmed. */
  info: string;
  lines: string[];
}

const SHELL_LANGUAGES = new Set(['bash', 'sh', 'shell']);

/** Every fenced code block of a markdown text (``` or ~~~, indented ones too, their indentation removed). */
export function fencedBlocks(markdown: string): FencedBlock[] {
  const blocks: FencedBlock[] = [];
  let open: { fence: string; indent: number; block: FencedBlock } | undefined;
  markdown.split('\n').forEach((text, index) => {
    const fence = /^(\s*)(`{3,}|~{3,})(.*)$/.exec(text);
    if (!open) {
      if (fence) open = { fence: fence[2], indent: fence[1].length, block: { line: index + 2, info: fence[3].trim(), lines: [] } };
      return;
    }
    if (fence && fence[2].startsWith(open.fence) && fence[3].trim() === '') {
      blocks.push(open.block);
      open = undefined;
      return;
    }
    open.block.lines.push(text.slice(Math.min(open.indent, /^\s*/.exec(text)![0].length)));
  });
  return blocks;
}

export const isShellBlock = (block: FencedBlock): boolean => SHELL_LANGUAGES.has(block.info.split(/\s+/)[0]);
export const isRunnable = (block: FencedBlock): boolean => isShellBlock(block) && !block.info.split(/\s+/).includes('norun');

/**
 * Logs every request as `OK|REQ <script line> <status>: curl ...` in $DOCS_LOG (REQ: not the status expected, or a
 * JSON-RPC error its comment does not name) and prints the body as curl -s would; `curl -N` streams are read for 3 s. `npm run cli --` is the compiled CLI, with npm's banner.
 * A failing command is logged as `FAIL <script line> ...`.
 */
const PRELUDE = String.raw`set -o pipefail
docs_failed() { echo "FAIL $1 exit $2: ${'$'}{3//$'\n'/ }" >> "$DOCS_LOG"; }
trap 'docs_failed "$LINENO" "$?" "$BASH_COMMAND"' ERR
curl() {
  local body code rc max=20 stream=0 a
  for a in "$@"; do [ "$a" = "-N" ] && stream=1; done
  [ "$stream" = 1 ] && max=3
  body=$(mktemp)
  local quiet=-sS
  [ "$stream" = 1 ] && quiet=-s # a stream ends by our timeout: not an error worth printing
  code=$(command curl "$quiet" --max-time "$max" -o "$body" -w '%{http_code}' "$@"); rc=$?
  cat "$body"
  local bad="" e at="${'$'}{BASH_LINENO[0]}"
  if [ "$rc" -ne 0 ] && ! { [ "$rc" -eq 28 ] && [ "$stream" = 1 ] && [ "$code" = 200 ]; }; then
    bad="curl exit $rc, status $code"
  elif ! { { [ -z "$DOCS_EXPECT" ] && [[ "$code" == 2?? ]]; } || [[ " $DOCS_EXPECT " == *" $code "* ]]; }; then
    bad="status $code (expected ${'$'}{DOCS_EXPECT:-2xx})"
  elif grep -q '"jsonrpc"' "$body"; then
    # JSON-RPC answers errors in a 200: each error code must be named too (# -32602)
    for e in $(grep -o '"error":{"code":-[0-9]*' "$body" | grep -o -- '-[0-9]*$'); do
      [[ " $DOCS_RPC " == *" $e "* ]] || bad="JSON-RPC error $e (expected ${'$'}{DOCS_RPC:-none})"
    done
  fi
  rm -f "$body"
  echo "$([ -z "$bad" ] && echo OK || echo REQ) $at ${'$'}{bad:-$code}: curl ${'$'}{*//$'\n'/ }" >> "$DOCS_LOG"
  return 0
}
npm() {
  local silent=0
  [ "$1" = run ] && { [ "$2" = -s ] || [ "$2" = --silent ]; } && { silent=1; set -- run "${'$'}{@:3}"; }
  if [ "$1" = run ] && [ "$2" = cli ] && [ "$3" = -- ]; then
    shift 3
    # npm's banner goes to stdout, as it would for a reader (pipe into jq with npm run -s)
    [ "$silent" = 1 ] || printf '\n> baton cli\n> node dist/apps/cli/src/main.js %s\n\n' "$*"
    node "$DOCS_ROOT/dist/apps/cli/src/main.js" "$@"
    return
  fi
  echo "FAIL ${'$'}{BASH_LINENO[0]} npm $*: only 'npm run cli -- ...' runs in the docs test, mark the block norun" >> "$DOCS_LOG"
  return 0
}
`;

const CURL = /(^|[\s($;|&])curl\s/;

export interface DocScript {
  script: string;
  /** For each script line (0-based), the markdown line it came from (`file:line`), or undefined for the prelude. */
  origins: (string | undefined)[];
  /** curl commands in the runnable blocks. */
  requests: number;
}

/**
 * The runnable blocks of one markdown file as one bash script: `localhost:3000` replaced by `base`, each curl command
 * prefixed with the statuses its trailing comment names (a command continued with `\` is one command, its comment
 * on its last line).
 */
export function docScript(file: string, markdown: string, base: string): DocScript {
  const prelude = PRELUDE.split('\n');
  const lines = [...prelude];
  const origins: (string | undefined)[] = prelude.map(() => undefined);
  let requests = 0;
  for (const block of fencedBlocks(markdown).filter(isRunnable)) {
    const body = block.lines.map((line) => line.replaceAll('http://localhost:3000', base).replaceAll('localhost:3000', base));
    for (let start = 0; start < body.length;) {
      let end = start;
      while (end < body.length - 1 && body[end].endsWith('\\')) end++;
      const command = body.slice(start, end + 1);
      const first = command.findIndex((l) => CURL.test(l) && !/^\s*#/.test(l));
      if (first >= 0) {
        requests++;
        const comment = /\s#\s(.*)$/.exec(command[command.length - 1])?.[1] ?? '';
        const statuses = [...comment.matchAll(/(?<![-\w])([2-4]\d\d)\b/g)].map((m) => m[1]);
        const rpcErrors = [...comment.matchAll(/(?<![\w])(-32\d{3})\b/g)].map((m) => m[1]);
        const expect = `DOCS_EXPECT="${statuses.join(' ')}" DOCS_RPC="${rpcErrors.join(' ')}" `;
        if (statuses.length || rpcErrors.length) command[first] = command[first].replace(CURL, `$1${expect}curl `);
      }
      command.forEach((l, i) => {
        lines.push(l);
        origins.push(`${file}:${block.line + start + i}`);
      });
      start = end + 1;
    }
  }
  return { script: `${lines.join('\n')}\n`, origins, requests };
}

export interface DocRun {
  /** Failed requests and commands, each with the markdown line it came from. */
  failures: string[];
  /** What a reader would see, to compare with the outputs the doc shows. */
  stdout: string;
  stderr: string;
  /** The script's exit status (124: it outlived its deadline). */
  exit: number | null;
  /** Requests made (a polling loop makes some more than once) and curl commands in the blocks. */
  made: number;
  requests: number;
}

export interface DocRunOptions {
  base: string;
  /** The repository: its top-level entries are linked into the shell's working folder, so `dist/...` resolves. */
  root: string;
  env?: Record<string, string>;
  timeoutSeconds?: number;
}

/** Runs the runnable blocks of `file` (relative to `root`, or given as `markdown`) in a fresh working folder. */
export async function runDoc(
  file: string,
  options: DocRunOptions,
  markdown = readFileSync(join(options.root, file), 'utf8'),
): Promise<DocRun> {
  const { script, origins, requests } = docScript(file, markdown, options.base);
  const dir = mkdtempSync(join(tmpdir(), 'baton-docs-'));
  try {
    // files the blocks write (greeting.yaml) land here; what they read of the repository is linked in
    for (const entry of readdirSync(options.root)) if (entry !== '.git') symlinkSync(join(options.root, entry), join(dir, entry));
    writeFileSync(join(dir, '.docs.sh'), script);
    const log = join(dir, '.docs.log');
    writeFileSync(log, '');
    // asynchronously: the server answering the script may live in this process
    const child = spawn('timeout', [String(options.timeoutSeconds ?? 150), 'bash', join(dir, '.docs.sh')], {
      cwd: dir,
      env: { ...process.env, ...options.env, DOCS_LOG: log, DOCS_ROOT: options.root },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const exit = await new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    const entries = readFileSync(log, 'utf8').split('\n').filter(Boolean);
    // entries: `OK|REQ|FAIL <script line> <what>` (REQ: a request that failed)
    const parsed = entries.map((entry) => /^(\w+) (\d+) (.*)$/.exec(entry) ?? ['', 'FAIL', '0', entry]);
    const failures = parsed
      .filter(([, kind]) => kind !== 'OK')
      .map(([, , at, what]) => `${origins[Number(at) - 1] ?? `script line ${at}`}: ${what}`);
    const made = parsed.filter(([, kind]) => kind !== 'FAIL').length;
    return { failures, stdout, stderr, exit, made, requests };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
