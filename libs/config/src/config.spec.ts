import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ConfigError, loadConfig, sensitiveValues } from './app-config.js';
import { CONFIG_VARIABLES } from './config-variables.js';
import { projectRoot } from './project-root.js';

interface ExampleEntry {
  name: string;
  value: string;
  commented: boolean;
  /** The comment line right above the entry. */
  comment: string | undefined;
}

/** `NAME=value` and `# NAME=value` lines of .env.example (other comment lines are prose). */
function readEnvExample(): ExampleEntry[] {
  const lines = readFileSync(join(projectRoot(), '.env.example'), 'utf8').split('\n');
  return lines.flatMap((line, i) => {
    const match = /^(#\s*)?([A-Z][A-Z0-9_]*)=(.*)$/.exec(line);
    if (!match) return [];
    const above = lines[i - 1]?.startsWith('#') ? lines[i - 1].replace(/^#\s*/, '') : undefined;
    return [{ name: match[2], value: match[3], commented: match[1] !== undefined, comment: above }];
  });
}

function problemsOf(env: NodeJS.ProcessEnv): string[] {
  try {
    loadConfig(env);
  } catch (error) {
    if (error instanceof ConfigError) return error.problems;
    throw error;
  }
  return [];
}

const SECRET = 'x'.repeat(32);

describe('.env.example', () => {
  const entries = readEnvExample();

  it('lists exactly the variables of CONFIG_VARIABLES, each once', () => {
    expect(entries.map((e) => e.name).sort()).toEqual(CONFIG_VARIABLES.map((v) => v.name).sort());
  });

  it('describes each variable, shows its default, and keeps sensitive ones commented out', () => {
    for (const variable of CONFIG_VARIABLES) {
      const entry = entries.find((e) => e.name === variable.name);
      expect({ name: variable.name, comment: entry?.comment }).toEqual({ name: variable.name, comment: variable.description });
      if (variable.sensitive) {
        expect({ name: variable.name, commented: entry?.commented }).toEqual({ name: variable.name, commented: true });
      } else if ('default' in variable) {
        expect({ name: variable.name, value: entry?.value, commented: entry?.commented }).toEqual({
          name: variable.name,
          value: variable.default,
          commented: false,
        });
      }
    }
  });

  it('loads as a valid configuration', () => {
    const env = Object.fromEntries(entries.filter((e) => !e.commented).map((e) => [e.name, e.value]));
    expect(() => loadConfig(env)).not.toThrow();
  });
});

describe('loadConfig', () => {
  it('applies the documented defaults to an empty environment', () => {
    const config = loadConfig({});
    expect(config).toMatchObject({
      port: 3000,
      databaseUrl: undefined,
      dataDir: '.data',
      pgPort: 54329,
      role: 'all',
      jwtSecret: undefined,
      jwtExpiresInSeconds: 3600,
      authCacheMs: 2000,
      adminEmail: 'admin@baton.local',
      logLevel: 'log',
      autoMigrate: false,
      nodeEnv: 'development',
    });
  });

  it('reads set values and treats empty ones as unset', () => {
    const config = loadConfig({ PORT: '8080', BATON_ROLE: 'worker', BATON_AUTO_MIGRATE: 'true', JWT_SECRET: SECRET, BATON_PG_PORT: '' });
    expect(config).toMatchObject({ port: 8080, role: 'worker', autoMigrate: true, jwtSecret: SECRET, pgPort: 54329 });
  });

  it('rejects an unknown BATON_ROLE, naming the allowed values', () => {
    expect(problemsOf({ BATON_ROLE: 'both' })).toEqual(['BATON_ROLE must be one of all, api, worker (got "both")']);
  });

  it('rejects ports that are not TCP ports', () => {
    expect(problemsOf({ PORT: 'abc' })).toEqual(['PORT must be a TCP port (got "abc")']);
    expect(problemsOf({ PORT: '70000' })).toEqual(['PORT must be a TCP port (got "70000")']);
    expect(problemsOf({ BATON_PG_PORT: '-1' })).toEqual(['BATON_PG_PORT must be a TCP port (got "-1")']);
    expect(problemsOf({ PORT: '3000.5' })).toEqual(['PORT must be a TCP port (got "3000.5")']);
  });

  it('rejects a short JWT_SECRET without echoing it', () => {
    const problems = problemsOf({ JWT_SECRET: 'too-short-secret' });
    expect(problems).toEqual(['JWT_SECRET must be at least 32 characters']);
    expect(problems.join(' ')).not.toContain('too-short-secret');
  });

  it('reports every problem at once in one readable message', () => {
    let error: unknown;
    try {
      loadConfig({ BATON_ROLE: 'nope', PORT: 'x', JWT_SECRET: 'short', LOG_LEVEL: 'loud' });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).problems).toHaveLength(4);
    expect((error as ConfigError).message).toMatch(/^Invalid configuration:\n {2}- /);
    expect((error as ConfigError).message).toContain('LOG_LEVEL must be one of error, warn, log, debug, verbose (got "loud")');
  });

  it('lists the values of sensitive variables for log scrubbing', () => {
    const values = sensitiveValues({ JWT_SECRET: SECRET, DATABASE_URL: 'postgres://u:pw-123456@db/baton', PORT: '3000' });
    expect(values.sort()).toEqual([SECRET, 'postgres://u:pw-123456@db/baton'].sort());
  });
});
