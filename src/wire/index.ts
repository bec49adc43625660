export * from './types.js';
export * from './packet.js';
export * from './frames.js';
export { Reader } from './reader.js';
export { checksum } from './checksum.js';
export { truncate32, expand32 } from './packet-number.js';
export { varintLength, writeVarint, VARINT_MAX } from './varint.js';
