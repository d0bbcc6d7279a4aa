// `ambit demo`: filled in below.
import type { Command } from 'commander';
export function registerDemo(_program: Command): void {}
