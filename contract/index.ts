/**
 * The one contract every layer shares: workflow ids, signals, queries, search attributes,
 * inputs, results and receipts, channels, step names and failure types. Workflow code imports
 * only this and `@temporalio/workflow`, so everything here must be deterministic and
 * free of Node built-ins (the lint rules for workflows/ apply here too).
 */
export * from './ids';
export * from './failures';
export * from './deletion';
export * from './sweep';
export * from './search-attributes';
export * from './front-door';
