// Importing this module registers every op family.
export * from './registry.js';
export * from './shape-rules.js';
export * from './elementwise.js';
