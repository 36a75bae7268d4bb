export * from './request-context.js';
export * from './app-logger.js';
export * from './observability.module.js';
export * from './logging/log-redaction.js';
export * from './logging/request-id.js';
export * from './logging/http-log-fields.js';
export * from './logging/pino-params.js';
export * from './logging/config-secrets.js';
