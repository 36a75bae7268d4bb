export * from './agent-error.js';
export * from './base-agent-runner.js';
export * from './builtin-tool.runner.js';
export * from './agent-runner.registry.js';
export * from './agents.module.js';
<<<<<<< HEAD
export * from './tool/sql-text.js';
export * from './tool/sql-query.config.js';
export * from './tool/sql-query.tool.js';
export * from './tool/tool-agent.runner.js';
=======
export * from './outbound/outbound-http.js';
export * from './agent-usage.js';
>>>>>>> agents-runtime
