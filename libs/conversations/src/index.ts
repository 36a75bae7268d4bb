export * from './conversation.types.js';
export * from './conversations.repository.js';
export * from './conversations.service.js';
export * from './conversations.module.js';
