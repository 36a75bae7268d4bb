/**
 * The seven base agents every Baton install starts with (organization `global`), one or more per agent type.
 * Seeds only insert missing agents: an agent an admin has since edited is never overwritten.
 * No secrets here: agents name the environment variable holding their key, never the key.
 */
import type { AgentSeed } from '#persistence';

/**
 * Body of the sandboxed async function `(input, ctx) => output` of the image generators (function agents; see
 * docs/agents.md). `ctx.env` holds only the variables of the agent's `allowedEnv`: the API key and the base URL
 * (tests point it at a local stand-in). Without a key the function answers a dry run; with one it calls the API,
 * saves each returned image as an asset and records a deliverable pointing at them.
 */
const IMAGE_FUNCTION = (provider: 'openai' | 'google') =>
  `
const prompt = typeof input?.prompt === 'string' ? input.prompt.trim() : '';
if (!prompt) throw Object.assign(new Error('input.prompt is required'), { retryable: false });
const size = typeof input?.size === 'string' ? input.size : '1024x1024';
const model = ctx.config.model;
${
  provider === 'openai'
    ? `const apiKey = ctx.env.OPENAI_API_KEY;
const endpoint = (ctx.env.OPENAI_BASE_URL || 'https://api.openai.com/v1').replace(/\\/+$/, '') + '/images/generations';`
    : `const apiKey = ctx.env.GOOGLE_API_KEY;
const endpoint = (ctx.env.GOOGLE_API_BASE_URL || 'https://generativelanguage.googleapis.com/v1beta').replace(/\\/+$/, '') + '/models/' + model + ':predict';`
}
const request = { provider: '${provider}', endpoint, model, prompt, size };
// Without a key (local development, tests) answer a dry run instead of failing.
if (!apiKey) return { ...request, dryRun: true, images: [] };
const response = await fetch(endpoint, {
  method: 'POST',
  headers: ${provider === 'openai' ? "{ 'content-type': 'application/json', authorization: 'Bearer ' + apiKey }" : "{ 'content-type': 'application/json', 'x-goog-api-key': apiKey }"},
  body: JSON.stringify(${provider === 'openai' ? '{ model, prompt, size, n: 1 }' : '{ instances: [{ prompt }], parameters: { sampleCount: 1 } }'}),
});
if (!response.ok) throw Object.assign(new Error('${provider} image API answered ' + response.status), { retryable: response.status >= 500 || response.status === 429 });
const body = await response.json();
const encoded = ${
    provider === 'openai'
      ? "(body.data ?? []).map((d) => ({ base64: d.b64_json, mediaType: 'image/png' }))"
      : "(body.predictions ?? []).map((p) => ({ base64: p.bytesBase64Encoded, mediaType: p.mimeType || 'image/png' }))"
  }.filter((i) => typeof i.base64 === 'string');
const images = [];
for (const [index, image] of encoded.entries()) {
  const extension = image.mediaType.split('/')[1] || 'png';
  const asset = await ctx.assets.saveBuffer(Buffer.from(image.base64, 'base64'), { mediaType: image.mediaType, filename: '${provider}-' + (index + 1) + '.' + extension });
  images.push({ assetId: asset.id, mediaType: asset.mediaType, sizeBytes: asset.sizeBytes });
}
const deliverable = await ctx.deliverables.create({ kind: 'image-set', title: '${provider} images: ' + prompt.slice(0, 100), data: { provider: '${provider}', model, prompt, size }, assetIds: images.map((i) => i.assetId) });
return { ...request, dryRun: false, images, deliverableId: deliverable.id };
`.trim();

export const BASE_AGENTS: readonly AgentSeed[] = [
  {
    slug: 'summarizer',
    name: 'Summarizer',
    description: 'LLM context agent: condenses text or structured results into a short summary.',
    type: 'context',
    capabilities: ['summarize', 'text-analysis'],
    config: {
      model: 'gpt-4o-mini',
      systemPrompt: 'You summarize business documents and data for executives: short, factual, with the key numbers first.',
      maxTokens: 800,
      temperature: 0.2,
      apiKeyEnv: 'OPENAI_API_KEY',
    },
  },
  {
    slug: 'marketing-swarm',
    name: 'Marketing swarm',
    description: 'HTTP agent: an n8n workflow that drafts multi-channel marketing content (dry run without N8N_BASE_URL).',
    type: 'api',
    capabilities: ['marketing-content', 'campaign-planning'],
    // Sent to ${N8N_BASE_URL}/webhook/marketing-swarm; with N8N_BASE_URL unset the step answers a dry run describing the request.
    config: {
      baseUrlEnv: 'N8N_BASE_URL',
      url: '/webhook/marketing-swarm',
      method: 'POST',
      timeoutMs: 120000,
      headers: { 'content-type': 'application/json', 'x-n8n-api-key': '{{ secrets.N8N_API_KEY }}' },
      secrets: ['N8N_API_KEY'],
      body: { brief: '{{ input }}', runId: '{{ run.id }}' },
      retryableStatuses: [429, 500, 502, 503, 504],
    },
  },
  {
    slug: 'supabase-agent',
    name: 'Supabase agent',
    description: 'Tool agent: runs named, parameterized SQL queries against an allow-list of tables.',
    type: 'tool',
    capabilities: ['sql-query', 'kpi-metrics'],
    config: {
      tool: 'sql-query',
      schema: 'kpi_demo',
      allowedTables: ['regions', 'kpis', 'kpi_metrics', 'kpi_targets', 'revenue_by_region'],
      maxRows: 1000,
      statementTimeoutMs: 5000,
      queries: {
        kpi_by_quarter: {
          description: "Every KPI of a quarter per region, with the quarter's target and the KPI's unit and direction.",
          sql:
            'SELECT m.metric, k.name, k.unit, k.higher_is_better, m.region, m.value, m.target FROM kpi_metrics m ' +
            'JOIN kpis k ON k.metric = m.metric WHERE m.quarter = $1 ORDER BY m.metric, m.region',
          params: [{ name: 'quarter', type: 'string', pattern: '^[0-9]{4}-Q[1-4]$' }],
        },
        kpi_by_region: {
          description: 'One region over every quarter (optionally one KPI).',
          sql:
            "SELECT quarter, metric, value, target FROM kpi_metrics WHERE region = $1 AND ($2 = '' OR metric = $2) " +
            'ORDER BY quarter, metric',
          params: [
            { name: 'region', type: 'string', enum: ['EMEA', 'NA', 'APAC', 'LATAM'] },
            { name: 'metric', type: 'string', default: '', maxLength: 50 },
          ],
        },
        revenue_by_quarter: {
          description: 'Revenue, cost and margin by region for a quarter.',
          sql: 'SELECT region, revenue, cost, revenue - cost AS margin FROM revenue_by_region WHERE quarter = $1 ORDER BY region',
          params: [{ name: 'quarter', type: 'string', pattern: '^[0-9]{4}-Q[1-4]$' }],
        },
        annual_targets: {
          description: 'Annual targets of a year by region and KPI.',
          sql: 'SELECT region, metric, target FROM kpi_targets WHERE year = $1 ORDER BY region, metric',
          params: [{ name: 'year', type: 'integer' }],
        },
      },
    },
  },
  {
    slug: 'image-generator-openai',
    name: 'Image generator (OpenAI)',
    description: 'Function agent: generates images with the OpenAI images API (dry run without OPENAI_API_KEY).',
    type: 'function',
    capabilities: ['image-generation'],
    config: { model: 'gpt-image-1', timeoutMs: 60000, memoryMb: 64, allowedEnv: ['OPENAI_API_KEY', 'OPENAI_BASE_URL'] },
    functionCode: IMAGE_FUNCTION('openai'),
  },
  {
    slug: 'image-generator-google',
    name: 'Image generator (Google)',
    description: 'Function agent: generates images with the Google Imagen API (dry run without GOOGLE_API_KEY).',
    type: 'function',
    capabilities: ['image-generation'],
    config: { model: 'imagen-3.0-generate-002', timeoutMs: 60000, memoryMb: 64, allowedEnv: ['GOOGLE_API_KEY', 'GOOGLE_API_BASE_URL'] },
    functionCode: IMAGE_FUNCTION('google'),
  },
  {
    slug: 'image-orchestrator',
    name: 'Image orchestrator',
    description: 'Orchestrator agent: runs the image-generation orchestration as a child run (both providers in parallel, then a description); its output collects the images (asset ids) of both.',
    type: 'orchestrator',
    capabilities: ['image-workflow', 'orchestration'],
    config: { definition: 'image-generation' },
  },
  {
    slug: 'finance-manager',
    name: 'Finance manager',
    description: 'Orchestrator agent: runs the kpi-tracking orchestration once per quarter of input.quarters (three at a time); its output lists each quarter\'s result in order.',
    type: 'orchestrator',
    capabilities: ['kpi-tracking', 'financial-analysis', 'orchestration'],
    config: { definition: 'kpi-tracking', forEach: '{{ input.quarters }}', input: { quarter: '{{ item }}' }, concurrency: 3 },
  },
];
