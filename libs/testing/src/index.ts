export * from './test-database.js';
export * from './test-app.js';
export * from './catalog-dump.js';
export * from './engine-helpers.js';
export * from './worker-process.js';
export * from './cli-process.js';
export * from './sse-client.js';
export * from './api-process.js';
