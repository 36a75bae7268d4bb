export * from './request-context.js';
export * from './app-logger.js';
