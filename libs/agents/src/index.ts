export * from './agent-error.js';
export * from './base-agent-runner.js';
export * from './builtin-tool.runner.js';
export * from './agent-runner.registry.js';
export * from './agents.module.js';
export * from './outbound/outbound-http.js';
export * from './agent-usage.js';
