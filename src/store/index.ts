export { Store, type StoredEntry, type Mutation } from './store.js';
export { replaceFileDurably } from './durable-file.js';
