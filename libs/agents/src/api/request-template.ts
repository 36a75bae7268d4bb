/**
 * Templates of an api agent's request. Values come from the step input and run (`{{ input.x }}`, core template
 * language) and from environment secrets the config lists (`{{ secrets.N8N_API_KEY }}`). Secrets are swapped in
 * after the core template renders, through placeholders carrying a per-call random nonce, so a step input cannot
 * forge a placeholder and pull a secret into a place the config did not put it.
 */
import { renderTemplate, TemplateError, type JsonValue, type TemplateContext } from '#core';
import { randomBytes } from 'node:crypto';
import { AgentError } from '../agent-error.js';
import { requireEnvSecret } from '../outbound/env-secrets.js';

export const REQUEST_TEMPLATE_ERROR = 'REQUEST_TEMPLATE';
const SECRET_REF = /\{\{\s*secrets\.([A-Za-z_][A-Za-z0-9_]*)\s*\}\}/g;

export class SecretTemplates {
  private readonly nonce = randomBytes(12).toString('hex');
  /** Values of the secrets used so far, for redaction. */
  readonly used = new Map<string, string>();

  constructor(
    private readonly allowed: readonly string[],
    private readonly env: NodeJS.ProcessEnv = process.env,
  ) {}

  /** Renders `template` (any JSON) with `context`; with `encode`, input values are URL-encoded (URL templates). */
  render(template: JsonValue, context: TemplateContext, path: string, encode = false): JsonValue {
    return this.fill(this.renderMarked(template, context, path, encode));
  }

  /** What a dry run shows instead of a secret. */
  static shown(name: string): string {
    return `[secret ${name}]`;
  }

  /** `value` with the secrets' placeholders as `[secret NAME]` instead of their values (dry runs). */
  renderShown(template: JsonValue, context: TemplateContext, path: string, encode = false): JsonValue {
    return mapStrings(this.renderMarked(template, context, path, encode), (s) =>
      s.replace(this.placeholderPattern(), (_m, name: string) => SecretTemplates.shown(name)),
    );
  }

  private renderMarked(template: JsonValue, context: TemplateContext, path: string, encode: boolean): JsonValue {
    try {
      return renderTemplate(this.mark(template, path), encode ? { ...context, input: encodeLeaves(context.input) } : context, path);
    } catch (error) {
      if (error instanceof TemplateError) throw new AgentError(REQUEST_TEMPLATE_ERROR, `${error.path}: ${error.message}`, false);
      throw error;
    }
  }

  private mark(template: JsonValue, path: string): JsonValue {
    return mapStrings(template, (s) =>
      s.replace(SECRET_REF, (_m, name: string) => {
        if (!this.allowed.includes(name))
          throw new AgentError(REQUEST_TEMPLATE_ERROR, `${path}: secret ${name} is not listed in the agent's secrets`, false);
        return `\u0000${this.nonce}:${name}\u0000`;
      }),
    );
  }

  private placeholderPattern(): RegExp {
    return new RegExp(`\u0000${this.nonce}:([A-Za-z_][A-Za-z0-9_]*)\u0000`, 'g');
  }

  private fill(value: JsonValue): JsonValue {
    return mapStrings(value, (s) =>
      s.replace(this.placeholderPattern(), (_m, name: string) => {
        const secret = requireEnvSecret(name, this.env);
        this.used.set(name, secret);
        return secret;
      }),
    );
  }
}

function mapStrings(value: JsonValue, f: (s: string) => string): JsonValue {
  if (typeof value === 'string') return f(value);
  if (Array.isArray(value)) return value.map((v) => mapStrings(v, f));
  if (value !== null && typeof value === 'object') {
    const out: { [key: string]: JsonValue } = {};
    for (const [key, v] of Object.entries(value))
      Object.defineProperty(out, key, { value: mapStrings(v, f), enumerable: true, writable: true, configurable: true });
    return out;
  }
  return value;
}

/** Input with every string and number URL-encoded, so `{{ input.id }}` in a URL cannot change its host or path. */
function encodeLeaves(value: JsonValue): JsonValue {
  if (typeof value === 'string') return encodeURIComponent(value);
  if (typeof value === 'number' || typeof value === 'boolean') return encodeURIComponent(String(value));
  if (Array.isArray(value)) return value.map(encodeLeaves);
  if (value !== null && typeof value === 'object') return mapStrings(value, encodeURIComponent);
  return value;
}
