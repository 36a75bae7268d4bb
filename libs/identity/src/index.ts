export * from './password-hasher.js';
export * from './api-key-codec.js';
export * from './principal.js';
export * from './jwt-secret.js';
export * from './auth.service.js';
export * from './identity.module.js';
export * from './users.service.js';
export * from './organizations.service.js';
