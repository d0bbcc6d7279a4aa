// The one place ambit's version is written.
export const VERSION = '0.1.0';
