import { Inject, Injectable, type OnModuleInit } from '@nestjs/common';
import { completedTask, messageData, type TaskRequestDto, type TaskResponseDto } from '#a2a';
import { APP_CONFIG, type AppConfig } from '#config';
import type { JsonObject, JsonValue } from '#core';
import { AgentsRepository, ArtifactsRepository, type ArtifactOrigin } from '#persistence';
import { randomUUID } from 'node:crypto';
import { AgentError } from '../agent-error.js';
import { AgentRunnerRegistry } from '../agent-runner.registry.js';
import { BaseAgentRunner, type AgentExecutionContext } from '../base-agent-runner.js';
import { OutboundHttpError, outboundFetch, OUTBOUND_ADDRESS_REFUSED } from '../outbound/outbound-http.js';
import { runInSandbox, type SandboxHost } from './sandbox-process.js';

export const FUNCTION_LIMITS = {
  timeoutMs: { default: 30_000, max: 600_000 },
  memoryMb: { default: 64, min: 16, max: 1024 },
  maxAssetBytes: { default: 20 * 1024 * 1024, max: 100 * 1024 * 1024 },
} as const;
const ALLOWED_REQUIRE = ['crypto', 'url'];
const ENV_NAME = '^[A-Z_][A-Z0-9_]{0,99}$';

/** JSON Schema of a function agent's config. */
export const FUNCTION_CONFIG_SCHEMA: JsonObject = {
  type: 'object',
  properties: {
    timeoutMs: { type: 'integer', minimum: 100, maximum: FUNCTION_LIMITS.timeoutMs.max },
    memoryMb: { type: 'integer', minimum: FUNCTION_LIMITS.memoryMb.min, maximum: FUNCTION_LIMITS.memoryMb.max },
    allowedEnv: { type: 'array', items: { type: 'string', pattern: ENV_NAME }, uniqueItems: true },
    maxAssetBytes: { type: 'integer', minimum: 1, maximum: FUNCTION_LIMITS.maxAssetBytes.max },
    maxConcurrency: { type: 'integer', minimum: 1 },
  },
};

const int = (value: unknown, fallback: number, min: number, max: number, what: string): number => {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max)
    throw new AgentError('INVALID_AGENT_CONFIG', `function config: ${what} must be an integer from ${min} to ${max}`, false);
  return value;
};

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * Runner of `function` agents: the agent's `function_code` (body of `async (input, ctx) => output`) in a sandbox
 * process per call (sandbox-process.ts). The parent performs what the code asks through ctx: fetch under the
 * agents' outbound address policy, deliverables and assets stored for the run and step attempt.
 */
@Injectable()
export class FunctionAgentRunner extends BaseAgentRunner implements OnModuleInit {
  readonly type = 'function' as const;
  override readonly configSchema: JsonObject = FUNCTION_CONFIG_SCHEMA;

  constructor(
    private readonly registry: AgentRunnerRegistry,
    private readonly agents: AgentsRepository,
    private readonly artifacts: ArtifactsRepository,
    @Inject(APP_CONFIG) private readonly config: Pick<AppConfig, 'agentAllowPrivateNetworks'>,
  ) {
    super();
  }

  onModuleInit(): void {
    this.registry.register(this);
  }

  async execute(request: TaskRequestDto, context: AgentExecutionContext): Promise<TaskResponseDto> {
    const agent = await this.agents.findBySlug(context.organizationId, context.agentSlug);
    const code = agent?.functionCode;
    if (!code || code.trim() === '')
      throw new AgentError('INVALID_AGENT_CONFIG', `function agent ${context.agentSlug} has no function_code`, false);
    const config = context.config;
    const allowedEnv = config.allowedEnv ?? [];
    if (!Array.isArray(allowedEnv) || allowedEnv.some((n) => typeof n !== 'string' || !new RegExp(ENV_NAME).test(n)))
      throw new AgentError('INVALID_AGENT_CONFIG', 'function config: allowedEnv must list environment variable names', false);
    const env: Record<string, string> = {};
    for (const name of allowedEnv as string[]) if (process.env[name] !== undefined) env[name] = process.env[name] as string;
    const timeoutMs = int(config.timeoutMs, FUNCTION_LIMITS.timeoutMs.default, 100, FUNCTION_LIMITS.timeoutMs.max, 'timeoutMs');
    const memoryMb = int(
      config.memoryMb,
      FUNCTION_LIMITS.memoryMb.default,
      FUNCTION_LIMITS.memoryMb.min,
      FUNCTION_LIMITS.memoryMb.max,
      'memoryMb',
    );
    const maxAssetBytes = int(
      config.maxAssetBytes,
      FUNCTION_LIMITS.maxAssetBytes.default,
      1,
      FUNCTION_LIMITS.maxAssetBytes.max,
      'maxAssetBytes',
    );
    const origin: ArtifactOrigin = {
      runId: context.runId ?? null,
      stepKey: context.stepKey ?? null,
      attempt: context.attempt,
      agentSlug: context.agentSlug,
    };
    const deadline = Date.now() + timeoutMs;
    const output = await runInSandbox({
      code,
      input: messageData(request.message),
      config,
      env,
      allowedRequire: ALLOWED_REQUIRE,
      limits: { timeoutMs, memoryMb, maxHostCalls: 100, maxOutputBytes: 5 * 1024 * 1024 },
      signal: context.signal,
      host: this.host(context, origin, deadline, maxAssetBytes),
    });
    const id = request.taskId ?? randomUUID();
    return completedTask(id, request.contextId ?? id, output as JsonValue);
  }

  private host(context: AgentExecutionContext, origin: ArtifactOrigin, deadline: number, maxAssetBytes: number): SandboxHost {
    const org = context.organizationId;
    let logs = 0;
    return {
      fetch: async (req, signal) => {
        if (!isObject(req) || typeof req.url !== 'string') throw new Error('fetch needs a URL');
        try {
          return await outboundFetch(
            req.url,
            {
              method: String(req.method ?? 'GET').toUpperCase(),
              headers: isObject(req.headers) ? req.headers : {},
              body: req.body,
              signal,
              timeoutMs: Math.max(1, deadline - Date.now()),
            },
            { allowPrivateNetworks: this.config.agentAllowPrivateNetworks },
          );
        } catch (error) {
          if (error instanceof OutboundHttpError)
            throw Object.assign(new Error(error.message), { code: error.code === OUTBOUND_ADDRESS_REFUSED ? error.code : 'FETCH_FAILED' });
          throw error;
        }
      },
      deliverable: async (raw) => {
        if (!isObject(raw) || typeof raw.title !== 'string' || raw.title.trim() === '' || raw.title.length > 300)
          throw new Error('ctx.deliverables.create needs { title } (1-300 characters)');
        const kind = raw.kind ?? raw.type ?? 'document';
        if (typeof kind !== 'string' || !/^[a-z][a-z0-9_-]{0,49}$/.test(kind))
          throw new Error('deliverable kind must be a short lower-case word');
        if (raw.content !== undefined && typeof raw.content !== 'string') throw new Error('deliverable content must be text');
        const assetIds = raw.assetIds ?? [];
        if (!Array.isArray(assetIds) || assetIds.some((a) => typeof a !== 'string'))
          throw new Error('deliverable assetIds must be asset ids');
        const known = await this.artifacts.existingAssetIds(
          org,
          (assetIds as string[]).filter((a) => /^[0-9a-f-]{36}$/i.test(a)),
        );
        const unknown = (assetIds as string[]).filter((a) => !known.has(a));
        if (unknown.length > 0) throw new Error(`no asset ${unknown.join(', ')}`);
        const row = await this.artifacts.createDeliverable(org, origin, {
          kind,
          title: raw.title,
          content: (raw.content as string | undefined) ?? null,
          data: (raw.data as JsonValue | undefined) ?? null,
          assetIds: assetIds as string[],
        });
        return { id: row.id, kind: row.kind, title: row.title };
      },
      asset: async (raw, bytes) => {
        const options = isObject(raw) ? raw : {};
        let data = bytes;
        if (!data && typeof options.text === 'string') data = Buffer.from(options.text, options.encoding === 'base64' ? 'base64' : 'utf8');
        if (!data) throw new Error('ctx.assets.saveBuffer needs bytes (Uint8Array, ArrayBuffer, Buffer) or a string');
        if (data.length > maxAssetBytes) throw new Error(`an asset is at most ${maxAssetBytes} bytes`);
        const mediaType =
          typeof options.mediaType === 'string' && /^[\w.+-]+\/[\w.+-]+$/.test(options.mediaType)
            ? options.mediaType
            : 'application/octet-stream';
        const filename =
          typeof options.filename === 'string' ? options.filename.replace(/[^\w.+-]/g, '_').slice(0, 200) || 'asset' : 'asset';
        const row = await this.artifacts.saveAsset(org, origin, { filename, mediaType, bytes: data });
        return { id: row.id, filename: row.filename, mediaType: row.mediaType, sizeBytes: row.sizeBytes, sha256: row.sha256 };
      },
      log: (level, text) => {
        if (++logs <= 20) context.onProgress({ type: 'log', level, message: text });
      },
    };
  }
}
