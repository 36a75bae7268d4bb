/**
 * Secrets of agents live in the environment, never in `agents.config`: a config names the variable
 * (`apiKeyEnv: OPENAI_API_KEY`, `secrets: [N8N_API_KEY]`) and the runner reads it when it calls out. What a runner
 * reports (output, errors, progress) passes through `redactSecrets` so a peer that echoes a key back cannot leak it.
 */
import { AgentError } from '../agent-error.js';

export const SECRET_NOT_SET = 'SECRET_NOT_SET';
const ENV_NAME = /^[A-Z_][A-Z0-9_]{0,127}$/;

export function isEnvName(name: string): boolean {
  return ENV_NAME.test(name);
}

/** The value of an environment variable a config names, or undefined when it is unset or empty. */
export function envSecret(name: string | undefined, env: NodeJS.ProcessEnv = process.env): string | undefined {
  if (!name || !isEnvName(name)) return undefined;
  const value = env[name];
  return value ? value : undefined;
}

/** Like envSecret, but a missing variable is a non-retryable error naming it (never its value). */
export function requireEnvSecret(name: string, env: NodeJS.ProcessEnv = process.env): string {
  const value = envSecret(name, env);
  if (value === undefined) throw new AgentError(SECRET_NOT_SET, `environment variable ${name} is not set`, false);
  return value;
}

/** `text` with every occurrence of the secrets replaced by `[redacted]` (secrets shorter than 4 characters are too common to hunt). */
export function redactSecrets(text: string, secrets: readonly string[]): string {
  let out = text;
  for (const secret of secrets) if (secret.length >= 4) out = out.split(secret).join('[redacted]');
  return out;
}
